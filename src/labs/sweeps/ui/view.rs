//! One sweep drawn: the metric against the varied setting with mean ± std error bars and each
//! seed's dot (one line per value of the other settings), a heat map when two numeric settings
//! vary, and the table with each point's Welch verdict against a chosen baseline.

use eframe::egui;

use crate::core::descriptor::Direction;
use crate::core::figures::format_number;
use crate::core::runs::SweepRow;
use crate::core::sweep::{self, Heat, PointRow};
use crate::widgets::files::Saver;
use crate::widgets::plot::figure_plot;

/// What the user asked for in the view.
#[derive(Default)]
pub struct Asked {
    /// A point whose runs' curves should be shown.
    pub point: Option<usize>,
}

/// The figure, the heat map (when it applies) and the table of `sweep`.
#[allow(clippy::too_many_arguments)]
pub fn show(
    ui: &mut egui::Ui,
    sweep: &SweepRow,
    rows: &[PointRow],
    direction: Direction,
    baseline: &mut usize,
    show_heat: &mut bool,
    chosen: Option<usize>,
    saver: &Saver,
) -> Asked {
    let mut asked = Asked::default();
    let heat = sweep::heat(sweep, rows);
    if heat.is_some() {
        ui.checkbox(show_heat, "heat map (both settings are numbers)");
    }
    match (&heat, *show_heat) {
        (Some(h), true) => heat_map(ui, h),
        _ => {
            let fig = sweep::figure(sweep, rows);
            let height = (ui.available_height() * 0.45).clamp(220.0, 380.0);
            figure_plot(ui, &format!("sweep-{}", sweep.id), &fig, height, saver);
        }
    }
    if *baseline >= rows.len() {
        *baseline = 0;
    }
    let best = sweep::best(rows, direction);
    let verdicts = sweep::verdicts(rows, *baseline);
    ui.horizontal_wrapped(|ui| {
        ui.strong("Table");
        crate::widgets::labeled_combo(
            ui,
            "baseline",
            rows.get(*baseline).map(|r| r.label()).unwrap_or_default(),
            |ui| {
                for (i, r) in rows.iter().enumerate() {
                    ui.selectable_value(baseline, i, r.label());
                }
            },
        );
        ui.weak("each point's seeds against the baseline's (Welch): beyond seed noise?");
    });
    egui::ScrollArea::horizontal()
        .id_salt("sweep-table")
        .show(ui, |ui| {
            egui::Grid::new(("sweep-grid", sweep.id))
                .striped(true)
                .num_columns(7)
                .show(ui, |ui| {
                    for h in ["point", "mean", "std", "n", "per seed", "vs baseline", ""] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
                    for (i, r) in rows.iter().enumerate() {
                        let label = egui::RichText::new(r.label());
                        let label = if best == Some(i) {
                            label.strong()
                        } else {
                            label
                        };
                        ui.label(label).on_hover_text(if best == Some(i) {
                            "the best point"
                        } else {
                            ""
                        });
                        ui.label(f(r.mean));
                        ui.label(f(r.std));
                        ui.label(r.per_seed.len().to_string());
                        let seeds: Vec<String> =
                            r.per_seed.iter().map(|v| format!("{v:.4}")).collect();
                        ui.label(seeds.join(" "));
                        let v = if i == *baseline {
                            "baseline".to_string()
                        } else {
                            verdicts[i].as_ref().map_or("-".into(), sweep::verdict_text)
                        };
                        ui.label(v);
                        let runs = crate::core::runs::runs_text(&r.run_ids).unwrap_or_default();
                        let on = chosen == Some(i);
                        if ui
                            .add_enabled(
                                !r.run_ids.is_empty(),
                                egui::Button::selectable(on, "curves"),
                            )
                            .on_hover_text(format!("Show the curves of {runs}"))
                            .clicked()
                        {
                            asked.point = Some(i);
                        }
                        ui.end_row();
                    }
                });
        });
    asked
}

/// A grid of cells coloured by the mean (light: low, dark: high), each with its value and n.
fn heat_map(ui: &mut egui::Ui, h: &Heat) {
    let values: Vec<f64> = h.cells.iter().flatten().flatten().map(|c| c.0).collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    ui.label(format!(
        "mean over seeds; {} across, {} down",
        h.x_name, h.y_name
    ));
    egui::Grid::new("sweep-heat")
        .spacing([2.0, 2.0])
        .show(ui, |ui| {
            ui.label(format!("{} \\ {}", h.y_name, h.x_name));
            for x in &h.xs {
                ui.strong(x);
            }
            ui.end_row();
            for (j, y) in h.ys.iter().enumerate() {
                ui.strong(y);
                for cell in &h.cells[j] {
                    let (text, t) = match cell {
                        Some((m, n)) => {
                            let t = if hi > lo { (m - lo) / (hi - lo) } else { 0.5 };
                            (format!("{} (n={n})", format_number(*m)), t)
                        }
                        None => ("-".to_string(), f64::NAN),
                    };
                    let fill = if t.is_finite() {
                        // Okabe-Ito blue, from pale to full.
                        let a = (40.0 + 200.0 * t) as u8;
                        egui::Color32::from_rgba_unmultiplied(0, 114, 178, a)
                    } else {
                        egui::Color32::TRANSPARENT
                    };
                    let ink = if t > 0.6 {
                        egui::Color32::WHITE
                    } else {
                        ui.visuals().text_color()
                    };
                    egui::Frame::new()
                        .fill(fill)
                        .inner_margin(6.0)
                        .show(ui, |ui| {
                            ui.set_min_width(90.0);
                            ui.label(egui::RichText::new(text).color(ink));
                        });
                }
                ui.end_row();
            }
        });
}
