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
    presets: super::presets::PRESETS,
};

/// The config of one sweep point, its check id checked.
fn sweep_config(words: &[String]) -> anyhow::Result<TheoryConfig> {
    let args: TheoryArgs = parse_flags(super::keys::ID, words)?;
    check_config(&args.config)?;
    Ok(args.config)
}

/// Refuses an unknown check id, naming the valid ones, and parameters of a check that `--check`
/// does not run (they would change nothing but the run's config).
fn check_config(config: &TheoryConfig) -> anyhow::Result<()> {
    if let Some(id) = config.check.as_deref() {
        anyhow::ensure!(
            theory::info(id).is_some(),
            "unknown theory check '{id}'; valid ids: {}",
            theory::ids().join(", ")
        );
        let others: Vec<&str> = super::flags::changed_checks(&config.params)
            .into_iter()
            .filter(|c| *c != id)
            .collect();
        anyhow::ensure!(
            others.is_empty(),
            "--check {id} runs only {id}, but parameters of {} are given; drop them or run that check",
            others.join(", ")
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
    check_config(&args.config)?;
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
            // Every check's numeric figures as `CHECK.FIGURE`, so a sweep can read one.
            for c in r {
                for (k, v) in c.figures.as_object().into_iter().flatten() {
                    if v.is_number() {
                        s[format!("{}.{k}", c.id).as_str()] = v.clone();
                    }
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    /// A check's knob set on the command line is in the printed config and the run's key, and
    /// the figures the presets read are in the recorded summary.
    #[test]
    fn knob_flags_reach_the_config_key_and_the_figures_the_summary() {
        let base = words("--check rnn_sigmoid_bound --rnn-sigmoid-bound-trials-per-n 2");
        let mut three = base.clone();
        three.extend(words("--rnn-sigmoid-bound-n-max 3"));
        let printed = print_config(&three, std::path::Path::new(".")).unwrap();
        assert_eq!(printed["params"]["rnn_sigmoid_bound"]["n_max"], 3);
        let key = |w: &[String]| new_run(&sweep_config(w).unwrap()).unwrap().config_key();
        assert_ne!(key(&base), key(&three));
        let e = sweep_config(&words("--check relu_chain --rnn-sigmoid-bound-n-max 3"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("rnn_sigmoid_bound") && e.contains("relu_chain"),
            "{e}"
        );

        let dir = tempfile::tempdir().unwrap();
        let store = RunStore::open(dir.path()).unwrap();
        let id = (SWEEP.run_one)(
            &three,
            dir.path(),
            None,
            &store,
            &mut crate::core::NullSink,
            &StopFlag::new(),
        )
        .unwrap();
        let summary = store.get(id).unwrap().unwrap().summary.unwrap();
        let ratio = summary[super::super::keys::metric::RNN_RATIO_AT_N_MAX]
            .as_f64()
            .unwrap();
        assert!(ratio > 0.0 && ratio <= 1.0 + 1e-9, "{ratio}");

        let jl = words(
            "--check jl_near_orthogonal --jl-near-orthogonal-n 64 --jl-near-orthogonal-delta 0.5",
        );
        let id = (SWEEP.run_one)(
            &jl,
            dir.path(),
            None,
            &store,
            &mut crate::core::NullSink,
            &StopFlag::new(),
        )
        .unwrap();
        let summary = store.get(id).unwrap().unwrap().summary.unwrap();
        let count = summary[super::super::keys::metric::JL_COUNT]
            .as_u64()
            .unwrap();
        assert!(count >= 2, "{summary}");
        let checks = summary["checks"][0]["figures"]["counts"]
            .as_array()
            .unwrap();
        assert_eq!(checks.len(), 1, "one (n, delta): {checks:?}");
    }
}
