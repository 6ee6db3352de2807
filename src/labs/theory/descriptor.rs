//! The Theory lab described once: its names, its main figure and how its runs appear in a
//! report (verdicts, not curves).

use crate::core::descriptor::{LabDescriptor, Metric, XAxis};

/// The metric keys the Theory lab records.
pub mod metric {
    /// How many of the run's checks hold as stated.
    pub const CHECKS_HOLDING: &str = "checks_holding";
}

pub const DESCRIPTOR: LabDescriptor = LabDescriptor {
    id: "theory",
    title: "Theory",
    report_title: "Theory checks",
    cli_aliases: &[],
    summary: &[Metric::higher(metric::CHECKS_HOLDING, XAxis::None)],
    curves: &[],
    references: &[],
    report: Some(super::report::blocks),
    config: Some(super::cli::print_config),
    sweep: Some(super::cli::SWEEP),
};
