//! The list of checks and running them: one by id, or all in order for the CLI, the bench and
//! the GUI's "Run all".

use super::check::{Check, Entry};
use super::claims::{CheckInfo, CheckResult, SuiteResult};
use super::params::TheoryParams;
use super::{
    attention_conv1d, attention_maxpool, jl_near_orthogonal, linear_attention, lowrank_attention,
    relu_chain, rnn_sigmoid_bound,
};
use crate::core::{Event, Sink, StopFlag, Summary};
use serde_json::json;
use std::time::Instant;

/// Every check, in the order the lab lists them. Adding a check: one file with its `CHECK`
/// and one line here (plus its parameters' field in [`TheoryParams`]).
pub static CHECKS: [&dyn Check; 7] = [
    &Entry {
        def: &relu_chain::CHECK,
        params: |t| &t.relu_chain,
        params_mut: |t| &mut t.relu_chain,
    },
    &Entry {
        def: &rnn_sigmoid_bound::CHECK,
        params: |t| &t.rnn_sigmoid_bound,
        params_mut: |t| &mut t.rnn_sigmoid_bound,
    },
    &Entry {
        def: &linear_attention::CHECK,
        params: |t| &t.linear_attention,
        params_mut: |t| &mut t.linear_attention,
    },
    &Entry {
        def: &lowrank_attention::CHECK,
        params: |t| &t.lowrank_attention,
        params_mut: |t| &mut t.lowrank_attention,
    },
    &Entry {
        def: &attention_conv1d::CHECK,
        params: |t| &t.attention_conv1d,
        params_mut: |t| &mut t.attention_conv1d,
    },
    &Entry {
        def: &attention_maxpool::CHECK,
        params: |t| &t.attention_maxpool,
        params_mut: |t| &mut t.attention_maxpool,
    },
    &Entry {
        def: &jl_near_orthogonal::CHECK,
        params: |t| &t.jl_near_orthogonal,
        params_mut: |t| &mut t.jl_near_orthogonal,
    },
];

pub fn ids() -> Vec<&'static str> {
    CHECKS.iter().map(|c| c.info().id).collect()
}

/// The check `id`.
pub fn check(id: &str) -> Option<&'static dyn Check> {
    CHECKS.iter().copied().find(|c| c.info().id == id)
}

pub fn info(id: &str) -> Option<&'static CheckInfo> {
    check(id).map(|c| c.info())
}

/// Runs one check by id.
pub fn run_check(
    id: &str,
    p: &TheoryParams,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<CheckResult> {
    match check(id) {
        Some(c) => c.run(p, sink, stop),
        None => anyhow::bail!(
            "unknown theory check '{id}'; valid ids: {}",
            ids().join(", ")
        ),
    }
}

/// Runs every check (or only `only`), in the registry's order, and returns `{"checks": [...]}`.
pub fn run_all(
    p: &TheoryParams,
    only: Option<&str>,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<Summary> {
    Ok(summary(&run_suite(p, only, sink, stop)?))
}

/// [`run_all`]'s results as values. Progress is reported over the whole suite; each result is
/// also sent as a payload, and the results so far as a [`SuiteResult`] after each check (the
/// last one holds them all).
pub fn run_suite(
    p: &TheoryParams,
    only: Option<&str>,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<Vec<CheckResult>> {
    let selected: Vec<&str> = match only {
        Some(id) => {
            info(id).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown theory check '{id}'; valid ids: {}",
                    ids().join(", ")
                )
            })?;
            vec![id]
        }
        None => ids(),
    };
    let mut results = Vec::new();
    let total = selected.len() as u64;
    for (i, id) in selected.iter().enumerate() {
        if stop.is_stopped() {
            break;
        }
        let mut scaled = ScaledProgress {
            inner: &mut *sink,
            index: i as u64,
            count: total,
        };
        let r = run_check(id, p, &mut scaled, stop)?;
        sink.payload(Box::new(r.clone()));
        results.push(r);
        // The results so far: a watcher shows each verdict as soon as its check is done.
        if i + 1 < selected.len() {
            sink.payload(Box::new(SuiteResult(results.clone())));
        }
        sink.progress(
            (i as u64 + 1) * ScaledProgress::UNIT,
            total * ScaledProgress::UNIT,
        );
    }
    sink.payload(Box::new(SuiteResult(results.clone())));
    Ok(results)
}

