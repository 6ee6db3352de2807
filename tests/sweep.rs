//! `gradlab sweep` end to end, driving the real binary: a sweep killed with SIGKILL in the
//! middle and run again ends with the table of an uninterrupted sweep, to the bit, with no
//! (point, seed) trained twice; finished runs recorded outside a sweep are reused; a bad setting
//! fails before anything runs.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{gradlab, json_of};
use serde_json::Value;

/// 3 homophilies x 2 models x 3 seeds = 18 runs of a few tenths of a second each.
const SWEEP: &[&str] = &[
    "sweep",
    "graphs",
    "--dataset",
    "synthetic",
    "--epochs",
    "60",
    "--seeds",
    "3",
    "--vary",
    "homophily=0.2,0.5,0.8",
    "--vary",
    "model=gcn,mlp",
    "--json",
];
const TOTAL: u64 = 18;

fn with(args: &[&str], more: &[&str]) -> Vec<String> {
    args.iter().chain(more).map(|s| s.to_string()).collect()
}

fn run(runs: &Path, args: &[String]) -> Value {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    json_of(&gradlab(runs, &a))
}

/// The table without what differs between stores (run ids) or calls (counts, timings).
fn table(v: &Value) -> Vec<Value> {
    v["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.as_object_mut().unwrap().remove("run_ids");
            p
        })
        .collect()
}

/// How many sweep pairs are done in `runs` (0 while the store or the sweep does not exist yet).
fn done(runs: &Path) -> u64 {
    let o = gradlab(runs, &["sweep", "list", "--json"]);
    if !o.status.success() {
        return 0;
    }
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    v["sweeps"][0]["done"].as_u64().unwrap_or(0)
}

