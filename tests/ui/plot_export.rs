//! The plot widget's CSV export writes every series with a header, through the file-task path
//! the GUI uses (the dialog is replaced by a fixed folder).

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use gradlab::widgets::files::{FileMsg, FileTasks};
use gradlab::widgets::plot::{Curve, PlotSpec, curves_plot};

#[test]
fn export_csv_button_writes_all_series() {
    let dir = tempfile::tempdir().unwrap();
    let files = FileTasks::fixed_dir(dir.path());
    let saver = files.saver();
    let a = [[0.0, 1.0], [1.0, 0.5], [2.0, 0.25]];
    let b = [[0.0, 0.1], [2.0, 0.9]];
    let mut h = Harness::new_ui_state(
        move |ui, files: &mut FileTasks| {
            files.poll();
            curves_plot(
                ui,
                &PlotSpec::new("loss_plot", "epoch", "loss"),
                &[Curve::new("train", &a), Curve::new("val", &b)],
                &saver,
            );
        },
        files,
    );
    h.get_by_label("Export CSV").click();
    h.run();
    let path = dir.path().join("loss_plot.csv");
    let t = Instant::now();
    loop {
        h.step();
        if let Some(FileMsg::Saved(p)) = h.state().last_message() {
            assert_eq!(p, &path);
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no Saved message");
        std::thread::sleep(Duration::from_millis(10));
    }
    let csv = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        csv,
        "series,x,y,low,high\ntrain,0,1,,\ntrain,1,0.5,,\ntrain,2,0.25,,\nval,0,0.1,,\nval,2,0.9,,\n"
    );
}

#[test]
fn saving_into_a_missing_folder_reports_an_error() {
    let files = FileTasks::fixed_dir(std::path::Path::new("/nonexistent-gradlab/deeper"));
    let saver = files.saver();
    let mut files = files;
    saver.save("x.csv", ("CSV", &["csv"]), || Ok(b"a".to_vec()));
    let t = Instant::now();
    loop {
        files.poll();
        if let Some(msg) = files.last_message() {
            match msg {
                FileMsg::Error(e) => {
                    assert!(e.contains("/nonexistent-gradlab/deeper/x.csv"), "{e}")
                }
                other => panic!("expected an error, got {other:?}"),
            }
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    }
}
