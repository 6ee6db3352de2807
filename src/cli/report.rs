//! `gradlab report [--runs ID,..|--last N|--lab NAME] --out DIR`: a lab report from recorded runs.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;

use crate::core::descriptor::Direction;
use crate::core::report::{
    Selection, meta_now, parse_ids, report_run, select, write_blocks, write_report,
};
use crate::core::runs::RunStore;
use crate::core::sweep;
use crate::labs::lab::CliOutput as Output;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Run ids, comma-separated (see `gradlab runs list`).
    #[arg(long, conflicts_with = "last")]
    pub runs: Option<String>,
    /// The last N runs (default 20 when no runs are named).
    #[arg(long)]
    pub last: Option<usize>,
    /// Only runs of this lab (theory, graphs, segmentation).
    #[arg(long)]
    pub lab: Option<String>,
    /// The report of a sweep (see `gradlab sweep list`): grid, figure, table, verdicts.
    #[arg(long, conflicts_with_all = ["runs", "last", "lab"])]
    pub sweep: Option<i64>,
    /// With --sweep: the grid point (0-based, in table order) the others are compared with.
    #[arg(long, default_value_t = 0, requires = "sweep")]
    pub baseline: usize,
    /// Folder for report.html, report.md and figures/ (created when missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ReportArgs, store: &RunStore) -> anyhow::Result<Output> {
    if let Some(id) = args.sweep {
        return sweep_report(args, store, id);
    }
    let t = Instant::now();
    let sel = Selection {
        ids: args
            .runs
            .as_deref()
            .map(parse_ids)
            .transpose()?
            .unwrap_or_default(),
        last: args.last,
        lab: args.lab.clone(),
    };
    let ids = select(store, &sel)?;
    let runs = ids
        .iter()
        .map(|&id| report_run(store, id))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let files = write_report(&meta_now(crate::labs::descriptors()), &runs, &args.out)?;
    let seconds = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(&files.html).map(|m| m.len()).unwrap_or(0);
    Ok(Output {
        human: format!(
            "report of {} run(s) in {:.2} s: {} ({} KiB), {}, {} figure files",
            runs.len(),
            seconds,
            files.html.display(),
            size / 1024,
            files.markdown.display(),
            files.figures.len()
        ),
        json: json!({
            "runs": ids,
            "html": files.html,
            "markdown": files.markdown,
            "figures": files.figures,
            "html_bytes": size,
            "seconds": seconds,
        }),
    })
}

fn sweep_report(args: &ReportArgs, store: &RunStore, id: i64) -> anyhow::Result<Output> {
    let t = Instant::now();
    let s = store
        .sweep(id)?
        .ok_or_else(|| anyhow::anyhow!("--sweep {id}: no sweep {id} in the store"))?;
    let rows = sweep::rows(&s, &store.sweep_links(id, &s.metric)?);
    anyhow::ensure!(
        args.baseline < rows.len(),
        "--baseline {}: the sweep has {} points (0 to {})",
        args.baseline,
        rows.len(),
        rows.len().saturating_sub(1)
    );
    let direction = crate::labs::descriptors()
        .into_iter()
        .find(|d| d.id == s.lab)
        .and_then(|d| d.metric(&s.metric))
        .map_or(Direction::Neither, |m| m.direction);
    let blocks = sweep::report_blocks(&s, &rows, direction, args.baseline);
    let files = write_blocks(&blocks, &args.out)?;
    let seconds = t.elapsed().as_secs_f64();
    Ok(Output {
        human: format!(
            "report of sweep {id} ({}/{} runs) in {:.2} s: {}, {}, {} figure files",
            s.done,
            s.total,
            seconds,
            files.html.display(),
            files.markdown.display(),
            files.figures.len()
        ),
        json: json!({
            "sweep_id": id,
            "html": files.html,
            "markdown": files.markdown,
            "figures": files.figures,
            "seconds": seconds,
        }),
    })
}
