//! The labs: one folder each with its config (`config.rs`), compute, GUI (`ui.rs`) and CLI glue
//! (`cli.rs`). [`labs`] is the one list: the tab bar, persistence and the UI tests loop over it.
//!
//! Adding a lab: write `src/labs/<name>/` with a type that implements [`Lab`], and add one line
//! to [`labs`] (plus one CLI subcommand line in `cli/mod.rs` if the lab has a headless run).
//! `tests/ui/hello_lab.rs` is a complete lab in one file.

pub mod datasets;
pub mod graphs;
pub mod runs;
pub mod segmentation;
#[cfg(test)]
pub mod test_world;
pub mod theory;

use std::any::Any;

use eframe::egui;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::widgets::TabCx;

/// One tab of the app. A lab keeps its own settings (persisted under its own key) and runtime
/// state; everything slow runs as a job through `cx.jobs`.
pub trait Lab: Any {
    /// Stable identifier: the storage key (`lab/<id>`) and the name in tests. Never change it.
    fn id(&self) -> &'static str;
    /// The tab's label (also what `GRADLAB_TAB` names).
    fn title(&self) -> &'static str;
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>);
    /// The settings that survive a restart, as RON; `None`: nothing to keep.
    fn save_state(&self) -> Option<String> {
        None
    }
    /// Restores what [`Lab::save_state`] wrote; an error keeps the defaults and is shown once.
    fn load_state(&mut self, _text: &str) -> Result<(), String> {
        Ok(())
    }
    /// The tab's main action (Ctrl+Enter): train, run. Labs without one keep the default.
    fn train(&mut self, _cx: &mut TabCx<'_>) {}
}

/// Every lab of the app, in tab order.
pub fn labs() -> Vec<Box<dyn Lab>> {
    vec![
        Box::new(theory::ui::TheoryTab::default()),
        Box::new(graphs::ui::GraphsTab::default()),
        Box::new(segmentation::ui::SegmentationTab::default()),
        Box::new(datasets::ui::DatasetsTab::default()),
        Box::new(runs::RunsTab::default()),
    ]
}

/// [`Lab::save_state`] for a lab whose persisted state is a serde type.
pub fn save_ron<T: Serialize>(state: &T) -> Option<String> {
    ron::to_string(state).ok()
}

/// [`Lab::load_state`] for a lab whose persisted state is a serde type.
pub fn load_ron<T: DeserializeOwned>(text: &str, into: &mut T) -> Result<(), String> {
    *into = ron::from_str(text).map_err(|e| e.to_string())?;
    Ok(())
}

/// What a lab's CLI subcommand produced: the JSON object for `--json`, text for people otherwise.
pub struct CliOutput {
    pub json: serde_json::Value,
    pub human: String,
}

impl CliOutput {
    /// `--print-config`: the resolved config as JSON, printed whether or not `--json` is given.
    pub fn config<C: Serialize>(config: &C) -> anyhow::Result<Self> {
        let json = serde_json::to_value(config)?;
        Ok(Self {
            human: serde_json::to_string_pretty(&json)?,
            json,
        })
    }
}
