//! Shared by every lab; never imports egui or a lab.

pub(crate) mod clock;
pub mod descriptor;
pub(crate) mod digest;
pub(crate) mod driver;
pub mod events;
pub mod figures;
pub mod files;
pub mod jobs;
pub(crate) mod kernels;
pub(crate) mod metrics;
pub(crate) mod nn;
pub(crate) mod progress;
pub mod report;
pub mod runs;
pub(crate) mod stats;
pub(crate) mod sweep;
pub mod sysinfo;
#[cfg(test)]
pub mod test_util;
#[cfg(test)]
pub(crate) mod watchdog;

pub use events::{Event, NullSink, Picture, Sink, StopFlag, Summary, VecSink};
