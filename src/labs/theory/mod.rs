//! The Theory lab: seven claims from the homework, each turned into a numerical check that can
//! fail. A check takes its parameters, a sink for live curves and a stop flag, and returns a
//! [`CheckResult`]; [`run_all`] runs them in order for the CLI, the bench and the GUI's "Run all".

pub(crate) mod attention_conv1d;
pub(crate) mod attention_maxpool;
pub mod check;
pub(crate) mod claims;
pub mod cli;
pub mod config;
pub mod descriptor;
pub(crate) mod flags;
pub(crate) mod jl_near_orthogonal;
pub mod keys;
pub(crate) mod knob;
pub(crate) mod linalg;
pub(crate) mod linear_attention;
pub(crate) mod lowrank_attention;
pub(crate) mod params;
pub mod presets;
pub(crate) mod readable;
pub(crate) mod relu_chain;
pub(crate) mod report;
pub(crate) mod rnn_sigmoid_bound;
mod suite;
pub(crate) mod timing;
pub mod ui;

pub use check::Check;
pub use claims::*;
pub use descriptor::DESCRIPTOR;
pub use keys::metric;
pub use params::TheoryParams;
pub use suite::*;
