//! The small pieces every model here needs: seeded initialisation and dropout (candle's CPU RNG
//! cannot be seeded, and runs must repeat), and Adam with PyTorch's coupled L2 weight decay.

use candle_core::{Device, Result, Tensor, Var};
use rand::Rng;
use rand::rngs::SmallRng;

/// A parameter drawn uniformly from [-bound, bound].
pub fn uniform_var(rng: &mut SmallRng, shape: &[usize], bound: f64) -> Result<Var> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| rng.random_range(-bound..=bound) as f32)
        .collect();
    Var::from_tensor(&Tensor::from_vec(v, shape, &Device::Cpu)?)
}

/// Glorot/Xavier uniform with a gain, as `nn.init.xavier_uniform_` (fan_in, fan_out = the two
/// dimensions of a matrix).
pub fn xavier_var(
    rng: &mut SmallRng,
    shape: &[usize],
    fan_in: usize,
    fan_out: usize,
    gain: f64,
) -> Result<Var> {
    let bound = gain * (6.0 / (fan_in + fan_out) as f64).sqrt();
    uniform_var(rng, shape, bound)
}

pub fn zeros_var(shape: &[usize]) -> Result<Var> {
    Var::zeros(shape, candle_core::DType::F32, &Device::Cpu)
}

/// Inverted-dropout multipliers: 0 with probability `p`, else 1/(1-p).
pub fn dropout_mask(rng: &mut SmallRng, n: usize, p: f32) -> Vec<f32> {
    let keep = 1.0 / (1.0 - p);
    (0..n)
        .map(|_| if rng.random::<f32>() < p { 0.0 } else { keep })
        .collect()
}

/// Dropout with the run's own RNG; identity when `p == 0` or not training.
pub fn dropout(x: &Tensor, p: f32, train: bool, rng: &mut SmallRng) -> Result<Tensor> {
    if !train || p <= 0.0 {
        return Ok(x.clone());
    }
    crate::core::kernels::mask_mul(x, dropout_mask(rng, x.elem_count(), p))
}

/// Adam as `torch.optim.Adam(params, lr, weight_decay=wd)`: the decay is added to the gradient
/// (L2 regularisation, moments see it), unlike candle_nn's AdamW, which decays the weights
/// directly. The published GCN/GAT numbers were obtained with this coupled form.
pub struct Adam {
    pub lr: f64,
    pub weight_decay: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    t: i32,
    state: Vec<(Var, Vec<f32>, Vec<f32>)>,
}

impl Adam {
    pub fn new(vars: Vec<Var>, lr: f64, weight_decay: f64) -> Self {
        let state = vars
            .into_iter()
            .map(|v| {
                let n = v.elem_count();
                (v, vec![0f32; n], vec![0f32; n])
            })
            .collect();
        Self {
            lr,
            weight_decay,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            t: 0,
            state,
        }
    }

    pub fn step(&mut self, grads: &candle_core::backprop::GradStore) -> Result<()> {
        self.t += 1;
        let bc1 = 1.0 - self.beta1.powi(self.t);
        let bc2 = 1.0 - self.beta2.powi(self.t);
        let step = (self.lr / bc1) as f32;
        let (b1, b2, wd, eps) = (
            self.beta1 as f32,
            self.beta2 as f32,
            self.weight_decay as f32,
            self.eps as f32,
        );
        let sqrt_bc2 = bc2.sqrt() as f32;
        for (var, m, v) in &mut self.state {
            // A parameter the loss does not reach (e.g. an unused bias) keeps its value.
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let g = g.flatten_all()?.to_vec1::<f32>()?;
            let mut p = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            for i in 0..p.len() {
                let gi = g[i] + wd * p[i];
                m[i] = b1 * m[i] + (1.0 - b1) * gi;
                v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
                p[i] -= step * m[i] / (v[i].sqrt() / sqrt_bc2 + eps);
            }
            var.set(&Tensor::from_vec(p, var.shape(), var.device())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn adam_first_step_moves_by_lr_against_the_gradient_sign() -> Result<()> {
        // With bias correction, Adam's first step is lr * sign(g) (g + wd*p here).
        let v = Var::from_tensor(&Tensor::new(&[1.0f32, -2.0], &Device::Cpu)?)?;
        let mut opt = Adam::new(vec![v.clone()], 0.1, 0.0);
        let loss = (v.as_tensor().sqr()?.sum_all()? * 0.5)?;
        opt.step(&loss.backward()?)?;
        let p = v.as_tensor().to_vec1::<f32>()?;
        assert!(
            (p[0] - 0.9).abs() < 1e-5 && (p[1] + 1.9).abs() < 1e-5,
            "{p:?}"
        );
        Ok(())
    }

    #[test]
    fn weight_decay_alone_shrinks_weights() -> Result<()> {
        let v = Var::from_tensor(&Tensor::new(&[3.0f32], &Device::Cpu)?)?;
        let other = Var::from_tensor(&Tensor::new(&[1.0f32], &Device::Cpu)?)?;
        let mut opt = Adam::new(vec![v.clone()], 0.01, 0.5);
        // A loss with a negligible gradient: the decay term (0.5 * 3) dominates and shrinks v.
        let loss = (v.as_tensor() * 1e-12)?
            .sum_all()?
            .add(&other.as_tensor().sum_all()?)?;
        for _ in 0..10 {
            opt.step(&loss.backward()?)?;
        }
        let p = v.as_tensor().to_vec1::<f32>()?[0];
        assert!(p < 3.0 - 0.09, "{p}");
        Ok(())
    }

    #[test]
    fn dropout_mask_keeps_expectation() {
        let mut rng = SmallRng::seed_from_u64(1);
        let m = dropout_mask(&mut rng, 100_000, 0.6);
        let mean = m.iter().sum::<f32>() / m.len() as f32;
        assert!((mean - 1.0).abs() < 0.02, "{mean}");
        let zeros = m.iter().filter(|&&x| x == 0.0).count() as f32 / m.len() as f32;
        assert!((zeros - 0.6).abs() < 0.01);
    }
}
