//! What the convolution tests share (here and in the app's tests of its candle ops): seeded
//! inputs, the f64 reference from the definition, the relative-error check, and the awkward
//! shapes every kernel is tested on.

use crate::ConvShape;

/// Standard normal values, reproducible from `seed` (SplitMix64 + Box-Muller; no dependency).
pub fn normal(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // A uniform in (0, 1]: never 0, so its log is finite.
        ((z >> 11) + 1) as f64 / (1u64 << 53) as f64
    };
    let mut out = Vec::with_capacity(len + 1);
    while out.len() < len {
        let (u, v) = (next(), next());
        let r = (-2.0 * u.ln()).sqrt();
        let t = 2.0 * std::f64::consts::PI * v;
        out.push((r * t.cos()) as f32);
        out.push((r * t.sin()) as f32);
    }
    out.truncate(len);
    out
}

/// Shapes every conv kernel is tested on: cin = 1, channel counts that are not multiples of 4,
/// 8 or 16, W in {1, 5, 16, 33}, H = 1. Each test adds shapes of its own (several bands or
/// blocks).
pub const AWKWARD_SHAPES: [ConvShape; 5] = [
    ConvShape::new(2, 1, 3, 5, 1),
    ConvShape::new(1, 1, 16, 1, 5),
    ConvShape::new(2, 3, 5, 7, 16),
    ConvShape::new(1, 17, 6, 4, 33),
    ConvShape::new(2, 5, 19, 1, 33),
];

/// Naive f64 reference of the 3x3 convolution: forward, input gradient and weight gradient of
/// sum(conv(x, wt) * r).
#[allow(clippy::type_complexity)]
pub fn conv3x3(x: &[f32], wt: &[f32], r: &[f32], s: ConvShape) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let ConvShape {
        batch: b,
        cin,
        cout,
        h,
        w,
    } = s;
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

/// Panics unless every value is within `tol` x the largest magnitude of `want` (at least 1).
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
