//! AdamW over candle variables, one pass per parameter tensor (`gradlab_kernels::adamw`): the
//! same update as candle_nn's, in the same f32 arithmetic.

use std::collections::HashMap;

use candle_core::{Result, Tensor, TensorId, Var, bail};
use candle_nn::ParamsAdamW;
use gradlab_kernels::adamw::{Hyper, Step};

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
        let hyper = Hyper {
            lr: p.lr,
            beta1: p.beta1,
            beta2: p.beta2,
            eps: p.eps,
            weight_decay: p.weight_decay,
        };
        let step = Step::new(&hyper, self.t);
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
            let next = with_f32(var.as_tensor(), |theta| Ok(step.apply(theta, g, m, v)))?;
            var.set(&Tensor::from_vec(next, var.shape(), var.device())?)?;
        }
        Ok(())
    }
}
