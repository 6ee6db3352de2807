//! One loop over the registry (plus the one-file test lab): every lab opens from the tab bar
//! and draws, and its state survives a save / load under its own key.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use gradlab::app::{GradlabApp, Settings, lab_key};
use gradlab::widgets::files::FileTasks;

use super::hello_lab::HelloLab;

fn app_with_hello(dir: &std::path::Path) -> GradlabApp {
    let mut labs = gradlab::labs::labs();
    labs.push(Box::new(HelloLab::default()));
    GradlabApp::with_labs(
        labs,
        Settings::default(),
        dir.join("datasets"),
        FileTasks::fixed_dir(dir),
    )
}

#[test]
fn every_lab_opens_from_the_tab_bar() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_hello(dir.path());
    let tabs: Vec<(&str, &str)> = app.labs.iter().map(|l| (l.id(), l.title())).collect();
    assert!(tabs.len() >= 5, "the four labs and the test lab: {tabs:?}");
    let mut h = Harness::builder()
        .with_size([1280.0, 860.0])
        .build_ui_state(|ui, app: &mut GradlabApp| app.show(ui), app);
    h.run_steps(2);
    for (id, title) in tabs {
        h.get_by_label(title).click();
        // Some labs show a spinner while they load in the background: step, don't wait to settle.
        h.run_steps(3);
        assert_eq!(h.state().settings.tab, id, "clicking {title} opens it");
    }
    // The test lab is the open one and draws its own widgets.
    h.get_by_label("Hello, lab");
    h.get_by_label("Count").click();
    h.run_steps(2);
    assert_eq!(h.state_mut().lab_mut::<HelloLab>().unwrap().clicks, 1);
}

#[test]
fn each_lab_keeps_its_state_under_its_own_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_with_hello(dir.path());
    app.lab_mut::<HelloLab>().unwrap().clicks = 7;
    let saved: Vec<(String, String)> = app
        .labs
        .iter()
        .filter_map(|l| Some((lab_key(l.id()), l.save_state()?)))
        .collect();
    let keys: std::collections::HashSet<_> = saved.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys.len(), saved.len(), "one key per lab");
    let mut fresh = app_with_hello(dir.path());
    for lab in &mut fresh.labs {
        if let Some((_, text)) = saved.iter().find(|(k, _)| *k == lab_key(lab.id())) {
            lab.load_state(text).unwrap();
        }
    }
    assert_eq!(fresh.lab_mut::<HelloLab>().unwrap().clicks, 7);
}

#[test]
fn gradlab_tab_names_a_lab_by_its_title() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_with_hello(dir.path());
    assert!(app.open_by_title("Segmentation"));
    assert_eq!(app.settings.tab, "segmentation");
    assert!(!app.open_by_title("No such lab"));
    assert_eq!(app.settings.tab, "segmentation");
}

/// A lab that only describes itself (the test lab) appears in the Runs tab and in a report
/// without either naming it: both read its descriptor.
#[test]
fn a_new_lab_appears_in_the_runs_tab_and_in_a_report() {
    use gradlab::core::report::{Block, ReportMeta, blocks, report_run};
    use gradlab::core::runs::RunStore;
    use gradlab::labs::runs::RunsTab;

    let dir = tempfile::tempdir().unwrap();
    let runs_dir = dir.path().join("runs");
    let store = RunStore::open(&runs_dir).unwrap();
    let ids: Vec<_> = (0..2)
        .map(|seed| super::hello_lab::record_run(&store, seed).unwrap())
        .collect();

    let mut app = app_with_hello(dir.path()).with_runs_dir(Some(runs_dir.clone()));
    assert!(app.descriptors.iter().any(|d| d.id == "hello"));
    app.settings.tab = "runs".into();
    let mut h = Harness::builder()
        .with_size([1366.0, 768.0])
        .build_ui_state(|ui, app: &mut GradlabApp| app.show(ui), app);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        h.run_steps(2);
        let rt = &h.state_mut().lab_mut::<RunsTab>().unwrap().rt;
        if rt.facets.labs.iter().any(|l| l == "hello") && !rt.rows.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Runs tab never listed the runs"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Both seeds are one configuration; its main figure is the lab's.
    assert!(h.get_all_by_label_contains("hello seed").next().is_some());
    let rt = &h.state_mut().lab_mut::<RunsTab>().unwrap().rt;
    assert_eq!(rt.rows.len(), 2);
    assert!(rt.rows.iter().all(|r| r.lab == "hello"));

    let runs: Vec<_> = ids
        .iter()
        .map(|&id| report_run(&store, id).unwrap())
        .collect();
    let meta = ReportMeta {
        labs: h.state().descriptors.clone(),
        ..Default::default()
    };
    let doc = blocks(&meta, &runs);
    assert!(
        doc.iter()
            .any(|b| matches!(b, Block::Heading(2, t) if t == "Hello: counting clicks")),
        "the lab's own title heads its section"
    );
    let table = doc
        .iter()
        .find_map(|b| match b {
            Block::Table { header, rows } if header.contains(&"hello_score".to_string()) => {
                Some(rows.clone())
            }
            _ => None,
        })
        .expect("a results table of the lab's summary figure");
    assert_eq!(table.len(), 1, "two seeds, one configuration");
    assert!(table[0][2].text.contains("(2)"), "{:?}", table[0][2].text);
    assert!(
        doc.iter().any(|b| matches!(b, Block::Figure { figure, .. } if figure.title.contains("hello_score") && figure.x.label == "epoch")),
        "the curve is drawn against the lab's x axis"
    );
    assert!(doc.iter().any(|b| matches!(b, Block::Table { rows, .. } if rows.iter().any(|r| r[0].text == "a perfect score"))));
}
