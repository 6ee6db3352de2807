//! The U-Net: `depth` levels with `base * 2^i` channels (level depth-1 is the bottleneck), two
//! (3x3 conv + BatchNorm + ReLU) per block (BatchNorm + ReLU fused, see `ops::BnRelu`), 2x2 max-pool down, 2x2 stride-2 transposed conv up,
//! and skip connections by concatenation that can be switched off. With skips off each decoder
//! block sees only the upsampled path, so its first conv has fewer input channels (and the model
//! fewer parameters): the toggle changes the computation, not just a flag.
//!
//! Input of any size: it is replicate-padded on the right and bottom to a multiple of
//! 2^(depth-1) (every pool then halves an even size) and the output is cropped back.

use candle_core::{Device, Result, Tensor, Var};
use candle_nn::VarMap;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use gradlab_kernels::timers::timed;

use super::ops::{BnRelu, conv1x1, conv3x3, max_pool2x2, up2x2};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UNetConfig {
    pub depth: usize,
    pub base: usize,
    pub skips: bool,
}

impl Default for UNetConfig {
    fn default() -> Self {
        Self {
            depth: 4,
            base: 16,
            skips: true,
        }
    }
}

impl UNetConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=6).contains(&self.depth),
            "depth must be 1..6, is {}",
            self.depth
        );
        anyhow::ensure!(
            (2..=128).contains(&self.base),
            "base channels must be 2..128, is {}",
            self.base
        );
        Ok(())
    }

    /// Inputs are padded to a multiple of this.
    pub fn multiple(&self) -> usize {
        1 << (self.depth - 1)
    }

    fn ch(&self, level: usize) -> usize {
        self.base << level
    }

    /// Trainable parameters, computed from the architecture alone (the UI shows both variants
    /// without building them).
    pub fn param_count(&self) -> usize {
        let block = |ci: usize, co: usize| ci * co * 9 + co * co * 9 + 4 * co;
        let mut n = block(1, self.ch(0));
        for l in 1..self.depth {
            n += block(self.ch(l - 1), self.ch(l));
        }
        for l in (0..self.depth - 1).rev() {
            let (ci, co) = (self.ch(l + 1), self.ch(l));
            n += ci * co * 4 + co;
            n += block(if self.skips { 2 * co } else { co }, co);
        }
        n + self.ch(0) + 1
    }
}

/// BatchNorm + ReLU with PyTorch's conventions (momentum 0.1, eps 1e-5, unbiased running
/// variance), computed by the fused [`BnRelu`] op. Variables: `weight`, `bias`, `running_mean`,
/// `running_var`, as in candle_nn and PyTorch.
pub(super) struct BnReluLayer {
    pub(super) gamma: Tensor,
    pub(super) beta: Tensor,
    running_mean: Var,
    running_var: Var,
}

pub(super) const BN_EPS: f32 = 1e-5;
const BN_MOMENTUM: f32 = 0.1;

impl BnReluLayer {
    fn new(vm: &VarMap, name: &str, c: usize) -> Result<Self> {
        let konst = |suffix: &str, v: f32| -> Result<Var> {
            let var = Var::from_vec(vec![v; c], c, &Device::Cpu)?;
            insert(vm, &format!("{name}.{suffix}"), var.clone())?;
            Ok(var)
        };
        Ok(Self {
            gamma: konst("weight", 1.0)?.as_tensor().clone(),
            beta: konst("bias", 0.0)?.as_tensor().clone(),
            running_mean: konst("running_mean", 0.0)?,
            running_var: konst("running_var", 1.0)?,
        })
    }

    /// Running statistics after a training batch of `n` values per channel with batch (mean,
    /// biased variance) `st`: PyTorch's rule, with the unbiased variance.
    pub(super) fn update_running(&self, st: &[(f32, f32)], n: usize) -> Result<()> {
        let n = n as f32;
        let unbias = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
        let (m, v): (Vec<f32>, Vec<f32>) =
            (self.running_mean.to_vec1()?, self.running_var.to_vec1()?);
        let m: Vec<f32> = m
            .iter()
            .zip(st)
            .map(|(r, s)| r * (1.0 - BN_MOMENTUM) + s.0 * BN_MOMENTUM)
            .collect();
        let v: Vec<f32> = v
            .iter()
            .zip(st)
            .map(|(r, s)| r * (1.0 - BN_MOMENTUM) + s.1 * unbias * BN_MOMENTUM)
            .collect();
        let c = m.len();
        self.running_mean
            .set(&Tensor::from_vec(m, c, &Device::Cpu)?)?;
        self.running_var.set(&Tensor::from_vec(v, c, &Device::Cpu)?)
    }

