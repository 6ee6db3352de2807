//! `gradlab runs`: list, show, export, delete, restore and purge recorded runs; and
//! [`recorded`], which every training command wraps its runs in.

use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use crate::core::StopFlag;
use crate::core::clock::utc;
use crate::core::runs::{self, NewRun, RunFilter, RunId, RunStatus, RunStore, SortBy};
use crate::labs::lab::CliOutput as Output;

#[derive(clap::Args, Debug)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub command: RunsCommand,
    /// Print exactly one JSON object on stdout.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum RunsCommand {
    /// The runs, newest first, and the configurations they share (mean ± std over seeds).
    List {
        #[arg(long)]
        lab: Option<String>,
        /// running, finished, stopped, failed, diverged or interrupted.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        tag: Option<String>,
        /// Only runs of this model (e.g. gcn, gat, mlp).
        #[arg(long)]
        model: Option<String>,
        /// Only runs on this dataset (e.g. cora, synthetic, isbi, shapes).
        #[arg(long)]
        dataset: Option<String>,
        /// started, name, status, main, or any figure of the summaries (e.g. ms_per_epoch_median);
        /// largest first unless --ascending.
        #[arg(long, default_value = "started")]
        sort: String,
        #[arg(long)]
        ascending: bool,
        /// The runs in the trash instead.
        #[arg(long)]
        trash: bool,
        /// At most this many runs.
        #[arg(long)]
        limit: Option<usize>,
        /// Only the runs of this sweep (`gradlab sweep list` shows the ids).
        #[arg(long)]
        sweep: Option<i64>,
    },
    /// Everything about one run: config, provenance, summary, series, artifacts.
    Show { id: RunId },
    /// Every metric point of a run.
    Export {
        id: RunId,
        /// As CSV (key,step,value,wall_s); the only format for now.
        #[arg(long)]
        csv: bool,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Move a run to the trash (undo with `restore`).
    Delete { id: RunId },
    /// Take a run out of the trash.
    Restore { id: RunId },
    /// Delete the runs in the trash for good, with their files.
    Purge,
}

/// Opens the store for a command; the error names the database file.
pub fn open(runs_dir: &Path) -> anyhow::Result<RunStore> {
    Ok(RunStore::open(runs_dir)?)
}

