//! The three models behind one interface, so training and the UI treat them alike.

use candle_core::{Result, Tensor, Var};
use rand::rngs::SmallRng;

use super::config::{GraphConfig, ModelKind};
use super::gat::Gat;
use super::gcn::Gcn;
use super::mlp::Mlp;
use super::prep::{Features, Prepared};

/// What one forward pass gives.
pub struct Forward {
    /// Unnormalised class scores, N x C.
    pub logits: Tensor,
    /// The hidden layer's output (after its nonlinearity), N x hidden: what the PCA shows.
    pub hidden: Tensor,
    /// GAT only: first-layer attention coefficients, E x heads (edges as in `Prepared::edges`).
    pub attention: Option<Tensor>,
}

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

/// The input features, with dropout when training asks for it (on the stored entries of sparse
/// features, on every entry of dense ones).
pub fn input_features(
    p: &Prepared,
    cfg: &GraphConfig,
    train: bool,
    rng: &mut SmallRng,
) -> Result<Features> {
    if train && cfg.input_dropout && cfg.dropout > 0.0 {
        p.x.dropped(cfg.dropout, rng)
    } else {
        Ok(p.x.clone())
    }
}

/// Adds a bias row vector when there is one.
pub fn add_bias(x: Tensor, b: &Option<Var>) -> Result<Tensor> {
    match b {
        Some(b) => x.broadcast_add(b.as_tensor()),
        None => Ok(x),
    }
}
