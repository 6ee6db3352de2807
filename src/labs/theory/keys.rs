//! The names the Theory lab is known by, written once: its id (run store, persistence, job
//! kind, CLI subcommand) and the keys of the metrics it records. Everything else of the lab
//! refers to these.

/// The lab's id. Never change it: stored runs and settings are keyed by it.
pub const ID: &str = "theory";

/// The metric keys the Theory lab records.
pub mod metric {
    /// How many of the run's checks hold as stated.
    pub const CHECKS_HOLDING: &str = "checks_holding";
    /// A run records every check's numeric figures as `CHECK.FIGURE`; the ones a sweep reads:
    /// jl_near_orthogonal's count at its largest n delta^2 (of a run at one n and one delta: the
    /// vectors it found).
    pub const JL_COUNT: &str = "jl_near_orthogonal.count";
    /// rnn_sigmoid_bound's largest measured / bound ratio at n = n_max.
    pub const RNN_RATIO_AT_N_MAX: &str = "rnn_sigmoid_bound.max_ratio_at_n_max";
}
