//! The plotted data of a [`Figure`] as CSV: `series,x,y,low,high` (low/high: the band, if any).

use super::Figure;

/// Quotes a field when it holds a comma, a quote or a line break (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn to_csv(fig: &Figure) -> String {
    let mut out = String::from("series,x,y,low,high\n");
    for s in &fig.series {
        let name = csv_field(&s.name);
        let band = s.band.as_deref().unwrap_or(&[]);
        for p in &s.points {
            let b = band.iter().find(|b| b[0] == p[0]);
            let (lo, hi) = b.map_or((String::new(), String::new()), |b| {
                (b[1].to_string(), b[2].to_string())
            });
            out.push_str(&format!("{name},{},{},{lo},{hi}\n", p[0], p[1]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::figures::Series;

    #[test]
    fn names_with_commas_quotes_and_newlines_are_quoted() {
        let mut f = Figure::default();
        f.series.push(Series {
            name: "a, \"b\"\nc".into(),
            points: vec![[1.0, 0.5]],
            band: Some(vec![[1.0, 0.25, 0.75]]),
            ..Default::default()
        });
        assert_eq!(
            to_csv(&f),
            "series,x,y,low,high\n\"a, \"\"b\"\"\nc\",1,0.5,0.25,0.75\n"
        );
    }
}
