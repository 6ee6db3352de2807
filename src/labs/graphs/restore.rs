//! The Graphs lab's latest runs read back from the run store, so the tab shows them again after a
//! restart: the newest configuration of each model, its seeds as one job (series `s{seed}/...`,
//! drawn as one band), its results-table row rebuilt from the runs' summaries. Disk and database
//! work: run it as a job.

use std::path::Path;

use clap::ValueEnum;
use serde_json::json;

use super::config::{GraphConfig, ModelKind, Preset};
use super::train::{RunResult, summarize_named};
use crate::core::Summary;
use crate::core::jobs::{JobOutput, JobState, Restored, RestoredFrom};
use crate::core::runs::{RunStatus, RunStore, StoredRun, load_latest_groups, seed_metrics};

/// The lab name graph runs are recorded under.
pub const LAB: &str = super::keys::ID;

/// One reopened configuration: what the tab keeps about a job it started, and the job.
pub struct RestoredGraph {
    pub model: ModelKind,
    pub cfg: GraphConfig,
    pub dataset: String,
    pub preset: Preset,
    pub job: Restored,
}

/// What reopening found: a job per model (oldest first), and what could not be reopened.
pub struct LatestGraphs {
    pub configs: Vec<RestoredGraph>,
    pub problems: Vec<String>,
}

impl JobOutput for LatestGraphs {
    fn summary(&self) -> Summary {
        json!({ "restored": self.configs.len(), "problems": self.problems })
    }
}

/// The newest configuration of each model in the store at `dir`.
pub fn load_latest(dir: &Path) -> anyhow::Result<LatestGraphs> {
    let store = RunStore::open(dir)?;
    let groups = load_latest_groups(
        &store,
        LAB,
        |c| {
            serde_json::from_value::<ModelKind>(c["model"].clone())
                .ok()
                .map(|m| m.label().to_string())
        },
        false,
    )?;
    let mut out = LatestGraphs {
        configs: Vec::new(),
        problems: Vec::new(),
    };
    for (g, runs) in groups {
        match restore_config(&runs) {
            Ok(r) => out.configs.push(r),
            Err(e) => out.problems.push(format!("{} runs: {e:#}", g.kind)),
        }
    }
    Ok(out)
}

/// One job from the runs of one configuration (each a seed).
fn restore_config(runs: &[StoredRun]) -> anyhow::Result<RestoredGraph> {
    let newest = runs
        .iter()
        .max_by_key(|r| (r.detail.row.started_ms, r.id()))
        .ok_or_else(|| anyhow::anyhow!("no runs"))?;
    let cfg: GraphConfig = serde_json::from_value(newest.detail.config.clone())
        .map_err(|e| anyhow::anyhow!("run {}: its config cannot be read: {e}", newest.id()))?;
    let dataset = newest.detail.row.dataset.clone().unwrap_or_default();
    let results: Vec<RunResult> = runs
        .iter()
        .filter(|r| r.detail.row.status == RunStatus::Finished)
        .filter_map(|r| serde_json::from_value::<RunResult>(r.detail.summary.clone()?).ok())
        .filter(|r| !r.stopped)
        .collect();
    let run_ids: Vec<_> = runs.iter().map(StoredRun::id).collect();
    let state = if results.is_empty() {
        JobState::Stopped
    } else {
        let mut s = summarize_named(&cfg, &dataset, &results);
        s["run_ids"] = json!(run_ids);
        JobState::Finished(s)
    };
    let log = results
        .iter()
        .map(|r| {
            format!(
                "{} seed {}: test acc {:.4}, val acc {:.4}, best epoch {}, {} epochs",
                cfg.model.label(),
                r.seed,
                r.test_acc,
                r.val_acc,
                r.best_epoch,
                r.epochs_run
            )
        })
        .collect();
    Ok(RestoredGraph {
        model: cfg.model,
        preset: preset_of(&newest.detail.command),
        job: Restored {
            name: format!("{} on {dataset}", cfg.model.label()),
            state,
            metrics: seed_metrics(runs),
            images: Vec::new(),
            payloads: Vec::new(),
            log,
            from: RestoredFrom {
                run_ids,
                recorded_ms: newest.detail.row.started_ms,
                problems: runs.iter().flat_map(|r| r.problems.clone()).collect(),
            },
        },
        cfg,
        dataset,
    })
}

/// The preset a `gradlab graph` command names (the GUI records the equivalent command); the
/// default preset when it names none.
fn preset_of(command: &str) -> Preset {
    let words: Vec<&str> = command.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "--preset")
        .and_then(|w| Preset::from_str(w[1].trim_matches('\''), true).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preset_comes_from_the_recorded_command() {
        assert_eq!(
            preset_of("gradlab graph --model gcn --preset assignment --seeds 3"),
            Preset::Assignment
        );
        assert_eq!(preset_of("gradlab graph --preset paper"), Preset::Paper);
        assert_eq!(preset_of("gradlab graph"), Preset::default());
    }
}
