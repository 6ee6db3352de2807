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
