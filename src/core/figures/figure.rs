//! A figure as data: axes, series with seed bands, the legend, the palette and export sizes.

use crate::core::stats::mean_std;
use serde::{Deserialize, Serialize};

/// An axis: its label (with units) and whether it is logarithmic.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    pub label: String,
    pub log: bool,
}

/// Where the legend goes. `Auto` takes the emptiest corner when no point lies in it, otherwise
/// puts the legend outside the data, on the right.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Legend {
    #[default]
    Auto,
    Outside,
    UpperLeft,
    UpperRight,
    LowerLeft,
    LowerRight,
    Hidden,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stroke {
    #[default]
    Solid,
    Dashed,
    /// A thin, faint line: one seed of a group drawn behind its mean.
    Thin,
    /// Small faint dots, no line: each seed's figure at a grid point, beside its mean.
    Dots,
}

/// A shaded band around a curve: (x, low, high) per point, e.g. mean ± std over seeds.
pub type Band = Vec<[f64; 3]>;

/// One curve. `points` are (x, y); `band`, when present, is drawn under the line.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The legend entry (for a seed group: "GCN val_acc (n = 3)").
    pub name: String,
    pub color: [u8; 3],
    pub points: Vec<[f64; 2]>,
    pub band: Option<Band>,
    pub stroke: Stroke,
    /// Kept out of the legend (seed lines behind their mean).
    pub hide_in_legend: bool,
    /// The runs this curve was drawn from (a report cites them).
    pub run_ids: Vec<String>,
}

/// Everything needed to draw a plot the same way on screen and on paper.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub legend: Legend,
    /// Bands drawn as error bars (a vertical bar with caps at each x, e.g. mean ± std of a grid
    /// point) instead of a shaded area: for figures whose x is a setting, not a time.
    #[serde(default)]
    pub error_bars: bool,
}

/// Colour-blind-friendly colours (Okabe-Ito), the app's palette.
pub const PALETTE: [[u8; 3]; 8] = [
    [0, 114, 178],
    [230, 159, 0],
    [0, 158, 115],
    [204, 121, 167],
    [86, 180, 233],
    [213, 94, 0],
    [240, 228, 66],
    [128, 128, 128],
];

/// Output size of a raster export. Layout happens in logical pixels (`width / scale`), so text
/// keeps its printed size whatever the resolution.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportSize {
    pub width: u32,
    pub height: u32,
    pub scale: f32,
}

impl ExportSize {
    /// 1800 x 1000 px: a slide or a screen.
    pub const DEFAULT: ExportSize = ExportSize {
        width: 1800,
        height: 1000,
        scale: 2.0,
    };
    /// 3.5 x 2.5 in at 300 dpi: one column of a two-column paper.
    pub const ONE_COLUMN: ExportSize = ExportSize {
        width: 1050,
        height: 750,
        scale: 3.0,
    };
    /// 7 x 3.5 in at 300 dpi: the full width of a two-column paper.
    pub const TWO_COLUMN: ExportSize = ExportSize {
        width: 2100,
        height: 1050,
        scale: 3.0,
    };
    pub const PRESETS: [(&'static str, ExportSize); 3] = [
        ("1800 x 1000 (screen, slides)", ExportSize::DEFAULT),
        ("one column, 3.5 in at 300 dpi", ExportSize::ONE_COLUMN),
        ("two columns, 7 in at 300 dpi", ExportSize::TWO_COLUMN),
    ];

    pub fn logical(self) -> (f64, f64) {
        let s = f64::from(self.scale.max(0.1));
        (f64::from(self.width) / s, f64::from(self.height) / s)
    }
}

impl Figure {
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Figure {
            title: title.to_string(),
            x: Axis {
                label: x_label.to_string(),
                log: false,
            },
            y: Axis {
                label: y_label.to_string(),
                log: false,
            },
            ..Default::default()
        }
    }

    /// The points that can be drawn: finite, and positive on a log axis.
    pub fn drawable(&self, p: [f64; 2]) -> bool {
        p[0].is_finite()
            && p[1].is_finite()
            && (!self.x.log || p[0] > 0.0)
            && (!self.y.log || p[1] > 0.0)
    }

    /// Data bounds over lines and bands: ((x0, x1), (y0, y1)), or None for an empty figure.
    pub fn bounds(&self) -> Option<((f64, f64), (f64, f64))> {
        let mut xs = (f64::INFINITY, f64::NEG_INFINITY);
        let mut ys = (f64::INFINITY, f64::NEG_INFINITY);
        let mut take = |p: [f64; 2]| {
            if self.drawable(p) {
                xs = (xs.0.min(p[0]), xs.1.max(p[0]));
                ys = (ys.0.min(p[1]), ys.1.max(p[1]));
            }
        };
        for s in &self.series {
            s.points.iter().for_each(|&p| take(p));
            for b in s.band.iter().flatten() {
                take([b[0], b[1]]);
                take([b[0], b[2]]);
            }
        }
        (xs.0 <= xs.1).then_some((xs, ys))
    }

    /// Legend entries in order.
    pub fn legend_entries(&self) -> impl Iterator<Item = &Series> {
        self.series.iter().filter(|s| !s.hide_in_legend)
    }
}

