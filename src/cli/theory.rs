//! `gradlab theory`: the seven theory checks, headless.

use super::Output;
use super::progress::CliSink;
use crate::experiments::StopFlag;
use crate::experiments::theory::{self, CheckResult, TheoryParams};

#[derive(clap::Args, Debug)]
pub struct TheoryArgs {
    /// Run only this check (one of: relu_chain, rnn_sigmoid_bound, linear_attention,
    /// lowrank_attention, attention_conv1d, attention_maxpool, jl_near_orthogonal).
    #[arg(long, value_name = "ID")]
    pub check: Option<String>,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &TheoryArgs) -> anyhow::Result<Output> {
    let mut sink = CliSink::new("theory");
    let results = theory::run_suite(
        &TheoryParams::default(),
        args.check.as_deref(),
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
