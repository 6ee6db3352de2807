//! Shared by every lab; never imports egui or a lab.

pub mod clock;
pub mod descriptor;
pub mod digest;
pub mod driver;
pub mod events;
pub mod figures;
pub mod files;
pub mod jobs;
pub mod kernels;
pub mod metrics;
pub mod nn;
pub mod progress;
pub mod report;
pub mod runs;
pub mod stats;
pub mod sweep;
pub mod sysinfo;
#[cfg(test)]
pub mod test_util;
pub mod watchdog;

pub use events::{Event, NullSink, Picture, Sink, StopFlag, Summary, VecSink};
