//! AdamW as one pass per parameter tensor: candle_nn's AdamW makes about 14 tensor ops (each a
//! new buffer) per parameter per step. Same update as candle_nn's, in the same f32 arithmetic:
//! theta <- theta (1 - lr wd) - lr m_hat / (sqrt(v_hat) + eps).

use std::collections::HashMap;

use candle_core::{Result, Tensor, TensorId, Var, bail};
use candle_nn::ParamsAdamW;

use super::ops::with_f32;

pub struct FusedAdamW {
    vars: Vec<Var>,
    index: HashMap<TensorId, usize>,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    params: ParamsAdamW,
    t: usize,
}

impl FusedAdamW {
    pub fn new(vars: Vec<Var>, params: ParamsAdamW) -> Self {
        let index = vars
            .iter()
            .enumerate()
            .map(|(i, v)| (v.as_tensor().id(), i))
            .collect();
        let m = vars.iter().map(|v| vec![0f32; v.elem_count()]).collect();
        let v = vars.iter().map(|v| vec![0f32; v.elem_count()]).collect();
        Self {
            vars,
            index,
            m,
            v,
            params,
            t: 0,
        }
    }

    pub fn set_learning_rate(&mut self, lr: f64) {
        self.params.lr = lr;
    }

    /// One update from `grads` (tensor id, gradient); variables without a gradient keep their
    /// value (as in candle_nn).
    pub fn step(&mut self, grads: &[(TensorId, Vec<f32>)]) -> Result<()> {
        self.t += 1;
        let p = &self.params;
        let (b1, b2) = (p.beta1 as f32, p.beta2 as f32);
        let (c1, c2) = ((1.0 - p.beta1) as f32, (1.0 - p.beta2) as f32);
        let scale_m = (1.0 / (1.0 - p.beta1.powi(self.t as i32))) as f32;
        let scale_v = (1.0 / (1.0 - p.beta2.powi(self.t as i32))) as f32;
        let decay = (1.0 - p.lr * p.weight_decay) as f32;
        let (lr, eps) = (p.lr as f32, p.eps as f32);
        for (id, g) in grads {
            let Some(&i) = self.index.get(id) else {
                continue;
            };
            let var = &self.vars[i];
            if g.len() != var.elem_count() {
                bail!(
                    "gradient of {} values for a variable of {}",
                    g.len(),
                    var.elem_count()
                );
            }
            let (m, v) = (&mut self.m[i], &mut self.v[i]);
            let next = with_f32(var.as_tensor(), |theta| {
                let mut out = Vec::with_capacity(theta.len());
                for (((th, gv), mv), vv) in theta.iter().zip(g).zip(m.iter_mut()).zip(v.iter_mut())
                {
                    *mv = *mv * b1 + gv * c1;
                    *vv = *vv * b2 + gv * gv * c2;
                    let (mh, vh) = (*mv * scale_m, *vv * scale_v);
                    out.push(th * decay - mh / (vh.sqrt() + eps) * lr);
                }
                Ok(out)
            })?;
            var.set(&Tensor::from_vec(next, var.shape(), var.device())?)?;
        }
        Ok(())
    }
}