pub fn run(args: &RunsArgs, runs_dir: &Path) -> anyhow::Result<Output> {
    let mut store = open(runs_dir)?;
    match &args.command {
        RunsCommand::List {
            lab,
            status,
            tag,
            model,
            dataset,
            sort,
            ascending,
            trash,
            limit,
            sweep,
        } => {
            let status = match status {
                None => None,
                Some(s) => Some(RunStatus::parse(s).with_context(|| {
                    format!("unknown status {s:?} (running, finished, stopped, failed, diverged, interrupted)")
                })?),
            };
            let f = RunFilter {
                lab: lab.clone(),
                status,
                tag: tag.clone(),
                model: model.clone(),
                dataset: dataset.clone(),
                trash: *trash,
                sort: match sort.as_str() {
                    "started" => SortBy::Started,
                    "name" => SortBy::Name,
                    "status" => SortBy::Status,
                    "main" => SortBy::Main,
                    figure => SortBy::Summary(figure.to_string()),
                },
                descending: !ascending,
                limit: *limit,
                sweep: *sweep,
                ..Default::default()
            };
            if let Some(id) = sweep {
                anyhow::ensure!(store.sweep(*id)?.is_some(), "no sweep {id} in the store");
            }
            let rows = store.list(&f)?;
            let groups = crate::core::runs::group_rows(&rows);
            let mut human = format!(
                "{:>5}  {:<6} {:<11} {:<28} {:>5}  {:<19}  {}\n",
                "id",
                "lab",
                "status",
                "name",
                "seed",
                "started",
                if matches!(f.sort, SortBy::Summary(_)) {
                    sort.as_str()
                } else {
                    "main figure"
                }
            );
            for r in &rows {
                human.push_str(&format!(
                    "{:>5}  {:<6} {:<11} {:<28} {:>5}  {:<19}  {}\n",
                    r.id,
                    r.lab,
                    r.status.as_str(),
                    truncate(&r.name, 28),
                    r.seed.map(|s| s.to_string()).unwrap_or_default(),
                    utc_time(r.started_ms),
                    match (&r.main_metric, r.main_value, r.sort_value) {
                        (_, _, Some(v)) => format!("{sort} {}", runs::figure_text(v)),
                        (Some(k), Some(v), None) => format!("{k} {}", runs::figure_text(v)),
                        _ => String::new(),
                    } + unfingerprinted(r.dataset.as_deref(), r.dataset_sha256.as_deref())
                ));
            }
            human.push_str(&format!(
                "{} in {}\n",
                runs::count_text(rows.len(), "run"),
                store.db_path().display()
            ));
            let shared: Vec<_> = groups.iter().filter(|g| g.run_ids.len() > 1).collect();
            if !shared.is_empty() {
                human.push_str("configurations run more than once:\n");
                for g in shared {
                    human.push_str(&format!(
                        "  {} [{}] {} {}: runs {}{}\n",
                        g.name,
                        g.config_key,
                        g.main_metric.as_deref().unwrap_or("-"),
                        g.mean_std_text(),
                        join_ids(&g.run_ids),
                        unfingerprinted(g.dataset.as_deref(), g.dataset_sha256.as_deref())
                    ));
                }
            }
            Ok(Output {
                json: json!({
                    "store": store.db_path(),
                    "runs": rows,
                    "groups": groups,
                }),
                human: human.trim_end().to_string(),
            })
        }
        RunsCommand::Show { id } => {
            let d = store.require(*id)?;
            let mut h = format!(
                "run {} \"{}\" ({}), {}\n  started {}{}\n  command: {}\n  gradlab {}{}, {}\n",
                d.row.id,
                d.row.name,
                d.row.lab,
                d.row.status,
                utc_time(d.row.started_ms),
                d.row
                    .ended_ms
                    .map(|e| format!(", ended {}", utc_time(e)))
                    .unwrap_or_default(),
                d.command,
                d.gradlab_version,
                d.git_commit
                    .as_deref()
                    .map(|c| format!(" ({})", &c[..c.len().min(12)]))
                    .unwrap_or_default(),
                d.machine["cpu"].as_str().unwrap_or("?"),
            );
            if let Some(data) = &d.row.dataset {
                h.push_str(&format!(
                    "  data: {data}, sha256 {}\n",
                    d.row.dataset_sha256.as_deref().unwrap_or(
                        "unknown (data not fingerprinted: recorded by an older gradlab)"
                    )
                ));
            }
            if let Some(e) = &d.error {
                h.push_str(&format!("  error: {e}\n"));
            }
            if !d.row.tags.is_empty() {
                h.push_str(&format!("  tags: {}\n", d.row.tags.join(", ")));
            }
            h.push_str(&format!("  config: {}\n", d.config));
            if let Some(s) = &d.summary {
                let mut s = s.clone();
                if let Value::Object(m) = &mut s {
                    m.retain(|_, v| !v.is_array() && !v.is_object());
                }
                h.push_str(&format!("  summary: {s}\n"));
            }
            for s in &d.series {
                h.push_str(&format!(
                    "  series {:<24} {:>6} points, last {} at step {}\n",
                    s.key, s.points, s.last_value, s.last_step
                ));
            }
            for a in &d.artifacts {
                match &a.missing {
                    None => h.push_str(&format!("  file {} ({} bytes)\n", a.path, a.size)),
                    Some(why) => h.push_str(&format!("  file {} MISSING: {why}\n", a.path)),
                }
            }
            let missing: Vec<&str> = d.missing_artifacts().map(|a| a.name.as_str()).collect();
            let mut j = serde_json::to_value(&d)?;
            j["missing_artifacts"] = json!(missing);
            Ok(Output {
                json: j,
                human: h.trim_end().to_string(),
            })
        }
        RunsCommand::Export { id, csv: _, out } => {
            let csv = store.export_csv(*id)?;
            let rows = csv.lines().count().saturating_sub(1);
            match out {
                Some(p) => {
                    crate::core::files::atomic_write(p, csv.as_bytes())?;
                    Ok(Output {
                        json: json!({"run": id, "points": rows, "file": p}),
                        human: format!("{rows} points of run {id} written to {}", p.display()),
                    })
                }
                None => Ok(Output {
                    json: json!({"run": id, "points": rows, "csv": csv}),
                    human: csv.trim_end().to_string(),
                }),
            }
        }
        RunsCommand::Delete { id } => {
            store.delete(*id)?;
            Ok(Output {
                json: json!({"deleted": id}),
                human: format!("run {id} moved to the trash (undo: gradlab runs restore {id})"),
            })
        }
        RunsCommand::Restore { id } => {
            store.restore(*id)?;
            Ok(Output {
                json: json!({"restored": id}),
                human: format!("run {id} restored"),
            })
        }
        RunsCommand::Purge => {
            let p = store.purge()?;
            let kept: Vec<String> = p.kept.iter().map(|k| k.display().to_string()).collect();
            let mut human = format!("{} purged", runs::count_text(p.ids.len(), "run"));
            if !kept.is_empty() {
                human.push_str(&format!(
                    "; left in place {} file(s) that gradlab did not write:",
                    kept.len()
                ));
                for k in &kept {
                    human.push_str(&format!("\n  {k}"));
                }
            }
            Ok(Output {
                json: json!({"purged": p.ids, "kept": kept}),
                human,
            })
        }
    }
}

