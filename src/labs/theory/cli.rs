//! `gradlab theory`: the seven theory checks, headless.

use crate::core::descriptor::SweepHooks;
use crate::core::progress::CliSink;
use crate::core::runs::{NewRun, RecordTo, RunId, RunStore, recorded_stoppable};
use crate::core::{Sink, StopFlag, Summary};
use crate::labs::lab::CliOutput as Output;
use crate::labs::lab::{flags_of, parse_flags};
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

/// How a sweep plans and runs this lab's runs: one run per point, the checks have no seed.
pub const SWEEP: SweepHooks = SweepHooks {
    flags: || flags_of::<TheoryArgs>(super::keys::ID),
    seeds: |words, _| {
        sweep_config(words)?;
        Ok(vec![None])
    },
    plan: |words, _| Ok(vec![(None, new_run(&sweep_config(words)?)?.config_key())]),
    run_one: |words, _, _, store, sink, stop| {
        let rec = RecordTo {
            store: Some(store),
            command: "",
        };
        let (_, id) = run_suite_recorded(&sweep_config(words)?, rec, sink, stop)?;
        id.ok_or_else(|| anyhow::anyhow!("the checks were not recorded"))
    },
    presets: &[],
};

/// The config of one sweep point, its check id checked.
fn sweep_config(words: &[String]) -> anyhow::Result<TheoryConfig> {
    let args: TheoryArgs = parse_flags(super::keys::ID, words)?;
    check_id(args.config.check.as_deref())?;
    Ok(args.config)
}

/// Refuses an unknown check id, naming the valid ones.
fn check_id(check: Option<&str>) -> anyhow::Result<()> {
    if let Some(id) = check {
        anyhow::ensure!(
            theory::info(id).is_some(),
            "unknown theory check '{id}'; valid ids: {}",
            theory::ids().join(", ")
        );
    }
    Ok(())
}

/// What a run of `config` is recorded as.
pub fn new_run(config: &TheoryConfig) -> anyhow::Result<NewRun> {
    Ok(NewRun {
        lab: super::keys::ID.into(),
        name: format!("theory {}", config.check.as_deref().unwrap_or("all checks")),
        config: serde_json::to_value(config)?,
        main_metric: Some(super::keys::metric::CHECKS_HOLDING.into()),
        ..Default::default()
    })
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
    // Bad input is refused before a run is recorded.
    check_id(args.config.check.as_deref())?;
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
    let run = rec.run(new_run(config)?);
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
