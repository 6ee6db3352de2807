//! Claim 1: the derivative of a scalar ReLU chain is a product of weights and indicators; it
//! vanishes on the listed sign patterns and explodes with large weights. Checked against candle's
//! autograd and against finite differences.

use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::knob::{CheckDef, float, int, no_fixup, seed};
use super::linalg::{gauss, rng};
use super::{
    CheckInfo, CheckResult, Condition, Counterexample, PlotInfo, Recorder, Worst, finish, round,
    round_vec,
};
use crate::core::{Sink, StopFlag};

pub const ID: &str = "relu_chain";

pub const INFO: CheckInfo = CheckInfo {
    id: ID,
    title: "ReLU chain gradient",
    claim: "For h_0 = x, h_i = ReLU(w_i h_{i-1}), f(x) = h_n, the derivative is f'(x) = prod_i w_i 1[w_i h_{i-1} > 0], so 0 <= |f'(x)| <= prod_i |w_i|; it vanishes when some w_i = 0, when x = 0, when x < 0 and w_1 > 0, when x < 0 and some w_i < 0 (i > 1), when x > 0 and some w_i < 0, and explodes when the |w_i| are large.",
    formulas: "h_0 = x,  h_i = ReLU(w_i h_{i−1}),  f(x) = h_n\n\
               f′(x) = ∏_i w_i · 1[w_i h_{i−1} > 0]\n\
               0 ≤ |f′(x)| ≤ ∏_i |w_i|",
    quick: true,
    plots: &[
        PlotInfo {
            key: "magnitude",
            title: "log10 |f'(x)| of the non-vanished gradients vs depth",
            x_label: "depth n",
            y_label: "log10 |f'(x)|",
            log_x: false,
            log_y: false,
        },
        PlotInfo {
            key: "vanished",
            title: "share of draws with f'(x) = 0 vs depth",
            x_label: "depth n",
            y_label: "share vanished",
            log_x: false,
            log_y: false,
        },
    ],
};

/// The check as the lab lists it: its claim, its run and its parameters.
pub static CHECK: CheckDef<Params> = CheckDef {
    info: INFO,
    run,
    knobs: &[
        float!(
            weight_scale,
            "weight scale (geometric mean of |w_i|)",
            0.1,
            5.0,
            true
        ),
        float!(spread, "spread of ln|w_i|", 0.0, 2.0, false),
        float!(p_negative, "P(w_i < 0)", 0.0, 1.0, false),
        int!(max_depth, "max depth n", 1, 60, false),
        int!(trials_per_depth, "draws per depth", 10, 2000, true),
        seed!(),
    ],
    fixup: no_fixup,
};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Params {
    pub max_depth: usize,
    /// Geometric mean of |w_i|: below 1 gradients vanish with depth, above 1 they explode.
    pub weight_scale: f64,
    /// Standard deviation of ln|w_i| around ln(weight_scale).
    pub spread: f64,
    /// Probability that a weight is negative.
    pub p_negative: f64,
    pub trials_per_depth: usize,
    pub seed: u64,
    /// Test hook: use the formula without the indicators (wrong) to show the check can fail.
    #[serde(skip)]
    pub sabotage: bool,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            max_depth: 30,
            weight_scale: 1.0,
            spread: 0.5,
            p_negative: 0.1,
            trials_per_depth: 300,
            seed: 1,
            sabotage: false,
        }
    }
}

/// The claim's formula.
pub fn formula_grad(x: f64, w: &[f64]) -> f64 {
    let mut h = x;
    let mut g = 1.0;
    for &wi in w {
        let a = wi * h;
        g *= if a > 0.0 { wi } else { 0.0 };
        h = a.max(0.0);
    }
    g
}

pub fn forward(x: f64, w: &[f64]) -> f64 {
    w.iter().fold(x, |h, wi| (wi * h).max(0.0))
}

/// The wrong formula of the sabotage hook: the indicators forgotten.
fn broken_grad(_x: f64, w: &[f64]) -> f64 {
    w.iter().product()
}

