//! Fast CPU building blocks for the U-Net whose candle 0.11.1 versions are slow or wrong:
//!
//! - `conv3x3`: a fused banded im2col + gemm convolution (see `conv.rs`); `conv3x3_im2col` is
//!   the plain version: im2col as a custom op (backward = col2im) followed by a batched matmul. candle's own conv2d backward runs a naive
//!   conv_transpose2d for the input gradient and a conv with an image-sized kernel for the weight
//!   gradient, which dominates a training step.
//! - `max_pool2x2`: reshape + max over the window axes, because candle's max_pool2d backward
//!   scales the gradient by 1/(k*k).
//! - `up2x2`: a 2x2 stride-2 transposed convolution as a matmul + pixel shuffle (same weight
//!   layout as PyTorch's ConvTranspose2d: [c_in, c_out, 2, 2]).

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

/// `[b, c, h, w]` -> `[b, c*k*k, h*w]` with zero padding k/2 and stride 1; row `c*k*k + ky*k + kx`
/// holds the input shifted by (ky - k/2, kx - k/2).
pub struct Im2Col {
    pub k: usize,
}

/// The adjoint of [`Im2Col`]: `[b, c*k*k, h*w]` -> `[b, c, h, w]`, summing the shifted planes.
pub struct Col2Im {
    pub k: usize,
    pub h: usize,
    pub w: usize,
}

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("{what}: only f32 is supported")
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        bail!("{what}: input must be contiguous")
    };
    Ok(&v[a..b])
}

/// For a shift `d` (in -p..=p) along an axis of length `n`: the valid output range [lo, hi).
fn valid(d: isize, n: usize) -> (usize, usize) {
    let lo = (-d).max(0) as usize;
    let hi = (n as isize - d).clamp(0, n as isize) as usize;
    (lo, hi.max(lo))
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = l.shape().dims4()?;
        let src = f32_slice(s, l, "im2col")?;
        let (k, p) = (self.k, (self.k / 2) as isize);
        let hw = h * w;
        let mut out = vec![0f32; b * c * k * k * hw];
        out.par_chunks_mut(k * k * hw)
            .enumerate()
            .for_each(|(bc, dst)| {
                let plane = &src[bc * hw..(bc + 1) * hw];
                for ky in 0..k {
                    let dy = ky as isize - p;
                    let (y0, y1) = valid(dy, h);
                    for kx in 0..k {
                        let dx = kx as isize - p;
                        let (x0, x1) = valid(dx, w);
                        let d = &mut dst[(ky * k + kx) * hw..(ky * k + kx + 1) * hw];
                        for y in y0..y1 {
                            let sy = (y as isize + dy) as usize;
                            let sx0 = (x0 as isize + dx) as usize;
                            d[y * w + x0..y * w + x1]
                                .copy_from_slice(&plane[sy * w + sx0..sy * w + sx0 + (x1 - x0)]);
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((b, c * k * k, hw))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (_, _, h, w) = arg.dims4()?;
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&Col2Im {
            k: self.k,
            h,
            w,
        })?))
    }
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, ckk, hw) = l.shape().dims3()?;
        let (k, h, w) = (self.k, self.h, self.w);
        if hw != h * w || ckk % (k * k) != 0 {
            bail!(
                "col2im: shape {:?} does not match k={k}, {h}x{w}",
                l.shape()
            );
        }
        let c = ckk / (k * k);
        let src = f32_slice(s, l, "col2im")?;
        let p = (k / 2) as isize;
        let mut out = vec![0f32; b * c * hw];
        out.par_chunks_mut(hw).enumerate().for_each(|(bc, dst)| {
            let cols = &src[bc * k * k * hw..(bc + 1) * k * k * hw];
            for ky in 0..k {
                let dy = ky as isize - p;
                let (y0, y1) = valid(dy, h);
                for kx in 0..k {
                    let dx = kx as isize - p;
                    let (x0, x1) = valid(dx, w);
                    let plane = &cols[(ky * k + kx) * hw..(ky * k + kx + 1) * hw];
                    for y in y0..y1 {
                        let sy = (y as isize + dy) as usize;
                        let sx0 = (x0 as isize + dx) as usize;
                        let d = &mut dst[sy * w + sx0..sy * w + sx0 + (x1 - x0)];
                        for (o, v) in d.iter_mut().zip(&plane[y * w + x0..y * w + x1]) {
                            *o += v;
                        }
                    }
                }
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((b, c, h, w))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            grad.contiguous()?.apply_op1_no_bwd(&Im2Col { k: self.k })?,
        ))
    }
}

