//! What the three models share: the forward pass's output, the input features with dropout and
//! the bias. The models use these; the dispatch in `model.rs` uses the models.

use candle_core::{Result, Tensor, Var};
use rand::rngs::SmallRng;

use super::config::GraphConfig;
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
