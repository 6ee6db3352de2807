//! Small statistics shared by the labs and the benches.

use serde::Serialize;

/// Median (mean of the two middle values for an even count); NaN for no values. Sorts `xs`.
pub fn median(xs: &mut [f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        0.5 * (xs[m - 1] + xs[m])
    }
}

/// Mean and sample standard deviation (n - 1); the deviation of one value is 0.
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = xs.iter().sum::<f64>() / xs.len() as f64;
    let s = if xs.len() > 1 {
        (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
    } else {
        0.0
    };
    (m, s)
}

/// Theil-Sen slope: the median of the slopes between all pairs with distinct x, so one outlier
/// cannot decide it. NaN with fewer than two distinct x.
pub fn theil_sen_slope(pts: &[(f64, f64)]) -> f64 {
    let mut slopes = Vec::new();
    for (i, a) in pts.iter().enumerate() {
        for b in &pts[i + 1..] {
            if b.0 != a.0 {
                slopes.push((b.1 - a.1) / (b.0 - a.0));
            }
        }
    }
    median(&mut slopes)
}

/// Two-sided 5% critical values of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The t critical value at `df` degrees of freedom rounded down to a whole number (the larger,
/// more cautious value); between 31 and 119 the value at 30, from 120 on the normal's 1.96.
pub fn t_critical(df: f64) -> f64 {
    if !df.is_finite() || df < 1.0 {
        return f64::INFINITY;
    }
    let k = df.floor() as usize;
    match k {
        1..=30 => T975[k - 1],
        31..=119 => T975[29],
        _ => 1.96,
    }
}

/// The rule [`compare`] applies, for summaries and the GUI.
pub const NOISE_RULE: &str = "Welch's t-test, two-sided 5%: |mean_a - mean_b| > t(0.975, df) * sqrt(s_a^2/n_a + s_b^2/n_b), df by Welch-Satterthwaite rounded down; needs at least 2 seeds on each side";

/// What "a vs b over seeds" shows: both means with their spread, the difference, and whether it
/// exceeds the seed noise ([`NOISE_RULE`]). `exceeds_noise` is None when either side has fewer
/// than 2 seeds (no estimate of the noise).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub mean_a: f64,
    pub std_a: f64,
    pub n_a: usize,
    pub mean_b: f64,
    pub std_b: f64,
    pub n_b: usize,
    /// mean_a - mean_b.
    pub diff: f64,
    /// Standard error of the difference.
    pub se: f64,
    pub df: f64,
    /// The smallest |diff| that would count as exceeding the noise.
    pub threshold: f64,
    pub exceeds_noise: Option<bool>,
    pub rule: &'static str,
}

pub fn compare(a: &[f64], b: &[f64]) -> Comparison {
    let ((ma, sa), (mb, sb)) = (mean_std(a), mean_std(b));
    let (na, nb) = (a.len(), b.len());
    let (va, vb) = (sa * sa / na as f64, sb * sb / nb as f64);
    let se = (va + vb).sqrt();
    let df = if va + vb > 0.0 {
        (va + vb).powi(2) / (va * va / (na as f64 - 1.0) + vb * vb / (nb as f64 - 1.0))
    } else {
        // No spread on either side: the pooled degrees of freedom.
        (na + nb) as f64 - 2.0
    };
    let threshold = t_critical(df) * se;
    let diff = ma - mb;
    let exceeds_noise = (na >= 2 && nb >= 2).then(|| diff.abs() > threshold);
    Comparison {
        mean_a: ma,
        std_a: sa,
        n_a: na,
        mean_b: mb,
        std_b: sb,
        n_b: nb,
        diff,
        se,
        df,
        threshold,
        exceeds_noise,
        rule: NOISE_RULE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn mean_and_sample_std() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_std(&[7.0]), (7.0, 0.0));
    }

    #[test]
    fn theil_sen_ignores_one_outlier() {
        let mut pts: Vec<(f64, f64)> = (0..9).map(|i| (i as f64, 2.0 * i as f64 + 1.0)).collect();
        pts[4].1 = 1e6;
        assert_eq!(theil_sen_slope(&pts), 2.0);
        assert!(theil_sen_slope(&[(1.0, 1.0), (1.0, 2.0)]).is_nan());
    }
}

#[cfg(test)]
mod comparison_tests {
    use super::*;

    #[test]
    fn mean_and_sample_std() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_std(&[7.0]), (7.0, 0.0));
        assert!(mean_std(&[]).0.is_nan());
    }

    /// Welch's example values, checked by hand: a = (0.760, 0.770, 0.750), b = (0.745, 0.735,
    /// 0.755): diff 0.015, s = 0.01 each, SE = sqrt(2 * 0.0001 / 3) = 0.008165, df = 4,
    /// t = 2.776 -> threshold 0.02267 > 0.015: within the noise.
    #[test]
    fn a_gap_inside_the_seed_noise_does_not_count() {
        let c = compare(&[0.760, 0.770, 0.750], &[0.745, 0.735, 0.755]);
        assert!((c.diff - 0.015).abs() < 1e-12);
        assert!((c.se - 0.008165).abs() < 1e-6, "{c:?}");
        assert!((c.df - 4.0).abs() < 1e-9, "{c:?}");
        assert!((c.threshold - 2.776 * c.se).abs() < 1e-12);
        assert_eq!(c.exceeds_noise, Some(false));
        let far = compare(&[0.860, 0.870, 0.850], &[0.745, 0.735, 0.755]);
        assert_eq!(far.exceeds_noise, Some(true));
    }

    #[test]
    fn one_seed_has_no_noise_estimate() {
        let c = compare(&[0.9], &[0.1, 0.2]);
        assert_eq!(c.exceeds_noise, None);
        assert_eq!(c.n_a, 1);
    }

    #[test]
    fn critical_values_decrease_towards_the_normal() {
        assert_eq!(t_critical(4.9), 2.776);
        assert!(t_critical(0.5).is_infinite());
        assert!(t_critical(1000.0) == 1.96 && t_critical(40.0) == 2.042);
    }
}
