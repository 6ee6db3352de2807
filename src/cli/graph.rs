//! `gradlab graph`.

use super::Output;

#[derive(clap::Args, Debug)]
pub struct GraphArgs {
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &GraphArgs, _data_dir: &std::path::Path) -> anyhow::Result<Output> {
    let _ = args;
    anyhow::bail!("gradlab graph is not built yet")
}
