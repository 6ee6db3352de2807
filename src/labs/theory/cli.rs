//! `gradlab theory`: the seven theory checks, headless.

use crate::core::StopFlag;
use crate::core::progress::CliSink;
use crate::labs::CliOutput as Output;
use crate::labs::theory::config::TheoryConfig;
use crate::labs::theory::{self, CheckResult};

#[derive(clap::Args, Debug)]
pub struct TheoryArgs {
    #[command(flatten)]
    pub config: TheoryConfig,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print the resolved config as JSON and exit.
    #[arg(long)]
    pub print_config: bool,
}

pub fn run(args: &TheoryArgs) -> anyhow::Result<Output> {
    if args.print_config {
        return Output::config(&args.config);
    }
    let mut sink = CliSink::new("theory");
    let results = theory::run_suite(
        &args.config.params,
        args.config.check.as_deref(),
        &mut sink,
        &StopFlag::new(),
    )?;
    sink.finish();
    Ok(Output {
        human: table(&results),
        json: theory::summary(&results),
    })
}

/// Seconds for all seven checks with default parameters (`gradlab bench`'s `theory_suite_s`).
pub fn suite_seconds() -> anyhow::Result<f64> {
    theory::suite_seconds()
}

/// A readable table: id, verdict, worst vs tolerance, trials, seconds; corrected constructions
/// on their own line.
pub fn table(results: &[CheckResult]) -> String {
    let mut out = format!(
        "{:<20} {:<12} {:>12} {:>14} {:>8} {:>8}\n",
        "check", "verdict", "worst", "tolerance", "trials", "seconds"
    );
    for r in results {
        out.push_str(&format!(
            "{:<20} {:<12} {:>12.4e} {:>14e} {:>8} {:>8.2}\n",
            r.id,
            r.verdict.label(),
            r.worst,
            r.tolerance,
            r.trials,
            r.seconds
        ));
        for c in &r.conditions {
            out.push_str(&format!(
                "  {:<12} {}{}\n",
                c.verdict.label(),
                if c.stated { "" } else { "variant: " },
                c.condition
            ));
        }
        if let Some(c) = &r.corrected {
            out.push_str(&format!(
                "  corrected ({}): holds {}, worst {:.4e}\n",
                c.construction,
                if c.holds { "yes" } else { "NO" },
                c.worst
            ));
        }
    }
    let total: f64 = results.iter().map(|r| r.seconds).sum();
    out.push_str(&format!(
        "{} checks in {total:.2} s; --json for counterexamples, figures and notes",
        results.len()
    ));
    out
}
