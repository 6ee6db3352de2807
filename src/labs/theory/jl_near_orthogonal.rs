//! Claim 7: for c = 72 there are at least floor(exp(n delta^2 / c)) - 1 unit vectors in R^n with
//! pairwise |u_i^T u_j| <= delta, built by projecting the standard basis of R^d with a Gaussian
//! n x d matrix and normalising. Checked by building such sets and counting.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::knob::{self, CheckDef, Knob, Range, float, int, no_fixup, seed};
use super::linalg::{gauss, norm, rng};
use super::{
    CheckInfo, CheckResult, Condition, Counterexample, PlotInfo, Recorder, Worst, finish, round,
};
use crate::core::{Sink, StopFlag};

pub const ID: &str = "jl_near_orthogonal";

pub const INFO: CheckInfo = CheckInfo {
    id: ID,
    title: "Near-orthogonal vectors (JL)",
    claim: "For c = 72, every n and delta in (0,1), there are at least floor(exp(n delta^2 / c)) - 1 unit vectors in R^n with pairwise |u_i^T u_j| <= delta, obtained by normalising the columns of a random Gaussian n x d matrix (Johnson-Lindenstrauss).",
    formulas: "u_i = M e_i / ‖M e_i‖,   M ∈ R^(n×d) Gaussian\n\
               |u_i⊤ u_j| ≤ δ  for all distinct i, j\n\
               d ≥ ⌊exp(n δ² / c)⌋ − 1,   c = 72",
    quick: true,
    plots: &[PlotInfo {
        key: "count",
        title: "ln(count + 1) vs n delta^2: measured, the bound, and the fitted constant",
        x_label: "n delta^2",
        y_label: "ln(count + 1)",
        log_x: false,
        log_y: false,
    }],
};

/// The check as the lab lists it: its claim, its run and its parameters.
pub static CHECK: CheckDef<Params> = CheckDef {
    info: INFO,
    run,
    knobs: &[
        float!(c, "constant c (72 in the claim)", 0.5, 100.0, true),
        Knob {
            name: "n_max",
            text: "largest n (n = 2, 4, 8, ...)",
            range: Range::Int {
                lo: 2,
                hi: 4096,
                log: true,
            },
            get: |p| knob::Value::Int(p.ns.iter().copied().max().unwrap_or(128)),
            set: |p, v| p.ns = super::timing::doublings(2, v.int()),
        },
        Knob {
            name: "n",
            text: "one n only (0: n = 4, 8, ..., 4096)",
            range: Range::Int {
                lo: 0,
                hi: 4096,
                log: true,
            },
            get: |p| knob::Value::Int(if p.ns.len() == 1 { p.ns[0] } else { 0 }),
            set: |p, v| {
                p.ns = if v.int() > 0 {
                    vec![v.int()]
                } else {
                    Params::default().ns
                }
            },
        },
        Knob {
            name: "delta",
            text: "one delta only (0: 0.3, 0.5, 0.7 and 0.9)",
            range: Range::Float {
                lo: 0.0,
                hi: 0.95,
                log: false,
            },
            get: |p| {
                knob::Value::Float(if p.deltas.len() == 1 {
                    p.deltas[0]
                } else {
                    0.0
                })
            },
            set: |p, v| {
                p.deltas = if v.float() > 0.0 {
                    vec![v.float()]
                } else {
                    Params::default().deltas
                }
            },
        },
        int!(cap, "count cap", 10, 5000, true),
        int!(repeats, "random streams per (n, delta)", 1, 10, false),
        seed!(),
    ],
    fixup: no_fixup,
};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Params {
    /// The claim's constant; smaller values claim more vectors (c = 1 is false).
    pub c: f64,
    pub ns: Vec<usize>,
    pub deltas: Vec<f64>,
    /// Stop counting at this many vectors (the count is then a lower bound). Configurations whose
    /// claimed count exceeds the cap are not measured (they could not be judged).
    pub cap: usize,
    /// Independent random streams per (n, delta); the best count is kept.
    pub repeats: usize,
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        // The bound says something only for n delta^2 > c ln 2 (about 50) and claims 100 vectors
        // from n delta^2 = c ln 101 (about 332): n up to 4096 reaches it at delta 0.3 and at
        // n = 512, delta 0.9.
        Self {
            c: 72.0,
            ns: vec![4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
            deltas: vec![0.3, 0.5, 0.7, 0.9],
            cap: 400,
            repeats: 2,
            seed: 7,
        }
    }
}

