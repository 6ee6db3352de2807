//! The first screen after start: the Theory tab runs its seven quick checks in the background, so
//! the verdicts and plots appear without a click, and the frames keep coming while they run.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use gradlab::app::GradlabApp;

fn theory_jobs(app: &GradlabApp) -> usize {
    app.jobs.iter().filter(|j| j.kind == "theory").count()
}

#[test]
fn first_frames_after_start_end_with_verdicts_and_start_the_checks_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = crate::fresh_app(dir.path());
    let mut h = Harness::builder()
        .with_size([1366.0, 768.0])
        .build_ui_state(|ui, app: &mut GradlabApp| app.show(ui), app);
    // Building the harness drew the first frame.
    let t = Instant::now();
    assert_eq!(
        theory_jobs(h.state()),
        1,
        "the first frame starts the checks"
    );
    h.step();
    // The frame returned at once: the checks run on a worker thread.
    assert!(
        h.state().jobs.any_running(),
        "the checks ran on the UI thread"
    );
    // The selected claim (the first, fast) shows "checking…" or, already, its verdict.
    let verdict_shown =
        |h: &Harness<'_, GradlabApp>| h.query_by_label_contains("Verdict: the claim").is_some();
    assert!(h.query_by_label("Verdict: checking…").is_some() || verdict_shown(&h));
    let mut frames = 1;
    // Verdicts stream: the first claim's appears while the other checks still run.
    let mut streamed = false;
    while h.state().jobs.any_running() {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the start-up checks did not end"
        );
        streamed |= verdict_shown(&h);
        std::thread::sleep(Duration::from_millis(10));
        h.step();
        frames += 1;
    }
    assert!(streamed, "the first verdict waited for the whole suite");
    h.run_steps(2);
    eprintln!(
        "start-up checks: {:.2} s, {frames} frames drawn meanwhile",
        t.elapsed().as_secs_f64()
    );
    assert!(frames > 2, "only {frames} frames while the checks ran");
    assert!(h.query_by_label_contains("Verdict: the claim").is_some());
    assert!(h.query_by_label_contains("not checked yet").is_none());
    // Every claim in the list carries a verdict mark, none the unchecked dot.
    let marks = ["√", "×", "?"]
        .iter()
        .map(|m| h.query_all_by_label(m).count())
        .sum::<usize>();
    assert_eq!(marks, 7, "one verdict mark per claim");
    assert_eq!(h.query_all_by_label("·").count(), 0);
    assert!(
        h.query_by_label_contains("of 7 checked claims hold")
            .is_some()
    );

    // Later frames, another tab and back: no second start.
    h.run_steps(3);
    h.get_by_label("Datasets").click();
    h.run_steps(3);
    h.get_by_label("Theory").click();
    h.run_steps(3);
    assert_eq!(theory_jobs(h.state()), 1, "the checks were started again");
}
