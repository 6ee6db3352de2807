//! Every check's parameters as `gradlab theory` flags, made from the checks' knob lists (no name
//! is written here): knob `n_max` of `rnn_sigmoid_bound` is `--rnn-sigmoid-bound-n-max N`, a
//! setting `rnn_sigmoid_bound.n_max` that a sweep can vary. A value outside the knob's range is
//! refused, naming the flag and the range; `--print-config` shows the parameters set, and the
//! run's config (hence its `config_key`) holds them.

use std::sync::OnceLock;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Arg, ArgMatches, Command};

use super::knob::{Range, Value};
use super::params::TheoryParams;
use super::suite::CHECKS;

/// One knob of one check as a flag.
struct Flag {
    check: usize,
    knob: usize,
    /// `check.knob`: the setting's name in a sweep.
    id: String,
    /// `check-knob`.
    long: String,
    help: String,
    range: Range,
}

fn flags() -> &'static [Flag] {
    static FLAGS: OnceLock<Vec<Flag>> = OnceLock::new();
    FLAGS.get_or_init(|| {
        let mut out = Vec::new();
        for (ci, c) in CHECKS.iter().enumerate() {
            let check = c.info().id;
            let defaults = TheoryParams::default();
            for (ki, (name, text, range)) in c.knobs().into_iter().enumerate() {
                let default = c.get(ki, &defaults).map(|v| shown(v, range));
                let allowed = match range {
                    Range::Float { lo, hi, .. } | Range::Drag { lo, hi } => {
                        format!(", {lo}..{hi}")
                    }
                    Range::Int { lo, hi, .. } => format!(", {lo}..{hi}"),
                    Range::Seed | Range::Choice(_) => String::new(),
                };
                out.push(Flag {
                    check: ci,
                    knob: ki,
                    id: format!("{check}.{name}"),
                    long: format!("{check}-{name}").replace('_', "-"),
                    help: format!(
                        "{text} ({check}{allowed}; default {})",
                        default.unwrap_or_default()
                    ),
                    range,
                });
            }
        }
        out
    })
}

/// A value as the flag takes it.
fn shown(v: Value, range: Range) -> String {
    match (v, range) {
        (_, Range::Float { .. } | Range::Drag { .. }) => v.float().to_string(),
        (_, Range::Seed) => v.seed().to_string(),
        _ => v.int().to_string(),
    }
}

/// Parses a knob's value and checks it against the knob's range.
fn parse(range: Range, s: &str) -> Result<Value, String> {
    match range {
        Range::Float { lo, hi, .. } | Range::Drag { lo, hi } => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| (lo..=hi).contains(v))
            .map(Value::Float)
            .ok_or_else(|| format!("expected a number in {lo}..{hi}")),
        Range::Int { lo, hi, .. } => s
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|v| (lo..=hi).contains(v))
            .map(Value::Int)
            .ok_or_else(|| format!("expected a whole number in {lo}..{hi}")),
        Range::Seed => s
            .trim()
            .parse::<u64>()
            .map(Value::Seed)
            .map_err(|_| "expected a seed (a whole number >= 0)".to_string()),
        Range::Choice(_) => s
            .parse::<usize>()
            .map(Value::Choice)
            .map_err(|_| "expected an option's number".to_string()),
    }
}

fn arg(f: &'static Flag) -> Arg {
    let a = Arg::new(f.id.as_str())
        .long(f.long.as_str())
        .value_name("V")
        .help(f.help.as_str())
        .help_heading(CHECKS[f.check].info().id)
        .required(false);
    let range = f.range;
    match range {
        Range::Choice(options) => {
            let values: Vec<PossibleValue> = (0..options.len())
                .map(|k| {
                    let name: &'static str = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
                        .get(k)
                        .copied()
                        .unwrap_or("9");
                    PossibleValue::new(name).help(options[k])
                })
                .collect();
            a.value_parser(
                PossibleValuesParser::new(values).map(|s| Value::Choice(s.parse().unwrap_or(0))),
            )
        }
        _ => a.value_parser(move |s: &str| parse(range, s)),
    }
}

/// The flags that set `p` from `m`, applied in the knobs' order (each through the check, which
/// keeps its parameters consistent).
fn apply(p: &mut TheoryParams, m: &ArgMatches) {
    for f in flags() {
        if let Some(v) = m.get_one::<Value>(&f.id) {
            CHECKS[f.check].set(f.knob, p, *v);
        }
    }
}

impl clap::FromArgMatches for TheoryParams {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut p = TheoryParams::default();
        apply(&mut p, m);
        Ok(p)
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        apply(self, m);
        Ok(())
    }
}

impl clap::Args for TheoryParams {
    fn augment_args(cmd: Command) -> Command {
        cmd.args(flags().iter().map(arg))
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// The checks (by id) whose parameters in `p` differ from their defaults.
pub fn changed_checks(p: &TheoryParams) -> Vec<&'static str> {
    let defaults = TheoryParams::default();
    CHECKS
        .iter()
        .filter(|c| (0..c.knobs().len()).any(|k| c.get(k, p) != c.get(k, &defaults)))
        .map(|c| c.info().id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labs::lab::parse_flags;
    use crate::labs::theory::cli::TheoryArgs;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    /// One flag per knob, named after the check and the knob; a value sets the parameter as the
    /// GUI's slider does, a value outside the range is refused naming the flag and the range.
    #[test]
    fn every_knob_is_a_flag_with_its_range() {
        let knobs: usize = CHECKS.iter().map(|c| c.knobs().len()).sum();
        assert_eq!(flags().len(), knobs);
        let args: TheoryArgs = parse_flags(
            "theory",
            &words("--check rnn_sigmoid_bound --rnn-sigmoid-bound-n-max 7 --rnn-sigmoid-bound-gamma 0.5"),
        )
        .unwrap();
        assert_eq!(args.config.params.rnn_sigmoid_bound.n_max, 7);
        assert_eq!(args.config.params.rnn_sigmoid_bound.gamma, 0.5);
        assert_eq!(changed_checks(&args.config.params), ["rnn_sigmoid_bound"]);
        let e = parse_flags::<TheoryArgs>("theory", &words("--rnn-sigmoid-bound-n-max 999"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--rnn-sigmoid-bound-n-max") && e.contains("2..60"),
            "{e}"
        );
        let e = parse_flags::<TheoryArgs>("theory", &words("--attention-conv1d-convention 5"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[possible values: 0, 1]"), "{e}");
        let args: TheoryArgs =
            parse_flags("theory", &words("--attention-conv1d-convention 1")).unwrap();
        assert_ne!(
            args.config.params.attention_conv1d,
            TheoryParams::default().attention_conv1d
        );
        let none: TheoryArgs = parse_flags("theory", &[]).unwrap();
        assert_eq!(none.config.params, TheoryParams::default());
    }
}
