//! The values the run store reads and writes.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub type RunId = i64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Finished,
    Stopped,
    Failed,
    Diverged,
    /// Its process ended without finishing the run (killed, crashed, power cut).
    Interrupted,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Running,
        RunStatus::Finished,
        RunStatus::Stopped,
        RunStatus::Failed,
        RunStatus::Diverged,
        RunStatus::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Stopped => "stopped",
            RunStatus::Failed => "failed",
            RunStatus::Diverged => "diverged",
            RunStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a lab says about a run when it starts.
#[derive(Clone, Debug, Default)]
pub struct NewRun {
    pub lab: String,
    pub name: String,
    /// The resolved config, as `--print-config` shows it (seed included).
    pub config: Value,
    pub seed: Option<u64>,
    pub dataset: Option<String>,
    pub dataset_sha256: Option<String>,
    /// A command line that reproduces the run.
    pub command: String,
    pub tags: Vec<String>,
    /// The summary figure that lists and groups show (a lab's main metric, e.g. test accuracy).
    pub main_metric: Option<String>,
}

impl NewRun {
    /// The configuration key this run is recorded under (see [`config_key`]).
    pub fn config_key(&self) -> String {
        config_key(
            &self.lab,
            self.dataset.as_deref(),
            self.dataset_sha256.as_deref(),
            &self.config,
        )
    }
}

/// Groups runs that differ only by seed: a hash of lab, dataset, the data's fingerprint and the
/// config without its `seed` field. serde_json's maps are sorted, so equal configs hash equally
/// whatever their field order. Runs without a fingerprint (older stores, labs without data)
/// keep the key they always had, so they group only with each other.
pub fn config_key(
    lab: &str,
    dataset: Option<&str>,
    dataset_sha256: Option<&str>,
    config: &Value,
) -> String {
    let mut c = config.clone();
    if let Value::Object(m) = &mut c {
        m.remove("seed");
    }
    let mut key = serde_json::json!({ "lab": lab, "dataset": dataset, "config": c });
    if let Some(sha) = dataset_sha256 {
        key["dataset_sha256"] = sha.into();
    }
    let text = key.to_string();
    let h = Sha256::digest(text.as_bytes());
    crate::core::digest::hex(&h[..8])
}

/// What `purge` did: the runs deleted for good, and the files it left in their folders because
/// gradlab did not write them (or they were changed since).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Purged {
    pub ids: Vec<RunId>,
    pub kept: Vec<std::path::PathBuf>,
}

/// One line of a run list: what a table row shows, without the config or the points.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRow {
    pub id: RunId,
    pub lab: String,
    pub name: String,
    pub status: RunStatus,
    pub config_key: String,
    pub seed: Option<u64>,
    pub dataset: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub main_metric: Option<String>,
    pub main_value: Option<f64>,
    pub progress_done: Option<u64>,
    pub progress_total: Option<u64>,
    pub tags: Vec<String>,
    /// In the trash (deleted, not purged).
    pub deleted: bool,
    /// sha256 of the data the run trained on; `None` for runs of older stores and labs without
    /// data ("data not fingerprinted").
    pub dataset_sha256: Option<String>,
    /// The summary figure the list is sorted by, when it is sorted by one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_value: Option<f64>,
}

/// Everything about one run except its points.
#[derive(Clone, Debug, Serialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub row: RunRow,
    pub config: Value,
    pub command: String,
    pub gradlab_version: String,
    pub git_commit: Option<String>,
    pub machine: Value,
    pub pid: i64,
    pub summary: Option<Value>,
    pub error: Option<String>,
    pub notes: String,
    pub series: Vec<SeriesInfo>,
    pub artifacts: Vec<ArtifactInfo>,
    pub logs: Vec<String>,
}

