//! The 3x3 convolution (stride 1, zero padding 1, no bias) forward as a direct kernel, also used
//! for the input gradient (the same convolution with the kernel flipped in space and transposed
//! in channels). A training step uses it where Winograd (`winograd/`) does not pay: fewer than 8
//! input channels (`kernels.rs`).
//!
//! The banded im2col + gemm of `conv.rs` writes 9 cin floats per pixel and gemm packs them again;
//! at full resolution (16 channels) that copying costs as much as the arithmetic. Here each block
//! of rows is copied once into a zero-padded scratch of row pitch w + 2 (see `wgrad.rs`), where
//! tap (ky, kx) is the input read at the constant offset ky (w + 2) + kx. A micro-kernel keeps
//! 8 output channels x 24 pixels in 24 vector registers over all input channels and taps
//! (AVX-512VL's 32 registers; with AVX2's 16 it holds 4 channels but spills, see
//! [`conv_fwd_direct`]). Each
//! output is one sum in a fixed order (no split reductions): the result does not depend on the
//! thread count.

use rayon::prelude::*;

use super::conv::SendPtr;
use super::wgrad::Kernel;

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

/// The blocks (image, first row, rows) of a `[b, cin, h, w]` input.
pub fn blocks(b: usize, cin: usize, h: usize, w: usize) -> Vec<(usize, usize, usize)> {
    super::conv::bands(b, h, block_rows(cin, h, w + 2))
}

/// y `[b, cout, h, w]` = conv3x3(x `[b, cin, h, w]`, wt `[cout, cin*9]`). The direct kernel
/// needs AVX-512VL's 32 registers to beat the banded gemm (measured on Zen 4: 5.4 vs 6.9 ms for
/// 8 x 16 -> 16 x 128 x 128; the 16-register AVX2 build spills and is 0.9-1.5x the gemm's
/// time), so other CPUs keep the gemm.
pub fn conv_fwd_direct(
    x: &[f32],
    b: usize,
    cin: usize,
    h: usize,
    w: usize,
    wt: &[f32],
    cout: usize,
) -> Vec<f32> {
    match Kernel::detect() {
        Kernel::Avx512Vl => conv_fwd_with(x, (b, cin, cout, h, w), wt, Kernel::Avx512Vl),
        _ => super::conv::conv_fwd(x, b, cin, h, w, wt, cout),
    }
}

/// [`conv_fwd_direct`] with a chosen kernel (tests compare them).
pub fn conv_fwd_with(
    x: &[f32],
    (b, cin, cout, h, w): (usize, usize, usize, usize, usize),
    wt: &[f32],
    kernel: Kernel,
) -> Vec<f32> {
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
    blocks(b, cin, h, w).into_par_iter().for_each_init(
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
                super::conv::padded_rows(src, (h, w), r0, n, dst);
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
                        // Safety: rows r0..r0+n of plane (bi, o) belong to this block alone,
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
    // Safety: the blocks cover every row of every plane, each written above.
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
        // Safety (both): detect() returns these only on a CPU with the features (tests pick
        // them only from available()); the bounds are checked above.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => unsafe { micro_avx2(wb, xs, cin, xl, wp, p) },
        #[cfg(target_arch = "x86_64")]
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
    // Safety: reads xs[c xl + p + off .. + 24] with off <= 2 wp + 2 and wb[(c 9 + t) N .. + N],
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
    use crate::labs::segmentation::conv_check::{
        AWKWARD_SHAPES, assert_close, best_of_alternated, reference, vec_of,
    };

    #[test]
    fn forward_and_input_gradient_match_f64_reference_on_awkward_shapes() {
        // And several blocks (cin 40 at w 300: 2 rows per block).
        let shapes: Vec<_> = AWKWARD_SHAPES
            .into_iter()
            .chain([(1, 40, 5, 9, 300)])
            .collect();
        assert!(blocks(1, 40, 9, 300).len() >= 3);
        for (i, &s) in shapes.iter().enumerate() {
            let (b, cin, cout, h, w) = s;
            let x = vec_of(&[b, cin, h, w], 300 + i as u64);
            let wt = vec_of(&[cout, cin * 9], 400 + i as u64);
            let r = vec_of(&[b, cout, h, w], 500 + i as u64);
            let (ry, rdx, _) = reference(&x, &wt, &r, s);
            for kernel in Kernel::available() {
                let y = conv_fwd_with(&x, s, &wt, kernel);
                assert_close(&y, &ry, 1e-5, &format!("forward {kernel:?} {s:?}"));
                let flipped = super::super::conv::flip(&wt, cout, cin);
                let dx = conv_fwd_with(&r, (b, cout, cin, h, w), &flipped, kernel);
                assert_close(&dx, &rdx, 1e-5, &format!("dx {kernel:?} {s:?}"));
            }
            // And what a training step calls (Winograd or direct, by shape).
            let dx = super::super::kernels::conv_dx(&r, b, cout, h, w, &wt, cin);
            assert_close(&dx, &rdx, 1e-5, &format!("kernels::conv_dx {s:?}"));
        }
    }

    #[test]
    fn matches_the_gemm_path_and_is_deterministic() {
        let s = (2, 16, 12, 20, 37);
        let (b, cin, cout, h, w) = s;
        let x = vec_of(&[b, cin, h, w], 1);
        let wt = vec_of(&[cout, cin * 9], 2);
        let theirs = super::super::conv::conv_fwd(&x, b, cin, h, w, &wt, cout);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| conv_fwd_direct(&x, b, cin, h, w, &wt, cout))
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
        let scalar = conv_fwd_with(&x, s, &wt, Kernel::Scalar);
        for (a, t) in ours.iter().zip(&scalar) {
            assert!((a - t).abs() <= 1e-5 * scale, "simd {a} vs scalar {t}");
        }
    }

    #[test]
    #[ignore]
    fn time_against_gemm() {
        for (b, cin, cout, h, w) in [
            (8, 16, 16, 128, 128),
            (8, 32, 16, 128, 128),
            (8, 16, 32, 64, 64),
            (8, 32, 32, 64, 64),
            (8, 64, 64, 32, 32),
            (8, 128, 64, 32, 32),
            (8, 128, 128, 16, 16),
        ] {
            let x = vec_of(&[b, cin, h, w], 1);
            let wt = vec_of(&[cout, cin * 9], 2);
            let best = best_of_alternated(
                &|| super::super::conv::conv_fwd(&x, b, cin, h, w, &wt, cout),
                &|k| conv_fwd_with(&x, (b, cin, cout, h, w), &wt, k),
            );
            let gf = 2.0 * (b * cin * cout * 9 * h * w) as f64 / 1e6;
            eprintln!(
                "{b}x{cin}->{cout} {h}x{w}: gemm {:.2} ms, AVX2 {:.2} ms, AVX-512VL {:.2} ms ({:.0} GFLOP/s)",
                best[0],
                best[1],
                best[2],
                gf / best[2]
            );
        }
    }
}
