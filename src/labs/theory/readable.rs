//! Counterexamples for people: the JSON values a check stores, written the way a person reads
//! them in the Theory tab (vectors as `(a, b, c)`, 4 significant digits, one named field a line).
//! The JSON itself stays as it is for `--json` and the reports.

use serde_json::Value;

use crate::core::figures::format_number;

/// Vectors longer than this show their first values and their length.
const SHOWN: usize = 10;

/// `v` with 4 significant digits: 0.1235, 123.5, 1.235e-5; whole numbers as integers (15,000).
pub fn sig4(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return format_number(v);
    }
    let a = v.abs();
    if v.fract() == 0.0 && a < 1e6 {
        return format_number(v);
    }
    if (1e-3..1e6).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            return s.trim_end_matches('0').trim_end_matches('.').to_string();
        }
        return s;
    }
    let s = format!("{v:.3e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let m = m.trim_end_matches('0').trim_end_matches('.');
    format!("{m}e{e}")
}

/// A stored value as text: numbers with [`sig4`], arrays as `(a, b, c)`, objects as one
/// `name = value` line per field (underscores read as spaces), strings without quotes.
pub fn readable(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), sig4),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let shown: Vec<String> = items.iter().take(SHOWN).map(inline).collect();
            if items.len() > SHOWN {
                format!("({}, …) ({} values)", shown.join(", "), items.len())
            } else {
                format!("({})", shown.join(", "))
            }
        }
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| format!("{} = {}", k.replace('_', " "), inline(v)))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// [`readable`] on one line (an object inside a vector or a field).
fn inline(v: &Value) -> String {
    match v {
        Value::Object(_) => format!("{{{}}}", readable(v).replace('\n', ", ")),
        _ => readable(v),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(sig4(0.123456), "0.1235");
        assert_eq!(sig4(-123.456), "-123.5");
        assert_eq!(sig4(2.5), "2.5");
        assert_eq!(sig4(3.0), "3");
        assert_eq!(sig4(1500.0), "1500");
        assert_eq!(sig4(15000.0), "15,000");
        assert_eq!(sig4(0.0000123456), "1.235e-5");
        assert_eq!(sig4(0.0), "0");
    }

    #[test]
    fn vectors_read_as_tuples_and_fields_by_name() {
        let v = json!({"x": [0.5, -1.23456, 2.0], "convention": "tokens only", "worst_coherence": 0.0123456});
        let text = readable(&v);
        assert!(text.contains("x = (0.5, -1.235, 2)"), "{text}");
        assert!(text.contains("convention = tokens only"), "{text}");
        assert!(text.contains("worst coherence = 0.01235"), "{text}");
        assert!(!text.contains('"'), "{text}");
        assert_eq!(text.lines().count(), 3);
    }

    #[test]
    fn long_vectors_show_their_length() {
        let v: Vec<f64> = (0..400).map(|i| i as f64 / 3.0).collect();
        let text = readable(&json!(v));
        assert!(text.starts_with("(0, 0.3333, 0.6667, 1,"), "{text}");
        assert!(text.ends_with("(400 values)"), "{text}");
    }
}
