//! `gradlab theory`: the seven theory checks, headless.

use crate::core::progress::CliSink;
use crate::core::runs::{NewRun, RecordTo, RunId, RunStore, recorded_stoppable};
use crate::core::{Sink, StopFlag, Summary};
use crate::labs::lab::CliOutput as Output;
use crate::labs::lab::parse_flags;
use crate::labs::theory::config::TheoryConfig;
use crate::labs::theory::{self, CheckResult, Verdict};

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

/// The descriptor's config parser: `gradlab theory FLAGS --print-config` as a value.
pub fn print_config(
    words: &[String],
    _data_dir: &std::path::Path,
) -> anyhow::Result<serde_json::Value> {
    let args: TheoryArgs = parse_flags(super::keys::ID, words)?;
    Ok(serde_json::to_value(args.config)?)
}

pub fn run(args: &TheoryArgs) -> anyhow::Result<Output> {
    run_recorded(args, None)
}

/// Runs the checks as one recorded run (when `store` is given); its main figure is how many
/// checks hold.
pub fn run_recorded(args: &TheoryArgs, store: Option<&RunStore>) -> anyhow::Result<Output> {
    if args.print_config {
        return Output::config(&args.config);
    }
    let check = args.config.check.as_deref();
    // Bad input is refused before a run is recorded.
    if let Some(id) = check {
        anyhow::ensure!(
            theory::info(id).is_some(),
            "unknown theory check '{id}'; valid ids: {}",
            theory::ids().join(", ")
        );
    }
    let mut sink = CliSink::new("theory");
    let rec = RecordTo { store, command: "" };
    let (results, run_id) = run_suite_recorded(&args.config, rec, &mut sink, &StopFlag::new())?;
    sink.finish();
    let mut json = theory::summary(&results);
    let mut human = table(&results);
    if let Some(id) = run_id {
        json["run_ids"] = serde_json::json!([id]);
        human.push_str(&format!("\nrun {id}"));
    }
    Ok(Output { human, json })
}

/// The checks of `config` as one recorded run (when `rec` has a store), for the CLI and the GUI;
/// its main figure is how many checks hold.
pub fn run_suite_recorded(
    config: &TheoryConfig,
    rec: RecordTo<'_>,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<(Vec<CheckResult>, Option<RunId>)> {
    let check = config.check.as_deref();
    let run = rec.run(NewRun {
        lab: super::keys::ID.into(),
        name: format!("theory {}", check.unwrap_or("all checks")),
        config: serde_json::to_value(config)?,
        main_metric: Some(super::keys::metric::CHECKS_HOLDING.into()),
        ..Default::default()
    });
    let params = &config.params;
    recorded_stoppable(
        rec.store,
        run,
        sink,
        stop,
        |s, stop| theory::run_suite(params, check, s, stop),
        |r| {
            let mut s = theory::summary(r);
            s[super::keys::metric::CHECKS_HOLDING] =
                serde_json::json!(r.iter().filter(|c| c.verdict == Verdict::Holds).count());
            Ok(s)
        },
        |_| Ok(Vec::new()),
    )
}

/// [`theory::run_all`] recorded: the GUI's job (`run_ids` in the summary).
pub fn run_all_recorded(
    config: &TheoryConfig,
    rec: RecordTo<'_>,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<Summary> {
    let (results, id) = run_suite_recorded(config, rec, sink, stop)?;
    let mut s = theory::summary(&results);
    if let Some(id) = id {
        s["run_ids"] = serde_json::json!([id]);
    }
    Ok(s)
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
