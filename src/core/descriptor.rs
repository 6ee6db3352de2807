//! What a lab says about itself, once: its names, its metrics (with their direction and x axis),
//! its main figure, the published and homework figures it is compared with, and how its runs are
//! drawn in a report. The registry (`labs::descriptors`), the CLI, the Runs tab, the report and
//! the sweeps read these values; `core` receives them as data and names no lab.

use serde_json::Value;

use super::report::{Block, ReportRun};
use super::runs::{RunId, RunStore};
use super::{Sink, StopFlag};

/// Whether a larger value of a metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Accuracies, IoUs: larger is better.
    Higher,
    /// Losses, errors: smaller is better.
    Lower,
    /// A count or a time: not a score, never "best".
    Neither,
}

impl Direction {
    /// +1 when larger is better, -1 when smaller is, 0 when it is not a score.
    pub fn sign(self) -> i32 {
        match self {
            Direction::Higher => 1,
            Direction::Lower => -1,
            Direction::Neither => 0,
        }
    }
}

/// What a curve's points are indexed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XAxis {
    Epoch,
    Step,
    /// A summary figure: one value per run, never a curve.
    None,
}

impl XAxis {
    pub fn label(self) -> &'static str {
        match self {
            XAxis::Epoch => "epoch",
            XAxis::Step => "step",
            XAxis::None => "",
        }
    }
}

/// One metric a lab records: its key in the run store, how to read it and how to plot it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    pub key: &'static str,
    pub direction: Direction,
    pub x: XAxis,
}

impl Metric {
    pub const fn higher(key: &'static str, x: XAxis) -> Self {
        Self {
            key,
            direction: Direction::Higher,
            x,
        }
    }
    pub const fn lower(key: &'static str, x: XAxis) -> Self {
        Self {
            key,
            direction: Direction::Lower,
            x,
        }
    }
    pub const fn neither(key: &'static str, x: XAxis) -> Self {
        Self {
            key,
            direction: Direction::Neither,
            x,
        }
    }
}

/// A figure published for the same experiment (or set by the homework), shown beside the
/// user's numbers.
#[derive(Clone, Copy, Debug)]
pub struct Reference {
    /// The lab's own name for what the figure is of (a model, "skips on"), for the lab's
    /// lookups; the report does not read it.
    pub tag: &'static str,
    /// Applies to a run on one of these datasets (empty: any).
    pub datasets: &'static [&'static str],
    /// ...whose recorded config has these values (key, value as the config prints it, case
    /// aside): a paper's figure is of its own split, not of every split of the same graph.
    pub when: &'static [(&'static str, &'static str)],
    pub what: &'static str,
    pub value: &'static str,
    pub source: &'static str,
}

impl Reference {
    /// Whether this figure is one a run on `dataset` with the recorded `config` can be compared
    /// with: the one decision behind the app's "paper" column and the report's figures.
    pub fn applies(&self, dataset: &str, config: &Value) -> bool {
        (self.datasets.is_empty() || self.datasets.contains(&dataset))
            && self.when.iter().all(|(key, want)| {
                config
                    .get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|got| got.eq_ignore_ascii_case(want))
            })
    }
}

/// Draws a lab's runs in a report when the generic results table and curves do not fit (the
/// theory checks: verdicts and counterexamples).
pub type ReportDrawer = fn(&[&ReportRun]) -> Vec<Block>;

/// Parses a lab's CLI flags (without the subcommand; datasets resolve under the data folder) and
/// returns the resolved config as JSON, exactly what `--print-config` prints; an error says
/// which flag is wrong.
pub type ConfigParser = fn(&[String], &std::path::Path) -> anyhow::Result<Value>;

/// What a sweep needs from a lab, every function reading the lab's own CLI flags (the words
/// after its subcommand) with the lab's own parser, so a swept setting means what its flag means.
#[derive(Clone, Copy)]
pub struct SweepHooks {
    /// The lab's flags as clap declares them: the names a sweep may vary, whether each takes a
    /// value, and the values a choice allows.
    pub flags: fn() -> clap::Command,
    /// The seeds these flags run, in order, with the lab's own `--seed`/`--seeds` meaning
    /// (`[None]` for a lab without seeds). Cheap: reads no data.
    pub seeds: SeedsOf,
    /// The `config_key` each of those seeds' runs will be recorded under (may read the data, whose
    /// fingerprint is part of the key), so a finished run of the same config is found, not re-run.
    pub plan: PlanOf,
    /// Trains one seed of these flags as one recorded run in `store`; returns its id.
    pub run_one: RunOne,
    /// The questions the lab ships as one-click sweeps.
    pub presets: &'static [SweepPreset],
}

