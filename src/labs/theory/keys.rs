//! The names the Theory lab is known by, written once: its id (run store, persistence, job
//! kind, CLI subcommand) and the keys of the metrics it records. Everything else of the lab
//! refers to these.

/// The lab's id. Never change it: stored runs and settings are keyed by it.
pub const ID: &str = "theory";

/// The metric keys the Theory lab records.
pub mod metric {
    /// How many of the run's checks hold as stated.
    pub const CHECKS_HOLDING: &str = "checks_holding";
}
