//! BatchNorm (batch statistics, per channel over batch and space) fused with ReLU:
//! `relu(gamma * (x - mean) / sqrt(var + eps) + beta)`, on `[b, c, hw]` data. candle_nn's
//! BatchNorm + relu makes about ten full passes over the activations forward and twenty backward;
//! these make two and three.

use rayon::prelude::*;

/// Independent f32 accumulators per sum: a single serial f32 chain over a 128 x 128 plane
/// neither vectorises nor stays accurate; 16 lanes do both, and they are combined in f64.
const LANES: usize = 16;

/// (mean, sum of squared deviations) of one plane, by the corrected two-pass algorithm (the plane
/// is in cache for the second pass): no E[x^2] - mean^2 cancellation.
fn plane_mean_m2(v: &[f32]) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::avx2() {
        // SAFETY: the CPU has AVX2.
        return unsafe { plane_mean_m2_avx2(v) };
    }
    plane_mean_m2_body(v)
}

/// [`plane_mean_m2`] compiled for AVX2: the same operations (Rust does not contract into FMA),
/// so the same bits, twice as wide.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn plane_mean_m2_avx2(v: &[f32]) -> (f64, f64) {
    plane_mean_m2_body(v)
}

#[inline(always)]
fn plane_mean_m2_body(v: &[f32]) -> (f64, f64) {
    let n = v.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mut acc = [0f32; LANES];
    let chunks = v.chunks_exact(LANES);
    let tail: f64 = chunks.remainder().iter().map(|&x| x as f64).sum();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let mean = (acc.iter().map(|&a| a as f64).sum::<f64>() + tail) / n as f64;
    let m = mean as f32;
    let (mut s1, mut s2) = ([0f32; LANES], [0f32; LANES]);
    let chunks = v.chunks_exact(LANES);
    let (mut t1, mut t2) = (0f64, 0f64);
    for &x in chunks.remainder() {
        let d = (x - m) as f64;
        t1 += d;
        t2 += d * d;
    }
    for c in chunks {
        for ((a1, a2), &x) in s1.iter_mut().zip(s2.iter_mut()).zip(c) {
            let d = x - m;
            *a1 += d;
            *a2 += d * d;
        }
    }
    let d1 = s1.iter().map(|&a| a as f64).sum::<f64>() + t1;
    let d2 = s2.iter().map(|&a| a as f64).sum::<f64>() + t2;
    // d1 is ~0 up to rounding of `m`; the correction term removes that error to first order.
    (mean + d1 / n as f64, (d2 - d1 * d1 / n as f64).max(0.0))
}

/// `relu(gamma (x - mean) / sqrt(var + eps) + beta)` per channel of `[b, c, hw]` data.
pub fn bn_relu_apply(
    x: &[f32],
    c: usize,
    hw: usize,
    gamma: &[f32],
    beta: &[f32],
    stats: &[(f32, f32)],
    eps: f32,
) -> Vec<f32> {
    let len = x.len();
    let mut out: Vec<f32> = Vec::with_capacity(len);
    out.spare_capacity_mut()
        .par_chunks_mut(hw.max(1))
        .zip(x.par_chunks(hw.max(1)))
        .enumerate()
        .for_each(|(bc, (o, xi))| {
            let ch = bc % c;
            let (scale, shift) = bn_scale_shift(gamma[ch], beta[ch], stats[ch], eps);
            lanes::plane_apply(scale, shift, xi, o);
        });
    // SAFETY: the chunks cover 0..len and each element was written.
    unsafe { out.set_len(len) };
    out
}

/// The forward's per-channel affine map: y = relu(x scale + shift). The backward recomputes the
/// ReLU mask from x with these same f32 operations, so it matches the forward to the bit.
fn bn_scale_shift(gamma: f32, beta: f32, (mean, var): (f32, f32), eps: f32) -> (f32, f32) {
    let scale = gamma / (var + eps).sqrt();
    (scale, beta - mean * scale)
}

