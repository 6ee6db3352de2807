//! Claim 7: for c = 72 there are at least floor(exp(n delta^2 / c)) - 1 unit vectors in R^n with
//! pairwise |u_i^T u_j| <= delta, built by projecting the standard basis of R^d with a Gaussian
//! n x d matrix and normalising. Checked by building such sets and counting.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::linalg::{dot, gauss, norm, rng};
use super::{CheckInfo, CheckResult, Counterexample, PlotInfo, Recorder, Worst, finish, round};
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

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Params {
    /// The claim's constant; smaller values claim more vectors (c = 1 is false).
    pub c: f64,
    pub ns: Vec<usize>,
    pub deltas: Vec<f64>,
    /// Stop counting at this many vectors (the count is then a lower bound).
    pub cap: usize,
    /// Independent random streams per (n, delta); the best count is kept.
    pub repeats: usize,
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            c: 72.0,
            ns: vec![2, 4, 8, 16, 32, 64, 128],
            deltas: vec![0.2, 0.3, 0.5, 0.7, 0.9],
            cap: 1000,
            repeats: 2,
            seed: 7,
        }
    }
}

/// The claim's lower bound floor(exp(n delta^2 / c)) - 1 (saturating for huge exponents).
pub fn bound(n: usize, delta: f64, c: f64) -> f64 {
    (n as f64 * delta * delta / c).exp().floor() - 1.0
}

/// Normalised Gaussian columns, added one at a time while every pair stays within delta. The
/// worst coherence of a prefix only grows, so the first violation gives the largest d for this
/// stream. Returns (count, worst |u_i^T u_j| among them, capped).
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
        let m = kept.iter().fold(0.0f64, |m, u| m.max(dot(u, &v).abs()));
        if m > delta {
            return (kept.len(), worst, false);
        }
        worst = worst.max(m);
        kept.push(v);
    }
    (kept.len(), worst, true)
}

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
    let mut w = Worst::new(1.0);
    let mut rec = Recorder::new(&INFO);
    let mut g = rng(p.seed);
    let mut table: Vec<Value> = Vec::new();
    let mut fit = (0.0, 0.0);
    let mut inconclusive = 0;
    let (mut x_fit_max, mut non_vacuous) = (0.0f64, 0usize);
    for (i, &(n, delta)) in configs.iter().enumerate() {
        if stop.is_stopped() {
            break;
        }
        let (mut count, mut coh, mut capped) = (0usize, 0.0, false);
        for _ in 0..p.repeats.max(1) {
            let (c, wc, cap) = greedy_count(n, delta, p.cap, &mut g);
            if c > count {
                (count, coh, capped) = (c, wc, cap);
            }
        }
        let b = bound(n, delta, p.c);
        let x = n as f64 * delta * delta;
        // A capped count only says "at least cap": it cannot refute a bound above the cap.
        if capped && b > count as f64 {
            inconclusive += 1;
        } else {
            let ratio = if b <= 0.0 { 0.0 } else { b / count as f64 };
            w.trial(ratio, n as f64 + delta, || Counterexample {
                input: json!({ "n": n, "delta": delta, "c": p.c, "repeats": p.repeats }),
                expected: json!({ "at_least": b }),
                got: json!({ "count": count, "worst_coherence": round(coh) }),
                note: format!("random projection found only {count} unit vectors in R^{n} with pairwise |u_i^T u_j| <= {delta}, below the claimed {b}"),
            });
        }
        let y = ((count + 1) as f64).ln();
        if capped {
            rec.point(sink, "count", "capped: count >= cap (lower bound)", x, y);
        } else {
            fit.0 += x * y;
            fit.1 += x * x;
            x_fit_max = x_fit_max.max(x);
            rec.point(sink, "count", "measured (random projection)", x, y);
        }
        if b >= 1.0 {
            non_vacuous += 1;
        }
        rec.point(
            sink,
            "count",
            &format!("bound n delta^2 / {}", p.c),
            x,
            x / p.c,
        );
        table.push(json!({ "n": n, "delta": delta, "count": count, "capped": capped, "bound": b, "worst_coherence": round(coh) }));
        sink.progress(i as u64 + 1, configs.len() as u64);
    }
    // ln(count + 1) ~ n delta^2 / c_eff, least squares through the origin on uncapped points.
    let c_eff = if fit.0 > 0.0 { fit.1 / fit.0 } else { f64::NAN };
    if c_eff.is_finite() {
        // Drawn only over the range it was fitted on.
        for &(n, delta) in &configs {
            let x = n as f64 * delta * delta;
            if x > x_fit_max {
                break;
            }
            rec.point(
                sink,
                "count",
                &format!("fit n delta^2 / {:.1}", c_eff),
                x,
                x / c_eff,
            );
        }
    }
    let mut r = finish(&INFO, started, &w, rec, stop);
    r.figures = json!({
        "c": p.c,
        "c_effective": c_eff,
        "conservative_factor": p.c / c_eff,
        "inconclusive_capped": inconclusive,
        "counts": table,
    });
    r.notes.push(format!(
        "Counts are the best of {} random streams, each extended until the first pair exceeds delta (capped at {}). Fitted on the uncapped counts, random projection reaches about exp(n delta^2 / {c_eff:.1}) vectors: c = {} is about {:.0} times too conservative in the exponent.",
        p.repeats, p.cap, p.c, p.c / c_eff
    ));
    r.notes.push(format!(
        "The bound is vacuous (0 vectors) unless n delta^2 >= c ln 2 = {:.1}; {non_vacuous} of the {} configurations here have a non-vacuous bound.",
        p.c * 2f64.ln(),
        configs.len()
    ));
    r.figures["non_vacuous_configs"] = json!(non_vacuous);
    if inconclusive > 0 {
        r.notes.push(format!("{inconclusive} configuration(s) hit the cap below the claimed bound and were not judged; raise the cap."));
    }
    Ok(r)
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
            ns: vec![4, 16, 64],
            deltas: vec![0.3, 0.6],
            ..Default::default()
        };
        let mut s = VecSink::default();
        let r = run(&p, &mut s, &StopFlag::new()).unwrap();
        assert!(r.holds, "{:?}", r.counterexample);
        let c_eff = r.figures["c_effective"].as_f64().unwrap();
        assert!(c_eff > 1.0 && c_eff < 20.0, "{c_eff}");
        let measured = s
            .series("jl_near_orthogonal/count/measured (random projection)")
            .len();
        let capped = s
            .series("jl_near_orthogonal/count/capped: count >= cap (lower bound)")
            .len();
        assert_eq!(measured + capped, 6);
        assert!(measured >= 3);
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
