//! The U-Net's training step (and evaluation forward) on plain buffers, without candle's autograd
//! graph. Candle's backward zero-fills and adds a gradient buffer for every node, on one thread,
//! and every glue op (cat, max-pool by reshape + max, bias broadcast + sum) is a few more full
//! passes over the activations; at 8 x 128 x 128 those passes cost as much as the convolutions.
//! Here each layer's forward keeps what its backward needs, and the backward walks the layers in
//! reverse, writing each gradient once:
//!
//! - max-pool keeps its argmax (one byte per output),
//! - the up-convolution writes straight into the first channels of the decoder's input buffer,
//!   beside the copied skip, so there is no `cat` and its backward is two slices,
//! - the head (1x1 conv) and the loss (BCE with logits + optional soft Dice) are fused,
//! - no gradient is computed for the network input.
//!
//! Every reduction has a static split and a fixed order: the same seed gives the same bits.
//! `UNet::forward_t` (candle ops) stays the reference the tests compare with.

use candle_core::{Result, Tensor, TensorId, bail};
use rayon::prelude::*;

use super::unet::{BN_EPS, Block, BnReluLayer, UNet, Up};
use gradlab_kernels::bn::{bn_relu_apply, bn_relu_backward, channel_stats};
use gradlab_kernels::timers::timed;
use gradlab_kernels::{ConvShape, conv, pool, up};

/// Gradients of the trainable tensors, keyed by the tensor (the `Var`'s tensor) they belong to.
pub type Grads = Vec<(TensorId, Vec<f32>)>;

fn vals(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// What the backward of one BatchNorm + ReLU needs.
struct BnCache {
    z: Vec<f32>,
    a: Vec<f32>,
    stats: Vec<(f32, f32)>,
}

/// One block (conv, BN+ReLU, conv, BN+ReLU) at `c` output channels and `h` x `w`.
struct BlockCache {
    input: Vec<f32>,
    cin: usize,
    c: usize,
    h: usize,
    w: usize,
    bn1: BnCache,
    bn2: BnCache,
}

impl BlockCache {
    fn out(&self) -> &[f32] {
        &self.bn2.a
    }
}

/// The forward pass of a training step: every activation the backward needs, and the logits.
pub struct TrainForward<'a> {
    net: &'a UNet,
    b: usize,
    /// Unpadded size (the loss sees only this region of the padded logits).
    h0: usize,
    w0: usize,
    enc: Vec<BlockCache>,
    /// Argmax (0..4 within the 2x2 window) of the pool below encoder level l, for l < depth - 1.
    pool_arg: Vec<Vec<u8>>,
    dec: Vec<BlockCache>,
    logits: Vec<f32>,
}

/// Replicate-pads `[b, 1, h, w]` on the right and bottom to `[b, 1, hp, wp]`.
fn pad_input(x: &[f32], b: usize, h: usize, w: usize, hp: usize, wp: usize) -> Vec<f32> {
    if (h, w) == (hp, wp) {
        return x.to_vec();
    }
    let mut out = vec![0f32; b * hp * wp];
    for bi in 0..b {
        for y in 0..hp {
            let src = &x[(bi * h + y.min(h - 1)) * w..(bi * h + y.min(h - 1) + 1) * w];
            let dst = &mut out[(bi * hp + y) * wp..(bi * hp + y + 1) * wp];
            dst[..w].copy_from_slice(src);
            let last = src[w - 1];
            dst[w..].fill(last);
        }
    }
    out
}

