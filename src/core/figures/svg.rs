//! A [`Figure`] as an SVG document: text stays text, light theme for print, legend outside the
//! data or in its emptiest corner. The same input gives the same bytes.

use std::fmt::Write;

use super::ticks::{Scale, format_number};
use super::{ExportSize, Figure, Legend, Series, Stroke};

/// Families tried in order: the embedded font first (what the PNG export uses), then common ones.
pub(super) const FONT_FAMILY: &str = "Ubuntu, 'DejaVu Sans', Helvetica, Arial, sans-serif";

const TITLE_PX: f64 = 14.0;
const LABEL_PX: f64 = 12.0;
const TICK_PX: f64 = 10.0;
const LEGEND_PX: f64 = 11.0;
const SWATCH: f64 = 18.0;

/// Width of `text` in logical pixels at `size`, estimated from the average advance of a
/// proportional sans font (enough to size boxes; the viewer places the glyphs).
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.56
}

/// A rectangle in logical pixels: left, top, width, height.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Rect {
    fn contains(&self, p: (f64, f64)) -> bool {
        p.0 >= self.x && p.0 <= self.x + self.w && p.1 >= self.y && p.1 <= self.y + self.h
    }
}

struct Layout {
    plot: Rect,
    legend: Option<Rect>,
    xs: Scale,
    ys: Scale,
}

impl Layout {
    fn px(&self, p: [f64; 2]) -> (f64, f64) {
        (
            self.plot.x + self.xs.unit(p[0]) * self.plot.w,
            self.plot.y + (1.0 - self.ys.unit(p[1])) * self.plot.h,
        )
    }
}

fn legend_size(fig: &Figure) -> (f64, f64) {
    let entries: Vec<&Series> = fig.legend_entries().collect();
    let w = entries
        .iter()
        .map(|s| text_width(&s.name, LEGEND_PX))
        .fold(0.0, f64::max);
    (
        w + SWATCH + 18.0,
        entries.len() as f64 * (LEGEND_PX + 5.0) + 10.0,
    )
}

fn layout(fig: &Figure, width: f64, height: f64) -> Layout {
    let ((x0, x1), (y0, y1)) = fig.bounds().unwrap_or(((0.0, 1.0), (0.0, 1.0)));
    let xs = Scale::new(x0, x1, fig.x.log);
    let ys = Scale::new(y0, y1, fig.y.log);
    let y_tick_w = ys
        .ticks
        .iter()
        .map(|t| text_width(&format_number(*t), TICK_PX))
        .fold(0.0, f64::max);
    let top = if fig.title.is_empty() {
        12.0
    } else {
        TITLE_PX + 20.0
    };
    let left = y_tick_w
        + 14.0
        + if fig.y.label.is_empty() {
            0.0
        } else {
            LABEL_PX + 10.0
        };
    let bottom = TICK_PX
        + 14.0
        + if fig.x.label.is_empty() {
            0.0
        } else {
            LABEL_PX + 12.0
        };
    let (lw, lh) = legend_size(fig);
    let has_legend = fig.legend != Legend::Hidden && fig.legend_entries().next().is_some();
    let inner = |right: f64| Rect {
        x: left,
        y: top,
        w: (width - left - right).max(10.0),
        h: (height - top - bottom).max(10.0),
    };
    let outside = |lay: Layout| -> Layout {
        let plot = inner(lw + 20.0);
        Layout {
            legend: Some(Rect {
                x: plot.x + plot.w + 12.0,
                y: plot.y,
                w: lw,
                h: lh,
            }),
            plot,
            ..lay
        }
    };
    let mut lay = Layout {
        plot: inner(16.0),
        legend: None,
        xs,
        ys,
    };
    if !has_legend {
        return lay;
    }
    let corner = |lay: &Layout, c: Legend| -> Rect {
        let p = lay.plot;
        let x = match c {
            Legend::UpperLeft | Legend::LowerLeft => p.x + 8.0,
            _ => p.x + p.w - lw - 8.0,
        };
        let y = match c {
            Legend::UpperLeft | Legend::UpperRight => p.y + 8.0,
            _ => p.y + p.h - lh - 8.0,
        };
        Rect { x, y, w: lw, h: lh }
    };
    match fig.legend {
        Legend::Outside => outside(lay),
        Legend::Auto => {
            let corners = [
                Legend::UpperRight,
                Legend::UpperLeft,
                Legend::LowerRight,
                Legend::LowerLeft,
            ];
            let best = corners
                .into_iter()
                .map(|c| {
                    let r = corner(&lay, c);
                    (points_inside(fig, &lay, r), r)
                })
                .min_by_key(|(n, _)| *n);
            match best {
                Some((0, r)) if r.w < lay.plot.w * 0.6 && r.h < lay.plot.h * 0.6 => {
                    lay.legend = Some(r);
                    lay
                }
                _ => outside(lay),
            }
        }
        c => {
            lay.legend = Some(corner(&lay, c));
            lay
        }
    }
}

