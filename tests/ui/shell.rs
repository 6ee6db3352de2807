//! Behaviour of the app shell, driven headless with egui_kittest (no GPU, no display).

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use gradlab::app::GradlabApp;
use gradlab::core::jobs::JobState;

use crate::fresh_app as app;

fn harness(app: GradlabApp) -> Harness<'static, GradlabApp> {
    Harness::builder()
        .with_size([1280.0, 860.0])
        .build_ui_state(|ui, app: &mut GradlabApp| app.show(ui), app)
}

/// Steps frames until `done` holds (jobs run on real threads, so time must pass).
fn run_until(h: &mut Harness<'_, GradlabApp>, what: &str, done: impl Fn(&GradlabApp) -> bool) {
    let t = Instant::now();
    while !done(h.state()) {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
}

#[test]
fn tabs_switch_by_label() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(app(dir.path()));
    for (title, id) in [
        ("Graphs", "graphs"),
        ("Segmentation", "segmentation"),
        ("Datasets", "datasets"),
        ("Theory", "theory"),
    ] {
        h.get_by_label(title).click();
        // Some tabs show a spinner while they load in the background: step, don't wait to settle.
        h.run_steps(3);
        assert_eq!(h.state().settings.tab, id);
    }
}

#[test]
fn theme_switch_toggles_dark_mode() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = app(dir.path());
    // A tab that settles (the Theory tab's start-up checks keep a spinner going a while).
    a.open_by_title("Datasets");
    let mut h = harness(a);
    assert!(!h.state().settings.dark);
    h.get_by_label("Dark theme").click();
    h.run();
    assert!(h.state().settings.dark);
    h.get_by_label("Light theme").click();
    h.run();
    assert!(!h.state().settings.dark);
}

#[test]
fn status_bar_lists_a_running_job_and_its_stop_button_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = app(dir.path());
    // Not the Theory tab: its start-up checks would be listed too.
    a.open_by_title("Datasets");
    let id = a.jobs.spawn(
        "test",
        "endless demo",
        std::sync::Arc::new(|| {}),
        |sink, stop| {
            let mut i = 0u64;
            while !stop.is_stopped() {
                sink.metric("x", i as f64, 1.0);
                sink.progress(i % 100, 100);
                i += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            Ok(serde_json::json!({ "steps": i }))
        },
    );
    let mut h = harness(a);
    h.step();
    assert!(h.query_by_label("No jobs running").is_none());
    h.get_by_label_contains("endless demo");
    h.get_by_label("Stop").click();
    run_until(&mut h, "the job to stop", |a| {
        !a.jobs.get(id).unwrap().state.is_running()
    });
    let job = h.state().jobs.get(id).unwrap();
    assert_eq!(job.state, JobState::Stopped);
    assert!(
        !job.metrics.get("x").unwrap().is_empty(),
        "points measured before Stop are kept"
    );
    h.run();
    h.get_by_label("No jobs running");
}
