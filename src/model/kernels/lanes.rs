//! Reductions of a row (sum, dot product, maximum) in an order fixed by
//! the row's length alone, written so that they vectorise.
//!
//! A plain `sum += x` loop is one chain of dependent additions: the compiler
//! may not reorder floating-point additions, so it stays scalar, and every
//! element (and the `exp` computed for it) waits for the one before. Here
//! [`LANES`] running sums take every `LANES`-th element (lane `j` adds
//! elements `j`, `j + LANES`, ...), the tail goes to the first lanes, and
//! the lanes are combined in one fixed tree. That order is part of the
//! arithmetic, not of the machine: an SSE, AVX or scalar build, and any
//! number of threads, give the same bits. Products are rounded before they
//! are added (`a * b + s`, never a fused multiply-add; Rust does not
//! contract), again on every machine.

/// Running sums per row: 8 `f32`, two SSE registers or one AVX register.
pub(crate) const LANES: usize = 8;

/// Combines the lanes: `((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7))`.
#[inline(always)]
fn combine(lanes: [f32; LANES]) -> f32 {
    ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))
        + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]))
}

/// `sum of map(values[i])` in the lane order.
#[inline(always)]
pub(crate) fn sum_of(values: &[f32], map: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0f32; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane += map(value);
        }
    }
    for (lane, &value) in lanes.iter_mut().zip(tail) {
        *lane += map(value);
    }
    combine(lanes)
}

/// The sum of `values` in the lane order.
#[inline(always)]
pub(crate) fn sum(values: &[f32]) -> f32 {
    sum_of(values, |value| value)
}

/// `sum of left[i] * right[i]` over the shorter of the two, in the lane
/// order, each product rounded before it is added.
#[inline(always)]
pub(crate) fn dot(left: &[f32], right: &[f32]) -> f32 {
    let length = left.len().min(right.len());
    let (left, right) = (&left[..length], &right[..length]);
    let mut lanes = [0f32; LANES];
    let left_chunks = left.chunks_exact(LANES);
    let right_chunks = right.chunks_exact(LANES);
    let (left_tail, right_tail) = (left_chunks.remainder(), right_chunks.remainder());
    for (left, right) in left_chunks.zip(right_chunks) {
        for ((lane, &a), &b) in lanes.iter_mut().zip(left).zip(right) {
            *lane += a * b;
        }
    }
    for ((lane, &a), &b) in lanes.iter_mut().zip(left_tail).zip(right_tail) {
        *lane += a * b;
    }
    combine(lanes)
}

/// The largest of `values` (NaN ignored, `-inf` when empty). The maximum
/// does not depend on the order, so lanes change nothing but the speed.
#[inline(always)]
pub(crate) fn maximum(values: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(value);
        }
    }
    for (lane, &value) in lanes.iter_mut().zip(tail) {
        *lane = lane.max(value);
    }
    lanes.into_iter().fold(f32::NEG_INFINITY, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order the module documents, written out element by element.
    fn written_out(values: &[f32]) -> f32 {
        let mut lanes = [0f32; LANES];
        for (index, &value) in values.iter().enumerate() {
            lanes[index % LANES] += value;
        }
        ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))
            + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]))
    }

    fn values(count: usize) -> Vec<f32> {
        (0..count)
            .map(|index| {
                ((index * 7919 % 1000) as f32 - 500.0) * 1.37e-3 + 1.0 / (index + 1) as f32
            })
            .collect()
    }

    #[test]
    fn sums_follow_the_written_out_lane_order_for_every_length() {
        for count in 0..70 {
            let values = values(count);
            assert_eq!(
                sum(&values).to_bits(),
                written_out(&values).to_bits(),
                "{count}"
            );
            let squares: Vec<f32> = values.iter().map(|value| value * value).collect();
            assert_eq!(
                dot(&values, &values).to_bits(),
                written_out(&squares).to_bits(),
                "{count}"
            );
        }
    }

    #[test]
    fn the_lane_order_is_not_the_sequential_order() {
        // So that the test above can tell the two apart: sequentially the
        // first 1 is lost in 1e8 (its unit in the last place is 8).
        let values = [1e8f32, 1.0, -1e8, 1.0];
        let sequential = values.iter().fold(0f32, |sum, &value| sum + value);
        assert_eq!(sequential, 1.0);
        assert_eq!(sum(&values), 2.0);
    }

    #[test]
    fn maximum_ignores_order_and_nan() {
        let mut values = values(37);
        values[5] = f32::NAN;
        let expected = values
            .iter()
            .copied()
            .filter(|value| !value.is_nan())
            .fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(maximum(&values), expected);
        values.reverse();
        assert_eq!(maximum(&values), expected);
        assert_eq!(maximum(&[]), f32::NEG_INFINITY);
    }
}
