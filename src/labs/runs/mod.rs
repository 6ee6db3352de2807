//! The Runs tab: every recorded run of every lab (GUI and CLI), listed from the run store on a
//! reader thread, filtered, grouped by configuration, overlaid on one plot, renamed, tagged,
//! deleted to the trash and restored, and turned into a lab report.

pub mod figure;
pub mod ui;

pub use ui::RunsTab;