/// Forward of one block; `train` uses batch statistics (and updates the running ones).
fn block_fwd(
    blk: &Block,
    input: Vec<f32>,
    (b, cin, h, w): (usize, usize, usize, usize),
    train: bool,
) -> Result<BlockCache> {
    let c = blk.w1.dim(0)?;
    let hw = h * w;
    let bn = |layer: &BnReluLayer, z: Vec<f32>| -> Result<BnCache> {
        let stats = if train {
            let st = timed("bn statistics", || channel_stats(&z, b, c, hw));
            layer.update_running(&st, b * hw)?;
            st
        } else {
            layer.running()?
        };
        let (gamma, beta) = (vals(&layer.gamma)?, vals(&layer.beta)?);
        let a = timed("bn_relu forward", || {
            bn_relu_apply(&z, c, hw, &gamma, &beta, &stats, BN_EPS)
        });
        // Evaluation keeps only the outputs (the next layers' inputs): half the memory.
        let z = if train { z } else { Vec::new() };
        Ok(BnCache { z, a, stats })
    };
    let w1 = vals(&blk.w1)?;
    let (s1, s2) = (
        ConvShape::new(b, cin, c, h, w),
        ConvShape::new(b, c, c, h, w),
    );
    let z1 = timed("conv3x3 forward", || conv::forward(&input, &w1, s1));
    let bn1 = bn(&blk.bn1, z1)?;
    let w2 = vals(&blk.w2)?;
    let z2 = timed("conv3x3 forward", || conv::forward(&bn1.a, &w2, s2));
    let bn2 = bn(&blk.bn2, z2)?;
    let input = if train { input } else { Vec::new() };
    let bn1 = if train {
        bn1
    } else {
        BnCache {
            a: Vec::new(),
            ..bn1
        }
    };
    Ok(BlockCache {
        input,
        cin,
        c,
        h,
        w,
        bn1,
        bn2,
    })
}

/// Backward of one block from the gradient of its output; pushes (w1, gamma1, beta1, w2, gamma2,
/// beta2) gradients and returns the input gradient when `need_dx`.
fn block_bwd(
    blk: &Block,
    cache: &BlockCache,
    b: usize,
    d_out: &[f32],
    need_dx: bool,
    grads: &mut Grads,
) -> Result<Option<Vec<f32>>> {
    let (cin, c, h, w) = (cache.cin, cache.c, cache.h, cache.w);
    let hw = h * w;
    let (s1, s2) = (
        ConvShape::new(b, cin, c, h, w),
        ConvShape::new(b, c, c, h, w),
    );
    let bn_bwd = |layer: &BnReluLayer, bc: &BnCache, g: &[f32]| -> Result<_> {
        let (gamma, beta) = (vals(&layer.gamma)?, vals(&layer.beta)?);
        Ok(timed("bn_relu backward", || {
            bn_relu_backward(&bc.z, &bc.a, g, b, c, hw, &gamma, &beta, &bc.stats, BN_EPS)
        }))
    };
    let (dz2, dg2, db2) = bn_bwd(&blk.bn2, &cache.bn2, d_out)?;
    let w2 = vals(&blk.w2)?;
    let dw2 = timed("conv3x3 dw", || conv::weight_grad(&cache.bn1.a, &dz2, s2));
    let da1 = timed("conv3x3 dx", || conv::backward_data(&dz2, &w2, s2));
    drop(dz2);
    let (dz1, dg1, db1) = bn_bwd(&blk.bn1, &cache.bn1, &da1)?;
    drop(da1);
    let w1 = vals(&blk.w1)?;
    let dw1 = timed("conv3x3 dw", || conv::weight_grad(&cache.input, &dz1, s1));
    let dx = need_dx.then(|| timed("conv3x3 dx", || conv::backward_data(&dz1, &w1, s1)));
    grads.push((blk.w1.id(), dw1));
    grads.push((blk.bn1.gamma.id(), dg1));
    grads.push((blk.bn1.beta.id(), db1));
    grads.push((blk.w2.id(), dw2));
    grads.push((blk.bn2.gamma.id(), dg2));
    grads.push((blk.bn2.beta.id(), db2));
    Ok(dx)
}

/// The forward pass on buffers: the block caches, pool argmaxes and logits of the padded input.
struct Forward {
    enc: Vec<BlockCache>,
    pool_arg: Vec<Vec<u8>>,
    dec: Vec<BlockCache>,
    logits: Vec<f32>,
    hp: usize,
    wp: usize,
}