/// Gradients of f at each `xs[b]` with weights `ws[b]` (all of depth n) by candle's autograd,
/// batched: the trials are independent, so d(sum_b f_b)/dx_b = f_b'(x_b).
pub fn autograd_grads(xs: &[f64], ws: &[Vec<f64>]) -> anyhow::Result<Vec<f64>> {
    let b = xs.len();
    let n = ws.first().map_or(0, |w| w.len());
    let dev = Device::Cpu;
    let x = Var::from_vec(xs.to_vec(), b, &dev)?;
    let flat: Vec<f64> = (0..n).flat_map(|i| ws.iter().map(move |w| w[i])).collect();
    let w = Tensor::from_vec(flat, (n, b), &dev)?;
    let mut h = x.as_tensor().clone();
    for i in 0..n {
        h = (w.get(i)? * h)?.relu()?;
    }
    let grads = h.sum_all()?.backward()?;
    let g = grads
        .get(x.as_tensor())
        .ok_or_else(|| anyhow::anyhow!("autograd gave no gradient for x"))?;
    Ok(g.to_vec1::<f64>()?)
}

/// One-sided derivatives at x (f is piecewise linear with its only kink at 0).
fn one_sided(x: f64, w: &[f64]) -> (f64, f64) {
    if x != 0.0 {
        let g = formula_grad(x, w);
        return (g, g);
    }
    (formula_grad(-1.0, w), formula_grad(1.0, w))
}

fn rel(a: f64, b: f64) -> f64 {
    let d = (a - b).abs();
    if d == 0.0 {
        0.0
    } else {
        d / a.abs().max(b.abs()).max(1e-300)
    }
}

/// A listed case: the sign pattern the claim says kills the gradient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Case {
    Random,
    ZeroWeight,
    ZeroInput,
    NegInputPosFirst,
    NegInputLaterNeg,
    PosInputSomeNeg,
    Exploding,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Random => "random draw",
            Case::ZeroWeight => "some w_i = 0",
            Case::ZeroInput => "x = 0",
            Case::NegInputPosFirst => "x < 0 and w_1 > 0",
            Case::NegInputLaterNeg => "x < 0 and some w_i < 0 (i > 1)",
            Case::PosInputSomeNeg => "x > 0 and some w_i < 0",
            Case::Exploding => "all |w_i| = 10, all w_i > 0, x > 0",
        }
    }
    fn vanishes(self) -> bool {
        !matches!(self, Case::Random | Case::Exploding)
    }
}

fn draw_weight(p: &Params, g: &mut rand::rngs::StdRng) -> f64 {
    let mag = p.weight_scale * (p.spread * gauss(g)).exp();
    if g.random::<f64>() < p.p_negative {
        -mag
    } else {
        mag
    }
}

