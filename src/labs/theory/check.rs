//! One trait for every theory check: what it claims ([`CheckInfo`]), how it runs, and its
//! parameters as data ([`Knob`]s: a slider's range and scale, a choice's options). The GUI draws
//! the knobs (`ui.rs`), a reset restores the defaults, and sweeps read the same ranges; adding a
//! check is one file with a `CHECK` value plus one line in [`super::CHECKS`].

use super::{CheckInfo, CheckResult, TheoryParams};
use crate::core::{Sink, StopFlag};

/// How a parameter is set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Range {
    /// A slider over [lo, hi], log-spaced when `log`.
    Float { lo: f64, hi: f64, log: bool },
    /// An integer slider over [lo, hi], log-spaced when `log`.
    Int { lo: usize, hi: usize, log: bool },
    /// A number dragged in [lo, hi] (a kernel weight).
    Drag { lo: f64, hi: f64 },
    /// The random seed.
    Seed,
    /// One of these options (the value is the index).
    Choice(&'static [&'static str]),
}

/// A parameter's value, whatever its kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Float(f64),
    Int(usize),
    Seed(u64),
    Choice(usize),
}

impl Value {
    pub fn float(self) -> f64 {
        match self {
            Value::Float(v) => v,
            Value::Int(v) | Value::Choice(v) => v as f64,
            Value::Seed(v) => v as f64,
        }
    }
    pub fn int(self) -> usize {
        match self {
            Value::Float(v) => v.round().max(0.0) as usize,
            Value::Int(v) | Value::Choice(v) => v,
            Value::Seed(v) => v as usize,
        }
    }
    pub fn seed(self) -> u64 {
        match self {
            Value::Seed(v) => v,
            other => other.int() as u64,
        }
    }
}

/// One parameter of a check's `Params`: its name (the field), its label, its range and how to
/// read and write it.
pub struct Knob<P: 'static> {
    pub name: &'static str,
    pub text: &'static str,
    pub range: Range,
    pub get: fn(&P) -> Value,
    pub set: fn(&mut P, Value),
}

/// A float slider over a field: `float!(field, "label", lo, hi, log)`.
macro_rules! float {
    ($field:ident, $text:expr, $lo:expr, $hi:expr, $log:expr) => {
        $crate::labs::theory::check::Knob {
            name: stringify!($field),
            text: $text,
            range: $crate::labs::theory::check::Range::Float {
                lo: $lo,
                hi: $hi,
                log: $log,
            },
            get: |p| $crate::labs::theory::check::Value::Float(p.$field),
            set: |p, v| p.$field = v.float(),
        }
    };
}

/// An integer slider over a field: `int!(field, "label", lo, hi, log)`.
macro_rules! int {
    ($field:ident, $text:expr, $lo:expr, $hi:expr, $log:expr) => {
        $crate::labs::theory::check::Knob {
            name: stringify!($field),
            text: $text,
            range: $crate::labs::theory::check::Range::Int {
                lo: $lo,
                hi: $hi,
                log: $log,
            },
            get: |p| $crate::labs::theory::check::Value::Int(p.$field),
            set: |p, v| p.$field = v.int(),
        }
    };
}

/// The `seed` field.
macro_rules! seed {
    () => {
        $crate::labs::theory::check::Knob {
            name: "seed",
            text: "seed",
            range: $crate::labs::theory::check::Range::Seed,
            get: |p| $crate::labs::theory::check::Value::Seed(p.seed),
            set: |p, v| p.seed = v.seed(),
        }
    };
}

pub(crate) use {float, int, seed};

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

/// A check over its own parameter type `P`, a field of [`TheoryParams`].
pub struct CheckOf<P: 'static> {
    pub info: CheckInfo,
    pub params: fn(&TheoryParams) -> &P,
    pub params_mut: fn(&mut TheoryParams) -> &mut P,
    pub run: fn(&P, &mut dyn Sink, &StopFlag) -> anyhow::Result<CheckResult>,
    pub knobs: &'static [Knob<P>],
    /// Restores invariants between parameters after a change.
    pub fixup: fn(&mut P),
}

impl<P: Default + Sync + 'static> Check for CheckOf<P> {
    fn info(&self) -> &CheckInfo {
        &self.info
    }
    fn run(
        &self,
        p: &TheoryParams,
        sink: &mut dyn Sink,
        stop: &StopFlag,
    ) -> anyhow::Result<CheckResult> {
        (self.run)((self.params)(p), sink, stop)
    }
    fn knobs(&self) -> Vec<(&'static str, &'static str, Range)> {
        self.knobs
            .iter()
            .map(|k| (k.name, k.text, k.range))
            .collect()
    }
    fn get(&self, knob: usize, p: &TheoryParams) -> Option<Value> {
        Some((self.knobs.get(knob)?.get)((self.params)(p)))
    }
    fn set(&self, knob: usize, p: &mut TheoryParams, v: Value) {
        if let Some(k) = self.knobs.get(knob) {
            let q = (self.params_mut)(p);
            (k.set)(q, v);
            (self.fixup)(q);
        }
    }
    fn reset(&self, p: &mut TheoryParams) {
        *(self.params_mut)(p) = P::default();
    }
}

/// No invariant between the parameters.
pub fn no_fixup<P>(_: &mut P) {}

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
