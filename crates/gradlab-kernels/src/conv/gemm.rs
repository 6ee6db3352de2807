//! The 3x3 convolution by gemm: the image is cut into
//! bands of rows whose im2col matrix fits in cache, and each band is one gemm call. Nothing
//! image-sized is materialised, which is what makes both candle's conv2d backward and a plain
//! im2col + matmul slow (they stream hundreds of MB per layer).
//!
//! Backward: the input gradient is the same convolution of the output gradient with the kernel
//! flipped in space and transposed in channels; the weight gradient sums band-wise gemms.

use rayon::prelude::*;

use super::{bands, flip};
use crate::{ConvShape, SendPtr};

/// Target size of one band's im2col matrix, in floats (256 Ki floats = 1 MiB, the L2 of one
/// core): the band is written once and read back by the gemm while it is still in cache.
pub const BAND_FLOATS: usize = 256 * 1024;

/// The weight gradient is summed into this many partial sums, whatever the thread count, and they
/// are added in index order: the result is bit-identical from run to run and machine to machine
/// (rayon's fold/reduce would group bands by whichever thread stole them).
const WGRAD_PARTS: usize = 8;

/// Padded-input floats per row band of [`conv_wgrad_direct`].
const WGRAD_DIRECT_FLOATS: usize = 64 * 1024;

fn band_rows(k: usize, w: usize, h: usize, band_floats: usize) -> usize {
    (band_floats / (k * w).max(1)).clamp(1, h.max(1))
}

/// How many bands the input of `s` is cut into (tests assert they span several).
pub fn band_count(s: ConvShape, band_floats: usize) -> usize {
    bands(s.batch, s.h, band_rows(s.cin * 9, s.w, s.h, band_floats)).len()
}

/// im2col of rows r0..r0+rows of one image `[cin, h, w]` into `cols` `[cin*9, rows*w]`.
fn fill_cols(x: &[f32], cin: usize, h: usize, w: usize, r0: usize, rows: usize, cols: &mut [f32]) {
    let n = rows * w;
    for c in 0..cin {
        let plane = &x[c * h * w..(c + 1) * h * w];
        for ky in 0..3 {
            for kx in 0..3 {
                let row = &mut cols[(c * 9 + ky * 3 + kx) * n..(c * 9 + ky * 3 + kx + 1) * n];
                for r in 0..rows {
                    let dst = &mut row[r * w..(r + 1) * w];
                    let sy = (r0 + r + ky) as isize - 1;
                    if sy < 0 || sy >= h as isize {
                        dst.fill(0.0);
                        continue;
                    }
                    let src = &plane[sy as usize * w..(sy as usize + 1) * w];
                    match kx {
                        0 => {
                            dst[0] = 0.0;
                            dst[1..].copy_from_slice(&src[..w - 1]);
                        }
                        1 => dst.copy_from_slice(src),
                        _ => {
                            dst[..w - 1].copy_from_slice(&src[1..]);
                            dst[w - 1] = 0.0;
                        }
                    }
                }
            }
        }
    }
}

/// y `[batch, cout, h, w]` = conv3x3(x `[batch, cin, h, w]`, wt `[cout, cin*9]`).
pub fn forward(x: &[f32], wt: &[f32], s: ConvShape) -> Vec<f32> {
    forward_banded(x, wt, s, BAND_FLOATS)
}

/// Input gradient `[batch, cin, h, w]` of [`forward`] from the output gradient `g`
/// `[batch, cout, h, w]`: the same convolution with the kernel flipped in space and transposed
/// in channels.
pub fn backward_data(g: &[f32], wt: &[f32], s: ConvShape) -> Vec<f32> {
    forward(g, &flip(wt, s), s.transposed())
}

