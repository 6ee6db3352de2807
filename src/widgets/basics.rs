//! What every tab draws with: its context (`TabCx`), labelled widgets, the palette and the
//! tour's anchors.

use super::files::{FileTasks, Saver};
use crate::core::jobs::{Jobs, Waker};
use eframe::egui;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What every tab may use while it draws.
pub struct TabCx<'a> {
    pub jobs: &'a mut Jobs,
    pub files: &'a mut FileTasks,
    /// Where datasets live (`--data-dir`, `GRADLAB_DATA` or `datasets/`).
    pub data_dir: &'a PathBuf,
    pub waker: Waker,
    /// The descriptors of the app's labs (what the Runs tab and its reports read).
    pub labs: &'a [&'static crate::core::descriptor::LabDescriptor],
}

impl TabCx<'_> {
    pub fn saver(&self) -> Saver {
        self.files.saver()
    }

    /// The run store's folder (`--runs-dir`, `GRADLAB_RUNS` or the platform data folder); None
    /// when runs are not recorded (tests, or no data folder on this system).
    pub fn runs_dir(&self) -> Option<&std::path::Path> {
        self.jobs.runs_dir()
    }
}

/// Repaints the UI soon after a job reports, without repainting more than ~30 times a second.
pub fn repaint_waker(ctx: &egui::Context) -> Waker {
    let ctx = ctx.clone();
    Arc::new(move || ctx.request_repaint_after(Duration::from_millis(30)))
}

/// A label and the widget it names, linked for screen readers and UI tests.
pub fn labeled(ui: &mut egui::Ui, label: &str, widget: impl egui::Widget) -> egui::Response {
    let l = ui.label(label);
    ui.add(widget).labelled_by(l.id)
}

/// A combo box with its label in front (egui's `ComboBox::from_label` puts it behind, where in a
/// row of filters it reads as the next one's), labelled for screen readers.
pub fn labeled_combo<R>(
    ui: &mut egui::Ui,
    label: &str,
    selected: impl Into<egui::WidgetText>,
    options: impl FnOnce(&mut egui::Ui) -> R,
) -> egui::Response {
    let l = ui.label(label);
    egui::ComboBox::from_id_salt(("labeled_combo", label))
        .selected_text(selected)
        .show_ui(ui, options)
        .response
        .labelled_by(l.id)
}

/// Distinct, colour-blind-friendly colours (Okabe-Ito) for curves and classes.
pub const PALETTE: [egui::Color32; 8] = [
    egui::Color32::from_rgb(0, 114, 178),
    egui::Color32::from_rgb(230, 159, 0),
    egui::Color32::from_rgb(0, 158, 115),
    egui::Color32::from_rgb(204, 121, 167),
    egui::Color32::from_rgb(86, 180, 233),
    egui::Color32::from_rgb(213, 94, 0),
    egui::Color32::from_rgb(240, 228, 66),
    egui::Color32::from_rgb(128, 128, 128),
];

/// Tells the first-run tour where a widget is (this frame), so a step can point at it:
/// `tour_anchor(ui.ctx(), "tab:graphs", response.rect)`.
pub fn tour_anchor(ctx: &egui::Context, name: &str, rect: egui::Rect) {
    ctx.data_mut(|d| d.insert_temp(egui::Id::unique(("tour_anchor", name)), rect));
}

/// Where the widget registered as `name` was last drawn.
pub fn tour_anchor_rect(ctx: &egui::Context, name: &str) -> Option<egui::Rect> {
    ctx.data(|d| d.get_temp(egui::Id::unique(("tour_anchor", name))))
}
