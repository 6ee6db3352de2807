//! What the 3x3 convolution tests share: seeded inputs, the f64 reference from the definition,
//! the relative-error check, and the alternated timing of the ignored kernel benches.

use super::wgrad::Kernel;
use crate::core::test_util::randn;

/// Standard normal values of `shape`, reproducible from `seed`.
pub fn vec_of(shape: &[usize], seed: u64) -> Vec<f32> {
    randn(shape, seed).flatten_all().unwrap().to_vec1().unwrap()
}

/// (b, cin, cout, h, w) every conv kernel is tested on: cin = 1, channel counts that are not
/// multiples of 4, 8 or 16, W in {1, 5, 16, 33}, H = 1. Each test adds shapes of its own (several
/// bands or blocks).
pub const AWKWARD_SHAPES: [(usize, usize, usize, usize, usize); 5] = [
    (2, 1, 3, 5, 1),
    (1, 1, 16, 1, 5),
    (2, 3, 5, 7, 16),
    (1, 17, 6, 4, 33),
    (2, 5, 19, 1, 33),
];

/// Naive f64 reference: forward, input gradient and weight gradient of sum(conv(x, w) * r).
#[allow(clippy::type_complexity)]
pub fn reference(
    x: &[f32],
    wt: &[f32],
    r: &[f32],
    (b, cin, cout, h, w): (usize, usize, usize, usize, usize),
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut y = vec![0f64; b * cout * h * w];
    let mut dx = vec![0f64; x.len()];
    let mut dw = vec![0f64; wt.len()];
    for bi in 0..b {
        for o in 0..cout {
            for yy in 0..h {
                for xx in 0..w {
                    let yi = ((bi * cout + o) * h + yy) * w + xx;
                    for c in 0..cin {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (sy, sx) = (yy + ky, xx + kx);
                                if sy < 1 || sx < 1 || sy > h || sx > w {
                                    continue;
                                }
                                let xi = ((bi * cin + c) * h + sy - 1) * w + sx - 1;
                                let wi = (o * cin + c) * 9 + ky * 3 + kx;
                                y[yi] += wt[wi] as f64 * x[xi] as f64;
                                dx[xi] += wt[wi] as f64 * r[yi] as f64;
                                dw[wi] += x[xi] as f64 * r[yi] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    (y, dx, dw)
}

/// Fails unless every value is within `tol` x the largest magnitude of `want` (at least 1).
pub fn assert_close(ours: &[f32], want: &[f64], tol: f64, what: &str) {
    assert_eq!(ours.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1f64, |m, v| m.max(v.abs()));
    let worst = ours
        .iter()
        .zip(want)
        .map(|(a, b)| (*a as f64 - b).abs())
        .fold(0f64, f64::max);
    assert!(
        worst <= tol * scale,
        "{what}: off by {worst} (scale {scale})"
    );
}

/// Best time in ms of the gemm path and of the AVX2 and AVX-512VL kernels (MAX where this CPU
/// lacks one), alternated over 9 rounds: the machine is shared and its load drifts.
pub fn best_of_alternated(
    gemm: &dyn Fn() -> Vec<f32>,
    kernel: &dyn Fn(Kernel) -> Vec<f32>,
) -> [f64; 3] {
    let mut best = [f64::MAX; 3];
    let available = Kernel::available();
    for _ in 0..9 {
        for (k, slot) in best.iter_mut().enumerate() {
            let t = std::time::Instant::now();
            match k {
                0 => std::hint::black_box(gemm()),
                _ => {
                    let which = [Kernel::Avx2, Kernel::Avx512Vl][k - 1];
                    if !available.contains(&which) {
                        continue;
                    }
                    std::hint::black_box(kernel(which))
                }
            };
            *slot = slot.min(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    best
}