/// A question a lab ships as a one-click sweep.
#[derive(Clone, Copy, Debug)]
pub struct SweepPreset {
    /// Stable id, for `gradlab sweep LAB --preset ID`.
    pub id: &'static str,
    /// The question, as a student asks it.
    pub question: &'static str,
    /// The lab's own flags at every grid point (seeds included, e.g. "--seeds", "3").
    pub flags: &'static [&'static str],
    /// The varied settings, (name as --vary takes it, values).
    pub vary: &'static [(&'static str, &'static [&'static str])],
    /// The summary figure each run is read by, when not the lab's main one (a key of the lab's
    /// `summary` metrics, as `gradlab sweep --metric` takes it).
    pub metric: Option<&'static str>,
}

/// [`SweepHooks::seeds`]: (flags, data folder) -> the seeds, in order.
pub type SeedsOf = fn(&[String], &std::path::Path) -> anyhow::Result<Vec<Option<u64>>>;

/// [`SweepHooks::plan`]: (flags, data folder) -> (seed, config_key) of each planned run.
pub type PlanOf = fn(&[String], &std::path::Path) -> anyhow::Result<Vec<(Option<u64>, String)>>;

/// [`SweepHooks::run_one`]: (flags, data folder, seed, store, sink, stop) -> the recorded run.
pub type RunOne = fn(
    &[String],
    &std::path::Path,
    Option<u64>,
    &RunStore,
    &mut dyn Sink,
    &StopFlag,
) -> anyhow::Result<RunId>;

/// One lab, described once.
#[derive(Clone, Copy)]
pub struct LabDescriptor {
    /// The stable id: the run store's `lab`, the persistence key, the job kind. Never change it.
    pub id: &'static str,
    /// The tab's label.
    pub title: &'static str,
    /// The heading of the lab's section in a report.
    pub report_title: &'static str,
    /// The CLI subcommand (the same as the id) and the older names it still answers to.
    pub cli_aliases: &'static [&'static str],
    /// The summary figures, most important first; the first is the main figure that lists,
    /// groups, sweeps and the report lead with.
    pub summary: &'static [Metric],
    /// The curves recorded during training, validation first.
    pub curves: &'static [Metric],
    pub references: &'static [Reference],
    /// `None`: the generic report (results table, data, differences, curves, gallery).
    pub report: Option<ReportDrawer>,
    /// The CLI's resolved config for some flags; `None` for a lab without a config.
    pub config: Option<ConfigParser>,
    /// How a sweep plans and runs this lab's runs; `None`: the lab cannot be swept.
    pub sweep: Option<SweepHooks>,
}

impl std::fmt::Debug for LabDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabDescriptor")
            .field("id", &self.id)
            .finish()
    }
}

impl LabDescriptor {
    /// The figure that lists, groups and sweeps lead with.
    pub fn main_metric(&self) -> Option<&'static Metric> {
        self.summary.first()
    }

    /// A metric of this lab by key, summary or curve.
    pub fn metric(&self, key: &str) -> Option<&'static Metric> {
        self.summary
            .iter()
            .chain(self.curves)
            .find(|m| m.key == key)
    }

    /// A curve of this lab by key.
    pub fn curve(&self, key: &str) -> Option<&'static Metric> {
        self.curves.iter().find(|m| m.key == key)
    }

    /// Whether `name` (a CLI subcommand) is this lab.
    pub fn answers_to(&self, name: &str) -> bool {
        self.id == name || self.cli_aliases.contains(&name)
    }

    /// A lab that described nothing but its id (runs of a lab this build does not know).
    pub const fn unknown(id: &'static str) -> Self {
        Self {
            id,
            title: id,
            report_title: id,
            cli_aliases: &[],
            summary: &[],
            curves: &[],
            references: &[],
            report: None,
            config: None,
            sweep: None,
        }
    }
}

/// The descriptor of `id` in `labs`, if any.
pub fn find<'a>(labs: &[&'a LabDescriptor], id: &str) -> Option<&'a LabDescriptor> {
    labs.iter().copied().find(|d| d.id == id)
}
