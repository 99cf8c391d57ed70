//! [`widest!`](widest): a kernel's loop compiled for the widest vectors
//! the processor has, with the same arithmetic at every width.
//!
//! The binary targets baseline x86-64 (`.cargo/config.toml`), so a loop
//! the compiler vectorises runs four `f32` lanes at a time (SSE2), even on
//! a processor with 16 (AVX-512). GELU, forward and backward, was a tenth
//! of an RL step on one thread; its loops now run at the widest width.
//! Wider vectors pay on long contiguous loops only: the causal softmax's
//! rows (1-192 values), the loss's normaliser and decoding's per-head
//! attention were tried with this macro and were no faster or slower
//! (`docs/performance.md`, item 15), so they stay at the baseline.
//!
//! The bits are the same at every width: every operation is an IEEE
//! `f32` operation on each lane alone (the compiler never fuses a multiply
//! and an add without being told to, whatever the target features), and
//! sums keep their lane order ([`lanes`](super::lanes)), so a wider
//! register holds more of the same independent lanes.
//! `every_width_computes_the_same_bits` below checks it on a kernel with
//! an exponential, a division and special values.

/// The vector instructions a loop is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VectorWidth {
    /// Baseline x86-64 (SSE2) or another architecture's default.
    Baseline,
    /// 256-bit AVX2.
    Avx2,
    /// 512-bit AVX-512F.
    Avx512,
}

/// The widest vectors this processor runs (in unit tests, a narrower
/// width forced by [`Forced`]).
pub(crate) fn detected() -> VectorWidth {
    static DETECTED: std::sync::OnceLock<VectorWidth> = std::sync::OnceLock::new();
    let widest = *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return VectorWidth::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return VectorWidth::Avx2;
            }
        }
        VectorWidth::Baseline
    });
    #[cfg(test)]
    if let Some(forced) = Forced::current() {
        return match (forced, widest) {
            (_, VectorWidth::Baseline) | (VectorWidth::Baseline, _) => VectorWidth::Baseline,
            (VectorWidth::Avx2, _) | (_, VectorWidth::Avx2) => VectorWidth::Avx2,
            _ => VectorWidth::Avx512,
        };
    }
    widest
}

/// In unit tests: the widths the kernels run at, narrowed to one while a
/// value lives (every thread sees it; the bits are the same at every
/// width, so other tests running meanwhile are not affected).
#[cfg(test)]
pub(crate) struct Forced;

#[cfg(test)]
static FORCED: std::sync::Mutex<Option<VectorWidth>> = std::sync::Mutex::new(None);

#[cfg(test)]
impl Forced {
    pub(crate) fn new(width: VectorWidth) -> Self {
        if let Ok(mut forced) = FORCED.lock() {
            *forced = Some(width);
        }
        Forced
    }

    fn current() -> Option<VectorWidth> {
        FORCED.lock().ok().and_then(|forced| *forced)
    }
}

#[cfg(test)]
impl Drop for Forced {
    fn drop(&mut self) {
        if let Ok(mut forced) = FORCED.lock() {
            *forced = None;
        }
    }
}

/// Defines a kernel function whose body is compiled three times (baseline,
/// AVX2, AVX-512) and runs at the widest width the processor has:
///
/// ```ignore
/// widest! {
///     /// Doc.
///     fn name(argument: Type, ...) -> Output { body }
/// }
/// ```
///
/// The body is a nested `#[inline(always)]` function called directly from
/// each width's copy, so it is compiled inside each (a closure or a generic
/// function handed to a shared wrapper is not reliably inlined into it).
macro_rules! widest {
    (
        $(#[$meta:meta])*
        $visibility:vis fn $name:ident($($argument:ident: $type:ty),* $(,)?) $(-> $output:ty)? $body:block
    ) => {
        $(#[$meta])*
        $visibility fn $name($($argument: $type),*) $(-> $output)? {
            #[inline(always)]
            fn body($($argument: $type),*) $(-> $output)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512($($argument: $type),*) $(-> $output)? {
                    body($($argument),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($argument: $type),*) $(-> $output)? {
                    body($($argument),*)
                }
                match $crate::model::kernels::vector_width::detected() {
                    // SAFETY: `detected` found AVX-512F on this processor.
                    $crate::model::kernels::vector_width::VectorWidth::Avx512 => unsafe {
                        avx512($($argument),*)
                    },
                    // SAFETY: `detected` found AVX2 on this processor.
                    $crate::model::kernels::vector_width::VectorWidth::Avx2 => unsafe {
                        avx2($($argument),*)
                    },
                    $crate::model::kernels::vector_width::VectorWidth::Baseline => {
                        body($($argument),*)
                    }
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                body($($argument),*)
            }
        }
    };
}
pub(crate) use widest;

#[cfg(test)]
mod tests {
    use super::*;

    widest! {
        /// A polynomial, an exponential and a division per value.
        fn sample_kernel(input: &[f32], output: &mut [f32]) {
            for (out, &x) in output.iter_mut().zip(input) {
                *out = super::super::exp(x) / (1.0 + x * x) + 0.5 * x * x * x;
            }
        }
    }

    #[test]
    fn every_width_computes_the_same_bits() {
        let input: Vec<f32> = (0..4099)
            .map(|index| (index as f32 - 2049.0) * 0.0437)
            .chain([
                0.0,
                -0.0,
                f32::MIN_POSITIVE,
                1e-40,
                -88.5,
                89.0,
                f32::NAN,
                f32::INFINITY,
            ])
            .collect();
        let mut outputs = Vec::new();
        for width in [
            VectorWidth::Baseline,
            VectorWidth::Avx2,
            VectorWidth::Avx512,
        ] {
            let _forced = Forced::new(width);
            let mut output = vec![0f32; input.len()];
            sample_kernel(&input, &mut output);
            outputs.push(
                output
                    .iter()
                    .map(|value| value.to_bits())
                    .collect::<Vec<_>>(),
            );
        }
        assert_eq!(outputs[0], outputs[1]);
        assert_eq!(outputs[0], outputs[2]);
    }
}
