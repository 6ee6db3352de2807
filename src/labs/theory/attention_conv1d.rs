//! Claim 5: one attention head with W_Q = W_K = 0, a relative position bias p and W_V = 3 is the
//! zero-padded Conv1D with kernel (2, 0, 1). True in the interior; at the sequence ends it depends
//! on what the head attends over, and only same-sign kernels can be emulated at all.

use std::time::Instant;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::knob::{self, CheckDef, Knob, Range, int, no_fixup, seed};
use super::linalg::{gauss, rng};
use super::{
    CheckInfo, CheckResult, Condition, Corrected, Counterexample, PlotInfo, Recorder, Worst,
    finish, round_vec, sequence_size,
};
use crate::core::{Sink, StopFlag};

pub const ID: &str = "attention_conv1d";

pub const INFO: CheckInfo = CheckInfo {
    id: ID,
    title: "Attention as Conv1D",
    claim: "Self-attention with W_Q = W_K = 0, relative position bias p_{-1} = ln 2, p_{+1} = 0, p = -inf elsewhere and W_V = 3 outputs y_i = 2 x_{i-1} + x_{i+1}, the zero-padded Conv1D with kernel (2, 0, 1), at every position i.",
    formulas: "s_ij = (W_Q x_i)(W_K x_j) + p_(j−i) = p_(j−i)\n\
               p_(−1) = ln 2,  p_(+1) = 0,  p = −∞ elsewhere,  W_V = 3\n\
               y_i = 3 (2/3 x_(i−1) + 1/3 x_(i+1)) = 2 x_(i−1) + x_(i+1)   (interior)\n\
               one head: y_i = W_V Σ_o a_o x_(i+o),  a_o ≥ 0,  Σ a_o = 1  ⇒  one sign",
    quick: true,
    plots: &[PlotInfo {
        key: "sample",
        title: "one random sequence: Conv1D vs the attention head",
        x_label: "position i",
        y_label: "y_i",
        log_x: false,
        log_y: false,
    }],
};

/// The check as the lab lists it: its claim, its run and its parameters.
pub static CHECK: CheckDef<Params> = CheckDef {
    info: INFO,
    run,
    knobs: &[
        Knob {
            name: "convention",
            text: "sequence ends",
            range: Range::Choice(&[
                Convention::TokensOnly.describe(),
                Convention::ZeroPadded.describe(),
            ]),
            get: |p| knob::Value::Choice(usize::from(p.convention == Convention::ZeroPadded)),
            set: |p, v| {
                p.convention = if v.int() == 1 {
                    Convention::ZeroPadded
                } else {
                    Convention::TokensOnly
                }
            },
        },
        int!(n_max, "max n", 2, 64, false),
        int!(trials, "random sequences", 10, 2000, true),
        kernel_knob(0, "kernel weight at offset -1"),
        kernel_knob(1, "kernel weight at offset 0"),
        kernel_knob(2, "kernel weight at offset +1"),
        seed!(),
    ],
    fixup: no_fixup,
};

/// One weight of the kernel to emulate.
const fn kernel_knob(i: usize, text: &'static str) -> Knob<Params> {
    const GET: [fn(&Params) -> knob::Value; 3] = [
        |p| knob::Value::Float(p.custom_kernel[0]),
        |p| knob::Value::Float(p.custom_kernel[1]),
        |p| knob::Value::Float(p.custom_kernel[2]),
    ];
    const SET: [fn(&mut Params, knob::Value); 3] = [
        |p, v| p.custom_kernel[0] = v.float(),
        |p, v| p.custom_kernel[1] = v.float(),
        |p, v| p.custom_kernel[2] = v.float(),
    ];
    Knob {
        name: ["kernel_minus", "kernel_centre", "kernel_plus"][i],
        text,
        range: Range::Drag { lo: -5.0, hi: 5.0 },
        get: GET[i],
        set: SET[i],
    }
}

/// What the head attends over at the ends of the sequence.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum Convention {
    /// Attention over the n tokens only: the softmax renormalises over the neighbours present.
    #[default]
    TokensOnly,
    /// The sequence is padded with explicit zero tokens that the head can attend to.
    ZeroPadded,
}

