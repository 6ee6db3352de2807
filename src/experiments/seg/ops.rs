//! Fast CPU building blocks for the U-Net whose candle 0.11.1 versions are slow or wrong:
//!
//! - `conv3x3`: im2col as a custom op (backward = col2im) followed by a batched matmul, so both
//!   forward and backward are gemm calls. candle's own conv2d backward runs a naive
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
pub fn up2x2(x: &Tensor, w: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let (b, ci, h, wd) = x.dims4()?;
    let co = w.dim(1)?;
    let wm = w.reshape((ci, co * 4))?.t()?;
    let y = wm.broadcast_matmul(&x.reshape((b, ci, h * wd))?)?;
    let y = y
        .reshape((b, co, 2, 2, h, wd))?
        .permute((0, 1, 4, 2, 5, 3))?
        .contiguous()?;
    y.reshape((b, co, 2 * h, 2 * wd))?
        .broadcast_add(&bias.reshape((1, co, 1, 1))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn randn(shape: &[usize], seed: u64) -> Tensor {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

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
