//! The three models behind one interface, so training and the UI treat them alike.

use candle_core::{Result, Var};
use rand::rngs::SmallRng;

use super::config::{GraphConfig, ModelKind};
use super::gat::Gat;
use super::gcn::Gcn;
pub use super::layers::Forward;
use super::mlp::Mlp;
use super::prep::Prepared;

pub enum Net {
    Gcn(Gcn),
    Gat(Gat),
    Mlp(Mlp),
}

impl Net {
    pub fn new(cfg: &GraphConfig, p: &Prepared, rng: &mut SmallRng) -> Result<Net> {
        Ok(match cfg.model {
            ModelKind::Gcn => Net::Gcn(Gcn::new(cfg, p.num_features, p.num_classes, rng)?),
            ModelKind::Gat => Net::Gat(Gat::new(cfg, p.num_features, p.num_classes, rng)?),
            ModelKind::Mlp => Net::Mlp(Mlp::new(cfg, p.num_features, p.num_classes, rng)?),
        })
    }

    pub fn forward(&self, p: &Prepared, train: bool, rng: &mut SmallRng) -> Result<Forward> {
        match self {
            Net::Gcn(m) => m.forward(p, train, rng),
            Net::Gat(m) => m.forward(p, train, rng),
            Net::Mlp(m) => m.forward(p, train, rng),
        }
    }

    pub fn vars(&self) -> Vec<Var> {
        match self {
            Net::Gcn(m) => m.vars(),
            Net::Gat(m) => m.vars(),
            Net::Mlp(m) => m.vars(),
        }
    }

    pub fn param_count(&self) -> usize {
        self.vars().iter().map(|v| v.elem_count()).sum()
    }
}
