//! The labs: one folder each with its config, compute, UI (`ui.rs`) and CLI glue (`cli.rs`).

pub mod datasets;
pub mod graphs;
pub mod segmentation;
pub mod theory;
