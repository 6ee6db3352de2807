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

/// Target size of one band's im2col matrix (floats): ~256 KiB.
const BAND_FLOATS: usize = 256 * 1024;

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

fn band_rows(k: usize, w: usize, h: usize) -> usize {
    (BAND_FLOATS / (k * w).max(1)).clamp(1, h)
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

/// The bands of all images: (image, first row, rows).
fn bands(b: usize, h: usize, rows: usize) -> Vec<(usize, usize, usize)> {
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
    let k = cin * 9;
    let hw = h * w;
    let mut y = vec![0f32; b * cout * hw];
    if w == 0 || h == 0 {
        return y;
    }
    let rows = band_rows(k, w, h);
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

/// dW `[cout, cin*9]` = sum over bands of g_band `[cout, n]` x cols_band^T `[n, cin*9]`.
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
    let hw = h * w;
    let rows = band_rows(k, w, h);
    bands(b, h, rows)
        .into_par_iter()
        .fold(
            || (vec![0f32; k * rows * w], vec![0f32; cout * k]),
            |(mut cols, mut acc), (bi, r0, n)| {
                let xb = &x[bi * cin * hw..(bi + 1) * cin * hw];
                let nc = n * w;
                fill_cols(xb, cin, h, w, r0, n, &mut cols[..k * nc]);
                let gp = g[bi * cout * hw + r0 * w..].as_ptr();
                unsafe {
                    gemm::gemm(
                        cout,
                        k,
                        nc,
                        acc.as_mut_ptr(),
                        1,
                        k as isize,
                        true,
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
                (cols, acc)
            },
        )
        .map(|(_, acc)| acc)
        .reduce(
            || vec![0f32; cout * k],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        )
}

/// `[cout, cin*9]` -> `[cin, cout*9]` flipped in space: the kernel of the input gradient.
fn flip(wt: &[f32], cout: usize, cin: usize) -> Vec<f32> {
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
pub struct Conv3x3;

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
        let y = conv_fwd(slice(s1, l1)?, b, cin, h, w, slice(s2, l2)?, cout);
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
                let dx = conv_fwd(gv, b, cout, h, w, &flip(&wv, cout, cin), cin);
                Ok((dx, conv_wgrad(xv, gv, b, cin, cout, h, w)))
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
    use crate::labs::segmentation::ops::conv3x3_im2col;
    use candle_core::Var;

    #[test]
    fn fused_conv_matches_candle_forward_and_backward() {
        // 70 rows x 5 cols with 3 channels gives several bands per image.
        for (b, cin, cout, h, w) in [(2, 3, 4, 70, 5), (1, 1, 2, 3, 1), (3, 40, 5, 9, 33)] {
            let x = Var::from_tensor(&randn(&[b, cin, h, w], 1)).unwrap();
            let wt = Var::from_tensor(&randn(&[cout, cin, 3, 3], 2)).unwrap();
            let r = randn(&[b, cout, h, w], 3);
            let ours = x
                .apply_op2(&wt.reshape((cout, cin * 9)).unwrap(), Conv3x3)
                .unwrap();
            let theirs = x.conv2d(&wt, 1, 1, 1, 1).unwrap();
            assert!(
                max_diff(&ours, &theirs) < 1e-4,
                "forward {b} {cin} {cout} {h} {w}"
            );
            let g1 = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let g2 = (theirs.clone() * &r)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            assert!(
                max_diff(g1.get(&x).unwrap(), g2.get(&x).unwrap()) < 1e-3,
                "dx"
            );
            assert!(
                max_diff(g1.get(&wt).unwrap(), g2.get(&wt).unwrap()) < 1e-3,
                "dw"
            );
            // And against the im2col + matmul path.
            let im = conv3x3_im2col(&x, &wt.reshape((cout, cin * 9)).unwrap()).unwrap();
            assert!(max_diff(&im, &theirs) < 1e-4);
        }
    }
}
