//! Global-norm gradient clipping: one norm over every gradient, summed in
//! a fixed order so that it is the same bit for bit on every run.

use candle_core::Tensor;

/// The global L2 norm of `gradients`: the square root of the sum, in the
/// given order and in `f64`, of each tensor's sum of squares.
pub fn global_norm(gradients: &[Tensor]) -> candle_core::Result<f64> {
    let mut total = 0.0f64;
    for gradient in gradients {
        total += f64::from(gradient.sqr()?.sum_all()?.to_scalar::<f32>()?);
    }
    Ok(total.sqrt())
}

/// The factor gradients are multiplied by so that their global norm is at
/// most `max_norm`: `max_norm / norm` when the norm exceeds it, else 1.
/// `None` disables clipping.
pub fn clip_factor(norm: f64, max_norm: Option<f64>) -> f64 {
    match max_norm {
        Some(limit) if norm > limit && norm > 0.0 => limit / norm,
        _ => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn norm_spans_every_tensor_and_clipping_scales_to_the_limit() {
        let first = Tensor::new(&[3.0f32, 0.0], &Device::Cpu).unwrap();
        let second = Tensor::new(&[[0.0f32], [4.0]], &Device::Cpu).unwrap();
        let norm = global_norm(&[first.clone(), second.clone()]).unwrap();
        assert_eq!(norm, 5.0);
        let factor = clip_factor(norm, Some(1.0));
        assert_eq!(factor, 0.2);
        let clipped: Vec<Tensor> = [first, second]
            .iter()
            .map(|g| (g * factor).unwrap())
            .collect();
        assert!((global_norm(&clipped).unwrap() - 1.0).abs() < 1e-6);
        assert_eq!(clip_factor(norm, Some(10.0)), 1.0);
        assert_eq!(clip_factor(norm, None), 1.0);
    }
}
