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

/// A failed job's message belongs to the tab that started it, and goes away when dismissed.
#[test]
fn a_failure_shows_on_its_own_tab_and_can_be_dismissed() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = app(dir.path());
    a.open_by_title("Graphs");
    let id = a.jobs.spawn(
        "graphs",
        "GCN on cora",
        std::sync::Arc::new(|| {}),
        |_, _| anyhow::bail!("cora.content is missing"),
    );
    let mut h = harness(a);
    run_until(&mut h, "the job to fail", |a| {
        matches!(a.jobs.get(id).unwrap().state, JobState::Failed(_))
    });
    h.step();
    h.get_by_label_contains("GCN on cora failed: cora.content is missing");
    // Not on another tab.
    h.get_by_label("Datasets").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("GCN on cora failed").is_none());
    // Back on Graphs, dismissed for good.
    h.get_by_label("Graphs").click();
    h.run_steps(2);
    h.get_by_label_contains("GCN on cora failed");
    h.get_by_label("×").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("GCN on cora failed").is_none());
}

/// F1 opens the help (what each lab asks, the shortcuts), Ctrl+2 opens the second tab, and
/// About names the version, the licence and the folders.
#[test]
fn help_shortcuts_and_about() {
    use eframe::egui::{Key, Modifiers};
    let dir = tempfile::tempdir().unwrap();
    let mut a = app(dir.path());
    // Not Datasets, which shows the data folder too.
    a.open_by_title("Runs");
    let mut h = harness(a);
    h.step();
    assert!(h.query_by_label("Keyboard shortcuts").is_none());
    h.key_press(Key::F1);
    h.run_steps(2);
    h.get_by_label("Keyboard shortcuts");
    h.get_by_label_contains("Does attention (GAT) beat graph convolution (GCN)");
    h.get_by_label("Ctrl+Enter");
    h.get_by_label("About gradlab").click();
    h.run_steps(2);
    h.get_by_label_contains(env!("CARGO_PKG_VERSION"));
    h.get_by_label_contains("MIT OR Apache-2.0");
    h.get_by_label_contains(&dir.path().join("datasets").display().to_string());
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert!(h.query_by_label("Keyboard shortcuts").is_none());
    h.key_press_modifiers(Modifiers::COMMAND, Key::Num2);
    h.run_steps(2);
    assert_eq!(h.state().settings.tab, "graphs");
}

/// The first start shows the tour; it points at the real tabs, can be skipped, and once done
/// it does not come back; Help starts it again.
#[test]
fn the_first_run_tour_is_skippable_and_reopens_from_help() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = GradlabApp::from_storage(None, dir.path().join("datasets"));
    a.open_by_title("Datasets");
    let mut h = harness(a);
    h.run_steps(2);
    h.get_by_label("1 of 6: Theory");
    h.get_by_label("Next").click();
    h.run_steps(2);
    h.get_by_label("2 of 6: Graphs");
    h.get_by_label("Skip the tour").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("of 6:").is_none());
    assert!(h.state().settings.tour_done, "persisted as done");
    // A restart with these settings shows no tour.
    let saved = ron::to_string(&h.state().settings).unwrap();
    let (settings, _) = gradlab::app::load_settings(Some(&saved));
    assert!(settings.tour_done);
    // Help starts it again.
    h.get_by_label("? Help").click();
    h.run_steps(2);
    h.get_by_label("Start the tour").click();
    h.run_steps(2);
    h.get_by_label("1 of 6: Theory");
}