impl Convention {
    pub const fn describe(self) -> &'static str {
        match self {
            Convention::TokensOnly => "attention over the n tokens only",
            Convention::ZeroPadded => {
                "attention over the sequence padded with explicit zero tokens"
            }
        }
    }
    fn other(self) -> Self {
        match self {
            Convention::TokensOnly => Convention::ZeroPadded,
            Convention::ZeroPadded => Convention::TokensOnly,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Params {
    /// The convention the claim is judged under; the other one is shown beside it.
    pub convention: Convention,
    pub n_max: usize,
    pub trials: usize,
    /// A kernel (offsets -1, 0, +1) to test for emulability by one head.
    pub custom_kernel: [f64; 3],
    pub seed: u64,
    /// Test hook: p_{-1} = ln 3, which gives the kernel (3/4 * 3, 0, 1/4 * 3).
    #[serde(skip)]
    pub sabotage: bool,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            convention: Convention::TokensOnly,
            n_max: 12,
            trials: 400,
            custom_kernel: [1.0, 0.0, -1.0],
            seed: 5,
            sabotage: false,
        }
    }
}

/// One head with W_Q = W_K = 0 on scalar tokens: the bias of each offset (index o + r for
/// offsets -r..=r, -inf where not attended) and W_V.
#[derive(Clone, Debug, PartialEq)]
pub struct Head {
    pub bias: Vec<f64>,
    pub w_v: f64,
}

impl Head {
    pub fn homework(sabotage: bool) -> Self {
        let p_minus = if sabotage { 3f64.ln() } else { 2f64.ln() };
        Self {
            bias: vec![p_minus, f64::NEG_INFINITY, 0.0],
            w_v: 3.0,
        }
    }

    fn radius(&self) -> usize {
        self.bias.len() / 2
    }

    /// The head's output at every position of `x` under `conv`. Positions with nothing to
    /// attend to (a one-token sequence, tokens only) are NaN: the softmax of no scores.
    pub fn apply(&self, x: &[f64], conv: Convention) -> Vec<f64> {
        let r = self.radius() as isize;
        let n = x.len() as isize;
        (0..n)
            .map(|i| {
                let (mut num, mut den) = (0.0, 0.0);
                let mut m = f64::NEG_INFINITY;
                let allowed: Vec<(f64, f64)> = (-r..=r)
                    .filter_map(|o| {
                        let b = self.bias[(o + r) as usize];
                        let j = i + o;
                        let inside = (0..n).contains(&j);
                        let xj = if inside { x[j as usize] } else { 0.0 };
                        let present = inside || conv == Convention::ZeroPadded;
                        (present && b > f64::NEG_INFINITY).then_some((b, xj))
                    })
                    .collect();
                for (b, _) in &allowed {
                    m = m.max(*b);
                }
                for (b, xj) in &allowed {
                    let e = (b - m).exp();
                    num += e * xj;
                    den += e;
                }
                self.w_v * num / den
            })
            .collect()
    }
}

/// Zero-padded cross-correlation (PyTorch's Conv1d): y_i = sum_o k[o + r] x_{i+o}.
pub fn conv1d(x: &[f64], kernel: &[f64]) -> Vec<f64> {
    let r = (kernel.len() / 2) as isize;
    let n = x.len() as isize;
    (0..n)
        .map(|i| {
            (-r..=r)
                .map(|o| {
                    if (0..n).contains(&(i + o)) {
                        kernel[(o + r) as usize] * x[(i + o) as usize]
                    } else {
                        0.0
                    }
                })
                .sum()
        })
        .collect()
}

/// The head that emulates `kernel` (odd length), if one exists: W_V = sum of the weights and
/// p_o = ln(w_o / W_V) on the support. None when the weights have mixed signs.
pub fn emulate(kernel: &[f64]) -> Option<Head> {
    let pos = kernel.iter().any(|w| *w > 0.0);
    let neg = kernel.iter().any(|w| *w < 0.0);
    if pos && neg {
        return None;
    }
    let v: f64 = kernel.iter().sum();
    if v == 0.0 {
        // The zero kernel: W_V = 0 with any bias.
        return Some(Head {
            bias: vec![0.0; kernel.len()],
            w_v: 0.0,
        });
    }
    Some(Head {
        bias: kernel
            .iter()
            .map(|w| {
                if *w == 0.0 {
                    f64::NEG_INFINITY
                } else {
                    (w / v).ln()
                }
            })
            .collect(),
        w_v: v,
    })
}