/// The claim's lower bound floor(exp(n delta^2 / c)) - 1 (saturating for huge exponents).
pub fn bound(n: usize, delta: f64, c: f64) -> f64 {
    (n as f64 * delta * delta / c).exp().floor() - 1.0
}

/// Dot product with four accumulators (the streaming Gram check is the check's hot loop).
fn dot4(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// Normalised Gaussian columns streamed one at a time, each checked against every kept one (a
/// running Gram check), while every pair stays within delta. The worst coherence of a prefix
/// only grows, so the first violation gives the largest d for this stream. Returns (count,
/// worst |u_i^T u_j| among them, capped).
pub fn greedy_count(
    n: usize,
    delta: f64,
    cap: usize,
    g: &mut rand::rngs::StdRng,
) -> (usize, f64, bool) {
    let mut kept: Vec<Vec<f64>> = Vec::new();
    let mut worst = 0.0f64;
    while kept.len() < cap {
        let mut v: Vec<f64> = (0..n).map(|_| gauss(g)).collect();
        let nv = norm(&v);
        v.iter_mut().for_each(|x| *x /= nv);
        let mut m = 0.0f64;
        for u in &kept {
            m = m.max(dot4(u, &v).abs());
            if m > delta {
                return (kept.len(), worst, false);
            }
        }
        worst = worst.max(m);
        kept.push(v);
    }
    (kept.len(), worst, true)
}

/// What one (n, delta) gave.
struct Measured {
    n: usize,
    delta: f64,
    count: usize,
    coherence: f64,
    capped: bool,
    bound: f64,
    /// The claimed count is above the cap: not measured.
    skipped: bool,
}

impl Measured {
    fn x(&self) -> f64 {
        self.n as f64 * self.delta * self.delta
    }
    /// Judged: a count below the cap is exact; a capped one judges only bounds <= cap.
    fn judged(&self) -> bool {
        !(self.skipped || (self.capped && self.bound > self.count as f64))
    }
    fn json(&self) -> Value {
        json!({ "n": self.n, "delta": self.delta, "n_delta2": round(self.x()), "bound": self.bound,
            "count": if self.skipped { Value::Null } else { json!(self.count) },
            "capped": self.capped, "judged": self.judged(),
            "worst_coherence": if self.skipped { Value::Null } else { json!(round(self.coherence)) } })
    }
}

fn measure(n: usize, delta: f64, p: &Params, g: &mut rand::rngs::StdRng) -> Measured {
    let b = bound(n, delta, p.c);
    let mut m = Measured {
        n,
        delta,
        count: 0,
        coherence: 0.0,
        capped: false,
        bound: b,
        skipped: b > p.cap as f64,
    };
    if m.skipped {
        return m;
    }
    for _ in 0..p.repeats.max(1) {
        let (c, wc, cap) = greedy_count(n, delta, p.cap, g);
        if c > m.count {
            (m.count, m.coherence, m.capped) = (c, wc, cap);
        }
        // A capped stream cannot be beaten: the other repeats would only cost time.
        if cap {
            break;
        }
    }
    m
}

/// ln(count + 1) = n delta^2 / c_eff, least squares through the origin on the counts that pin
/// it down: uncapped and at least [`FIT_MIN_COUNT`] (ln of 1, 2, 3 vectors mostly measures the
/// rounding to whole vectors). Returns (c_eff, its standard error, points used), or None when
/// fewer than 3 such points exist.
pub fn fit_constant(points: &[(f64, usize)]) -> Option<(f64, f64, usize)> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|(_, c)| *c >= FIT_MIN_COUNT)
        .map(|&(x, c)| (x, ((c + 1) as f64).ln()))
        .collect();
    if pts.len() < 3 {
        return None;
    }
    let sxx: f64 = pts.iter().map(|(x, _)| x * x).sum();
    let sxy: f64 = pts.iter().map(|(x, y)| x * y).sum();
    let b = sxy / sxx;
    let rss: f64 = pts.iter().map(|(x, y)| (y - b * x).powi(2)).sum();
    let se_b = (rss / (pts.len() - 1) as f64 / sxx).sqrt();
    // c = 1 / b; delta method: se(c) = se(b) / b^2.
    Some((1.0 / b, se_b / (b * b), pts.len()))
}

