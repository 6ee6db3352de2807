//! The Theory lab described once: its names, its main figure and how its runs appear in a
//! report (verdicts, not curves).

use super::keys::{self, metric};
use crate::core::descriptor::{LabDescriptor, Metric, XAxis};

pub const DESCRIPTOR: LabDescriptor = LabDescriptor {
    id: keys::ID,
    title: "Theory",
    report_title: "Theory checks",
    cli_aliases: &[],
    summary: &[
        Metric::higher(metric::CHECKS_HOLDING, XAxis::None),
        Metric::neither(metric::JL_COUNT, XAxis::None),
        Metric::neither(metric::RNN_RATIO_AT_N_MAX, XAxis::None),
    ],
    curves: &[],
    references: &[],
    report: Some(super::report::blocks),
    config: Some(super::cli::print_config),
    sweep: Some(super::cli::SWEEP),
};
