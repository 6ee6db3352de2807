//! Headless front end: the same experiments as the GUI, a progress bar on stderr, JSON on stdout.

pub mod bench;
pub mod scale;

use crate::labs::datasets::cli as data;
use crate::labs::graphs::cli as graph;
use crate::labs::segmentation::cli as seg;
use crate::labs::segmentation::predict_cli as predict;
use crate::labs::theory::cli as theory;
pub mod report;
pub mod runs;
pub mod sweep;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "gradlab",
    version,
    about = "A desktop laboratory for deep learning: theory checks, GCN/GAT on Cora, U-Net segmentation.\nWithout a subcommand it opens the GUI."
)]
pub struct Cli {
    /// Where datasets live (default: datasets/ in the working directory when it exists there,
    /// else the platform data folder, e.g. ~/.local/share/gradlab/datasets).
    #[arg(long, global = true, env = "GRADLAB_DATA")]
    pub data_dir: Option<PathBuf>,
    /// Where the run store lives (default: the platform data folder, e.g.
    /// ~/.local/share/gradlab/runs).
    #[arg(long, global = true, env = "GRADLAB_RUNS")]
    pub runs_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

// One value per process, parsed once: boxing the big variant (the theory parameters) would
// only make the clap derive harder to read.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check the theory claims numerically.
    Theory(theory::TheoryArgs),
    /// Train GCN / GAT / MLP for node classification.
    #[command(name = "graphs", visible_alias = "graph")]
    Graph(graph::GraphArgs),
    /// Train a U-Net for segmentation, with skip connections on or off.
    #[command(name = "segmentation", visible_alias = "seg")]
    Seg(seg::SegArgs),
    /// Segment image files with a saved model: one 0/255 mask PNG per image.
    Predict(predict::PredictArgs),
    /// Time the hot paths.
    Bench(bench::BenchArgs),
    /// Dataset catalog: list, fetch, verify; inspect a segmentation folder.
    Data(data::DataArgs),
    /// A lab report (HTML + Markdown + figures) from recorded runs.
    Report(report::ReportArgs),
    /// Recorded runs: list, show, export, delete, restore, purge.
    Runs(runs::RunsArgs),
    /// A lab's runs over a grid of settings and seeds, resumable; `sweep list`, `sweep show ID`.
    Sweep(sweep::SweepArgs),
}

impl Cli {
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(crate::data::folder::default_data_dir)
    }

    /// `--runs-dir`, `GRADLAB_RUNS`, or the platform data folder.
    pub fn runs_dir(&self) -> anyhow::Result<PathBuf> {
        self.runs_dir
            .clone()
            .or_else(crate::core::runs::default_runs_dir)
            .ok_or_else(|| anyhow::anyhow!("no data folder for runs here: pass --runs-dir DIR"))
    }

    /// The run store that training commands record into.
    pub fn run_store(&self) -> anyhow::Result<crate::core::runs::RunStore> {
        runs::open(&self.runs_dir()?)
    }

    /// The store a training command records into; none for `--print-config`, which runs nothing.
    fn store_unless(
        &self,
        print_config: bool,
    ) -> anyhow::Result<Option<crate::core::runs::RunStore>> {
        if print_config {
            Ok(None)
        } else {
            self.run_store().map(Some)
        }
    }
}

/// What a subcommand produced: the JSON object for `--json`, and text for people otherwise.
pub use crate::labs::lab::CliOutput as Output;

/// What only the binary can provide (the CLI never links the GUI app).
#[derive(Default, Clone, Copy)]
pub struct Hooks {
    /// `gradlab bench`'s UI-frame part.
    pub ui_frames: Option<bench::ExternalPart>,
}

/// Runs one subcommand; the caller prints the output and turns an error into exit code 1.
pub fn run(cli: &Cli, command: &Command, hooks: Hooks) -> anyhow::Result<(Output, bool)> {
    let data_dir = cli.data_dir();
    match command {
        Command::Theory(a) => {
            let store = cli.store_unless(a.print_config)?;
            Ok((theory::run_recorded(a, store.as_ref())?, a.json))
        }
        Command::Graph(a) => {
            let store = cli.store_unless(a.print_config)?;
            Ok((graph::run_recorded(a, &data_dir, store.as_ref())?, a.json))
        }
        Command::Seg(a) => {
            let store = cli.store_unless(a.print_config)?;
            Ok((seg::run_recorded(a, &data_dir, store.as_ref())?, a.json))
        }
        Command::Predict(a) => Ok((predict::run(a)?, a.json)),
        Command::Bench(a) => Ok((bench::run(a, &data_dir, hooks.ui_frames)?, a.json)),
        Command::Data(a) => Ok((data::run(a, &data_dir)?, a.json)),
        Command::Report(a) => Ok((report::run(a, &cli.run_store()?)?, a.json)),
        Command::Runs(a) => Ok((runs::run(a, &cli.runs_dir()?)?, a.json)),
        Command::Sweep(a) => sweep::run(a, || cli.runs_dir(), || cli.data_dir()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// A lab's subcommand is its id, and it still answers to its older names: the descriptor
    /// and the clap enum cannot drift apart.
    #[test]
    fn every_lab_is_a_subcommand_under_its_id_and_its_aliases() {
        let cli = super::Cli::command();
        for lab in crate::labs::descriptors() {
            let sub = cli
                .find_subcommand(lab.id)
                .unwrap_or_else(|| panic!("no subcommand {}", lab.id));
            let aliases: Vec<&str> = sub.get_all_aliases().collect();
            assert_eq!(aliases, lab.cli_aliases, "{}", lab.id);
        }
    }
}