/// Whether a channel's sums may be taken from y: x - mean = (y - beta) / scale where y > 0.
/// Rounding y costs |y| 2^-24, which the division turns into an error of
/// (|xhat| + |beta / gamma|) 2^-24 in xhat: beyond |beta| = 1000 |gamma| (or gamma = 0) the sums
/// read x instead. The choice depends on the parameters only, so it is deterministic.
fn sums_from_y(gamma: f32, beta: f32) -> bool {
    gamma != 0.0 && beta.abs() <= 1000.0 * gamma.abs()
}

/// Backward of [`bn_relu_apply`] with batch statistics: (dx, dgamma, dbeta) from the input `x`,
/// the output `y` and the output gradient `g`. Two passes over memory instead of four arrays
/// twice: the sums read (y, g), since where y > 0 the normalised input is (y - beta) / gamma
/// (in units of the scale); the input gradient reads (x, g) and recomputes the ReLU mask from x.
#[allow(clippy::too_many_arguments)]
pub fn bn_relu_backward(
    x: &[f32],
    y: &[f32],
    g: &[f32],
    b: usize,
    c: usize,
    hw: usize,
    gamma: &[f32],
    beta: &[f32],
    stats: &[(f32, f32)],
    eps: f32,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let n = (b * hw) as f32;
    // Per channel: dbeta = sum(g'), dgamma = sum(g' * xhat), g' = g where y > 0.
    let sums: Vec<(f32, f32)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let (mean, var) = stats[ch];
            let inv = 1.0 / (var as f64 + eps as f64).sqrt();
            let (scale, _) = bn_scale_shift(gamma[ch], beta[ch], stats[ch], eps);
            let from_y = sums_from_y(gamma[ch], beta[ch]);
            let (mut sb, mut sg) = (0f64, 0f64);
            for bi in 0..b {
                let r = (bi * c + ch) * hw..(bi * c + ch + 1) * hw;
                let (pb, pg) = if from_y {
                    let (pb, pgy) = lanes::plane_sums_y(&y[r.clone()], &g[r]);
                    // sum g' (x - mean) = sum g' (y - beta) / scale.
                    (pb, (pgy - beta[ch] as f64 * pb) / scale as f64)
                } else {
                    plane_bwd_sums(&x[r.clone()], &y[r.clone()], &g[r], mean)
                };
                sb += pb;
                sg += pg;
            }
            (sb as f32, (sg * inv) as f32)
        })
        .collect();
    let len = x.len();
    let mut dx: Vec<f32> = Vec::with_capacity(len);
    dx.spare_capacity_mut()
        .par_chunks_mut(hw.max(1))
        .enumerate()
        .for_each(|(bc, d)| {
            let ch = bc % c;
            let (mean, var) = stats[ch];
            let (scale, shift) = bn_scale_shift(gamma[ch], beta[ch], stats[ch], eps);
            let inv = 1.0 / (var + eps).sqrt();
            let (sb, sg) = sums[ch];
            let k = gamma[ch] * inv;
            let (mb, mg) = (sb / n, inv * sg / n);
            let r = bc * hw..(bc + 1) * hw;
            let p = lanes::PlaneDx {
                scale,
                shift,
                mean,
                k,
                mb,
                mg,
            };
            lanes::plane_dx(&p, &x[r.clone()], &g[r], d);
        });
    // SAFETY: every element was written above (the chunks cover 0..len).
    unsafe { dx.set_len(len) };
    (
        dx,
        sums.iter().map(|s| s.1).collect(),
        sums.iter().map(|s| s.0).collect(),
    )
}

/// The per-plane loops of the BatchNorm + ReLU backward, compiled twice (baseline and AVX2) and
/// picked at run time. The same Rust code in both (Rust never contracts a * b + c into an FMA),
/// so the two give the same bits.
mod lanes {
    use super::LANES;
    use std::mem::MaybeUninit;

    /// The input-gradient constants of one channel.
    pub(super) struct PlaneDx {
        pub scale: f32,
        pub shift: f32,
        pub mean: f32,
        pub k: f32,
        pub mb: f32,
        pub mg: f32,
    }

