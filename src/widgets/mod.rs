//! Shared egui pieces: the plot widget, background file tasks, the context a lab draws with.

mod basics;
pub mod files;
pub mod job_row;
pub mod metric_panel;
pub mod open_folder;
pub mod pace;
pub mod plot;
pub mod presence;
pub mod reopen;
pub mod results_table;
pub mod sweep_request;

pub use basics::*;
