//! The Runs tab against a real store in a temporary folder, driven through kittest.

use std::path::Path;

use egui_kittest::kittest::Queryable;
use serde_json::json;

use super::PICK_REPORT;
use super::RunsTab;
use crate::core::NullSink;
use crate::core::jobs::Jobs;
use crate::core::runs::{NewRun, RunFilter, RunId, RunStatus, RunStore, recorded};
use crate::labs::test_world::{World, run_until};
use crate::labs::theory::ui::TheoryTab;
use crate::widgets::files::FileTasks;

/// One finished run with a `loss` curve of `n` points and `test_acc` = `acc`.
fn add_run(store: &RunStore, name: &str, hidden: u64, seed: u64, acc: f64) -> RunId {
    let run = NewRun {
        lab: "graphs".into(),
        name: name.into(),
        config: json!({
            "model": if hidden > 32 { "gat" } else { "gcn" },
            "hidden": hidden,
            "seed": seed,
        }),
        seed: Some(seed),
        dataset: Some("synthetic".into()),
        command: "gradlab graph".into(),
        main_metric: Some("test_acc".into()),
        ..Default::default()
    };
    let (_, id) = recorded(
        Some(store),
        run,
        &mut NullSink,
        |s, _| {
            for i in 0..5 {
                s.metric("loss", i as f64, 1.0 / (1.0 + i as f64 + seed as f64));
            }
            Ok(())
        },
        |_| Ok(json!({ "test_acc": acc })),
        |_| Ok(Vec::new()),
    )
    .unwrap();
    id.unwrap()
}

fn world(dir: &Path) -> World<RunsTab> {
    let mut w = World::new(
        RunsTab::default(),
        dir.to_path_buf(),
        FileTasks::fixed_dir(dir),
    );
    w.jobs = Jobs::with_runs_dir(Some(dir.join("runs")));
    w
}

#[test]
fn runs_list_groups_seeds_overlays_one_band_and_deletes_with_undo() {
    let dir = tempfile::tempdir().unwrap();
    let store = RunStore::open(&dir.path().join("runs")).unwrap();
    let a = add_run(&store, "GCN synthetic seed 0", 16, 0, 0.80);
    let b = add_run(&store, "GCN synthetic seed 1", 16, 1, 0.82);
    let c = add_run(&store, "GCN wide seed 0", 64, 0, 0.70);
    let mut h = world(dir.path()).harness();
    run_until(&mut h, "the list", |w| w.lab.rt.rows.len() == 3);
    // Two runs of one configuration: one group with n = 2 and its mean ± std.
    let groups = &h.state().lab.rt.groups;
    let g = groups
        .iter()
        .find(|g| g.run_ids.len() == 2)
        .expect("a group of two");
    assert_eq!(g.n, 2);
    assert!(g.run_ids.contains(&a) && g.run_ids.contains(&b));
    assert_eq!(groups.len(), 2);
    h.get_by_label_contains("(n=2)");
    h.get_by_label_contains(&format!("#{c} GCN wide seed 0"));

    // Selecting the group draws one band; the other run is a line.
    for id in [a, b, c] {
        h.state_mut().lab.set_selected(id, true);
    }
    run_until(&mut h, "the curves", |w| {
        let f = w.lab.figure();
        w.lab.settings.metric == "loss" && f.series.iter().all(|s| s.points.len() == 5)
    });
    let fig = h.state().lab.figure();
    let bands: Vec<_> = fig.series.iter().filter(|s| s.band.is_some()).collect();
    assert_eq!(bands.len(), 1, "one band for the two seeds");
    assert!(bands[0].name.contains("n = 2"), "{}", bands[0].name);
    assert_eq!(fig.legend_entries().count(), 2);

    // Delete to the trash, then Undo.
    h.state_mut().lab.delete(c);
    run_until(&mut h, "the delete", |w| w.lab.rt.rows.len() == 2);
    assert_eq!(h.state().lab.rt.undo, vec![c]);
    h.get_by_label(&format!("Undo delete of run {c}")).click();
    run_until(&mut h, "the restore", |w| w.lab.rt.rows.len() == 3);
    assert!(!store.get(c).unwrap().unwrap().row.deleted);
}

#[test]
fn filters_offer_the_stored_models_and_sorting_by_a_figure_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = RunStore::open(&dir.path().join("runs")).unwrap();
    let a = add_run(&store, "GCN synthetic seed 0", 16, 0, 0.80);
    let c = add_run(&store, "GAT synthetic seed 0", 64, 0, 0.70);
    let mut h = world(dir.path()).harness();
    run_until(&mut h, "the list and its facets", |w| {
        w.lab.rt.rows.len() == 2 && w.lab.rt.facets.models.len() == 2
    });
    assert_eq!(h.state().lab.rt.facets.figures, vec!["test_acc"]);
    h.state_mut().lab.settings.model = Some("gat".into());
    run_until(&mut h, "the model filter", |w| {
        w.lab.rt.rows.iter().map(|r| r.id).collect::<Vec<_>>() == vec![c]
    });
    h.state_mut().lab.settings.model = None;
    h.state_mut().lab.settings.sort = super::Sort::Figure;
    h.state_mut().lab.settings.figure = "test_acc".into();
    h.state_mut().lab.settings.ascending = true;
    run_until(&mut h, "the sort", |w| {
        w.lab.rt.rows.iter().map(|r| r.id).collect::<Vec<_>>() == vec![c, a]
    });
    h.get_by_label_contains("test_acc 0.7000");
}

