//! Measures the UI's own cost per frame, headless: the real app drawn into an egui context (no
//! window), tessellated like eframe does, while jobs train on other threads.

use std::time::{Duration, Instant};

use eframe::egui;
use serde_json::{Value, json};

use crate::app::{GradlabApp, Settings};
use crate::core::runs::RunStore;
use crate::core::sysinfo::{percentile, thread_cpu_seconds};
use crate::labs::runs::ui::RunsTab;
use crate::labs::segmentation::ui::SegmentationTab;
use crate::widgets::files::FileTasks;

#[derive(Debug, Clone, serde::Serialize)]
pub struct FrameStats {
    pub frames: usize,
    /// CPU time of the UI thread per frame (layout + tessellation), the figure the UI controls.
    pub cpu_p50_ms: f64,
    pub cpu_p95_ms: f64,
    /// Wall time per frame, which also counts time the OS gave the training threads.
    pub wall_p50_ms: f64,
    pub wall_p95_ms: f64,
}

/// One frame of `app` in `ctx` at time `t` (s), laid out and tessellated as eframe would.
fn frame(ctx: &egui::Context, app: &mut GradlabApp, t: f64) {
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 860.0));
    let input = egui::RawInput {
        screen_rect: Some(screen),
        time: Some(t),
        ..Default::default()
    };
    let mut out = ctx.run_ui(input, |ui| app.show(ui));
    let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
    // No GPU here: texture uploads are dropped on purpose.
    out.textures_delta.clear();
    std::hint::black_box(prims);
}

/// Draws `frames` frames of `app`, one every `pace`, and returns per-frame timings.
pub fn measure_frames(app: &mut GradlabApp, frames: usize, pace: Duration) -> FrameStats {
    measure_frames_in(&egui::Context::default(), app, frames, pace)
}

fn measure_frames_in(
    ctx: &egui::Context,
    app: &mut GradlabApp,
    frames: usize,
    pace: Duration,
) -> FrameStats {
    let start = Instant::now();
    let (mut cpu, mut wall) = (Vec::with_capacity(frames), Vec::with_capacity(frames));
    for _ in 0..frames {
        let (c0, w0) = (thread_cpu_seconds(), Instant::now());
        frame(ctx, app, start.elapsed().as_secs_f64());
        cpu.push((thread_cpu_seconds() - c0) * 1e3);
        wall.push(w0.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(pace);
    }
    FrameStats {
        frames,
        cpu_p50_ms: percentile(&cpu, 50.0),
        cpu_p95_ms: percentile(&cpu, 95.0),
        wall_p50_ms: percentile(&wall, 50.0),
        wall_p95_ms: percentile(&wall, 95.0),
    }
}

/// `gradlab bench --only ui`: p95 UI frame time while two U-Net jobs ("Train both") train on the
/// other threads. Lives on the app side so the CLI never builds the GUI: `main` hands this
/// function to the bench.
pub fn ui_frames() -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let mut app = GradlabApp::new(
        Settings::default(),
        dir.path().to_path_buf(),
        FileTasks::fixed_dir(dir.path()),
    );
    app.open_by_title("Segmentation");
    let idle = measure_frames(&mut app, 60, Duration::from_millis(16));
    app.with_lab(
        &egui::Context::default(),
        |seg: &mut SegmentationTab, cx| seg.train_both(cx),
    )
    .ok_or_else(|| anyhow::anyhow!("no Segmentation lab in the registry"))?;
    // Let both jobs get going (data generation, first steps) before timing.
    std::thread::sleep(Duration::from_secs(3));
    let busy = measure_frames(&mut app, 300, Duration::from_millis(16));
    let jobs_running = app.jobs.running().count();
    app.jobs.shutdown(Duration::from_secs(10));
    let runs = runs_view(1000, 1000)?;
    Ok(json!({
        "runs_view": runs,
        "ui_frame_p95_ms": busy.cpu_p95_ms,
        "ui_frame_p50_ms": busy.cpu_p50_ms,
        "ui_frame_wall_p95_ms": busy.wall_p95_ms,
        "ui_frame_idle_p95_ms": idle.cpu_p95_ms,
        "frames": busy.frames,
        "jobs_training": jobs_running,
    }))
}

/// The Runs tab on a generated store of `runs` runs x `points` points: the app's first frame
/// (construction included), the time until the list is on screen, and p95 frame times with the
/// whole list, then with 10 runs' curves overlaid.
fn runs_view(runs: usize, points: usize) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let store_dir = dir.path().join("runs");
    RunStore::open(&store_dir)?.generate_for_bench(runs, points)?;
    let ctx = egui::Context::default();
    let t0 = Instant::now();
    let mut app = GradlabApp::new(
        Settings::default(),
        dir.path().to_path_buf(),
        FileTasks::fixed_dir(dir.path()),
    )
    .with_runs_dir(Some(store_dir));
    app.open_by_title("Runs");
    frame(&ctx, &mut app, 0.0);
    let first_frame_ms = t0.elapsed().as_secs_f64() * 1e3;
    let listed = |app: &mut GradlabApp| {
        app.lab_mut::<RunsTab>()
            .is_some_and(|r| r.rt.rows.len() == runs)
    };
    frames_until(
        &ctx,
        &mut app,
        t0,
        60,
        "the Runs tab listing the store",
        listed,
    )?;
    let list_shown_ms = t0.elapsed().as_secs_f64() * 1e3;
    let list = measure_frames_in(&ctx, &mut app, 200, Duration::from_millis(16));
    let tab = app
        .lab_mut::<RunsTab>()
        .ok_or_else(|| anyhow::anyhow!("no Runs lab in the registry"))?;
    let ids: Vec<_> = tab.rt.rows.iter().take(10).map(|r| r.id).collect();
    for id in ids {
        tab.set_selected(id, true);
    }
    let drawn = |app: &mut GradlabApp| {
        app.lab_mut::<RunsTab>().is_some_and(|r| {
            let f = r.figure();
            !r.settings.metric.is_empty()
                && f.series.iter().map(|s| s.points.len()).sum::<usize>() >= points
        })
    };
    frames_until(&ctx, &mut app, t0, 120, "the selected runs' curves", drawn)?;
    let overlay = measure_frames_in(&ctx, &mut app, 200, Duration::from_millis(16));
    Ok(json!({
        "runs": runs,
        "points_per_series": points,
        "first_frame_ms": round2(first_frame_ms),
        "list_shown_ms": round2(list_shown_ms),
        "list_frame_p95_ms": round2(list.cpu_p95_ms),
        "overlay_10_runs_frame_p95_ms": round2(overlay.cpu_p95_ms),
    }))
}

/// Draws frames until `done` holds, failing once `limit_s` seconds have passed since `t0`.
fn frames_until(
    ctx: &egui::Context,
    app: &mut GradlabApp,
    t0: Instant,
    limit_s: u64,
    what: &str,
    done: impl Fn(&mut GradlabApp) -> bool,
) -> anyhow::Result<()> {
    while !done(app) {
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(limit_s),
            "no {what} within {limit_s} s"
        );
        std::thread::sleep(Duration::from_millis(2));
        frame(ctx, app, t0.elapsed().as_secs_f64());
    }
    Ok(())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
