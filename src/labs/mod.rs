//! The labs: one folder each with its config (`config.rs`), compute, GUI (`ui.rs`) and CLI glue
//! (`cli.rs`). [`labs`] is the one list: the tab bar, persistence and the UI tests loop over it.
//!
//! Adding a lab: write `src/labs/<name>/` with a type that implements [`Lab`], and add one line
//! to [`labs`] (plus one CLI subcommand line in `cli/mod.rs` if the lab has a headless run).
//! `tests/ui/hello_lab.rs` is a complete lab in one file.

pub mod datasets;
pub mod graphs;
pub mod lab;
pub mod runs;
pub mod segmentation;
pub mod sweeps;
#[cfg(test)]
pub mod test_world;
pub mod theory;

pub use lab::{CliOutput, Lab, LabDescriptor, TabCx, load_ron, save_ron};

/// Every lab of the app, in tab order.
pub fn labs() -> Vec<Box<dyn Lab>> {
    vec![
        Box::new(theory::ui::TheoryTab::default()),
        Box::new(graphs::ui::GraphsTab::default()),
        Box::new(segmentation::ui::SegmentationTab::default()),
        Box::new(datasets::ui::DatasetsTab::default()),
        Box::new(runs::RunsTab::default()),
        Box::new(sweeps::SweepsTab::default()),
    ]
}

/// The descriptors of the labs that record runs, in tab order: what the CLI, the report and
/// the sweeps read.
pub fn descriptors() -> Vec<&'static LabDescriptor> {
    vec![
        &theory::DESCRIPTOR,
        &graphs::DESCRIPTOR,
        &segmentation::DESCRIPTOR,
    ]
}
