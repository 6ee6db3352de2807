//! The Sweeps tab: a lab's runs over a grid of settings and seeds, started from the GUI (a
//! lab's "Sweep..." button, a preset question) or `gradlab sweep`, drawn with error bars and
//! Welch verdicts. The sweep itself (planning, resume, the table) is `core::sweep`.

pub mod ui;

pub use ui::SweepsTab;
