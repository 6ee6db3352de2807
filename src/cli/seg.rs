//! `gradlab seg`.

use super::Output;

#[derive(clap::Args, Debug)]
pub struct SegArgs {
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &SegArgs, _data_dir: &std::path::Path) -> anyhow::Result<Output> {
    let _ = args;
    anyhow::bail!("gradlab seg is not built yet")
}
