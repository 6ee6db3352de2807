//! Figures -> egui_plot, with legend, hover read-out, log-y switch, and exports drawn from the
//! same [`Figure`] the reports use: SVG (vector), PNG at a chosen size, CSV of the plotted data.

use eframe::egui;
use egui_plot::{FilledArea, Line, LineStyle, Plot, PlotPoints};

use super::files::Saver;
use crate::core::figures::{
    self, Axis, ExportSize, Figure, Series, Stroke, format_number, to_csv, to_png, to_svg,
};

/// One curve to draw.
pub struct Curve<'a> {
    pub name: String,
    pub points: &'a [[f64; 2]],
    pub color: Option<egui::Color32>,
}

impl<'a> Curve<'a> {
    pub fn new(name: impl Into<String>, points: &'a [[f64; 2]]) -> Self {
        Self {
            name: name.into(),
            points,
            color: None,
        }
    }
    pub fn color(mut self, c: egui::Color32) -> Self {
        self.color = Some(c);
        self
    }
}

pub struct PlotSpec<'a> {
    /// Unique among the plots on screen; also the default export file name.
    pub id: &'a str,
    /// The exported figure's title (the on-screen plot shows the y label above it instead).
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub height: f32,
    /// Start with a logarithmic y axis (the user can switch).
    pub log_y: bool,
    /// Also use a log axis for x (for scaling plots); fixed, not switchable.
    pub log_x: bool,
}

impl<'a> PlotSpec<'a> {
    pub fn new(id: &'a str, x_label: &'a str, y_label: &'a str) -> Self {
        Self {
            id,
            title: "",
            x_label,
            y_label,
            height: 220.0,
            log_y: false,
            log_x: false,
        }
    }
    pub fn title(mut self, t: &'a str) -> Self {
        self.title = t;
        self
    }
    pub fn height(mut self, h: f32) -> Self {
        self.height = h;
        self
    }
    pub fn log_y(mut self, on: bool) -> Self {
        self.log_y = on;
        self
    }
    pub fn log_x(mut self, on: bool) -> Self {
        self.log_x = on;
        self
    }

