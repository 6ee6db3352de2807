//! `gradlab bench`.

use super::Output;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &BenchArgs, _data_dir: &std::path::Path) -> anyhow::Result<Output> {
    let _ = args;
    anyhow::bail!("gradlab bench is not built yet")
}
