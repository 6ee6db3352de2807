//! The one config of the Theory lab: which check, with which parameters. The GUI edits the
//! parameters with sliders; `gradlab theory` sets them with one flag per knob
//! (`--rnn-sigmoid-bound-n-max 10`, see `flags.rs`), at their defaults unless given.

use serde::{Deserialize, Serialize};

use super::TheoryParams;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default)]
pub struct TheoryConfig {
    /// Run only this check (one of: relu_chain, rnn_sigmoid_bound, linear_attention,
    /// lowrank_attention, attention_conv1d, attention_maxpool, jl_near_orthogonal).
    #[arg(long, value_name = "ID")]
    pub check: Option<String>,
    /// The parameters of every check: one flag per knob, `--CHECK-KNOB V` (see `--help`).
    #[command(flatten)]
    pub params: TheoryParams,
}
