//! A fused 3x3 convolution (stride 1, zero padding 1, no bias) for the CPU: the image is cut into
//! bands of rows whose im2col matrix fits in cache, and each band is one gemm call. Nothing
//! image-sized is materialised, which is what makes both candle's conv2d backward and a plain
//! im2col + matmul slow (they stream hundreds of MB per layer).
//!
//! Backward: the input gradient is the same convolution of the output gradient with the kernel
//! flipped in space and transposed in channels; the weight gradient sums band-wise gemms.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::ops::with_f32;

/// Target size of one band's im2col matrix, in floats (256 Ki floats = 1 MiB, the L2 of one
/// core): the band is written once and read back by the gemm while it is still in cache.
pub const BAND_FLOATS: usize = 256 * 1024;

/// The weight gradient is summed into this many partial sums, whatever the thread count, and they
/// are added in index order: the result is bit-identical from run to run and machine to machine
/// (rayon's fold/reduce would group bands by whichever thread stole them).
const WGRAD_PARTS: usize = 8;

/// Padded-input floats per row band of [`conv_wgrad_direct`].
const WGRAD_DIRECT_FLOATS: usize = 64 * 1024;

/// An output buffer's base pointer shared by the tasks that each write their own disjoint part
/// of it (the writers state why their ranges are disjoint).
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub(crate) *mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

fn band_rows(k: usize, w: usize, h: usize, band_floats: usize) -> usize {
    (band_floats / (k * w).max(1)).clamp(1, h.max(1))
}

