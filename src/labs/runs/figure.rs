//! The overlay figure of selected runs: runs of one configuration (equal `config_key`) become
//! one seed group (mean line, ± std band, n in the legend), every other run one line.

use crate::core::figures::{Figure, PALETTE, Series, seed_group};
use crate::core::runs::{Point, RunRow, without_seed};

/// `metric` of each `(run, points)` on one figure, in the order the runs come; colours follow
/// the configurations.
pub fn overlay(metric: &str, runs: &[(&RunRow, &[Point])]) -> Figure {
    let mut fig = Figure::new(&format!("{metric} of the selected runs"), "step", metric);
    let mut keys: Vec<&str> = Vec::new();
    for (row, _) in runs {
        if !keys.contains(&row.config_key.as_str()) {
            keys.push(&row.config_key);
        }
    }
    for (k, key) in keys.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let members: Vec<&(&RunRow, &[Point])> =
            runs.iter().filter(|(r, _)| r.config_key == *key).collect();
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
    }
}