fn max_err(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| {
        if (x - y).is_nan() {
            f64::NAN
        } else {
            m.max((x - y).abs())
        }
    })
}

/// Test inputs: every x in {-1, 0, 1}^n for n = 2, 3 (smallest first), then random ones of
/// both signs up to n_max and a few long sequences.
fn inputs(p: &Params) -> Vec<Vec<f64>> {
    let mut out = Vec::new();
    for n in 2..=3usize.min(p.n_max) {
        for code in 0..3usize.pow(n as u32) {
            out.push(
                (0..n)
                    .map(|i| ((code / 3usize.pow(i as u32)) % 3) as f64 - 1.0)
                    .collect(),
            );
        }
    }
    let mut g = rng(p.seed);
    for t in 0..p.trials {
        let n = if t % 50 == 49 {
            64 + t % 200
        } else {
            2 + t % p.n_max.max(2)
        };
        out.push(
            (0..n)
                .map(|_| {
                    if g.random::<bool>() {
                        g.random_range(-3..=3) as f64
                    } else {
                        10.0 * gauss(&mut g)
                    }
                })
                .collect(),
        );
    }
    out
}

fn check(head: &Head, kernel: &[f64], conv: Convention, xs: &[Vec<f64>], tol: f64) -> Worst {
    let mut w = Worst::new(tol);
    for x in xs {
        let want = conv1d(x, kernel);
        let got = head.apply(x, conv);
        let scale = x.iter().fold(1e-300f64, |m, v| m.max(v.abs()));
        let err = max_err(&got, &want) / scale;
        w.trial(err, sequence_size(x), || {
            let bad: Vec<usize> = (0..x.len())
                .filter(|&i| (got[i] - want[i]).abs() > tol * scale || got[i].is_nan())
                .collect();
            Counterexample {
                input: json!({ "x": round_vec(x), "convention": conv.describe() }),
                expected: json!(round_vec(&want)),
                got: json!(round_vec(&got)),
                note: format!(
                    "differs at position(s) {bad:?} (0-based) of n = {}",
                    x.len()
                ),
            }
        });
    }
    w
}

/// Emulability of one kernel: the head and its error, or why no head exists with a witness.
fn kernel_report(kernel: &[f64], xs: &[Vec<f64>]) -> Value {
    match emulate(kernel) {
        Some(h) => {
            let w = check(&h, kernel, Convention::ZeroPadded, xs, 1e-12);
            json!({ "kernel": kernel, "emulable": true, "W_V": h.w_v, "p": h.bias.iter().map(|b| if b.is_finite() { json!(b) } else { json!("-inf") }).collect::<Vec<_>>(), "max_error": w.worst })
        }
        None => {
            let r = kernel.len() / 2;
            let a = kernel.iter().position(|w| *w > 0.0).unwrap_or(0);
            let b = kernel.iter().position(|w| *w < 0.0).unwrap_or(0);
            let impulse = |at: usize| -> Vec<f64> {
                (0..kernel.len())
                    .map(|i| if i == at { 1.0 } else { 0.0 })
                    .collect()
            };
            json!({
                "kernel": kernel, "emulable": false,
                "reason": format!(
                    "a head outputs W_V times a convex combination (softmax weights are positive), so all its kernel weights have the sign of W_V; at position {r} the input {:?} needs output {} > 0 (so W_V > 0) and the input {:?} needs {} < 0 (so W_V < 0)",
                    impulse(a), kernel[a], impulse(b), kernel[b]),
                "fix": "two heads (one per sign) combined by the output projection",
            })
        }
    }
}

