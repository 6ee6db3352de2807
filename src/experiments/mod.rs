//! Pure compute: every experiment is a function `run(cfg, sink, stop) -> Result<Summary>`,
//! shared by the GUI (through `jobs`) and the CLI. Nothing here imports egui.

pub mod graph;
pub mod seg;
pub mod sink;
pub mod stats;
#[cfg(test)]
pub mod test_util;
pub mod theory;

pub use sink::{Event, NullSink, Picture, Sink, StopFlag, Summary, VecSink};