/// Draws (x, w) for a listed case at depth n.
fn draw_case(case: Case, n: usize, p: &Params, g: &mut rand::rngs::StdRng) -> (f64, Vec<f64>) {
    let mut w: Vec<f64> = (0..n).map(|_| draw_weight(p, g)).collect();
    let mag = 10f64.powf(g.random_range(-3.0..3.0));
    let mut x = if g.random::<bool>() { mag } else { -mag };
    let k = g.random_range(0..n);
    match case {
        Case::Random => {}
        Case::ZeroWeight => w[k] = 0.0,
        Case::ZeroInput => x = 0.0,
        Case::NegInputPosFirst => {
            x = -mag;
            w[0] = w[0].abs();
        }
        Case::NegInputLaterNeg => {
            x = -mag;
            // w_1 < 0 makes h_1 > 0, so it is the later negative weight that must kill it.
            w[0] = -w[0].abs();
            if n >= 2 {
                let k = g.random_range(1..n);
                w[k] = -w[k].abs();
            }
        }
        Case::PosInputSomeNeg => {
            x = mag;
            w[k] = -w[k].abs();
        }
        Case::Exploding => {
            x = mag;
            w.iter_mut().for_each(|v| *v = 10.0);
        }
    }
    (x, w)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

/// The listed cases, drawn `PER_CASE` times at every depth beside the random draws.
const CASES: [Case; 6] = [
    Case::ZeroWeight,
    Case::ZeroInput,
    Case::NegInputPosFirst,
    Case::NegInputLaterNeg,
    Case::PosInputSomeNeg,
    Case::Exploding,
];
const PER_CASE: usize = 8;

/// The random draws and the listed cases at depth n.
fn draws_at_depth(n: usize, p: &Params, g: &mut rand::rngs::StdRng) -> Vec<(Case, f64, Vec<f64>)> {
    let mut draws: Vec<(Case, f64, Vec<f64>)> = (0..p.trials_per_depth.max(1))
        .map(|_| {
            let (x, wv) = draw_case(Case::Random, n, p, g);
            (Case::Random, x, wv)
        })
        .collect();
    for c in CASES {
        // "some w_i < 0 with i > 1" needs a second layer.
        if c == Case::NegInputLaterNeg && n < 2 {
            continue;
        }
        for _ in 0..PER_CASE {
            let (x, wv) = draw_case(c, n, p, g);
            draws.push((c, x, wv));
        }
    }
    draws
}

/// One draw judged: the claim's value, the true derivative it is compared with, the bound, and
/// the error (0 when every part of the claim that applies to this case holds).
struct Judged {
    claimed: f64,
    truth: f64,
    bound: f64,
    err: f64,
}

fn judge(
    case: Case,
    x: f64,
    wv: &[f64],
    ag: f64,
    formula: fn(f64, &[f64]) -> f64,
    tol: f64,
) -> Judged {
    let claimed = formula(x, wv);
    let bound: f64 = wv.iter().map(|v| v.abs()).product();
    let (left, right) = one_sided(x, wv);
    // Error of the claim against the truth: autograd and finite differences where f is
    // differentiable, the subdifferential [min, max] of the one-sided slopes at x = 0.
    let mut err = if x == 0.0 {
        let (lo, hi) = (left.min(right), left.max(right));
        if claimed < lo {
            rel(claimed, lo)
        } else if claimed > hi {
            rel(claimed, hi)
        } else {
            0.0
        }
    } else {
        let mut e = rel(claimed, ag);
        if x.abs() > 1e-3 {
            let eps = 1e-6 * x.abs();
            let fd = (forward(x + eps, wv) - forward(x - eps, wv)) / (2.0 * eps);
            // Finite differences are good to ~1e-10 here; allow them 1e-6.
            e = e.max(rel(claimed, fd) * (tol / 1e-6));
        }
        e
    };
    // The bound, on the true derivative.
    let truth = if x == 0.0 { claimed } else { ag };
    if truth.abs() > bound * (1.0 + tol) {
        err = err.max(truth.abs() / bound - 1.0);
    }
    // The listed vanishing cases, on the truth (either one-sided slope at x = 0 may be the
    // claimed 0, which is what "vanishes" can mean at a kink).
    if case.vanishes() {
        let t = if x == 0.0 {
            left.abs().min(right.abs())
        } else {
            ag.abs()
        };
        if t > 0.0 {
            err = err.max(t / bound.max(1e-300));
        }
    }
    if case == Case::Exploding {
        err = err.max(rel(claimed, bound));
    }
    Judged {
        claimed,
        truth,
        bound,
        err,
    }
}

/// What happens at x = 0, where f has a kink and candle's relu'(0) = 1 differs from the claim.
#[derive(Default)]
struct AtZero {
    draws: u64,
    kinked: u64,
    disagreements: u64,
    example: Option<String>,
}

impl AtZero {
    fn add(&mut self, x: f64, wv: &[f64], ag: f64, tol: f64) {
        if x != 0.0 {
            return;
        }
        let (left, right) = one_sided(x, wv);
        self.draws += 1;
        self.kinked += u64::from(left != right);
        if rel(ag, left) > tol
            && rel(ag, right) > tol
            && !(left == 0.0 && right == 0.0 && ag == 0.0)
        {
            self.disagreements += 1;
            if self.example.is_none() || wv.len() < 3 {
                self.example = Some(format!(
                    "x = 0, w = {:?}: candle autograd gives {ag}, but f is {} near 0 (one-sided slopes {left} and {right})",
                    round_vec(wv),
                    if left == 0.0 && right == 0.0 {
                        "identically 0"
                    } else {
                        "kinked"
                    }
                ));
            }
        }
    }
}

/// The random draws of one depth: log10 |f'| of the survivors, log10 of the bound, and how many
/// vanished.
#[derive(Default)]
struct DepthStats {
    logs: Vec<f64>,
    bounds: Vec<f64>,
    vanished: usize,
    count: usize,
}

impl DepthStats {
    fn add(&mut self, j: &Judged) {
        self.count += 1;
        self.bounds.push(j.bound.log10());
        if j.claimed == 0.0 {
            self.vanished += 1;
        } else {
            self.logs.push(j.claimed.abs().log10());
        }
    }

    fn plot(mut self, rec: &mut Recorder, sink: &mut dyn Sink, n: usize, p_negative: f64) {
        self.logs.sort_by(f64::total_cmp);
        self.bounds.sort_by(f64::total_cmp);
        let nf = n as f64;
        if !self.logs.is_empty() {
            for (name, q) in [
                ("p10 measured", 0.1),
                ("median measured", 0.5),
                ("p90 measured", 0.9),
            ] {
                rec.point(sink, "magnitude", name, nf, quantile(&self.logs, q));
            }
        }
        rec.point(
            sink,
            "magnitude",
            "median log10 prod|w_i| (bound)",
            nf,
            quantile(&self.bounds, 0.5),
        );
        rec.point(
            sink,
            "vanished",
            "measured",
            nf,
            self.vanished as f64 / self.count as f64,
        );
        // x > 0 survives iff all w_i > 0; x < 0 iff w_1 < 0 and the rest > 0.
        let q = 1.0 - p_negative;
        rec.point(
            sink,
            "vanished",
            "predicted 1 - (1-p)^(n-1)/2",
            nf,
            1.0 - 0.5 * q.powi(n as i32 - 1),
        );
    }
}

pub fn run(p: &Params, sink: &mut dyn Sink, stop: &StopFlag) -> anyhow::Result<CheckResult> {
    let started = Instant::now();
    anyhow::ensure!(p.max_depth >= 1, "relu_chain: max_depth must be at least 1");
    anyhow::ensure!(
        (0.0..=1.0).contains(&p.p_negative),
        "relu_chain: p_negative must be in [0, 1]"
    );
    let formula: fn(f64, &[f64]) -> f64 = if p.sabotage {
        broken_grad
    } else {
        formula_grad
    };
    let tol = 1e-8;
    let mut w = Worst::new(tol);
    // One verdict per listed case (and one for the random draws: the formula and the bound).
    let mut per_case: Vec<(Case, Worst)> = std::iter::once(Case::Random)
        .chain(CASES)
        .map(|c| (c, Worst::new(tol)))
        .collect();
    let mut rec = Recorder::new(&INFO);
    let mut g = rng(p.seed);
    let mut zero = AtZero::default();
    for n in 1..=p.max_depth {
        if stop.is_stopped() {
            break;
        }
        let draws = draws_at_depth(n, p, &mut g);
        let xs: Vec<f64> = draws.iter().map(|d| d.1).collect();
        let ws: Vec<Vec<f64>> = draws.iter().map(|d| d.2.clone()).collect();
        let auto = autograd_grads(&xs, &ws)?;
        let mut stats = DepthStats::default();
        for ((case, x, wv), ag) in draws.iter().zip(&auto) {
            let j = judge(*case, *x, wv, *ag, formula, tol);
            zero.add(*x, wv, *ag, tol);
            let size = n as f64 + 1e-9 * x.abs().min(1e6);
            let cx = || Counterexample {
                input: json!({ "x": round(*x), "w": round_vec(wv), "case": case.name() }),
                expected: json!(round(j.truth)),
                got: json!(round(j.claimed)),
                note: format!(
                    "claimed f'(x) = {:.6e}, autograd {ag:.6e}, bound prod|w_i| = {:.3e} ({})",
                    j.claimed,
                    j.bound,
                    case.name()
                ),
            };
            w.trial(j.err, size, cx);
            if let Some((_, cw)) = per_case.iter_mut().find(|(c, _)| c == case) {
                cw.trial(j.err, size, cx);
            }
            if *case == Case::Random {
                stats.add(&j);
            }
        }
        stats.plot(&mut rec, sink, n, p.p_negative);
        sink.progress(n as u64, p.max_depth as u64);
    }
    let mut r = finish(&INFO, started, &w, rec, stop);
    let stopped = stop.is_stopped();
    r.set_conditions(
        per_case
            .iter()
            .map(|(c, cw)| {
                let name = match c {
                    Case::Random => "random draws: f'(x) = prod w_i 1[w_i h_(i-1) > 0] and |f'(x)| <= prod |w_i|".to_string(),
                    Case::Exploding => format!("explodes: {}, f'(x) = prod |w_i|", c.name()),
                    _ => format!("vanishes: {}", c.name()),
                };
                Condition::judged(name, true, cw, stopped)
            })
            .collect(),
    );
    r.figures = json!({
        "x0_draws": zero.draws,
        "x0_not_differentiable": zero.kinked,
        "autograd_disagreements_at_x0": zero.disagreements,
        "relu_prime_at_0_in_candle": 1,
    });
    r.notes.push(format!("At x = 0 f has a kink in {} of {} draws (left and right slopes differ), so f'(0) does not exist there; the claim's 0 is checked as an element of the subdifferential [left slope, right slope], which always contains 0 (one side is always dead). \"Vanishes at x = 0\" is the relu'(0) = 0 convention.", zero.kinked, zero.draws));
    if let Some(e) = zero.example {
        r.notes.push(format!("candle's ReLU backward uses relu'(0) = 1 (PyTorch uses 0), so at x = 0 autograd can disagree with the claim and even with the true derivative: {e}. Counted in figures.autograd_disagreements_at_x0; not a failure of the claim."));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::VecSink;

    #[test]
    fn formula_by_hand() {
        // x = -1, w = (-2, 3): h1 = 2, h2 = 6, f' = -2 * 3.
        assert_eq!(formula_grad(-1.0, &[-2.0, 3.0]), -6.0);
        assert_eq!(forward(-1.0, &[-2.0, 3.0]), 6.0);
        // x = 2, w = (3, -1): h1 = 6, second pre-activation -6 -> dead.
        assert_eq!(formula_grad(2.0, &[3.0, -1.0]), 0.0);
        // x < 0, w_1 > 0 -> dead; x = 0 -> 0 by the claim's convention.
        assert_eq!(formula_grad(-1.0, &[3.0, 2.0]), 0.0);
        assert_eq!(formula_grad(0.0, &[3.0, 2.0]), 0.0);
        assert_eq!(formula_grad(0.5, &[3.0, 2.0, 0.5]), 3.0);
    }

    #[test]
    fn autograd_agrees_away_from_zero_and_uses_relu_prime_one_at_zero() {
        let g = autograd_grads(
            &[-1.0, 2.0, 0.5],
            &[vec![-2.0, 3.0], vec![3.0, -1.0], vec![3.0, 2.0]],
        )
        .unwrap();
        assert_eq!(g, vec![-6.0, 0.0, 6.0]);
        // f == 0 near 0 for w = (1, -1), yet relu'(0) = 1 gives -1.
        let g0 = autograd_grads(&[0.0], &[vec![1.0, -1.0]]).unwrap();
        assert_eq!(g0, vec![-1.0]);
    }

    #[test]
    fn claim_holds_and_plots_show_vanishing() {
        let p = Params {
            max_depth: 8,
            trials_per_depth: 60,
            ..Default::default()
        };
        let mut s = VecSink::default();
        let r = run(&p, &mut s, &StopFlag::new()).unwrap();
        assert!(r.holds, "{:?}", r.counterexample);
        assert!(r.trials > 8 * 60);
        let van = s.series("relu_chain/vanished/measured");
        assert_eq!(van.len(), 8);
        assert!(van[7].1 > van[0].1, "{van:?}");
        assert!(r.figures["autograd_disagreements_at_x0"].as_u64().unwrap() > 0);
        // One holding condition per listed case and one for the random draws, each judged.
        assert_eq!(r.conditions.len(), 7);
        for c in &r.conditions {
            assert_eq!(c.verdict, super::super::Verdict::Holds, "{c:?}");
            assert!(c.trials >= 8, "{c:?}");
        }
    }

    #[test]
    fn exploding_and_vanishing_scales_move_the_median() {
        let run_med = |scale: f64| {
            let p = Params {
                max_depth: 6,
                trials_per_depth: 80,
                weight_scale: scale,
                p_negative: 0.0,
                ..Default::default()
            };
            let r = run(&p, &mut VecSink::default(), &StopFlag::new()).unwrap();
            let c = &r.plots[0]
                .curves
                .iter()
                .find(|c| c.0 == "median measured")
                .unwrap()
                .1;
            c.last().unwrap()[1]
        };
        assert!(run_med(0.3) < -2.0);
        assert!(run_med(3.0) > 2.0);
    }

    #[test]
    fn a_wrong_formula_is_caught_with_a_small_counterexample() {
        let p = Params {
            max_depth: 5,
            trials_per_depth: 20,
            sabotage: true,
            ..Default::default()
        };
        let r = run(&p, &mut VecSink::default(), &StopFlag::new()).unwrap();
        assert!(!r.holds);
        // Forgetting the indicators breaks exactly the vanishing cases and the random draws
        // with a negative pre-activation; the exploding case (all w_i > 0, x > 0) still holds.
        let exploding = r
            .conditions
            .iter()
            .find(|c| c.condition.starts_with("explodes"))
            .unwrap();
        assert_eq!(exploding.verdict, super::super::Verdict::Holds);
        let zero_w = r
            .conditions
            .iter()
            .find(|c| c.condition.contains("x < 0 and w_1 > 0"))
            .unwrap();
        assert_eq!(zero_w.verdict, super::super::Verdict::Fails);
        let c = r.counterexample.unwrap();
        assert_eq!(c.input["w"].as_array().unwrap().len(), 1, "{c:?}");
    }
}