    /// v where keep, else +0.0, without a branch (a data-dependent branch per element is
    /// mispredicted half the time and stops the loop from vectorising).
    #[inline(always)]
    pub(super) fn masked(v: f32, keep: bool) -> f32 {
        f32::from_bits(v.to_bits() & (keep as u32).wrapping_neg())
    }

    #[inline(always)]
    fn sums_y_body(y: &[f32], g: &[f32]) -> (f64, f64) {
        let (mut sb, mut sy) = ([0f32; LANES], [0f32; LANES]);
        let (yc, gc) = (y.chunks_exact(LANES), g.chunks_exact(LANES));
        let (mut tb, mut ty) = (0f64, 0f64);
        for (&yv, &gv) in yc.remainder().iter().zip(gc.remainder()) {
            let gv = masked(gv, yv > 0.0);
            tb += gv as f64;
            ty += (gv * yv) as f64;
        }
        for (ys, gs) in yc.zip(gc) {
            for l in 0..LANES {
                let gv = masked(gs[l], ys[l] > 0.0);
                sb[l] += gv;
                sy[l] += gv * ys[l];
            }
        }
        (
            sb.iter().map(|&a| a as f64).sum::<f64>() + tb,
            sy.iter().map(|&a| a as f64).sum::<f64>() + ty,
        )
    }

    #[inline(always)]
    fn dx_body(p: &PlaneDx, x: &[f32], g: &[f32], d: &mut [MaybeUninit<f32>]) {
        for ((d, &xv), &gv) in d.iter_mut().zip(x).zip(g) {
            let gv = masked(gv, xv * p.scale + p.shift > 0.0);
            d.write(p.k * (gv - p.mb - (xv - p.mean) * p.mg));
        }
    }

