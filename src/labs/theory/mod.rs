//! The Theory lab: seven claims from the homework, each turned into a numerical check that can
//! fail. A check takes its parameters, a sink for live curves and a stop flag, and returns a
//! [`CheckResult`]; [`run_all`] runs them in order for the CLI, the bench and the GUI's "Run all".

pub mod attention_conv1d;
pub mod attention_maxpool;
pub mod check;
pub mod cli;
pub mod config;
pub mod descriptor;
pub mod jl_near_orthogonal;
pub mod linalg;
pub mod linear_attention;
pub mod lowrank_attention;
pub mod readable;
pub mod relu_chain;
pub mod report;
pub mod rnn_sigmoid_bound;
pub mod timing;
pub mod ui;

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::{Event, Sink, StopFlag, Summary};

pub use check::Check;

pub use descriptor::{DESCRIPTOR, metric};

/// The smallest input found on which a claim (or a construction) does not hold.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Counterexample {
    pub input: Value,
    pub expected: Value,
    pub got: Value,
    pub note: String,
}

/// A construction that repairs a wrong one, checked on the same trials.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Corrected {
    pub construction: String,
    pub holds: bool,
    pub worst: f64,
    /// The counterexample's input run through the corrected construction.
    pub example: Option<Counterexample>,
}

/// One plot of a check: named curves plus how to draw them.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PlotData {
    pub key: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub curves: Vec<(String, Vec<[f64; 2]>)>,
}

/// A verdict on one condition. A counterexample settles "fails" even in a stopped check; "holds"
/// needs every planned trial judged without one, so a stopped check or one with zero judged
/// trials is "inconclusive".
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Holds,
    Fails,
    Inconclusive,
}

impl Verdict {
    pub fn of(w: &Worst, stopped: bool) -> Verdict {
        if !w.holds() {
            Verdict::Fails
        } else if w.trials == 0 || stopped {
            Verdict::Inconclusive
        } else {
            Verdict::Holds
        }
    }

    /// Fails if any fails, else inconclusive if any is, else holds (and inconclusive for none).
    pub fn all(vs: impl IntoIterator<Item = Verdict>) -> Verdict {
        let mut out = None;
        for v in vs {
            out = Some(match (out, v) {
                (_, Verdict::Fails) | (Some(Verdict::Fails), _) => Verdict::Fails,
                (_, Verdict::Inconclusive) | (Some(Verdict::Inconclusive), _) => {
                    Verdict::Inconclusive
                }
                _ => Verdict::Holds,
            });
        }
        out.unwrap_or(Verdict::Inconclusive)
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Fails => "fails",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// One stated condition of a claim and what the trials under it found.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Condition {
    pub condition: String,
    /// Part of the claim as stated (its verdict enters the check's `verdict`); false for a
    /// variant shown beside it (another convention, a restricted input set, a corrected form).
    pub stated: bool,
    pub verdict: Verdict,
    pub trials: u64,
    pub worst: f64,
    pub tolerance: f64,
    pub counterexample: Option<Counterexample>,
}

impl Condition {
    pub fn judged(condition: impl Into<String>, stated: bool, w: &Worst, stopped: bool) -> Self {
        Self {
            condition: condition.into(),
            stated,
            verdict: Verdict::of(w, stopped),
            trials: w.trials,
            worst: w.worst,
            tolerance: w.tolerance,
            counterexample: w.counterexample(),
        }
    }
}

/// What a check found. `verdict` is that of the claim as stated: the combination
/// ([`Verdict::all`]) of its stated conditions; `holds` is `verdict == Holds`. A single bad trial
/// makes a condition fail.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CheckResult {
    pub id: String,
    pub claim: String,
    pub holds: bool,
    pub verdict: Verdict,
    /// Every stated condition and variant with its own verdict and counterexample.
    pub conditions: Vec<Condition>,
    pub trials: u64,
    pub worst: f64,
    pub tolerance: f64,
    pub counterexample: Option<Counterexample>,
    pub seconds: f64,
    /// The check's own figures (slopes, counts, tightness).
    pub figures: Value,
    pub corrected: Option<Corrected>,
    pub notes: Vec<String>,
    pub plots: Vec<PlotData>,
    /// The user stopped the check: the figures cover only the trials done.
    pub stopped: bool,
}