/// The corner of the data area that the fewest drawn points cross (where an on-screen legend,
/// which cannot go outside the plot, hides the least).
pub fn quiet_corner(fig: &Figure) -> Legend {
    let (w, h) = ExportSize::DEFAULT.logical();
    let lay = layout(
        &Figure {
            legend: Legend::UpperRight,
            ..fig.clone()
        },
        w,
        h,
    );
    let (lw, lh) = legend_size(fig);
    let p = lay.plot;
    [
        Legend::UpperRight,
        Legend::UpperLeft,
        Legend::LowerRight,
        Legend::LowerLeft,
    ]
    .into_iter()
    .min_by_key(|c| {
        let x = match c {
            Legend::UpperLeft | Legend::LowerLeft => p.x,
            _ => p.x + p.w - lw,
        };
        let y = match c {
            Legend::UpperLeft | Legend::UpperRight => p.y,
            _ => p.y + p.h - lh,
        };
        points_inside(fig, &lay, Rect { x, y, w: lw, h: lh })
    })
    .unwrap_or(Legend::UpperRight)
}

/// How many drawn points (lines and band edges, linearly interpolated every few pixels) fall in `r`.
fn points_inside(fig: &Figure, lay: &Layout, r: Rect) -> usize {
    let mut n = 0;
    let mut visit = |pts: &mut dyn Iterator<Item = [f64; 2]>| {
        let mut prev: Option<(f64, f64)> = None;
        for p in pts.filter(|p| fig.drawable(*p)) {
            let q = lay.px(p);
            if let Some(a) = prev {
                let steps = ((q.0 - a.0).hypot(q.1 - a.1) / 4.0)
                    .ceil()
                    .clamp(1.0, 500.0) as usize;
                for k in 1..=steps {
                    let t = k as f64 / steps as f64;
                    n += usize::from(r.contains((a.0 + (q.0 - a.0) * t, a.1 + (q.1 - a.1) * t)));
                }
            } else {
                n += usize::from(r.contains(q));
            }
            prev = Some(q);
        }
    };
    for s in &fig.series {
        visit(&mut s.points.iter().copied());
        if let Some(b) = &s.band {
            visit(&mut b.iter().map(|b| [b[0], b[1]]));
            visit(&mut b.iter().map(|b| [b[0], b[2]]));
        }
    }
    n
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn rgb(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// Splits a curve at points that cannot be drawn, so a gap stays a gap.
fn path_data(fig: &Figure, lay: &Layout, pts: &[[f64; 2]]) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for &p in pts {
        if !fig.drawable(p) {
            pen_down = false;
            continue;
        }
        let (x, y) = lay.px(p);
        let _ = write!(d, "{}{x:.2},{y:.2}", if pen_down { " L" } else { " M" });
        pen_down = true;
    }
    d.trim_start().to_string()
}

fn band_data(fig: &Figure, lay: &Layout, band: &[[f64; 3]]) -> String {
    let ok: Vec<&[f64; 3]> = band
        .iter()
        .filter(|b| fig.drawable([b[0], b[1]]) && fig.drawable([b[0], b[2]]))
        .collect();
    if ok.len() < 2 {
        return String::new();
    }
    let mut d = String::new();
    for (k, b) in ok.iter().enumerate() {
        let (x, y) = lay.px([b[0], b[2]]);
        let _ = write!(d, "{}{x:.2},{y:.2} ", if k == 0 { "M" } else { "L" });
    }
    for b in ok.iter().rev() {
        let (x, y) = lay.px([b[0], b[1]]);
        let _ = write!(d, "L{x:.2},{y:.2} ");
    }
    d.push('Z');
    d
}

/// One vertical bar from low to high at each x, with caps: `M x,lo L x,hi` plus the caps.
fn error_bar_data(fig: &Figure, lay: &Layout, band: &[[f64; 3]]) -> String {
    const CAP_PX: f64 = 4.0;
    let mut d = String::new();
    for b in band
        .iter()
        .filter(|b| fig.drawable([b[0], b[1]]) && fig.drawable([b[0], b[2]]))
    {
        let (x, lo) = lay.px([b[0], b[1]]);
        let (_, hi) = lay.px([b[0], b[2]]);
        let _ = write!(
            d,
            "M{x:.2},{lo:.2} L{x:.2},{hi:.2} M{:.2},{lo:.2} L{:.2},{lo:.2} M{:.2},{hi:.2} L{:.2},{hi:.2} ",
            x - CAP_PX,
            x + CAP_PX,
            x - CAP_PX,
            x + CAP_PX
        );
    }
    d.trim_end().to_string()
}

fn stroke_attrs(s: &Series) -> &'static str {
    match s.stroke {
        Stroke::Solid => r#"stroke-width="1.8""#,
        Stroke::Dashed => r#"stroke-width="1.8" stroke-dasharray="6 4""#,
        Stroke::Thin => r#"stroke-width="0.8" stroke-opacity="0.35""#,
        Stroke::Dots => r#"stroke="none""#,
    }
}

