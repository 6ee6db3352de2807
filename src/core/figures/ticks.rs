//! Axis ranges, tick positions and tick labels that read like a person wrote them.

/// A drawn axis: its range (in data units) and tick positions.
#[derive(Clone, Debug, PartialEq)]
pub struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    pub ticks: Vec<f64>,
}

impl Scale {
    /// Maps a data value to [0, 1] along the axis.
    pub fn unit(&self, v: f64) -> f64 {
        if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// A range padded to round numbers around `lo..hi`, with 4-8 ticks.
    pub fn new(lo: f64, hi: f64, log: bool) -> Scale {
        if log {
            return log_scale(lo, hi);
        }
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            (lo - pad, hi + pad)
        };
        let step = nice_step((hi - lo) / 5.0);
        let first = (lo / step).floor();
        let last = (hi / step).ceil();
        let ticks: Vec<f64> = (0..=((last - first) as i64))
            .map(|k| clean((first + k as f64) * step, step))
            .collect();
        Scale {
            lo: first * step,
            hi: last * step,
            log: false,
            ticks,
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    let f = raw / p;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * p
}

/// Removes the float noise of `k * step` (0.30000000000000004 -> 0.3).
fn clean(v: f64, step: f64) -> f64 {
    let digits = (-step.log10().floor()).max(0.0) as i32 + 1;
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

fn log_scale(lo: f64, hi: f64) -> Scale {
    let lo = if lo > 0.0 { lo } else { 1e-3 };
    let hi = if hi > lo { hi } else { lo * 10.0 };
    let a = lo.log10().floor() as i32;
    let b = (hi.log10().ceil() as i32).max(a + 1);
    // Every decade when there are few, else every k-th so at most ~8 labels.
    let k = ((b - a) as f64 / 8.0).ceil().max(1.0) as i32;
    let ticks = (a..=b)
        .filter(|e| (e - a) % k == 0)
        .map(|e| 10f64.powi(e))
        .collect();
    Scale {
        lo: 10f64.powi(a),
        hi: 10f64.powi(b),
        log: true,
        ticks,
    }
}

/// A number as a person writes it: "0", "0.25", "1,500", "1e-5", "2.5e6", never "1.0000".
pub fn format_number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        let s = format!("{v:.2e}");
        // 1.00e-5 -> 1e-5, 2.50e6 -> 2.5e6
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        return format!("{m}e{e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    if a >= 1e4 { group_thousands(&s) } else { s }
}

fn group_thousands(s: &str) -> String {
    let (sign, digits) = s.strip_prefix('-').map_or(("", s), |d| ("-", d));
    let (int, frac) = digits
        .split_once('.')
        .map_or((digits, None), |(i, f)| (i, Some(f)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_people_write_them() {
        assert_eq!(format_number(1.0), "1");
        assert_eq!(format_number(10.0), "10");
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(0.30000000000000004), "0.3");
        assert_eq!(format_number(1e-5), "1e-5");
        assert_eq!(format_number(2.5e6), "2.5e6");
        assert_eq!(format_number(15000.0), "15,000");
        assert_eq!(format_number(-1234.5), "-1234.5");
    }

    #[test]
    fn linear_ticks_are_round_and_cover_the_data() {
        let s = Scale::new(0.13, 0.87, false);
        assert!(s.lo <= 0.13 && s.hi >= 0.87);
        assert!((4..=12).contains(&s.ticks.len()), "{:?}", s.ticks);
        assert_eq!(s.ticks[1], 0.2);
        let flat = Scale::new(3.0, 3.0, false);
        assert!(flat.lo < 3.0 && flat.hi > 3.0);
    }

    #[test]
    fn log_ticks_are_decades() {
        let s = Scale::new(0.02, 300.0, true);
        assert_eq!(s.ticks, vec![0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]);
        assert!((s.unit(1.0) - 0.4).abs() < 1e-12);
    }
}
