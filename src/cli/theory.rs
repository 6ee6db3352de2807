//! `gradlab theory`.

use super::Output;

#[derive(clap::Args, Debug)]
pub struct TheoryArgs {
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &TheoryArgs) -> anyhow::Result<Output> {
    let _ = args;
    anyhow::bail!("gradlab theory is not built yet")
}
