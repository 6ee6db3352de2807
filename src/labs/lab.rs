//! What every tab is ([`Lab`]) and the helpers a lab uses for its persisted state and its CLI
//! output. A lab's identity (names, metrics, references, report drawing) is its
//! [`LabDescriptor`], written once in the lab's folder.

use std::any::Any;

use eframe::egui;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::core::descriptor::{Direction, LabDescriptor, Metric, Reference, XAxis};
pub use crate::widgets::TabCx;

/// One tab of the app. A lab keeps its own settings (persisted under its own key) and runtime
/// state; everything slow runs as a job through `cx.jobs`.
pub trait Lab: Any {
    /// Stable identifier: the storage key (`lab/<id>`) and the name in tests. Never change it.
    fn id(&self) -> &'static str;
    /// The tab's label (also what `GRADLAB_TAB` names).
    fn title(&self) -> &'static str;
    /// What the lab records and how its runs are drawn; `None` for a tab that trains nothing
    /// (Datasets, Runs).
    fn descriptor(&self) -> Option<&'static LabDescriptor> {
        None
    }
    /// The config the tab would train with now, as JSON (what `--print-config` prints for the
    /// same settings); `None` for a tab without one.
    fn config_json(&self, _data_dir: &std::path::Path) -> Option<serde_json::Value> {
        None
    }
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>);
    /// Called every frame whether or not the tab is open, before the open tab draws: for a tab
    /// that must notice something while hidden (the Sweeps tab asks to resume an interrupted
    /// sweep on start). Must be cheap and never block.
    fn background(&mut self, _ctx: &egui::Context, _cx: &mut TabCx<'_>) {}
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

/// Parses a lab's CLI flags (the words after its subcommand) with the lab's own clap
/// arguments: what the descriptor's config parser and the sweeps use, so a flag means the same
/// everywhere. An error is clap's message, which names the flag.
pub fn parse_flags<A: clap::Args + clap::FromArgMatches>(
    subcommand: &'static str,
    words: &[String],
) -> anyhow::Result<A> {
    let cmd = A::augment_args(clap::Command::new(subcommand).no_binary_name(true));
    let matches = cmd
        .try_get_matches_from(words)
        .map_err(|e| anyhow::anyhow!("{}", e.render().to_string().trim_end()))?;
    A::from_arg_matches(&matches).map_err(|e| anyhow::anyhow!("{e}"))
}

/// A lab's flags as its clap arguments declare them (for [`crate::core::descriptor::SweepHooks`]).
pub fn flags_of<A: clap::Args>(subcommand: &'static str) -> clap::Command {
    A::augment_args(clap::Command::new(subcommand).no_binary_name(true))
}
