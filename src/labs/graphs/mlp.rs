//! A two-layer perceptron on the features alone: what the graph adds is measured against it.

use candle_core::{Result, Var};
use rand::rngs::SmallRng;

use super::config::GraphConfig;
use super::layers::{Forward, add_bias, input_features};
use super::prep::Prepared;
use crate::core::nn::{dropout, uniform_var};

pub struct Mlp {
    w1: Var,
    b1: Option<Var>,
    w2: Var,
    b2: Option<Var>,
    cfg: GraphConfig,
}

impl Mlp {
    pub fn new(cfg: &GraphConfig, fin: usize, classes: usize, rng: &mut SmallRng) -> Result<Self> {
        let s1 = 1.0 / (cfg.hidden as f64).sqrt();
        let s2 = 1.0 / (classes as f64).sqrt();
        Ok(Self {
            w1: uniform_var(rng, &[fin, cfg.hidden], s1)?,
            b1: if cfg.bias {
                Some(uniform_var(rng, &[cfg.hidden], s1)?)
            } else {
                None
            },
            w2: uniform_var(rng, &[cfg.hidden, classes], s2)?,
            b2: if cfg.bias {
                Some(uniform_var(rng, &[classes], s2)?)
            } else {
                None
            },
            cfg: cfg.clone(),
        })
    }

    pub fn forward(&self, p: &Prepared, train: bool, rng: &mut SmallRng) -> Result<Forward> {
        let x = input_features(p, &self.cfg, train, rng)?;
        let h = add_bias(x.matmul(self.w1.as_tensor())?, &self.b1)?.relu()?;
        let hd = dropout(&h, self.cfg.dropout, train, rng)?;
        let logits = add_bias(hd.matmul(self.w2.as_tensor())?, &self.b2)?;
        Ok(Forward {
            logits,
            hidden: h,
            attention: None,
        })
    }

    pub fn vars(&self) -> Vec<Var> {
        let mut v = vec![self.w1.clone(), self.w2.clone()];
        v.extend(self.b1.iter().chain(&self.b2).cloned());
        v
    }
}