/// The mark of a run (or group) with data but no fingerprint of it: recorded by an older
/// gradlab, so it groups only with runs like it.
fn unfingerprinted(dataset: Option<&str>, sha: Option<&str>) -> &'static str {
    if dataset.is_some() && sha.is_none() {
        " (data not fingerprinted)"
    } else {
        ""
    }
}

/// `gradlab bench --only runstore`: what recording costs a GCN epoch, and how fast a store of
/// 1,000 runs x 1,000 points opens, lists and groups.
///
/// `run_store_overhead_pct` counts every CPU second recording costs (the sends on the training
/// thread plus the writer thread's CPU time) against the wall time of the training epochs, so
/// it does not hide in the noise of an A/B wall-clock difference (which is reported too).
pub fn bench(data_dir: &Path) -> anyhow::Result<Value> {
    use crate::core::NullSink;
    use crate::core::runs::Recorder;
    use crate::labs::graphs::train::train_one;
    use crate::labs::graphs::{GraphConfig, ModelKind, Preset};
    use std::time::Instant;

    let (graph, dataset) = match crate::data::graph::load_cora(&data_dir.join("cora")) {
        Ok(g) => (g, "cora"),
        Err(_) => (
            crate::data::graph::synthetic_graph(&crate::data::graph::SyntheticSpec::default())?,
            "synthetic (Cora not found)",
        ),
    };
    let cfg = GraphConfig {
        epochs: 200,
        patience: 0,
        snapshot_every: 0,
        ..GraphConfig::preset(ModelKind::Gcn, Preset::Paper)
    };
    let tmp = tempfile::tempdir()?;
    let store = RunStore::open(tmp.path())?;
    train_one(&cfg, &graph, &mut NullSink, &StopFlag::new())?; // warm-up
    let (mut plain, mut recorded, mut pct) = (Vec::new(), Vec::new(), Vec::new());
    let (mut points, mut commits, mut epochs) = (0, 0, 0);
    let (mut caller_ms, mut writer_ms) = (Vec::new(), Vec::new());
    // Alternate which goes first so drift on a shared machine does not favour either.
    for k in 0..4 {
        let mut time_plain = || -> anyhow::Result<()> {
            let t = Instant::now();
            train_one(&cfg, &graph, &mut NullSink, &StopFlag::new())?;
            plain.push(t.elapsed().as_secs_f64());
            Ok(())
        };
        if k % 2 == 0 {
            time_plain()?;
        }

        let mut inner = NullSink;
        let run = NewRun {
            lab: "graph".into(),
            name: "bench".into(),
            config: serde_json::to_value(&cfg)?,
            main_metric: Some("test_acc".into()),
            ..Default::default()
        };
        let mut rec = Recorder::start(&store, &run, &mut inner)?.measure();
        let t = Instant::now();
        let r = train_one(&cfg, &graph, &mut rec, &StopFlag::new())?;
        let train_s = t.elapsed().as_secs_f64();
        let st = rec.finish(&Ok(serde_json::to_value(&r)?), false)?;
        recorded.push(train_s);
        pct.push((st.caller_s + st.writer_cpu_s) / train_s * 100.0);
        caller_ms.push(st.caller_s * 1e3);
        writer_ms.push(st.writer_cpu_s * 1e3);
        points = st.points;
        commits = st.commits;
        epochs = r.epochs_run;
        if k % 2 == 1 {
            time_plain()?;
        }
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (p, r) = (med(&mut plain), med(&mut recorded));

    let seg = seg_overhead(&store)?;
    let (gen_s, open_ms, list_ms, groups_ms, series_ms, db_mib) = big_store(1000, 1000)?;
    Ok(json!({
        "run_store_overhead_pct": round(med(&mut pct), 3),
        "recording_caller_ms_per_run": round(med(&mut caller_ms), 3),
        "recording_writer_cpu_ms_per_run": round(med(&mut writer_ms), 3),
        "gcn_epochs_per_run": epochs,
        "run_store_ab_wall_pct": round((r / p - 1.0) * 100.0, 2),
        "gcn_epoch_ms_recorded": round(r / epochs as f64 * 1e3, 3),
        "gcn_epoch_ms_plain": round(p / epochs as f64 * 1e3, 3),
        "points_per_run": points,
        "commits_per_run": commits,
        "runstore_dataset": dataset,
        "run_store_overhead_unet_pct": round(seg.0, 3),
        "unet_steps_recorded": seg.1,
        "unet_recording_cpu_ms": round(seg.2, 2),
        "store_1000x1000_generate_s": round(gen_s, 2),
        "store_1000x1000_mib": round(db_mib, 1),
        "open_1000_runs_ms": round(open_ms, 2),
        "list_1000_runs_ms": round(list_ms, 2),
        "groups_1000_runs_ms": round(groups_ms, 2),
        "series_1000_points_ms": round(series_ms, 3),
    }))
}

/// What recording costs a U-Net run (shapes, 2 epochs x 8 steps, its gallery pictures encoded
/// as PNG and its checkpoint written): CPU seconds of the sends plus the writer thread, over the
/// training time, in percent; the number of steps; the recording CPU in ms.
fn seg_overhead(store: &RunStore) -> anyhow::Result<(f64, usize, f64)> {
    use crate::core::NullSink;
    use crate::core::runs::Recorder;
    use crate::labs::segmentation::{SegConfig, train, train::checkpoint_files};
    use std::time::Instant;

    let cfg = SegConfig {
        epochs: 2,
        steps_per_epoch: 8,
        ..SegConfig::default()
    };
    let run = NewRun {
        lab: "segmentation".into(),
        name: "bench".into(),
        config: serde_json::to_value(&cfg)?,
        main_metric: Some("val_miou".into()),
        ..Default::default()
    };
    let mut inner = NullSink;
    let mut rec = Recorder::start(store, &run, &mut inner)?.measure();
    let t = Instant::now();
    let out = train(&cfg, &mut rec, &StopFlag::new())?;
    for (name, bytes) in checkpoint_files(&out)? {
        rec.save_file(&name, bytes);
    }
    let train_s = t.elapsed().as_secs_f64();
    let st = rec.finish(&Ok(out.summary.clone()), false)?;
    let cpu = st.caller_s + st.writer_cpu_s;
    Ok((
        cpu / train_s * 100.0,
        cfg.epochs * cfg.steps_per_epoch,
        cpu * 1e3,
    ))
}

/// Generates a store of `runs` runs x `points` points (4 series, as a graph run has) and times
/// the queries a Runs view makes: open, list all, group all, one series. Medians of 10.
fn big_store(runs: usize, points: usize) -> anyhow::Result<(f64, f64, f64, f64, f64, f64)> {
    use std::time::Instant;
    let tmp = tempfile::tempdir()?;
    let t = Instant::now();
    {
        let mut store = RunStore::open(tmp.path())?;
        store.generate_for_bench(runs, points)?;
    }
    let gen_s = t.elapsed().as_secs_f64();
    let time = |f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<f64> {
        let mut v = Vec::new();
        for _ in 0..10 {
            let t = Instant::now();
            f()?;
            v.push(t.elapsed().as_secs_f64() * 1e3);
        }
        v.sort_by(|a, b| a.total_cmp(b));
        Ok(v[v.len() / 2])
    };
    let open_ms = time(&mut || {
        RunStore::open(tmp.path())?;
        Ok(())
    })?;
    let store = RunStore::open(tmp.path())?;
    let f = RunFilter::default();
    let list_ms = time(&mut || {
        anyhow::ensure!(store.list(&f)?.len() == runs, "list lost runs");
        Ok(())
    })?;
    let groups_ms = time(&mut || {
        store.groups(&f)?;
        Ok(())
    })?;
    let series_ms = time(&mut || {
        anyhow::ensure!(store.series(runs as i64 / 2, "val_acc")?.len() == points / 4);
        Ok(())
    })?;
    let mib = std::fs::read_dir(tmp.path())?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len() as f64)
        .sum::<f64>()
        / (1024.0 * 1024.0);
    Ok((gen_s, open_ms, list_ms, groups_ms, series_ms, mib))
}

fn round(x: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (x * k).round() / k
}

fn join_ids(ids: &[RunId]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// "2026-11-27 05:12:33" (UTC).
fn utc_time(ms: i64) -> String {
    let t = utc(ms);
    format!("{} {:02}:{:02}:{:02}", t.date(), t.hour, t.minute, t.second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc_time(1_796_000_000_000), "2026-11-30 00:53:20");
    }
}