/// Every check's result of one "Run all", sent as one payload (a job keeps only the latest
/// payload of each type, so the per-check payloads alone would lose all but the last).
#[derive(Clone, Debug, Serialize)]
pub struct SuiteResult(pub Vec<CheckResult>);

/// How a plot of a check is drawn; the GUI uses it for live curves before the result exists.
#[derive(Clone, Copy, Debug)]
pub struct PlotInfo {
    pub key: &'static str,
    pub title: &'static str,
    pub x_label: &'static str,
    pub y_label: &'static str,
    pub log_x: bool,
    pub log_y: bool,
}

/// A claim as the lab lists it.
#[derive(Clone, Copy, Debug)]
pub struct CheckInfo {
    pub id: &'static str,
    pub title: &'static str,
    pub claim: &'static str,
    /// The claim in formulas (unicode), for the GUI.
    pub formulas: &'static str,
    /// Recomputes fast enough (well under a second) to follow the sliders.
    pub quick: bool,
    pub plots: &'static [PlotInfo],
}

/// Every check, in the order the lab lists them. Adding a check: one file with its `CHECK`
/// and one line here (plus its parameters' field in [`TheoryParams`]).
pub static CHECKS: [&dyn Check; 7] = [
    &relu_chain::CHECK,
    &rnn_sigmoid_bound::CHECK,
    &linear_attention::CHECK,
    &lowrank_attention::CHECK,
    &attention_conv1d::CHECK,
    &attention_maxpool::CHECK,
    &jl_near_orthogonal::CHECK,
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

/// The parameters of all seven checks (what the GUI persists and the CLI runs with).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TheoryParams {
    pub relu_chain: relu_chain::Params,
    pub rnn_sigmoid_bound: rnn_sigmoid_bound::Params,
    pub linear_attention: linear_attention::Params,
    pub lowrank_attention: lowrank_attention::Params,
    pub attention_conv1d: attention_conv1d::Params,
    pub attention_maxpool: attention_maxpool::Params,
    pub jl_near_orthogonal: jl_near_orthogonal::Params,
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

/// Collects the curves of a check and streams each point to the sink as `"{id}/{plot}/{curve}"`,
/// so the GUI can draw them live and the result carries the same data.
pub struct Recorder {
    id: &'static str,
    plots: &'static [PlotInfo],
    curves: Vec<(usize, String, Vec<[f64; 2]>)>,
}

impl Recorder {
    pub fn new(info: &'static CheckInfo) -> Self {
        Self {
            id: info.id,
            plots: info.plots,
            curves: Vec::new(),
        }
    }

    pub fn point(&mut self, sink: &mut dyn Sink, plot: &str, curve: &str, x: f64, y: f64) {
        let pi = self
            .plots
            .iter()
            .position(|p| p.key == plot)
            .unwrap_or_else(|| panic!("{} has no plot '{plot}'", self.id));
        match self
            .curves
            .iter_mut()
            .find(|(p, n, _)| *p == pi && n == curve)
        {
            Some((_, _, pts)) => pts.push([x, y]),
            None => self.curves.push((pi, curve.to_string(), vec![[x, y]])),
        }
        sink.metric(&series_name(self.id, plot, curve), x, y);
    }

    pub fn into_plots(self) -> Vec<PlotData> {
        self.plots
            .iter()
            .enumerate()
            .map(|(i, p)| PlotData {
                key: p.key.into(),
                title: p.title.into(),
                x_label: p.x_label.into(),
                y_label: p.y_label.into(),
                log_x: p.log_x,
                log_y: p.log_y,
                curves: self
                    .curves
                    .iter()
                    .filter(|(pi, _, _)| *pi == i)
                    .map(|(_, n, pts)| (n.clone(), pts.clone()))
                    .collect(),
            })
            .collect()
    }
}

/// The metric series name of one curve: `"{check id}/{plot key}/{curve name}"`.
pub fn series_name(id: &str, plot: &str, curve: &str) -> String {
    format!("{id}/{plot}/{curve}")
}

/// Keeps the worst measured value and the smallest counterexample over a check's trials.
/// "Smallest" is by a size key the check chooses (sequence length, then magnitude, ...).
pub struct Worst {
    pub tolerance: f64,
    pub worst: f64,
    pub trials: u64,
    best: Option<(f64, Counterexample)>,
}

impl Worst {
    pub fn new(tolerance: f64) -> Self {
        Self {
            tolerance,
            worst: 0.0,
            trials: 0,
            best: None,
        }
    }

    /// Records one trial with measured value `value` (an error or a ratio; NaN counts as a
    /// violation); `make` builds its counterexample only when it violates the claim.
    pub fn trial(&mut self, value: f64, size: f64, make: impl FnOnce() -> Counterexample) {
        self.trials += 1;
        let bad = value.is_nan() || value > self.tolerance;
        if value.is_nan() || value > self.worst {
            // NaN is worse than any number: keep it visible as the worst.
            if !self.worst.is_nan() {
                self.worst = value;
            }
        }
        if bad && self.best.as_ref().is_none_or(|(s, _)| size < *s) {
            self.best = Some((size, make()));
        }
    }

    pub fn holds(&self) -> bool {
        self.best.is_none()
    }

    pub fn counterexample(&self) -> Option<Counterexample> {
        self.best.as_ref().map(|(_, c)| c.clone())
    }
}

/// Size key of a sequence counterexample: shorter first, then integer inputs (readable), then
/// smaller L1 norm.
pub fn sequence_size(x: &[f64]) -> f64 {
    let fractional = x.iter().any(|v| v.fract() != 0.0);
    x.len() as f64 * 1e6
        + if fractional { 1e3 } else { 0.0 }
        + x.iter().map(|v| v.abs()).sum::<f64>()
}

/// Rounds for JSON so counterexamples stay readable.
pub fn round(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    let digits = 6 - v.abs().log10().floor() as i32;
    if digits <= 0 {
        return v;
    }
    let m = 10f64.powi(digits.min(300));
    (v * m).round() / m
}

pub fn round_vec(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| round(*x)).collect()
}

