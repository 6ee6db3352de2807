//! The run store end to end: recording through the sink, the `gradlab runs` CLI, grouping of
//! seeds, live reading while a CLI trains, kills at random moments, and bad databases.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{gradlab, json_of};
use gradlab::core::runs::{
    DB_FILE, NewRun, Query, Recorder, Reply, RunFilter, RunStatus, RunStore, StoreReader,
};
use gradlab::core::{Sink, VecSink};
use serde_json::{Value, json};

fn new_run(name: &str, seed: u64, hidden: u64) -> NewRun {
    NewRun {
        lab: "graph".into(),
        name: name.into(),
        config: json!({"model": "gcn", "hidden": hidden, "seed": seed}),
        seed: Some(seed),
        dataset: Some("synthetic".into()),
        command: "gradlab graph".into(),
        tags: vec!["test".into()],
        main_metric: Some("test_acc".into()),
        ..Default::default()
    }
}

/// Records one run of `n` points per series through a Recorder in front of a VecSink.
fn record(store: &RunStore, run: NewRun, n: usize, acc: f64) -> (i64, VecSink) {
    let mut inner = VecSink::default();
    let mut rec = Recorder::start(store, &run, &mut inner).unwrap();
    let id = rec.run_id();
    for k in 0..n {
        rec.progress(k as u64, n as u64);
        rec.metric("train_loss", k as f64, 1.0 / (k + 1) as f64);
        rec.metric("val_acc", k as f64, acc * k as f64 / n as f64);
    }
    rec.log("hello");
    rec.image(
        "pred",
        image::RgbaImage::from_pixel(4, 3, image::Rgba([9, 8, 7, 255])),
    );
    rec.finish(&Ok(json!({"test_acc": acc})), false).unwrap();
    (id, inner)
}

#[test]
fn round_trip_through_the_recorder() {
    let t = tempfile::tempdir().unwrap();
    let store = RunStore::open(t.path()).unwrap();
    let (id, inner) = record(&store, new_run("a", 0, 16), 50, 0.8);
    // Every event reached the inner sink too.
    assert_eq!(inner.series("val_acc").len(), 50);
    drop(store);

    let store = RunStore::open(t.path()).unwrap();
    let d = store.require(id).unwrap();
    assert_eq!(d.row.status, RunStatus::Finished);
    assert_eq!(d.row.seed, Some(0));
    assert_eq!(d.row.main_value, Some(0.8));
    assert_eq!(d.row.tags, vec!["test".to_string()]);
    assert_eq!(d.config["hidden"], 16);
    assert_eq!(d.summary.as_ref().unwrap()["test_acc"], 0.8);
    assert_eq!(d.logs, vec!["hello".to_string()]);
    assert_eq!(d.pid, std::process::id() as i64);
    assert!(d.row.ended_ms.unwrap() >= d.row.started_ms);
    assert_eq!(d.row.progress_done, Some(49));
    let loss = store.series(id, "train_loss").unwrap();
    let want: Vec<(f64, f64)> = inner.series("train_loss");
    assert_eq!(
        loss.iter().map(|p| (p.step, p.value)).collect::<Vec<_>>(),
        want
    );
    assert!(loss.windows(2).all(|w| w[0].wall <= w[1].wall));
    // The picture is a PNG artifact whose bytes match the recorded size and hash.
    assert_eq!(d.artifacts.len(), 1);
    let a = &d.artifacts[0];
    assert_eq!(a.missing, None);
    let bytes = std::fs::read(t.path().join(&a.path)).unwrap();
    assert_eq!(bytes.len() as u64, a.size);
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 4);
    // Incremental reads return only what is new.
    let (all, cur) = store.series_after(id, "val_acc", 0).unwrap();
    assert_eq!(all.len(), 50);
    assert!(store.series_after(id, "val_acc", cur).unwrap().0.is_empty());
    // CSV export has a header and every point.
    let csv = store.export_csv(id).unwrap();
    assert_eq!(csv.lines().count(), 1 + 100);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn trash_restore_purge_and_filters() {
    let t = tempfile::tempdir().unwrap();
    let mut store = RunStore::open(t.path()).unwrap();
    let (a, _) = record(&store, new_run("alpha", 0, 16), 3, 0.5);
    let (b, _) = record(&store, new_run("beta", 0, 32), 3, 0.9);
    store.add_tag(b, "best").unwrap();
    let only =
        |f: RunFilter| -> Vec<i64> { store.list(&f).unwrap().iter().map(|r| r.id).collect() };
    assert_eq!(
        only(RunFilter {
            tag: Some("best".into()),
            ..Default::default()
        }),
        vec![b]
    );
    assert_eq!(
        only(RunFilter {
            sort: gradlab::core::runs::SortBy::Main,
            descending: true,
            ..Default::default()
        }),
        vec![b, a]
    );
    assert_eq!(
        only(RunFilter {
            sort: gradlab::core::runs::SortBy::Summary("test_acc".into()),
            ..Default::default()
        }),
        vec![a, b]
    );
    store.delete(a).unwrap();
    assert_eq!(only(RunFilter::default()), vec![b]);
    assert_eq!(
        only(RunFilter {
            trash: true,
            ..Default::default()
        }),
        vec![a]
    );
    store.restore(a).unwrap();
    assert_eq!(only(RunFilter::default()).len(), 2);
    store.delete(a).unwrap();
    assert!(t.path().join(a.to_string()).is_dir());
    assert_eq!(store.purge().unwrap().ids, vec![a]);
    assert!(store.get(a).unwrap().is_none());
    assert!(!t.path().join(a.to_string()).exists());
    assert!(store.series(a, "val_acc").unwrap().is_empty());
    assert_eq!(store.series(b, "val_acc").unwrap().len(), 3);
    assert!(store.delete(a).is_err());
}

