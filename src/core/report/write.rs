//! Writes a report folder so that it is whole or absent: everything is staged in a hidden folder
//! beside the result and renamed into place at the end; a failure removes the staging folder.
//! Only an absent or empty folder, or one gradlab wrote, is written (`files::replace_folder`).

use std::path::{Path, PathBuf};

use super::build::blocks;
use super::doc::{Block, to_html, to_markdown};
use super::meta::ReportMeta;
use super::model::ReportRun;
use crate::core::figures::{ExportSize, to_csv, to_png, to_svg};
use crate::core::files::replace_folder;

/// What was written.
#[derive(Clone, Debug)]
pub struct ReportFiles {
    pub html: PathBuf,
    pub markdown: PathBuf,
    pub figures: Vec<PathBuf>,
}

fn stage(dir: &Path, blocks: &[Block]) -> anyhow::Result<Vec<String>> {
    let figs = dir.join("figures");
    std::fs::create_dir_all(&figs)?;
    let mut names = Vec::new();
    for b in blocks {
        match b {
            Block::Figure { stem, figure, .. } => {
                std::fs::write(
                    figs.join(format!("{stem}.svg")),
                    to_svg(figure, ExportSize::DEFAULT),
                )?;
                std::fs::write(
                    figs.join(format!("{stem}.png")),
                    to_png(figure, ExportSize::DEFAULT)?,
                )?;
                std::fs::write(figs.join(format!("{stem}.csv")), to_csv(figure))?;
                names.extend(["svg", "png", "csv"].map(|e| format!("{stem}.{e}")));
            }
            Block::Image { stem, png, .. } => {
                std::fs::write(figs.join(format!("{stem}.png")), png)?;
                names.push(format!("{stem}.png"));
            }
            _ => {}
        }
    }
    std::fs::write(dir.join("report.md"), to_markdown(blocks))?;
    std::fs::write(dir.join("report.html"), to_html(blocks))?;
    Ok(names)
}

/// Writes the report of `runs` into `out`. `out` must be absent, empty, or a report folder
/// gradlab wrote before, which is then replaced whole (stale figures of the earlier report
/// included); a folder holding the user's files is refused before anything is written.
pub fn write_report(
    meta: &ReportMeta,
    runs: &[ReportRun],
    out: &Path,
) -> anyhow::Result<ReportFiles> {
    anyhow::ensure!(!runs.is_empty(), "no runs to report");
    write_blocks(&blocks(meta, runs), out)
}

/// Writes a report made of `blocks` into `out`, with the same rules as [`write_report`].
pub fn write_blocks(blocks: &[Block], out: &Path) -> anyhow::Result<ReportFiles> {
    let names = replace_folder(out, "the report", |staging| stage(staging, blocks))?;
    let figs = out.join("figures");
    Ok(ReportFiles {
        html: out.join("report.html"),
        markdown: out.join("report.md"),
        figures: names.iter().map(|n| figs.join(n)).collect(),
    })
}
