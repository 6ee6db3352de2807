//! Claim 6: with W_Q = W_K = c on scalar inputs, W_V = 1 and a window bias, attention approaches
//! MaxPool as c grows. The score c^2 x_i x_j depends on the sign of the query x_i: for x_i < 0
//! the head approaches the window's minimum, for x_i = 0 its mean. A constant query (a bias
//! feature) repairs it.

use std::time::Instant;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::knob::{CheckDef, Knob, Range, Value, float, int, no_fixup, seed};
use super::linalg::{gauss, rng};
use super::{
    CheckInfo, CheckResult, Condition, Corrected, Counterexample, PlotInfo, Recorder, Worst,
    finish, round, round_vec, sequence_size,
};
use crate::core::{Sink, StopFlag};

pub const ID: &str = "attention_maxpool";

pub const INFO: CheckInfo = CheckInfo {
    id: ID,
    title: "Attention as max-pooling",
    claim: "With W_Q = W_K = c (scalar inputs, d_k = 1), W_V = 1 and bias p = 0 inside the window |j - i| <= k, -inf outside, the attention output approaches MaxPool(x)_i = max_{|j-i|<=k} x_j as c grows.",
    formulas: "s_ij = (c x_i)(c x_j) = c² x_i x_j   for |j − i| ≤ k\n\
               y_i = Σ_j softmax_j(c² x_i x_j) x_j  →  max x_j  only if x_i > 0\n\
               x_i < 0: → min x_j;   x_i = 0: → mean x_j\n\
               corrected: query from a constant feature, s_ij = c² x_j  →  max x_j",
    quick: true,
    plots: &[PlotInfo {
        key: "error",
        title: "max |y_i - MaxPool(x)_i| / max|x| vs c",
        x_label: "c",
        y_label: "max error",
        log_x: true,
        log_y: true,
    }],
};

/// The check as the lab lists it: its claim, its run and its parameters.
pub static CHECK: CheckDef<Params> = CheckDef {
    info: INFO,
    run,
    knobs: &[
        Knob {
            name: "query",
            text: "query",
            range: Range::Choice(&[Query::FromInput.describe(), Query::Constant.describe()]),
            get: |p| Value::Choice(usize::from(p.query == Query::Constant)),
            set: |p, v| {
                p.query = if v.int() == 1 {
                    Query::Constant
                } else {
                    Query::FromInput
                }
            },
        },
        float!(c_max, "largest c (verdict taken there)", 0.5, 1000.0, true),
        int!(k, "window half-width k", 1, 5, false),
        int!(n_max, "max n", 1, 64, false),
        int!(trials, "random sequences", 10, 2000, true),
        seed!(),
    ],
    fixup: no_fixup,
};

/// Where the query comes from.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum Query {
    /// The homework's q_i = c x_i.
    #[default]
    FromInput,
    /// q_i = c from a constant (bias) feature, k_j = c x_j.
    Constant,
}

impl Query {
    pub const fn describe(self) -> &'static str {
        match self {
            Query::FromInput => "query q_i = c x_i (the homework's W_Q = c)",
            Query::Constant => "constant query q_i = c from a bias feature, key k_j = c x_j",
        }
    }
    fn other(self) -> Self {
        match self {
            Query::FromInput => Query::Constant,
            Query::Constant => Query::FromInput,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Params {
    pub query: Query,
    /// Window half-width.
    pub k: usize,
    /// The largest c; the verdict is taken there.
    pub c_max: f64,
    pub n_max: usize,
    pub trials: usize,
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            query: Query::FromInput,
            k: 1,
            c_max: 100.0,
            n_max: 12,
            trials: 300,
            seed: 6,
        }
    }
}

pub fn maxpool(x: &[f64], k: usize) -> Vec<f64> {
    let n = x.len();
    (0..n)
        .map(|i| {
            x[i.saturating_sub(k)..(i + k + 1).min(n)]
                .iter()
                .fold(f64::NEG_INFINITY, |m, v| m.max(*v))
        })
        .collect()
}

/// The head's output (softmax over the window, max-subtracted so large c does not overflow).
pub fn attention(x: &[f64], k: usize, c: f64, q: Query) -> Vec<f64> {
    let n = x.len();
    (0..n)
        .map(|i| {
            let win = &x[i.saturating_sub(k)..(i + k + 1).min(n)];
            let qi = match q {
                Query::FromInput => c * x[i],
                Query::Constant => c,
            };
            let scores: Vec<f64> = win.iter().map(|xj| qi * c * xj).collect();
            let m = scores.iter().fold(f64::NEG_INFINITY, |a, b| a.max(*b));
            let (mut num, mut den) = (0.0, 0.0);
            for (s, xj) in scores.iter().zip(win) {
                let e = (s - m).exp();
                num += e * xj;
                den += e;
            }
            num / den
        })
        .collect()
}