#[test]
fn model_and_dataset_filters_facets_and_the_sorted_figure() {
    let t = tempfile::tempdir().unwrap();
    let store = RunStore::open(t.path()).unwrap();
    let (gcn, _) = record(&store, new_run("gcn seed 0", 0, 16), 2, 0.8);
    let mut gat = new_run("gat seed 0", 0, 16);
    gat.config["model"] = json!("gat");
    gat.dataset = Some("cora".into());
    let (gat, _) = record(&store, gat, 2, 0.7);
    let only =
        |f: RunFilter| -> Vec<i64> { store.list(&f).unwrap().iter().map(|r| r.id).collect() };
    let by_model = |m: &str| RunFilter {
        model: Some(m.into()),
        ..Default::default()
    };
    assert_eq!(only(by_model("gat")), vec![gat]);
    assert_eq!(only(by_model("gcn")), vec![gcn]);
    assert_eq!(
        only(RunFilter {
            dataset: Some("cora".into()),
            ..Default::default()
        }),
        vec![gat]
    );
    let f = store.facets(None).unwrap();
    assert_eq!(f.models, vec!["gat", "gcn"]);
    assert_eq!(f.datasets, vec!["cora", "synthetic"]);
    assert_eq!(f.figures, vec!["test_acc"]);
    assert!(
        store
            .facets(Some("segmentation"))
            .unwrap()
            .models
            .is_empty()
    );
    // Sorted by a summary figure, each row carries it; otherwise none does.
    let rows = store
        .list(&RunFilter {
            sort: gradlab::core::runs::SortBy::Summary("test_acc".into()),
            descending: true,
            ..Default::default()
        })
        .unwrap();
    let got: Vec<(i64, Option<f64>)> = rows.iter().map(|r| (r.id, r.sort_value)).collect();
    assert_eq!(got, vec![(gcn, Some(0.8)), (gat, Some(0.7))]);
    assert!(
        store
            .list(&RunFilter::default())
            .unwrap()
            .iter()
            .all(|r| r.sort_value.is_none())
    );
    // A group is named without the seed of its first run.
    let g = store.groups(&RunFilter::default()).unwrap();
    assert!(g.iter().any(|g| g.name == "gcn"), "{g:?}");
}