impl CheckResult {
    /// Replaces the conditions and recomputes `verdict` and `holds` from the stated ones.
    pub fn set_conditions(&mut self, conditions: Vec<Condition>) {
        self.conditions = conditions;
        self.refresh_verdict();
    }

    pub fn push_condition(&mut self, c: Condition) {
        self.conditions.push(c);
        self.refresh_verdict();
    }

    fn refresh_verdict(&mut self) {
        self.verdict = Verdict::all(
            self.conditions
                .iter()
                .filter(|c| c.stated)
                .map(|c| c.verdict),
        );
        self.holds = self.verdict == Verdict::Holds;
    }
}

/// The common part of every result, with one stated condition ("as stated", over all trials);
/// the check then refines the conditions and sets its figures, notes and corrections.
pub fn finish(
    info: &CheckInfo,
    started: Instant,
    w: &Worst,
    rec: Recorder,
    stop: &StopFlag,
) -> CheckResult {
    let stated = Condition::judged("as stated, over every trial", true, w, stop.is_stopped());
    let verdict = stated.verdict;
    CheckResult {
        id: info.id.into(),
        claim: info.claim.into(),
        holds: verdict == Verdict::Holds,
        verdict,
        conditions: vec![stated],
        trials: w.trials,
        worst: w.worst,
        tolerance: w.tolerance,
        counterexample: w.counterexample(),
        seconds: started.elapsed().as_secs_f64(),
        figures: Value::Null,
        corrected: None,
        notes: Vec::new(),
        plots: rec.into_plots(),
        stopped: stop.is_stopped(),
    }
}

/// The O(n) part of the claim as a condition: one judged "trial", the fitted slope against 1.5;
/// no slope (fewer than two sizes) leaves it inconclusive.
pub fn slope_condition(name: &str, slope: f64, ns: &[usize], stopped: bool) -> Condition {
    let mut w = Worst::new(1.5);
    if !slope.is_nan() {
        w.trial(slope, 0.0, || Counterexample {
            input: json!({ "n_values": ns }),
            expected: json!("log-log slope <= 1.5 (claimed 1)"),
            got: json!(round(slope)),
            note: "time grew faster than linearly; on a loaded machine rerun before believing it"
                .into(),
        });
    }
    Condition::judged(name, true, &w, stopped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::VecSink;

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