fn forward(net: &UNet, x: &Tensor, train: bool) -> Result<Forward> {
    let (b, ci, h, w) = x.dims4()?;
    if ci != 1 {
        bail!("the U-Net takes 1 input channel, got {ci}");
    }
    if h == 0 || w == 0 || b == 0 {
        bail!("empty input {:?}", x.dims());
    }
    let m = net.cfg.multiple();
    let (hp, wp) = (h.div_ceil(m) * m, w.div_ceil(m) * m);
    let mut input = pad_input(&vals(x)?, b, h, w, hp, wp);
    let (mut cin, mut ch, mut cw) = (1, hp, wp);
    let depth = net.enc.len();
    let mut enc: Vec<BlockCache> = Vec::with_capacity(depth);
    let mut pool_arg = Vec::new();
    for (l, blk) in net.enc.iter().enumerate() {
        if l > 0 {
            let prev = &enc[l - 1];
            let (p, arg) = timed("max_pool forward", || {
                pool::forward(prev.out(), b * prev.c, prev.h, prev.w)
            });
            pool_arg.push(arg);
            input = p;
            (cin, ch, cw) = (prev.c, prev.h / 2, prev.w / 2);
        }
        let cache = block_fwd(blk, std::mem::take(&mut input), (b, cin, ch, cw), train)?;
        enc.push(cache);
    }
    let mut dec: Vec<BlockCache> = Vec::with_capacity(depth.saturating_sub(1));
    for (k, (up, blk)) in net.ups.iter().zip(&net.dec).enumerate() {
        let below = if k == 0 { &enc[depth - 1] } else { &dec[k - 1] };
        let l = depth - 2 - k;
        let skip = &enc[l];
        let co = skip.c;
        let cc = if net.cfg.skips { 2 * co } else { co };
        let (h2, w2) = (skip.h, skip.w);
        let mut buf = vec![0f32; b * cc * h2 * w2];
        timed("up2x2 forward", || -> Result<()> {
            up::forward(
                below.out(),
                (b, below.c, below.h, below.w),
                &vals(&up.w)?,
                &vals(&up.b)?,
                co,
                &mut buf,
                cc,
            );
            Ok(())
        })?;
        if net.cfg.skips {
            let n = co * h2 * w2;
            let so = skip.out();
            timed("skip copy", || {
                buf.par_chunks_mut(2 * n).enumerate().for_each(|(bi, dst)| {
                    dst[n..].copy_from_slice(&so[bi * n..(bi + 1) * n]);
                })
            });
        }
        let cache = block_fwd(blk, buf, (b, cc, h2, w2), train)?;
        dec.push(cache);
    }
    let last = dec.last().unwrap_or(&enc[depth - 1]);
    let (hw_, hb) = (vals(&net.head_w)?, vals(&net.head_b)?);
    let hw = hp * wp;
    let mut logits = vec![0f32; b * hw];
    let c0 = last.c;
    let a = last.out();
    timed("head forward", || {
        logits.par_chunks_mut(hw).enumerate().for_each(|(bi, lo)| {
            lo.fill(hb[0]);
            for (c, &wc) in hw_.iter().enumerate().take(c0) {
                let plane = &a[(bi * c0 + c) * hw..(bi * c0 + c + 1) * hw];
                for (o, &v) in lo.iter_mut().zip(plane) {
                    *o += wc * v;
                }
            }
        })
    });
    Ok(Forward {
        enc,
        pool_arg,
        dec,
        logits,
        hp,
        wp,
    })
}

impl UNet {
    /// Logits `[b, 1, h, w]` in evaluation mode (running statistics), computed on buffers: the
    /// same function as `forward_t(x, false)` without building a graph.
    pub fn forward_eval(&self, x: &Tensor) -> Result<Tensor> {
        let (b, _, h, w) = x.dims4()?;
        let f = forward(self, x, false)?;
        let logits = crop(&f.logits, b, f.hp, f.wp, h, w);
        Tensor::from_vec(logits, (b, 1, h, w), x.device())
    }

