//! Turns recorded runs into the blocks of a lab report: figures with seed bands, results tables
//! as "mean ± std (n)", configuration differences, verdicts, gallery, checkpoints, commands.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::doc::{Block, Cell};
use super::meta::ReportMeta;
use super::model::ReportRun;
use crate::core::descriptor::{LabDescriptor, XAxis};
use crate::core::figures::{Figure, Stroke, format_number, identity_colors, seed_group};
use crate::core::runs::without_seed;
use crate::core::stats::mean_std;

/// Most figures per lab, and pictures per lab: keeps a report of many runs readable and small.
const MAX_FIGURES: usize = 8;
const MAX_IMAGES: usize = 6;

/// Configurations of one lab, each with its runs (seeds), in order of first appearance.
struct Group<'a> {
    label: String,
    runs: Vec<&'a ReportRun>,
}

fn groups<'a>(runs: &[&'a ReportRun]) -> Vec<Group<'a>> {
    let mut out: Vec<(String, Group<'a>)> = Vec::new();
    for r in runs {
        match out.iter_mut().find(|(k, _)| *k == r.config_key) {
            Some((_, g)) => g.runs.push(r),
            None => out.push((
                r.config_key.clone(),
                Group {
                    label: without_seed(&r.name).to_string(),
                    runs: vec![r],
                },
            )),
        }
    }
    // Two configurations with the same name get their config key to tell them apart.
    let labels: Vec<String> = out.iter().map(|(_, g)| g.label.clone()).collect();
    for (k, g) in &mut out {
        if labels.iter().filter(|l| **l == g.label).count() > 1 {
            g.label = format!("{} [{}]", g.label, &k[..k.len().min(8)]);
        }
    }
    out.into_iter().map(|(_, g)| g).collect()
}

fn numeric_fields(lab: &LabDescriptor, runs: &[&ReportRun]) -> Vec<String> {
    let common: Option<BTreeSet<String>> = runs.iter().fold(None, |acc, r| {
        let keys: BTreeSet<String> = r
            .summary
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(_, v)| v.is_number())
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        Some(match acc {
            None => keys,
            Some(a) => a.intersection(&keys).cloned().collect(),
        })
    });
    let common = common.unwrap_or_default();
    let mut out: Vec<String> = lab
        .summary
        .iter()
        .filter(|m| common.contains(m.key))
        .map(|m| m.key.to_string())
        .collect();
    if out.is_empty() {
        out = common.into_iter().take(5).collect();
    }
    out
}

/// +1 when larger is better, -1 when smaller is, 0 when it is not a score (or the lab did not
/// say).
fn direction(lab: &LabDescriptor, field: &str) -> i32 {
    lab.metric(field).map_or(0, |m| m.direction.sign())
}

fn results_table(lab: &LabDescriptor, groups: &[Group<'_>], fields: &[String]) -> Block {
    let mut header = vec!["configuration".to_string(), "runs".to_string()];
    header.extend(fields.iter().cloned());
    let stats: Vec<Vec<(f64, f64, usize)>> = groups
        .iter()
        .map(|g| {
            fields
                .iter()
                .map(|f| {
                    let v: Vec<f64> = g
                        .runs
                        .iter()
                        .filter_map(|r| r.summary.get(f).and_then(Value::as_f64))
                        .collect();
                    let (m, s) = mean_std(&v);
                    (m, s, v.len())
                })
                .collect()
        })
        .collect();
    let best: Vec<Option<usize>> = (0..fields.len())
        .map(|j| {
            let d = direction(lab, &fields[j]);
            if d == 0 || groups.len() < 2 {
                return None;
            }
            (0..groups.len())
                .filter(|&i| stats[i][j].0.is_finite())
                .max_by(|&a, &b| (d as f64 * stats[a][j].0).total_cmp(&(d as f64 * stats[b][j].0)))
        })
        .collect();
    // Means equal at the printed precision are a tie: every one of them is bold and says so.
    let best_text = |j: usize| best[j].map(|b| fmt4(stats[b][j].0, stats[b][j].0));
    let rows = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let mut row = vec![Cell::text(&g.label), Cell::text(&g.runs.len().to_string())];
            for (j, &(m, s, n)) in stats[i].iter().enumerate() {
                let mut text = if n > 1 {
                    format!("{} ± {} ({n})", fmt4(m, m), fmt4(s, m))
                } else {
                    fmt4(m, m)
                };
                let top = best_text(j);
                let bold = m.is_finite() && top.as_deref() == Some(fmt4(m, m).as_str());
                let tied = (0..groups.len())
                    .filter(|&k| {
                        stats[k][j].0.is_finite()
                            && top.as_deref() == Some(fmt4(stats[k][j].0, stats[k][j].0).as_str())
                    })
                    .count()
                    > 1;
                if bold && tied {
                    text.push_str(" (tie)");
                }
                row.push(Cell { text, bold });
            }
            row
        })
        .collect();
    Block::Table { header, rows }
}

