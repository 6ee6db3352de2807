//! Without downloaded data, Graphs and Segmentation offer the download where the dataset is
//! chosen (the download itself is tested with the offer widget, against a local server).

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use gradlab::app::GradlabApp;
use gradlab::data::catalog::{Catalog, human_size};

#[test]
fn graphs_and_segmentation_offer_their_dataset_download_when_it_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = crate::fresh_app(dir.path());
    app.open_by_title("Graphs");
    let mut h = Harness::builder()
        .with_size([1366.0, 768.0])
        .build_ui_state(|ui, app: &mut GradlabApp| app.show(ui), app);
    let size = |name: &str| human_size(Catalog::builtin().find(name).unwrap().total_size());
    // Whether the data is there is checked off the UI thread: the offer follows the answer.
    until_shown(&mut h, "Auto (synthetic: no Cora)");
    h.get_by_label(&format!("Download Cora ({})", size("cora")));
    h.get_by_label("Segmentation").click();
    until_shown(&mut h, "not downloaded");
    h.get_by_label(&format!("Download ISBI ({})", size("isbi2012_em")));
}

fn until_shown(h: &mut Harness<'_, GradlabApp>, label: &str) {
    let t = Instant::now();
    while h.query_by_label(label).is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{label:?} never shown"
        );
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
}