    /// The forward pass of a training step (batch statistics; updates the running statistics).
    pub fn forward_train(&self, x: &Tensor) -> Result<TrainForward<'_>> {
        let (b, _, h0, w0) = x.dims4()?;
        let f = forward(self, x, true)?;
        debug_assert_eq!(f.logits.len(), b * f.hp * f.wp);
        Ok(TrainForward {
            net: self,
            b,
            h0,
            w0,
            enc: f.enc,
            pool_arg: f.pool_arg,
            dec: f.dec,
            logits: f.logits,
        })
    }
}

fn crop(v: &[f32], b: usize, hp: usize, wp: usize, h: usize, w: usize) -> Vec<f32> {
    if (hp, wp) == (h, w) {
        return v.to_vec();
    }
    let mut out = Vec::with_capacity(b * h * w);
    for bi in 0..b {
        for y in 0..h {
            out.extend_from_slice(&v[(bi * hp + y) * wp..(bi * hp + y) * wp + w]);
        }
    }
    out
}

impl TrainForward<'_> {
    /// Logits `[b, 1, h, w]` (unpadded).
    pub fn logits(&self) -> Vec<f32> {
        let (hp, wp) = (self.enc[0].h, self.enc[0].w);
        crop(&self.logits, self.b, hp, wp, self.h0, self.w0)
    }

    /// The loss of `unet::loss` (mean BCE with logits + `dice` x soft Dice) against `target`
    /// `[b, 1, h, w]` and the gradient of every trainable tensor.
    pub fn loss_and_grads(&self, target: &Tensor, dice: f64) -> Result<(f32, Grads)> {
        let start = std::time::Instant::now();
        let net = self.net;
        let b = self.b;
        let (hp, wp) = (self.enc[0].h, self.enc[0].w);
        let (h0, w0) = (self.h0, self.w0);
        let t = vals(target)?;
        if t.len() != b * h0 * w0 {
            bail!("target {:?} does not match the input", target.dims());
        }
        let n = (b * h0 * w0) as f64;
        // Loss and d loss / d logit, on the unpadded region (the rest of the gradient is 0).
        let logits = crop(&self.logits, b, hp, wp, h0, w0);
        let mut bce = 0f64;
        let (mut inter, mut psum, mut tsum) = (0f64, 0f64, 0f64);
        let mut p = vec![0f32; logits.len()];
        for ((&x, &tv), pv) in logits.iter().zip(&t).zip(p.iter_mut()) {
            bce += (x.max(0.0) - x * tv + (-x.abs()).exp().ln_1p()) as f64;
            *pv = 1.0 / (1.0 + (-x).exp());
            inter += (*pv * tv) as f64;
            psum += *pv as f64;
            tsum += tv as f64;
        }
        let mut loss = bce / n;
        let den = psum + tsum + 1.0;
        let num = 2.0 * inter + 1.0;
        if dice > 0.0 {
            loss += dice * (1.0 - num / den);
        }
        let mut dl = vec![0f32; b * hp * wp];
        for bi in 0..b {
            for y in 0..h0 {
                for x in 0..w0 {
                    let i = (bi * h0 + y) * w0 + x;
                    let (pv, tv) = (p[i] as f64, t[i] as f64);
                    let mut g = (pv - tv) / n;
                    if dice > 0.0 {
                        let dd = (2.0 * tv * den - num) / (den * den);
                        g -= dice * dd * pv * (1.0 - pv);
                    }
                    dl[(bi * hp + y) * wp + x] = g as f32;
                }
            }
        }
        let mut grads: Grads = Vec::new();
        // Head: logits = sum_c w_c a_c + bias.
        let depth = self.enc.len();
        let last = self.dec.last().unwrap_or(&self.enc[depth - 1]);
        let (c0, hw) = (last.c, hp * wp);
        let hwv = vals(&net.head_w)?;
        let a = last.out();
        let dhw: Vec<f32> = (0..c0)
            .into_par_iter()
            .map(|c| {
                let mut s = 0f64;
                for bi in 0..b {
                    let plane = &a[(bi * c0 + c) * hw..(bi * c0 + c + 1) * hw];
                    let g = &dl[bi * hw..(bi + 1) * hw];
                    s += dot_lanes(plane, g);
                }
                s as f32
            })
            .collect();
        let dhb: f64 = dl.iter().map(|&v| v as f64).sum();
        let mut d = vec![0f32; b * c0 * hw];
        d.par_chunks_mut(hw).enumerate().for_each(|(bc, dp)| {
            let (bi, c) = (bc / c0, bc % c0);
            let wc = hwv[c];
            for (o, &g) in dp.iter_mut().zip(&dl[bi * hw..(bi + 1) * hw]) {
                *o = wc * g;
            }
        });
        grads.push((net.head_w.id(), dhw));
        grads.push((net.head_b.id(), vec![dhb as f32]));
        gradlab_kernels::timers::since("loss + head backward", start);
        // Decoders, last first.
        let mut dskip: Vec<Option<Vec<f32>>> = (0..depth).map(|_| None).collect();
        for k in (0..self.dec.len()).rev() {
            let cache = &self.dec[k];
            let dcat = block_bwd(&net.dec[k], cache, b, &d, true, &mut grads)?
                .ok_or_else(|| candle_core::Error::Msg("missing input gradient".into()))?;
            let l = depth - 2 - k;
            let co = self.enc[l].c;
            let cc = cache.cin;
            let below = if k == 0 {
                &self.enc[depth - 1]
            } else {
                &self.dec[k - 1]
            };
            let up: &Up = &net.ups[k];
            let (dx, dw, db) = timed("up2x2 backward", || -> Result<_> {
                Ok(up::backward(
                    below.out(),
                    (b, below.c, below.h, below.w),
                    &vals(&up.w)?,
                    co,
                    &dcat,
                    cc,
                ))
            })?;
            grads.push((up.w.id(), dw));
            grads.push((up.b.id(), db));
            if net.cfg.skips {
                let n = co * cache.h * cache.w;
                let mut ds = vec![0f32; b * n];
                ds.par_chunks_mut(n).enumerate().for_each(|(bi, dst)| {
                    dst.copy_from_slice(&dcat[(bi * 2 + 1) * n..(bi * 2 + 2) * n]);
                });
                dskip[l] = Some(ds);
            }
            d = dx;
        }
        // Encoders, bottleneck first; d is the gradient of the bottleneck's output.
        for l in (0..depth).rev() {
            let cache = &self.enc[l];
            let d_out = if l == depth - 1 {
                std::mem::take(&mut d)
            } else {
                let mut g = dskip[l]
                    .take()
                    .unwrap_or_else(|| vec![0f32; b * cache.c * cache.h * cache.w]);
                timed("max_pool backward", || {
                    pool::backward(&d, &self.pool_arg[l], b * cache.c, cache.h, cache.w, &mut g)
                });
                g
            };
            d = block_bwd(&net.enc[l], cache, b, &d_out, l > 0, &mut grads)?.unwrap_or_default();
        }
        Ok((loss as f32, grads))
    }
}

