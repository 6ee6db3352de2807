//! How fast a configuration trains on this machine, measured by the runs the store already
//! holds: wall seconds per unit of progress (an epoch, an optimiser step) of the finished runs
//! of one configuration (lab, dataset, config without its seed: model, sizes, epochs, ...) on a
//! machine with as many threads as this one. A job uses it from its first second, before its
//! own pace can be told; a tab uses it before a job starts.

use crate::core::stats::median;
use rusqlite::params;
use serde_json::Value;

use super::model::RunId;
use super::store::{RunStore, StoreError};

/// Sent by a recorded run when it starts (a payload): the store's id of the run, so a
/// watcher names runs as the Runs tab and the CLI do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordedRun(pub RunId);

/// "run #12", "runs #12-#21" for the runs of a job, as every view numbers them.
pub fn runs_text(ids: &[RunId]) -> Option<String> {
    match ids {
        [] => None,
        [one] => Some(format!("run #{one}")),
        [first, .., last] if ids.windows(2).all(|w| w[1] == w[0] + 1) => {
            Some(format!("runs #{first}-#{last}"))
        }
        many => Some(format!(
            "runs {}",
            many.iter()
                .map(|i| format!("#{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// At most this many recent runs enter a pace (the machine's load changes).
const RECENT: usize = 5;

/// The measured pace of one configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pace {
    /// Median wall seconds per unit of progress (start to end of a run, over its units done).
    pub secs_per_unit: f64,
    /// Median fraction of its units a finished run did (below 1 with early stopping).
    pub done_fraction: f64,
    /// How many runs it comes from.
    pub runs: usize,
}

impl Pace {
    /// Expected wall seconds of a job of `total` units at this pace.
    pub fn expected_secs(&self, total: u64) -> f64 {
        self.secs_per_unit * total as f64 * self.done_fraction
    }

    /// "measured here: 3 runs" for the text beside an estimate.
    pub fn basis(&self) -> String {
        format!(
            "measured on this machine: {}",
            super::count_text(self.runs, "earlier run")
        )
    }
}

/// This machine's thread count as the store records it with every run.
pub fn this_threads() -> u64 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1)
}

/// The pace of durations `(secs, done, total)`; None without a usable one.
pub fn pace_of(durations: &[(f64, u64, u64)]) -> Option<Pace> {
    let mut per: Vec<f64> = Vec::new();
    let mut frac: Vec<f64> = Vec::new();
    for &(secs, done, total) in durations {
        if done == 0 || total == 0 || !secs.is_finite() || secs <= 0.0 {
            continue;
        }
        per.push(secs / done as f64);
        frac.push((done as f64 / total as f64).min(1.0));
    }
    if per.is_empty() {
        return None;
    }
    Some(Pace {
        secs_per_unit: median(&mut per),
        done_fraction: median(&mut frac),
        runs: per.len(),
    })
}

/// The key of a configuration's pace: its config key without the data's fingerprint. How fast
/// a run goes depends on the settings and the dataset, not on which pixels or edges it holds,
/// and a tab asks before the data is loaded (so before its fingerprint is known).
pub fn pace_key(lab: &str, dataset: Option<&str>, config: &Value) -> String {
    super::config_key(lab, dataset, None, config)
}

impl RunStore {
    /// The pace of the configuration whose [`pace_key`] is `key` on a machine with `threads`
    /// threads, from its most recent finished runs (not deleted, except `skip`: the run
    /// asking); None when it has none.
    pub fn pace(
        &self,
        key: &str,
        threads: u64,
        skip: Option<RunId>,
    ) -> Result<Option<Pace>, StoreError> {
        // Runs without a fingerprint have the pace key as their config key; the others are
        // matched by recomputing it from their config.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, started_ms, ended_ms, progress_done, progress_total, machine,
                   lab, dataset, config, dataset_sha256 FROM runs
                 WHERE (config_key = ?1 OR dataset_sha256 IS NOT NULL) AND status = 'finished'
                   AND deleted_ms IS NULL AND ended_ms IS NOT NULL
                 ORDER BY started_ms DESC LIMIT 500",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![key], |r| {
                Ok((
                    (
                        r.get::<_, RunId>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                        r.get::<_, String>(5)?,
                    ),
                    (
                        r.get::<_, String>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, String>(8)?,
                        r.get::<_, Option<String>>(9)?,
                    ),
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut durations = Vec::new();
        for row in rows {
            let ((id, start, end, done, total, machine), (lab, dataset, config, sha)) =
                row.map_err(|e| self.err(e))?;
            if Some(id) == skip {
                continue;
            }
            if sha.is_some() {
                let config: Value = serde_json::from_str(&config).unwrap_or_default();
                if pace_key(&lab, dataset.as_deref(), &config) != key {
                    continue;
                }
            }
            let same_machine = serde_json::from_str::<Value>(&machine)
                .ok()
                .and_then(|m| m["threads"].as_u64())
                == Some(threads);
            if !same_machine {
                continue;
            }
            durations.push((
                (end - start) as f64 / 1000.0,
                done.unwrap_or(0).max(0) as u64,
                total.unwrap_or(0).max(0) as u64,
            ));
            if durations.len() == RECENT {
                break;
            }
        }
        Ok(pace_of(&durations))
    }
}

impl RunStore {
    /// Whether this build (same gradlab version and git commit) already finished a run of
    /// `config_key`: an unchanged start-up run need not be recorded again.
    pub fn recorded_by_this_build(&self, config_key: &str) -> Result<bool, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM runs WHERE config_key = ?1 AND status = 'finished'
                   AND deleted_ms IS NULL AND gradlab_version = ?2 AND git_commit IS ?3)",
            )
            .and_then(|mut st| {
                st.query_row(
                    params![
                        config_key,
                        env!("CARGO_PKG_VERSION"),
                        super::provenance::GIT_COMMIT
                    ],
                    |r| r.get::<_, bool>(0),
                )
            })
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_is_the_median_per_unit_and_skips_runs_without_progress() {
        let p = pace_of(&[
            (10.0, 100, 100),
            (30.0, 100, 100),
            (20.0, 100, 100),
            (5.0, 0, 100),
        ])
        .unwrap();
        assert_eq!(p.runs, 3);
        assert!((p.secs_per_unit - 0.2).abs() < 1e-12);
        assert_eq!(p.done_fraction, 1.0);
        assert!((p.expected_secs(50) - 10.0).abs() < 1e-9);
        assert_eq!(pace_of(&[(1.0, 0, 0)]), None);
    }

    #[test]
    fn runs_are_named_by_their_store_ids() {
        assert_eq!(runs_text(&[]), None);
        assert_eq!(runs_text(&[3]).as_deref(), Some("run #3"));
        assert_eq!(runs_text(&[12, 13, 14]).as_deref(), Some("runs #12-#14"));
        assert_eq!(runs_text(&[2, 5]).as_deref(), Some("runs #2, #5"));
    }

    #[test]
    fn early_stopping_lowers_the_expected_share_of_units() {
        // GAT with patience: 300 and 500 of 1000 epochs.
        let p = pace_of(&[(30.0, 300, 1000), (50.0, 500, 1000)]).unwrap();
        assert!((p.secs_per_unit - 0.1).abs() < 1e-12);
        assert!((p.done_fraction - 0.4).abs() < 1e-12);
        assert!((p.expected_secs(1000) - 40.0).abs() < 1e-9);
    }

    #[test]
    fn the_store_paces_finished_runs_of_one_config_on_this_machine() {
        use crate::core::runs::{NewRun, RunStatus};
        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::open(dir.path()).unwrap();
        let cfg = serde_json::json!({"model": "gcn", "seed": 0});
        let key = pace_key("demo", Some("cora"), &cfg);
        let run = |seed: u64| NewRun {
            lab: "demo".into(),
            name: format!("GCN cora seed {seed}"),
            config: serde_json::json!({"model": "gcn", "seed": seed}),
            seed: Some(seed),
            dataset: Some("cora".into()),
            ..Default::default()
        };
        assert_eq!(store.pace(&key, this_threads(), None).unwrap(), None);
        let a = store.create_run(&run(0)).unwrap();
        let b = store.create_run(&run(1)).unwrap();
        let other = store.create_run(&run(2)).unwrap();
        for (id, secs, status) in [
            (a, 4_000, RunStatus::Finished),
            (b, 6_000, RunStatus::Finished),
            (other, 100_000, RunStatus::Stopped),
        ] {
            store
                .conn
                .execute(
                    "UPDATE runs SET status = ?2, ended_ms = started_ms + ?3,
                       progress_done = 200, progress_total = 200 WHERE id = ?1",
                    params![id, status.as_str(), secs],
                )
                .unwrap();
        }
        let p = store.pace(&key, this_threads(), None).unwrap().unwrap();
        assert_eq!(p.runs, 2, "a stopped run does not count");
        assert!((p.secs_per_unit - 0.025).abs() < 1e-9, "{p:?}");
        let one = store.pace(&key, this_threads(), Some(a)).unwrap().unwrap();
        assert!((one.secs_per_unit - 0.03).abs() < 1e-9);
        assert_eq!(
            store.pace(&key, this_threads() + 1, None).unwrap(),
            None,
            "another thread count is another machine"
        );
        assert!(store.recorded_by_this_build(&key).unwrap());
        assert!(!store.recorded_by_this_build("another key").unwrap());
    }
}
