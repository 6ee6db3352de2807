//! The Sweeps tab against a real store in a temporary folder, driven through kittest: a sweep
//! started from the editor (progress, the view with error bars), and an interrupted sweep
//! offered on the next start and resumed.

use std::path::Path;

use egui_kittest::kittest::Queryable;

use super::SweepsTab;
use crate::core::StopFlag;
use crate::core::jobs::Jobs;
use crate::core::runs::{DB_FILE, RunStore};
use crate::core::sweep;
use crate::labs::test_world::{World, run_until, run_until_within};
use crate::widgets::files::FileTasks;

fn world(dir: &Path) -> World<SweepsTab> {
    let mut w = World::new(
        SweepsTab::default(),
        dir.to_path_buf(),
        FileTasks::fixed_dir(dir),
    );
    w.jobs = Jobs::with_runs_dir(Some(dir.join("runs")));
    w.labs = crate::labs::descriptors();
    w
}

/// A small graphs sweep: GCN on the synthetic graph, a few epochs.
fn flags() -> Vec<String> {
    ["--model", "gcn", "--dataset", "synthetic", "--epochs", "8"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn a_sweep_from_the_editor_shows_progress_then_error_bars_and_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = world(dir.path()).harness_sized(1366.0, 1400.0);
    h.run_steps(3);
    h.state_mut().lab.open_editor("graphs", &flags());
    h.run_steps(2);
    {
        let ed = h
            .state_mut()
            .lab
            .rt
            .editor
            .as_mut()
            .expect("the editor opens");
        ed.seeds = Some(2);
        ed.jobs = 1;
        let a = ed
            .axes
            .iter_mut()
            .find(|a| a.setting.name == "homophily")
            .expect("homophily is a setting of the graphs lab");
        a.on = true;
        a.values = "0.2,0.9".into();
        assert_eq!(ed.runs(), 4, "2 values x 2 seeds");
    }
    h.run_steps(2);
    h.get_by_label("Start sweep").click();
    h.run_steps(2);
    assert!(h.state().lab.rt.job.is_some(), "Start spawns the sweep job");
    // Progress reaches the job row while the sweep runs.
    run_until(&mut h, "the sweep's first finished run", |w| {
        w.jobs
            .iter()
            .any(|j| j.kind == super::KIND && j.progress.0 >= 1)
    });
    run_until_within(
        &mut h,
        std::time::Duration::from_secs(240),
        |w| format!("the sweep to end ({:?})", w.lab.rt.message),
        |w| w.lab.rt.job.is_none() && w.lab.rt.open.as_ref().is_some_and(|o| o.0.done == 4),
    );
    let msg = h.state().lab.rt.message.clone().unwrap_or_default();
    assert!(msg.contains("4 runs trained, 0 reused"), "{msg}");
    let fig = h
        .state()
        .lab
        .figure()
        .expect("the open sweep draws a figure");
    assert!(fig.error_bars, "a sweep figure draws error bars");
    let line = &fig.series[0];
    let band = line.band.as_ref().expect("mean ± std at each point");
    assert_eq!(band.len(), 2, "one bar per homophily");
    for b in band {
        assert!(b[1] <= b[2], "low <= high");
    }
    let dots = fig
        .series
        .iter()
        .find(|s| s.stroke == crate::core::figures::Stroke::Dots)
        .expect("each seed as a dot");
    assert_eq!(dots.points.len(), 4);
    // The table is on screen with its verdict column.
    h.get_by_label("vs baseline");
    assert!(
        h.get_all_by_label("baseline").count() >= 2,
        "the baseline picker and the baseline's row"
    );
    // A point's curves: its two runs' validation curves.
    h.get_all_by_label("curves").next().unwrap().click();
    run_until(&mut h, "the point's curves", |w| w.lab.curve_points() > 0);
    h.get_by_label("Close");
}

#[test]
fn an_interrupted_sweep_is_offered_on_the_next_start_and_resumes_only_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    // A first session: the sweep trains one of its two runs, then its program "dies".
    let labs = crate::labs::descriptors();
    let lab = crate::core::descriptor::find(&labs, "graphs").unwrap();
    let vary = vec![("homophily".to_string(), vec!["0.3".into(), "0.7".into()])];
    let mut words = flags();
    words.extend(["--seeds".to_string(), "1".into()]);
    let p = sweep::prepare(lab, &words, &vary, dir.path()).unwrap();
    let stop = StopFlag::new();
    let out = sweep::run(&p, &runs, &p.command(), Some(1), &stop, &mut |pr| {
        if pr.done >= 1 {
            stop.stop();
        }
    })
    .unwrap();
    let store = RunStore::open(&runs).unwrap();
    assert_eq!(store.sweep(out.sweep_id).unwrap().unwrap().done, 1);
    drop(store);
    // As a killed process leaves it: running, with a pid that is gone.
    let db = rusqlite::Connection::open(runs.join(DB_FILE)).unwrap();
    db.execute(
        "UPDATE sweeps SET status = 'running', pid = 2147483000, pid_start = 1",
        [],
    )
    .unwrap();
    drop(db);

    let mut h = world(dir.path()).harness_sized(1366.0, 900.0);
    run_until(&mut h, "the resume question", |w| {
        w.lab.rt.ask_resume == Some(out.sweep_id)
    });
    h.run_steps(2);
    h.get_by_label("Resume the sweep?");
    h.get_by_label("Resume").click();
    h.run_steps(2);
    assert!(h.state().lab.rt.job.is_some(), "Resume starts the job");
    run_until_within(
        &mut h,
        std::time::Duration::from_secs(240),
        |w| format!("the resumed sweep to end ({:?})", w.lab.rt.message),
        |w| w.lab.rt.job.is_none(),
    );
    let msg = h.state().lab.rt.message.clone().unwrap_or_default();
    assert!(
        msg.contains("1 run trained, 1 reused"),
        "only the missing run trains: {msg}"
    );
    let store = RunStore::open(&runs).unwrap();
    let s = store.sweep(out.sweep_id).unwrap().unwrap();
    assert_eq!((s.done, s.total, s.status.as_str()), (2, 2, "finished"));
    assert_eq!(
        store.sweeps().unwrap().len(),
        1,
        "the same sweep, not a new one"
    );
}

#[test]
fn not_now_is_remembered() {
    let mut tab = SweepsTab::default();
    tab.settings.declined.push(7);
    let text = crate::labs::Lab::save_state(&tab).unwrap();
    let mut back = SweepsTab::default();
    crate::labs::Lab::load_state(&mut back, &text).unwrap();
    assert_eq!(back.settings.declined, vec![7]);
}