pub const FIT_MIN_COUNT: usize = 10;

pub fn run(p: &Params, sink: &mut dyn Sink, stop: &StopFlag) -> anyhow::Result<CheckResult> {
    let started = Instant::now();
    anyhow::ensure!(p.c > 0.0, "jl_near_orthogonal: c must be positive");
    anyhow::ensure!(
        p.deltas.iter().all(|d| *d > 0.0 && *d < 1.0),
        "jl_near_orthogonal: every delta must be in (0, 1)"
    );
    anyhow::ensure!(
        p.ns.iter().all(|n| *n >= 1) && p.cap >= 2,
        "jl_near_orthogonal: n >= 1 and cap >= 2"
    );
    let mut configs: Vec<(usize, f64)> =
        p.ns.iter()
            .flat_map(|n| p.deltas.iter().map(move |d| (*n, *d)))
            .collect();
    // In order of n delta^2, so the measured curve is drawn left to right.
    configs.sort_by(|a, b| (a.0 as f64 * a.1 * a.1).total_cmp(&(b.0 as f64 * b.1 * b.1)));
    let (mut w, mut w100) = (Worst::new(1.0), Worst::new(1.0));
    let mut rec = Recorder::new(&INFO);
    let mut g = rng(p.seed);
    let mut all: Vec<Measured> = Vec::new();
    for (i, &(n, delta)) in configs.iter().enumerate() {
        if stop.is_stopped() {
            break;
        }
        let m = measure(n, delta, p, &mut g);
        if m.judged() {
            let ratio = if m.bound <= 0.0 {
                0.0
            } else {
                m.bound / m.count as f64
            };
            let cx = || Counterexample {
                input: json!({ "n": n, "delta": delta, "c": p.c, "repeats": p.repeats }),
                expected: json!({ "at_least": m.bound }),
                got: json!({ "count": m.count, "worst_coherence": round(m.coherence) }),
                note: format!(
                    "random projection found only {} unit vectors in R^{n} with pairwise |u_i^T u_j| <= {delta}, below the claimed {}",
                    m.count, m.bound
                ),
            };
            w.trial(ratio, n as f64 + delta, cx);
            if m.bound >= 100.0 {
                w100.trial(ratio, n as f64 + delta, cx);
            }
        }
        plot_point(&mut rec, sink, &m, p.c);
        all.push(m);
        sink.progress(i as u64 + 1, configs.len() as u64);
    }
    let uncapped: Vec<(f64, usize)> = all
        .iter()
        .filter(|m| !m.capped && !m.skipped)
        .map(|m| (m.x(), m.count))
        .collect();
    let fit = fit_constant(&uncapped);
    if let Some((c_eff, _, _)) = fit {
        plot_fit(&mut rec, sink, &uncapped, c_eff);
    }
    let mut r = finish(&INFO, started, &w, rec, stop);
    let stopped = stop.is_stopped();
    r.set_conditions(vec![
        Condition::judged(
            format!(
                "c = {}, every (n, delta) of the sweep whose claimed count is at most the cap ({})",
                p.c, p.cap
            ),
            true,
            &w,
            stopped,
        ),
        Condition::judged(
            format!(
                "c = {}, configurations where the claim is at least 100 vectors",
                p.c
            ),
            false,
            &w100,
            stopped,
        ),
    ]);
    describe(&mut r, p, &all, fit);
    Ok(r)
}

fn plot_point(rec: &mut Recorder, sink: &mut dyn Sink, m: &Measured, c: f64) {
    let x = m.x();
    if !m.skipped {
        let y = ((m.count + 1) as f64).ln();
        let curve = if m.capped {
            "capped: count >= cap (lower bound)"
        } else {
            "measured (random projection)"
        };
        rec.point(sink, "count", curve, x, y);
    }
    rec.point(sink, "count", &format!("bound n delta^2 / {c}"), x, x / c);
}