/// Every run of the store, as `runs list --json` shows them.
fn all_runs(runs: &Path) -> Vec<Value> {
    run(runs, &with(&["runs", "list", "--json"], &[]))["runs"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_killed_sweep_resumes_to_the_table_of_an_uninterrupted_one() {
    let t = tempfile::tempdir().unwrap();
    let (whole, killed) = (t.path().join("whole"), t.path().join("killed"));

    // Uninterrupted, two runs at once.
    let a = run(&whole, &with(SWEEP, &["--jobs", "2"]));
    assert_eq!(a["runs_recorded"], TOTAL, "{a}");
    assert_eq!(a["runs_reused"], 0);
    assert_eq!(a["total"], TOTAL);
    assert_eq!(a["metric"], "test_acc");
    assert_eq!(a["grid"]["homophily"], serde_json::json!([0.2, 0.5, 0.8]));
    assert_eq!(a["points"].as_array().unwrap().len(), 6);
    for p in a["points"].as_array().unwrap() {
        assert_eq!(p["n"], 3, "{p}");
        assert_eq!(p["per_seed"].as_array().unwrap().len(), 3);
    }
    // The settings change the figure: the table is not a constant.
    let means: Vec<f64> = a["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["mean"].as_f64().unwrap())
        .collect();
    assert!(means.iter().any(|m| *m != means[0]), "{means:?}");
    let best = a["best"]["mean"].as_f64().unwrap();
    assert_eq!(best, means.iter().copied().fold(f64::MIN, f64::max));

    // The same sweep, one run at a time, killed with SIGKILL after a few runs finished.
    let mut child = Command::new(common::bin())
        .args(with(SWEEP, &["--jobs", "1"]))
        .arg("--runs-dir")
        .arg(&killed)
        .env_remove("GRADLAB_RUNS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while done(&killed) < 4 {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the sweep never got going"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep ended by itself"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = done(&killed);
    assert!(
        (4..TOTAL).contains(&before),
        "killed after {before} of {TOTAL} runs: not in the middle"
    );
    let listed = run(&killed, &with(&["sweep", "list", "--json"], &[]));
    assert_eq!(listed["sweeps"][0]["status"], "interrupted", "{listed}");

    // The same command resumes it: only the missing pairs are trained.
    let b = run(&killed, &with(SWEEP, &["--jobs", "1"]));
    assert_eq!(b["resumed"], true);
    assert_eq!(b["runs_reused"], before, "{b}");
    assert_eq!(b["runs_recorded"], TOTAL - before, "{b}");
    assert_eq!(b["status"], "finished");
    assert_eq!(
        table(&b),
        table(&a),
        "the resumed table differs from the uninterrupted one"
    );

    // Nothing trained twice: one finished run per (config, seed), every one in the sweep.
    let runs = all_runs(&killed);
    let mut finished: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for r in runs.iter().filter(|r| r["status"] == "finished") {
        *finished
            .entry((
                r["config_key"].as_str().unwrap().to_string(),
                r["seed"].as_u64().unwrap(),
            ))
            .or_default() += 1;
    }
    assert_eq!(finished.len() as u64, TOTAL, "{finished:?}");
    assert!(finished.values().all(|&n| n == 1), "{finished:?}");
    // At most the one run that was training when it was killed is left unfinished.
    let unfinished = runs.iter().filter(|r| r["status"] != "finished").count();
    assert!(unfinished <= 1, "{unfinished} unfinished runs");
    for r in runs.iter().filter(|r| r["status"] != "finished") {
        assert_eq!(r["status"], "interrupted", "{r}");
    }

    // `runs list --sweep` lists exactly the sweep's runs; `sweep show` prints the same table.
    let id = b["sweep_id"].as_i64().unwrap().to_string();
    let mut linked: Vec<i64> = run(
        &killed,
        &with(&["runs", "list", "--json", "--sweep", &id], &[]),
    )["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    let mut in_table: Vec<i64> = b["points"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["run_ids"].as_array().unwrap().clone())
        .map(|v| v.as_i64().unwrap())
        .collect();
    linked.sort_unstable();
    in_table.sort_unstable();
    assert_eq!(linked, in_table);
    let shown = run(&killed, &with(&["sweep", "show", &id, "--json"], &[]));
    assert_eq!(shown["points"], b["points"]);

    // Once more: nothing left to do.
    let c = run(&killed, &with(SWEEP, &["--jobs", "2"]));
    assert_eq!(c["runs_recorded"], 0);
    assert_eq!(c["runs_reused"], TOTAL);
    assert_eq!(all_runs(&killed).len(), runs.len());
}

#[test]
fn finished_runs_recorded_outside_the_sweep_are_reused() {
    let t = tempfile::tempdir().unwrap();
    let runs = t.path();
    let base = [
        "--dataset",
        "synthetic",
        "--epochs",
        "20",
        "--seeds",
        "2",
        "--model",
        "gat",
    ];
    let direct = run(
        runs,
        &with(&["graphs"], &base)
            .into_iter()
            .chain(with(&["--homophily", "0.5", "--json"], &[]))
            .collect::<Vec<_>>(),
    );
    let direct_ids = direct["run_ids"].clone();
    let s = run(
        runs,
        &with(&["sweep", "graph"], &base)
            .into_iter()
            .chain(with(&["--vary", "homophily=0.5,0.9", "--json"], &[]))
            .collect::<Vec<_>>(),
    );
    assert_eq!(s["runs_reused"], 2, "{s}");
    assert_eq!(s["runs_recorded"], 2, "{s}");
    assert_eq!(s["points"][0]["params"]["homophily"], 0.5);
    assert_eq!(s["points"][0]["run_ids"], direct_ids);
    assert_eq!(
        s["points"][0]["per_seed"],
        direct["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["test_acc"].clone())
            .collect::<Value>()
    );

    // Its report: the figure with one error bar and one dot per point, the table with the
    // verdict against the baseline, and the command that reproduces it.
    let id = s["sweep_id"].as_i64().unwrap().to_string();
    let out = t.path().join("report");
    let r = run(
        runs,
        &with(
            &["report", "--sweep", &id, "--out", out.to_str().unwrap()],
            &["--json"],
        ),
    );
    assert!(r["figures"].as_array().unwrap().len() >= 3, "{r}");
    let svg = std::fs::read_to_string(out.join(format!("figures/sweep-{id}.svg"))).unwrap();
    assert_eq!(svg.matches(r#"class="error-bars""#).count(), 1, "{svg}");
    assert_eq!(svg.matches(r#"class="point""#).count(), 2, "{svg}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for want in ["Welch", "baseline", "homophily=0.9", "gradlab sweep graphs"] {
        assert!(md.contains(want), "report.md lacks {want}: {md}");
    }
    // A baseline that is not a point is refused.
    let o = gradlab(
        runs,
        &["report", "--sweep", &id, "--baseline", "7", "--out", "x"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--baseline 7"));
}

#[test]
fn a_bad_setting_fails_naming_it_before_anything_runs() {
    let t = tempfile::tempdir().unwrap();
    let runs = t.path();
    for (args, says) in [
        (
            vec!["sweep", "graphs", "--vary", "hidden=16,32"],
            vec!["hidden", "homophily", "heads", "model (gcn|gat|mlp)"],
        ),
        (
            vec!["sweep", "graphs", "--vary", "model=gcn,transformer"],
            vec!["transformer", "--model", "gcn, gat, mlp"],
        ),
        (
            vec!["sweep", "graphs", "--vary", "homophily=0.5,high"],
            vec!["homophily=high", "--homophily"],
        ),
        (
            vec!["sweep", "segmentation", "--vary", "crop=16,big"],
            vec!["crop=big", "--size"],
        ),
        (
            vec!["sweep", "theory", "--vary", "check=relu_chain,nope"],
            vec!["nope", "relu_chain, rnn_sigmoid_bound"],
        ),
        (
            vec![
                "sweep",
                "graphs",
                "--model",
                "gat",
                "--vary",
                "model=gcn,mlp",
            ],
            vec!["--model", "drop one"],
        ),
        (vec!["sweep", "graphs"], vec!["--vary"]),
        (
            vec!["sweep", "graphs", "--preset", "nope"],
            vec!["nope", "homophily", "gat_heads"],
        ),
        (
            vec!["sweep", "graphs", "--preset", "homophily", "--epochs", "5"],
            vec![
                "--preset homophily",
                "gradlab sweep graphs --dataset synthetic",
            ],
        ),
        (
            vec!["sweep", "theory", "--vary", "rnn_sigmoid_bound.n_max=5,99"],
            vec!["rnn_sigmoid_bound.n_max=99", "2..60"],
        ),
        (
            vec![
                "sweep",
                "theory",
                "--vary",
                "check=relu_chain",
                "--metric",
                "nope",
            ],
            vec![
                "--metric nope",
                "checks_holding",
                "jl_near_orthogonal.count",
            ],
        ),
    ] {
        let o = gradlab(runs, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        for s in says {
            assert!(err.contains(s), "{args:?}: {err:?} lacks {s:?}");
        }
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    // Nothing was recorded.
    let listed = run(runs, &with(&["runs", "list", "--json"], &[]));
    assert_eq!(listed["runs"], serde_json::json!([]));
    let sweeps = run(runs, &with(&["sweep", "list", "--json"], &[]));
    assert_eq!(sweeps["sweeps"], serde_json::json!([]));
}

#[test]
fn a_theory_sweep_varies_the_check() {
    let t = tempfile::tempdir().unwrap();
    let s = run(
        t.path(),
        &with(
            &[
                "sweep",
                "theory",
                "--vary",
                "check=relu_chain,attention_conv1d",
                "--json",
            ],
            &[],
        ),
    );
    assert_eq!(s["metric"], "checks_holding");
    assert_eq!(s["runs_recorded"], 2);
    for p in s["points"].as_array().unwrap() {
        assert_eq!(p["n"], 1, "{p}");
        assert_eq!(p["seeds"], serde_json::json!([null]));
    }
}