/// sum a_i b_i with lane accumulators, in f64 at the end.
fn dot_lanes(a: &[f32], b: &[f32]) -> f64 {
    const L: usize = 16;
    let mut acc = [0f32; L];
    let (ac, bc) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f64 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(&x, &y)| (x * y) as f64)
        .sum();
    for (xa, xb) in ac.zip(bc) {
        for l in 0..L {
            acc[l] += xa[l] * xb[l];
        }
    }
    acc.iter().map(|&v| v as f64).sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_util::{max_diff, randn};
    use crate::labs::segmentation::adamw::FusedAdamW;
    use crate::labs::segmentation::unet::{UNetConfig, loss, trainable};
    use candle_core::{Device, Var};
    use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};

    fn target(b: usize, h: usize, w: usize, seed: u64) -> Tensor {
        randn(&[b, 1, h, w], seed)
            .ge(0.0)
            .unwrap()
            .to_dtype(candle_core::DType::F32)
            .unwrap()
    }

    fn bn_state(vm: &VarMap) -> Vec<(String, Vec<f32>)> {
        let data = vm.data().lock().unwrap();
        let mut v: Vec<_> = data
            .iter()
            .filter(|(n, _)| n.contains("running_"))
            .map(|(n, v)| {
                (
                    n.clone(),
                    v.as_tensor().flatten_all().unwrap().to_vec1().unwrap(),
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// The buffer step against candle's autograd through `forward_t`: loss, every gradient and
    /// the running statistics, on small nets with padding, skips on and off, Dice on and off.
    #[test]
    fn gradients_match_the_candle_graph_path() {
        for (depth, base, skips, b, h, w, dice) in [
            (3, 4, true, 2, 13, 10, 0.0),
            (3, 5, false, 2, 16, 8, 0.5),
            (2, 4, true, 1, 7, 9, 1.0),
            (1, 3, true, 2, 5, 6, 0.0),
            // 16 and 32 channels: every conv kernel (Winograd weight gradients from 32 input
            // channels, see kernels.rs) takes part.
            (2, 16, true, 1, 12, 10, 0.0),
        ] {
            let cfg = UNetConfig { depth, base, skips };
            let (vm1, vm2) = (VarMap::new(), VarMap::new());
            let (n1, n2) = (
                UNet::new(cfg, &vm1, 7).unwrap(),
                UNet::new(cfg, &vm2, 7).unwrap(),
            );
            let x = randn(&[b, 1, h, w], 3);
            let t = target(b, h, w, 4);
            let l_ref = loss(&n1.forward_t(&x, true).unwrap(), &t, dice).unwrap();
            let g_ref = l_ref.backward().unwrap();
            let fw = n2.forward_train(&x).unwrap();
            let (l, grads) = fw.loss_and_grads(&t, dice).unwrap();
            let what = format!("depth {depth} base {base} skips {skips} {h}x{w} dice {dice}");
            let lr = l_ref.to_scalar::<f32>().unwrap();
            assert!(
                (l - lr).abs() < 1e-5 * lr.abs().max(1.0),
                "loss {l} vs {lr}, {what}"
            );
            let (v1, v2) = (trainable(&vm1), trainable(&vm2));
            assert_eq!(grads.len(), v2.len(), "one gradient per variable, {what}");
            for (a, b2) in v1.iter().zip(&v2) {
                let want = g_ref.get(a.as_tensor()).expect("candle gradient");
                let got = &grads
                    .iter()
                    .find(|(id, _)| *id == b2.as_tensor().id())
                    .unwrap()
                    .1;
                let got = Tensor::from_vec(got.clone(), want.shape(), &Device::Cpu).unwrap();
                let scale = want
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                let d = max_diff(&got, want);
                assert!(
                    d <= 1e-3 * scale.max(1e-3),
                    "gradient off by {d} (scale {scale}), {what}"
                );
            }
            for ((na, a), (_, b2)) in bn_state(&vm1).iter().zip(&bn_state(&vm2)) {
                let d = a
                    .iter()
                    .zip(b2)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0f32, f32::max);
                assert!(d < 1e-5, "{na} off by {d}, {what}");
            }
            // Evaluation forward on buffers = candle's forward_t(false).
            let e1 = n1.forward_t(&x, false).unwrap();
            let e2 = n1.forward_eval(&x).unwrap();
            assert!(max_diff(&e1, &e2) < 1e-4, "eval forward, {what}");
        }
    }

    #[test]
    fn fused_adamw_matches_candle_adamw() {
        let shape = [3, 7];
        let make = || Var::from_tensor(&randn(&shape, 1)).unwrap();
        let (a, b) = (make(), make());
        let params = ParamsAdamW {
            lr: 0.01,
            weight_decay: 0.1,
            ..Default::default()
        };
        let mut theirs = AdamW::new(vec![a.clone()], params.clone()).unwrap();
        let mut ours = FusedAdamW::new(vec![b.clone()], params);
        for step in 0..3u64 {
            let r = randn(&shape, 10 + step);
            let grads = (a.as_tensor() * &r)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            theirs.step(&grads).unwrap();
            let g: Vec<f32> = r.flatten_all().unwrap().to_vec1().unwrap();
            ours.step(&[(b.as_tensor().id(), g)]).unwrap();
            assert!(max_diff(a.as_tensor(), b.as_tensor()) < 1e-6, "step {step}");
        }
    }

    /// A whole (small) segmentation run twice: the same metrics, to the bit.
    #[test]
    fn seg_run_twice_gives_identical_metrics() {
        use crate::core::events::{StopFlag, VecSink};
        use crate::data::seg::DatasetSpec;
        use crate::data::seg::shapes::ShapesConfig;
        use crate::labs::segmentation::train::{SegConfig, train};
        let cfg = SegConfig {
            dataset: DatasetSpec::Shapes(ShapesConfig {
                size: 48,
                count: 6,
                cell: 14.0,
                ..Default::default()
            }),
            unet: UNetConfig {
                depth: 3,
                base: 4,
                skips: true,
            },
            epochs: 2,
            steps_per_epoch: 3,
            crop: 40,
            batch: 2,
            dice: 0.5,
            gallery: 1,
            ..Default::default()
        };
        let run = || {
            let mut sink = VecSink::default();
            let out = train(&cfg, &mut sink, &StopFlag::new()).unwrap();
            let series: Vec<u64> = ["train_loss", "val_miou"]
                .iter()
                .flat_map(|k| sink.series(k))
                .map(|(_, v)| v.to_bits())
                .collect();
            (series, out.summary["val_miou"].as_f64().unwrap().to_bits())
        };
        let (a, b) = (run(), run());
        assert!(!a.0.is_empty());
        assert_eq!(a, b, "two runs with one seed differ");
    }

    /// Three steps of training from the same seed, twice: bit-identical weights and statistics.
    /// Base 6 (direct and Winograd forward kernels) and base 16 (also Winograd weight
    /// gradients, from 32 input channels).
    #[test]
    fn same_seed_gives_bit_identical_weights_after_three_steps() {
        for (depth, base) in [(3, 6), (2, 16)] {
            same_seed_same_bits(UNetConfig {
                depth,
                base,
                skips: true,
            });
        }
    }

    fn same_seed_same_bits(cfg: UNetConfig) {
        let run = || {
            let vm = VarMap::new();
            let net = UNet::new(cfg, &vm, 11).unwrap();
            let mut opt = FusedAdamW::new(trainable(&vm), ParamsAdamW::default());
            for s in 0..3u64 {
                let x = randn(&[2, 1, 24, 40], 20 + s);
                let (_, g) = net
                    .forward_train(&x)
                    .unwrap()
                    .loss_and_grads(&target(2, 24, 40, 30 + s), 0.3)
                    .unwrap();
                opt.step(&g).unwrap();
            }
            let data = vm.data().lock().unwrap();
            let mut all: Vec<(String, Vec<u32>)> = data
                .iter()
                .map(|(n, v)| {
                    let vals: Vec<f32> = v.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
                    (n.clone(), vals.into_iter().map(f32::to_bits).collect())
                })
                .collect();
            all.sort();
            all
        };
        let (a, b) = (run(), run());
        assert_eq!(a.len(), b.len());
        for ((na, va), (_, vb)) in a.iter().zip(&b) {
            assert!(va == vb, "{na} differs between two runs, {cfg:?}");
        }
    }
}