#[test]
fn grouping_by_config_gives_mean_std_n() {
    let t = tempfile::tempdir().unwrap();
    let store = RunStore::open(t.path()).unwrap();
    let accs = [0.70, 0.74, 0.78];
    for (s, acc) in accs.iter().enumerate() {
        record(&store, new_run("gcn", s as u64, 16), 2, *acc);
    }
    record(&store, new_run("gcn wide", 0, 64), 2, 0.9);
    let g = store.groups(&RunFilter::default()).unwrap();
    assert_eq!(g.len(), 2);
    let three = g.iter().find(|g| g.run_ids.len() == 3).unwrap();
    let mean = accs.iter().sum::<f64>() / 3.0;
    let std = (accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    assert_eq!(three.n, 3);
    assert!((three.mean.unwrap() - mean).abs() < 1e-12);
    assert!((three.std.unwrap() - std).abs() < 1e-12);
    assert_eq!(three.mean_std_text(), format!("{mean:.4} ± {std:.4} (n=3)"));
}

#[test]
fn cli_graph_seeds_are_three_runs_grouped_as_one_configuration() {
    let t = tempfile::tempdir().unwrap();
    let o = gradlab(
        t.path(),
        &[
            "graph",
            "--dataset",
            "synthetic",
            "--model",
            "gcn",
            "--seeds",
            "3",
            "--epochs",
            "4",
            "--json",
        ],
    );
    let out = json_of(&o);
    let ids: Vec<i64> = serde_json::from_value(out["run_ids"].clone()).unwrap();
    assert_eq!(ids.len(), 3);
    let human = gradlab(
        t.path(),
        &[
            "graph",
            "--dataset",
            "synthetic",
            "--seeds",
            "2",
            "--epochs",
            "2",
        ],
    );
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains(&format!("runs {},{}", ids[2] + 1, ids[2] + 2)),
        "{text}"
    );
    let list = json_of(&gradlab(t.path(), &["runs", "list", "--json"]));
    assert_eq!(list["runs"].as_array().unwrap().len(), 5);
    let groups: Vec<&Value> = list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["run_ids"].as_array().unwrap().len() == 3)
        .collect();
    assert_eq!(groups.len(), 1, "{list}");
    assert_eq!(groups[0]["n"], 3);
    let mut gids: Vec<i64> = serde_json::from_value(groups[0]["run_ids"].clone()).unwrap();
    gids.sort();
    assert_eq!(gids, ids);
    let mean = groups[0]["mean"].as_f64().unwrap();
    assert!((mean - out["test_acc_mean"].as_f64().unwrap()).abs() < 1e-9);
    assert_eq!(list["groups"].as_array().unwrap().len(), 2, "{list}");
    for r in list["runs"].as_array().unwrap() {
        assert_eq!(r["status"], "finished");
    }
    // Named after the configuration, not after the seed of its first run.
    let name = groups[0]["name"].as_str().unwrap();
    assert!(
        name.rsplit_once(" seed ")
            .is_none_or(|(_, n)| n.parse::<u64>().is_err()),
        "{name}"
    );
    // Sorted by a summary figure, smallest first, each run carrying it.
    let sorted = json_of(&gradlab(
        t.path(),
        &[
            "runs",
            "list",
            "--sort",
            "test_acc",
            "--ascending",
            "--json",
        ],
    ));
    let accs: Vec<f64> = sorted["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sort_value"].as_f64().expect("each run has test_acc"))
        .collect();
    assert_eq!(accs.len(), 5);
    assert!(accs.windows(2).all(|w| w[0] <= w[1]), "{accs:?}");
    let gat = json_of(&gradlab(
        t.path(),
        &["runs", "list", "--model", "gat", "--json"],
    ));
    assert!(gat["runs"].as_array().unwrap().is_empty(), "{gat}");
    // show, export, delete, restore, purge through the CLI.
    let id = ids[0].to_string();
    let show = json_of(&gradlab(t.path(), &["runs", "show", &id, "--json"]));
    assert_eq!(show["series"].as_array().unwrap().len(), 5, "{show}");
    assert!(show["command"].as_str().unwrap().contains("--seeds 3"));
    assert_eq!(show["config"]["seed"], 0);
    let csv = gradlab(t.path(), &["runs", "export", &id, "--csv"]);
    assert!(csv.status.success());
    let text = String::from_utf8_lossy(&csv.stdout);
    assert!(text.starts_with("key,step,value,wall_s"));
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("train_loss,"))
            .count(),
        4
    );
    json_of(&gradlab(t.path(), &["runs", "delete", &id, "--json"]));
    let list = json_of(&gradlab(t.path(), &["runs", "list", "--json"]));
    assert_eq!(list["runs"].as_array().unwrap().len(), 4);
    json_of(&gradlab(t.path(), &["runs", "restore", &id, "--json"]));
    json_of(&gradlab(t.path(), &["runs", "delete", &id, "--json"]));
    let p = json_of(&gradlab(t.path(), &["runs", "purge", "--json"]));
    assert_eq!(p["purged"], json!([ids[0]]));
    let missing = gradlab(t.path(), &["runs", "show", &id]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn an_artifact_deleted_by_hand_is_reported_not_fatal() {
    let t = tempfile::tempdir().unwrap();
    let id = {
        let store = RunStore::open(t.path()).unwrap();
        record(&store, new_run("pic", 0, 16), 2, 0.5).0
    };
    let png = t.path().join(format!("{id}/images/pred.png"));
    assert!(png.is_file());
    std::fs::remove_file(&png).unwrap();
    let list = json_of(&gradlab(t.path(), &["runs", "list", "--json"]));
    assert_eq!(list["runs"][0]["id"], id);
    let o = gradlab(t.path(), &["runs", "show", &id.to_string()]);
    assert!(o.status.success());
    let human = String::from_utf8_lossy(&o.stdout);
    assert!(
        human.contains("MISSING") && human.contains("pred.png"),
        "{human}"
    );
    let j = json_of(&gradlab(
        t.path(),
        &["runs", "show", &id.to_string(), "--json"],
    ));
    assert_eq!(j["missing_artifacts"], json!(["images/pred.png"]));
}

/// A CLI run is visible to another process's reader while it trains, points growing, and is
/// marked interrupted once killed.
#[test]
fn a_cli_run_appears_live_in_a_background_reader() {
    let t = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gradlab"))
        .args([
            "graph",
            "--dataset",
            "synthetic",
            "--seeds",
            "1",
            "--epochs",
            "100000",
        ])
        .arg("--runs-dir")
        .arg(t.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (wake_tx, wake_rx) = std::sync::mpsc::channel();
    let reader = StoreReader::spawn(t.path().to_path_buf(), move || {
        let _ = wake_tx.send(());
    });
    reader.send(Query::List(RunFilter::default()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut counts = Vec::new();
    let mut run = None;
    while Instant::now() < deadline && counts.len() < 3 {
        match reader.wait(Duration::from_millis(500)) {
            Some(Reply::List(rows)) => {
                if let Some(r) = rows.first() {
                    assert_eq!(r.status, RunStatus::Running);
                    run = Some(r.id);
                }
            }
            Some(Reply::Series { series, .. }) => {
                let n = series[0].points.len();
                if n > 0 && counts.last().is_none_or(|&c| n > c) {
                    counts.push(n);
                }
            }
            Some(Reply::Unavailable(why)) => panic!("{why}"),
            _ => {}
        }
        if let Some(id) = run {
            reader.send(Query::Series {
                run: id,
                keys: vec!["train_loss".into()],
                cursors: vec![0],
            });
            std::thread::sleep(Duration::from_millis(150));
        } else {
            reader.send(Query::List(RunFilter::default()));
        }
    }
    assert!(
        wake_rx.try_recv().is_ok(),
        "the reader never woke its owner"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        counts.len() >= 3 && counts[0] > 0,
        "points did not grow live: {counts:?}"
    );
    let store = RunStore::open(t.path()).unwrap();
    assert_eq!(
        store.require(run.unwrap()).unwrap().row.status,
        RunStatus::Interrupted
    );
}

/// 50 `kill -9` of `gradlab graph` at random moments into one store: the database stays whole,
/// the killed run is `interrupted`, and no finished run ever loses a point.
#[test]
fn fifty_kills_at_random_moments() {
    let t = tempfile::tempdir().unwrap();
    let mut finished: std::collections::BTreeMap<i64, (usize, usize)> = Default::default();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let started = Instant::now();
    let (mut interrupted, mut kills_mid_run) = (0, 0);
    for round in 0..50 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(seed % 700);
        let mut child = Command::new(env!("CARGO_BIN_EXE_gradlab"))
            .args([
                "graph",
                "--dataset",
                "synthetic",
                "--seeds",
                "20",
                "--epochs",
                "15",
            ])
            .arg("--runs-dir")
            .arg(t.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let store = RunStore::open(t.path()).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(store.integrity_check().unwrap(), "ok", "round {round}");
        let rows = store.list(&RunFilter::default()).unwrap();
        assert!(
            rows.iter().all(|r| r.status != RunStatus::Running),
            "round {round}: a dead process's run is still running"
        );
        for r in &rows {
            let d = store.require(r.id).unwrap();
            let points = |k: &str| store.series(r.id, k).unwrap().len();
            match r.status {
                RunStatus::Finished => {
                    let epochs =
                        d.summary.as_ref().unwrap()["epochs_run"].as_u64().unwrap() as usize;
                    let now = (points("train_loss"), points("test_acc"));
                    assert_eq!(now, (epochs, 1), "round {round}: run {} lost points", r.id);
                    if let Some(before) = finished.insert(r.id, now) {
                        assert_eq!(before, now, "round {round}: run {} changed", r.id);
                    }
                }
                RunStatus::Interrupted => {}
                other => panic!("round {round}: run {} is {other}", r.id),
            }
        }
        let newest_interrupted = rows
            .iter()
            .filter(|r| r.status == RunStatus::Interrupted)
            .count();
        if newest_interrupted > interrupted {
            kills_mid_run += 1;
        }
        interrupted = newest_interrupted;
    }
    eprintln!(
        "50 kills in {:.1} s: {} finished runs, {} interrupted, {} kills mid-run",
        started.elapsed().as_secs_f64(),
        finished.len(),
        interrupted,
        kills_mid_run
    );
    // The moments must have been varied enough to test something.
    assert!(
        kills_mid_run >= 10,
        "only {kills_mid_run} kills hit a running run"
    );
    assert!(!finished.is_empty(), "no run finished before a kill");
}

fn one_error_line(o: &Output, file: &Path) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.contains("XDG_RUNTIME_DIR"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains(&file.display().to_string()), "{err}");
    lines[0].to_string()
}

fn store_with_runs(dir: &Path) -> PathBuf {
    let store = RunStore::open(dir).unwrap();
    for s in 0..3 {
        record(&store, new_run("r", s, 16), 400, 0.5);
    }
    drop(store);
    dir.join(DB_FILE)
}

/// Every bad database: the CLI (a listing and a training command) exits 1 with one line
/// naming the file, and the file keeps its bytes.
#[test]
fn bad_databases_fail_with_one_line_and_are_left_alone() {
    type Make = Box<dyn Fn(&Path) -> PathBuf>;
    let cases: Vec<(&str, Make, &str)> = vec![
        (
            "not sqlite",
            Box::new(|d: &Path| {
                let p = d.join(DB_FILE);
                std::fs::write(&p, "these are my notes, not a database\n".repeat(200)).unwrap();
                p
            }),
            "not a SQLite database",
        ),
        (
            "truncated",
            Box::new(|d: &Path| {
                let p = store_with_runs(d);
                let bytes = std::fs::read(&p).unwrap();
                assert!(
                    bytes.len() > 8192,
                    "store too small to truncate: {}",
                    bytes.len()
                );
                std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
                p
            }),
            "truncated|damaged",
        ),
        (
            "newer schema",
            Box::new(|d: &Path| {
                let p = store_with_runs(d);
                let c = rusqlite::Connection::open(&p).unwrap();
                c.execute("UPDATE schema_version SET version = 99", [])
                    .unwrap();
                drop(c);
                p
            }),
            "newer gradlab",
        ),
    ];
    for (what, make, says) in cases {
        let t = tempfile::tempdir().unwrap();
        let p = make(t.path());
        let before = std::fs::read(&p).unwrap();
        for args in [
            &["runs", "list"][..],
            &[
                "graph",
                "--dataset",
                "synthetic",
                "--seeds",
                "1",
                "--epochs",
                "1",
            ][..],
        ] {
            let line = one_error_line(&gradlab(t.path(), args), &p);
            assert!(says.split('|').any(|w| line.contains(w)), "{what}: {line}");
        }
        assert_eq!(
            std::fs::read(&p).unwrap(),
            before,
            "{what}: the file changed"
        );
        assert!(p.exists());
    }
}

#[test]
fn a_locked_database_fails_clearly_and_readers_pass_a_plain_writer() {
    let t = tempfile::tempdir().unwrap();
    let p = store_with_runs(t.path());
    // A plain write transaction elsewhere: WAL readers do not wait for it.
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch("BEGIN IMMEDIATE; UPDATE runs SET notes = 'x';")
        .unwrap();
    let o = gradlab(t.path(), &["runs", "list", "--json"]);
    assert_eq!(json_of(&o)["runs"].as_array().unwrap().len(), 3);
    c.execute_batch("ROLLBACK").unwrap();
    drop(c);
    // An exclusive lock (locking_mode=EXCLUSIVE, as another tool may take) keeps everyone out.
    // The bytes are read before locking: closing any descriptor of the file in this process
    // would drop the process's POSIX locks on it.
    let before = std::fs::read(&p).unwrap();
    let c = rusqlite::Connection::open(&p).unwrap();
    let mode: String = c
        .query_row("PRAGMA locking_mode = EXCLUSIVE", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "exclusive");
    c.execute_batch("BEGIN EXCLUSIVE").unwrap();
    c.execute("UPDATE runs SET notes = 'y'", []).unwrap();
    let t0 = Instant::now();
    let o = gradlab(t.path(), &["runs", "list"]);
    let waited = t0.elapsed();
    c.execute_batch("ROLLBACK").unwrap();
    drop(c);
    let line = one_error_line(&o, &p);
    assert!(line.contains("locked"), "{line}");
    assert!(waited < Duration::from_secs(20), "{waited:?}");
    assert_eq!(std::fs::read(&p).unwrap(), before);
}

/// Root writes into read-only folders anyway: as root, run the CLI as `nobody` through
/// `setpriv` (util-linux) with the folder owned by nobody; without setpriv, skip and say why.
fn gradlab_unprivileged(dir: &Path, args: &[&str]) -> Option<Output> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some(gradlab(dir, args));
    }
    let chown = |uid: u32| {
        for e in walk(dir) {
            std::os::unix::fs::chown(&e, Some(uid), None).unwrap();
        }
    };
    chown(65534);
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_gradlab"))
        .args(args)
        .arg("--runs-dir")
        .arg(dir)
        .env_remove("GRADLAB_RUNS")
        .output();
    chown(0);
    match out {
        Ok(o) if !String::from_utf8_lossy(&o.stderr).contains("setpriv:") => Some(o),
        _ => {
            eprintln!("skipped: running as root and cannot drop privileges with setpriv");
            None
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut v = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        v.push(e.path());
    }
    v
}

#[test]
fn a_read_only_folder_fails_clearly() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let p = store_with_runs(t.path());
    let before = std::fs::read(&p).unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let o = gradlab_unprivileged(t.path(), &["runs", "list"]);
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let Some(o) = o else { return };
    one_error_line(&o, &p);
    assert_eq!(std::fs::read(&p).unwrap(), before);
    // A fresh store in a read-only folder names the file it cannot create.
    let t2 = tempfile::tempdir().unwrap();
    std::fs::set_permissions(t2.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let o = gradlab_unprivileged(t2.path(), &["runs", "list"]);
    std::fs::set_permissions(t2.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    one_error_line(&o.unwrap(), &t2.path().join(DB_FILE));
    assert!(!t2.path().join(DB_FILE).exists());
}

/// A full disk, simulated with a file size limit (RLIMIT_FSIZE, SIGXFSZ ignored so writes fail
/// with EFBIG instead of killing the process): the run fails with a clear message, the command
/// exits 1, and the store stays whole.
#[test]
fn a_full_disk_fails_the_run_and_keeps_the_store_whole() {
    use std::os::unix::process::CommandExt;
    let t = tempfile::tempdir().unwrap();
    drop(RunStore::open(t.path()).unwrap());
    let limit = 256 * 1024;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gradlab"));
    cmd.args([
        "graph",
        "--dataset",
        "synthetic",
        "--seeds",
        "50",
        "--epochs",
        "200",
    ])
    .arg("--runs-dir")
    .arg(t.path())
    .env_remove("GRADLAB_RUNS");
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let r = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    let last = err.trim().lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: ") && last.contains(DB_FILE),
        "{err}"
    );
    let store = RunStore::open(t.path()).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let rows = store.list(&RunFilter::default()).unwrap();
    assert!(rows.iter().all(|r| r.status != RunStatus::Running));
    // The disk filled either while a run recorded (it is failed), or so early that not even its
    // failure could be written (the next open marks it interrupted), or while the next one was
    // being created (nothing was inserted); runs finished before it keep all their points.
    assert!(!rows.is_empty(), "the limit left no room for any run");
    for r in &rows {
        match r.status {
            RunStatus::Finished => {
                let d = store.require(r.id).unwrap();
                let epochs = d.summary.unwrap()["epochs_run"].as_u64().unwrap() as usize;
                assert_eq!(store.series(r.id, "train_loss").unwrap().len(), epochs);
            }
            RunStatus::Failed | RunStatus::Interrupted => assert!(r.ended_ms.is_some()),
            other => panic!("run {} is {other}", r.id),
        }
    }
    eprintln!("full disk: {last}");
}

/// Several commands started at the same moment on a store that does not exist yet take turns
/// creating it; none fails with "locked" (found when 8 benchmark commands were started at once).
#[test]
fn commands_started_together_on_a_new_store_all_record() {
    let t = tempfile::tempdir().unwrap();
    let runs = t.path().join("runs");
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_gradlab"))
                .args(["theory", "--check", "relu_chain", "--json", "--runs-dir"])
                .arg(&runs)
                .env_remove("GRADLAB_RUNS")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start gradlab")
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "exit {:?}: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let store = RunStore::open(&runs).unwrap();
    assert_eq!(store.list(&RunFilter::default()).unwrap().len(), 8);
}
