//! gradlab: a desktop laboratory for learning deep learning by experiment.

pub mod app;
pub mod cli;
pub mod core;
pub mod data;
pub mod experiments;
pub mod files;
pub mod jobs;
pub mod metrics;
pub mod sysinfo;
pub mod ui;
