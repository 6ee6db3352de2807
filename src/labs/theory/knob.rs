//! A check's parameters as data ([`Knob`]s: a slider's range and scale, a choice's options) and
//! a check's definition over its own parameter type ([`CheckDef`]). The GUI draws the knobs
//! (`ui.rs`), a reset restores the defaults, and sweeps read the same ranges.

use super::claims::{CheckInfo, CheckResult};
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
        $crate::labs::theory::knob::Knob {
            name: stringify!($field),
            text: $text,
            range: $crate::labs::theory::knob::Range::Float {
                lo: $lo,
                hi: $hi,
                log: $log,
            },
            get: |p| $crate::labs::theory::knob::Value::Float(p.$field),
            set: |p, v| p.$field = v.float(),
        }
    };
}

/// An integer slider over a field: `int!(field, "label", lo, hi, log)`.
macro_rules! int {
    ($field:ident, $text:expr, $lo:expr, $hi:expr, $log:expr) => {
        $crate::labs::theory::knob::Knob {
            name: stringify!($field),
            text: $text,
            range: $crate::labs::theory::knob::Range::Int {
                lo: $lo,
                hi: $hi,
                log: $log,
            },
            get: |p| $crate::labs::theory::knob::Value::Int(p.$field),
            set: |p, v| p.$field = v.int(),
        }
    };
}

/// The `seed` field.
macro_rules! seed {
    () => {
        $crate::labs::theory::knob::Knob {
            name: "seed",
            text: "seed",
            range: $crate::labs::theory::knob::Range::Seed,
            get: |p| $crate::labs::theory::knob::Value::Seed(p.seed),
            set: |p, v| p.seed = v.seed(),
        }
    };
}

pub(crate) use {float, int, seed};

/// No invariant between the parameters.
pub fn no_fixup<P>(_: &mut P) {}

/// A check over its own parameter type `P`: its claim, its run and its parameters. The list in
/// `suite.rs` ties it to its field of `TheoryParams`.
pub struct CheckDef<P: 'static> {
    pub info: CheckInfo,
    pub run: fn(&P, &mut dyn Sink, &StopFlag) -> anyhow::Result<CheckResult>,
    pub knobs: &'static [Knob<P>],
    /// Restores invariants between parameters after a change.
    pub fixup: fn(&mut P),
}
