//! `gradlab data list | fetch NAME | verify [NAME] | inspect DIR`: the dataset catalog from the
//! command line, and a look at a segmentation folder without training.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use serde_json::json;

use crate::core::progress::CliSink;
use crate::core::{NullSink, StopFlag};
use crate::data::catalog::{
    Catalog, Check, Dataset, DatasetState, DatasetStatus, check, human_size,
};
use crate::data::download::{FetchOptions, fetch};
use crate::labs::lab::CliOutput as Output;

#[derive(clap::Args, Debug)]
pub struct DataArgs {
    /// Print exactly one JSON object on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub action: DataAction,
}

#[derive(clap::Subcommand, Debug)]
pub enum DataAction {
    /// Every catalog entry with its state on disk (sha256 checked), size and licence.
    List,
    /// Download a dataset (temp file, sha256 check, rename); files already intact are kept.
    Fetch {
        /// Catalog name, e.g. cora or isbi2012_em.
        name: String,
        /// Fetch `<MIRROR>/<name>/<path>` instead of the catalog's URLs.
        #[arg(long, env = crate::data::download::MIRROR_ENV)]
        mirror: Option<String>,
    },
    /// Recompute the sha256 of every file; exit 1 when a file is corrupt or missing.
    Verify {
        /// One dataset; all downloaded ones when left out.
        name: Option<String>,
    },
    /// Look at a segmentation folder (images/ + masks/) or a graph folder (nodes.csv +
    /// edges.csv) without training: pairs, sizes, bit depths, mask encodings, foreground
    /// fraction; or nodes, edges, duplicates, self-loops, isolated nodes, unknown ids, label
    /// counts, feature density; and every problem.
    Inspect {
        dir: PathBuf,
        /// Count the mask's background (value 0) as class 1, as `gradlab seg --invert` does.
        #[arg(long)]
        invert: bool,
    },
}

pub fn run(args: &DataArgs, data_dir: &Path) -> anyhow::Result<Output> {
    let catalog = Catalog::builtin();
    match &args.action {
        DataAction::List => list(&catalog, data_dir),
        DataAction::Fetch { name, mirror } => {
            let ds = catalog.find(name)?;
            let opts = FetchOptions {
                mirror: mirror.clone().filter(|m| !m.trim().is_empty()),
                ..FetchOptions::default()
            };
            let t = Instant::now();
            let mut sink = CliSink::new(&format!("fetch {name}"));
            let report = fetch(ds, data_dir, &opts, &mut sink, &StopFlag::new())?;
            sink.finish();
            let seconds = t.elapsed().as_secs_f64();
            let mut out = report.to_json();
            out["path"] = json!(ds.dir(data_dir).display().to_string());
            out["seconds"] = json!(seconds);
            let human = format!(
                "{}: {} files downloaded ({}), {} already present, in {}\nlicence: {}\ncite: {}",
                ds.dir(data_dir).display(),
                report.downloaded.len(),
                human_size(report.bytes_downloaded),
                report.skipped.len(),
                format_args!("{seconds:.1} s"),
                ds.licence,
                ds.citation,
            );
            Ok(Output { json: out, human })
        }
        DataAction::Verify { name } => verify(&catalog, name.as_deref(), data_dir),
        DataAction::Inspect { dir, .. } if crate::data::graph::csv_folder::is_graph_folder(dir) => {
            let r = crate::data::graph::csv_folder::inspect_csv_folder(dir)?;
            Ok(Output {
                json: serde_json::to_value(&r)?,
                human: r.human(),
            })
        }
        DataAction::Inspect { dir, invert } => {
            let mut progress = crate::core::progress::Progress::new("inspect, pairs");
            let r = crate::data::seg::inspect::inspect_folder_with(dir, *invert, &mut |d, t| {
                progress.update(d as u64, t as u64, "")
            })?;
            progress.finish();
            Ok(Output {
                json: serde_json::to_value(&r)?,
                human: r.human(),
            })
        }
    }
}

