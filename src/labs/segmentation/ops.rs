//! The U-Net's candle ops whose candle 0.11.1 versions are slow or wrong, as custom ops over
//! `gradlab_kernels` (the graph path: `UNet::forward_t`; the training step calls the kernels
//! directly, `step.rs`):
//!
//! - `conv3x3`: a fused banded im2col + gemm convolution (`gradlab_kernels::conv::gemm`).
//!   candle's own conv2d backward runs a naive conv_transpose2d for the input gradient and a
//!   conv with an image-sized kernel for the weight gradient, which dominates a training step.
//! - `max_pool2x2`: reshape + max over the window axes, because candle's max_pool2d backward
//!   scales the gradient by 1/(k*k).
//! - `up2x2`: a 2x2 stride-2 transposed convolution as a matmul + pixel shuffle (same weight
//!   layout as PyTorch's ConvTranspose2d: [c_in, c_out, 2, 2]).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail};
use gradlab_kernels::ConvShape;
use gradlab_kernels::bn::{bn_relu_apply, bn_relu_backward, channel_stats};
use gradlab_kernels::conv::{self, gemm};
use gradlab_kernels::timers::timed;
use rayon::prelude::*;

use crate::core::kernels::f32_slice;

/// 3x3 convolution, stride 1, zero padding 1, no bias. `w`: `[c_out, c_in*9]` (PyTorch's
/// `[c_out, c_in, 3, 3]` flattened).
pub fn conv3x3(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op2(&w.contiguous()?, Conv3x3::default())
}

fn to_vec(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// `x` `[b, cin, h, w]`, `w` `[cout, cin*9]` -> `[b, cout, h, w]`.
pub struct Conv3x3 {
    /// Im2col floats per band ([`gemm::BAND_FLOATS`] by default; tests force small bands).
    pub band_floats: usize,
}

impl Default for Conv3x3 {
    fn default() -> Self {
        Self {
            band_floats: gemm::BAND_FLOATS,
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
        let (xs, ws) = (f32_slice(s1, l1, "conv3x3")?, f32_slice(s2, l2, "conv3x3")?);
        let s = ConvShape::new(b, cin, cout, h, w);
        let y = timed("conv3x3 forward", || {
            gemm::forward_banded(xs, ws, s, self.band_floats)
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
        let s = ConvShape::new(b, cin, cout, h, w);
        // Borrow the activations in place: copying them would cost as much as the gemms.
        let (dx, dw) = with_f32(x, |xv| {
            with_f32(grad, |gv| {
                let bf = self.band_floats;
                let dx = timed("conv3x3 dx", || {
                    gemm::forward_banded(gv, &conv::flip(&wv, s), s.transposed(), bf)
                });
                let dw = timed("conv3x3 dw", || gemm::weight_grad_banded(xv, gv, s, bf));
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
        timed("bn_relu backward", || {
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
    use gradlab_kernels::reference::{self, AWKWARD_SHAPES, assert_close};

    fn vec_of(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    /// One shape: our op (default bands and forced small bands) against candle's conv2d and the
    /// f64 reference, forward and both gradients.
    fn check_shape(s: ConvShape, seed: u64) {
        let ConvShape {
            batch: b,
            cin,
            cout,
            h,
            w,
        } = s;
        let x = Var::from_tensor(&randn(&[b, cin, h, w], seed)).unwrap();
        let wt = Var::from_tensor(&randn(&[cout, cin, 3, 3], seed + 1)).unwrap();
        let r = randn(&[b, cout, h, w], seed + 2);
        let (ry, rdx, rdw) = reference::conv3x3(&vec_of(&x), &vec_of(&wt), &vec_of(&r), s);
        let theirs = x.conv2d(&wt, 1, 1, 1, 1).unwrap();
        let g2 = (theirs.clone() * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        // Two rows per band forces several bands whenever h > 2.
        for band_floats in [gemm::BAND_FLOATS, cin * 9 * w * 2] {
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
        let more = [
            ConvShape::new(3, 40, 5, 9, 33),
            ConvShape::new(1, 2, 2, 6, 5),
        ];
        for (i, &s) in AWKWARD_SHAPES.iter().chain(&more).enumerate() {
            check_shape(s, 10 * i as u64);
        }
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