    /// Evaluation statistics: the running (mean, variance) per channel.
    pub(super) fn running(&self) -> Result<Vec<(f32, f32)>> {
        let (m, v): (Vec<f32>, Vec<f32>) =
            (self.running_mean.to_vec1()?, self.running_var.to_vec1()?);
        Ok(m.into_iter().zip(v).collect())
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        timed("bn_relu forward", || self.forward_inner(x, train))
    }

    fn forward_inner(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let x = x.contiguous()?;
        if !train {
            let (m, v): (Vec<f32>, Vec<f32>) =
                (self.running_mean.to_vec1()?, self.running_var.to_vec1()?);
            let op = BnRelu {
                eps: BN_EPS,
                fixed: Some(m.into_iter().zip(v).collect()),
                stats: Default::default(),
            };
            return x.apply_op3_no_bwd(&self.gamma, &self.beta, &op);
        }
        let stats = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let y = x.apply_op3(
            &self.gamma,
            &self.beta,
            BnRelu {
                eps: BN_EPS,
                fixed: None,
                stats: stats.clone(),
            },
        )?;
        let st = stats
            .lock()
            .map_err(|_| candle_core::Error::Msg("poisoned".into()))?
            .clone();
        let (b, _, h, w) = x.dims4()?;
        self.update_running(&st, b * h * w)?;
        Ok(y)
    }
}

pub(super) struct Block {
    pub(super) w1: Tensor,
    pub(super) bn1: BnReluLayer,
    pub(super) w2: Tensor,
    pub(super) bn2: BnReluLayer,
}

impl Block {
    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let x = self.bn1.forward(&conv3x3(x, &self.w1)?, train)?;
        self.bn2.forward(&conv3x3(&x, &self.w2)?, train)
    }
}

pub(super) struct Up {
    pub(super) w: Tensor,
    pub(super) b: Tensor,
}

pub struct UNet {
    pub cfg: UNetConfig,
    pub(super) enc: Vec<Block>,
    pub(super) ups: Vec<Up>,
    pub(super) dec: Vec<Block>,
    pub(super) head_w: Tensor,
    pub(super) head_b: Tensor,
}

/// Creates a variable in `vm` with seeded values (candle's CPU generator cannot be seeded).
fn var(vm: &VarMap, name: &str, shape: &[usize], std: f32, rng: &mut StdRng) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = if std == 0.0 {
        vec![0.0; n]
    } else {
        let d = Normal::new(0.0, std).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        (0..n).map(|_| d.sample(rng)).collect()
    };
    let var = Var::from_vec(v, shape, &Device::Cpu)?;
    let t = var.as_tensor().clone();
    insert(vm, name, var)?;
    Ok(t)
}

fn insert(vm: &VarMap, name: &str, var: Var) -> Result<()> {
    vm.data()
        .lock()
        .map_err(|_| candle_core::Error::Msg("variable map poisoned".into()))?
        .insert(name.into(), var);
    Ok(())
}

