//! `gradlab bench`: medians of the hot paths after warm-up, with the peak memory of each part.

use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use super::Output;
use crate::core::sysinfo::{peak_rss_mib, reset_peak_rss};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Only these parts (comma-separated): theory, graph, seg, runstore, sweep, ui, scale (not
    /// run unless named: it takes minutes).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Graph sizes of the scale part (nodes, comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = super::scale::NODES)]
    pub scale_nodes: Vec<usize>,
    /// One row of the scale part, measured in this process (the parent runs each in a child).
    #[arg(long, hide = true)]
    pub scale_child: Option<String>,
}

/// Runs one part of the bench and records its own peak memory beside its figures.
fn part(name: &str, f: impl FnOnce() -> anyhow::Result<Value>) -> anyhow::Result<Value> {
    eprintln!("bench: {name} ...");
    let resettable = reset_peak_rss();
    let t = Instant::now();
    let mut v = f()?;
    if let Value::Object(m) = &mut v {
        if resettable {
            m.insert(
                "peak_rss_mib".into(),
                json!(peak_rss_mib().map(|x| (x * 10.0).round() / 10.0)),
            );
        }
        m.insert(
            "wall_s".into(),
            json!((t.elapsed().as_secs_f64() * 100.0).round() / 100.0),
        );
    }
    Ok(v)
}

/// A bench part the CLI cannot build itself (the UI frames need the GUI app, which only the
/// binary links in: see `app::frame_bench::ui_frames`).
pub type ExternalPart = fn() -> anyhow::Result<Value>;

pub fn run(
    args: &BenchArgs,
    data_dir: &Path,
    ui_frames: Option<ExternalPart>,
) -> anyhow::Result<Output> {
    if let Some(spec) = &args.scale_child {
        let json = super::scale::child_row(spec)?;
        return Ok(Output {
            human: human(&json),
            json,
        });
    }
    let want = |p: &str| args.only.is_empty() || args.only.iter().any(|o| o == p);
    let threads = rayon::current_num_threads();
    let mut out = serde_json::Map::new();
    out.insert("threads".into(), json!(threads));
    if args.only.iter().any(|o| o == "scale") {
        anyhow::ensure!(
            !args.scale_nodes.is_empty() && args.scale_nodes.iter().all(|&n| n >= 100),
            "--scale-nodes takes node counts of at least 100"
        );
        let v = super::scale::run(&args.scale_nodes)?;
        if let Value::Object(m) = v {
            out.extend(m);
        }
    }
    if want("theory") {
        out.insert(
            "theory".into(),
            part("theory", || {
                Ok(json!({ "theory_suite_s": crate::labs::theory::suite_seconds()? }))
            })?,
        );
    }
    if want("graph") {
        out.insert(
            "graph".into(),
            part("graph", || crate::labs::graphs::cli::bench_epochs(data_dir))?,
        );
    }
    if want("seg") {
        out.insert(
            "seg".into(),
            part("seg", crate::labs::segmentation::bench_steps)?,
        );
    }
    if want("runstore") {
        out.insert(
            "runstore".into(),
            part("runstore", || super::runs::bench(data_dir))?,
        );
    }
    if want("sweep") {
        out.insert(
            "sweep".into(),
            part("sweep", || super::sweep::bench(data_dir))?,
        );
    }
    if want("ui") {
        match ui_frames {
            Some(f) => {
                out.insert("ui".into(), part("ui", f)?);
            }
            None => anyhow::ensure!(args.only.is_empty(), "the ui part needs the GUI binary"),
        }
    }
    let json = Value::Object(out);
    Ok(Output {
        human: human(&json),
        json,
    })
}

fn human(v: &Value) -> String {
    let mut s = String::from("figure                      value\n");
    fn walk(prefix: &str, v: &Value, s: &mut String) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    walk(k, x, s);
                }
            }
            Value::Number(n) => s.push_str(&format!("{prefix:<26}  {n}\n")),
            Value::String(t) => s.push_str(&format!("{prefix:<26}  {t}\n")),
            _ => {}
        }
    }
    walk("", v, &mut s);
    s
}