/// How many bands a `[b, cin, h, w]` input is cut into (tests assert they span several).
pub fn band_count(b: usize, cin: usize, h: usize, w: usize, band_floats: usize) -> usize {
    bands(b, h, band_rows(cin * 9, w, h, band_floats)).len()
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

/// The bands of all images: (image, first row, rows), `rows` rows each (fewer at the bottom).
pub(crate) fn bands(b: usize, h: usize, rows: usize) -> Vec<(usize, usize, usize)> {
    let mut v = Vec::new();
    for bi in 0..b {
        let mut r0 = 0;
        while r0 < h {
            let n = rows.min(h - r0);
            v.push((bi, r0, n));
            r0 += n;
        }
    }
    v
}

/// Rows `r0 - 1 .. r0 + n + 1` of one `h x w` plane into `dst` at row pitch w + 2, zero-padded
/// (a zero column each side, zero rows outside the plane), and zeros after them to the end of
/// `dst`: the scratch of the direct kernels, where tap (ky, kx) is a constant offset.
pub(crate) fn padded_rows(
    src: &[f32],
    (h, w): (usize, usize),
    r0: usize,
    n: usize,
    dst: &mut [f32],
) {
    let wp = w + 2;
    for j in 0..n + 2 {
        let row = &mut dst[j * wp..(j + 1) * wp];
        match (r0 + j).checked_sub(1).filter(|&sy| sy < h) {
            None => row.fill(0.0),
            Some(sy) => {
                row[0] = 0.0;
                row[1..=w].copy_from_slice(&src[sy * w..(sy + 1) * w]);
                row[w + 1] = 0.0;
            }
        }
    }
    dst[(n + 2) * wp..].fill(0.0);
}

/// y `[b, cout, h, w]` = conv3x3(x `[b, cin, h, w]`, wt `[cout, cin*9]`).
pub fn conv_fwd(
    x: &[f32],
    b: usize,
    cin: usize,
    h: usize,
    w: usize,
    wt: &[f32],
    cout: usize,
) -> Vec<f32> {
    conv_fwd_banded(x, b, cin, h, w, wt, cout, BAND_FLOATS)
}

/// Input gradient `[b, cin, h, w]` of [`conv_fwd`] from the output gradient `g` `[b, cout, h, w]`:
/// the same convolution with the kernel flipped in space and transposed in channels.
#[allow(clippy::too_many_arguments)]
pub fn conv_dx(
    g: &[f32],
    b: usize,
    cout: usize,
    h: usize,
    w: usize,
    wt: &[f32],
    cin: usize,
) -> Vec<f32> {
    conv_fwd(g, b, cout, h, w, &flip(wt, cout, cin), cin)
}

/// [`conv_fwd`] with bands of about `band_floats` im2col floats.
#[allow(clippy::too_many_arguments)]
pub fn conv_fwd_banded(
    x: &[f32],
    b: usize,
    cin: usize,
    h: usize,
    w: usize,
    wt: &[f32],
    cout: usize,
    band_floats: usize,
) -> Vec<f32> {
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
            // Safety: each band writes only rows r0..r0+n of image bi, disjoint between tasks.
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
/// [`conv_wgrad`], which needs no im2col). The bands are split into
/// [`WGRAD_PARTS`] fixed consecutive groups; each group sums its bands in order into its own
/// partial, and the partials are added in group order.
#[allow(clippy::too_many_arguments)]
pub fn conv_wgrad_banded(
    x: &[f32],
    g: &[f32],
    b: usize,
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
    band_floats: usize,
) -> Vec<f32> {
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
                // Safety: acc is [cout, k]; g rows of this band are [cout, nc] with stride hw;
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
pub fn conv_wgrad(
    x: &[f32],
    g: &[f32],
    b: usize,
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
) -> Vec<f32> {
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
                    // Safety: dst (o, c) at o * k + c * 9 + t; lhs: rows r0..r0+n of gw
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

/// `[cout, cin*9]` -> `[cin, cout*9]` flipped in space: the kernel of the input gradient.
pub(crate) fn flip(wt: &[f32], cout: usize, cin: usize) -> Vec<f32> {
    let mut out = vec![0f32; wt.len()];
    for o in 0..cout {
        for c in 0..cin {
            for t in 0..9 {
                out[(c * cout + o) * 9 + (8 - t)] = wt[(o * cin + c) * 9 + t];
            }
        }
    }
    out
}

fn slice<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("conv3x3: only f32 is supported")
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        bail!("conv3x3: inputs must be contiguous")
    };
    Ok(&v[a..b])
}

fn to_vec(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// `x` `[b, cin, h, w]`, `w` `[cout, cin*9]` -> `[b, cout, h, w]`.
pub struct Conv3x3 {
    /// Im2col floats per band ([`BAND_FLOATS`] by default; tests force small bands).
    pub band_floats: usize,
}

impl Default for Conv3x3 {
    fn default() -> Self {
        Self {
            band_floats: BAND_FLOATS,
        }
    }
}

impl CustomOp2 for Conv3x3 {
    fn name(&self) -> &'static str {
        "conv3x3"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, cin, h, w) = l1.shape().dims4()?;
        let (cout, k) = l2.shape().dims2()?;
        if k != cin * 9 {
            bail!(
                "conv3x3: weight {:?} does not match {cin} input channels",
                l2.shape()
            );
        }
        let (xs, ws) = (slice(s1, l1)?, slice(s2, l2)?);
        let y = super::timers::timed("conv3x3 forward", || {
            conv_fwd_banded(xs, b, cin, h, w, ws, cout, self.band_floats)
        });
        Ok((CpuStorage::F32(y), Shape::from((b, cout, h, w))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        wt: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (b, cin, h, w) = x.dims4()?;
        let (cout, _) = wt.dims2()?;
        let wv = to_vec(wt)?;
        // Borrow the activations in place: copying them would cost as much as the gemms.
        let (dx, dw) = with_f32(x, |xv| {
            with_f32(grad, |gv| {
                let bf = self.band_floats;
                let dx = super::timers::timed("conv3x3 dx", || {
                    conv_fwd_banded(gv, b, cout, h, w, &flip(&wv, cout, cin), cin, bf)
                });
                let dw = super::timers::timed("conv3x3 dw", || {
                    conv_wgrad_banded(xv, gv, b, cin, cout, h, w, bf)
                });
                Ok((dx, dw))
            })
        })?;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, (b, cin, h, w), dev)?),
            Some(Tensor::from_vec(dw, (cout, cin * 9), dev)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_util::{max_diff, randn};
    use crate::labs::segmentation::conv_check::{AWKWARD_SHAPES, assert_close, reference};
    use crate::labs::segmentation::ops::conv3x3_im2col;
    use candle_core::Var;

    fn vec_of(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    /// One shape: our op (default bands and forced small bands) against candle's conv2d and the
    /// f64 reference, forward and both gradients.
    fn check_shape(b: usize, cin: usize, cout: usize, h: usize, w: usize, seed: u64) {
        let x = Var::from_tensor(&randn(&[b, cin, h, w], seed)).unwrap();
        let wt = Var::from_tensor(&randn(&[cout, cin, 3, 3], seed + 1)).unwrap();
        let r = randn(&[b, cout, h, w], seed + 2);
        let (ry, rdx, rdw) =
            reference(&vec_of(&x), &vec_of(&wt), &vec_of(&r), (b, cin, cout, h, w));
        let theirs = x.conv2d(&wt, 1, 1, 1, 1).unwrap();
        let g2 = (theirs.clone() * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        // Two rows per band forces several bands whenever h > 2.
        for band_floats in [BAND_FLOATS, cin * 9 * w * 2] {
            let what = format!("b {b} cin {cin} cout {cout} h {h} w {w} band {band_floats}");
            let op = Conv3x3 { band_floats };
            let ours = x
                .apply_op2(&wt.reshape((cout, cin * 9)).unwrap(), op)
                .unwrap();
            assert!(max_diff(&ours, &theirs) < 1e-4, "forward vs candle, {what}");
            assert_close(
                &vec_of(&ours),
                &ry,
                1e-5,
                &format!("forward vs f64, {what}"),
            );
            let g1 = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let (dx, dw) = (g1.get(&x).unwrap(), g1.get(&wt).unwrap());
            assert!(
                max_diff(dx, g2.get(&x).unwrap()) < 1e-3,
                "dx vs candle, {what}"
            );
            assert!(
                max_diff(dw, g2.get(&wt).unwrap()) < 1e-3,
                "dw vs candle, {what}"
            );
            assert_close(&vec_of(dx), &rdx, 1e-5, &format!("dx vs f64, {what}"));
            assert_close(&vec_of(dw), &rdw, 1e-5, &format!("dw vs f64, {what}"));
        }
    }

    #[test]
    fn fused_conv_matches_candle_and_f64_reference_on_awkward_shapes() {
        // And two shapes of more channels.
        let shapes: Vec<_> = AWKWARD_SHAPES
            .into_iter()
            .chain([(3, 40, 5, 9, 33), (1, 2, 2, 6, 5)])
            .collect();
        for (i, &(b, cin, cout, h, w)) in shapes.iter().enumerate() {
            check_shape(b, cin, cout, h, w, 10 * i as u64);
        }
    }

    #[test]
    fn small_bands_really_span_several_bands() {
        // 2 images of 9 rows, two rows per band: 5 bands each.
        let (b, cin, h, w) = (2, 3, 9, 5);
        assert_eq!(band_count(b, cin, h, w, cin * 9 * w * 2), 10);
        check_shape(b, cin, 4, h, w, 7);
    }

    #[test]
    fn default_bands_split_a_deep_layer_of_the_default_net() {
        // The bottleneck of the default U-Net at 512 px is 128 channels x 64 px wide: each band
        // holds 3 rows, so an 8-row slice of it is cut into 3 bands at the default band size.
        let (b, cin, h, w) = (1, 128, 8, 64);
        let n = band_count(b, cin, h, w, BAND_FLOATS);
        assert!(n >= 3, "only {n} bands");
        let x = randn(&[b, cin, h, w], 40);
        let wt = randn(&[3, cin, 3, 3], 41);
        let r = randn(&[b, 3, h, w], 42);
        let (ry, _, rdw) = reference(&vec_of(&x), &vec_of(&wt), &vec_of(&r), (b, cin, 3, h, w));
        let y = conv_fwd(&vec_of(&x), b, cin, h, w, &vec_of(&wt), 3);
        assert_close(&y, &ry, 1e-5, "forward, default bands");
        let dw = conv_wgrad_banded(&vec_of(&x), &vec_of(&r), b, cin, 3, h, w, BAND_FLOATS);
        assert_close(&dw, &rdw, 1e-5, "dw, default bands");
    }

    #[test]
    fn weight_gradient_is_bit_identical_across_runs_and_thread_counts() {
        // 4 images x 16 bands: more bands than partial sums, so groups hold several bands.
        let (b, cin, cout, h, w) = (4, 6, 5, 32, 7);
        let bf = cin * 9 * w * 2;
        assert!(band_count(b, cin, h, w, bf) > WGRAD_PARTS);
        let x = vec_of(&randn(&[b, cin, h, w], 50));
        let g = vec_of(&randn(&[b, cout, h, w], 51));
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| conv_wgrad_banded(&x, &g, b, cin, cout, h, w, bf))
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
    fn direct_weight_gradient_matches_f64_reference() {
        for (b, cin, cout, h, w) in [
            (2, 1, 3, 5, 1),
            (1, 17, 6, 4, 33),
            (2, 5, 19, 1, 16),
            (3, 4, 2, 9, 5),
        ] {
            let x = randn(&[b, cin, h, w], 70);
            let g = randn(&[b, cout, h, w], 71);
            let wt = randn(&[cout, cin * 9], 72);
            let (_, _, rdw) =
                reference(&vec_of(&x), &vec_of(&wt), &vec_of(&g), (b, cin, cout, h, w));
            let dw = conv_wgrad(&vec_of(&x), &vec_of(&g), b, cin, cout, h, w);
            assert_close(
                &dw,
                &rdw,
                1e-5,
                &format!("direct dw {b} {cin} {cout} {h} {w}"),
            );
        }
    }

    #[test]
    #[ignore]
    fn time_weight_gradients() {
        for (b, cin, cout, h, w) in [
            (8, 16, 16, 128, 128),
            (8, 32, 16, 128, 128),
            (8, 64, 64, 32, 32),
            (8, 128, 128, 16, 16),
        ] {
            let x = vec_of(&randn(&[b, cin, h, w], 1));
            let g = vec_of(&randn(&[b, cout, h, w], 2));
            let best = |f: &dyn Fn() -> Vec<f32>| {
                let mut m = f64::MAX;
                for _ in 0..7 {
                    let t = std::time::Instant::now();
                    std::hint::black_box(f());
                    m = m.min(t.elapsed().as_secs_f64() * 1e3);
                }
                m
            };
            let ta = best(&|| conv_wgrad_banded(&x, &g, b, cin, cout, h, w, BAND_FLOATS));
            let td = best(&|| conv_wgrad(&x, &g, b, cin, cout, h, w));

            let a = conv_wgrad_banded(&x, &g, b, cin, cout, h, w, BAND_FLOATS);
            let d = conv_wgrad(&x, &g, b, cin, cout, h, w);
            let err = a
                .iter()
                .zip(&d)
                .map(|(p, q)| (p - q).abs())
                .fold(0f32, f32::max);
            eprintln!(
                "{b}x{cin}->{cout} {h}x{w}: banded {ta:.1} ms, direct {td:.1} ms (diff {err})"
            );
        }
    }

    #[test]
    fn fused_conv_matches_im2col_path() {
        let (b, cin, cout, h, w) = (2, 3, 4, 6, 5);
        let x = randn(&[b, cin, h, w], 60);
        let wt = randn(&[cout, cin * 9], 61);
        let ours = x.apply_op2(&wt, Conv3x3::default()).unwrap();
        let im = conv3x3_im2col(&x, &wt).unwrap();
        assert!(max_diff(&im, &ours) < 1e-4);
    }
}