fn status_of(ds: &Dataset, data_dir: &Path) -> DatasetStatus {
    // With a flag nobody sets, `check` always returns a status.
    check(ds, data_dir, Check::Full, &mut NullSink, &StopFlag::new())
        .expect("check is only cut short by a stop")
}

fn list(catalog: &Catalog, data_dir: &Path) -> anyhow::Result<Output> {
    let rows: Vec<(&Dataset, DatasetStatus)> = catalog
        .datasets
        .iter()
        .map(|ds| (ds, status_of(ds, data_dir)))
        .collect();
    let mut human = format!("data dir: {}\n", data_dir.display());
    let _ = writeln!(
        human,
        "{:<14} {:<8} {:>9} {:>6}  licence",
        "name", "status", "size", "files"
    );
    for (ds, st) in &rows {
        let _ = writeln!(
            human,
            "{:<14} {:<8} {:>9} {:>6}  {}",
            ds.name,
            st.state,
            ds.size_text(),
            ds.files.len(),
            ds.licence
        );
        for line in st.problem_lines().iter().take(3) {
            if st.state != DatasetState::Missing {
                let _ = writeln!(human, "    {line}");
            }
        }
    }
    let datasets: Vec<_> = rows
        .iter()
        .map(|(ds, st)| {
            json!({
                "name": ds.name,
                "title": ds.title,
                "status": st.state,
                "size": ds.total_size(),
                "files": ds.files.len(),
                "licence": ds.licence,
                "citation": ds.citation,
                "homepage": ds.homepage,
                "path": ds.dir(data_dir).display().to_string(),
                "problems": st.problem_lines(),
            })
        })
        .collect();
    Ok(Output {
        json: json!({"data_dir": data_dir.display().to_string(), "datasets": datasets}),
        human: human.trim_end().to_string(),
    })
}

fn verify(catalog: &Catalog, name: Option<&str>, data_dir: &Path) -> anyhow::Result<Output> {
    let chosen: Vec<&Dataset> = match name {
        Some(n) => vec![catalog.find(n)?],
        None => catalog.datasets.iter().collect(),
    };
    let mut human = String::new();
    let mut results = Vec::new();
    let mut bad = Vec::new();
    for ds in chosen {
        let st = status_of(ds, data_dir);
        let _ = writeln!(
            human,
            "{}: {} ({} files)",
            ds.name,
            st.state,
            ds.files.len()
        );
        let must_exist = name.is_some();
        match st.state {
            DatasetState::Present => {}
            DatasetState::Missing if !must_exist => {}
            DatasetState::Missing => bad.push(format!(
                "{} is not downloaded (run: gradlab data fetch {})",
                ds.name, ds.name
            )),
            DatasetState::Corrupt | DatasetState::Partial => bad.extend(st.problem_lines()),
        }
        results.push(json!({"name": ds.name, "status": st.state, "problems": st.problem_lines()}));
    }
    if !bad.is_empty() {
        let more = if bad.len() > 3 {
            format!(" (and {} more)", bad.len() - 3)
        } else {
            String::new()
        };
        bail!(
            "verify failed in {}: {}{more}",
            data_dir.display(),
            bad[..bad.len().min(3)].join("; ")
        );
    }
    Ok(Output {
        json: json!({"data_dir": data_dir.display().to_string(), "ok": true, "datasets": results}),
        human: human.trim_end().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_of_a_missing_named_dataset_fails_but_all_missing_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::builtin();
        let e = format!(
            "{:#}",
            verify(&c, Some("cora"), dir.path())
                .err()
                .expect("verify of a missing dataset fails")
        );
        assert!(e.contains("cora is not downloaded"), "{e}");
        let out = verify(&c, None, dir.path()).unwrap();
        assert_eq!(out.json["ok"], true);
        let l = list(&c, dir.path()).unwrap();
        assert_eq!(l.json["datasets"][0]["status"], "missing");
        assert!(
            l.human.contains("cora") && l.human.contains("missing"),
            "{}",
            l.human
        );
    }
}