fn err(x: &[f64], k: usize, c: f64, q: Query) -> f64 {
    let scale = x.iter().fold(1e-300f64, |m, v| m.max(v.abs()));
    let (y, want) = (attention(x, k, c, q), maxpool(x, k));
    y.iter()
        .zip(&want)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()))
        / scale
}

/// All x in {-1, 0, 1}^n for n = 1..=3 (smallest first), then random sequences with ties, both
/// signs and positive-only ones.
fn inputs(p: &Params) -> Vec<(Vec<f64>, &'static str)> {
    let mut out = Vec::new();
    for n in 1..=3usize {
        for code in 0..3usize.pow(n as u32) {
            out.push((
                (0..n)
                    .map(|i| ((code / 3usize.pow(i as u32)) % 3) as f64 - 1.0)
                    .collect(),
                "small integers",
            ));
        }
    }
    let mut g = rng(p.seed);
    for t in 0..p.trials {
        let n = 1 + t % p.n_max.max(1);
        let (x, kind): (Vec<f64>, &str) = match t % 3 {
            0 => (
                (0..n).map(|_| g.random_range(-3..=3) as f64).collect(),
                "integers with ties",
            ),
            1 => ((0..n).map(|_| 2.0 * gauss(&mut g)).collect(), "gaussian"),
            _ => (
                (0..n).map(|_| g.random_range(0.5..3.0)).collect(),
                "positive",
            ),
        };
        out.push((x, kind));
    }
    out
}