/// 3x3 convolution, stride 1, zero padding 1, no bias. `w`: `[c_out, c_in*9]` (PyTorch's
/// `[c_out, c_in, 3, 3]` flattened).
pub fn conv3x3(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op2(&w.contiguous()?, super::conv::Conv3x3::default())
}

/// The same convolution as [`conv3x3`] by a full im2col + batched matmul: simpler, but it
/// streams a 9x larger matrix through memory; kept as a reference for tests.
pub fn conv3x3_im2col(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (b, _, h, wd) = x.dims4()?;
    let cols = x.contiguous()?.apply_op1(Im2Col { k: 3 })?;
    let y = w.broadcast_matmul(&cols)?;
    y.reshape((b, (), h, wd))
}

/// 1x1 convolution with bias. `w`: `[c_out, c_in]`, `bias`: `[c_out]`.
pub fn conv1x1(x: &Tensor, w: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let (b, c, h, wd) = x.dims4()?;
    let y = w.broadcast_matmul(&x.reshape((b, c, h * wd))?)?;
    y.broadcast_add(&bias.reshape((1, (), 1))?)?
        .reshape((b, (), h, wd))
}

/// 2x2 max-pool with stride 2 (h and w must be even).
pub fn max_pool2x2(x: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    if h % 2 != 0 || w % 2 != 0 {
        bail!("max_pool2x2: {h}x{w} is not even");
    }
    x.contiguous()?
        .reshape((b, c, h / 2, 2, w / 2, 2))?
        .max(5)?
        .max(3)
}

/// 2x2 stride-2 transposed convolution. `w`: `[c_in, c_out, 2, 2]`, `bias`: `[c_out]`.
/// A matmul gives the four sub-pixel planes of each output channel; [`Shuffle2`] interleaves them.
pub fn up2x2(x: &Tensor, w: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let (b, ci, h, wd) = x.dims4()?;
    let co = w.dim(1)?;
    let wm = w.reshape((ci, co * 4))?.t()?;
    let y = wm.broadcast_matmul(&x.reshape((b, ci, h * wd))?)?;
    let y = y
        .reshape((b, co * 4, h, wd))?
        .apply_op1(Shuffle2 { inverse: false })?;
    y.broadcast_add(&bias.reshape((1, co, 1, 1))?)
}

/// `[b, c*4, h, w]` (sub-pixel planes ordered dy, dx) -> `[b, c, 2h, 2w]`, or back with
/// `inverse`. candle's 6-D permute + contiguous does the same several times slower.
pub struct Shuffle2 {
    pub inverse: bool,
}

impl CustomOp1 for Shuffle2 {
    fn name(&self) -> &'static str {
        "shuffle2"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = l.shape().dims4()?;
        let src = f32_slice(s, l, "shuffle2")?;
        let mut out = vec![0f32; src.len()];
        if !self.inverse {
            let co = c / 4;
            // One output channel plane (2h x 2w) per task.
            out.par_chunks_mut(4 * h * w)
                .enumerate()
                .for_each(|(bc, dst)| {
                    let planes = &src[bc * 4 * h * w..(bc + 1) * 4 * h * w];
                    for q in 0..4 {
                        let (dy, dx) = (q / 2, q % 2);
                        let p = &planes[q * h * w..(q + 1) * h * w];
                        for y in 0..h {
                            let row = &mut dst[(2 * y + dy) * 2 * w..(2 * y + dy + 1) * 2 * w];
                            for x in 0..w {
                                row[2 * x + dx] = p[y * w + x];
                            }
                        }
                    }
                });
            Ok((CpuStorage::F32(out), Shape::from((b, co, 2 * h, 2 * w))))
        } else {
            let (ho, wo) = (h / 2, w / 2);
            out.par_chunks_mut(h * w).enumerate().for_each(|(bc, dst)| {
                let plane = &src[bc * h * w..(bc + 1) * h * w];
                for q in 0..4 {
                    let (dy, dx) = (q / 2, q % 2);
                    let d = &mut dst[q * ho * wo..(q + 1) * ho * wo];
                    for y in 0..ho {
                        let row = &plane[(2 * y + dy) * w..(2 * y + dy + 1) * w];
                        for x in 0..wo {
                            d[y * wo + x] = row[2 * x + dx];
                        }
                    }
                }
            });
            Ok((CpuStorage::F32(out), Shape::from((b, c * 4, ho, wo))))
        }
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&Shuffle2 {
            inverse: !self.inverse,
        })?))
    }
}

