//! AdamW as one pass per parameter tensor (candle_nn's AdamW makes about 14 tensor ops, each a
//! new buffer, per parameter per step). Same update as candle_nn's, in the same f32
//! arithmetic: theta <- theta (1 - lr wd) - lr m_hat / (sqrt(v_hat) + eps).

/// AdamW's hyper-parameters (candle_nn's `ParamsAdamW`, field for field).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hyper {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

/// The f32 constants of step `t` (1 for the first), computed once per step for every tensor.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    b1: f32,
    b2: f32,
    c1: f32,
    c2: f32,
    scale_m: f32,
    scale_v: f32,
    decay: f32,
    lr: f32,
    eps: f32,
}

impl Step {
    pub fn new(p: &Hyper, t: usize) -> Self {
        Self {
            b1: p.beta1 as f32,
            b2: p.beta2 as f32,
            c1: (1.0 - p.beta1) as f32,
            c2: (1.0 - p.beta2) as f32,
            scale_m: (1.0 / (1.0 - p.beta1.powi(t as i32))) as f32,
            scale_v: (1.0 / (1.0 - p.beta2.powi(t as i32))) as f32,
            decay: (1.0 - p.lr * p.weight_decay) as f32,
            lr: p.lr as f32,
            eps: p.eps as f32,
        }
    }

    /// The updated parameters from `theta` and its gradient `g`, updating the moments `m` and
    /// `v` in place (all four of one length).
    pub fn apply(&self, theta: &[f32], g: &[f32], m: &mut [f32], v: &mut [f32]) -> Vec<f32> {
        assert!(g.len() == theta.len() && m.len() == theta.len() && v.len() == theta.len());
        let Self {
            b1,
            b2,
            c1,
            c2,
            scale_m,
            scale_v,
            decay,
            lr,
            eps,
        } = *self;
        let mut out = Vec::with_capacity(theta.len());
        for (((th, gv), mv), vv) in theta.iter().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            *mv = *mv * b1 + gv * c1;
            *vv = *vv * b2 + gv * gv * c2;
            let (mh, vh) = (*mv * scale_m, *vv * scale_v);
            out.push(th * decay - mh / (vh.sqrt() + eps) * lr);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_steps_follow_the_definition_in_f64() {
        let p = Hyper {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.1,
        };
        let mut theta = vec![0.5f32, -1.0, 2.0, 0.0];
        let (mut m, mut v) = (vec![0f32; 4], vec![0f32; 4]);
        let (mut rt, mut rm, mut rv): (Vec<f64>, _, _) = (
            theta.iter().map(|&t| t as f64).collect(),
            vec![0f64; 4],
            vec![0f64; 4],
        );
        for t in 1..=3 {
            let g = [0.1f32 * t as f32, -0.2, 0.0, 1.5];
            theta = Step::new(&p, t).apply(&theta, &g, &mut m, &mut v);
            for i in 0..4 {
                let gv = g[i] as f64;
                rm[i] = rm[i] * p.beta1 + gv * (1.0 - p.beta1);
                rv[i] = rv[i] * p.beta2 + gv * gv * (1.0 - p.beta2);
                let mh = rm[i] / (1.0 - p.beta1.powi(t as i32));
                let vh = rv[i] / (1.0 - p.beta2.powi(t as i32));
                rt[i] = rt[i] * (1.0 - p.lr * p.weight_decay) - p.lr * mh / (vh.sqrt() + p.eps);
            }
        }
        for (a, r) in theta.iter().zip(&rt) {
            assert!((*a as f64 - r).abs() < 1e-6, "{a} vs {r}");
        }
    }
}
