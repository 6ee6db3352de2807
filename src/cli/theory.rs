//! `gradlab theory`: the seven theory checks, headless.

use super::Output;
use super::progress::CliSink;
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
    run_recorded(args, None)
}

/// Runs the checks as one recorded run (when `store` is given); its main figure is how many
/// checks hold.
pub fn run_recorded(
    args: &TheoryArgs,
    store: Option<&crate::core::runs::RunStore>,
) -> anyhow::Result<Output> {
    // Bad input is refused before a run is recorded.
    if let Some(id) = &args.check
        && theory::info(id).is_none()
    {
        // The suite's own message lists the valid ids; it fails before running anything.
        let none = crate::experiments::StopFlag::new();
        let r = theory::run_suite(
            &TheoryParams::default(),
            Some(id),
            &mut crate::experiments::NullSink,
            &none,
        );
        return Err(r
            .err()
            .unwrap_or_else(|| anyhow::anyhow!("unknown theory check '{id}'")));
    }
    let mut sink = CliSink::new("theory");
    let params = TheoryParams::default();
    let run = crate::core::runs::NewRun {
        lab: "theory".into(),
        name: format!("theory {}", args.check.as_deref().unwrap_or("all checks")),
        config: serde_json::json!({ "check": args.check, "params": params }),
        main_metric: Some("checks_holding".into()),
        ..Default::default()
    };
    let (results, run_id) = super::runs::recorded(
        store,
        run,
        &mut sink,
        |s, stop| theory::run_suite(&params, args.check.as_deref(), s, stop),
        |r| {
            let mut s = theory::summary(r);
            s["checks_holding"] = serde_json::json!(r.iter().filter(|c| c.holds).count());
            Ok(s)
        },
        |_| Ok(Vec::new()),
    )?;
    sink.finish();
    let mut json = theory::summary(&results);
    let mut human = table(&results);
    if let Some(id) = run_id {
        json["run_ids"] = serde_json::json!([id]);
        human.push_str(&format!("\nrun {id}"));
    }
    Ok(Output { human, json })
}

/// Seconds for all seven checks with default parameters (`gradlab bench`'s `theory_suite_s`).
pub fn suite_seconds() -> anyhow::Result<f64> {
    theory::suite_seconds()
}

/// A readable table: id, verdict, worst vs tolerance, trials, seconds; corrected constructions
/// on their own line.
pub fn table(results: &[CheckResult]) -> String {
    let mut out = format!(
        "{:<20} {:<6} {:>12} {:>14} {:>8} {:>8}\n",
        "check", "holds", "worst", "tolerance", "trials", "seconds"
    );
    for r in results {
        out.push_str(&format!(
            "{:<20} {:<6} {:>12.4e} {:>14e} {:>8} {:>8.2}\n",
            r.id,
            if r.holds { "yes" } else { "NO" },
            r.worst,
            r.tolerance,
            r.trials,
            r.seconds
        ));
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
