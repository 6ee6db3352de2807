//! Headless front end: the same experiments as the GUI, a progress bar on stderr, JSON on stdout.

pub mod bench;
pub mod data;
pub mod graph;
pub mod progress;
pub mod runs;
pub mod seg;
pub mod theory;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "gradlab",
    version,
    about = "A desktop laboratory for deep learning: theory checks, GCN/GAT on Cora, U-Net segmentation.\nWithout a subcommand it opens the GUI."
)]
pub struct Cli {
    /// Where datasets live (default: datasets/ in the working directory).
    #[arg(long, global = true, env = "GRADLAB_DATA")]
    pub data_dir: Option<PathBuf>,
    /// Where the run store lives (default: the platform data folder, e.g.
    /// ~/.local/share/gradlab/runs).
    #[arg(long, global = true, env = "GRADLAB_RUNS")]
    pub runs_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check the theory claims numerically.
    Theory(theory::TheoryArgs),
    /// Train GCN / GAT / MLP for node classification.
    Graph(graph::GraphArgs),
    /// Train a U-Net for segmentation, with skip connections on or off.
    Seg(seg::SegArgs),
    /// Time the hot paths.
    Bench(bench::BenchArgs),
    /// Dataset catalog: list, fetch, verify.
    Data(data::DataArgs),
    /// Recorded runs: list, show, export, delete, restore, purge.
    Runs(runs::RunsArgs),
}

impl Cli {
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("datasets"))
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
}

/// What a subcommand produced: the JSON object for `--json`, and text for people otherwise.
pub struct Output {
    pub json: serde_json::Value,
    pub human: String,
}

/// Runs one subcommand; the caller prints the output and turns an error into exit code 1.
pub fn run(cli: &Cli, command: &Command) -> anyhow::Result<(Output, bool)> {
    let data_dir = cli.data_dir();
    match command {
        Command::Theory(a) => Ok((theory::run_recorded(a, Some(&cli.run_store()?))?, a.json)),
        Command::Graph(a) => Ok((
            graph::run_recorded(a, &data_dir, Some(&cli.run_store()?))?,
            a.json,
        )),
        Command::Seg(a) => Ok((
            seg::run_recorded(a, &data_dir, Some(&cli.run_store()?))?,
            a.json,
        )),
        Command::Bench(a) => Ok((bench::run(a, &data_dir)?, a.json)),
        Command::Data(a) => Ok((data::run(a, &data_dir)?, a.json)),
        Command::Runs(a) => Ok((runs::run(a, &cli.runs_dir()?)?, a.json)),
    }
}
