//! The Segmentation lab's latest runs read back from the run store, so the tab shows them again
//! after a restart: the newest skips-on and skips-off configurations, each one job with its seeds'
//! curves, the seeds table's summary, the newest seed's gallery pictures and its trained U-Net
//! (the run's `checkpoint/` files), ready for "Open image..." without retraining. Disk and
//! database work: run it as a job.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;

use super::checkpoint;
use super::train::{SegConfig, TrainedSeg, seed_summary};
use crate::core::Summary;
use crate::core::jobs::{JobOutput, JobState, Restored, RestoredFrom};
use crate::core::runs::{RunStatus, RunStore, StoredRun, load_latest_groups, seed_metrics};

/// The lab name segmentation runs are recorded under.
pub const LAB: &str = super::keys::ID;

/// One reopened configuration (skips on or off) and its job.
pub struct RestoredSeg {
    pub skips: bool,
    pub cfg: SegConfig,
    /// Seeds it ran (finished or not).
    pub seeds: u64,
    pub job: Restored,
}

/// What reopening found: skips on and / or off, and what could not be reopened.
pub struct LatestSeg {
    pub configs: Vec<RestoredSeg>,
    pub problems: Vec<String>,
}

impl JobOutput for LatestSeg {
    fn summary(&self) -> Summary {
        json!({ "restored": self.configs.len(), "problems": self.problems })
    }
}

/// The newest skips-on and skips-off configurations in the store at `dir`.
pub fn load_latest(dir: &Path) -> anyhow::Result<LatestSeg> {
    let store = RunStore::open(dir)?;
    // The gallery and the model are the newest seed's, as a live job's are its last seed's.
    let groups = load_latest_groups(
        &store,
        LAB,
        |c| {
            c["unet"]["skips"]
                .as_bool()
                .map(|on| if on { "on" } else { "off" }.to_string())
        },
        true,
    )?;
    let mut out = LatestSeg {
        configs: Vec::new(),
        problems: Vec::new(),
    };
    for (g, runs) in groups {
        match restore_config(runs) {
            Ok(r) => out.configs.push(r),
            Err(e) => out.problems.push(format!("skips {} runs: {e:#}", g.kind)),
        }
    }
    Ok(out)
}

fn restore_config(mut runs: Vec<StoredRun>) -> anyhow::Result<RestoredSeg> {
    let newest = runs.last_mut().ok_or_else(|| anyhow::anyhow!("no runs"))?;
    let cfg: SegConfig = serde_json::from_value(newest.detail.config.clone())
        .map_err(|e| anyhow::anyhow!("run {}: its config cannot be read: {e}", newest.id()))?;
    let images = std::mem::take(&mut newest.images);
    let recorded_ms = newest.detail.row.started_ms;
    let mut payloads: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    let mut problems: Vec<String> = runs.iter().flat_map(|r| r.problems.clone()).collect();
    let newest = runs.last().expect("checked above");
    match checkpoint::load(&newest.folder.join("checkpoint")) {
        Ok(m) => payloads.push(Box::new(TrainedSeg(Arc::new(m)))),
        Err(e) => problems.push(format!(
            "run {}: its trained model cannot be loaded ({e:#})",
            newest.id()
        )),
    }
    let finished: Vec<Summary> = runs
        .iter()
        .filter(|r| r.detail.row.status == RunStatus::Finished)
        .filter_map(|r| r.detail.summary.clone())
        .filter(|s| s["stopped"] != true)
        .collect();
    let run_ids: Vec<_> = runs.iter().map(StoredRun::id).collect();
    let state = if finished.is_empty() {
        JobState::Stopped
    } else {
        let mut s = seed_summary(&finished, runs.len(), false);
        s["run_ids"] = json!(run_ids);
        JobState::Finished(s)
    };
    let log = finished
        .iter()
        .map(|s| {
            format!(
                "seed {}: val mIoU {:.4}",
                s["seed"],
                s[super::keys::metric::VAL_MIOU]
                    .as_f64()
                    .unwrap_or(f64::NAN)
            )
        })
        .collect();
    let skips = cfg.unet.skips;
    Ok(RestoredSeg {
        skips,
        seeds: runs.len() as u64,
        job: Restored {
            name: if skips { "skips on" } else { "skips off" }.into(),
            state,
            metrics: seed_metrics(&runs),
            images,
            payloads,
            log,
            from: RestoredFrom {
                run_ids,
                recorded_ms,
                problems,
            },
        },
        cfg,
    })
}