    /// The figure these curves make (colours default to the palette in order).
    pub fn figure(&self, curves: &[Curve<'_>]) -> Figure {
        Figure {
            title: self.title.to_string(),
            x: Axis {
                label: self.x_label.to_string(),
                log: self.log_x,
            },
            y: Axis {
                label: self.y_label.to_string(),
                log: self.log_y,
            },
            series: curves
                .iter()
                .enumerate()
                .map(|(i, c)| Series {
                    name: c.name.clone(),
                    color: c
                        .color
                        .map_or(figures::PALETTE[i % figures::PALETTE.len()], |c| {
                            [c.r(), c.g(), c.b()]
                        }),
                    points: c.points.to_vec(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// The values a log axis marks within each decade, with the spacing their lines and labels are
/// weighted by: decades strongest, then 2 and 5, then the rest at their distance (in decades) to
/// the nearest other mark. egui_plot labels a mark only when marks of its weight are far enough
/// apart (20 points), so a plot spanning several decades reads "0.01 0.1 1", one spanning less
/// than a decade (a loss from 1.05 to 2.0) reads "1.5 2" (at a flat 0.04, 1.5 needed a plot 500
/// points high per decade, and the Graphs loss plot read "2" alone), and no label ever reads
/// "1.5849". Labelled marks are never closer than their weights: each weight is at most the
/// distance to its neighbours, or (1, 2, 5) above it only where the neighbours weigh less.
const LOG_MARKS: [(f64, f64); 11] = [
    (1.0, 1.0),
    (1.5, 0.12),
    (2.0, 0.3),
    (2.5, 0.079),
    (3.0, 0.079),
    (4.0, 0.096),
    (5.0, 0.3),
    (6.0, 0.066),
    (7.0, 0.057),
    (8.0, 0.05),
    (9.0, 0.045),
];

/// Grid marks of a log axis (plotted as log10) over `input`'s bounds. Where fewer than two of
/// [`LOG_MARKS`] are in view (a loss between 1.6 and 2.0), every tenth of the decade is marked
/// too (1.6 1.7 1.8 1.9), weighted by its distance to the next.
fn log_marks(input: egui_plot::GridInput) -> Vec<egui_plot::GridMark> {
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for k in (lo.floor() as i64)..=(hi.ceil() as i64) {
        for (m, step) in LOG_MARKS {
            let value = m.log10() + k as f64;
            // A decade weighs as the roundest step it lies on (2, 5, 10, ... decades), so an
            // axis over many decades still labels every 2nd, 5th or 10th one.
            let step = if m == 1.0 { decade_step(k) } else { step };
            if (lo..=hi).contains(&value) {
                out.push(egui_plot::GridMark {
                    value,
                    step_size: step,
                });
            }
        }
    }
    if out.len() < 2 {
        for k in (lo.floor() as i64)..=(hi.ceil() as i64) {
            for tenth in 11..100 {
                let m = f64::from(tenth) / 10.0;
                let value = m.log10() + k as f64;
                if LOG_MARKS.iter().any(|(p, _)| *p == m) || !(lo..=hi).contains(&value) {
                    continue;
                }
                out.push(egui_plot::GridMark {
                    value,
                    step_size: ((m + 0.1) / m).log10(),
                });
            }
        }
    }
    out
}

/// The weight of decade `k`: the largest of 1, 2, 10, 20, 100, 200, 1000 decades that divides
/// it. Each step divides the next (5 would not divide 2), so labels of two weights never crowd
/// each other ("1e-4 1e-5 1e-6").
fn decade_step(k: i64) -> f64 {
    let mut best = 1.0;
    for s in [2i64, 10, 20, 100, 200, 1000] {
        if k % s == 0 {
            best = s as f64;
        }
    }
    best
}

/// A tick label on a log axis: the mark's value ("0.01", "1.5", "1.7", "200"), empty between
/// marks (a mark is a tenth of its decade, see [`log_marks`]).
fn log_label(log10: f64) -> String {
    let k = log10.floor();
    let tenths = 10f64.powf(log10 - k) * 10.0;
    if (tenths - tenths.round()).abs() < 1e-6 {
        let m = tenths.round() / 10.0;
        format_number(m * 10f64.powf(k))
    } else {
        String::new()
    }
}

/// Grid steps of 1, 2 or 5 times a power of ten, the largest about 12 minimal line spacings
/// apart. egui_plot's default (powers of ten only) labels an epoch axis of 0..200 with "0"
/// alone: steps of 10 are too dense for its labels and 100 leaves one label in view. Each step
/// divides the next: egui_plot labels every step whose marks are far enough apart, and steps
/// of 0.2 and 0.5 together read "0.4 0.5 0.6". Where the natural middle and large steps do
/// not nest (2 and 5), the x axis, whose labels need 10 minimal spacings (8 points each), keeps
/// the large step; on the y axis, whose labels need about 3, the middle step carries them.
fn one_two_five(input: egui_plot::GridInput, axis: egui_plot::Axis) -> [f64; 3] {
    let b = input.base_step_size;
    if !(b > 0.0 && b.is_finite()) {
        return [1.0, 2.0, 5.0];
    }
    let (mid, large) = match axis {
        egui_plot::Axis::X => {
            let large = nice_at_least(b * 12.0);
            (nice_divisor_at_most(nice_at_least(b * 5.0), large), large)
        }
        egui_plot::Axis::Y => {
            // egui_plot draws y labels from 2.5 spacings apart at full strength from 3.75.
            let mid = nice_at_least(b * 3.75);
            (mid, nice_multiple_at_least(mid, b * 12.0))
        }
    };
    let small = nice_divisor_at_most(nice_at_least(b * 1.5), mid);
    [small, mid, large]
}

/// Whether `a` divides `of` (both 1, 2 or 5 x 10^k).
fn divides(a: f64, of: f64) -> bool {
    let r = of / a;
    (r - r.round()).abs() < 1e-6 * r
}

/// The largest 1, 2 or 5 x 10^k that is at most `v` (itself such a number), below `of` and
/// divides it.
fn nice_divisor_at_most(mut v: f64, of: f64) -> f64 {
    while v >= of * (1.0 - 1e-12) || !divides(v, of) {
        // The next smaller nice number: 1 -> 0.5, 2 -> 1, 5 -> 2 (times the power of ten).
        let p = 10f64.powf(v.log10().floor());
        let m = (v / p).round();
        v = if m <= 1.0 {
            p / 2.0
        } else if m <= 2.0 {
            p
        } else {
            2.0 * p
        };
    }
    v
}

/// The smallest 1, 2 or 5 x 10^k above `of` and at least `x` that `of` divides.
fn nice_multiple_at_least(of: f64, x: f64) -> f64 {
    let mut v = nice_at_least(x.max(of * 1.01));
    while !divides(of, v) {
        v = nice_at_least(v * 1.01);
    }
    v
}

/// The smallest of 1, 2, 5 x 10^k that is at least `x` (> 0).
fn nice_at_least(x: f64) -> f64 {
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&v| v >= x * (1.0 - 1e-12))
        .unwrap_or(10.0 * p)
}

fn to_log(v: f64) -> Option<f64> {
    (v > 0.0 && v.is_finite()).then(|| v.log10())
}

/// Draws the curves of `spec` with the toolbar (log y, exports). Returns the plot's response.
pub fn curves_plot(
    ui: &mut egui::Ui,
    spec: &PlotSpec<'_>,
    curves: &[Curve<'_>],
    saver: &Saver,
) -> egui::Response {
    figure_plot(ui, spec.id, &spec.figure(curves), spec.height, saver)
}

fn color(c: [u8; 3]) -> egui::Color32 {
    egui::Color32::from_rgb(c[0], c[1], c[2])
}

/// The export buttons: CSV, SVG, and PNG at the size picked in the combo box. Each picture export
/// also writes its CSV beside it.
fn export_buttons(ui: &mut egui::Ui, id: &str, fig: &Figure, saver: &Saver) {
    let size_id = egui::Id::unique(("plot_png_size", id));
    let mut preset: usize = ui.data_mut(|d| *d.get_persisted_mut_or(size_id, 0));
    if ui
        .button("Export CSV")
        .on_hover_text("The plotted data as series,x,y,low,high")
        .clicked()
    {
        let csv = to_csv(fig);
        saver.save(&format!("{id}.csv"), ("CSV", &["csv"]), move || {
            Ok(csv.into_bytes())
        });
    }
    if ui
        .button("Export SVG")
        .on_hover_text("A vector figure with title, axis labels and legend, and its CSV beside it")
        .clicked()
    {
        let fig = fig.clone();
        saver.save_with_csv(&format!("{id}.svg"), ("SVG", &["svg"]), move || {
            Ok((
                to_svg(&fig, ExportSize::DEFAULT).into_bytes(),
                Some(to_csv(&fig)),
            ))
        });
    }
    if ui
        .button("Export PNG")
        .on_hover_text("A picture at the size chosen beside, light theme, and its CSV beside it")
        .clicked()
    {
        let fig = fig.clone();
        let size = ExportSize::PRESETS[preset.min(ExportSize::PRESETS.len() - 1)].1;
        saver.save_with_csv(&format!("{id}.png"), ("PNG", &["png"]), move || {
            Ok((to_png(&fig, size)?, Some(to_csv(&fig))))
        });
    }
    let before = preset;
    egui::ComboBox::from_id_salt(size_id)
        .selected_text(format!(
            "{} x {}",
            ExportSize::PRESETS[preset.min(2)].1.width,
            ExportSize::PRESETS[preset.min(2)].1.height
        ))
        .show_ui(ui, |ui| {
            for (k, (label, _)) in ExportSize::PRESETS.iter().enumerate() {
                ui.selectable_value(&mut preset, k, *label);
            }
        })
        .response
        .on_hover_text("PNG size");
    if preset != before {
        ui.data_mut(|d| d.insert_persisted(size_id, preset));
    }
}

/// Draws `fig` (bands, seed lines, means) with its toolbar. The legend sits in the corner the
/// data leaves emptiest; seed lines stay out of it.
/// The one heading over a plot: the y label ("loss"), or the title when it says more and names
/// the y label itself ("log10 |f'(x)| of the non-vanished gradients vs depth" over a y label
/// "log10 |f'(x)|", which read twice one above the other). A caller with a title that does not
/// name the y label ("time vs n" over "seconds") shows it itself.
pub fn plot_heading(fig: &Figure) -> &str {
    let (title, y) = (fig.title.to_lowercase(), fig.y.label.to_lowercase());
    if title.len() > y.len() && title.contains(&y) {
        &fig.title
    } else {
        &fig.y.label
    }
}

pub fn figure_plot(
    ui: &mut egui::Ui,
    id: &str,
    fig: &Figure,
    height: f32,
    saver: &Saver,
) -> egui::Response {
    let log_id = egui::Id::unique(("plot_log_y", id));
    let mut log_y = ui.data_mut(|d| *d.get_persisted_mut_or(log_id, fig.y.log));
    let mut shown = fig.clone();
    shown.y.log = log_y;
    // On screen the y label heads the plot; an exported figure carries it as its title.
    if shown.title.is_empty() {
        shown.title = fig.y.label.clone();
    }
    // The heading on its own line: two plots side by side then have toolbars of the same
    // content, which wrap alike, so the plots start at the same height.
    ui.add(egui::Label::new(egui::RichText::new(plot_heading(fig)).strong()).truncate());
    ui.horizontal_wrapped(|ui| {
        if ui.checkbox(&mut log_y, "log y").changed() {
            ui.data_mut(|d| d.insert_persisted(log_id, log_y));
        }
        export_buttons(ui, id, &shown, saver);
    });
    let (log_x, x_label, y_label) = (fig.x.log, fig.x.label.clone(), fig.y.label.clone());
    let tf = move |v: f64, log: bool| if log { to_log(v) } else { Some(v) };
    let hidden_id = egui::Id::unique(("plot_hidden", id));
    let hidden: Vec<String> = ui.data(|d| d.get_temp(hidden_id)).unwrap_or_default();
    let mut plot = Plot::new(id)
        .height(height)
        // The wheel scrolls the page (a plot under the pointer must not swallow it); Ctrl+wheel
        // zooms, drag pans, double-click resets (the hint under the plot says so).
        .allow_scroll(false)
        .x_axis_label(fig.x.label.clone())
        .label_formatter(move |hp| {
            let (name, pos) = match hp {
                egui_plot::HoverPosition::NearDataPoint {
                    plot_name,
                    position,
                    ..
                } => (*plot_name, position),
                egui_plot::HoverPosition::Elsewhere { position } => ("", position),
            };
            let x = if log_x { 10f64.powf(pos.x) } else { pos.x };
            let y = if log_y { 10f64.powf(pos.y) } else { pos.y };
            Some(format!(
                "{name}\n{x_label} = {}\n{y_label} = {}",
                format_number(x),
                format_number(y)
            ))
        });
    if log_y {
        plot = plot
            .y_grid_spacer(log_marks)
            .y_axis_formatter(|m, _| log_label(m.value));
    } else {
        // egui_plot's own labels round to the decimals of a power-of-ten step: 0.5 read "0".
        plot = plot
            .y_grid_spacer(egui_plot::uniform_grid_spacer(|g| {
                one_two_five(g, egui_plot::Axis::Y)
            }))
            .y_axis_formatter(|m, _| format_number(m.value));
    }
    if log_x {
        plot = plot
            .x_grid_spacer(log_marks)
            .x_axis_formatter(|m, _| log_label(m.value));
    } else {
        // Epochs and steps are whole: no "2.5" tick under a per-epoch curve.
        let whole_x = shown
            .series
            .iter()
            .all(|s| s.points.iter().all(|p| p[0].fract() == 0.0));
        plot = plot
            .x_grid_spacer(egui_plot::uniform_grid_spacer(|g| {
                one_two_five(g, egui_plot::Axis::X)
            }))
            .x_axis_formatter(move |m, _| x_tick(m.value, whole_x));
    }
    // An empty plot would span egui_plot's default -0.5..0.5 on both axes, which reads like
    // data; it spans 0..1 and says it waits for data instead.
    let empty = shown.bounds().is_none();
    if empty {
        plot = plot
            .include_x(0.0)
            .include_x(1.0)
            .include_y(0.0)
            .include_y(1.0);
    }
    let weak = ui.visuals().weak_text_color();
    let visible = |s: &Series| s.hide_in_legend || !hidden.contains(&s.name);
    let response = plot
        .show(ui, |pui| {
            if empty {
                pui.text(
                    egui_plot::Text::new("", egui_plot::PlotPoint::new(0.5, 0.5), "no data yet")
                        .color(weak),
                );
            }
            for s in shown.series.iter().filter(|s| visible(s)) {
                let Some(band) = &s.band else { continue };
                if shown.error_bars {
                    error_bars(pui, s, band, log_x, log_y);
                    continue;
                }
                let pts: Vec<[f64; 3]> = band
                    .iter()
                    .filter_map(|b| Some([tf(b[0], log_x)?, tf(b[1], log_y)?, tf(b[2], log_y)?]))
                    .collect();
                if pts.len() > 1 {
                    let xs: Vec<f64> = pts.iter().map(|p| p[0]).collect();
                    let lo: Vec<f64> = pts.iter().map(|p| p[1]).collect();
                    let hi: Vec<f64> = pts.iter().map(|p| p[2]).collect();
                    let c = color(s.color);
                    pui.add(FilledArea::new("", &xs, &lo, &hi).fill_color(
                        egui::Color32::from_rgba_unmultiplied(c.r(), c.g(), c.b(), 45),
                    ));
                }
            }
            for s in shown.series.iter().filter(|s| visible(s)) {
                let pts: PlotPoints<'_> = s
                    .points
                    .iter()
                    .filter_map(|[x, y]| Some([tf(*x, log_x)?, tf(*y, log_y)?]))
                    .filter(|p| p[0].is_finite() && p[1].is_finite())
                    .collect();
                let name = if s.hide_in_legend {
                    String::new()
                } else {
                    s.name.clone()
                };
                let c = color(s.color);
                let line = match s.stroke {
                    Stroke::Solid => Line::new(name, pts).color(c).width(1.6),
                    Stroke::Dashed => Line::new(name, pts)
                        .color(c)
                        .width(1.6)
                        .style(LineStyle::dashed_loose()),
                    Stroke::Dots => {
                        let c = egui::Color32::from_rgba_unmultiplied(c.r(), c.g(), c.b(), 120);
                        pui.points(egui_plot::Points::new(name, pts).color(c).radius(2.0));
                        continue;
                    }
                    Stroke::Thin => Line::new(name, pts)
                        .color(egui::Color32::from_rgba_unmultiplied(
                            c.r(),
                            c.g(),
                            c.b(),
                            90,
                        ))
                        .width(0.8),
                };
                pui.line(line);
            }
        })
        .response;
    legend_row(ui, &shown, hidden_id, hidden);
    response
}

/// A band as error bars: a vertical bar with caps at each x and the mean as a dot (a grid point
/// is a measurement; the line only joins them).
fn error_bars(
    pui: &mut egui_plot::PlotUi<'_>,
    s: &Series,
    band: &[[f64; 3]],
    log_x: bool,
    log_y: bool,
) {
    let tf = |v: f64, log: bool| if log { to_log(v) } else { Some(v) };
    let c = color(s.color);
    // Caps as a fraction of the x span, so they read the same at any zoom of the data.
    let xs: Vec<f64> = band.iter().filter_map(|b| tf(b[0], log_x)).collect();
    let span = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - xs.iter().copied().fold(f64::INFINITY, f64::min);
    let cap = if span.is_finite() && span > 0.0 {
        span * 0.012
    } else {
        0.05
    };
    for b in band {
        let (Some(x), Some(lo), Some(hi)) = (tf(b[0], log_x), tf(b[1], log_y), tf(b[2], log_y))
        else {
            continue;
        };
        for seg in [
            [[x, lo], [x, hi]],
            [[x - cap, lo], [x + cap, lo]],
            [[x - cap, hi], [x + cap, hi]],
        ] {
            pui.line(
                Line::new("", PlotPoints::from(seg.to_vec()))
                    .color(c)
                    .width(1.4)
                    .allow_hover(false),
            );
        }
    }
    let means: PlotPoints<'_> = s
        .points
        .iter()
        .filter_map(|[x, y]| Some([tf(*x, log_x)?, tf(*y, log_y)?]))
        .collect();
    pui.points(egui_plot::Points::new("", means).color(c).radius(3.5));
}

/// A tick label on a linear x axis; none at fractional positions of a whole-numbered axis.
fn x_tick(v: f64, whole: bool) -> String {
    if whole && (v - v.round()).abs() > 1e-9 {
        String::new()
    } else {
        format_number(v)
    }
}

/// The hint under every plot: how to move it and how to get back.
pub const PLOT_HINT: &str = "drag pans · Ctrl+wheel zooms · double-click resets";

/// The legend under the plot, outside the data (it never covers a curve): per entry a sample of
/// its line (solid or dashed, the band behind it) and a checkbox that shows or hides it; then
/// the hint on moving the plot.
fn legend_row(ui: &mut egui::Ui, fig: &Figure, hidden_id: egui::Id, mut hidden: Vec<String>) {
    let before = hidden.len();
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 4.0;
        for s in fig.legend_entries() {
            // The sample and its label wrap together: a new row before an entry that does not
            // fit on this one.
            let text_w = egui::WidgetText::from(s.name.as_str())
                .into_galley(
                    ui,
                    Some(egui::TextWrapMode::Extend),
                    f32::INFINITY,
                    egui::TextStyle::Body,
                )
                .size()
                .x;
            let fixed = 26.0 + ui.spacing().icon_width + ui.spacing().icon_spacing + 12.0;
            if fixed + text_w > ui.available_size_before_wrap().x {
                ui.end_row();
            }
            // An entry wider than a whole row is cut ("GCN val loss (mean ± std, n = 7, wh…"),
            // whole on hover: wrapped, its checkbox fell to the next row and left the line
            // sample alone above it.
            let row_w = ui.max_rect().width();
            let shown = if fixed + text_w > row_w {
                elide(ui, &s.name, row_w - fixed)
            } else {
                s.name.clone()
            };
            let (rect, _) = ui.allocate_exact_size(egui::vec2(26.0, 12.0), egui::Sense::hover());
            let c = color(s.color);
            if s.band.is_some() {
                ui.painter().rect_filled(
                    rect.shrink2(egui::vec2(0.0, 1.0)),
                    0.0,
                    egui::Color32::from_rgba_unmultiplied(c.r(), c.g(), c.b(), 45),
                );
            }
            let y = rect.center().y;
            let stroke = egui::Stroke::new(2.0, c);
            match s.stroke {
                Stroke::Dashed => {
                    let mut x = rect.left();
                    while x < rect.right() {
                        let end = (x + 6.0).min(rect.right());
                        ui.painter()
                            .line_segment([egui::pos2(x, y), egui::pos2(end, y)], stroke);
                        x += 10.0;
                    }
                }
                _ => {
                    ui.painter().line_segment(
                        [egui::pos2(rect.left(), y), egui::pos2(rect.right(), y)],
                        stroke,
                    );
                }
            }
            let mut on = !hidden.contains(&s.name);
            let hint = if shown == s.name {
                "Show or hide this curve".to_string()
            } else {
                format!("{}\nShow or hide this curve", s.name)
            };
            let response = ui.checkbox(&mut on, &shown);
            // Named in full for screen readers and tests, whatever was cut on screen.
            let enabled = ui.is_enabled();
            response.widget_info(|| {
                egui::WidgetInfo::selected(egui::Role::CheckBox, enabled, on, &s.name)
            });
            if response.on_hover_text(hint).changed() {
                if on {
                    hidden.retain(|h| h != &s.name);
                } else {
                    hidden.push(s.name.clone());
                }
            }
            ui.add_space(8.0);
        }
        ui.weak(PLOT_HINT);
    });
    if hidden.len() != before {
        ui.data_mut(|d| d.insert_temp(hidden_id, hidden));
    }
}

/// `text` cut to at most `max_w` points of body text, ending in "…" when cut.
fn elide(ui: &egui::Ui, text: &str, max_w: f32) -> String {
    let width = |t: &str| {
        let font = egui::TextStyle::Body.resolve(ui.style());
        ui.painter()
            .layout_no_wrap(t.to_owned(), font, egui::Color32::WHITE)
            .size()
            .x
    };
    let chars: Vec<char> = text.chars().collect();
    // The longest prefix that fits, by bisection (widths grow with the prefix).
    let (mut lo, mut hi) = (0, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let cand: String = chars[..mid].iter().collect::<String>() + "…";
        if width(&cand) <= max_w {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    chars[..lo]
        .iter()
        .collect::<String>()
        .trim_end()
        .to_string()
        + "…"
}

pub fn color_image_to_rgba(img: &egui::ColorImage) -> image::RgbaImage {
    let [w, h] = img.size;
    let mut out = image::RgbaImage::new(w as u32, h as u32);
    for (px, c) in out.pixels_mut().zip(&img.pixels) {
        *px = image::Rgba(c.to_array());
    }
    out
}

/// A texture for an RGBA picture that is re-uploaded only when `version` changes.
#[derive(Default)]
pub struct PictureTexture {
    tex: Option<(egui::TextureHandle, u64)>,
}

impl PictureTexture {
    pub fn get(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        img: &image::RgbaImage,
        version: u64,
    ) -> &egui::TextureHandle {
        let stale = self.tex.as_ref().is_none_or(|(_, v)| *v != version);
        if stale {
            let ci = egui::ColorImage::from_rgba_unmultiplied(
                [img.width() as usize, img.height() as usize],
                img.as_raw(),
            );
            match &mut self.tex {
                Some((t, v)) => {
                    t.set(ci, egui::TextureOptions::NEAREST);
                    *v = version;
                }
                None => {
                    self.tex = Some((
                        ctx.load_texture(name, ci, egui::TextureOptions::NEAREST),
                        version,
                    ))
                }
            }
        }
        &self.tex.as_ref().expect("set above").0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_numbered_axis_has_no_fractional_ticks() {
        assert_eq!(x_tick(2.0, true), "2");
        assert_eq!(x_tick(2.5, true), "");
        assert_eq!(x_tick(2.5, false), "2.5");
    }

    #[test]
    fn log_axes_label_round_values_only() {
        assert_eq!(log_label(0.0), "1");
        assert_eq!(log_label(2.0), "100");
        assert_eq!(log_label(-2.0), "0.01");
        assert_eq!(log_label(2f64.log10()), "2");
        assert_eq!(log_label(1.5f64.log10() + 1.0), "15");
        assert_eq!(log_label(0.2), "", "10^0.2 = 1.5849 is no mark");
    }

    /// A loss between 1.4 and 2.0 spans less than a decade: it still gets marks (1.5 and 2),
    /// where decades alone gave an axis without a single label; several decades are marked
    /// at every decade, most strongly.
    #[test]
    fn a_log_axis_under_a_decade_still_has_marks() {
        let input = |lo: f64, hi: f64| egui_plot::GridInput {
            bounds: (lo.log10(), hi.log10()),
            base_step_size: 0.001,
        };
        let labels: Vec<String> = log_marks(input(1.4, 2.0))
            .iter()
            .map(|m| log_label(m.value))
            .collect();
        assert_eq!(labels, ["1.5", "2"]);
        let wide = log_marks(input(0.001, 10.0));
        let decades: Vec<String> = wide
            .iter()
            .filter(|m| m.step_size == 2.0)
            .map(|m| log_label(m.value))
            .collect();
        assert_eq!(decades, ["0.01"]);
        let labels = |step: f64| -> Vec<String> {
            wide.iter()
                .filter(|m| m.step_size >= step)
                .map(|m| log_label(m.value))
                .collect()
        };
        assert_eq!(labels(1.0), ["0.001", "0.01", "0.1", "1", "10"]);
        // Fourteen decades in a short plot: every 10th decade keeps the most weight.
        let deep = log_marks(input(1e-14, 1.0));
        let tens: Vec<String> = deep
            .iter()
            .filter(|m| m.step_size >= 10.0)
            .map(|m| log_label(m.value))
            .collect();
        assert_eq!(tens, ["1e-10", "1"]);
        assert!(wide.iter().all(|m| !log_label(m.value).is_empty()));
    }

    /// The labels egui_plot draws on a log axis of `px` points from `lo` to `hi`: those of marks
    /// whose weight spans more than 20 points (its `label_spacing` on y).
    fn shown(lo: f64, hi: f64, px: f64) -> Vec<String> {
        let input = egui_plot::GridInput {
            bounds: (lo.log10(), hi.log10()),
            base_step_size: 0.001,
        };
        let per_decade = px / (hi.log10() - lo.log10());
        let mut marks = log_marks(input);
        marks.sort_by(|a, b| a.value.total_cmp(&b.value));
        let labelled: Vec<_> = marks
            .iter()
            .filter(|m| m.step_size * per_decade > 20.0)
            .collect();
        // Never two labels closer than a label's height.
        for w in labelled.windows(2) {
            assert!(
                (w[1].value - w[0].value) * per_decade > 14.0,
                "{lo}..{hi} crowds"
            );
        }
        labelled.iter().map(|m| log_label(m.value)).collect()
    }

    /// The Graphs loss plot at 1024 x 600 (140 points high) read "2" alone while the loss fell
    /// from 2 to about 1; it reads several values at every stage of training.
    #[test]
    fn a_short_loss_plot_reads_several_values() {
        assert_eq!(shown(1.05, 2.0, 140.0), ["1.5", "2"]);
        assert_eq!(shown(1.6, 2.0, 140.0), ["1.6", "1.7", "1.8", "1.9", "2"]);
        assert_eq!(shown(0.3, 2.0, 140.0), ["0.5", "1", "1.5", "2"]);
        assert_eq!(shown(0.01, 2.0, 140.0), ["0.01", "0.1", "1"]);
        for (lo, hi) in [(1.2, 1.95), (0.4, 0.9), (0.05, 1.9), (1.85, 2.0)] {
            assert!(
                shown(lo, hi, 140.0).len() >= 2,
                "{lo}..{hi}: {:?}",
                shown(lo, hi, 140.0)
            );
        }
    }

    #[test]
    fn linear_grids_step_by_one_two_five_with_labels_far_enough_apart() {
        assert_eq!(nice_at_least(0.3), 0.5);
        assert_eq!(nice_at_least(2.0), 2.0);
        assert_eq!(nice_at_least(2.1), 5.0);
        assert_eq!(nice_at_least(7.0), 10.0);
        assert!((nice_at_least(0.003) - 0.005).abs() < 1e-15);
        let steps = |b: f64, axis| {
            one_two_five(
                egui_plot::GridInput {
                    bounds: (0.0, 1.0),
                    base_step_size: b,
                },
                axis,
            )
        };
        use egui_plot::Axis::{X, Y};
        assert_eq!(steps(1.0, X), [1.0, 5.0, 20.0]);
        // 0..1 on a short axis: 0.2 and 0.5 would both be labelled.
        assert_eq!(steps(0.04, X), [0.05, 0.1, 0.5]);
        assert_eq!(steps(0.053, Y), [0.1, 0.2, 1.0]);
        // The labelled (largest) step is 12 to 30 minimal spacings on x: egui_plot labels the x
        // axis only where marks are more than 60 points apart, 10 minimal spacings. On y the
        // middle step (3.75 to 9.4 spacings) carries the labels, which need 20 to 30 points.
        for k in 0..200 {
            let b = 10f64.powf(-4.0 + k as f64 * 0.04);
            for axis in [X, Y] {
                let [s, m, l] = steps(b, axis);
                assert!(s < m && m < l, "{b}: {s} {m} {l}");
                for (a, c) in [(s, m), (m, l)] {
                    assert!(divides(a, c), "{b}: {a} does not divide {c}");
                }
                match axis {
                    X => assert!((12.0..=30.0 + 1e-9).contains(&(l / b)), "{b}: {l}"),
                    Y => assert!((3.75..=9.4).contains(&(m / b)), "{b}: {m}"),
                }
            }
        }
        assert_eq!(steps(0.0, X), [1.0, 2.0, 5.0]);
    }
    use crate::core::files::png_bytes;

    #[test]
    fn color_image_converts_to_rgba_png_and_back() {
        let mut ci = egui::ColorImage::filled([3, 2], egui::Color32::from_rgb(10, 20, 30));
        ci.pixels[4] = egui::Color32::from_rgb(200, 100, 50);
        let png = png_bytes(&color_image_to_rgba(&ci)).unwrap();
        let back = image::load_from_memory(&png).unwrap().to_rgba8();
        assert_eq!(back.dimensions(), (3, 2));
        assert_eq!(back.get_pixel(1, 1).0, [200, 100, 50, 255]);
        assert_eq!(back.get_pixel(0, 0).0, [10, 20, 30, 255]);
    }
}
