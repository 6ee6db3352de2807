//! Timing for the complexity claims: the minimum over repeats, because on a shared machine
//! interference only ever adds time; and, to judge a growth, the median over repeats with their
//! spread, so a machine too busy to tell says so instead of flipping a verdict.

use std::hint::black_box;
use std::time::Instant;

/// Seconds of one call of `f`: the fastest of at least `min_reps` calls, repeating until
/// `min_total_s` have been spent.
pub fn time_min<T>(min_reps: usize, min_total_s: f64, mut f: impl FnMut() -> T) -> f64 {
    let start = Instant::now();
    let mut best = f64::INFINITY;
    let mut reps = 0;
    while reps < min_reps || start.elapsed().as_secs_f64() < min_total_s {
        let t = Instant::now();
        black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
        reps += 1;
        if reps > 10_000 {
            break;
        }
    }
    best
}

/// Every sample of repeated calls of `f` (seconds each): at least `min_reps` calls, repeating
/// until `min_total_s` have been spent (at most 10 000).
pub fn time_samples<T>(min_reps: usize, min_total_s: f64, mut f: impl FnMut() -> T) -> Vec<f64> {
    let start = Instant::now();
    let mut out = Vec::new();
    while out.len() < min_reps || start.elapsed().as_secs_f64() < min_total_s {
        let t = Instant::now();
        black_box(f());
        out.push(t.elapsed().as_secs_f64());
        if out.len() >= 10_000 {
            break;
        }
    }
    out
}

/// The median of `samples` and their spread: the interquartile range over the median, 0 for
/// fewer than two samples. A quiet machine repeats a call within a few percent; another
/// process taking the cores spreads the repeats.
pub fn median_spread(samples: &[f64]) -> (f64, f64) {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let med = crate::core::stats::median(&mut s);
    if s.len() < 2 || med <= 0.0 {
        return (med, 0.0);
    }
    let q = |p: f64| {
        let x = p * (s.len() - 1) as f64;
        let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
        s[lo] + (s[hi] - s[lo]) * (x - lo as f64)
    };
    (med, (q(0.75) - q(0.25)) / med)
}

/// What repeated timings over a range of sizes say about a claimed growth.
#[derive(Clone, Debug, PartialEq)]
pub struct Growth {
    pub verdict: super::Verdict,
    /// Theil-Sen log-log slope of the median times against n (NaN with fewer than two sizes).
    pub slope: f64,
    /// The largest spread (interquartile range / median) of the repeats of one size.
    pub spread: f64,
    /// The verdict in words, with the conditions it was judged under.
    pub text: String,
}

/// Judges "time grows at most like n^`max_slope`" from repeated timings `(n, samples)`: the
/// slope of the medians decides, but only when the repeats of every size agree within
/// `max_spread` (interquartile range over median); otherwise the machine was too busy for a
/// timing to tell and the outcome is inconclusive, whatever the slope.
pub fn judge_growth(points: &[(f64, Vec<f64>)], max_slope: f64, max_spread: f64) -> Growth {
    use super::Verdict;
    let mut spread = 0.0f64;
    let mut medians = Vec::new();
    for (n, samples) in points {
        let (m, s) = median_spread(samples);
        spread = spread.max(s);
        medians.push([*n, m]);
    }
    let slope = super::linalg::loglog_slope_robust(&medians);
    let pct = |x: f64| format!("{:.0} %", 100.0 * x);
    let judged = format!(
        "slope of the median times <= {max_slope}, judged when the repeats of each size agree within {}",
        pct(max_spread)
    );
    let (verdict, text) = if slope.is_nan() {
        (
            Verdict::Inconclusive,
            format!("{judged}: fewer than two sizes timed"),
        )
    } else if spread > max_spread {
        (
            Verdict::Inconclusive,
            format!(
                "{judged}: inconclusive (machine busy), the repeats of one size spread by {} (slope {slope:.2})",
                pct(spread)
            ),
        )
    } else if slope <= max_slope {
        (
            Verdict::Holds,
            format!("{judged}: slope {slope:.2}, repeats within {}", pct(spread)),
        )
    } else {
        (
            Verdict::Fails,
            format!(
                "{judged}: slope {slope:.2} with repeats within {}",
                pct(spread)
            ),
        )
    };
    Growth {
        verdict,
        slope,
        spread,
        text,
    }
}

/// n values from `lo` to `hi` doubling (both included when powers of two apart).
pub fn doublings(lo: usize, hi: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut n = lo.max(1);
    while n <= hi {
        v.push(n);
        n *= 2;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doublings_cover_the_range() {
        assert_eq!(doublings(256, 2048), [256, 512, 1024, 2048]);
        assert_eq!(doublings(3, 2), Vec::<usize>::new());
    }

    #[test]
    fn time_min_runs_at_least_min_reps() {
        let mut calls = 0;
        let t = time_min(3, 0.0, || calls += 1);
        assert!(calls >= 3 && t >= 0.0);
    }

    #[test]
    fn median_and_spread_of_repeats() {
        let (m, s) = median_spread(&[1.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!((m, s), (1.0, 0.0));
        // Quartiles 1.0 and 3.0 (interpolated) around a median of 2.0.
        let (m, s) = median_spread(&[3.0, 1.0, 2.0, 4.0, 0.0]);
        assert_eq!((m, s), (2.0, 1.0));
        assert_eq!(median_spread(&[0.5]), (0.5, 0.0));
    }

    /// Timings at n = 256..4096, each size repeated 5 times with a relative jitter `jitter`
    /// around a time growing like n^`power`.
    fn timings(power: f64, jitter: f64) -> Vec<(f64, Vec<f64>)> {
        doublings(256, 4096)
            .into_iter()
            .map(|n| {
                let t = 1e-6 * (n as f64).powf(power);
                let reps = [-2.0, -1.0, 0.0, 1.0, 2.0].map(|k| t * (1.0 + k * jitter));
                (n as f64, reps.to_vec())
            })
            .collect()
    }

    #[test]
    fn growth_is_judged_only_when_the_repeats_agree() {
        use crate::labs::theory::Verdict;
        let quiet_linear = judge_growth(&timings(1.0, 0.02), 1.5, 0.25);
        assert_eq!(
            quiet_linear.verdict,
            Verdict::Holds,
            "{}",
            quiet_linear.text
        );
        assert!((quiet_linear.slope - 1.0).abs() < 1e-9);
        let quiet_quadratic = judge_growth(&timings(2.0, 0.02), 1.5, 0.25);
        assert_eq!(
            quiet_quadratic.verdict,
            Verdict::Fails,
            "{}",
            quiet_quadratic.text
        );
        // A busy machine: repeats 30 % apart; neither holds nor fails, and says why.
        for power in [1.0, 2.0] {
            let busy = judge_growth(&timings(power, 0.3), 1.5, 0.25);
            assert_eq!(busy.verdict, Verdict::Inconclusive, "{}", busy.text);
            assert!(busy.text.contains("machine busy"), "{}", busy.text);
            assert!(
                busy.text.contains("25 %"),
                "the margin is stated: {}",
                busy.text
            );
        }
        let one = judge_growth(&timings(1.0, 0.0)[..1], 1.5, 0.25);
        assert_eq!(one.verdict, Verdict::Inconclusive);
    }
}