/// The fitted line, drawn only over the range it was fitted on.
fn plot_fit(rec: &mut Recorder, sink: &mut dyn Sink, pts: &[(f64, usize)], c_eff: f64) {
    let x_max = pts
        .iter()
        .filter(|(_, c)| *c >= FIT_MIN_COUNT)
        .fold(0.0f64, |m, (x, _)| m.max(*x));
    for &(x, _) in pts.iter().filter(|(x, _)| *x <= x_max) {
        let name = format!("fit n delta^2 / {c_eff:.1}");
        rec.point(sink, "count", &name, x, x / c_eff);
    }
}

fn describe(r: &mut CheckResult, p: &Params, all: &[Measured], fit: Option<(f64, f64, usize)>) {
    let over_100: Vec<Value> = all
        .iter()
        .filter(|m| m.bound >= 100.0)
        .map(Measured::json)
        .collect();
    let skipped = all.iter().filter(|m| m.skipped).count();
    let unjudged = all.iter().filter(|m| !m.judged() && !m.skipped).count();
    let non_vacuous = all.iter().filter(|m| m.bound >= 1.0).count();
    r.figures = json!({
        "c": p.c,
        "cap": p.cap,
        "c_effective": fit.map(|f| f.0),
        "c_effective_se": fit.map(|f| f.1),
        "c_effective_points": fit.map_or(0, |f| f.2),
        "conservative_factor": fit.map(|f| p.c / f.0),
        "inconclusive_capped": unjudged,
        "not_measured_bound_above_cap": skipped,
        "non_vacuous_configs": non_vacuous,
        // The configurations are measured in order of n delta^2: the last one measured is the
        // largest (of a run at one n and one delta, its count).
        "count": all.iter().rfind(|m| !m.skipped).map(|m| m.count),
        "claimed_at_least_100": over_100,
        "counts": all.iter().map(Measured::json).collect::<Vec<_>>(),
    });
    r.notes.push(format!(
        "Counts are the best of {} random streams; each stream adds normalised Gaussian columns and checks each against all kept ones (a running Gram check) until the first pair exceeds delta, capped at {} vectors (a capped count is a lower bound and judges only claims up to the cap).",
        p.repeats, p.cap
    ));
    r.notes.push(format!(
        "The bound is vacuous (0 vectors) unless n delta^2 >= c ln 2 = {:.1}, and claims 100 vectors from n delta^2 = c ln 101 = {:.0}; {non_vacuous} of the {} configurations have a non-vacuous bound, {} claim at least 100 (see figures.claimed_at_least_100).",
        p.c * 2f64.ln(),
        p.c * 101f64.ln(),
        all.len(),
        all.iter().filter(|m| m.bound >= 100.0).count()
    ));
    r.notes.push(match fit {
        Some((c_eff, se, k)) => format!(
            "Fitted on the {k} uncapped counts of at least {FIT_MIN_COUNT} vectors, random projection reaches about exp(n delta^2 / c_eff) vectors with c_eff = {c_eff:.2} ± {se:.2} (standard error of a least-squares fit of ln(count + 1) through the origin): c = {} is about {:.0} times too conservative in the exponent. Outside that range the constant is not identifiable from these counts (too few vectors to resolve, or capped).",
            p.c,
            p.c / c_eff
        ),
        None => format!(
            "No constant fitted: fewer than 3 uncapped counts of at least {FIT_MIN_COUNT} vectors, so c_eff is not identifiable here (small counts measure rounding, capped ones only a lower bound)."
        ),
    });
    if skipped > 0 {
        r.notes.push(format!("{skipped} configuration(s) claim more than the cap of {} vectors and were not measured; raise the cap to judge them (the cost grows like cap^2 n).", p.cap));
    }
    if unjudged > 0 {
        r.notes.push(format!("{unjudged} configuration(s) hit the cap below the claimed bound and were not judged; raise the cap."));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::VecSink;

    #[test]
    fn bound_by_hand() {
        // n delta^2 = 72 ln 3.5 -> exp = 3.5 -> floor 3 -> 2 vectors.
        let n = 100;
        let delta = (72.0 * 3.5f64.ln() / n as f64).sqrt();
        assert_eq!(bound(n, delta, 72.0), 2.0);
        assert_eq!(bound(8, 0.5, 72.0), 0.0);
    }

    #[test]
    fn greedy_sets_are_near_orthogonal_and_r1_has_one() {
        let mut g = rng(1);
        // In R^1 unit vectors are +-1: any two have |u^T v| = 1 > delta.
        assert_eq!(greedy_count(1, 0.9, 100, &mut g).0, 1);
        let (count, worst, capped) = greedy_count(64, 0.5, 5000, &mut g);
        assert!(count > 20 && worst <= 0.5 && !capped, "{count} {worst}");
        let (count, _, capped) = greedy_count(32, 0.99, 50, &mut g);
        assert!(capped && count == 50);
    }

    #[test]
    fn holds_for_72_and_fits_a_much_smaller_constant() {
        let p = Params {
            ns: vec![4, 16, 64, 128],
            deltas: vec![0.3, 0.6],
            cap: 200,
            ..Default::default()
        };
        let mut s = VecSink::default();
        let r = run(&p, &mut s, &StopFlag::new()).unwrap();
        assert!(r.holds, "{:?}", r.counterexample);
        let c_eff = r.figures["c_effective"].as_f64().unwrap();
        let se = r.figures["c_effective_se"].as_f64().unwrap();
        assert!(c_eff > 1.0 && c_eff < 20.0, "{c_eff}");
        assert!(se > 0.0 && se < c_eff, "{se}");
        let measured = s
            .series("jl_near_orthogonal/count/measured (random projection)")
            .len();
        let capped = s
            .series("jl_near_orthogonal/count/capped: count >= cap (lower bound)")
            .len();
        assert_eq!(measured + capped, 8);
        assert!(measured >= 3);
    }

    /// Where the bound claims 100 or more vectors (n delta^2 >= 72 ln 101), the count is
    /// measured up to a cap above the claim and judged; a claim above the cap is not measured.
    #[test]
    fn claims_of_a_hundred_vectors_are_measured_and_judged() {
        let p = Params {
            ns: vec![512, 4096],
            deltas: vec![0.3, 0.9],
            cap: 400,
            repeats: 1,
            ..Default::default()
        };
        let r = run(&p, &mut VecSink::default(), &StopFlag::new()).unwrap();
        let big = r.figures["claimed_at_least_100"].as_array().unwrap();
        // (4096, 0.3) claims 166, (512, 0.9) 316, (4096, 0.9) far more than the cap.
        let judged: Vec<&Value> = big.iter().filter(|m| m["judged"] == true).collect();
        assert_eq!(judged.len(), 2, "{big:?}");
        for m in &judged {
            assert!(
                m["count"].as_f64().unwrap() >= m["bound"].as_f64().unwrap(),
                "{m}"
            );
        }
        assert_eq!(r.figures["not_measured_bound_above_cap"], 1);
        assert_eq!(r.conditions[1].verdict, crate::labs::theory::Verdict::Holds);
        assert_eq!(r.conditions[1].trials, 2);
    }

    #[test]
    fn too_few_large_counts_leave_the_constant_unidentified() {
        assert!(fit_constant(&[(1.0, 1), (2.0, 2), (50.0, 400)]).is_none());
        let (c, se, k) = fit_constant(&[(10.0, 12), (20.0, 60), (30.0, 250), (1.0, 1)]).unwrap();
        assert_eq!(k, 3);
        assert!(c > 3.0 && c < 6.0 && se > 0.0, "{c} {se}");
    }

    #[test]
    fn dot4_matches_the_plain_dot() {
        let a: Vec<f64> = (0..11).map(|i| i as f64 * 0.5 - 2.0).collect();
        let b: Vec<f64> = (0..11).map(|i| (i * i) as f64 * 0.1).collect();
        let plain: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot4(&a, &b) - plain).abs() < 1e-12);
    }

    #[test]
    fn an_overclaiming_constant_fails() {
        let p = Params {
            c: 1.0,
            ns: vec![4, 16],
            deltas: vec![0.5, 0.9],
            ..Default::default()
        };
        let r = run(&p, &mut VecSink::default(), &StopFlag::new()).unwrap();
        assert!(!r.holds);
        assert_eq!(r.counterexample.unwrap().input["n"], 4);
    }
}
