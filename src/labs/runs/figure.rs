//! The overlay figure of selected runs: runs of one configuration (equal `config_key`) become
//! one seed group (mean line, ± std band, n in the legend), every other run one line.

use crate::core::figures::{Figure, Series, identity_colors, seed_group};
use crate::core::runs::{Point, RunRow, without_seed};

/// The x axis of a metric: per-step series say so in their name ("train_loss_step"); every
/// other curve of the labs is per epoch (theory runs have no curves).
pub fn x_label(metric: &str) -> &'static str {
    if metric.ends_with("_step") {
        "step"
    } else {
        "epoch"
    }
}

/// `metric` of each `(run, points)` on one figure, in the order the runs come; each
/// configuration keeps its colour of every other view (GCN blue, skips off orange, ...).
pub fn overlay(metric: &str, runs: &[(&RunRow, &[Point])]) -> Figure {
    let mut fig = Figure::new(
        &format!("{metric} of the selected runs"),
        x_label(metric),
        metric,
    );
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for (row, _) in runs {
        if !keys.iter().any(|(k, _)| *k == row.config_key) {
            keys.push((row.config_key.as_str(), without_seed(&row.name)));
        }
    }
    let colors = identity_colors(keys.iter().map(|(k, name)| (*name, *k)));
    for ((key, _), &color) in keys.iter().zip(&colors) {
        let members: Vec<&(&RunRow, &[Point])> =
            runs.iter().filter(|(r, _)| r.config_key == **key).collect();
        let curve =
            |pts: &[Point]| -> Vec<[f64; 2]> { pts.iter().map(|p| [p.step, p.value]).collect() };
        if members.len() > 1 {
            let curves: Vec<(String, Vec<[f64; 2]>)> = members
                .iter()
                .map(|(r, p)| (r.id.to_string(), curve(p)))
                .collect();
            fig.series
                .extend(seed_group(without_seed(&members[0].0.name), color, &curves));
        } else {
            let (r, p) = members[0];
            fig.series.push(Series {
                name: format!("#{} {}", r.id, r.name),
                color,
                points: curve(p),
                run_ids: vec![r.id.to_string()],
                ..Default::default()
            });
        }
    }
    fig
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::runs::RunStatus;

    fn row(id: i64, key: &str, name: &str) -> RunRow {
        RunRow {
            id,
            lab: "graphs".into(),
            name: name.into(),
            status: RunStatus::Finished,
            config_key: key.into(),
            seed: None,
            dataset: None,
            started_ms: 0,
            ended_ms: None,
            main_metric: None,
            main_value: None,
            progress_done: None,
            progress_total: None,
            tags: Vec::new(),
            deleted: false,
            dataset_sha256: None,
            sort_value: None,
        }
    }

    fn pts(ys: &[f64]) -> Vec<Point> {
        ys.iter()
            .enumerate()
            .map(|(i, &y)| Point {
                step: i as f64,
                value: y,
                wall: 0.0,
            })
            .collect()
    }

    #[test]
    fn same_config_is_one_band_with_n_and_others_are_lines() {
        let (a, b, c) = (
            row(1, "k", "GCN x seed 0"),
            row(2, "k", "GCN x seed 1"),
            row(3, "j", "GAT x seed 0"),
        );
        let (pa, pb, pc) = (pts(&[1.0, 2.0]), pts(&[3.0, 4.0]), pts(&[5.0, 5.0]));
        let fig = overlay("loss", &[(&a, &pa), (&b, &pb), (&c, &pc)]);
        let legend: Vec<&str> = fig.legend_entries().map(|s| s.name.as_str()).collect();
        assert_eq!(legend, ["GCN x (mean ± std, n = 2)", "#3 GAT x seed 0"]);
        let bands: Vec<&Series> = fig.series.iter().filter(|s| s.band.is_some()).collect();
        assert_eq!(bands.len(), 1);
        assert_eq!(bands[0].points, vec![[0.0, 2.0], [1.0, 3.0]]);
        assert_ne!(bands[0].color, fig.series.last().unwrap().color);
        assert_eq!(fig.x.label, "epoch");
    }

    /// One palette by identity: GCN has the colour of the Graphs tab in the Runs overlay and in
    /// the report's SVG, whichever runs are ticked first.
    #[test]
    fn a_configuration_has_one_colour_in_the_app_the_overlay_and_the_report() {
        use crate::core::report::{Block, ReportMeta, ReportRun, blocks};
        use crate::labs::graphs::ModelKind;
        let app = |m: ModelKind| {
            let c = crate::labs::graphs::ui::model_color(m);
            [c.r(), c.g(), c.b()]
        };
        let (gat, gcn) = (
            row(1, "j", "GAT cora seed 0"),
            row(2, "k", "GCN cora seed 0"),
        );
        let (pa, pb) = (pts(&[1.0, 2.0]), pts(&[3.0, 4.0]));
        let fig = overlay("val_acc", &[(&gat, &pa), (&gcn, &pb)]);
        let color_of = |f: &Figure, name: &str| {
            f.legend_entries()
                .find(|s| s.name.starts_with(name))
                .map(|s| s.color)
                .unwrap()
        };
        assert_eq!(color_of(&fig, "#2 GCN"), app(ModelKind::Gcn));
        assert_eq!(color_of(&fig, "#1 GAT"), app(ModelKind::Gat));
        let report_run = |id: &str, name: &str, key: &str| {
            let mut r = ReportRun {
                id: id.into(),
                lab: "graphs".into(),
                name: name.into(),
                status: "finished".into(),
                config_key: key.into(),
                ..Default::default()
            };
            let curve = vec![[1.0, 0.5], [2.0, 0.6]];
            r.metrics.insert("val_acc".into(), curve.clone());
            r.metrics.insert("train_acc".into(), curve);
            r
        };
        let runs = [
            report_run("1", "GAT cora seed 0", "j"),
            report_run("2", "GCN cora seed 0", "k"),
        ];
        let report = blocks(&ReportMeta::default(), &runs);
        let svg = report
            .iter()
            .find_map(|b| match b {
                Block::Figure { figure, .. } => Some(crate::core::figures::to_svg(
                    figure,
                    crate::core::figures::ExportSize::DEFAULT,
                )),
                _ => None,
            })
            .expect("a figure");
        for m in [ModelKind::Gcn, ModelKind::Gat] {
            let [r, g, b] = app(m);
            let hex = format!("#{r:02x}{g:02x}{b:02x}");
            assert!(
                svg.contains(&hex),
                "{} ({hex}) not in the report",
                m.label()
            );
        }
        let gcn_in_report = report
            .iter()
            .find_map(|b| match b {
                Block::Figure { figure, .. } => Some(color_of(figure, "GCN cora")),
                _ => None,
            })
            .unwrap();
        assert_eq!(gcn_in_report, app(ModelKind::Gcn));
    }
}
