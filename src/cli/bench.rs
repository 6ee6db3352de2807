//! `gradlab bench`: medians of the hot paths after warm-up, with the peak memory of each part.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Output;
use crate::sysinfo::{peak_rss_mib, reset_peak_rss};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Only these parts (comma-separated): theory, graph, seg, runstore, ui.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
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

pub fn run(args: &BenchArgs, data_dir: &Path) -> anyhow::Result<Output> {
    let want = |p: &str| args.only.is_empty() || args.only.iter().any(|o| o == p);
    let threads = rayon::current_num_threads();
    let mut out = serde_json::Map::new();
    out.insert("threads".into(), json!(threads));
    if want("theory") {
        out.insert(
            "theory".into(),
            part("theory", || {
                Ok(json!({ "theory_suite_s": crate::experiments::theory::suite_seconds()? }))
            })?,
        );
    }
    if want("graph") {
        out.insert(
            "graph".into(),
            part("graph", || super::graph::bench_epochs(data_dir))?,
        );
    }
    if want("seg") {
        out.insert(
            "seg".into(),
            part("seg", crate::experiments::seg::bench_steps)?,
        );
    }
    if want("runstore") {
        out.insert(
            "runstore".into(),
            part("runstore", || super::runs::bench(data_dir))?,
        );
    }
    if want("ui") {
        out.insert("ui".into(), part("ui", ui_frames)?);
    }
    let json = Value::Object(out);
    Ok(Output {
        human: human(&json),
        json,
    })
}

/// p95 UI frame time while two U-Net jobs ("Train both") train on the other threads.
fn ui_frames() -> anyhow::Result<Value> {
    use crate::app::{GradlabApp, Settings, Tab};
    use crate::ui::files::FileTasks;
    let dir = tempfile::tempdir()?;
    let mut app = GradlabApp::new(
        Settings::default(),
        dir.path().to_path_buf(),
        FileTasks::fixed_dir(dir.path()),
    );
    app.settings.tab = Tab::Segmentation;
    let idle = crate::ui::frame_bench::measure_frames(&mut app, 60, Duration::from_millis(16));
    app.start_benchmark_jobs(&eframe::egui::Context::default());
    // Let both jobs get going (data generation, first steps) before timing.
    std::thread::sleep(Duration::from_secs(3));
    let busy = crate::ui::frame_bench::measure_frames(&mut app, 300, Duration::from_millis(16));
    let jobs_running = app.jobs.running().count();
    app.jobs.shutdown(Duration::from_secs(10));
    Ok(json!({
        "ui_frame_p95_ms": busy.cpu_p95_ms,
        "ui_frame_p50_ms": busy.cpu_p50_ms,
        "ui_frame_wall_p95_ms": busy.wall_p95_ms,
        "ui_frame_idle_p95_ms": idle.cpu_p95_ms,
        "frames": busy.frames,
        "jobs_training": jobs_running,
    }))
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
