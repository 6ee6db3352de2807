//! `gradlab report [--runs ID,..|--last N|--lab NAME] --out DIR`: a lab report from recorded runs.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;

use crate::core::report::{Selection, meta_now, parse_ids, report_run, select, write_report};
use crate::core::runs::RunStore;
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
    /// Folder for report.html, report.md and figures/ (created when missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ReportArgs, store: &RunStore) -> anyhow::Result<Output> {
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
