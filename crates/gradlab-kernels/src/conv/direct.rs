//! The 3x3 convolution (stride 1, zero padding 1, no bias) forward as a direct kernel, also used
//! for the input gradient (the same convolution with the kernel flipped in space and transposed
//! in channels). A training step uses it where Winograd (`winograd/`) does not pay: fewer than 8
//! input channels (`conv/mod.rs`).
//!
//! The banded im2col + gemm of `gemm.rs` writes 9 cin floats per pixel and gemm packs them again;
//! at full resolution (16 channels) that copying costs as much as the arithmetic. Here each block
//! of rows is copied once into a zero-padded scratch of row pitch w + 2 (see `wgrad.rs`), where
//! tap (ky, kx) is the input read at the constant offset ky (w + 2) + kx. A micro-kernel keeps
//! 8 output channels x 24 pixels in 24 vector registers over all input channels and taps
//! (AVX-512VL's 32 registers; with AVX2's 16 it holds 4 channels but spills, see
//! [`forward`]). Each
//! output is one sum in a fixed order (no split reductions): the result does not depend on the
//! thread count.

use rayon::prelude::*;

use super::{bands, padded_rows};
use crate::{ConvShape, Kernel, SendPtr};

/// Most output channels per micro-kernel call (`Kernel::ob`).
const MAX_OB: usize = 8;

/// Pixels per micro-kernel call (3 vectors of 8).
const PT: usize = 24;

/// Floats of input a chunk of pixels may read (3 rows of every channel), to stay in L1.
const L1_FLOATS: usize = 4 * 1024;

/// Floats of one block's padded input, to stay in L2 while every output channel reads it.
const BLOCK_FLOATS: usize = 48 * 1024;

/// Rows per block for `cin` input channels of row pitch `wp`.
fn block_rows(cin: usize, h: usize, wp: usize) -> usize {
    (BLOCK_FLOATS / (cin * wp))
        .saturating_sub(2)
        .clamp(1, h.max(1))
}

/// The blocks (image, first row, rows) of the input of `s`.
pub(crate) fn blocks(s: ConvShape) -> Vec<(usize, usize, usize)> {
    bands(s.batch, s.h, block_rows(s.cin, s.h, s.w + 2))
}

/// y `[batch, cout, h, w]` = conv3x3(x `[batch, cin, h, w]`, wt `[cout, cin*9]`). The direct kernel
/// needs AVX-512VL's 32 registers to beat the banded gemm (measured on Zen 4: 5.4 vs 6.9 ms for
/// 8 x 16 -> 16 x 128 x 128; the 16-register AVX2 build spills and is 0.9-1.5x the gemm's
/// time), so other CPUs keep the gemm.
pub fn forward(x: &[f32], wt: &[f32], s: ConvShape) -> Vec<f32> {
    match Kernel::detect() {
        Kernel::Avx512Vl => forward_with(x, wt, s, Kernel::Avx512Vl),
        _ => super::gemm::forward(x, wt, s),
    }
}