/// Four decimals for scores; whole numbers (epochs, counts) stay whole. `like` decides for a std.
fn fmt4(v: f64, like: f64) -> String {
    if v.is_finite() && v.abs() < 1e4 && like.fract() != 0.0 {
        format!("{v:.4}")
    } else {
        format_number(v)
    }
}

/// Flattens a JSON config into dotted keys.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), config_value_text(other));
        }
    }
}

/// Which data each configuration trained on, by name and fingerprint.
fn data_table(groups: &[Group<'_>]) -> Option<Block> {
    if groups.iter().all(|g| g.runs[0].dataset.is_empty()) {
        return None;
    }
    let rows = groups
        .iter()
        .map(|g| {
            let r = g.runs[0];
            vec![
                Cell::text(&g.label),
                Cell::text(if r.dataset.is_empty() {
                    "-"
                } else {
                    &r.dataset
                }),
                Cell::text(
                    r.dataset_sha256
                        .as_deref()
                        .unwrap_or("not fingerprinted (recorded by an older gradlab)"),
                ),
            ]
        })
        .collect();
    Some(Block::Table {
        header: ["configuration", "data", "sha256 of the data"]
            .map(String::from)
            .to_vec(),
        rows,
    })
}

/// A config value as it was set: a float32 field (dropout 0.6 read back as 0.6000000238418579)
/// prints at f32 precision, whole numbers stay whole, strings lose their quotes.
pub fn config_value_text(v: &Value) -> String {
    match v {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            let f = x as f32;
            if f64::from(f) == x {
                format!("{f}")
            } else {
                format!("{x}")
            }
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn config_differences(groups: &[Group<'_>]) -> Option<Block> {
    if groups.len() < 2 {
        return None;
    }
    let flat: Vec<BTreeMap<String, String>> = groups
        .iter()
        .map(|g| {
            let mut m = BTreeMap::new();
            flatten("", &g.runs[0].config, &mut m);
            m.remove("seed");
            m
        })
        .collect();
    let keys: BTreeSet<&String> = flat.iter().flat_map(|m| m.keys()).collect();
    let differing: Vec<&String> = keys
        .into_iter()
        .filter(|k| {
            flat.iter()
                .map(|m| m.get(*k))
                .collect::<BTreeSet<_>>()
                .len()
                > 1
        })
        .collect();
    if differing.is_empty() {
        return None;
    }
    let mut header = vec!["setting".to_string()];
    header.extend(groups.iter().map(|g| g.label.clone()));
    let rows = differing
        .iter()
        .map(|k| {
            let mut row = vec![Cell::text(k)];
            row.extend(
                flat.iter()
                    .map(|m| Cell::text(m.get(*k).map_or("-", |s| s.as_str()))),
            );
            row
        })
        .collect();
    Some(Block::Table { header, rows })
}

/// The figures of a lab's curves: a validation metric with its training twin in one figure
/// (validation solid, training dashed, the legend saying which), validation scores first, then
/// losses, then the rest. A series with one point per run (the test accuracy, measured once at
/// the end) is a number for the table, not a curve.
/// A figure's title and its curves: (metric key, role in the legend, line style).
type Plan = Vec<(String, Vec<(String, &'static str, Stroke)>)>;

fn figure_plan(keys: &BTreeSet<&String>) -> Plan {
    let has = |k: &str| keys.iter().any(|x| x.as_str() == k);
    let mut plan: Plan = Vec::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for key in keys.iter().filter(|k| !k.starts_with("test_")) {
        if taken.contains(key.as_str()) {
            continue;
        }
        let quantity = key
            .strip_prefix("val_")
            .or_else(|| key.strip_prefix("train_"));
        match quantity {
            Some(q) if has(&format!("val_{q}")) && has(&format!("train_{q}")) => {
                let (v, t) = (format!("val_{q}"), format!("train_{q}"));
                taken.insert(v.clone());
                taken.insert(t.clone());
                plan.push((
                    q.to_string(),
                    vec![
                        (v, "validation", Stroke::Solid),
                        (t, "training", Stroke::Dashed),
                    ],
                ));
            }
            _ => {
                taken.insert(key.to_string());
                plan.push((key.to_string(), vec![(key.to_string(), "", Stroke::Solid)]));
            }
        }
    }
    let rank = |(title, parts): &(String, Vec<(String, &'static str, Stroke)>)| {
        let validation = parts.iter().any(|(k, _, _)| k.starts_with("val_"));
        if validation && !title.contains("loss") {
            0
        } else if title.contains("loss") && !title.ends_with("_step") {
            1
        } else {
            2
        }
    };
    plan.sort_by_key(rank);
    plan
}

fn metric_figures(
    lab: &LabDescriptor,
    (id, lab_title): (&str, &str),
    groups: &[Group<'_>],
) -> Vec<Block> {
    // Keys that are curves: more than one point in some run.
    let keys: BTreeSet<&String> = groups
        .iter()
        .flat_map(|g| {
            g.runs.iter().flat_map(|r| {
                r.metrics
                    .iter()
                    .filter(|(_, pts)| pts.len() > 1)
                    .map(|(k, _)| k)
            })
        })
        .collect();
    let colors = identity_colors(
        groups
            .iter()
            .map(|g| (g.label.as_str(), g.runs[0].config_key.as_str())),
    );
    figure_plan(&keys)
        .into_iter()
        .take(MAX_FIGURES)
        .map(|(title, parts)| {
            let x_label = parts
                .iter()
                .find_map(|(k, _, _)| lab.curve(k).filter(|m| m.x != XAxis::None))
                .map_or("step", |m| m.x.label());
            let y_label = if parts.len() > 1 {
                format!("{title} (validation solid, training dashed)")
            } else {
                title.clone()
            };
            let mut fig = Figure::new(&format!("{lab_title} — {title}"), x_label, &y_label);
            fig.y.log = title.contains("loss")
                && groups
                    .iter()
                    .flat_map(|g| &g.runs)
                    .flat_map(|r| {
                        parts
                            .iter()
                            .flat_map(move |(k, _, _)| r.metrics.get(k).into_iter().flatten())
                    })
                    .all(|p| p[1] > 0.0);
            for (g, color) in groups.iter().zip(&colors) {
                for (key, role, stroke) in &parts {
                    let curves: Vec<(String, Vec<[f64; 2]>)> = g
                        .runs
                        .iter()
                        .filter_map(|r| r.metrics.get(key).map(|m| (r.id.clone(), m.clone())))
                        .collect();
                    if curves.is_empty() {
                        continue;
                    }
                    let name = if role.is_empty() {
                        g.label.clone()
                    } else {
                        format!("{} {role}", g.label)
                    };
                    let mut series = seed_group(&name, *color, &curves);
                    if let Some(mean) = series.last_mut() {
                        mean.stroke = *stroke;
                    }
                    fig.series.extend(series);
                }
            }
            let n: usize = groups.iter().map(|g| g.runs.len()).sum();
            let caption = format!(
                "{title} over training, {} configuration(s), {n} run(s); lines are means over seeds, bands ± one standard deviation{}.",
                groups.len(),
                if parts.len() > 1 {
                    "; validation solid, training dashed"
                } else {
                    ""
                }
            );
            Block::Figure {
                stem: format!("{id}_{}", sanitize(&title)),
                figure: fig,
                caption,
            }
        })
        .collect()
}

pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The section of one lab; `id` is the runs' lab (the heading when the lab is unknown here).
fn lab_blocks(lab: &LabDescriptor, id: &str, runs: &[&ReportRun]) -> Vec<Block> {
    let title = if lab.report_title.is_empty() {
        id
    } else {
        lab.report_title
    };
    let mut out = vec![Block::Heading(2, title.to_string())];
    if let Some(draw) = lab.report {
        out.extend(draw(runs));
        return out;
    }
    let groups = groups(runs);
    let fields = numeric_fields(lab, runs);
    out.push(Block::Heading(3, "Results".into()));
    out.push(Block::Para(
        "Mean ± sample standard deviation over the runs of each configuration (n in brackets); the best mean of each score is in bold.".into(),
    ));
    out.push(results_table(lab, &groups, &fields));
    // The figures that apply to a run of the report (its dataset and config, as the app's
    // "paper" column decides); when none does (a synthetic graph, a user's folder, another
    // split), all of the lab's, said to be for comparison only.
    let applies = |r: &&crate::core::descriptor::Reference| {
        runs.iter().any(|x| r.applies(&x.dataset, &x.config))
    };
    let any_applies = lab.references.iter().any(|r| applies(&r));
    let refs: Vec<Vec<Cell>> = lab
        .references
        .iter()
        .filter(|r| !any_applies || applies(r))
        .map(|r| {
            vec![
                Cell::text(r.what),
                Cell::text(r.value),
                Cell::text(r.source),
            ]
        })
        .collect();
    if !refs.is_empty() {
        out.push(Block::Para(if any_applies {
            "Published and homework figures for these runs' data and settings:".into()
        } else {
            "No published or homework figure is of these runs' data and settings (another dataset or split); the lab's figures, for comparison only:".into()
        }));
        out.push(Block::Table {
            header: ["figure", "value", "source"].map(String::from).to_vec(),
            rows: refs,
        });
    }
    if let Some(data) = data_table(&groups) {
        out.push(Block::Heading(3, "Data".into()));
        out.push(Block::Para(
            "Each configuration names the data it trained on by the sha256 of that data; runs on different data are never grouped.".into(),
        ));
        out.push(data);
    }
    if let Some(diff) = config_differences(&groups) {
        out.push(Block::Heading(3, "How the configurations differ".into()));
        out.push(diff);
    }
    let figs = metric_figures(lab, (id, title), &groups);
    if !figs.is_empty() {
        out.push(Block::Heading(3, "Curves".into()));
        out.extend(figs);
    }
    // The same pictures of every configuration side by side (skips on beside skips off), from
    // each configuration's newest run, at their own size.
    let newest: Vec<&ReportRun> = groups
        .iter()
        .filter_map(|g| g.runs.last().copied())
        .collect();
    let mut names: Vec<&String> = Vec::new();
    for r in &newest {
        for (name, _) in &r.images {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let per_name = newest.len().max(1);
    let names: Vec<&String> = names
        .into_iter()
        .take((MAX_IMAGES / per_name).max(1))
        .collect();
    if !names.is_empty() {
        out.push(Block::Heading(3, "Gallery".into()));
        if newest.len() > 1 {
            out.push(Block::Para(format!(
                "The same validation images for each configuration, side by side: {}.",
                groups
                    .iter()
                    .map(|g| g.label.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        for name in names {
            for r in &newest {
                if let Some((_, png)) = r.images.iter().find(|(n, _)| n == name) {
                    out.push(Block::Image {
                        stem: format!("{}_{}", sanitize(&r.id), sanitize(name)),
                        png: png.clone(),
                        caption: format!("{} — {name} (run {})", without_seed(&r.name), r.id),
                        natural_size: true,
                    });
                }
            }
        }
    }
    let ckpts: Vec<Vec<Cell>> = runs
        .iter()
        .flat_map(|r| {
            r.checkpoints
                .iter()
                .map(|(f, sha)| vec![Cell::text(&r.id), Cell::text(f), Cell::text(sha)])
        })
        .collect();
    if !ckpts.is_empty() {
        out.push(Block::Heading(3, "Checkpoints".into()));
        out.push(Block::Table {
            header: ["run", "file", "sha256"].map(String::from).to_vec(),
            rows: ckpts,
        });
    }
    out
}

/// The whole report as blocks, in reading order.
pub fn blocks(meta: &ReportMeta, runs: &[ReportRun]) -> Vec<Block> {
    let mut out = vec![
        Block::Heading(1, "gradlab lab report".into()),
        Block::List(vec![
            format!("date: {}", meta.date),
            format!(
                "gradlab {}{}",
                meta.version,
                meta.commit
                    .as_ref()
                    .map(|c| format!(", commit {c}"))
                    .unwrap_or_default()
            ),
            format!("machine: {}", meta.machine),
            format!("{} run(s)", runs.len()),
        ]),
    ];
    let mut labs: Vec<&str> = Vec::new();
    for r in runs {
        if !labs.contains(&r.lab.as_str()) {
            labs.push(&r.lab);
        }
    }
    for id in labs {
        let of_lab: Vec<&ReportRun> = runs.iter().filter(|r| r.lab == id).collect();
        // Runs of a lab this build does not describe still get the generic section.
        let unknown = LabDescriptor::unknown("");
        let lab = crate::core::descriptor::find(&meta.labs, id).unwrap_or(&unknown);
        out.extend(lab_blocks(lab, id, &of_lab));
    }
    let missing: Vec<String> = runs
        .iter()
        .flat_map(|r| {
            r.missing
                .iter()
                .map(move |m| format!("run {}: {m} is missing", r.id))
        })
        .collect();
    if !missing.is_empty() {
        out.push(Block::Heading(2, "Missing files".into()));
        out.push(Block::List(missing));
    }
    out.push(Block::Heading(2, "Reproduce".into()));
    out.push(Block::Para(
        "Each configuration again, from a checkout of the same commit: one command per group of runs (one command trains all its seeds).".into(),
    ));
    out.push(Block::Code(reproduce(runs)));
    out
}

/// One command per distinct command line (every seed of a group keeps its group's command),
/// with the runs it reproduces and their statuses.
fn reproduce(runs: &[ReportRun]) -> String {
    let mut cmds: Vec<(&str, Vec<&ReportRun>)> = Vec::new();
    for r in runs {
        match cmds.iter_mut().find(|(c, _)| *c == r.command) {
            Some((_, rs)) => rs.push(r),
            None => cmds.push((&r.command, vec![r])),
        }
    }
    cmds.iter()
        .map(|(cmd, rs)| {
            let mut statuses: Vec<&str> = rs.iter().map(|r| r.status.as_str()).collect();
            statuses.sort_unstable();
            statuses.dedup();
            let ids: Vec<&str> = rs.iter().map(|r| r.id.as_str()).collect();
            format!(
                "# {} {} ({})\n{cmd}",
                if ids.len() == 1 { "run" } else { "runs" },
                ids.join(", "),
                statuses.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::descriptor::{Metric, Reference};
    use crate::core::figures::PALETTE;

    /// A lab made up for these tests: core names no real lab.
    const DEMO: LabDescriptor = LabDescriptor {
        summary: &[
            Metric::higher("test_acc", XAxis::None),
            Metric::higher("val_acc", XAxis::None),
        ],
        curves: &[
            Metric::higher("val_acc", XAxis::Epoch),
            Metric::lower("val_loss", XAxis::Epoch),
            Metric::higher("train_acc", XAxis::Epoch),
            Metric::lower("train_loss", XAxis::Epoch),
        ],
        references: &[
            Reference {
                tag: "a",
                datasets: &["alpha", "alpha-2"],
                when: &[],
                what: "model A on Alpha",
                value: "0.8",
                source: "paper 1",
            },
            Reference {
                tag: "b",
                datasets: &["beta"],
                when: &[],
                what: "model A on Beta",
                value: "0.7",
                source: "paper 1",
            },
            Reference {
                tag: "b",
                datasets: &["beta"],
                when: &[],
                what: "model B on Beta",
                value: "0.75",
                source: "paper 2",
            },
        ],
        report_title: "Demo lab",
        ..LabDescriptor::unknown("demo")
    };

    #[test]
    fn best_mean_is_bold_and_cells_read_mean_std_n() {
        let run = |id: &str, key: &str, acc: f64| ReportRun {
            id: id.into(),
            lab: "demo".into(),
            name: format!("{key} seed {id}"),
            config_key: key.into(),
            summary: serde_json::json!({ "test_acc": acc }),
            ..Default::default()
        };
        let runs = [
            run("1", "GCN", 0.80),
            run("2", "GCN", 0.82),
            run("3", "GAT", 0.84),
        ];
        let refs: Vec<&ReportRun> = runs.iter().collect();
        let g = groups(&refs);
        let Block::Table { rows, .. } = results_table(&DEMO, &g, &["test_acc".into()]) else {
            panic!("not a table")
        };
        assert_eq!(rows[0][2].text, "0.8100 ± 0.0141 (2)");
        assert!(!rows[0][2].bold);
        assert!(rows[1][2].bold);
    }

    fn reference_rows(dataset: &str) -> Vec<String> {
        reference_rows_with(dataset, Value::Null)
    }

    fn reference_rows_with(dataset: &str, config: Value) -> Vec<String> {
        let run = ReportRun {
            lab: "demo".into(),
            dataset: dataset.into(),
            config,
            config_key: "k".into(),
            summary: serde_json::json!({ "test_acc": 0.7 }),
            ..Default::default()
        };
        lab_blocks(&DEMO, "demo", &[&run])
            .into_iter()
            .filter_map(|b| match b {
                Block::Table { header, rows } if header[0] == "figure" => {
                    Some(rows.into_iter().map(|r| r[0].text.clone()))
                }
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn references_follow_the_runs_datasets() {
        let beta = reference_rows("beta");
        assert_eq!(beta.len(), 2, "{beta:?}");
        assert!(beta.iter().all(|r| r.contains("Beta")), "{beta:?}");
        let alpha = reference_rows("alpha-2");
        assert_eq!(alpha, ["model A on Alpha"]);
        // No reference for the data (a user's folder): all of the lab's, for comparison.
        assert_eq!(reference_rows("my-data").len(), 3);
    }

    /// A figure of one split is not printed beside runs of another split of the same data (the
    /// Graphs lab's Planetoid figures were, beside Cora with pygcn's split).
    #[test]
    fn references_follow_the_runs_config() {
        const SPLITS: LabDescriptor = LabDescriptor {
            summary: &[Metric::higher("test_acc", XAxis::None)],
            references: &[
                Reference {
                    tag: "a",
                    datasets: &["alpha"],
                    when: &[("split", "paper")],
                    what: "model A, the paper's split",
                    value: "0.8",
                    source: "paper 1",
                },
                Reference {
                    tag: "a",
                    datasets: &["alpha"],
                    when: &[("split", "homework")],
                    what: "model A, the homework's split",
                    value: "0.7",
                    source: "the homework",
                },
            ],
            ..LabDescriptor::unknown("splits")
        };
        let rows = |split: &str| -> Vec<String> {
            let run = ReportRun {
                lab: "splits".into(),
                dataset: "alpha".into(),
                config: serde_json::json!({ "split": split }),
                config_key: "k".into(),
                summary: serde_json::json!({ "test_acc": 0.7 }),
                ..Default::default()
            };
            let mut out = Vec::new();
            let mut said = String::new();
            for b in lab_blocks(&SPLITS, "splits", &[&run]) {
                match b {
                    Block::Para(p) => said = p,
                    Block::Table { header, rows } if header[0] == "figure" => {
                        out.push(said.clone());
                        out.extend(rows.into_iter().map(|r| r[0].text.clone()));
                    }
                    _ => {}
                }
            }
            out
        };
        // As the config prints it, case aside (serde writes "Paper").
        let paper = rows("Paper");
        assert!(paper[0].contains("for these runs"), "{paper:?}");
        assert_eq!(paper[1..], ["model A, the paper's split"]);
        // Another split of the same data: no figure applies, and the report says so.
        let other = rows("random");
        assert!(other[0].contains("for comparison only"), "{other:?}");
        assert_eq!(other.len(), 3, "{other:?}");
    }

    fn run(id: &str, name: &str, key: &str, summary: Value) -> ReportRun {
        ReportRun {
            id: id.into(),
            lab: "demo".into(),
            name: name.into(),
            status: "finished".into(),
            config_key: key.into(),
            summary,
            ..Default::default()
        }
    }

    #[test]
    fn a_tie_is_bold_for_both_and_says_so() {
        let runs = [
            run(
                "1",
                "GCN cora seed 0",
                "a",
                serde_json::json!({"val_acc": 0.82031}),
            ),
            run(
                "2",
                "GAT cora seed 0",
                "b",
                serde_json::json!({"val_acc": 0.82029}),
            ),
            run(
                "3",
                "MLP cora seed 0",
                "c",
                serde_json::json!({"val_acc": 0.5}),
            ),
        ];
        let refs: Vec<&ReportRun> = runs.iter().collect();
        let Block::Table { rows, .. } = results_table(&DEMO, &groups(&refs), &["val_acc".into()])
        else {
            panic!("not a table")
        };
        assert!(rows[0][2].bold && rows[1][2].bold && !rows[2][2].bold);
        assert_eq!(rows[0][2].text, "0.8203 (tie)");
        assert_eq!(rows[2][2].text, "0.5000");
    }

    #[test]
    fn config_values_print_at_the_precision_they_were_set_with() {
        assert_eq!(config_value_text(&serde_json::json!(0.6f32)), "0.6");
        assert_eq!(config_value_text(&serde_json::json!(0.005f64)), "0.005");
        assert_eq!(config_value_text(&serde_json::json!(0.1f64)), "0.1");
        assert_eq!(config_value_text(&serde_json::json!(200)), "200");
        assert_eq!(config_value_text(&serde_json::json!("gat")), "gat");
        assert_eq!(config_value_text(&serde_json::json!(true)), "true");
    }

    #[test]
    fn reproduce_lists_one_command_per_group() {
        let mut runs: Vec<ReportRun> = (0..10)
            .map(|i| {
                let mut r = run(&i.to_string(), "GCN cora", "a", Value::Null);
                r.command = "gradlab demo --model gcn --seeds 10".into();
                r
            })
            .collect();
        let mut gat = run("10", "GAT cora", "b", Value::Null);
        gat.command = "gradlab demo --model gat --seeds 1".into();
        runs.push(gat);
        let text = reproduce(&runs);
        assert_eq!(text.matches("gradlab demo").count(), 2, "{text}");
        assert!(text.starts_with("# runs 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 (finished)\n"));
        assert!(text.contains("# run 10 (finished)\ngradlab demo --model gat"));
    }

    #[test]
    fn curves_pair_validation_with_training_and_skip_one_point_series() {
        let pts = |n: usize| (0..n).map(|i| [i as f64, 1.0 / (i + 1) as f64]).collect();
        let mut r = run("1", "GCN cora seed 0", "a", Value::Null);
        for k in ["train_loss", "val_loss", "train_acc", "val_acc"] {
            r.metrics.insert(k.into(), pts(5));
        }
        r.metrics.insert("test_acc".into(), pts(1));
        let refs = [&r];
        let figs = metric_figures(&DEMO, ("demo", "Demo lab"), &groups(&refs));
        let titles: Vec<String> = figs
            .iter()
            .map(|b| match b {
                Block::Figure { figure, .. } => figure.title.clone(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(titles.len(), 2, "{titles:?}");
        assert!(
            titles[0].ends_with("— acc") && titles[1].ends_with("— loss"),
            "{titles:?}"
        );
        let Block::Figure { figure, .. } = &figs[0] else {
            panic!()
        };
        let legend: Vec<(&str, Stroke)> = figure
            .legend_entries()
            .map(|s| (s.name.as_str(), s.stroke))
            .collect();
        assert_eq!(
            legend,
            [
                ("GCN cora validation", Stroke::Solid),
                ("GCN cora training", Stroke::Dashed)
            ]
        );
        assert_eq!(figure.series[0].color, PALETTE[0], "GCN keeps its colour");
    }

    #[test]
    fn the_gallery_shows_both_configurations_on_the_same_images_at_their_size() {
        let seg = |id: &str, name: &str, key: &str| {
            let mut r = run(id, name, key, serde_json::json!({"score": 0.8}));
            r.images = vec![("input_0".into(), vec![1]), ("pred_0".into(), vec![2])];
            r
        };
        let runs = [
            seg("1", "U-Net shapes skips on seed 0", "on"),
            seg("2", "U-Net shapes skips off seed 0", "off"),
        ];
        let refs: Vec<&ReportRun> = runs.iter().collect();
        let pics: Vec<(String, bool)> = lab_blocks(&DEMO, "demo", &refs)
            .into_iter()
            .filter_map(|b| match b {
                Block::Image {
                    caption,
                    natural_size,
                    ..
                } => Some((caption, natural_size)),
                _ => None,
            })
            .collect();
        let captions: Vec<&str> = pics.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(
            captions,
            [
                "U-Net shapes skips on — input_0 (run 1)",
                "U-Net shapes skips off — input_0 (run 2)",
                "U-Net shapes skips on — pred_0 (run 1)",
                "U-Net shapes skips off — pred_0 (run 2)",
            ]
        );
        assert!(pics.iter().all(|(_, natural)| *natural));
    }
}
