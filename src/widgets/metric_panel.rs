//! Two plots side by side (e.g. loss | accuracy), each with its SVG / PNG / CSV export.

use eframe::egui;

use super::files::Saver;
use super::plot::{Curve, PlotSpec, curves_plot};

/// One plot of a panel.
pub struct Panel<'a> {
    pub spec: PlotSpec<'a>,
    pub curves: Vec<Curve<'a>>,
}

pub fn metric_panel(ui: &mut egui::Ui, saver: &Saver, left: Panel<'_>, right: Panel<'_>) {
    ui.columns(2, |cols| {
        curves_plot(&mut cols[0], &left.spec, &left.curves, saver);
        curves_plot(&mut cols[1], &right.spec, &right.curves, saver);
    });
}
