//! What a check finds and how it says so: results, conditions, verdicts, counterexamples,
//! plots, and the helpers every check uses to judge its trials.

use crate::core::{Sink, StopFlag};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Instant;

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

impl PlotInfo {
    /// The plot drawn this way with these curves (a result's, or a running check's so far).
    pub fn with_curves(&self, curves: Vec<(String, Vec<[f64; 2]>)>) -> PlotData {
        PlotData {
            key: self.key.into(),
            title: self.title.into(),
            x_label: self.x_label.into(),
            y_label: self.y_label.into(),
            log_x: self.log_x,
            log_y: self.log_y,
            curves,
        }
    }
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
            .map(|(i, p)| {
                p.with_curves(
                    self.curves
                        .iter()
                        .filter(|(pi, _, _)| *pi == i)
                        .map(|(_, n, pts)| (n.clone(), pts.clone()))
                        .collect(),
                )
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