/// BatchNorm (batch statistics, per channel over batch and space) fused with ReLU:
/// `relu(gamma * (x - mean) / sqrt(var + eps) + beta)`. candle_nn's BatchNorm + relu makes about
/// ten full passes over the activations forward and twenty backward; this makes two and three.
/// With `fixed` set (evaluation) it uses those (mean, var) instead and has no backward.
pub struct BnRelu {
    pub eps: f32,
    pub fixed: Option<Vec<(f32, f32)>>,
    /// The batch (mean, biased var) of the last training forward, for the running statistics.
    pub stats: std::sync::Arc<std::sync::Mutex<Vec<(f32, f32)>>>,
}

pub(crate) fn with_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (s, l) = t.storage_and_layout();
    match &*s {
        candle_core::Storage::Cpu(CpuStorage::F32(v)) => {
            let (a, b) = l
                .contiguous_offsets()
                .ok_or_else(|| candle_core::Error::Msg("not contiguous".into()))?;
            f(&v[a..b])
        }
        _ => bail!("bn_relu: only f32 CPU tensors are supported"),
    }
}

/// Independent f32 accumulators per sum: a single serial f32 chain over a 128 x 128 plane
/// neither vectorises nor stays accurate; 16 lanes do both, and they are combined in f64.
const LANES: usize = 16;