impl RunDetail {
    /// Artifacts whose file is gone (deleted by hand) or no longer matches its size.
    pub fn missing_artifacts(&self) -> impl Iterator<Item = &ArtifactInfo> {
        self.artifacts.iter().filter(|a| a.missing.is_some())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeriesInfo {
    pub key: String,
    pub points: u64,
    pub last_step: f64,
    pub last_value: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Point {
    pub step: f64,
    pub value: f64,
    /// Seconds since the run started.
    pub wall: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SortBy {
    #[default]
    Started,
    Name,
    Status,
    /// The run's main summary figure.
    Main,
    /// Any figure of the summary JSON, e.g. "ms_per_epoch_median".
    Summary(String),
}

/// Which runs a list shows. Empty fields do not filter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunFilter {
    pub lab: Option<String>,
    pub status: Option<RunStatus>,
    pub tag: Option<String>,
    pub dataset: Option<String>,
    /// `config.model` equals this (graph: gcn/gat/mlp).
    pub model: Option<String>,
    /// Name contains this (case-insensitive).
    pub text: Option<String>,
    /// Only the runs linked to this sweep.
    pub sweep: Option<i64>,
    /// Show the trash instead of the live runs.
    pub trash: bool,
    pub sort: SortBy,
    pub descending: bool,
    pub limit: Option<usize>,
}

/// Runs whose configs differ only by seed, with the mean ± sample std of their main figure
/// over the runs that have one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConfigGroup {
    pub config_key: String,
    pub lab: String,
    pub name: String,
    pub dataset: Option<String>,
    pub dataset_sha256: Option<String>,
    pub main_metric: Option<String>,
    pub n: usize,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub run_ids: Vec<RunId>,
    pub seeds: Vec<Option<u64>>,
}

/// What the runs of a store can be filtered and sorted by: the models and datasets they used and
/// the numeric figures of their summaries.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Facets {
    /// Every lab with a run in the store (whatever the lab filter).
    pub labs: Vec<String>,
    pub models: Vec<String>,
    pub datasets: Vec<String>,
    pub figures: Vec<String>,
}

/// A run's name without its trailing seed ("GCN cora seed 3" -> "GCN cora"): the name of the
/// configuration it shares with its other seeds.
pub fn without_seed(name: &str) -> &str {
    match name.rfind(" seed ") {
        Some(i) if name[i + 6..].chars().all(|c| c.is_ascii_digit()) && i + 6 < name.len() => {
            &name[..i]
        }
        _ => name,
    }
}

/// A summary figure as lists show it: counts as integers ("checks_holding 5"), measurements
/// with four decimals ("val_acc 0.8130").
pub fn figure_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// "1 run", "3 runs": a count with its noun, plural when it is not one.
pub fn count_text(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

impl ConfigGroup {
    /// "0.8130 ± 0.0060 (n=3)" as results tables show it.
    pub fn mean_std_text(&self) -> String {
        match (self.mean, self.std) {
            (Some(m), Some(s)) => format!("{m:.4} ± {s:.4} (n={})", self.n),
            (Some(m), None) => format!("{m:.4} (n={})", self.n),
            _ => format!("- (n={})", self.n),
        }
    }
}

/// A file of a run, as the store lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArtifactInfo {
    pub name: String,
    /// Relative to the runs folder.
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// Why the file cannot be used (gone, wrong size); `None` when it looks whole.
    pub missing: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn figures_and_counts_read_naturally() {
        assert_eq!(figure_text(5.0), "5");
        assert_eq!(figure_text(0.81304), "0.8130");
        assert_eq!(figure_text(-2.0), "-2");
        assert_eq!(figure_text(f64::NAN), "NaN");
        assert_eq!(count_text(1, "run"), "1 run");
        assert_eq!(count_text(0, "run"), "0 runs");
        assert_eq!(count_text(12, "configuration"), "12 configurations");
    }

    #[test]
    fn without_seed_strips_only_a_trailing_seed_number() {
        assert_eq!(without_seed("GCN cora seed 12"), "GCN cora");
        assert_eq!(without_seed("U-Net shapes"), "U-Net shapes");
        assert_eq!(without_seed("my seed run"), "my seed run");
        assert_eq!(without_seed("ends with seed "), "ends with seed ");
    }

    #[test]
    fn config_key_ignores_seed_and_field_order_but_not_other_fields() {
        let a = json!({"lr": 0.01, "seed": 1, "hidden": 16});
        let b = json!({"hidden": 16, "seed": 7, "lr": 0.01});
        let c = json!({"hidden": 32, "seed": 1, "lr": 0.01});
        assert_eq!(
            config_key("demo", None, None, &a),
            config_key("demo", None, None, &b)
        );
        assert_ne!(
            config_key("demo", None, None, &a),
            config_key("demo", None, None, &c)
        );
        // Same config, other data: never one group; no fingerprint groups only with itself.
        let (x, y) = (Some("cora"), Some("aa"));
        assert_ne!(
            config_key("demo", x, y, &a),
            config_key("demo", x, Some("bb"), &a)
        );
        assert_ne!(
            config_key("demo", x, y, &a),
            config_key("demo", x, None, &a)
        );
        assert_eq!(config_key("demo", x, y, &a), config_key("demo", x, y, &b));
        assert_ne!(
            config_key("demo", Some("cora"), None, &a),
            config_key("demo", Some("synthetic"), None, &a)
        );
        assert_ne!(
            config_key("demo", None, None, &a),
            config_key("other", None, None, &a)
        );
    }

    #[test]
    fn status_text_round_trips() {
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(RunStatus::parse("bogus"), None);
    }
}