/// The figure as a standalone SVG document of `size` (physical pixels; drawn in logical pixels).
pub fn to_svg(fig: &Figure, size: ExportSize) -> String {
    let (w, h) = size.logical();
    let lay = layout(fig, w, h);
    let p = lay.plot;
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {w:.0} {h:.0}" font-family="{FONT_FAMILY}">"#,
        size.width, size.height
    );
    let _ = writeln!(o, "<title>{}</title>", esc(&fig.title));
    let _ = writeln!(o, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(
        o,
        r#"<defs><clipPath id="plot"><rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}"/></clipPath></defs>"#,
        p.x, p.y, p.w, p.h
    );
    // Grid and tick labels.
    let _ = writeln!(
        o,
        r##"<g class="grid" stroke="#e3e3e3" stroke-width="0.8">"##
    );
    for &t in &lay.xs.ticks {
        let x = p.x + lay.xs.unit(t) * p.w;
        let _ = writeln!(
            o,
            r#"<line x1="{x:.2}" y1="{:.2}" x2="{x:.2}" y2="{:.2}"/>"#,
            p.y,
            p.y + p.h
        );
    }
    for &t in &lay.ys.ticks {
        let y = p.y + (1.0 - lay.ys.unit(t)) * p.h;
        let _ = writeln!(
            o,
            r#"<line x1="{:.2}" y1="{y:.2}" x2="{:.2}" y2="{y:.2}"/>"#,
            p.x,
            p.x + p.w
        );
    }
    o.push_str("</g>\n");
    let _ = writeln!(
        o,
        r##"<g class="ticks" font-size="{TICK_PX}" fill="#333333">"##
    );
    for &t in &lay.xs.ticks {
        let x = p.x + lay.xs.unit(t) * p.w;
        let _ = writeln!(
            o,
            r#"<text x="{x:.2}" y="{:.2}" text-anchor="middle">{}</text>"#,
            p.y + p.h + TICK_PX + 5.0,
            esc(&format_number(t))
        );
    }
    for &t in &lay.ys.ticks {
        let y = p.y + (1.0 - lay.ys.unit(t)) * p.h;
        let _ = writeln!(
            o,
            r#"<text x="{:.2}" y="{:.2}" text-anchor="end">{}</text>"#,
            p.x - 6.0,
            y + TICK_PX * 0.35,
            esc(&format_number(t))
        );
    }
    o.push_str("</g>\n");
    // Data, clipped to the frame.
    let _ = writeln!(o, r#"<g class="data" clip-path="url(#plot)" fill="none">"#);
    for s in &fig.series {
        if let Some(b) = &s.band
            && fig.error_bars
        {
            let d = error_bar_data(fig, &lay, b);
            if !d.is_empty() {
                let _ = writeln!(
                    o,
                    r#"<path class="error-bars" data-series="{}" d="{d}" stroke="{}" stroke-width="1.4"/>"#,
                    esc(&s.name),
                    rgb(s.color)
                );
            }
            // Each mean as a dot: a grid point is a measurement, the line only joins them.
            for &p in s.points.iter().filter(|&&p| fig.drawable(p)) {
                let (x, y) = lay.px(p);
                let _ = writeln!(
                    o,
                    r#"<circle class="point" cx="{x:.2}" cy="{y:.2}" r="3" fill="{}"/>"#,
                    rgb(s.color)
                );
            }
        } else if let Some(b) = &s.band {
            let d = band_data(fig, &lay, b);
            if !d.is_empty() {
                let _ = writeln!(
                    o,
                    r#"<path class="band" data-series="{}" d="{d}" fill="{}" fill-opacity="0.2" stroke="none"/>"#,
                    esc(&s.name),
                    rgb(s.color)
                );
            }
        }
    }
    for s in &fig.series {
        if s.stroke == Stroke::Dots {
            for &p in s.points.iter().filter(|&&p| fig.drawable(p)) {
                let (x, y) = lay.px(p);
                let _ = writeln!(
                    o,
                    r#"<circle class="seed" data-series="{}" cx="{x:.2}" cy="{y:.2}" r="2" fill="{}" fill-opacity="0.45"/>"#,
                    esc(&s.name),
                    rgb(s.color)
                );
            }
            continue;
        }
        let _ = writeln!(
            o,
            r#"<path class="series" data-series="{}" d="{}" stroke="{}" {} stroke-linejoin="round"/>"#,
            esc(&s.name),
            path_data(fig, &lay, &s.points),
            rgb(s.color),
            stroke_attrs(s)
        );
    }
    o.push_str("</g>\n");
    let _ = writeln!(
        o,
        r##"<rect class="frame" x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="none" stroke="#555555" stroke-width="1"/>"##,
        p.x, p.y, p.w, p.h
    );
    // Title and axis labels.
    if !fig.title.is_empty() {
        let _ = writeln!(
            o,
            r##"<text class="title" x="{:.2}" y="{:.2}" font-size="{TITLE_PX}" font-weight="bold" text-anchor="middle" fill="#111111">{}</text>"##,
            p.x + p.w / 2.0,
            TITLE_PX + 6.0,
            esc(&fig.title)
        );
    }
    if !fig.x.label.is_empty() {
        let _ = writeln!(
            o,
            r##"<text class="xlabel" x="{:.2}" y="{:.2}" font-size="{LABEL_PX}" text-anchor="middle" fill="#111111">{}</text>"##,
            p.x + p.w / 2.0,
            h - 8.0,
            esc(&fig.x.label)
        );
    }
    if !fig.y.label.is_empty() {
        let (x, y) = (LABEL_PX + 2.0, p.y + p.h / 2.0);
        let _ = writeln!(
            o,
            r##"<text class="ylabel" x="{x:.2}" y="{y:.2}" font-size="{LABEL_PX}" text-anchor="middle" fill="#111111" transform="rotate(-90 {x:.2} {y:.2})">{}</text>"##,
            esc(&fig.y.label)
        );
    }
    if let Some(r) = lay.legend {
        legend(&mut o, fig, r);
    }
    o.push_str("</svg>\n");
    o
}

fn legend(o: &mut String, fig: &Figure, r: Rect) {
    let _ = writeln!(
        o,
        r##"<g class="legend" font-size="{LEGEND_PX}"><rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="#ffffff" fill-opacity="0.9" stroke="#bbbbbb" stroke-width="0.8"/>"##,
        r.x, r.y, r.w, r.h
    );
    for (k, s) in fig.legend_entries().enumerate() {
        let y = r.y + 5.0 + (k as f64 + 0.5) * (LEGEND_PX + 5.0);
        if s.band.is_some() {
            let _ = writeln!(
                o,
                r#"<rect x="{:.2}" y="{:.2}" width="{SWATCH}" height="8" fill="{}" fill-opacity="0.2"/>"#,
                r.x + 6.0,
                y - 4.0,
                rgb(s.color)
            );
        }
        let _ = writeln!(
            o,
            r#"<line x1="{:.2}" y1="{y:.2}" x2="{:.2}" y2="{y:.2}" stroke="{}" {}/>"#,
            r.x + 6.0,
            r.x + 6.0 + SWATCH,
            rgb(s.color),
            stroke_attrs(s)
        );
        let _ = writeln!(
            o,
            r##"<text class="legend-entry" x="{:.2}" y="{:.2}" fill="#111111">{}</text>"##,
            r.x + SWATCH + 12.0,
            y + LEGEND_PX * 0.35,
            esc(&s.name)
        );
    }
    o.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::figures::{PALETTE, seed_group};

    fn rising(n: usize) -> Vec<[f64; 2]> {
        (0..n).map(|i| [i as f64, i as f64 / n as f64]).collect()
    }

    #[test]
    fn auto_legend_avoids_the_data() {
        // A curve rising from lower left to upper right leaves the upper-left corner empty.
        let mut f = Figure::new("acc", "epoch", "accuracy");
        f.series.push(Series {
            name: "GCN".into(),
            points: rising(50),
            ..Default::default()
        });
        let (w, h) = ExportSize::DEFAULT.logical();
        let lay = layout(&f, w, h);
        let r = lay.legend.unwrap();
        assert_eq!(points_inside(&f, &lay, r), 0);
        assert!(r.x < lay.plot.x + lay.plot.w / 2.0, "{r:?}");
    }

    #[test]
    fn many_entries_go_outside() {
        let mut f = Figure::new("acc", "epoch", "accuracy");
        for k in 0..12 {
            f.series.push(Series {
                name: format!("series number {k}"),
                points: (0..50)
                    .map(|i| [i as f64, ((i * (k + 1)) % 7) as f64])
                    .collect(),
                ..Default::default()
            });
        }
        let (w, h) = ExportSize::DEFAULT.logical();
        let lay = layout(&f, w, h);
        let r = lay.legend.unwrap();
        assert!(r.x >= lay.plot.x + lay.plot.w, "{r:?} {:?}", lay.plot);
    }

    #[test]
    fn svg_has_one_path_per_series_and_escapes_text() {
        let mut f = Figure::new("loss <train> & val", "step", "loss");
        f.series = seed_group(
            "GCN",
            PALETTE[0],
            &[("1".into(), rising(10)), ("2".into(), rising(12))],
        );
        let svg = to_svg(&f, ExportSize::DEFAULT);
        assert_eq!(svg.matches(r#"class="series""#).count(), 3);
        assert_eq!(svg.matches(r#"class="band""#).count(), 1);
        assert!(svg.contains("loss &lt;train&gt; &amp; val"));
        assert_eq!(svg.matches(r#"class="legend-entry""#).count(), 1);
    }
}