pub fn run(p: &Params, sink: &mut dyn Sink, stop: &StopFlag) -> anyhow::Result<CheckResult> {
    let started = Instant::now();
    anyhow::ensure!(p.n_max >= 2, "attention_conv1d: n_max must be at least 2");
    let kernel = [2.0, 0.0, 1.0];
    let head = Head::homework(p.sabotage);
    let xs = inputs(p);
    let tol = 1e-12;
    sink.progress(0, 3);
    let w = check(&head, &kernel, p.convention, &xs, tol);
    sink.progress(1, 3);
    let other = check(&head, &kernel, p.convention.other(), &xs, tol);
    sink.progress(2, 3);
    let mut rec = Recorder::new(&INFO);
    let mut g = rng(p.seed ^ 0x5eed);
    let sample: Vec<f64> = (0..10).map(|_| g.random_range(-3..=3) as f64).collect();
    let want = conv1d(&sample, &kernel);
    let a = head.apply(&sample, Convention::TokensOnly);
    let b = head.apply(&sample, Convention::ZeroPadded);
    for i in 0..sample.len() {
        let x = i as f64;
        rec.point(sink, "sample", "input x_i", x, sample[i]);
        rec.point(sink, "sample", "Conv1D (2,0,1), zero padded", x, want[i]);
        rec.point(sink, "sample", "head, tokens only", x, a[i]);
        rec.point(sink, "sample", "head, zero-padded tokens", x, b[i]);
    }
    let mut kernels: Vec<Value> = Vec::new();
    let mut seen: Vec<Vec<f64>> = Vec::new();
    let list: [&[f64]; 9] = [
        &p.custom_kernel,
        &kernel,
        &[1.0, 1.0, 1.0],
        &[1.0, 2.0, 1.0],
        &[0.0, 1.0, 0.0],
        &[-1.0, -2.0, -1.0],
        &[1.0, 4.0, 6.0, 4.0, 1.0],
        &[1.0, 0.0, -1.0],
        &[1.0, -2.0, 1.0],
    ];
    for k in list {
        if !seen.iter().any(|s| s == k) {
            seen.push(k.to_vec());
            kernels.push(kernel_report(k, &xs));
        }
    }
    sink.progress(3, 3);
    let mut r = finish(&INFO, started, &w, rec, stop);
    let other_example = w.counterexample().map(|c| {
        let x: Vec<f64> = c.input["x"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
            .unwrap_or_default();
        Counterexample {
            input: json!({ "x": round_vec(&x), "convention": p.convention.other().describe() }),
            expected: json!(round_vec(&conv1d(&x, &kernel))),
            got: json!(round_vec(&head.apply(&x, p.convention.other()))),
            note: "the same input under the other convention".into(),
        }
    });
    r.corrected = Some(Corrected {
        construction: p.convention.other().describe().into(),
        holds: other.holds(),
        worst: other.worst,
        example: other_example,
    });
    let stopped = stop.is_stopped();
    r.set_conditions(vec![
        Condition::judged(
            format!(
                "every position, {} (the convention chosen)",
                p.convention.describe()
            ),
            true,
            &w,
            stopped,
        ),
        Condition::judged(
            format!("every position, {}", p.convention.other().describe()),
            false,
            &other,
            stopped,
        ),
    ]);
    let one = head.apply(&[1.0], Convention::TokensOnly)[0];
    r.figures = json!({
        "convention": p.convention.describe(),
        "holds_tokens_only": if p.convention == Convention::TokensOnly { w.holds() } else { other.holds() },
        "holds_zero_padded": if p.convention == Convention::ZeroPadded { w.holds() } else { other.holds() },
        "one_token_output_tokens_only": if one.is_nan() { json!("undefined: no position to attend to (softmax of no scores)") } else { json!(one) },
        "kernels": kernels,
    });
    r.notes.push("Tokens only: at i = 1 the only allowed neighbour is x_2, the softmax gives it weight 1 and y_1 = 3 x_2 instead of x_2; at i = n, y_n = 3 x_{n-1} instead of 2 x_{n-1}; a single token has nothing to attend to. Padding the sequence with explicit zero tokens (one per side) makes the construction exact at every position.".into());
    r.notes.push("Which kernels one head can emulate: y_i = W_V sum_o a_o x_{i+o} with softmax weights a_o > 0 on the attended offsets, so exactly the kernels whose non-zero weights share one sign (W_V = their sum, p_o = ln(w_o / W_V), -inf where w_o = 0). Mixed signs (e.g. (1, 0, -1)) are impossible for one head; see figures.kernels.".into());
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::VecSink;
    use crate::labs::theory::Verdict;

    #[test]
    fn interior_and_ends_by_hand() {
        let h = Head::homework(false);
        let x = [1.0, 2.0, 3.0, 4.0];
        // Conv: y = (0*2 + 2, 2*1 + 3, 2*2 + 4, 2*3 + 0) = (2, 5, 8, 6).
        assert_eq!(conv1d(&x, &[2.0, 0.0, 1.0]), vec![2.0, 5.0, 8.0, 6.0]);
        let pad = h.apply(&x, Convention::ZeroPadded);
        let tok = h.apply(&x, Convention::TokensOnly);
        for (a, b) in pad.iter().zip([2.0, 5.0, 8.0, 6.0]) {
            assert!((a - b).abs() < 1e-12);
        }
        // Tokens only: ends renormalise to weight 1 -> 3 x_2 = 6 and 3 x_3 = 9.
        assert!((tok[0] - 6.0).abs() < 1e-12 && (tok[3] - 9.0).abs() < 1e-12);
        assert!((tok[1] - 5.0).abs() < 1e-12);
        assert!(h.apply(&[1.0], Convention::TokensOnly)[0].is_nan());
    }

    #[test]
    fn emulation_by_sign() {
        let h = emulate(&[2.0, 0.0, 1.0]).unwrap();
        assert_eq!(h.w_v, 3.0);
        assert!(
            h.bias[1] == f64::NEG_INFINITY && (h.bias[0] - h.bias[2] - 2f64.ln()).abs() < 1e-12
        );
        assert!(emulate(&[-1.0, -2.0, -1.0]).is_some());
        assert!(emulate(&[1.0, 0.0, -1.0]).is_none());
    }

    #[test]
    fn fails_at_the_ends_tokens_only_and_holds_padded() {
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
        let c = r.counterexample.clone().unwrap();
        assert_eq!(c.input["x"].as_array().unwrap().len(), 2, "{c:?}");
        let fix = r.corrected.clone().unwrap();
        assert!(fix.holds, "{fix:?}");
        assert_eq!(r.figures["kernels"][0]["emulable"], false);
        assert_eq!(
            s.series("attention_conv1d/sample/head, zero-padded tokens")
                .len(),
            10
        );
        let r2 = run(
            &Params {
                trials: 60,
                convention: Convention::ZeroPadded,
                ..Default::default()
            },
            &mut VecSink::default(),
            &StopFlag::new(),
        )
        .unwrap();
        assert!(r2.holds && !r2.corrected.as_ref().unwrap().holds);
        // Both conventions are reported with their own verdicts, whichever is chosen.
        for res in [&r, &r2] {
            let v: Vec<(bool, Verdict)> = res
                .conditions
                .iter()
                .map(|c| (c.stated, c.verdict))
                .collect();
            assert_eq!(v.len(), 2, "{:?}", res.conditions);
            assert_eq!(v.iter().filter(|(s, _)| *s).count(), 1);
        }
        let tokens = |res: &CheckResult| {
            res.conditions
                .iter()
                .find(|c| c.condition.contains("n tokens only"))
                .unwrap()
                .clone()
        };
        let padded = |res: &CheckResult| {
            res.conditions
                .iter()
                .find(|c| c.condition.contains("zero tokens"))
                .unwrap()
                .clone()
        };
        assert_eq!(tokens(&r).verdict, Verdict::Fails);
        assert!(tokens(&r).counterexample.is_some());
        assert_eq!(padded(&r).verdict, Verdict::Holds);
        assert_eq!(r.verdict, Verdict::Fails);
        assert_eq!(r2.verdict, Verdict::Holds);
        assert_eq!(tokens(&r2).verdict, Verdict::Fails);
    }

    #[test]
    fn a_wrong_bias_fails_even_when_padded() {
        let p = Params {
            trials: 20,
            convention: Convention::ZeroPadded,
            sabotage: true,
            ..Default::default()
        };
        let r = run(&p, &mut VecSink::default(), &StopFlag::new()).unwrap();
        assert!(!r.holds);
    }
}
