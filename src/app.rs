//! The eframe app: tabs, persisted settings, the running jobs.

pub mod autoshot;
pub mod frame_bench;
pub mod help;
pub mod status_bar;
mod window;

pub use window::*;
