//! Writes a report folder so that it is whole or absent: everything is staged in a hidden folder
//! beside the result and renamed into place at the end; a failure removes the staging folder.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::build::blocks;
use super::doc::{Block, to_html, to_markdown};
use super::model::{ReportMeta, ReportRun};
use crate::core::figures::{ExportSize, to_csv, to_png, to_svg};

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

fn sync_all(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            sync_all(&p)?;
        } else {
            std::fs::File::open(&p)?.sync_all()?;
        }
    }
    Ok(())
}

/// Writes the report of `runs` into `out` (created when missing). Existing files of an earlier
/// report in `out` are replaced one by one, each by a rename.
pub fn write_report(
    meta: &ReportMeta,
    runs: &[ReportRun],
    out: &Path,
) -> anyhow::Result<ReportFiles> {
    anyhow::ensure!(!runs.is_empty(), "no runs to report");
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot write the report: cannot create {}", out.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".gradlab-report-")
        .tempdir_in(out)
        .with_context(|| format!("cannot write the report: {} is not writable", out.display()))?;
    let blocks = blocks(meta, runs);
    let names = stage(staging.path(), &blocks)
        .and_then(|n| sync_all(staging.path()).map(|_| n).map_err(Into::into))
        .with_context(|| format!("cannot write the report into {}", out.display()))?;
    let figs = out.join("figures");
    std::fs::create_dir_all(&figs).with_context(|| format!("cannot create {}", figs.display()))?;
    let mut figures = Vec::new();
    for n in &names {
        let to = figs.join(n);
        std::fs::rename(staging.path().join("figures").join(n), &to)
            .with_context(|| format!("cannot write {}", to.display()))?;
        figures.push(to);
    }
    // The pages last: a report.html present means its figures are there.
    for page in ["report.md", "report.html"] {
        std::fs::rename(staging.path().join(page), out.join(page))
            .with_context(|| format!("cannot write {}", out.join(page).display()))?;
    }
    Ok(ReportFiles {
        html: out.join("report.html"),
        markdown: out.join("report.md"),
        figures,
    })
}
