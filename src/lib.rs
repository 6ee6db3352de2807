//! gradlab: a desktop laboratory for learning deep learning by experiment.

pub mod app;
pub mod cli;
pub mod core;
pub mod data;
pub mod labs;
pub mod widgets;