/// `{"checks": [...]}` of some results.
pub fn summary(results: &[CheckResult]) -> Summary {
    json!({ "checks": results })
}

/// Wall-clock seconds of all seven checks with default parameters and no output (for
/// `gradlab bench`'s `theory_suite_s`). Verdicts are not its business.
pub fn suite_seconds() -> anyhow::Result<f64> {
    let t = Instant::now();
    run_all(
        &TheoryParams::default(),
        None,
        &mut crate::core::NullSink,
        &StopFlag::new(),
    )?;
    Ok(t.elapsed().as_secs_f64())
}

/// Maps one check's progress into its slice of the suite's progress bar.
struct ScaledProgress<'a> {
    inner: &'a mut dyn Sink,
    index: u64,
    count: u64,
}

impl ScaledProgress<'_> {
    const UNIT: u64 = 1000;
}

impl Sink for ScaledProgress<'_> {
    fn event(&mut self, event: Event) {
        match event {
            Event::Progress { done, total } => {
                let frac = (done.min(total) * Self::UNIT)
                    .checked_div(total)
                    .unwrap_or(0);
                self.inner
                    .progress(self.index * Self::UNIT + frac, self.count * Self::UNIT);
            }
            // Only the suite's own payload reaches the watcher, so per-check payloads are
            // forwarded by run_all itself.
            Event::Payload(_) => {}
            other => self.inner.event(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::VecSink;
    use crate::labs::theory::claims::*;

    /// A watcher gets the results so far after every check (the Theory tab shows each verdict
    /// as soon as its check is done), the last one with all of them.
    #[test]
    fn the_suite_streams_its_results_check_by_check() {
        let mut sink = VecSink::default();
        let all = run_suite(&TheoryParams::default(), None, &mut sink, &StopFlag::new()).unwrap();
        let sizes: Vec<usize> = sink
            .events
            .iter()
            .filter_map(|e| match e {
                crate::core::Event::Payload(p) => {
                    p.downcast_ref::<SuiteResult>().map(|s| s.0.len())
                }
                _ => None,
            })
            .collect();
        assert_eq!(sizes, (1..=all.len()).collect::<Vec<_>>());
    }

    #[test]
    fn worst_keeps_smallest_counterexample_and_nan_is_a_violation() {
        let mut w = Worst::new(1.0);
        let cx = |s: &str| Counterexample {
            input: json!(s),
            expected: json!(0),
            got: json!(1),
            note: String::new(),
        };
        w.trial(0.5, 1.0, || cx("ok"));
        assert!(w.holds());
        w.trial(2.0, 5.0, || cx("big"));
        w.trial(3.0, 2.0, || cx("small"));
        w.trial(9.0, 4.0, || cx("mid"));
        assert!(!w.holds());
        assert_eq!(w.counterexample().unwrap().input, json!("small"));
        assert_eq!(w.worst, 9.0);
        let mut n = Worst::new(1.0);
        n.trial(f64::NAN, 1.0, || cx("nan"));
        assert!(!n.holds());
        assert!(n.worst.is_nan());
        assert_eq!(n.trials, 1);
    }

    #[test]
    fn verdicts_combine_and_a_stopped_or_empty_check_is_inconclusive() {
        use Verdict::*;
        assert_eq!(Verdict::all([Holds, Holds]), Holds);
        assert_eq!(Verdict::all([Holds, Inconclusive]), Inconclusive);
        assert_eq!(Verdict::all([Inconclusive, Fails, Holds]), Fails);
        assert_eq!(Verdict::all([]), Inconclusive);
        let empty = Worst::new(1.0);
        assert_eq!(Verdict::of(&empty, false), Inconclusive);
        let mut ok = Worst::new(1.0);
        ok.trial(0.5, 1.0, || unreachable!());
        assert_eq!(Verdict::of(&ok, false), Holds);
        assert_eq!(Verdict::of(&ok, true), Inconclusive);
        let mut bad = Worst::new(1.0);
        bad.trial(2.0, 1.0, || Counterexample {
            input: json!(1),
            expected: json!(0),
            got: json!(1),
            note: String::new(),
        });
        assert_eq!(Verdict::of(&bad, true), Fails);
        assert_eq!(
            serde_json::to_value(Inconclusive).unwrap(),
            json!("inconclusive")
        );
    }

    /// Every check reports a verdict per condition, at least one of them stated, and a check
    /// stopped before it judged anything is inconclusive, never "holds".
    #[test]
    fn every_check_reports_conditions_and_stopped_ones_are_inconclusive() {
        let stop = StopFlag::new();
        stop.stop();
        for id in ids() {
            let r =
                run_check(id, &TheoryParams::default(), &mut VecSink::default(), &stop).unwrap();
            assert!(r.conditions.iter().any(|c| c.stated), "{id}");
            assert_ne!(r.verdict, Verdict::Holds, "{id} stopped yet holds");
            assert!(!r.holds, "{id}");
        }
    }

    #[test]
    fn unknown_id_lists_the_valid_ones() {
        let e = run_all(
            &TheoryParams::default(),
            Some("nope"),
            &mut VecSink::default(),
            &StopFlag::new(),
        )
        .unwrap_err();
        let msg = e.to_string();
        for id in ids() {
            assert!(msg.contains(id), "{msg}");
        }
    }

    #[test]
    fn registry_ids_are_the_cli_contract() {
        assert_eq!(
            ids(),
            [
                "relu_chain",
                "rnn_sigmoid_bound",
                "linear_attention",
                "lowrank_attention",
                "attention_conv1d",
                "attention_maxpool",
                "jl_near_orthogonal"
            ]
        );
    }

    #[test]
    fn scaled_progress_stays_inside_its_slice() {
        let mut v = VecSink::default();
        {
            let mut s = ScaledProgress {
                inner: &mut v,
                index: 2,
                count: 4,
            };
            s.progress(5, 10);
            s.progress(10, 10);
        }
        let ps: Vec<_> = v
            .events
            .iter()
            .filter_map(|e| {
                if let Event::Progress { done, total } = e {
                    Some((*done, *total))
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(ps, [(2500, 4000), (3000, 4000)]);
    }

    #[test]
    fn round_keeps_seven_significant_digits() {
        assert_eq!(round(1.23456789), 1.234568);
        assert_eq!(round(0.000123456789), 0.0001234568);
        assert_eq!(round(0.0), 0.0);
    }

    #[test]
    fn a_stopped_check_returns_quickly_marked_partial() {
        let stop = StopFlag::new();
        stop.stop();
        for id in ids() {
            let t = Instant::now();
            let r =
                run_check(id, &TheoryParams::default(), &mut VecSink::default(), &stop).unwrap();
            assert!(r.stopped, "{id}");
            assert_eq!(r.id, id);
            assert!(
                t.elapsed().as_secs_f64() < 1.0,
                "{id} ignored the stop flag"
            );
        }
        let all = run_all(
            &TheoryParams::default(),
            None,
            &mut VecSink::default(),
            &stop,
        )
        .unwrap();
        assert_eq!(all["checks"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn run_all_of_one_id_sends_its_payloads() {
        let mut sink = VecSink::default();
        let s = run_all(
            &TheoryParams::default(),
            Some("attention_conv1d"),
            &mut sink,
            &StopFlag::new(),
        )
        .unwrap();
        assert_eq!(s["checks"][0]["id"], "attention_conv1d");
        assert_eq!(sink.latest_payload::<SuiteResult>().unwrap().0.len(), 1);
        assert!(sink.latest_payload::<CheckResult>().is_some());
        assert!(!sink.series("attention_conv1d/sample/input x_i").is_empty());
    }
}
