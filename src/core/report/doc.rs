//! A report as a list of blocks, rendered to one self-contained HTML page (inline SVG, embedded
//! PNG, no script, no external URL) and to Markdown with its figures in `figures/`.

use std::fmt::Write;

use base64::Engine;

use crate::core::figures::{ExportSize, Figure, to_svg};

#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub text: String,
    pub bold: bool,
}

impl Cell {
    pub fn text(s: &str) -> Cell {
        Cell {
            text: s.to_string(),
            bold: false,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Block {
    Heading(u8, String),
    Para(String),
    List(Vec<String>),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<Cell>>,
    },
    /// A plot, written as `figures/<stem>.svg|png|csv` and inlined in the HTML.
    Figure {
        stem: String,
        figure: Figure,
        caption: String,
    },
    /// A picture, written as `figures/<stem>.png` and embedded in the HTML.
    Image {
        stem: String,
        png: Vec<u8>,
        caption: String,
        /// Shown at its own size (a gallery picture, side by side with the next), not stretched
        /// to the page's width.
        natural_size: bool,
    },
    Code(String),
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:Ubuntu,'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#111;background:#fff;line-height:1.45}\
table{border-collapse:collapse;margin:0.6em 0}th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}figure{margin:1em 0}figure svg,figure img{width:100%;height:auto;border:1px solid #eee}\
figure.pic{display:inline-block;vertical-align:top;margin:0.5em 1em 0.5em 0;max-width:100%}figure.pic img{width:auto;max-width:100%;image-rendering:pixelated}\
figcaption{font-size:0.9em;color:#444}pre{background:#f6f6f6;padding:0.8em;overflow-x:auto;font-size:0.85em}";

/// The report as one HTML page that needs nothing else to display.
pub fn to_html(blocks: &[Block]) -> String {
    let title = blocks
        .iter()
        .find_map(|b| match b {
            Block::Heading(1, t) => Some(t.as_str()),
            _ => None,
        })
        .unwrap_or("gradlab report");
    let mut o = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(title)
    );
    for b in blocks {
        match b {
            Block::Heading(level, t) => {
                let _ = writeln!(o, "<h{level}>{}</h{level}>", esc(t));
            }
            Block::Para(t) => {
                let _ = writeln!(o, "<p>{}</p>", esc(t));
            }
            Block::List(items) => {
                o.push_str("<ul>");
                for i in items {
                    let _ = write!(o, "<li>{}</li>", esc(i));
                }
                o.push_str("</ul>\n");
            }
            Block::Table { header, rows } => {
                o.push_str("<table><thead><tr>");
                for h in header {
                    let _ = write!(o, "<th>{}</th>", esc(h));
                }
                o.push_str("</tr></thead><tbody>\n");
                for row in rows {
                    o.push_str("<tr>");
                    for c in row {
                        if c.bold {
                            let _ = write!(o, "<td><strong>{}</strong></td>", esc(&c.text));
                        } else {
                            let _ = write!(o, "<td>{}</td>", esc(&c.text));
                        }
                    }
                    o.push_str("</tr>\n");
                }
                o.push_str("</tbody></table>\n");
            }
            Block::Figure {
                figure, caption, ..
            } => {
                let svg = to_svg(figure, ExportSize::DEFAULT);
                let _ = writeln!(
                    o,
                    "<figure>{svg}<figcaption>{}</figcaption></figure>",
                    esc(caption)
                );
            }
            Block::Image {
                png,
                caption,
                natural_size,
                ..
            } => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(png);
                let class = if *natural_size { " class=\"pic\"" } else { "" };
                let _ = writeln!(
                    o,
                    "<figure{class}><img alt=\"{0}\" src=\"data:image/png;base64,{b64}\"><figcaption>{0}</figcaption></figure>",
                    esc(caption)
                );
            }
            Block::Code(t) => {
                let _ = writeln!(o, "<pre><code>{}</code></pre>", esc(t));
            }
        }
    }
    o.push_str("</body></html>\n");
    o
}

/// Markdown table cells cannot hold a pipe or a line break.
fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The report as Markdown; figures are referenced as `figures/<stem>.svg` / `.png`.
pub fn to_markdown(blocks: &[Block]) -> String {
    let mut o = String::new();
    for b in blocks {
        match b {
            Block::Heading(level, t) => {
                let _ = writeln!(o, "{} {t}\n", "#".repeat(usize::from(*level)));
            }
            Block::Para(t) => {
                let _ = writeln!(o, "{t}\n");
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(o, "- {i}");
                }
                o.push('\n');
            }
            Block::Table { header, rows } => {
                let _ = writeln!(
                    o,
                    "| {} |",
                    header
                        .iter()
                        .map(|h| md_cell(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let _ = writeln!(o, "|{}", " --- |".repeat(header.len()));
                for row in rows {
                    let cells: Vec<String> = row
                        .iter()
                        .map(|c| {
                            if c.bold {
                                format!("**{}**", md_cell(&c.text))
                            } else {
                                md_cell(&c.text)
                            }
                        })
                        .collect();
                    let _ = writeln!(o, "| {} |", cells.join(" | "));
                }
                o.push('\n');
            }
            Block::Figure { stem, caption, .. } => {
                let _ = writeln!(
                    o,
                    "![{caption}](figures/{stem}.svg)\n\n*{caption}* (PNG: `figures/{stem}.png`, data: `figures/{stem}.csv`)\n"
                );
            }
            Block::Image { stem, caption, .. } => {
                let _ = writeln!(o, "![{caption}](figures/{stem}.png)\n\n*{caption}*\n");
            }
            Block::Code(t) => {
                let _ = writeln!(o, "```\n{t}\n```\n");
            }
        }
    }
    o
}