impl UNet {
    /// Builds the model with its variables in `vm` (Kaiming-normal convs, seeded).
    pub fn new(cfg: UNetConfig, vm: &VarMap, seed: u64) -> anyhow::Result<Self> {
        cfg.validate()?;
        gradlab_kernels::alloc::keep_freed_buffers();
        let mut rng = StdRng::seed_from_u64(seed);
        let block = |name: &str, ci: usize, co: usize, rng: &mut StdRng| -> Result<Block> {
            Ok(Block {
                w1: var(
                    vm,
                    &format!("{name}.conv1.weight"),
                    &[co, ci * 9],
                    (2.0 / (ci * 9) as f32).sqrt(),
                    rng,
                )?,
                bn1: BnReluLayer::new(vm, &format!("{name}.bn1"), co)?,
                w2: var(
                    vm,
                    &format!("{name}.conv2.weight"),
                    &[co, co * 9],
                    (2.0 / (co * 9) as f32).sqrt(),
                    rng,
                )?,
                bn2: BnReluLayer::new(vm, &format!("{name}.bn2"), co)?,
            })
        };
        let mut enc = Vec::new();
        for l in 0..cfg.depth {
            let ci = if l == 0 { 1 } else { cfg.ch(l - 1) };
            enc.push(block(&format!("enc{l}"), ci, cfg.ch(l), &mut rng)?);
        }
        let (mut ups, mut dec) = (Vec::new(), Vec::new());
        for l in (0..cfg.depth - 1).rev() {
            let (ci, co) = (cfg.ch(l + 1), cfg.ch(l));
            ups.push(Up {
                w: var(
                    vm,
                    &format!("up{l}.weight"),
                    &[ci, co, 2, 2],
                    (1.0 / ci as f32).sqrt(),
                    &mut rng,
                )?,
                b: var(vm, &format!("up{l}.bias"), &[co], 0.0, &mut rng)?,
            });
            dec.push(block(
                &format!("dec{l}"),
                if cfg.skips { 2 * co } else { co },
                co,
                &mut rng,
            )?);
        }
        let c0 = cfg.ch(0);
        let head_w = var(
            vm,
            "head.weight",
            &[1, c0],
            (1.0 / c0 as f32).sqrt(),
            &mut rng,
        )?;
        let head_b = var(vm, "head.bias", &[1], 0.0, &mut rng)?;
        Ok(Self {
            cfg,
            enc,
            ups,
            dec,
            head_w,
            head_b,
        })
    }

    /// Logits `[b, 1, h, w]` for input `[b, 1, h, w]` of any size.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let m = self.cfg.multiple();
        let (ph, pw) = (h.div_ceil(m) * m - h, w.div_ceil(m) * m - w);
        let mut x = x.clone();
        if ph > 0 {
            x = x.pad_with_same(2, 0, ph)?;
        }
        if pw > 0 {
            x = x.pad_with_same(3, 0, pw)?;
        }
        let mut skips = Vec::new();
        for (l, b) in self.enc.iter().enumerate() {
            if l > 0 {
                x = timed("max_pool forward", || max_pool2x2(&x))?;
            }
            x = b.forward(&x, train)?;
            skips.push(x.clone());
        }
        skips.pop();
        for (up, b) in self.ups.iter().zip(&self.dec) {
            let u = timed("up2x2 forward", || up2x2(&x, &up.w, &up.b))?;
            let s = skips
                .pop()
                .ok_or_else(|| candle_core::Error::Msg("unbalanced U-Net".into()))?;
            x = b.forward(
                &if self.cfg.skips {
                    timed("cat forward", || Tensor::cat(&[&u, &s], 1))?
                } else {
                    u
                },
                train,
            )?;
        }
        let y = conv1x1(&x, &self.head_w, &self.head_b)?;
        if ph > 0 || pw > 0 {
            y.narrow(2, 0, h)?.narrow(3, 0, w)
        } else {
            Ok(y)
        }
    }
}

/// Trainable variables (BatchNorm running statistics are updated by the forward pass, not by the
/// optimiser) and their element count.
pub fn trainable(vm: &VarMap) -> Vec<Var> {
    let data = vm.data().lock().expect("variable map poisoned");
    let mut named: Vec<(&String, &Var)> = data
        .iter()
        .filter(|(n, _)| !n.contains("running_"))
        .collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    named.into_iter().map(|(_, v)| v.clone()).collect()
}

pub fn count(vars: &[Var]) -> usize {
    vars.iter().map(|v| v.elem_count()).sum()
}

