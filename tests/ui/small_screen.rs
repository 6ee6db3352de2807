//! On a small laptop screen (1024 x 600) each lab's main action is on screen without scrolling:
//! a first-time user does not look below the fold.

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use gradlab::app::GradlabApp;

#[test]
fn each_labs_main_button_is_on_a_1024_x_600_screen() {
    let dir = tempfile::tempdir().unwrap();
    let app = crate::fresh_app(dir.path());
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1024.0, 600.0));
    let mut h = Harness::builder()
        .with_size(screen.size())
        .build_ui_state(|ui, app: &mut GradlabApp| app.show(ui), app);
    for (tab, button) in [
        ("Theory", "Run all"),
        ("Graphs", "Train GCN"),
        ("Segmentation", "Train both"),
    ] {
        h.get_by_label(tab).click();
        h.run_steps(3);
        let r = h.get_by_label(button).rect();
        assert!(
            screen.contains_rect(r),
            "{tab}: {button:?} at {r:?} is outside the {screen:?} window"
        );
    }
}
