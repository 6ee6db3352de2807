//! Named curves collected from a run, in the order their series first appeared.

#[derive(Default, Clone, Debug, PartialEq)]
pub struct MetricStore {
    series: Vec<(String, Vec<[f64; 2]>)>,
}

impl MetricStore {
    pub fn push(&mut self, series: &str, step: f64, value: f64) {
        match self.series.iter_mut().find(|(n, _)| n == series) {
            Some((_, pts)) => pts.push([step, value]),
            None => self.series.push((series.to_string(), vec![[step, value]])),
        }
    }

    pub fn get(&self, series: &str) -> Option<&[[f64; 2]]> {
        self.series
            .iter()
            .find(|(n, _)| n == series)
            .map(|(_, p)| p.as_slice())
    }

    pub fn last(&self, series: &str) -> Option<f64> {
        self.get(series).and_then(|p| p.last()).map(|p| p[1])
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[[f64; 2]])> {
        self.series.iter().map(|(n, p)| (n.as_str(), p.as_slice()))
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keeps_series_order_and_points() {
        let mut m = MetricStore::default();
        m.push("loss", 0.0, 2.0);
        m.push("acc", 0.0, 0.1);
        m.push("loss", 1.0, 1.5);
        let names: Vec<_> = m.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["loss", "acc"]);
        assert_eq!(m.get("loss").unwrap(), &[[0.0, 2.0], [1.0, 1.5]]);
        assert_eq!(m.last("acc"), Some(0.1));
    }
}