/// (mean, sum of squared deviations) of one plane, by the corrected two-pass algorithm (the plane
/// is in cache for the second pass): no E[x^2] - mean^2 cancellation.
fn plane_mean_m2(v: &[f32]) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if lanes::avx2() {
        // Safety: the CPU has AVX2.
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
pub(crate) fn bn_relu_apply(
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
    // Safety: the chunks cover 0..len and each element was written.
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
pub(crate) fn bn_relu_backward(
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
    // Safety: every element was written above (the chunks cover 0..len).
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
            // Safety: the CPU has AVX2.
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
    pub(super) fn avx2() -> bool {
        std::arch::is_x86_feature_detected!("avx2")
    }

    /// (sum g', sum g' y) over one plane, g' = g where y > 0.
    pub(super) fn plane_sums_y(y: &[f32], g: &[f32]) -> (f64, f64) {
        #[cfg(target_arch = "x86_64")]
        if avx2() {
            // Safety: the CPU has AVX2.
            return unsafe { sums_y_avx2(y, g) };
        }
        sums_y_body(y, g)
    }

    /// d = k (g' - mb - (x - mean) mg), g' = g where x scale + shift > 0 (the forward's y > 0).
    pub(super) fn plane_dx(p: &PlaneDx, x: &[f32], g: &[f32], d: &mut [MaybeUninit<f32>]) {
        #[cfg(target_arch = "x86_64")]
        if avx2() {
            // Safety: the CPU has AVX2.
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
pub(crate) fn channel_stats(x: &[f32], b: usize, c: usize, hw: usize) -> Vec<(f32, f32)> {
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

impl candle_core::CustomOp3 for BnRelu {
    fn name(&self) -> &'static str {
        "bn_relu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = l1.shape().dims4()?;
        let hw = h * w;
        let x = f32_slice(s1, l1, "bn_relu")?;
        let (gamma, beta) = (f32_slice(s2, l2, "bn_relu")?, f32_slice(s3, l3, "bn_relu")?);
        let stats = match &self.fixed {
            Some(st) => st.clone(),
            None => {
                let st = channel_stats(x, b, c, hw);
                if let Ok(mut m) = self.stats.lock() {
                    *m = st.clone();
                }
                st
            }
        };
        let out = bn_relu_apply(x, c, hw, gamma, beta, &stats, self.eps);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        super::timers::timed("bn_relu backward", || {
            self.backward(x, gamma, beta, res, grad)
        })
    }
}

impl BnRelu {
    fn backward(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        if self.fixed.is_some() {
            bail!("bn_relu: no backward in evaluation mode");
        }
        let (b, c, h, w) = x.dims4()?;
        let hw = h * w;
        let gam: Vec<f32> = gamma.to_vec1()?;
        let bet: Vec<f32> = beta.to_vec1()?;
        let stats = self
            .stats
            .lock()
            .map_err(|_| candle_core::Error::Msg("poisoned".into()))?
            .clone();
        let (dx, dg, db) = with_f32(x, |x| {
            with_f32(res, |y| {
                with_f32(grad, |g| {
                    Ok(bn_relu_backward(
                        x, y, g, b, c, hw, &gam, &bet, &stats, self.eps,
                    ))
                })
            })
        })?;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, (b, c, h, w), dev)?),
            Some(Tensor::from_vec(dg, c, dev)?),
            Some(Tensor::from_vec(db, c, dev)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_util::{max_diff, randn};
    use candle_core::{Device, Var};

    #[test]
    fn conv3x3_matches_candle_conv2d() {
        let x = randn(&[2, 3, 7, 5], 1);
        let w = randn(&[4, 3, 3, 3], 2);
        let ours = conv3x3(&x, &w.reshape((4, 27)).unwrap()).unwrap();
        let theirs = x.conv2d(&w, 1, 1, 1, 1).unwrap();
        assert_eq!(ours.dims(), theirs.dims());
        assert!(max_diff(&ours, &theirs) < 1e-5);
    }

    #[test]
    fn conv3x3_gradients_match_candle_conv2d() {
        let x = Var::from_tensor(&randn(&[2, 3, 6, 5], 3)).unwrap();
        let w = Var::from_tensor(&randn(&[4, 3, 3, 3], 4)).unwrap();
        let r = randn(&[2, 4, 6, 5], 5);
        let ours = (conv3x3(&x, &w.reshape((4, 27)).unwrap()).unwrap() * &r)
            .unwrap()
            .sum_all()
            .unwrap();
        let theirs = (x.conv2d(&w, 1, 1, 1, 1).unwrap() * &r)
            .unwrap()
            .sum_all()
            .unwrap();
        let (g1, g2) = (ours.backward().unwrap(), theirs.backward().unwrap());
        assert!(max_diff(g1.get(&x).unwrap(), g2.get(&x).unwrap()) < 1e-4);
        assert!(max_diff(g1.get(&w).unwrap(), g2.get(&w).unwrap()) < 1e-4);
    }

    #[test]
    fn up2x2_matches_candle_conv_transpose2d() {
        let x = randn(&[2, 3, 4, 5], 6);
        let w = randn(&[3, 2, 2, 2], 7);
        let b = randn(&[2], 8);
        let ours = up2x2(&x, &w, &b).unwrap();
        let theirs = x
            .conv_transpose2d(&w, 0, 0, 2, 1)
            .unwrap()
            .broadcast_add(&b.reshape((1, 2, 1, 1)).unwrap())
            .unwrap();
        assert_eq!(ours.dims(), &[2, 2, 8, 10]);
        assert!(max_diff(&ours, &theirs) < 1e-5);
    }

    #[test]
    fn bn_relu_matches_candle_batch_norm_and_relu() {
        use candle_nn::ModuleT;
        let x = Var::from_tensor(
            &(randn(&[3, 4, 5, 6], 21) * 2.0)
                .unwrap()
                .affine(1.0, 0.3)
                .unwrap(),
        )
        .unwrap();
        let vm = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&vm, candle_core::DType::F32, &Device::Cpu);
        let bn =
            candle_nn::batch_norm(4, candle_nn::BatchNormConfig::default(), vb.clone()).unwrap();
        let gamma = Var::from_tensor(&(randn(&[4], 22) + 1.0).unwrap()).unwrap();
        let beta = Var::from_tensor(&randn(&[4], 23)).unwrap();
        let r = randn(&[3, 4, 5, 6], 24);
        let op = BnRelu {
            eps: 1e-5,
            fixed: None,
            stats: Default::default(),
        };
        let ours = x.apply_op3(&gamma, &beta, op).unwrap();
        let norm = bn.forward_t(&x, true).unwrap();
        let theirs = norm
            .broadcast_mul(&gamma.reshape((1, 4, 1, 1)).unwrap())
            .unwrap()
            .broadcast_add(&beta.reshape((1, 4, 1, 1)).unwrap())
            .unwrap()
            .relu()
            .unwrap();
        assert!(max_diff(&ours, &theirs) < 1e-4);
        let g1 = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (theirs * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for v in [&x, &gamma, &beta] {
            let d = max_diff(g1.get(v).unwrap(), g2.get(v).unwrap());
            assert!(d < 1e-3, "gradient differs by {d}");
        }
    }

    #[test]
    fn batch_statistics_are_stable_for_large_offsets() {
        // Mean 1000, std ~0.006: E[x^2] - mean^2 in f32 loses every digit of the variance.
        let (b, c, hw) = (3, 2, 16 * 16 + 5);
        let x: Vec<f32> = randn(&[b * c * hw], 5)
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
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
        let x: Vec<f32> = randn(&[b * c * hw], 30)
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let x: Vec<f32> = x.iter().map(|v| 2.0 * v + 0.5).collect();
        let g: Vec<f32> = randn(&[b * c * hw], 31)
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
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
        let y: Vec<f32> = randn(&[n], 40).flatten_all().unwrap().to_vec1().unwrap();
        let g: Vec<f32> = randn(&[n], 41).flatten_all().unwrap().to_vec1().unwrap();
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
        // Safety: both were fully written.
        let bits = |d: &[std::mem::MaybeUninit<f32>]| -> Vec<u32> {
            d.iter()
                .map(|v| unsafe { v.assume_init() }.to_bits())
                .collect()
        };
        assert_eq!(bits(&d1), bits(&d2));
    }

    #[test]
    #[ignore]
    fn time_bn_relu_backward() {
        let (b, c, hw) = (8, 16, 128 * 128);
        let x: Vec<f32> = randn(&[b * c * hw], 1)
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let g: Vec<f32> = randn(&[b * c * hw], 2)
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let (gamma, beta) = (vec![1.1f32; c], vec![0.1f32; c]);
        let stats = channel_stats(&x, b, c, hw);
        let y = bn_relu_apply(&x, c, hw, &gamma, &beta, &stats, 1e-5);
        let t = |name: &str, f: &dyn Fn()| {
            f();
            let s = std::time::Instant::now();
            for _ in 0..5 {
                f();
            }
            eprintln!("{name}: {:.2} ms", s.elapsed().as_secs_f64() * 1e3 / 5.0);
        };
        t("bn_relu backward 8x16x128x128", &|| {
            std::hint::black_box(bn_relu_backward(
                &x, &y, &g, b, c, hw, &gamma, &beta, &stats, 1e-5,
            ));
        });
        t("copy 8x16x128x128", &|| {
            std::hint::black_box(x.clone());
        });
    }

    /// Central finite differences of sum(f(x) * r) against the autograd gradient.
    fn check_fd(f: impl Fn(&Tensor) -> Tensor, shape: &[usize], seed: u64) {
        let x0 = randn(shape, seed);
        let xv = Var::from_tensor(&x0).unwrap();
        let out = f(&xv);
        let r = randn(out.dims(), seed + 100);
        let g = (out * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let grad: Vec<f32> = g
            .get(&xv)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let base: Vec<f32> = x0.flatten_all().unwrap().to_vec1().unwrap();
        let eps = 1e-2f32;
        for i in 0..base.len() {
            let eval = |d: f32| {
                let mut v = base.clone();
                v[i] += d;
                let t = Tensor::from_vec(v, shape, &Device::Cpu).unwrap();
                (f(&t) * &r)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
            };
            let fd = (eval(eps) - eval(-eps)) / (2.0 * eps);
            assert!(
                (fd - grad[i]).abs() < 1e-2,
                "element {i}: finite difference {fd}, autograd {}",
                grad[i]
            );
        }
    }

    #[test]
    fn max_pool_gradient_matches_finite_differences() {
        // Distinct values (no ties) so the max is differentiable at the test point.
        check_fd(|x| max_pool2x2(x).unwrap(), &[2, 2, 4, 6], 11);
        let x = randn(&[1, 1, 4, 4], 1);
        let y = max_pool2x2(&x).unwrap();
        let cand = x.max_pool2d(2).unwrap();
        assert!(max_diff(&y, &cand) < 1e-7);
    }

    #[test]
    fn conv_and_up_gradients_match_finite_differences() {
        let w = randn(&[3, 18], 12);
        check_fd(|x| conv3x3(x, &w).unwrap(), &[1, 2, 4, 3], 13);
        let wu = randn(&[2, 3, 2, 2], 14);
        let bu = randn(&[3], 15);
        check_fd(|x| up2x2(x, &wu, &bu).unwrap(), &[1, 2, 3, 2], 16);
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use candle_core::{Device, Var};
    use std::time::Instant;

    fn t<R>(name: &str, f: impl Fn() -> R) {
        f();
        let s = Instant::now();
        for _ in 0..3 {
            f();
        }
        eprintln!("{name}: {:.1} ms", s.elapsed().as_secs_f64() * 1e3 / 3.0);
    }

    #[test]
    #[ignore]
    fn time_parts() {
        let x =
            Var::from_tensor(&Tensor::randn(0f32, 1.0, (8, 16, 128, 128), &Device::Cpu).unwrap())
                .unwrap();
        let w =
            Var::from_tensor(&Tensor::randn(0f32, 0.1, (16, 144), &Device::Cpu).unwrap()).unwrap();
        let w4 = w.reshape((16, 16, 3, 3)).unwrap();
        t("im2col", || x.apply_op1_no_bwd(&Im2Col { k: 3 }).unwrap());
        let cols = x.apply_op1_no_bwd(&Im2Col { k: 3 }).unwrap();
        t("col2im", || {
            cols.apply_op1_no_bwd(&Col2Im {
                k: 3,
                h: 128,
                w: 128,
            })
            .unwrap()
        });
        t("matmul fwd", || w.broadcast_matmul(&cols).unwrap());
        let cols2 = Tensor::randn(0f32, 1.0, (144, 8 * 16384), &Device::Cpu).unwrap();
        t("matmul 2d [16,144]x[144,131072]", || {
            w.matmul(&cols2).unwrap()
        });
        let g2 = Tensor::randn(0f32, 1.0, (16, 8 * 16384), &Device::Cpu).unwrap();
        t("matmul 2d grad_w [16,N]x[N,144]", || {
            g2.matmul(&cols2.t().unwrap()).unwrap()
        });
        t("matmul 2d grad_cols [144,16]x[16,N]", || {
            w.t().unwrap().matmul(&g2).unwrap()
        });
        let big = Tensor::randn(0f32, 1.0, (512, 512), &Device::Cpu).unwrap();
        t("matmul 512^3 (268 MFLOP)", || big.matmul(&big).unwrap());
        t("conv3x3 fwd", || conv3x3(&x, &w).unwrap());
        t("candle conv2d fwd", || x.conv2d(&w4, 1, 1, 1, 1).unwrap());
        t("conv3x3 bwd only (dx)", || {
            let g = Tensor::randn(0f32, 1.0, (8, 16, 128, 128), &Device::Cpu).unwrap();
            let xv: Vec<f32> = g.flatten_all().unwrap().to_vec1().unwrap();
            let wv: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
            let s = std::time::Instant::now();
            super::super::conv::conv_fwd(&xv, 8, 16, 128, 128, &wv, 16);
            let a = s.elapsed().as_secs_f64() * 1e3;
            let s = std::time::Instant::now();
            super::super::conv::conv_wgrad(&xv, &xv, 8, 16, 16, 128, 128);
            eprintln!(
                "  raw fwd {a:.1} ms, raw wgrad {:.1} ms",
                s.elapsed().as_secs_f64() * 1e3
            );
        });
        t("conv3x3 fwd+bwd", || {
            conv3x3(&x, &w)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap()
        });
        let bn = candle_nn::batch_norm(
            16,
            candle_nn::BatchNormConfig::default(),
            candle_nn::VarBuilder::from_varmap(
                &candle_nn::VarMap::new(),
                candle_core::DType::F32,
                &Device::Cpu,
            ),
        )
        .unwrap();
        use candle_nn::ModuleT;
        t("bn fwd", || bn.forward_t(&x, true).unwrap());
        t("bn+relu fwd+bwd", || {
            bn.forward_t(&x, true)
                .unwrap()
                .relu()
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap()
        });
        t("maxpool fwd+bwd", || {
            max_pool2x2(&x)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap()
        });
        let (g, b) = (
            Var::ones(16, candle_core::DType::F32, &Device::Cpu).unwrap(),
            Var::zeros(16, candle_core::DType::F32, &Device::Cpu).unwrap(),
        );
        t("bn_relu fused fwd+bwd", || {
            let op = BnRelu {
                eps: 1e-5,
                fixed: None,
                stats: Default::default(),
            };
            x.apply_op3(&g, &b, op)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap()
        });
        {
            use crate::labs::segmentation::unet::*;
            let vm = candle_nn::VarMap::new();
            let net = UNet::new(UNetConfig::default(), &vm, 0).unwrap();
            let xx = Tensor::randn(0f32, 1.0, (8, 1, 128, 128), &Device::Cpu).unwrap();
            let yy = Tensor::rand(0f32, 1.0, (8, 1, 128, 128), &Device::Cpu).unwrap();
            t("unet fwd train", || net.forward_t(&xx, true).unwrap());
            t("unet fwd+loss+bwd", || {
                loss(&net.forward_t(&xx, true).unwrap(), &yy, 0.0)
                    .unwrap()
                    .backward()
                    .unwrap()
            });
            let x64 =
                Var::from_tensor(&Tensor::randn(0f32, 1.0, (8, 64, 32, 32), &Device::Cpu).unwrap())
                    .unwrap();
            let wu =
                Var::from_tensor(&Tensor::randn(0f32, 1.0, (64, 32, 2, 2), &Device::Cpu).unwrap())
                    .unwrap();
            let bu =
                Var::from_tensor(&Tensor::randn(0f32, 1.0, (32,), &Device::Cpu).unwrap()).unwrap();
            let wm = wu.reshape((64, 128)).unwrap().t().unwrap();
            let xr = x64.reshape((8, 64, 1024)).unwrap();
            t("  up matmul fwd", || wm.broadcast_matmul(&xr).unwrap());
            t("  up matmul fwd+bwd", || {
                wm.broadcast_matmul(&xr)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap()
            });
            let wmc = wm.contiguous().unwrap();
            t("  up matmul contiguous-w fwd+bwd", || {
                wmc.broadcast_matmul(&xr)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap()
            });
            let y4 = wm
                .broadcast_matmul(&xr)
                .unwrap()
                .reshape((8, 128, 32, 32))
                .unwrap();
            t("  shuffle fwd+bwd", || {
                y4.apply_op1(Shuffle2 { inverse: false })
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap()
            });
            t("up2x2 64->32 at 32x32 fwd+bwd", || {
                up2x2(&x64, &wu, &bu)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap()
            });
            let a = Var::from_tensor(
                &Tensor::randn(0f32, 1.0, (8, 16, 128, 128), &Device::Cpu).unwrap(),
            )
            .unwrap();
            t("cat 16+16 at 128 fwd+bwd", || {
                Tensor::cat(&[a.as_tensor(), x.as_tensor()], 1)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap()
            });
            t("loss fwd+bwd", || {
                loss(&x.narrow(1, 0, 1).unwrap(), &yy, 0.0)
                    .unwrap()
                    .backward()
                    .unwrap()
            });
        }
        eprintln!("{}", crate::labs::segmentation::bench_steps().unwrap());
        t("relu fwd+bwd", || {
            x.relu().unwrap().sum_all().unwrap().backward().unwrap()
        });
    }
}
