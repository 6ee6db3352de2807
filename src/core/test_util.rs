//! Helpers shared by the tests of the custom tensor ops.

use candle_core::{Device, Result, Tensor, Var};

/// A tensor of uniform values in [-1, 1), reproducible from `seed`.
pub fn randn(shape: &[usize], seed: u64) -> Tensor {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).expect("shape matches the data")
}

/// Largest absolute element-wise difference of two tensors of one shape.
pub fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.flatten_all())
        .and_then(|d| d.max(0))
        .and_then(|d| d.to_scalar::<f32>())
        .expect("tensors of one shape")
}

/// Compares the autograd gradient of every entry of every var with the central difference of
/// `loss` (step 1e-3), within `abs + rel * |gradient|`; restores each var afterwards.
pub fn assert_grads_match_fd(
    vars: &[Var],
    mut loss: impl FnMut() -> Result<Tensor>,
    abs: f32,
    rel: f32,
) -> Result<()> {
    let grads = loss()?.backward()?;
    for var in vars {
        let gv = grads
            .get(var.as_tensor())
            .expect("every var gets a gradient")
            .flatten_all()?
            .to_vec1::<f32>()?;
        let orig = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
        for i in 0..orig.len() {
            let mut at = |d: f32| -> Result<f32> {
                let mut v = orig.clone();
                v[i] += d;
                var.set(&Tensor::from_vec(v, var.shape(), var.device())?)?;
                loss()?.to_scalar::<f32>()
            };
            let fd = (at(1e-3)? - at(-1e-3)?) / 2e-3;
            assert!(
                (fd - gv[i]).abs() < abs + rel * gv[i].abs(),
                "entry {i}: fd {fd} vs {}",
                gv[i]
            );
        }
        var.set(&Tensor::from_vec(orig, var.shape(), var.device())?)?;
    }
    Ok(())
}
