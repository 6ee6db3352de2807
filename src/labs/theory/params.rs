//! The parameters of every check in one value: what the GUI persists and the CLI runs with.

use serde::{Deserialize, Serialize};

/// The parameters of all seven checks (what the GUI persists and the CLI runs with).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TheoryParams {
    pub relu_chain: super::relu_chain::Params,
    pub rnn_sigmoid_bound: super::rnn_sigmoid_bound::Params,
    pub linear_attention: super::linear_attention::Params,
    pub lowrank_attention: super::lowrank_attention::Params,
    pub attention_conv1d: super::attention_conv1d::Params,
    pub attention_maxpool: super::attention_maxpool::Params,
    pub jl_near_orthogonal: super::jl_near_orthogonal::Params,
}
