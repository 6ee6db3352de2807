//! Measures the UI's own cost per frame, headless: the real app drawn into an egui context (no
//! window), tessellated like eframe does, while jobs train on other threads.

use std::time::{Duration, Instant};

use eframe::egui;
use serde_json::{Value, json};

use crate::app::{GradlabApp, Settings};
use crate::core::sysinfo::{percentile, thread_cpu_seconds};
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

/// Draws `frames` frames of `app`, one every `pace`, and returns per-frame timings.
pub fn measure_frames(app: &mut GradlabApp, frames: usize, pace: Duration) -> FrameStats {
    let ctx = egui::Context::default();
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 860.0));
    let start = Instant::now();
    let (mut cpu, mut wall) = (Vec::with_capacity(frames), Vec::with_capacity(frames));
    for _ in 0..frames {
        let input = egui::RawInput {
            screen_rect: Some(screen),
            time: Some(start.elapsed().as_secs_f64()),
            ..Default::default()
        };
        let (c0, w0) = (thread_cpu_seconds(), Instant::now());
        let mut out = ctx.run_ui(input, |ui| app.show(ui));
        let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
        // No GPU here: texture uploads are dropped on purpose.
        out.textures_delta.clear();
        std::hint::black_box(prims);
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
    Ok(json!({
        "ui_frame_p95_ms": busy.cpu_p95_ms,
        "ui_frame_p50_ms": busy.cpu_p50_ms,
        "ui_frame_wall_p95_ms": busy.wall_p95_ms,
        "ui_frame_idle_p95_ms": idle.cpu_p95_ms,
        "frames": busy.frames,
        "jobs_training": jobs_running,
    }))
}