/// [`forward`] with a chosen kernel (tests and benches compare them; `kernel` must be one of
/// [`Kernel::available`]).
pub fn forward_with(x: &[f32], wt: &[f32], s: ConvShape, kernel: Kernel) -> Vec<f32> {
    assert!(kernel.supported(), "{kernel:?} on a CPU without it");
    let ConvShape {
        batch: b,
        cin,
        cout,
        h,
        w,
    } = s;
    let hw = h * w;
    let len = b * cout * hw;
    if len == 0 {
        return vec![0f32; len];
    }
    if cin == 0 {
        return vec![0f32; len];
    }
    let obn = kernel.ob();
    let cout4 = cout.div_ceil(obn) * obn;
    // Weights as [cout4 / ob][cin][9][ob]: the broadcasts of one tap are adjacent.
    let mut wpk = vec![0f32; cout4 * cin * 9];
    for o in 0..cout {
        for ct in 0..cin * 9 {
            wpk[((o / obn) * cin * 9 + ct) * obn + o % obn] = wt[o * cin * 9 + ct];
        }
    }
    let mut y: Vec<f32> = Vec::with_capacity(len);
    let yp = SendPtr(y.as_mut_ptr());
    let wp = w + 2;
    blocks(s).into_par_iter().for_each_init(
        || (Vec::new(), Vec::new()),
        |(xs, ys): &mut (Vec<f32>, Vec<f32>), (bi, r0, n)| {
            #[allow(clippy::redundant_locals)]
            let yp = yp;
            let gl = (n * wp).div_ceil(PT) * PT;
            let xl = (n + 2) * wp + PT + 2;
            xs.resize(cin * xl, 0.0);
            ys.resize(cout4 * gl, 0.0);
            for c in 0..cin {
                let src = &x[(bi * cin + c) * hw..(bi * cin + c + 1) * hw];
                let dst = &mut xs[c * xl..(c + 1) * xl];
                padded_rows(src, (h, w), r0, n, dst);
            }
            // Pixel chunks whose input (3 rows of every channel) stays in L1 while every group
            // of output channels reads it.
            let chunk = (L1_FLOATS / (3 * PT * cin)).max(1) * PT;
            for c0 in (0..gl).step_by(chunk) {
                for ob in (0..cout4).step_by(obn) {
                    let wb = &wpk[ob * cin * 9..(ob + obn) * cin * 9];
                    for p in (c0..gl.min(c0 + chunk)).step_by(PT) {
                        let out = micro(kernel, wb, xs, cin, xl, wp, p);
                        for (i, row) in out[..obn].iter().enumerate() {
                            let d = (ob + i) * gl + p;
                            ys[d..d + PT].copy_from_slice(row);
                        }
                    }
                }
            }
            for ob in (0..cout4).step_by(obn) {
                for i in 0..obn.min(cout - ob) {
                    let o = ob + i;
                    for j in 0..n {
                        let src = &ys[o * gl + j * wp..o * gl + j * wp + w];
                        // SAFETY: rows r0..r0+n of plane (bi, o) belong to this block alone,
                        // and lie inside y's capacity b cout hw.
                        unsafe {
                            let d = yp.0.add((bi * cout + o) * hw + (r0 + j) * w);
                            std::ptr::copy_nonoverlapping(src.as_ptr(), d, w);
                        }
                    }
                }
            }
        },
    );
    // SAFETY: the blocks cover every row of every plane, each written above.
    unsafe { y.set_len(len) };
    y
}

/// The `kernel.ob()` output rows [i][0..24] at wide position p: sum over c and taps t of
/// wb[(c 9 + t) ob + i] xs[c xl + p + ky wp + kx].
fn micro(
    kernel: Kernel,
    wb: &[f32],
    xs: &[f32],
    cin: usize,
    xl: usize,
    wp: usize,
    p: usize,
) -> [[f32; PT]; MAX_OB] {
    assert!(wb.len() == cin * 9 * kernel.ob() && xs.len() >= cin * xl);
    assert!(cin == 0 || (cin - 1) * xl + p + 2 * wp + 2 + PT <= xs.len());
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: forward_with asserted that the CPU runs the kernel (AVX2 and FMA); the
        // bounds are checked above.
        Kernel::Avx2 => unsafe { micro_avx2(wb, xs, cin, xl, wp, p) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with AVX-512F and VL.
        Kernel::Avx512Vl => unsafe { micro_avx512vl(wb, xs, cin, xl, wp, p) },
        _ => micro_scalar(wb, xs, cin, xl, wp, p),
    }
}

