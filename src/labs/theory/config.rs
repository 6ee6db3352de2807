//! The one config of the Theory lab: which check, with which parameters. The GUI edits the
//! parameters with sliders; `gradlab theory` runs them at their defaults.

use serde::{Deserialize, Serialize};

use super::TheoryParams;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default)]
pub struct TheoryConfig {
    /// Run only this check (one of: relu_chain, rnn_sigmoid_bound, linear_attention,
    /// lowrank_attention, attention_conv1d, attention_maxpool, jl_near_orthogonal).
    #[arg(long, value_name = "ID")]
    pub check: Option<String>,
    /// The parameters of every check (not on the command line: the defaults the GUI starts at).
    #[arg(skip)]
    pub params: TheoryParams,
}