fn judge(xs: &[(Vec<f64>, &'static str)], p: &Params, q: Query, tol: f64) -> Worst {
    let mut w = Worst::new(tol);
    for (x, kind) in xs {
        let e = err(x, p.k, p.c_max, q);
        w.trial(e, sequence_size(x), || {
            let got = attention(x, p.k, p.c_max, q);
            let neg = x.iter().enumerate().any(|(i, v)| *v < 0.0 && (got[i] - maxpool(x, p.k)[i]).abs() > tol);
            let zero = x.iter().enumerate().any(|(i, v)| *v == 0.0 && (got[i] - maxpool(x, p.k)[i]).abs() > tol);
            let why = match (q, neg, zero) {
                (Query::FromInput, true, true) => "x_i < 0 makes the head favour the smallest x_j (min-pooling) and x_i = 0 makes it average",
                (Query::FromInput, true, false) => "x_i < 0 makes the head favour the smallest x_j (min-pooling)",
                (Query::FromInput, false, true) => "x_i = 0 gives every x_j the score 0, so the head averages",
                _ => "c is not large enough for the gaps in this input",
            };
            Counterexample {
                input: json!({ "x": round_vec(x), "k": p.k, "c": p.c_max, "kind": kind }),
                expected: json!(round_vec(&maxpool(x, p.k))),
                got: json!(round_vec(&got)),
                note: format!("{} ({})", why, q.describe()),
            }
        });
    }
    w
}

pub fn run(p: &Params, sink: &mut dyn Sink, stop: &StopFlag) -> anyhow::Result<CheckResult> {
    let started = Instant::now();
    anyhow::ensure!(
        p.c_max > 0.0 && p.c_max.is_finite() && p.n_max >= 1,
        "attention_maxpool: need c_max > 0 and n_max >= 1"
    );
    let tol = 1e-3;
    let xs = inputs(p);
    let w = judge(&xs, p, p.query, tol);
    let other = judge(&xs, p, p.query.other(), tol);
    let mut rec = Recorder::new(&INFO);
    let steps = 24;
    let (lo, hi) = (0.25f64.ln(), p.c_max.ln());
    let groups: [(&str, Query, bool); 3] = [
        ("homework q = c x_i, both signs", Query::FromInput, false),
        (
            "homework q = c x_i, positive inputs",
            Query::FromInput,
            true,
        ),
        ("constant query (corrected)", Query::Constant, false),
    ];
    for s in 0..steps {
        if stop.is_stopped() {
            break;
        }
        let c = (lo + (hi - lo) * s as f64 / (steps - 1) as f64).exp();
        for (name, q, positive_only) in groups {
            let e = xs
                .iter()
                .filter(|(x, _)| !positive_only || x.iter().all(|v| *v > 0.0))
                .fold(0.0f64, |m, (x, _)| m.max(err(x, p.k, c, q)));
            rec.point(sink, "error", name, c, e.max(1e-16));
        }
        sink.progress(s as u64 + 1, steps as u64);
    }
    let positive_err = xs
        .iter()
        .filter(|(x, _)| x.iter().all(|v| *v > 0.0))
        .fold(0.0f64, |m, (x, _)| {
            m.max(err(x, p.k, p.c_max, Query::FromInput))
        });
    let mut r = finish(&INFO, started, &w, rec, stop);
    let positive: Vec<(Vec<f64>, &'static str)> = xs
        .iter()
        .filter(|(x, _)| x.iter().all(|v| *v > 0.0))
        .cloned()
        .collect();
    let pos = judge(&positive, p, Query::FromInput, tol);
    let stopped = stop.is_stopped();
    r.set_conditions(vec![
        Condition::judged(
            format!(
                "inputs of any sign, {} (the query chosen)",
                p.query.describe()
            ),
            true,
            &w,
            stopped,
        ),
        Condition::judged(
            format!(
                "positive inputs only (every x_j > 0, e.g. after a ReLU), {}",
                Query::FromInput.describe()
            ),
            false,
            &pos,
            stopped,
        ),
        Condition::judged(
            format!("inputs of any sign, {}", p.query.other().describe()),
            false,
            &other,
            stopped,
        ),
    ]);
    let other_example = w.counterexample().map(|c| {
        let x: Vec<f64> = c.input["x"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
            .unwrap_or_default();
        Counterexample {
            input: json!({ "x": round_vec(&x), "k": p.k, "c": p.c_max }),
            expected: json!(round_vec(&maxpool(&x, p.k))),
            got: json!(round_vec(&attention(&x, p.k, p.c_max, p.query.other()))),
            note: format!("the same input with the {}", p.query.other().describe()),
        }
    });
    r.corrected = Some(Corrected {
        construction: p.query.other().describe().into(),
        holds: other.holds(),
        worst: other.worst,
        example: other_example,
    });
    r.figures = json!({
        "query": p.query.describe(),
        "c_max": p.c_max,
        "error_at_c_max": w.worst,
        "error_at_c_max_other_query": other.worst,
        "error_at_c_max_homework_positive_inputs": round(positive_err),
    });
    r.notes.push("The score (c x_i)(c x_j) = c^2 x_i x_j depends on the query's sign: the homework's head approaches max-pooling only at positions with x_i > 0 (so on positive inputs, e.g. after a ReLU, apart from zeros); at x_i < 0 it approaches min-pooling and at x_i = 0 it returns the window's mean for every c.".into());
    r.notes.push(format!("Ties are harmless: tied maxima share the weight and their average is the max. The error is not uniform in the input: gaps of size g need c^2 x_i g >> 1, so at any fixed c small or nearly tied inputs are approximated poorly (bound about 2k / (e c^2 x_i) for the max error); the verdict is taken at c = {} with tolerance {tol} relative to max|x|.", p.c_max));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::VecSink;
    use crate::labs::theory::Verdict;

    #[test]
    fn by_hand() {
        let x = [-1.0, 0.0, 1.0];
        assert_eq!(maxpool(&x, 1), vec![0.0, 1.0, 1.0]);
        // Position 0 (x_0 = -1) picks the window's min, -1; position 1 (x = 0) averages (-1,0,1) = 0.
        let y = attention(&x, 1, 50.0, Query::FromInput);
        assert!(
            (y[0] + 1.0).abs() < 1e-9 && y[1].abs() < 1e-12 && (y[2] - 1.0).abs() < 1e-9,
            "{y:?}"
        );
        // c = 1, positive x = (1, 2) at position 0: weights e^1, e^2 -> (e + 2 e^2)/(e + e^2).
        let e = std::f64::consts::E;
        let y = attention(&[1.0, 2.0], 1, 1.0, Query::FromInput);
        assert!((y[0] - (e + 2.0 * e * e) / (e + e * e)).abs() < 1e-12);
        let yc = attention(&x, 1, 50.0, Query::Constant);
        assert!(
            yc.iter()
                .zip(maxpool(&x, 1))
                .all(|(a, b)| (a - b).abs() < 1e-9)
        );
    }

    #[test]
    fn homework_fails_constant_query_holds() {
        let mut s = VecSink::default();
        let r = run(
            &Params {
                trials: 60,
                ..Default::default()
            },
            &mut s,
            &StopFlag::new(),
        )
        .unwrap();
        assert!(!r.holds);
        assert_eq!(
            r.counterexample.as_ref().unwrap().input["x"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert!(r.corrected.as_ref().unwrap().holds);
        // The positive-inputs figure enters the conditions with its own verdict.
        let v: Vec<_> = r.conditions.iter().map(|c| (c.stated, c.verdict)).collect();
        assert_eq!(
            v,
            [
                (true, Verdict::Fails),
                (false, Verdict::Holds),
                (false, Verdict::Holds)
            ],
            "{:?}",
            r.conditions
        );
        assert!(r.conditions[1].trials > 10);
        assert!(r.conditions[0].counterexample.is_some());
        let curve = s.series("attention_maxpool/error/constant query (corrected)");
        assert!(curve.last().unwrap().1 < curve[0].1 * 1e-2, "{curve:?}");
        let bad = s.series("attention_maxpool/error/homework q = c x_i, both signs");
        assert!(bad.last().unwrap().1 > 0.3);
    }

    #[test]
    fn too_small_c_fails_even_corrected() {
        let p = Params {
            trials: 30,
            query: Query::Constant,
            c_max: 0.5,
            ..Default::default()
        };
        let r = run(&p, &mut VecSink::default(), &StopFlag::new()).unwrap();
        assert!(!r.holds);
    }
}
