//! Reading runs back whole, so a lab can show its latest runs again after a restart: which
//! runs are "the latest" of a lab, and each run's config, summary, points and pictures. Disk and
//! database work: call it on a job thread, never on the UI thread.

use std::path::PathBuf;

use serde_json::Value;

use super::model::{RunDetail, RunFilter, RunId, RunStatus, SortBy};
use super::store::{RunStore, StoreError};
use crate::core::Picture;
use crate::core::metrics::MetricStore;

/// How many of a lab's newest runs are looked at to find its latest configurations.
pub const SCAN: usize = 500;

/// A lab's latest configuration of one kind (one model, skips on or off, ...): the newest run
/// of each seed, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct LatestGroup {
    pub kind: String,
    pub config_key: String,
    pub run_ids: Vec<RunId>,
}

/// One run read back from the store.
pub struct StoredRun {
    pub detail: RunDetail,
    /// Every metric series, points as (step, value), in the order recorded.
    pub series: Vec<(String, Vec<[f64; 2]>)>,
    /// The pictures it recorded (`images/<name>.png`), by name, when they were asked for.
    pub images: Vec<(String, Picture)>,
    /// Its artifact folder (`<runs_dir>/<id>`).
    pub folder: PathBuf,
    /// What could not be read back (a missing or damaged artifact), in words.
    pub problems: Vec<String>,
}

impl StoredRun {
    pub fn id(&self) -> RunId {
        self.detail.row.id
    }
}

/// The newest configuration of each kind of `lab`'s runs, where `kind_of` tells a run's kind
/// from its config (None: not one to reopen). Only runs that ended with what they measured
/// (finished, stopped, interrupted) count; runs in the trash do not. A configuration recorded
/// again later keeps only the newest run of each seed, so its seeds stay one of each. Groups come
/// oldest first (by their newest run), so the newest is last, as a new job would be.
pub fn latest_groups(
    store: &RunStore,
    lab: &str,
    kind_of: impl Fn(&Value) -> Option<String>,
) -> Result<Vec<LatestGroup>, StoreError> {
    let rows = store.list(&RunFilter {
        lab: Some(lab.to_string()),
        sort: SortBy::Started,
        descending: true,
        limit: Some(SCAN),
        ..Default::default()
    })?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| {
            matches!(
                r.status,
                RunStatus::Finished | RunStatus::Stopped | RunStatus::Interrupted
            )
        })
        .collect();
    let mut groups: Vec<LatestGroup> = Vec::new();
    let mut seen_keys = std::collections::HashSet::new();
    for r in &rows {
        if !seen_keys.insert(r.config_key.clone()) {
            continue;
        }
        let Some(kind) = store.config(r.id)?.as_ref().and_then(&kind_of) else {
            continue;
        };
        if groups.iter().any(|g| g.kind == kind) {
            continue;
        }
        // Newest first: the first run of each seed is its newest.
        let mut seeds = std::collections::HashSet::new();
        let mut ids: Vec<RunId> = rows
            .iter()
            .filter(|o| o.config_key == r.config_key && seeds.insert(o.seed))
            .map(|o| o.id)
            .collect();
        ids.reverse();
        groups.push(LatestGroup {
            kind,
            config_key: r.config_key.clone(),
            run_ids: ids,
        });
    }
    groups.reverse();
    Ok(groups)
}

/// [`latest_groups`] with each group's runs read whole ([`load_run`]), oldest first; the newest
/// run of a group (its last) with its pictures when `newest_images`.
pub fn load_latest_groups(
    store: &RunStore,
    lab: &str,
    kind_of: impl Fn(&Value) -> Option<String>,
    newest_images: bool,
) -> Result<Vec<(LatestGroup, Vec<StoredRun>)>, StoreError> {
    latest_groups(store, lab, kind_of)?
        .into_iter()
        .map(|g| {
            let newest = g.run_ids.last().copied();
            let runs = g
                .run_ids
                .iter()
                .map(|&id| load_run(store, id, newest_images && Some(id) == newest))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((g, runs))
        })
        .collect()
}

/// Reads run `id` whole: detail, every point, and (when `images`) its pictures decoded. A
/// missing or undecodable artifact is a problem in words, not an error: what exists is returned.
pub fn load_run(store: &RunStore, id: RunId, images: bool) -> Result<StoredRun, StoreError> {
    let detail = store.require(id)?;
    let mut series = Vec::with_capacity(detail.series.len());
    for s in &detail.series {
        let pts = store.series(id, &s.key)?;
        series.push((
            s.key.clone(),
            pts.iter().map(|p| [p.step, p.value]).collect(),
        ));
    }
    let mut problems: Vec<String> = detail
        .missing_artifacts()
        .map(|a| format!("run {id}: {}", a.missing.as_deref().unwrap_or("missing")))
        .collect();
    let mut pictures = Vec::new();
    if images {
        for a in detail.artifacts.iter().filter(|a| a.missing.is_none()) {
            let Some(name) = a
                .name
                .strip_prefix("images/")
                .and_then(|n| n.strip_suffix(".png"))
            else {
                continue;
            };
            let path = store.dir().join(&a.path);
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| image::load_from_memory(&b).map_err(|e| e.to_string()))
            {
                Ok(img) => pictures.push((name.to_string(), img.to_rgba8())),
                Err(e) => {
                    problems.push(format!("run {id}: {} cannot be read: {e}", path.display()))
                }
            }
        }
    }
    Ok(StoredRun {
        folder: super::artifacts::run_folder(store.dir(), id),
        detail,
        series,
        images: pictures,
        problems,
    })
}

