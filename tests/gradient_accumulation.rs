//! How the vendored candle-core (`vendor/candle-core/ECHOLAB-PATCHES.md`)
//! accumulates gradients in `Tensor::backward`: a node's first contribution
//! is stored as it is, later ones are added to it. The values are those of
//! the published crate's `zeros + first + second`, bit for bit, except the
//! sign of a zero gradient, which the published crate made positive.

use candle_core::{Device, Tensor, Var};

fn bits(tensor: &Tensor) -> Vec<u32> {
    tensor
        .flatten_all()
        .and_then(|flat| flat.to_vec1::<f32>())
        .unwrap()
        .into_iter()
        .map(f32::to_bits)
        .collect()
}

/// The gradient of `loss` with respect to `variable`.
fn gradient_of(loss: &Tensor, variable: &Var) -> Tensor {
    let gradients = loss.backward().unwrap();
    gradients.get(variable.as_tensor()).unwrap().clone()
}

/// `sum(view(variable) * factor)`: a loss whose gradient reaches
/// `variable` through `view`.
fn weighted_sum(
    variable: &Var,
    view: impl Fn(&Tensor) -> candle_core::Result<Tensor>,
    factor: &Tensor,
) -> Tensor {
    view(variable.as_tensor())
        .and_then(|viewed| viewed.mul(factor))
        .and_then(|product| product.sum_all())
        .unwrap()
}

fn vector(values: &[f32]) -> Tensor {
    Tensor::new(values, &Device::Cpu).unwrap()
}

#[test]
fn a_weight_used_once_gets_its_one_contribution_bit_for_bit() {
    let weight = Var::from_tensor(&vector(&[0.5, -1.25, 3.0, 0.1])).unwrap();
    // The published crate turned this -0.0 into +0.0 (`0 + -0 = +0`).
    let factor = vector(&[0.3, -0.0, 7.0, -2.5]);
    let loss = weighted_sum(&weight, |weight| Ok(weight.clone()), &factor);
    let gradient = gradient_of(&loss, &weight);
    assert_eq!(bits(&gradient), bits(&factor));
    assert!(gradient.to_vec1::<f32>().unwrap()[1].is_sign_negative());
}

#[test]
fn a_weight_used_twice_gets_the_sum_of_both_contributions() {
    let weight = Var::from_tensor(&vector(&[0.5, -1.25, 3.0, 0.1])).unwrap();
    let first = vector(&[0.1, 0.2, -0.3, 1e-8]);
    let second = vector(&[1e8, -0.7, 0.3, 1.0]);
    let loss = (weight.as_tensor().mul(&first).unwrap() + weight.as_tensor().mul(&second).unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
    let gradient = gradient_of(&loss, &weight);
    // Float addition is commutative, so the order in which the two
    // contributions arrive does not matter; the sum is rounded once.
    assert_eq!(bits(&gradient), bits(&(&first + &second).unwrap()));
}

#[test]
fn a_gradient_that_arrives_as_a_strided_view_has_the_values_of_its_layout() {
    // The gradient of a transposed weight arrives as a transposed view of
    // the output's gradient; stored as it is, it must read as the weight's
    // shape, in the weight's logical order.
    let weight = Var::from_tensor(
        &Tensor::new(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]], &Device::Cpu).unwrap(),
    )
    .unwrap();
    let factor = Tensor::new(&[[0.5f32, -1.0], [2.0, 0.25], [-3.0, 8.0]], &Device::Cpu).unwrap();
    let loss = weighted_sum(&weight, Tensor::t, &factor);
    let gradient = gradient_of(&loss, &weight);
    assert_eq!(gradient.dims(), &[2, 3]);
    assert_eq!(
        gradient.to_vec2::<f32>().unwrap(),
        vec![vec![0.5, 2.0, -3.0], vec![-1.0, 0.25, 8.0]]
    );
    // And the optimizer's arithmetic on it sees the same values.
    let squared_sum = gradient.sqr().unwrap().sum_all().unwrap();
    assert_eq!(
        squared_sum.to_scalar::<f32>().unwrap(),
        0.25 + 1.0 + 4.0 + 0.0625 + 9.0 + 64.0
    );
}

#[test]
fn a_strided_gradient_that_reaches_a_matrix_product_is_made_contiguous_first() {
    // `z = a b` per batch and head, then `z` is used only with two axes
    // swapped (as attention's heads are put back side by side): its
    // gradient arrives as a view with those axes swapped, and the batched
    // matrix product's backward step refuses such a left operand. The
    // published crate's `zeros + g` was contiguous; the first contribution
    // stored must be too.
    let uniform = |shape: &[usize], offset: f32| {
        let count: usize = shape.iter().product();
        let values: Vec<f32> = (0..count)
            .map(|index| ((index * 7 + 3) % 11) as f32 * 0.25 - offset)
            .collect();
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
    };
    let a = Var::from_tensor(&uniform(&[2, 3, 5, 4], 1.0)).unwrap();
    let b = uniform(&[2, 3, 4, 6], 0.5);
    let factor = uniform(&[2, 5, 3, 6], 1.25);
    let loss = weighted_sum(
        &a,
        |a| a.matmul(&b).and_then(|product| product.transpose(1, 2)),
        &factor,
    );
    let gradient = gradient_of(&loss, &a);
    // d loss / d a = (factor with the axes swapped back) bᵀ.
    let expected = factor
        .transpose(1, 2)
        .and_then(|swapped| swapped.contiguous())
        .and_then(|swapped| swapped.matmul(&b.transpose(2, 3).unwrap()))
        .unwrap();
    assert_eq!(bits(&gradient), bits(&expected));
}