fn micro_scalar(
    wb: &[f32],
    xs: &[f32],
    cin: usize,
    xl: usize,
    wp: usize,
    p: usize,
) -> [[f32; PT]; MAX_OB] {
    let obn = wb.len() / (cin * 9).max(1);
    let mut acc = [[0f32; PT]; MAX_OB];
    for c in 0..cin {
        for t in 0..9 {
            let off = c * xl + p + (t / 3) * wp + t % 3;
            let xv = &xs[off..off + PT];
            let wv = &wb[(c * 9 + t) * obn..(c * 9 + t + 1) * obn];
            for (a, &wo) in acc.iter_mut().zip(wv) {
                for (d, &v) in a.iter_mut().zip(xv) {
                    *d += wo * v;
                }
            }
        }
    }
    acc
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn micro_avx2(
    wb: &[f32],
    xs: &[f32],
    cin: usize,
    xl: usize,
    wp: usize,
    p: usize,
) -> [[f32; PT]; MAX_OB] {
    micro_simd::<4>(wb, xs, cin, xl, wp, p)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
fn micro_avx512vl(
    wb: &[f32],
    xs: &[f32],
    cin: usize,
    xl: usize,
    wp: usize,
    p: usize,
) -> [[f32; PT]; MAX_OB] {
    micro_simd::<8>(wb, xs, cin, xl, wp, p)
}

/// N output channels x 24 pixels in 3 N accumulators.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn micro_simd<const N: usize>(
    wb: &[f32],
    xs: &[f32],
    cin: usize,
    xl: usize,
    wp: usize,
    p: usize,
) -> [[f32; PT]; MAX_OB] {
    use std::arch::x86_64::*;
    let mut out = [[0f32; PT]; MAX_OB];
    // SAFETY: reads xs[c xl + p + off .. + 24] with off <= 2 wp + 2 and wb[(c 9 + t) N .. + N],
    // in bounds by the caller's checks; stores 24 floats into each of the first N output rows.
    unsafe {
        let z = _mm256_setzero_ps();
        let mut a = [[z; 3]; N];
        let offs = [0, 1, 2, wp, wp + 1, wp + 2, 2 * wp, 2 * wp + 1, 2 * wp + 2];
        for c in 0..cin {
            let xc = xs.as_ptr().add(c * xl + p);
            let wc = wb.as_ptr().add(c * 9 * N);
            for (t, &off) in offs.iter().enumerate() {
                let xp = xc.add(off);
                let x0 = _mm256_loadu_ps(xp);
                let x1 = _mm256_loadu_ps(xp.add(8));
                let x2 = _mm256_loadu_ps(xp.add(16));
                let wt = wc.add(t * N);
                for (i, ai) in a.iter_mut().enumerate() {
                    let v = _mm256_broadcast_ss(&*wt.add(i));
                    ai[0] = _mm256_fmadd_ps(v, x0, ai[0]);
                    ai[1] = _mm256_fmadd_ps(v, x1, ai[1]);
                    ai[2] = _mm256_fmadd_ps(v, x2, ai[2]);
                }
            }
        }
        for (row, ai) in out.iter_mut().zip(&a) {
            for (q, v) in ai.iter().enumerate() {
                _mm256_storeu_ps(row.as_mut_ptr().add(8 * q), *v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::flip;
    use crate::reference::{AWKWARD_SHAPES, assert_close, conv3x3, normal};

    #[test]
    fn forward_and_input_gradient_match_f64_reference_on_awkward_shapes() {
        // And several blocks (cin 40 at w 300: 2 rows per block).
        let shapes: Vec<_> = AWKWARD_SHAPES
            .into_iter()
            .chain([ConvShape::new(1, 40, 5, 9, 300)])
            .collect();
        assert!(blocks(ConvShape::new(1, 40, 5, 9, 300)).len() >= 3);
        for (i, &s) in shapes.iter().enumerate() {
            let x = normal(s.input_len(), 300 + i as u64);
            let wt = normal(s.weight_len(), 400 + i as u64);
            let r = normal(s.output_len(), 500 + i as u64);
            let (ry, rdx, _) = conv3x3(&x, &wt, &r, s);
            for kernel in Kernel::available() {
                let y = forward_with(&x, &wt, s, kernel);
                assert_close(&y, &ry, 1e-5, &format!("forward {kernel:?} {s}"));
                let dx = forward_with(&r, &flip(&wt, s), s.transposed(), kernel);
                assert_close(&dx, &rdx, 1e-5, &format!("dx {kernel:?} {s}"));
            }
            // And what a training step calls (Winograd or direct, by shape).
            let dx = crate::conv::backward_data(&r, &wt, s);
            assert_close(&dx, &rdx, 1e-5, &format!("conv::backward_data {s}"));
        }
    }

    #[test]
    fn matches_the_gemm_path_and_is_deterministic() {
        let s = ConvShape::new(2, 16, 12, 20, 37);
        let x = normal(s.input_len(), 1);
        let wt = normal(s.weight_len(), 2);
        let theirs = super::super::gemm::forward(&x, &wt, s);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| forward(&x, &wt, s))
        };
        let ours = run(2);
        let scale = theirs.iter().fold(1f32, |m, v| m.max(v.abs()));
        for (a, t) in ours.iter().zip(&theirs) {
            assert!((a - t).abs() <= 1e-5 * scale, "{a} vs {t}");
        }
        for threads in [1, 3] {
            let again = run(threads);
            assert!(
                ours.iter()
                    .zip(&again)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{threads} threads gave different bits"
            );
        }
        let scalar = forward_with(&x, &wt, s, Kernel::Scalar);
        for (a, t) in ours.iter().zip(&scalar) {
            assert!((a - t).abs() <= 1e-5 * scale, "simd {a} vs scalar {t}");
        }
    }
}
