//! A results table whose rows are any `Serialize` struct: the field names are the header, the
//! values the cells; drawn as a grid and exported as CSV (RFC 4180 quoting) or Markdown.

use std::fmt;

use eframe::egui;
use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::files::Saver;

/// The fields of one serialized struct in declaration order (`serde_json::Value` sorts keys).
struct Fields(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a results row (a struct)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = m.next_entry::<String, Value>()? {
                    fields.push(entry);
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(V)
    }
}

fn cell(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Header and cells of `rows`; a row that is not a flat struct is an error, not a panic.
pub fn table_cells<R: Serialize>(rows: &[R]) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let mut head: Vec<String> = Vec::new();
    let mut cells = Vec::with_capacity(rows.len());
    for r in rows {
        let text = serde_json::to_string(r).map_err(|e| e.to_string())?;
        let Fields(fields) = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        if head.is_empty() {
            head = fields.iter().map(|(k, _)| k.clone()).collect();
        }
        cells.push(fields.into_iter().map(|(_, v)| cell(v)).collect());
    }
    Ok((head, cells))
}

/// One CSV field: quoted when it holds a comma, a quote, or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn to_csv(head: &[String], rows: &[Vec<String>]) -> String {
    let line = |r: &[String]| r.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(",");
    let mut out = line(head) + "\r\n";
    for r in rows {
        out += &(line(r) + "\r\n");
    }
    out
}

/// One Markdown cell: pipes escaped, line breaks as `<br>` so a row stays one line.
fn md_field(s: &str) -> String {
    s.replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}

pub fn to_markdown(head: &[String], rows: &[Vec<String>]) -> String {
    let line = |r: &[String]| {
        format!(
            "| {} |\n",
            r.iter()
                .map(|c| md_field(c))
                .collect::<Vec<_>>()
                .join(" | ")
        )
    };
    let mut out = line(head) + &format!("|{}\n", "---|".repeat(head.len()));
    for r in rows {
        out += &line(r);
    }
    out
}

/// Title, export buttons and the grid. `file_stem` names the exported files.
pub fn results_table<R: Serialize>(
    ui: &mut egui::Ui,
    id: &str,
    title: &str,
    file_stem: &str,
    rows: &[R],
    saver: &Saver,
) {
    let (head, cells) = match table_cells(rows) {
        Ok(t) => t,
        Err(e) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
            return;
        }
    };
    ui.horizontal(|ui| {
        ui.strong(title);
        ui.add_enabled_ui(!cells.is_empty(), |ui| {
            if ui.button("Export CSV").clicked() {
                let text = to_csv(&head, &cells);
                saver.save(&format!("{file_stem}.csv"), ("CSV", &["csv"]), move || {
                    Ok(text.into_bytes())
                });
            }
            if ui.button("Export Markdown").clicked() {
                let text = to_markdown(&head, &cells);
                saver.save(
                    &format!("{file_stem}.md"),
                    ("Markdown", &["md"]),
                    move || Ok(text.into_bytes()),
                );
            }
        });
    });
    if cells.is_empty() {
        ui.weak("Finished runs appear here.");
        return;
    }
    // Wider than the window (1024 px): the columns scroll sideways instead of being cut.
    egui::ScrollArea::horizontal().id_salt(id).show(ui, |ui| {
        egui::Grid::new(id).striped(true).show(ui, |ui| {
            for h in &head {
                ui.strong(h);
            }
            ui.end_row();
            for r in &cells {
                for c in r {
                    ui.label(c);
                }
                ui.end_row();
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        model: String,
        #[serde(rename = "test acc")]
        acc: f64,
        seeds: u64,
    }

    fn rows() -> Vec<Row> {
        vec![
            Row {
                model: "GCN".into(),
                acc: 0.5,
                seeds: 3,
            },
            Row {
                model: "a, \"b\"\nc".into(),
                acc: 0.25,
                seeds: 10,
            },
        ]
    }

    #[test]
    fn header_comes_from_the_field_names_in_order() {
        let (head, cells) = table_cells(&rows()).unwrap();
        assert_eq!(head, ["model", "test acc", "seeds"]);
        assert_eq!(cells[0], ["GCN", "0.5", "3"]);
    }

    #[test]
    fn csv_quotes_commas_quotes_and_newlines() {
        let (head, cells) = table_cells(&rows()).unwrap();
        let csv = to_csv(&head, &cells);
        assert_eq!(
            csv,
            "model,test acc,seeds\r\nGCN,0.5,3\r\n\"a, \"\"b\"\"\nc\",0.25,10\r\n"
        );
        // A CSV reader sees three records of three fields.
        let mut records = 0;
        let (mut in_quotes, mut fields) = (false, 1);
        for ch in csv.chars() {
            match ch {
                '"' => in_quotes = !in_quotes,
                ',' if !in_quotes => fields += 1,
                '\n' if !in_quotes => {
                    assert_eq!(fields, 3, "record {records} has {fields} fields");
                    records += 1;
                    fields = 1;
                }
                _ => {}
            }
        }
        assert_eq!(records, 3);
    }

    #[test]
    fn markdown_keeps_each_row_on_one_line() {
        let (head, cells) = table_cells(&rows()).unwrap();
        let md = to_markdown(&head, &cells);
        assert_eq!(md.lines().count(), 4, "{md}");
        assert!(md.contains("a, \"b\"<br>c"));
    }

    #[test]
    fn a_row_that_is_not_a_struct_is_an_error() {
        assert!(table_cells(&[1, 2]).is_err());
    }
}