/// [`forward`] with bands of about `band_floats` im2col floats.
pub fn forward_banded(x: &[f32], wt: &[f32], s: ConvShape, band_floats: usize) -> Vec<f32> {
    let ConvShape {
        batch: b,
        cin,
        cout,
        h,
        w,
    } = s;
    let k = cin * 9;
    let hw = h * w;
    let mut y = vec![0f32; b * cout * hw];
    if w == 0 || h == 0 {
        return y;
    }
    let rows = band_rows(k, w, h, band_floats);
    let yp = SendPtr(y.as_mut_ptr());
    bands(b, h, rows).into_par_iter().for_each_init(
        || vec![0f32; k * rows * w],
        |cols, (bi, r0, n)| {
            // Captures the whole SendPtr (closures would otherwise capture its non-Send field).
            #[allow(clippy::redundant_locals)]
            let yp = yp;
            let xb = &x[bi * cin * hw..(bi + 1) * cin * hw];
            let nc = n * w;
            fill_cols(xb, cin, h, w, r0, n, &mut cols[..k * nc]);
            // SAFETY: each band writes only rows r0..r0+n of image bi, disjoint between tasks.
            unsafe {
                gemm::gemm(
                    cout,
                    nc,
                    k,
                    yp.0.add(bi * cout * hw + r0 * w),
                    1,
                    hw as isize,
                    false,
                    wt.as_ptr(),
                    1,
                    k as isize,
                    cols.as_ptr(),
                    1,
                    nc as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        },
    );
    y
}

/// dW `[cout, cin*9]` = sum over bands of g_band `[cout, n]` x cols_band^T `[n, cin*9]`, with
/// bands of about `band_floats` im2col floats (the custom op's path; the training step uses
/// [`weight_grad`], which needs no im2col). The bands are split into
/// [`WGRAD_PARTS`] fixed consecutive groups; each group sums its bands in order into its own
/// partial, and the partials are added in group order.
pub fn weight_grad_banded(x: &[f32], g: &[f32], s: ConvShape, band_floats: usize) -> Vec<f32> {
    let ConvShape {
        batch: b,
        cin,
        cout,
        h,
        w,
    } = s;
    let k = cin * 9;
    let hw = h * w;
    if hw == 0 || b == 0 {
        return vec![0f32; cout * k];
    }
    let rows = band_rows(k, w, h, band_floats);
    let all = bands(b, h, rows);
    let per = all.len().div_ceil(WGRAD_PARTS);
    let partials: Vec<Vec<f32>> = all
        .par_chunks(per)
        .map(|group| {
            let mut cols = vec![0f32; k * rows * w];
            let mut acc = vec![0f32; cout * k];
            for (i, &(bi, r0, n)) in group.iter().enumerate() {
                let xb = &x[bi * cin * hw..(bi + 1) * cin * hw];
                let nc = n * w;
                fill_cols(xb, cin, h, w, r0, n, &mut cols[..k * nc]);
                let gp = g[bi * cout * hw + r0 * w..].as_ptr();
                // SAFETY: acc is [cout, k]; g rows of this band are [cout, nc] with stride hw;
                // cols is [k, nc]. The first band overwrites acc (read_dst false).
                unsafe {
                    gemm::gemm(
                        cout,
                        k,
                        nc,
                        acc.as_mut_ptr(),
                        1,
                        k as isize,
                        i > 0,
                        gp,
                        1,
                        hw as isize,
                        cols.as_ptr(),
                        nc as isize,
                        1,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            }
            acc
        })
        .collect();
    let mut it = partials.into_iter();
    let mut sum = it.next().unwrap_or_else(|| vec![0f32; cout * k]);
    for p in it {
        sum.iter_mut().zip(&p).for_each(|(a, b)| *a += b);
    }
    sum
}

/// dW `[cout, cin*9]` without im2col: on a "wide" grid of row pitch w + 2 (the zero-padded
/// input's pitch), tap (ky, kx) of the input is the padded plane read at the constant offset
/// ky (w + 2) + kx, so each tap is one gemm g_wide `[cout, h (w+2)]` x x_tap^T whose operands
/// gemm packs from contiguous rows. The two extra columns of g_wide are zero, so what the taps
/// read there does not matter. One partial per image, added in image order.
pub fn weight_grad(x: &[f32], g: &[f32], s: ConvShape) -> Vec<f32> {
    let ConvShape {
        batch: b,
        cin,
        cout,
        h,
        w,
    } = s;
    let k = cin * 9;
    let (hw, wp) = (h * w, w + 2);
    let plane = (h + 2) * wp;
    if hw == 0 || b == 0 {
        return vec![0f32; cout * k];
    }
    // One image: let gemm split its output (never its sum) over the threads.
    let par = if b == 1 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    let partials: Vec<Vec<f32>> = (0..b)
        .into_par_iter()
        .map(|bi| {
            // Padded input with 2 spare floats: the last tap's wide columns run 2 past the plane.
            let mut xp = vec![0f32; cin * plane + 2];
            for c in 0..cin {
                let src = &x[(bi * cin + c) * hw..(bi * cin + c + 1) * hw];
                for y in 0..h {
                    let o = c * plane + (y + 1) * wp + 1;
                    xp[o..o + w].copy_from_slice(&src[y * w..(y + 1) * w]);
                }
            }
            let mut gw = vec![0f32; cout * h * wp];
            for o in 0..cout {
                let src = &g[(bi * cout + o) * hw..(bi * cout + o + 1) * hw];
                for y in 0..h {
                    let d = o * h * wp + y * wp;
                    gw[d..d + w].copy_from_slice(&src[y * w..(y + 1) * w]);
                }
            }
            let mut acc = vec![0f32; cout * k];
            // Bands of rows whose padded input stays in L2 across the 9 taps.
            let rows = (WGRAD_DIRECT_FLOATS / (cin * wp)).clamp(1, h);
            let mut r0 = 0;
            while r0 < h {
                let n = rows.min(h - r0);
                for t in 0..9 {
                    let off = (t / 3) * wp + t % 3 + r0 * wp;
                    // SAFETY: dst (o, c) at o * k + c * 9 + t; lhs: rows r0..r0+n of gw
                    // [cout, h wp]; rhs (p, c) at c * plane + off + p, p < n wp, in bounds by
                    // the 2 spare floats.
                    unsafe {
                        gemm::gemm(
                            cout,
                            cin,
                            n * wp,
                            acc.as_mut_ptr().add(t),
                            9,
                            k as isize,
                            r0 > 0,
                            gw.as_ptr().add(r0 * wp),
                            1,
                            (h * wp) as isize,
                            xp.as_ptr().add(off),
                            plane as isize,
                            1,
                            1.0,
                            1.0,
                            false,
                            false,
                            false,
                            par,
                        );
                    }
                }
                r0 += n;
            }
            acc
        })
        .collect();
    let mut it = partials.into_iter();
    let mut sum = it.next().unwrap_or_else(|| vec![0f32; cout * k]);
    for p in it {
        sum.iter_mut().zip(&p).for_each(|(a, b)| *a += b);
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{AWKWARD_SHAPES, assert_close, conv3x3, normal};

    /// Forward, input gradient and weight gradient of one shape against the f64 reference,
    /// with the default bands and with two rows per band.
    fn check_shape(s: ConvShape, seed: u64) {
        let x = normal(s.input_len(), seed);
        let wt = normal(s.weight_len(), seed + 1);
        let r = normal(s.output_len(), seed + 2);
        let (ry, rdx, rdw) = conv3x3(&x, &wt, &r, s);
        for band_floats in [BAND_FLOATS, s.cin * 9 * s.w * 2] {
            let what = |t: &str| format!("{t} {s} band {band_floats}");
            assert_close(
                &forward_banded(&x, &wt, s, band_floats),
                &ry,
                1e-5,
                &what("y"),
            );
            let dx = forward_banded(&r, &flip(&wt, s), s.transposed(), band_floats);
            assert_close(&dx, &rdx, 1e-5, &what("dx"));
            let dw = weight_grad_banded(&x, &r, s, band_floats);
            assert_close(&dw, &rdw, 1e-5, &what("dw"));
        }
        assert_close(&backward_data(&r, &wt, s), &rdx, 1e-5, &format!("dx {s}"));
    }

    #[test]
    fn banded_conv_matches_f64_reference_on_awkward_shapes() {
        // And two shapes of more channels.
        let more = [
            ConvShape::new(3, 40, 5, 9, 33),
            ConvShape::new(1, 2, 2, 6, 5),
        ];
        for (i, &s) in AWKWARD_SHAPES.iter().chain(&more).enumerate() {
            check_shape(s, 10 * i as u64);
        }
    }

    #[test]
    fn small_bands_really_span_several_bands() {
        // 2 images of 9 rows, two rows per band: 5 bands each.
        let s = ConvShape::new(2, 3, 4, 9, 5);
        assert_eq!(band_count(s, s.cin * 9 * s.w * 2), 10);
        check_shape(s, 7);
    }

    #[test]
    fn default_bands_split_a_deep_layer_of_the_default_net() {
        // The bottleneck of the default U-Net at 512 px is 128 channels x 64 px wide: each band
        // holds 3 rows, so an 8-row slice of it is cut into 3 bands at the default band size.
        let s = ConvShape::new(1, 128, 3, 8, 64);
        let n = band_count(s, BAND_FLOATS);
        assert!(n >= 3, "only {n} bands");
        let x = normal(s.input_len(), 40);
        let wt = normal(s.weight_len(), 41);
        let r = normal(s.output_len(), 42);
        let (ry, _, rdw) = conv3x3(&x, &wt, &r, s);
        assert_close(&forward(&x, &wt, s), &ry, 1e-5, "forward, default bands");
        let dw = weight_grad_banded(&x, &r, s, BAND_FLOATS);
        assert_close(&dw, &rdw, 1e-5, "dw, default bands");
    }

    #[test]
    fn weight_gradient_is_bit_identical_across_runs_and_thread_counts() {
        // 4 images x 16 bands: more bands than partial sums, so groups hold several bands.
        let s = ConvShape::new(4, 6, 5, 32, 7);
        let bf = s.cin * 9 * s.w * 2;
        assert!(band_count(s, bf) > WGRAD_PARTS);
        let x = normal(s.input_len(), 50);
        let g = normal(s.output_len(), 51);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| weight_grad_banded(&x, &g, s, bf))
        };
        let first = run(2);
        for threads in [2, 1, 3, 2] {
            let again = run(threads);
            assert!(
                first
                    .iter()
                    .zip(&again)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{threads} threads gave different bits"
            );
        }
    }

    #[test]
    fn per_tap_weight_gradient_matches_f64_reference() {
        for s in [
            ConvShape::new(2, 1, 3, 5, 1),
            ConvShape::new(1, 17, 6, 4, 33),
            ConvShape::new(2, 5, 19, 1, 16),
            ConvShape::new(3, 4, 2, 9, 5),
        ] {
            let x = normal(s.input_len(), 70);
            let g = normal(s.output_len(), 71);
            let wt = normal(s.weight_len(), 72);
            let (_, _, rdw) = conv3x3(&x, &wt, &g, s);
            assert_close(&weight_grad(&x, &g, s), &rdw, 1e-5, &format!("dw {s}"));
        }
    }
}