/// Curves of one configuration over several seeds, aligned by x: the mean curve, a mean ± std
/// band (sample std, n - 1) and the seeds as thin lines behind it. The mean and band cover only
/// the x values every seed reached: where a seed stopped early or is still training, its
/// absence would make the mean jump, so the seeds' own thin lines go on alone there, and the
/// legend says the mean is over the common part.
pub fn seed_group(name: &str, color: [u8; 3], curves: &[(String, Vec<[f64; 2]>)]) -> Vec<Series> {
    let mut by_x: std::collections::BTreeMap<u64, (f64, Vec<f64>)> = Default::default();
    for (_, pts) in curves {
        for p in pts.iter().filter(|p| p[0].is_finite() && p[1].is_finite()) {
            // Ordered map keyed by the x value's bits (x >= 0 in every lab: steps, epochs).
            by_x.entry(p[0].to_bits())
                .or_insert((p[0], Vec::new()))
                .1
                .push(p[1]);
        }
    }
    let n = curves.len();
    let mut mean = Vec::with_capacity(by_x.len());
    let mut band = Vec::with_capacity(by_x.len());
    let mut rows: Vec<_> = by_x.into_values().collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut partial = false;
    for (x, ys) in rows {
        if ys.len() < n {
            partial = true;
            continue;
        }
        let (m, sd) = mean_std(&ys);
        mean.push([x, m]);
        band.push([x, m - sd, m + sd]);
    }
    let run_ids: Vec<String> = curves.iter().map(|(id, _)| id.clone()).collect();
    let mut out: Vec<Series> = curves
        .iter()
        .map(|(id, pts)| Series {
            name: format!("{name} seed run {id}"),
            color,
            points: pts.clone(),
            stroke: Stroke::Thin,
            hide_in_legend: true,
            run_ids: vec![id.clone()],
            ..Default::default()
        })
        .collect();
    out.push(Series {
        name: if n > 1 && partial {
            format!("{name} (mean ± std, n = {n}, where all reached)")
        } else if n > 1 {
            format!("{name} (mean ± std, n = {n})")
        } else {
            name.to_string()
        },
        color,
        points: mean,
        band: (n > 1).then_some(band),
        run_ids,
        ..Default::default()
    });
    out
}

/// Exponential moving average (TensorBoard's "smoothing"; 0 = none, close to 1 = heavy), with
/// the same debiasing so the first points are not pulled towards zero.
pub fn smooth(points: &[[f64; 2]], weight: f64) -> Vec<[f64; 2]> {
    let w = weight.clamp(0.0, 0.999);
    if w == 0.0 {
        return points.to_vec();
    }
    let mut last = 0.0;
    let mut k = 0;
    points
        .iter()
        .map(|p| {
            if !p[1].is_finite() {
                return *p;
            }
            k += 1;
            last = last * w + (1.0 - w) * p[1];
            [p[0], last / (1.0 - w.powi(k))]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_group_gives_mean_band_and_hidden_seed_lines() {
        let curves = vec![
            ("a".to_string(), vec![[0.0, 1.0], [1.0, 2.0]]),
            ("b".to_string(), vec![[0.0, 3.0], [1.0, 2.0]]),
        ];
        let g = seed_group("GCN", PALETTE[0], &curves);
        assert_eq!(g.len(), 3);
        assert!(g[0].hide_in_legend && g[1].hide_in_legend && !g[2].hide_in_legend);
        assert_eq!(g[2].points, vec![[0.0, 2.0], [1.0, 2.0]]);
        let band = g[2].band.as_ref().unwrap();
        let sd = 2f64.sqrt();
        assert!((band[0][1] - (2.0 - sd)).abs() < 1e-12 && (band[0][2] - (2.0 + sd)).abs() < 1e-12);
        assert_eq!(band[1][1], 2.0);
        assert!(g[2].name.contains("n = 2"), "{}", g[2].name);
    }

    #[test]
    fn the_mean_stops_where_a_seed_still_running_stops_instead_of_jumping() {
        let curves = vec![
            ("a".to_string(), vec![[0.0, 1.0], [1.0, 2.0], [2.0, 2.0]]),
            ("b".to_string(), vec![[0.0, 3.0]]),
        ];
        let g = seed_group("GCN", PALETTE[0], &curves);
        assert!(
            g[2].name
                .ends_with("(mean ± std, n = 2, where all reached)"),
            "{}",
            g[2].name
        );
        assert_eq!(g[2].points, vec![[0.0, 2.0]]);
        assert_eq!(g[0].points.len(), 3, "the longer seed's own line goes on");
    }

    #[test]
    fn smoothing_keeps_a_constant_and_damps_noise() {
        let flat: Vec<[f64; 2]> = (0..10).map(|i| [i as f64, 5.0]).collect();
        for p in smooth(&flat, 0.9) {
            assert!((p[1] - 5.0).abs() < 1e-12);
        }
        let noisy: Vec<[f64; 2]> = (0..100)
            .map(|i| [i as f64, if i % 2 == 0 { 1.0 } else { -1.0 }])
            .collect();
        let s = smooth(&noisy, 0.9);
        assert!(s[99][1].abs() < 0.2, "{:?}", s[99]);
    }

    #[test]
    fn bounds_skip_non_positive_values_on_log_axes() {
        let mut f = Figure::new("t", "x", "y");
        f.series.push(Series {
            points: vec![[1.0, 0.0], [2.0, 10.0], [3.0, f64::NAN]],
            ..Default::default()
        });
        assert_eq!(f.bounds(), Some(((1.0, 2.0), (0.0, 10.0))));
        f.y.log = true;
        assert_eq!(f.bounds(), Some(((2.0, 2.0), (10.0, 10.0))));
    }
}
