//! Helpers shared by the tests: seeded tensors, gradient checks, and the shared datasets.

use std::path::{Path, PathBuf};

use candle_core::{Device, Result, Tensor, Var};

/// Standard normal values (Box-Muller), reproducible from `seed`.
pub fn normal_values(n: usize, seed: u64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            // 1 - u is in (0, 1], so the log is finite.
            let u: f64 = 1.0 - rng.random::<f64>();
            let v: f64 = rng.random();
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        })
        .collect()
}

/// A tensor of standard normal values, reproducible from `seed`.
pub fn randn(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec(normal_values(n, seed), shape, &Device::Cpu).expect("shape matches the data")
}

/// `<GRADLAB_DATA or ../shared/datasets>/<name>` when it exists. When it does not, a test skips
/// (None, with a line on stderr) on a developer machine, but fails where `CI` is set: CI has the
/// data, so a missing copy there is a broken setup, not a reason to pass.
pub fn data_dir_or_skip(name: &str) -> Option<PathBuf> {
    let root = std::env::var_os("GRADLAB_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"));
    let dir = root.join(name);
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {} is missing (set GRADLAB_DATA to the shared datasets)",
        dir.display()
    );
    eprintln!("skipped: no {}", dir.display());
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Mean 0, variance 1, and about 4.6% beyond two standard deviations (uniform values in
    /// [-1, 1) have variance 1/3 and none beyond 1).
    #[test]
    fn randn_draws_standard_normal_values() {
        let v = normal_values(20_000, 3);
        let n = v.len() as f64;
        let m = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n;
        let tail = v.iter().filter(|x| x.abs() > 2.0).count() as f64 / n;
        assert!(m.abs() < 0.03, "mean {m}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
        assert!((tail - 0.0455).abs() < 0.01, "tail {tail}");
        assert_eq!(v, normal_values(20_000, 3));
        assert_eq!(randn(&[2, 3], 9).dims(), &[2, 3]);
    }
}
