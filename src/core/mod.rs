//! Shared by every lab; never imports egui or a lab.

pub mod events;
pub mod files;
pub mod jobs;
pub mod metrics;
pub mod sysinfo;
#[cfg(test)]
pub mod test_util;

pub use events::{Event, NullSink, Picture, Sink, StopFlag, Summary, VecSink};
