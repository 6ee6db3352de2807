//! One trait for every theory check: what it claims, how it runs, its parameters and their
//! reset. Adding a check is one file with its `CHECK` (a [`CheckDef`]) plus one line in
//! `suite.rs`'s list (and its parameters' field in `TheoryParams`).

use super::claims::{CheckInfo, CheckResult};
use super::knob::{CheckDef, Range, Value};
use super::params::TheoryParams;
use crate::core::{Sink, StopFlag};

/// What the lab, the CLI and the sweeps need of a check.
pub trait Check: Sync {
    fn info(&self) -> &CheckInfo;
    fn run(
        &self,
        p: &TheoryParams,
        sink: &mut dyn Sink,
        stop: &StopFlag,
    ) -> anyhow::Result<CheckResult>;
    /// The check's parameters, in the order the GUI shows them.
    fn knobs(&self) -> Vec<(&'static str, &'static str, Range)>;
    fn get(&self, knob: usize, p: &TheoryParams) -> Option<Value>;
    /// Sets one parameter; the check keeps its parameters consistent (e.g. k <= n).
    fn set(&self, knob: usize, p: &mut TheoryParams, v: Value);
    /// Restores this check's parameters to their defaults.
    fn reset(&self, p: &mut TheoryParams);
}

/// A check tied to its field of [`TheoryParams`].
pub struct Entry<P: 'static> {
    pub def: &'static CheckDef<P>,
    pub params: fn(&TheoryParams) -> &P,
    pub params_mut: fn(&mut TheoryParams) -> &mut P,
}

impl<P: Default + Sync + 'static> Check for Entry<P> {
    fn info(&self) -> &CheckInfo {
        &self.def.info
    }
    fn run(
        &self,
        p: &TheoryParams,
        sink: &mut dyn Sink,
        stop: &StopFlag,
    ) -> anyhow::Result<CheckResult> {
        (self.def.run)((self.params)(p), sink, stop)
    }
    fn knobs(&self) -> Vec<(&'static str, &'static str, Range)> {
        self.def
            .knobs
            .iter()
            .map(|k| (k.name, k.text, k.range))
            .collect()
    }
    fn get(&self, knob: usize, p: &TheoryParams) -> Option<Value> {
        Some((self.def.knobs.get(knob)?.get)((self.params)(p)))
    }
    fn set(&self, knob: usize, p: &mut TheoryParams, v: Value) {
        if let Some(k) = self.def.knobs.get(knob) {
            let q = (self.params_mut)(p);
            (k.set)(q, v);
            (self.def.fixup)(q);
        }
    }
    fn reset(&self, p: &mut TheoryParams) {
        *(self.params_mut)(p) = P::default();
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CHECKS, TheoryParams};
    use super::*;

    /// Every knob of every check starts inside its range, reads back what is set at both ends
    /// of its range, and a reset restores the check's defaults without touching the others.
    #[test]
    fn knobs_start_in_range_read_back_and_reset() {
        let defaults = TheoryParams::default();
        for c in CHECKS {
            let id = c.info().id;
            let knobs = c.knobs();
            assert!(knobs.len() >= 2, "{id}");
            let mut names: Vec<&str> = knobs.iter().map(|k| k.0).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), knobs.len(), "{id}: two knobs share a name");
            let mut p = TheoryParams::default();
            for (i, (name, _, range)) in knobs.iter().enumerate() {
                let v = c.get(i, &p).unwrap();
                let ends = match *range {
                    Range::Float { lo, hi, .. } | Range::Drag { lo, hi } => {
                        assert!((lo..=hi).contains(&v.float()), "{id}.{name} = {v:?}");
                        [Value::Float(lo), Value::Float(hi)]
                    }
                    Range::Int { lo, hi, .. } => {
                        assert!((lo..=hi).contains(&v.int()), "{id}.{name} = {v:?}");
                        [Value::Int(lo), Value::Int(hi)]
                    }
                    Range::Choice(options) => {
                        assert!(v.int() < options.len(), "{id}.{name}");
                        [Value::Choice(0), Value::Choice(options.len() - 1)]
                    }
                    Range::Seed => [Value::Seed(0), Value::Seed(12345)],
                };
                for end in ends {
                    c.set(i, &mut p, end);
                    assert_eq!(c.get(i, &p), Some(end), "{id}.{name}");
                }
            }
            assert_ne!(p, defaults, "{id}: the knobs changed nothing");
            c.reset(&mut p);
            assert_eq!(p, defaults, "{id}: reset");
        }
    }
}
