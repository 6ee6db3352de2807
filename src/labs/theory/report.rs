//! How theory runs appear in a report: one row per check and condition with its verdict and
//! counterexample, and the checks' own plots. The report calls [`blocks`] through the lab's
//! descriptor; it reads the summary a theory run recorded ([`super::summary`]).

use serde_json::Value;

use crate::core::figures::{Figure, PALETTE, Series, format_number};
use crate::core::report::{Block, Cell, ReportRun, sanitize};

/// Most plots a theory section shows.
const MAX_FIGURES: usize = 8;

/// The verdicts of theory runs: one row per check and condition, with the counterexample.
pub fn blocks(runs: &[&ReportRun]) -> Vec<Block> {
    let mut rows = Vec::new();
    let mut figures = Vec::new();
    for r in runs {
        let checks: Vec<&Value> = match r.summary.get("checks").and_then(Value::as_array) {
            Some(a) => a.iter().collect(),
            None => vec![&r.summary],
        };
        for c in checks {
            let id = c.get("id").and_then(Value::as_str).unwrap_or("?");
            let conditions = c.get("conditions").and_then(Value::as_array);
            match conditions {
                Some(conds) => {
                    for k in conds {
                        rows.push(vec![
                            Cell::text(id),
                            Cell::text(str_of(k, &["condition", "name", "when"])),
                            verdict_cell(k),
                            Cell::text(&counterexample(k.get("counterexample"))),
                        ]);
                    }
                }
                None => rows.push(vec![
                    Cell::text(id),
                    Cell::text("as stated"),
                    verdict_cell(c),
                    Cell::text(&counterexample(c.get("counterexample"))),
                ]),
            }
            for p in c
                .get("plots")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(fig) = theory_plot(p) {
                    figures.push(Block::Figure {
                        stem: format!("theory_{}_{}", sanitize(id), sanitize(&fig.title)),
                        caption: format!("{id}: {} (run {})", fig.title, r.id),
                        figure: fig,
                    });
                }
            }
        }
    }
    let mut out = vec![Block::Table {
        header: ["check", "condition", "verdict", "counterexample"]
            .map(String::from)
            .to_vec(),
        rows,
    }];
    out.extend(figures.into_iter().take(MAX_FIGURES));
    out
}

fn str_of<'a>(v: &'a Value, keys: &[&str]) -> &'a str {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .unwrap_or("")
}

fn verdict_cell(v: &Value) -> Cell {
    let verdict = match v.get("verdict").and_then(Value::as_str) {
        Some(s) => s.to_string(),
        None => match v.get("holds").and_then(Value::as_bool) {
            Some(true) => "holds".into(),
            Some(false) => "fails".into(),
            None => "inconclusive".into(),
        },
    };
    Cell {
        bold: verdict == "fails",
        text: verdict,
    }
}

/// A counterexample for people: "input ... expected ... got ...", numbers rounded.
fn counterexample(c: Option<&Value>) -> String {
    let Some(c) = c.filter(|c| !c.is_null()) else {
        return String::new();
    };
    let part = |k: &str| c.get(k).map(short_json).unwrap_or_default();
    let note = c.get("note").and_then(Value::as_str).unwrap_or("");
    format!(
        "input {}; expected {}; got {}{}",
        part("input"),
        part("expected"),
        part("got"),
        if note.is_empty() {
            String::new()
        } else {
            format!(" ({note})")
        }
    )
}

fn short_json(v: &Value) -> String {
    match v {
        Value::Number(n) => n.as_f64().map_or(n.to_string(), fmt4),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(short_json).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{k} = {}", short_json(v)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn theory_plot(p: &Value) -> Option<Figure> {
    let mut fig = Figure::new(
        p.get("title")?.as_str()?,
        p.get("x_label").and_then(Value::as_str).unwrap_or(""),
        p.get("y_label").and_then(Value::as_str).unwrap_or(""),
    );
    fig.x.log = p.get("log_x").and_then(Value::as_bool).unwrap_or(false);
    fig.y.log = p.get("log_y").and_then(Value::as_bool).unwrap_or(false);
    for (i, c) in p.get("curves")?.as_array()?.iter().enumerate() {
        let name = c.get(0)?.as_str()?;
        let points: Vec<[f64; 2]> = serde_json::from_value(c.get(1)?.clone()).ok()?;
        fig.series.push(Series {
            name: name.to_string(),
            color: PALETTE[i % PALETTE.len()],
            points,
            ..Default::default()
        });
    }
    Some(fig)
}

/// Four decimals, whole numbers whole.
fn fmt4(v: f64) -> String {
    if v.is_finite() && v.abs() < 1e4 && v.fract() != 0.0 {
        format!("{v:.4}")
    } else {
        format_number(v)
    }
}