/// Mean binary cross-entropy with logits in the stable form relu(x) - x t + log(1 + exp(-|x|)),
/// plus `dice` times the soft Dice loss of class 1.
pub fn loss(logits: &Tensor, target: &Tensor, dice: f64) -> Result<Tensor> {
    let bce = (logits.relu()? - (logits * target)?)?;
    let bce = (bce + ((logits.abs()?.neg()?.exp()? + 1.0)?.log()?))?.mean_all()?;
    if dice <= 0.0 {
        return Ok(bce);
    }
    let p = candle_nn::ops::sigmoid(logits)?;
    let inter = (&p * target)?.sum_all()?;
    let denom = ((p.sum_all()? + target.sum_all()?)? + 1.0)?;
    let d = (((inter * 2.0)? + 1.0)? / denom)?;
    bce + ((d.neg()? + 1.0)? * dice)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(h: usize, w: usize) -> Tensor {
        let v: Vec<f32> = (0..h * w)
            .map(|i| ((i * 7919) % 97) as f32 / 97.0)
            .collect();
        Tensor::from_vec(v, (1, 1, h, w), &Device::Cpu).unwrap()
    }

    #[test]
    fn output_has_input_size_for_odd_sizes() {
        let vm = VarMap::new();
        let net = UNet::new(
            UNetConfig {
                depth: 3,
                base: 4,
                skips: true,
            },
            &vm,
            0,
        )
        .unwrap();
        for (h, w) in [(13, 7), (16, 16), (1, 5), (33, 20)] {
            let y = net.forward_t(&input(h, w), false).unwrap();
            assert_eq!(y.dims(), &[1, 1, h, w]);
        }
    }

    #[test]
    fn skip_toggle_changes_parameters_and_output() {
        let (vm_on, vm_off) = (VarMap::new(), VarMap::new());
        let on = UNet::new(
            UNetConfig {
                depth: 3,
                base: 4,
                skips: true,
            },
            &vm_on,
            0,
        )
        .unwrap();
        let off = UNet::new(
            UNetConfig {
                depth: 3,
                base: 4,
                skips: false,
            },
            &vm_off,
            0,
        )
        .unwrap();
        let (n_on, n_off) = (count(&trainable(&vm_on)), count(&trainable(&vm_off)));
        assert_eq!(n_on, on.cfg.param_count());
        assert_eq!(n_off, off.cfg.param_count());
        // Decoder first convs: (2c)*c*9 vs c*c*9 at each level.
        assert_eq!(n_on - n_off, 4 * 4 * 9 + 8 * 8 * 9);
        let x = input(16, 16);
        let (a, b) = (
            on.forward_t(&x, false).unwrap(),
            off.forward_t(&x, false).unwrap(),
        );
        let d = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(d > 1e-3, "outputs identical");
    }

    #[test]
    fn param_count_matches_pytorch_reference_layout() {
        // unet_bench.py --up transpose, 1 input channel: convs without bias, BN affine,
        // ConvTranspose2d with bias, 1x1 head with bias.
        let c = UNetConfig {
            depth: 4,
            base: 16,
            skips: true,
        };
        let conv = |ci: usize, co: usize| ci * co * 9 + 2 * co;
        let block = |ci, co| conv(ci, co) + conv(co, co);
        let enc = block(1, 16) + block(16, 32) + block(32, 64) + block(64, 128);
        let up = |ci: usize, co: usize| ci * co * 4 + co;
        let dec =
            up(128, 64) + block(128, 64) + up(64, 32) + block(64, 32) + up(32, 16) + block(32, 16);
        assert_eq!(c.param_count(), enc + dec + 16 + 1);
    }

    #[test]
    fn loss_is_stable_for_huge_logits() {
        let x = Tensor::new(&[[1e4f32, -1e4, 0.0]], &Device::Cpu).unwrap();
        let t = Tensor::new(&[[0f32, 1.0, 1.0]], &Device::Cpu).unwrap();
        let l = loss(&x, &t, 0.0).unwrap().to_scalar::<f32>().unwrap();
        let want = (1e4 + 1e4 + std::f32::consts::LN_2) / 3.0;
        assert!((l - want).abs() / want < 1e-5, "{l} vs {want}");
        let ld = loss(&x, &t, 1.0).unwrap().to_scalar::<f32>().unwrap();
        assert!(ld.is_finite() && ld > l);
    }

    /// Per channel f64 (mean, unbiased variance, biased variance) of `[b, c, h, w]` data.
    fn f64_stats(x: &[f32], (b, c, hw): (usize, usize, usize)) -> Vec<(f64, f64, f64)> {
        (0..c)
            .map(|ch| {
                let vals: Vec<f64> = (0..b)
                    .flat_map(|bi| x[(bi * c + ch) * hw..(bi * c + ch + 1) * hw].iter())
                    .map(|&v| v as f64)
                    .collect();
                let n = vals.len() as f64;
                let mean = vals.iter().sum::<f64>() / n;
                let ss = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>();
                (mean, ss / (n - 1.0), ss / n)
            })
            .collect()
    }

    #[test]
    fn batch_norm_eval_mode_matches_candle_and_pytorch_rule_after_training_steps() {
        use crate::core::test_util::{max_diff, randn};
        use candle_nn::ModuleT;
        let (b, c, h, w) = (3, 5, 4, 6);
        let vm = VarMap::new();
        let ours = BnReluLayer::new(&vm, "bn", c).unwrap();
        let (gamma, beta) = (
            (randn(&[c], 1) + 1.5).unwrap(),
            (randn(&[c], 2) * 0.5).unwrap(),
        );
        {
            let data = vm.data().lock().unwrap();
            data["bn.weight"].set(&gamma).unwrap();
            data["bn.bias"].set(&beta).unwrap();
        }
        let theirs = candle_nn::BatchNorm::new(
            c,
            Tensor::zeros(c, candle_core::DType::F32, &Device::Cpu).unwrap(),
            Tensor::ones(c, candle_core::DType::F32, &Device::Cpu).unwrap(),
            gamma.clone(),
            beta.clone(),
            BN_EPS as f64,
        )
        .unwrap();
        // PyTorch's documented rule, in f64: running = (1 - m) running + m batch_stat, with the
        // unbiased batch variance.
        let (mut rm, mut rv) = (vec![0f64; c], vec![1f64; c]);
        for step in 0..4u64 {
            // Shifted and scaled differently per step so the running statistics move.
            let x = (randn(&[b, c, h, w], 10 + step) * (1.0 + step as f64))
                .unwrap()
                .affine(1.0, step as f64 - 1.5)
                .unwrap();
            ours.forward(&x, true).unwrap();
            theirs.forward_t(&x, true).unwrap();
            let xv: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
            for (ch, (mean, unbiased, _)) in f64_stats(&xv, (b, c, h * w)).into_iter().enumerate() {
                rm[ch] = (1.0 - BN_MOMENTUM as f64) * rm[ch] + BN_MOMENTUM as f64 * mean;
                rv[ch] = (1.0 - BN_MOMENTUM as f64) * rv[ch] + BN_MOMENTUM as f64 * unbiased;
            }
        }
        let got_m: Vec<f32> = ours.running_mean.to_vec1().unwrap();
        let got_v: Vec<f32> = ours.running_var.to_vec1().unwrap();
        for ch in 0..c {
            assert!(
                (got_m[ch] as f64 - rm[ch]).abs() < 1e-5,
                "running mean {ch}"
            );
            assert!(
                (got_v[ch] as f64 - rv[ch]).abs() < 1e-4 * rv[ch],
                "running var {ch}"
            );
        }
        assert!(max_diff(ours.running_mean.as_tensor(), theirs.running_mean()) < 1e-5);
        assert!(max_diff(ours.running_var.as_tensor(), theirs.running_var()) < 1e-4);
        // Evaluation mode uses the running statistics: same as candle's forward_t(false) + relu
        // and as the f64 formula.
        let x = randn(&[b, c, h, w], 99);
        let y = ours.forward(&x, false).unwrap();
        let want = theirs.forward_t(&x, false).unwrap().relu().unwrap();
        assert!(max_diff(&y, &want) < 1e-5, "eval output vs candle");
        let (xv, yv): (Vec<f32>, Vec<f32>) = (
            x.flatten_all().unwrap().to_vec1().unwrap(),
            y.flatten_all().unwrap().to_vec1().unwrap(),
        );
        let (gv, bv): (Vec<f32>, Vec<f32>) = (gamma.to_vec1().unwrap(), beta.to_vec1().unwrap());
        for (i, (&xi, &yi)) in xv.iter().zip(&yv).enumerate() {
            let ch = (i / (h * w)) % c;
            let z = (xi as f64 - rm[ch]) / (rv[ch] + BN_EPS as f64).sqrt() * gv[ch] as f64
                + bv[ch] as f64;
            assert!((yi as f64 - z.max(0.0)).abs() < 1e-4, "eval element {i}");
        }
    }
}
