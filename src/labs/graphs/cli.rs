//! `gradlab graph`: train GCN / GAT / MLP over several seeds and print the summary.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;

use crate::core::Sink;
use crate::core::StopFlag;
use crate::core::descriptor::SweepHooks;
use crate::core::progress::CliSink;
use crate::core::runs::{RecordTo, RunId, RunStore};
use crate::data::graph::{Graph, SyntheticSpec, load_cora, synthetic_graph};
#[cfg(test)]
use crate::labs::graphs::config::DatasetArg;
use crate::labs::graphs::config::GraphParams;
use crate::labs::graphs::train::Trainer;
use crate::labs::graphs::train::{new_run, summarize, train_seeds};
use crate::labs::graphs::{GraphConfig, ModelKind, Preset};
use crate::labs::lab::CliOutput as Output;
use crate::labs::lab::{flags_of, parse_flags};

#[derive(clap::Args, Debug)]
pub struct GraphArgs {
    #[command(flatten)]
    pub config: GraphParams,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print the resolved config as JSON and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// Loads the graph `--dataset` and `--split` name (an error names the missing or bad file).
pub fn load_dataset(p: &GraphParams, data_dir: &Path) -> anyhow::Result<Graph> {
    p.load(data_dir)
}

/// What `--print-config` prints for these settings: the parameters and the resolved run config.
pub fn resolved_config(p: &GraphParams) -> serde_json::Value {
    json!({ "params": p, "run": p.resolve(p.model) })
}

/// The descriptor's config parser: `gradlab graphs FLAGS --print-config` as a value.
pub fn print_config(words: &[String], _data_dir: &Path) -> anyhow::Result<serde_json::Value> {
    let args: GraphArgs = parse_flags(super::keys::ID, words)?;
    Ok(resolved_config(&args.config))
}

/// How a sweep plans and runs this lab's runs.
pub const SWEEP: SweepHooks = SweepHooks {
    flags: || flags_of::<GraphArgs>(super::keys::ID),
    seeds: sweep_seeds,
    plan: sweep_plan,
    run_one: sweep_run_one,
    presets: super::presets::PRESETS,
};

/// The flags of one sweep point, checked as `gradlab graphs` checks them.
fn sweep_args(words: &[String]) -> anyhow::Result<GraphParams> {
    let args: GraphArgs = parse_flags(super::keys::ID, words)?;
    let p = args.config;
    anyhow::ensure!(p.seeds >= 1, "--seeds must be at least 1");
    p.resolve(p.model).validate()?;
    Ok(p)
}

/// `--seeds K`: seeds 0..K-1.
fn sweep_seeds(words: &[String], _data_dir: &Path) -> anyhow::Result<Vec<Option<u64>>> {
    Ok((0..sweep_args(words)?.seeds).map(Some).collect())
}

fn sweep_plan(words: &[String], data_dir: &Path) -> anyhow::Result<Vec<(Option<u64>, String)>> {
    let p = sweep_args(words)?;
    let graph = load_dataset(&p, data_dir)?;
    let cfg = p.resolve(p.model);
    (0..p.seeds)
        .map(|s| Ok((Some(s), new_run(&cfg, &graph, s)?.config_key())))
        .collect()
}

fn sweep_run_one(
    words: &[String],
    data_dir: &Path,
    seed: Option<u64>,
    store: &RunStore,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<RunId> {
    let p = sweep_args(words)?;
    let seed = seed.ok_or_else(|| anyhow::anyhow!("a graphs run needs a seed"))?;
    let graph = load_dataset(&p, data_dir)?;
    let rec = RecordTo {
        store: Some(store),
        command: "",
    };
    let runs = train_seeds(&p.resolve(p.model), &graph, &[seed], rec, sink, stop)?;
    runs.run_ids
        .first()
        .copied()
        .ok_or_else(|| anyhow::anyhow!("seed {seed} was stopped before it was recorded"))
}

pub fn run(args: &GraphArgs, data_dir: &Path) -> anyhow::Result<Output> {
    run_recorded(args, data_dir, None)
}

/// Trains every seed as its own recorded run (when `store` is given), so the runs of one command
/// group as one configuration; the JSON lists their ids as `run_ids`.
pub fn run_recorded(
    args: &GraphArgs,
    data_dir: &Path,
    store: Option<&RunStore>,
) -> anyhow::Result<Output> {
    let p = &args.config;
    let cfg = p.resolve(p.model);
    if args.print_config {
        return Output::config(&resolved_config(p));
    }
    anyhow::ensure!(p.seeds >= 1, "--seeds must be at least 1");
    let graph = load_dataset(p, data_dir)?;
    let mut sink = CliSink::new(&format!("{} {}", p.model.label(), graph.name));
    for note in &graph.notes {
        sink.log(note);
    }
    let seeds: Vec<u64> = (0..p.seeds).collect();
    let rec = RecordTo { store, command: "" };
    let runs = train_seeds(&cfg, &graph, &seeds, rec, &mut sink, &StopFlag::new())?;
    let run_ids = runs.run_ids;
    sink.finish();
    let mut s = summarize(&cfg, &graph, &runs.results);
    s["run_ids"] = json!(run_ids);
    s["preset"] = json!(p.preset.label());
    let mut human = format!(
        "{} on {} ({} preset, {} split: {} train / {} validation / {} test nodes, {} seeds, at most {} epochs)\n  test accuracy {:.4} ± {:.4}\n  validation accuracy {:.4}\n  best epoch (median) {}\n  {:.2} ms/epoch (median), {} parameters",
        p.model.label(),
        graph.name,
        p.preset.label(),
        p.split().label(),
        s["n_train"],
        s["n_val"],
        s["n_test"],
        s["seeds"],
        cfg.epochs,
        s["test_acc_mean"].as_f64().unwrap_or(f64::NAN),
        s["test_acc_std"].as_f64().unwrap_or(f64::NAN),
        s["val_acc_mean"].as_f64().unwrap_or(f64::NAN),
        s["best_epoch_median"],
        s["ms_per_epoch_median"].as_f64().unwrap_or(f64::NAN),
        s["params"],
    );
    if !run_ids.is_empty() {
        let ids: Vec<String> = run_ids.iter().map(|i| i.to_string()).collect();
        human.push_str(&format!("\n  runs {}", ids.join(",")));
    }
    Ok(Output { json: s, human })
}

/// Median ms of one epoch (training step + evaluation pass) of `model` with the paper preset.
pub fn epoch_ms(
    graph: &Graph,
    model: ModelKind,
    warmup: usize,
    timed: usize,
) -> anyhow::Result<f64> {
    let cfg = GraphConfig {
        snapshot_every: 0,
        ..GraphConfig::preset(model, Preset::Paper)
    };
    let mut tr = Trainer::new(&cfg, graph)?;
    let mut times = Vec::with_capacity(timed);
    for k in 0..warmup + timed {
        let t = Instant::now();
        tr.train_step().context("training step failed")?;
        tr.eval().context("evaluation failed")?;
        if k >= warmup {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times[times.len() / 2])
}

/// For `gradlab bench`: {gcn_epoch_ms, gat_epoch_ms, dataset}, medians over 30 epochs after 5
/// warm-up epochs, paper preset, on Cora when it is in `data_dir`, else on the synthetic graph.
pub fn bench_epochs(data_dir: &Path) -> anyhow::Result<serde_json::Value> {
    let (graph, dataset) = match load_cora(&data_dir.join("cora")) {
        Ok(g) => (g, "cora"),
        Err(_) => (
            synthetic_graph(&SyntheticSpec::default())?,
            "synthetic (Cora not found)",
        ),
    };
    Ok(json!({
        "gcn_epoch_ms": epoch_ms(&graph, ModelKind::Gcn, 5, 30)?,
        "gat_epoch_ms": epoch_ms(&graph, ModelKind::Gat, 5, 30)?,
        "graph_dataset": dataset,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dataset: DatasetArg, model: ModelKind) -> GraphArgs {
        GraphArgs {
            config: GraphParams {
                model,
                dataset,
                seeds: 2,
                epochs: Some(3),
                ..GraphParams::default()
            },
            json: true,
            print_config: false,
        }
    }

    #[test]
    fn missing_cora_names_the_file_and_the_fetch_command() {
        let dir = tempfile::tempdir().unwrap();
        let e = run(&args(DatasetArg::Cora, ModelKind::Gcn), dir.path())
            .err()
            .unwrap();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("cora.content") && msg.contains("gradlab data fetch cora"),
            "{msg}"
        );
    }

    #[test]
    fn json_has_the_documented_keys() {
        let dir = tempfile::tempdir().unwrap();
        let out = run(&args(DatasetArg::Synthetic, ModelKind::Gat), dir.path()).unwrap();
        for k in [
            "dataset",
            "model",
            "preset",
            "split",
            "seeds",
            "epochs",
            "test_acc_mean",
            "test_acc_std",
            "val_acc_mean",
            "ms_per_epoch_median",
            "params",
            "n_train",
            "n_val",
            "n_test",
        ] {
            assert!(!out.json[k].is_null(), "missing {k}: {}", out.json);
        }
        assert_eq!(out.json["seeds"], 2);
        assert_eq!(out.json["epochs"], 3);
        assert_eq!(out.json["model"], "gat");
        assert!(out.human.contains("test accuracy"));
    }

    #[test]
    fn bench_falls_back_to_synthetic_and_times_both_models() {
        let dir = tempfile::tempdir().unwrap();
        let v = bench_epochs(dir.path()).unwrap();
        assert!(
            v["graph_dataset"]
                .as_str()
                .unwrap()
                .starts_with("synthetic")
        );
        // Both timed (which is faster is the bench's business, not a test's).
        for k in ["gcn_epoch_ms", "gat_epoch_ms"] {
            assert!(v[k].as_f64().is_some_and(|t| t > 0.0), "{k}: {v}");
        }
    }
}
