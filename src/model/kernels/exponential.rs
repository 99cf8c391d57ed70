//! [`exp`]: the exponential in plain `f32` arithmetic, so that the kernels'
//! inner loops vectorise and do not depend on the platform's libm.
//!
//! libm's `expf`/`tanhf` are scalar calls and were a seventh of a training
//! step (GELU's `tanh` through `expm1f`). This one splits
//! `x = n ln 2 + r` with `|r| <= ln 2 / 2` (Cody-Waite, two-part `ln 2`),
//! evaluates `exp(r)` by its Taylor polynomial of degree 7 (truncation error
//! below `0.35^8 / 8! < 5e-9`, so the result is within a few units in the
//! last place), and scales by `2^n` through the exponent bits. Only `+ - *`
//! and conversions: the same bits on every x86-64 or ARM machine.

/// `log2(e)`.
const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// The high part of `ln 2`: few significant bits, so `n * LN_2_HIGH` is exact.
const LN_2_HIGH: f32 = 0.693_145_75;
/// `ln 2 - LN_2_HIGH`.
const LN_2_LOW: f32 = 1.428_606_8e-6;
/// `1.5 * 2^23`: adding and subtracting it rounds to the nearest integer.
const ROUNDING: f32 = 12_582_912.0;
/// Below this the result is zero (or subnormal, flushed to zero here).
const LOWEST: f32 = -87.0;
/// Above this `f32` would overflow; inputs are clamped to it.
const HIGHEST: f32 = 88.0;

/// `e^x` for `f32`, with relative error of a few units in the last place;
/// 0 for `x < -87`, and `e^88` for anything larger than 88 (no infinity).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let clamped = x.clamp(LOWEST, HIGHEST);
    let n = (clamped * LOG2_E + ROUNDING) - ROUNDING;
    let r = (clamped - n * LN_2_HIGH) - n * LN_2_LOW;
    let polynomial = 1.0
        + r * (1.0
            + r * (1.0 / 2.0
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    let value = polynomial * scale;
    if x < LOWEST {
        0.0
    } else {
        value
    }
}

/// `1 / (1 + e^-x)`.
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// [`exp`] of every value of a tensor, with its gradient `upstream *
/// exp(x)`: candle's own `Tensor::exp` calls the platform's `expf`, whose
/// bits differ between libm versions.
#[derive(Debug, Clone, Copy)]
pub struct Exponential;

impl candle_core::CustomOp1 for Exponential {
    fn name(&self) -> &'static str {
        "exponential"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let values = super::rows::f32_values(storage, layout, self.name())?;
        let output: Vec<f32> = values.iter().map(|&value| exp(value)).collect();
        Ok((candle_core::CpuStorage::F32(output), layout.shape().clone()))
    }

    fn bwd(
        &self,
        _input: &candle_core::Tensor,
        output: &candle_core::Tensor,
        upstream: &candle_core::Tensor,
    ) -> candle_core::Result<Option<candle_core::Tensor>> {
        Ok(Some((upstream * output)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_exponential_to_a_few_units_in_the_last_place() {
        let mut x = -87.0f32;
        while x < 88.0 {
            let expected = f64::from(x).exp();
            let relative = ((f64::from(exp(x)) - expected) / expected).abs();
            assert!(relative < 4e-7, "exp({x}): relative error {relative}");
            x += 0.001_37;
        }
        assert_eq!(exp(-100.0), 0.0);
        assert!(exp(1000.0).is_finite());
        assert_eq!(exp(0.0), 1.0);
    }
}