    #[inline(always)]
    fn apply_body(scale: f32, shift: f32, x: &[f32], o: &mut [MaybeUninit<f32>]) {
        for (o, &v) in o.iter_mut().zip(x) {
            o.write((v * scale + shift).max(0.0));
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn apply_avx2(scale: f32, shift: f32, x: &[f32], o: &mut [MaybeUninit<f32>]) {
        apply_body(scale, shift, x, o)
    }

    /// o = relu(x scale + shift).
    pub(super) fn plane_apply(scale: f32, shift: f32, x: &[f32], o: &mut [MaybeUninit<f32>]) {
        #[cfg(target_arch = "x86_64")]
        if avx2() {
            // SAFETY: the CPU has AVX2.
            return unsafe { apply_avx2(scale, shift, x, o) };
        }
        apply_body(scale, shift, x, o)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn sums_y_avx2(y: &[f32], g: &[f32]) -> (f64, f64) {
        sums_y_body(y, g)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn dx_avx2(p: &PlaneDx, x: &[f32], g: &[f32], d: &mut [MaybeUninit<f32>]) {
        dx_body(p, x, g, d)
    }

    #[cfg(target_arch = "x86_64")]
    use crate::cpu::avx2;

    /// (sum g', sum g' y) over one plane, g' = g where y > 0.
    pub(super) fn plane_sums_y(y: &[f32], g: &[f32]) -> (f64, f64) {
        #[cfg(target_arch = "x86_64")]
        if avx2() {
            // SAFETY: the CPU has AVX2.
            return unsafe { sums_y_avx2(y, g) };
        }
        sums_y_body(y, g)
    }

    /// d = k (g' - mb - (x - mean) mg), g' = g where x scale + shift > 0 (the forward's y > 0).
    pub(super) fn plane_dx(p: &PlaneDx, x: &[f32], g: &[f32], d: &mut [MaybeUninit<f32>]) {
        #[cfg(target_arch = "x86_64")]
        if avx2() {
            // SAFETY: the CPU has AVX2.
            return unsafe { dx_avx2(p, x, g, d) };
        }
        dx_body(p, x, g, d)
    }

    #[cfg(test)]
    pub(super) fn plane_sums_y_scalar(y: &[f32], g: &[f32]) -> (f64, f64) {
        sums_y_body(y, g)
    }

    #[cfg(test)]
    pub(super) fn plane_dx_scalar(p: &PlaneDx, x: &[f32], g: &[f32], d: &mut [MaybeUninit<f32>]) {
        dx_body(p, x, g, d)
    }
}

/// Per channel (mean, biased variance) of `[b, c, hw]` data: per-plane two-pass moments merged
/// with Chan et al.'s pairwise formula, in f64, in a fixed order.
pub fn channel_stats(x: &[f32], b: usize, c: usize, hw: usize) -> Vec<(f32, f32)> {
    (0..c)
        .into_par_iter()
        .map(|ch| {
            let (mut n, mut mean, mut m2) = (0f64, 0f64, 0f64);
            for bi in 0..b {
                let (pm, pm2) = plane_mean_m2(&x[(bi * c + ch) * hw..(bi * c + ch + 1) * hw]);
                let np = hw as f64;
                let tot = n + np;
                let d = pm - mean;
                mean += d * np / tot;
                m2 += pm2 + d * d * n * np / tot;
                n = tot;
            }
            (mean as f32, (m2 / n.max(1.0)) as f32)
        })
        .collect()
}

/// (sum g', sum g' (x - mean)) over one plane, g' = g where y > 0: the two reductions of the
/// BatchNorm + ReLU backward, with lane accumulators.
fn plane_bwd_sums(x: &[f32], y: &[f32], g: &[f32], mean: f32) -> (f64, f64) {
    let (mut sb, mut sg) = ([0f32; LANES], [0f32; LANES]);
    let (xc, yc, gc) = (
        x.chunks_exact(LANES),
        y.chunks_exact(LANES),
        g.chunks_exact(LANES),
    );
    let (mut tb, mut tg) = (0f64, 0f64);
    for ((&xv, &yv), &gv) in xc
        .remainder()
        .iter()
        .zip(yc.remainder())
        .zip(gc.remainder())
    {
        let gv = lanes::masked(gv, yv > 0.0);
        tb += gv as f64;
        tg += (gv * (xv - mean)) as f64;
    }
    for ((xs, ys), gs) in xc.zip(yc).zip(gc) {
        for l in 0..LANES {
            let gv = lanes::masked(gs[l], ys[l] > 0.0);
            sb[l] += gv;
            sg[l] += gv * (xs[l] - mean);
        }
    }
    (
        sb.iter().map(|&a| a as f64).sum::<f64>() + tb,
        sg.iter().map(|&a| a as f64).sum::<f64>() + tg,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::normal;

    #[test]
    fn batch_statistics_are_stable_for_large_offsets() {
        // Mean 1000, std ~0.006: E[x^2] - mean^2 in f32 loses every digit of the variance.
        let (b, c, hw) = (3, 2, 16 * 16 + 5);
        let x: Vec<f32> = normal(b * c * hw, 5)
            .into_iter()
            .map(|v| 1000.0 + 0.01 * v)
            .collect();
        let stats = channel_stats(&x, b, c, hw);
        for (ch, &(mean, var)) in stats.iter().enumerate() {
            let vals: Vec<f64> = (0..b)
                .flat_map(|bi| x[(bi * c + ch) * hw..(bi * c + ch + 1) * hw].iter())
                .map(|&v| v as f64)
                .collect();
            let m = vals.iter().sum::<f64>() / vals.len() as f64;
            let v = vals.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / vals.len() as f64;
            assert!((mean as f64 - m).abs() < 1e-4, "mean {mean} vs {m}");
            assert!(
                (var as f64 - v).abs() < 1e-4 * v,
                "channel {ch}: variance {var} vs {v}"
            );
        }
    }

    /// The BatchNorm + ReLU backward straight from its definition, in f64, reading x only.
    #[allow(clippy::type_complexity)]
    fn bn_reference(
        x: &[f32],
        g: &[f32],
        (b, c, hw): (usize, usize, usize),
        gamma: &[f32],
        beta: &[f32],
        stats: &[(f32, f32)],
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let eps = 1e-5f64;
        let n = (b * hw) as f64;
        let mut dx = vec![0f64; x.len()];
        let (mut dg, mut db) = (vec![0f64; c], vec![0f64; c]);
        for ch in 0..c {
            let (mean, var) = (stats[ch].0 as f64, stats[ch].1 as f64);
            let inv = 1.0 / (var + eps).sqrt();
            let idx = |bi: usize, i: usize| (bi * c + ch) * hw + i;
            // The mask is the forward's (f32) y > 0, so that both sides agree on it.
            let (scale, shift) = bn_scale_shift(gamma[ch], beta[ch], stats[ch], 1e-5);
            let gp = |j: usize| {
                if x[j] * scale + shift > 0.0 {
                    g[j] as f64
                } else {
                    0.0
                }
            };
            for bi in 0..b {
                for i in 0..hw {
                    let j = idx(bi, i);
                    db[ch] += gp(j);
                    dg[ch] += gp(j) * (x[j] as f64 - mean) * inv;
                }
            }
            for bi in 0..b {
                for i in 0..hw {
                    let j = idx(bi, i);
                    let xhat = (x[j] as f64 - mean) * inv;
                    dx[j] = gamma[ch] as f64 * inv * (gp(j) - db[ch] / n - xhat * dg[ch] / n);
                }
            }
        }
        (dx, dg, db)
    }

    #[test]
    fn bn_relu_backward_matches_f64_reference_on_either_path() {
        // hw not a multiple of the lanes; channel 1 has gamma < 0, channel 2 gamma = 0 and
        // channel 3 |beta| > 1000 |gamma| (both read x), channel 0 reads y.
        let (b, c, hw) = (3, 4, 37);
        let x = normal(b * c * hw, 30);
        let x: Vec<f32> = x.iter().map(|v| 2.0 * v + 0.5).collect();
        let g = normal(b * c * hw, 31);
        let gamma = [1.3f32, -0.7, 0.0, 1e-4];
        let beta = [0.2f32, 0.4, 0.3, 0.5];
        assert!(sums_from_y(gamma[0], beta[0]) && sums_from_y(gamma[1], beta[1]));
        assert!(!sums_from_y(gamma[2], beta[2]) && !sums_from_y(gamma[3], beta[3]));
        let stats = channel_stats(&x, b, c, hw);
        let y = bn_relu_apply(&x, c, hw, &gamma, &beta, &stats, 1e-5);
        let (dx, dg, db) = bn_relu_backward(&x, &y, &g, b, c, hw, &gamma, &beta, &stats, 1e-5);
        let (rdx, rdg, rdb) = bn_reference(&x, &g, (b, c, hw), &gamma, &beta, &stats);
        for (what, ours, want) in [
            ("dx", &dx, &rdx),
            ("dgamma", &dg, &rdg),
            ("dbeta", &db, &rdb),
        ] {
            for (i, (a, w)) in ours.iter().zip(want.iter()).enumerate() {
                assert!(
                    (*a as f64 - w).abs() <= 1e-4 * w.abs().max(1.0),
                    "{what}[{i}]: {a} vs {w}"
                );
            }
        }
    }

    #[test]
    fn bn_lane_loops_give_the_same_bits_with_and_without_avx2() {
        let n = 16 * 9 + 7;
        let y = normal(n, 40);
        let g = normal(n, 41);
        let (a, b) = (
            lanes::plane_sums_y(&y, &g),
            lanes::plane_sums_y_scalar(&y, &g),
        );
        assert_eq!(
            (a.0.to_bits(), a.1.to_bits()),
            (b.0.to_bits(), b.1.to_bits())
        );
        let p = lanes::PlaneDx {
            scale: 1.7,
            shift: -0.2,
            mean: 0.1,
            k: 0.9,
            mb: 0.03,
            mg: -0.05,
        };
        let mut d1 = vec![std::mem::MaybeUninit::new(0f32); n];
        let mut d2 = d1.clone();
        lanes::plane_dx(&p, &y, &g, &mut d1);
        lanes::plane_dx_scalar(&p, &y, &g, &mut d2);
        let bits = |d: &[std::mem::MaybeUninit<f32>]| -> Vec<u32> {
            d.iter()
                // SAFETY: both were initialised (to 0) and then fully written.
                .map(|v| unsafe { v.assume_init() }.to_bits())
                .collect()
        };
        assert_eq!(bits(&d1), bits(&d2));
    }
}
