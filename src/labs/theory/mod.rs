//! The Theory lab: seven claims from the homework, each turned into a numerical check that can
//! fail. A check takes its parameters, a sink for live curves and a stop flag, and returns a
//! [`CheckResult`]; [`run_all`] runs them in order for the CLI, the bench and the GUI's "Run all".

pub mod attention_conv1d;
pub mod attention_maxpool;
pub mod check;
pub mod claims;
pub mod cli;
pub mod config;
pub mod descriptor;
pub mod jl_near_orthogonal;
pub mod keys;
pub mod knob;
pub mod linalg;
pub mod linear_attention;
pub mod lowrank_attention;
pub mod params;
pub mod readable;
pub mod relu_chain;
pub mod report;
pub mod rnn_sigmoid_bound;
mod suite;
pub mod timing;
pub mod ui;

pub use check::Check;
pub use claims::*;
pub use descriptor::DESCRIPTOR;
pub use keys::metric;
pub use params::TheoryParams;
pub use suite::*;
