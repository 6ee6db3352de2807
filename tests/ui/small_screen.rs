//! On a small laptop screen (1024 x 600) and on the usual 1280 x 768 and 1366 x 768 each lab's
//! main actions are on screen without scrolling: a first-time user does not look below the
//! fold. Widget rectangles from kittest (no renderer): a layout regression fails here.

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use gradlab::app::GradlabApp;

const SIZES: [(f32, f32); 3] = [(1024.0, 600.0), (1280.0, 768.0), (1366.0, 768.0)];

#[test]
fn each_labs_main_actions_are_on_screen_at_1024_1280_and_1366() {
    for (w, hgt) in SIZES {
        let dir = tempfile::tempdir().unwrap();
        let app = crate::fresh_app(dir.path());
        let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(w, hgt));
        let mut h = Harness::builder()
            .with_size(screen.size())
            .build_ui_state(|ui, app: &mut GradlabApp| app.show(ui), app);
        for (tab, buttons) in [
            ("Theory", &["Run all", "Run check"][..]),
            ("Graphs", &["Train GCN", "Train GAT", "Race GCN vs GAT"][..]),
            (
                "Segmentation",
                &["Train both", "Open image...", "Save model", "Load model..."][..],
            ),
            ("Datasets", &[][..]),
            ("Runs", &[][..]),
        ] {
            h.get_by_label(tab).click();
            h.run_steps(3);
            for button in buttons.iter().chain(&["? Help"]) {
                let r = h.get_by_label(button).rect();
                assert!(
                    screen.contains_rect(r),
                    "{w} x {hgt}, {tab}: {button:?} at {r:?} is outside the window"
                );
            }
            if tab == "Segmentation" {
                // Not cut at the edge of the left panel either.
                let plots = h.get_by_label("train loss").rect();
                for button in buttons {
                    let r = h.get_by_label(button).rect();
                    assert!(
                        r.right() <= plots.left(),
                        "{w} x {hgt}: {button:?} at {r:?} runs under the plots at {plots:?}"
                    );
                }
            }
        }
    }
}

/// Two plots in a row start at the same height whatever their labels (the toolbar of one used
/// to wrap where the other's did not).
#[test]
fn plots_side_by_side_share_their_top() {
    use gradlab::core::figures::{Figure, Series};
    let fig = |label: &str| {
        let mut f = Figure::new("", "epoch", label);
        for name in [
            "GCN train loss (mean ± std, n = 3)",
            "GCN val loss (mean ± std, n = 3)",
            "GAT train loss (mean ± std, n = 3, where all reached)",
            "GAT val loss (mean ± std, n = 3, where all reached)",
        ] {
            f.series.push(Series {
                name: format!("{label}: {name}"),
                points: vec![[0.0, 1.0], [1.0, 2.0]],
                ..Default::default()
            });
        }
        f
    };
    let (a, b) = (
        fig("loss"),
        fig("validation IoU of the membrane class, mean over seeds"),
    );
    let saver = gradlab::widgets::files::FileTasks::default().saver();
    let tops = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let t = tops.clone();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1366.0 - 300.0, 500.0))
        .build_ui(move |ui| {
            let mut got = Vec::new();
            ui.columns(2, |cols| {
                got.push(
                    gradlab::widgets::plot::figure_plot(&mut cols[0], "a", &a, 200.0, &saver).rect,
                );
                got.push(
                    gradlab::widgets::plot::figure_plot(&mut cols[1], "b", &b, 200.0, &saver).rect,
                );
            });
            *t.lock().unwrap() = got;
        });
    h.run();
    let tops = tops.lock().unwrap().clone();
    assert_eq!(tops.len(), 2);
    assert_eq!(tops[0].top(), tops[1].top(), "{tops:?}");
    assert_eq!(tops[0].height(), tops[1].height());
    // The legends under the plots wrap within their column: no entry overlaps another.
    let boxes: Vec<egui::Rect> = h
        .query_all_by_role(egui::Role::CheckBox)
        .filter(|n| {
            n.accesskit_node()
                .label()
                .is_some_and(|l| l.contains("(mean"))
        })
        .map(|n| n.rect())
        .collect();
    assert_eq!(boxes.len(), 8);
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            assert!(!a.intersects(*b), "legend entries overlap: {a:?} {b:?}");
        }
    }
}