#[test]
fn a_run_committed_elsewhere_appears_live() {
    let dir = tempfile::tempdir().unwrap();
    let store = RunStore::open(&dir.path().join("runs")).unwrap();
    let mut h = world(dir.path()).harness();
    run_until(&mut h, "the empty list", |w| w.lab.rt.listed);
    assert!(h.state().lab.rt.rows.is_empty());
    // Another connection (as a CLI run would) commits a run while the tab is open.
    let id = add_run(&store, "from the CLI", 8, 0, 0.5);
    run_until(&mut h, "the new run", |w| {
        w.lab.rt.rows.iter().any(|r| r.id == id)
    });
}

#[test]
fn a_store_that_is_not_sqlite_is_a_message_and_stays_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    let db = runs.join(crate::core::runs::DB_FILE);
    std::fs::write(&db, b"not a database at all, just text").unwrap();
    let mut h = world(dir.path()).harness();
    run_until(&mut h, "the reason", |w| w.lab.rt.unavailable.is_some());
    h.get_by_label_contains("The run store cannot be used");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        b"not a database at all, just text"
    );
}

#[test]
fn report_button_writes_the_report_into_the_picked_folder() {
    let dir = tempfile::tempdir().unwrap();
    let store = RunStore::open(&dir.path().join("runs")).unwrap();
    add_run(&store, "GCN synthetic seed 0", 16, 0, 0.80);
    let out = dir.path().join(PICK_REPORT);
    std::fs::create_dir_all(&out).unwrap();
    let mut h = world(dir.path()).harness();
    run_until(&mut h, "the list", |w| w.lab.rt.rows.len() == 1);
    h.get_by_label_contains("Report (last").click();
    run_until(&mut h, "the report", |w| {
        w.lab
            .rt
            .message
            .as_deref()
            .is_some_and(|m| m.contains("written to"))
    });
    assert!(out.join("report.html").is_file());
}

#[test]
fn a_gui_job_records_a_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = World::new(
        TheoryTab::without_autostart(),
        dir.path().to_path_buf(),
        FileTasks::fixed_dir(dir.path()),
    );
    w.jobs = Jobs::with_runs_dir(Some(dir.path().join("runs")));
    let mut h = w.harness();
    h.get_by_label("Run check").click();
    h.step();
    run_until(&mut h, "the check", |w| {
        w.jobs.iter().count() == 1 && !w.jobs.any_running()
    });
    let store = RunStore::open(&dir.path().join("runs")).unwrap();
    let rows = store.list(&RunFilter::default()).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].lab, "theory");
    assert_eq!(rows[0].status, RunStatus::Finished);
    assert!(
        store
            .get(rows[0].id)
            .unwrap()
            .unwrap()
            .command
            .starts_with("gradlab theory --check")
    );
}

#[test]
fn a_chunk_of_points_read_twice_is_added_once() {
    let mut tab = RunsTab::default();
    tab.settings.metric = "loss".into();
    tab.rt.selected.insert(7);
    tab.refresh_curves();
    let chunk = |from: i64, n: usize, next: i64| crate::core::runs::SeriesChunk {
        key: "loss".into(),
        from,
        points: (0..n)
            .map(|i| crate::core::runs::Point {
                step: i as f64,
                value: 1.0,
                wall: 0.0,
            })
            .collect(),
        next,
    };
    tab.apply_chunk(7, chunk(0, 5, 50));
    // The same query answered twice (sent again on a change while the first was in flight).
    tab.apply_chunk(7, chunk(0, 5, 50));
    tab.apply_chunk(7, chunk(50, 2, 70));
    assert_eq!(tab.rt.curves[&7].points.len(), 7);
    assert_eq!(tab.rt.curves[&7].cursor, 70);
}

#[test]
fn ticks_and_the_metric_survive_a_restart_and_an_empty_filter_says_so() {
    use crate::labs::lab::Lab;
    let dir = tempfile::tempdir().unwrap();
    let store = RunStore::open(&dir.path().join("runs")).unwrap();
    let a = add_run(&store, "GCN synthetic seed 0", 16, 0, 0.80);
    add_run(&store, "GCN synthetic seed 1", 16, 1, 0.82);
    // The first session: one run ticked, the metric chosen.
    let mut first = RunsTab::default();
    first.settings.metric = "loss".into();
    first.rt.selected.insert(a);
    let saved = first.save_state().unwrap();
    // The next session starts from what was saved.
    let mut tab = RunsTab::default();
    tab.load_state(&saved).unwrap();
    let mut h = world(dir.path()).harness();
    h.state_mut().lab = tab;
    run_until(&mut h, "the list", |w| w.lab.rt.rows.len() == 2);
    assert!(h.state().lab.rt.selected.contains(&a), "the tick came back");
    assert_eq!(h.state().lab.settings.metric, "loss");
    run_until(&mut h, "the ticked run's curve", |w| {
        w.lab.figure().series.iter().any(|s| !s.points.is_empty())
    });
    // A filter that matches nothing says so, not "train in any lab".
    h.state_mut().lab.settings.text = "no such run".into();
    run_until(&mut h, "the empty list", |w| w.lab.rt.rows.is_empty());
    h.run();
    h.get_by_label_contains("No run matches these filters");
    h.get_by_label("Clear the filters").click();
    run_until(&mut h, "the list again", |w| w.lab.rt.rows.len() == 2);
}