/// The series of several runs of one configuration in one store, each prefixed by its seed
/// (`s3/val_acc`), as a multi-seed job of the GUI reports them.
pub fn seed_metrics(runs: &[StoredRun]) -> MetricStore {
    let mut m = MetricStore::default();
    for r in runs {
        let prefix = match r.detail.row.seed {
            Some(s) => format!("s{s}/"),
            None => format!("run{}/", r.id()),
        };
        for (key, pts) in &r.series {
            let name = format!("{prefix}{key}");
            for p in pts {
                m.push(&name, p[0], p[1]);
            }
        }
    }
    m
}

/// "run #3, recorded 2026-11-27" / "runs #3, #4, recorded 2026-11-27".
pub fn origin_text(run_ids: &[RunId], started_ms: i64) -> String {
    let ids: Vec<String> = run_ids.iter().map(|i| format!("#{i}")).collect();
    let t = crate::core::clock::utc(started_ms);
    format!(
        "from run{} {}, recorded {} {:02}:{:02} UTC",
        if ids.len() == 1 { "" } else { "s" },
        ids.join(", "),
        t.date(),
        t.hour,
        t.minute
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::runs::{NewRun, recorded};
    use crate::core::{NullSink, Sink};
    use serde_json::json;

    fn add(store: &RunStore, model: &str, hidden: u64, seed: u64) -> RunId {
        let run = NewRun {
            lab: "demo".into(),
            name: format!("{model} seed {seed}"),
            config: json!({ "model": model, "hidden": hidden, "seed": seed }),
            seed: Some(seed),
            command: "gradlab graph".into(),
            ..Default::default()
        };
        let (_, id) = recorded(
            Some(store),
            run,
            &mut NullSink,
            |s: &mut dyn Sink, _| {
                for i in 0..3 {
                    s.metric("loss", i as f64, (hidden + seed + i) as f64);
                }
                s.image(
                    "pred_0",
                    image::RgbaImage::from_pixel(2, 3, image::Rgba([9; 4])),
                );
                Ok(())
            },
            |_| Ok(json!({ "ok": true })),
            |_| Ok(Vec::new()),
        )
        .unwrap();
        id.unwrap()
    }

    #[test]
    fn latest_groups_take_the_newest_config_of_each_kind_and_newest_run_per_seed() {
        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::open(dir.path()).unwrap();
        let old_gcn = add(&store, "gcn", 16, 0);
        let gat = add(&store, "gat", 8, 0);
        let gcn0 = add(&store, "gcn", 32, 0);
        let gcn1 = add(&store, "gcn", 32, 1);
        // The same configuration and seed again: it replaces the older run of that seed.
        let gcn0_again = add(&store, "gcn", 32, 0);
        let _ = add(&store, "skip-me", 1, 0);
        let groups = latest_groups(&store, "demo", |c| {
            let m = c["model"].as_str()?;
            (m != "skip-me").then(|| m.to_string())
        })
        .unwrap();
        let got: Vec<(&str, &[RunId])> = groups
            .iter()
            .map(|g| (g.kind.as_str(), g.run_ids.as_slice()))
            .collect();
        assert_eq!(got, [("gat", &[gat][..]), ("gcn", &[gcn1, gcn0_again][..])]);
        assert!(!groups.iter().any(|g| g.run_ids.contains(&old_gcn)));
        assert!(!groups.iter().any(|g| g.run_ids.contains(&gcn0)));
    }

    #[test]
    fn a_run_reads_back_whole_and_a_deleted_picture_is_named_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::open(dir.path()).unwrap();
        let a = add(&store, "gcn", 16, 0);
        let b = add(&store, "gcn", 16, 1);
        let run = load_run(&store, a, true).unwrap();
        assert_eq!(
            run.series,
            [(
                "loss".to_string(),
                vec![[0.0, 16.0], [1.0, 17.0], [2.0, 18.0]]
            )]
        );
        assert_eq!(run.images.len(), 1);
        assert_eq!(run.images[0].0, "pred_0");
        assert_eq!(run.images[0].1.dimensions(), (2, 3));
        assert_eq!(run.detail.summary, Some(json!({ "ok": true })));
        assert!(run.problems.is_empty(), "{:?}", run.problems);

        std::fs::remove_file(run.folder.join("images/pred_0.png")).unwrap();
        let run = load_run(&store, a, true).unwrap();
        assert!(run.images.is_empty());
        assert_eq!(run.problems.len(), 1);
        assert!(run.problems[0].contains("pred_0.png"), "{:?}", run.problems);
        assert_eq!(run.series[0].1.len(), 3, "the points are still there");

        let both = [run, load_run(&store, b, false).unwrap()];
        let m = seed_metrics(&both);
        assert_eq!(m.get("s0/loss").unwrap().len(), 3);
        assert_eq!(m.last("s1/loss"), Some(19.0));
        assert!(both[1].images.is_empty(), "pictures only when asked for");
    }

    #[test]
    fn origin_text_names_runs_and_date() {
        assert_eq!(
            origin_text(&[3], 0),
            "from run #3, recorded 1970-01-01 00:00 UTC"
        );
        assert!(origin_text(&[3, 4], 0).starts_with("from runs #3, #4,"));
    }
}
