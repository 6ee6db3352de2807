//! Metric curves -> egui_plot, with legend, hover read-out, log-y switch and PNG/CSV export.

use eframe::egui;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::files::Saver;
use crate::core::files::png_bytes;
use crate::core::metrics::to_csv;

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
            x_label,
            y_label,
            height: 220.0,
            log_y: false,
            log_x: false,
        }
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
}

fn to_log(v: f64) -> Option<f64> {
    (v > 0.0 && v.is_finite()).then(|| v.log10())
}

fn fmt_val(v: f64) -> String {
    if v == 0.0 || (1e-3..1e5).contains(&v.abs()) {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

/// Draws the toolbar (log y, export) and the plot. Returns the plot's response.
pub fn curves_plot(
    ui: &mut egui::Ui,
    spec: &PlotSpec<'_>,
    curves: &[Curve<'_>],
    saver: &Saver,
) -> egui::Response {
    let log_id = egui::Id::unique(("plot_log_y", spec.id));
    let mut log_y = ui.data_mut(|d| *d.get_persisted_mut_or(log_id, spec.log_y));
    let mut export_png = false;
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(spec.y_label).strong());
        if ui.checkbox(&mut log_y, "log y").changed() {
            ui.data_mut(|d| d.insert_persisted(log_id, log_y));
        }
        if ui
            .button("Export CSV")
            .on_hover_text("Every series of this plot as series,x,y")
            .clicked()
        {
            let csv = to_csv(curves.iter().map(|c| (c.name.as_str(), c.points)));
            saver.save(&format!("{}.csv", spec.id), ("CSV", &["csv"]), move || {
                Ok(csv.into_bytes())
            });
        }
        export_png = ui
            .button("Export PNG")
            .on_hover_text("A picture of this plot only")
            .clicked();
    });
    let (log_x, x_label, y_label) = (
        spec.log_x,
        spec.x_label.to_string(),
        spec.y_label.to_string(),
    );
    let tf = move |v: f64, log: bool| if log { to_log(v) } else { Some(v) };
    let mut plot = Plot::new(spec.id)
        .height(spec.height)
        .legend(Legend::default())
        .x_axis_label(spec.x_label)
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
                fmt_val(x),
                fmt_val(y)
            ))
        });
    if log_y {
        plot = plot.y_axis_formatter(|m, _| fmt_val(10f64.powf(m.value)));
    }
    if log_x {
        plot = plot.x_axis_formatter(|m, _| fmt_val(10f64.powf(m.value)));
    }
    // The scope's rect includes the axes and their labels, which the exported picture needs.
    let scoped = ui.scope(|ui| {
        plot.show(ui, |pui| {
            for c in curves {
                let pts: PlotPoints<'_> = c
                    .points
                    .iter()
                    .filter_map(|[x, y]| Some([tf(*x, log_x)?, tf(*y, log_y)?]))
                    .filter(|p| p[0].is_finite() && p[1].is_finite())
                    .collect();
                let mut line = Line::new(c.name.clone(), pts);
                if let Some(col) = c.color {
                    line = line.color(col);
                }
                pui.line(line);
            }
        })
    });
    let resp = scoped.inner;
    if export_png {
        let rect = scoped.response.rect;
        let ppp = ui.ctx().pixels_per_point();
        let saver = saver.clone();
        let name = format!("{}.png", spec.id);
        ui.ctx().request_screenshot(move |img| {
            let region = img.region(&rect, Some(ppp));
            saver.save(&name, ("PNG", &["png"]), move || {
                png_bytes(&color_image_to_rgba(&region))
            });
        });
    }
    resp.response
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
