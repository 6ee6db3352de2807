//! `gradlab data`.

use super::Output;

#[derive(clap::Args, Debug)]
pub struct DataArgs {
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &DataArgs, _data_dir: &std::path::Path) -> anyhow::Result<Output> {
    let _ = args;
    anyhow::bail!("gradlab data is not built yet")
}
