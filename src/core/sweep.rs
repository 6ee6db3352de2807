//! Sweeps: one lab's runs over a grid of settings and seeds, recorded in the run store,
//! resumable after a crash, read back as a table with mean ± std per grid point.
//!
//! Everything about the lab comes from its descriptor ([`LabDescriptor::sweep`]): the flags a
//! setting may name, how a value is parsed (the lab's own flag parser), the seeds, the
//! `config_key` of each planned run and how one seed is trained. This module names no lab.
//!
//! A sweep is identified by its lab, base config, grid and seeds ([`Prepared::key`]): running the
//! same command again finds it and runs only the (point, seed) pairs without a finished run,
//! first reusing any finished run of the same configuration and seed recorded elsewhere. A link
//! is written only once its run finished, so a kill at any moment loses at most the runs that
//! were training, and nothing is run twice.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Instant;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::descriptor::{Direction, LabDescriptor, Metric, SweepHooks, SweepPreset};
use super::runs::{GridAxis, NewSweep, RunId, RunStore, SweepId, SweepLink, SweepRow};
use super::stats::{compare, mean_std};
use super::{NullSink, StopFlag};

/// Flags a sweep never varies: they change what a command prints, not what it trains.
const NOT_SWEPT: [&str; 3] = ["json", "print_config", "help"];

/// The lab's seed flags: the sweep's seeds, not a setting.
const SEEDS: [&str; 2] = ["seed", "seeds"];

/// A flag parser's message on one line, without clap's "error: " and its help hint.
fn clean(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    let text = text.trim_start_matches("error: ");
    let text = text
        .split("\n\nUsage:")
        .next()
        .unwrap_or(text)
        .split("\n\nFor more information")
        .next()
        .unwrap_or(text);
    text.trim().replace('\n', " ")
}

/// The varied settings as `prepare` takes them: (name, values) per `--vary`.
pub type Vary = Vec<(String, Vec<String>)>;

/// `NAME=V1,V2,...` as `--vary` takes it.
pub fn parse_vary(spec: &str) -> anyhow::Result<(String, Vec<String>)> {
    let (name, values) = spec
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("--vary {spec}: expected NAME=V1,V2,..."))?;
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty(),
        "--vary {spec}: the setting's name is empty"
    );
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
    anyhow::ensure!(
        values.iter().all(|v| !v.is_empty()),
        "--vary {spec}: an empty value (values are separated by commas)"
    );
    let mut seen = BTreeSet::new();
    for v in &values {
        anyhow::ensure!(
            seen.insert(v),
            "--vary {spec}: the value {v} is given twice"
        );
    }
    Ok((name.to_string(), values))
}

/// One varied setting resolved against the lab's flags.
#[derive(Clone, Debug)]
struct Axis {
    /// The config field (clap's id), as `--print-config` names it.
    name: String,
    /// `--flag` spelling.
    flag: String,
    /// A switch (`--invert`): true adds the flag, false leaves it out.
    switch: bool,
    values: Vec<String>,
}

impl Axis {
    /// The words that set this axis to `value`.
    fn words(&self, value: &str) -> Vec<String> {
        if self.switch {
            if value == "true" {
                vec![self.flag.clone()]
            } else {
                Vec::new()
            }
        } else {
            vec![self.flag.clone(), value.to_string()]
        }
    }
}

/// A setting's or flag's name as the sweeps compare it: `--train_per_class`, `train-per-class`
/// and `TRAIN_PER_CLASS` are one name.
pub fn norm(s: &str) -> String {
    s.trim_start_matches('-').replace('_', "-").to_lowercase()
}

/// Whether the lab's flags have `--seeds` (a lab whose runs take seeds).
pub fn has_seeds(hooks: &SweepHooks) -> bool {
    (hooks.flags)()
        .get_arguments()
        .any(|a| a.get_long() == Some("seeds"))
}

/// A setting of a lab that a sweep can vary, as its flags declare it.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// The config field, as `--print-config` names it (and `--vary` takes it).
    pub name: String,
    /// A switch: its values are true and false.
    pub switch: bool,
    /// The values a choice allows (empty: any value its parser takes, e.g. a number).
    pub allowed: Vec<String>,
    /// The flag's help line.
    pub help: String,
    /// The value the lab takes when the flag is not given (clap's default), if it has one.
    pub default: Option<String>,
}

/// The settings of `lab` a sweep can vary (none for a lab without sweep hooks).
pub fn settings(lab: &LabDescriptor) -> Vec<Setting> {
    let Some(hooks) = lab.sweep else {
        return Vec::new();
    };
    let helps: Vec<(String, String, Option<String>)> = (hooks.flags)()
        .get_arguments()
        .map(|a| {
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            let default = a
                .get_default_values()
                .first()
                .map(|v| v.to_string_lossy().into_owned());
            (a.get_id().to_string(), help, default)
        })
        .collect();
    sweepable(&hooks)
        .into_iter()
        .map(|(name, _, switch, allowed)| {
            let (help, default) = helps
                .iter()
                .find(|(id, _, _)| *id == name)
                .map(|(_, h, d)| (h.clone(), d.clone()))
                .unwrap_or_default();
            Setting {
                help,
                default: default.filter(|_| !switch),
                name,
                switch,
                allowed,
            }
        })
        .collect()
}

/// Values a sweep editor proposes for a setting whose value is now `current`: a choice's
/// allowed values, both states of a switch, and five numbers around a number (log-spaced for a
/// small rate, linear over 0.1..0.9 for a fraction, doubling for a large count). The user edits
/// them; a bad one is refused by the lab's parser before anything runs.
pub fn propose(setting: &Setting, current: Option<&Value>) -> Vec<String> {
    if setting.switch {
        return vec!["true".into(), "false".into()];
    }
    if !setting.allowed.is_empty() {
        return setting.allowed.clone();
    }
    let Some(v) = current.and_then(Value::as_f64) else {
        return current
            .map(|c| vec![c.as_str().map_or(c.to_string(), str::to_string)])
            .unwrap_or_default();
    };
    let whole = current.is_some_and(|c| c.is_u64() || c.is_i64());
    let nums: Vec<f64> = if whole {
        let n = v.round().max(0.0);
        if n >= 8.0 {
            [0.25, 0.5, 1.0, 2.0, 4.0]
                .iter()
                .map(|f| (n * f).round())
                .collect()
        } else {
            (-2..=2)
                .map(|d| n + d as f64)
                .filter(|&x| x >= 1.0)
                .collect()
        }
    } else if v > 0.0 && v < 0.05 {
        [0.1, 0.3, 1.0, 3.0, 10.0].iter().map(|f| v * f).collect()
    } else if (0.0..=1.0).contains(&v) {
        vec![0.1, 0.3, 0.5, 0.7, 0.9]
    } else {
        [0.5, 0.75, 1.0, 1.5, 2.0].iter().map(|f| v * f).collect()
    };
    let mut out: Vec<String> = Vec::new();
    for x in nums {
        let t = if whole {
            format!("{x}")
        } else {
            super::figures::format_number(x)
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// A sweep over two numeric settings as a grid of cells: the mean of each (x, y) point.
#[derive(Clone, Debug, PartialEq)]
pub struct Heat {
    pub x_name: String,
    pub y_name: String,
    pub xs: Vec<String>,
    pub ys: Vec<String>,
    /// `cells[j][i]`: the mean at (xs[i], ys[j]) with n; `None` where no seed finished.
    pub cells: Vec<Vec<Option<(f64, usize)>>>,
}

/// The heat map of a sweep over exactly two settings, both numeric; `None` otherwise.
pub fn heat(sweep: &SweepRow, rows: &[PointRow]) -> Option<Heat> {
    let [a, b] = sweep.grid.as_slice() else {
        return None;
    };
    let numeric = |g: &GridAxis| g.values.iter().all(|v| v.parse::<f64>().is_ok());
    if !numeric(a) || !numeric(b) {
        return None;
    }
    let mut cells = vec![vec![None; a.values.len()]; b.values.len()];
    for r in rows {
        let [(_, x), (_, y)] = r.params.as_slice() else {
            continue;
        };
        let (Some(i), Some(j)) = (
            a.values.iter().position(|v| v == x),
            b.values.iter().position(|v| v == y),
        ) else {
            continue;
        };
        cells[j][i] = r.mean.map(|m| (m, r.per_seed.len()));
    }
    Some(Heat {
        x_name: a.name.clone(),
        y_name: b.name.clone(),
        xs: a.values.clone(),
        ys: b.values.clone(),
        cells,
    })
}

/// The sweepable flags of a lab: (id, long, switch, possible values).
fn sweepable(hooks: &SweepHooks) -> Vec<(String, String, bool, Vec<String>)> {
    (hooks.flags)()
        .get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?;
            let id = a.get_id().as_str();
            if NOT_SWEPT.contains(&id)
                || SEEDS.contains(&id)
                || !a.get_action().takes_values() && !is_switch(a)
            {
                return None;
            }
            let values = a
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_string())
                .collect();
            Some((id.to_string(), format!("--{long}"), is_switch(a), values))
        })
        .collect()
}

fn is_switch(a: &clap::Arg) -> bool {
    matches!(a.get_action(), clap::ArgAction::SetTrue)
}

/// Finds `name` (a config field as `--print-config` names it, possibly dotted, or a flag
/// spelling) among the lab's flags.
fn resolve_axis(
    lab: &LabDescriptor,
    hooks: &SweepHooks,
    name: &str,
    values: Vec<String>,
) -> anyhow::Result<Axis> {
    let flags = sweepable(hooks);
    let last = name.rsplit('.').next().unwrap_or(name);
    let wanted = norm(last);
    // The whole name first (a dotted flag id such as a theory check's `check.knob`), then its
    // last part (a config path such as `params.homophily`).
    let whole = norm(name);
    let Some((id, flag, switch, allowed)) = flags
        .iter()
        .find(|(id, long, _, _)| norm(id) == whole || norm(long) == whole)
        .or_else(|| {
            flags
                .iter()
                .find(|(id, long, _, _)| norm(id) == wanted || norm(long) == wanted)
        })
        .cloned()
    else {
        anyhow::ensure!(
            !SEEDS.contains(&wanted.as_str()),
            "--vary {name}: seeds are not a setting; give the sweep --seeds K (each grid point runs every seed)"
        );
        let names: Vec<String> = flags
            .iter()
            .map(|(id, _, _, vals)| {
                if vals.is_empty() {
                    id.clone()
                } else {
                    format!("{id} ({})", vals.join("|"))
                }
            })
            .collect();
        anyhow::bail!(
            "--vary {name}: {} has no setting {name} that a flag sets; settings that can be varied: {}",
            lab.id,
            names.join(", ")
        );
    };
    if switch {
        for v in &values {
            anyhow::ensure!(
                v == "true" || v == "false",
                "--vary {id}={v}: {flag} is a switch; its values are true, false"
            );
        }
    } else if !allowed.is_empty() {
        for v in &values {
            anyhow::ensure!(
                allowed.iter().any(|a| a.eq_ignore_ascii_case(v)),
                "--vary {id}={v}: {v} is not a value of {flag}; allowed: {}",
                allowed.join(", ")
            );
        }
    }
    Ok(Axis {
        name: id,
        flag,
        switch,
        values,
    })
}

/// Whether `words` set `flag` themselves (`--flag`, `--flag V` or `--flag=V`).
fn sets_flag(words: &[String], flag: &str) -> bool {
    words
        .iter()
        .any(|w| w == flag || w.starts_with(&format!("{flag}=")))
}

/// A value as JSON: numbers and booleans as such (so a figure can put them on an axis), the
/// rest as text.
pub fn typed(v: &str) -> Value {
    match serde_json::from_str::<Value>(v) {
        Ok(x @ (Value::Number(_) | Value::Bool(_))) => x,
        _ => Value::String(v.to_string()),
    }
}

/// One grid point: its settings and the lab's words that train it.
#[derive(Clone, Debug)]
pub struct GridPoint {
    /// (name, value) in axis order.
    pub params: Vec<(String, String)>,
    pub words: Vec<String>,
    pub seeds: Vec<Option<u64>>,
}

impl GridPoint {
    /// `{"name": value, ...}`.
    pub fn params_json(&self) -> Value {
        Value::Object(
            self.params
                .iter()
                .map(|(k, v)| (k.clone(), typed(v)))
                .collect(),
        )
    }

    /// "depth=3 skips=on".
    pub fn label(&self) -> String {
        params_label(&self.params)
    }
}

fn params_label(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A sweep checked against its lab before anything runs: every value parsed by the lab's own
/// flag parser, every point's seeds known.
pub struct Prepared<'a> {
    pub lab: &'a LabDescriptor,
    hooks: SweepHooks,
    pub metric: &'static Metric,
    pub base_config: Value,
    /// The lab's flags every point starts from.
    pub base: Vec<String>,
    pub grid: Vec<GridAxis>,
    pub points: Vec<GridPoint>,
    pub data_dir: PathBuf,
    /// A hash of lab, base config, grid and seeds: the same command finds the same sweep.
    pub key: String,
}

impl Prepared<'_> {
    pub fn total(&self) -> usize {
        self.points.iter().map(|p| p.seeds.len()).sum()
    }

    /// The command that reproduces the sweep (and resumes it): what was asked, in a canonical
    /// spelling, without where the store is or how many jobs ran it.
    pub fn command(&self) -> String {
        let mut cmd = vec!["gradlab".to_string(), "sweep".into(), self.lab.id.into()];
        cmd.extend(self.base.iter().cloned());
        for a in &self.grid {
            cmd.push("--vary".into());
            cmd.push(format!("{}={}", a.name, a.values.join(",")));
        }
        if self.lab.main_metric().map(|m| m.key) != Some(self.metric.key) {
            cmd.extend(["--metric".to_string(), self.metric.key.to_string()]);
        }
        super::runs::quote_args(&cmd)
    }

    /// The same sweep read by the lab's summary figure `key` instead of its main one (a preset's
    /// [`SweepPreset::metric`], `gradlab sweep --metric`). The figure is stored with the sweep, so
    /// its table and report read it too; it is part of the sweep's identity.
    pub fn with_metric(mut self, key: &str) -> anyhow::Result<Self> {
        let metric = self
            .lab
            .summary
            .iter()
            .find(|m| m.key == key)
            .ok_or_else(|| {
                let keys: Vec<&str> = self.lab.summary.iter().map(|m| m.key).collect();
                anyhow::anyhow!(
                    "--metric {key}: {} records no summary figure {key}; figures: {}",
                    self.lab.id,
                    keys.join(", ")
                )
            })?;
        if metric.key != self.metric.key {
            let identity = format!("{} metric={}", self.key, metric.key);
            self.key = super::digest::hex(&Sha256::digest(identity.as_bytes())[..8]);
            self.metric = metric;
        }
        Ok(self)
    }
}

/// A preset as [`prepare`] takes it: (the lab's flags, the varied settings).
pub fn preset_words(p: &SweepPreset) -> (Vec<String>, Vary) {
    let flags = p.flags.iter().map(|w| w.to_string()).collect();
    let vary = p
        .vary
        .iter()
        .map(|(name, values)| {
            (
                name.to_string(),
                values.iter().map(|v| v.to_string()).collect(),
            )
        })
        .collect();
    (flags, vary)
}

/// The preset `id` of `lab`; an error lists the lab's presets.
pub fn find_preset(lab: &LabDescriptor, id: &str) -> anyhow::Result<&'static SweepPreset> {
    let presets = lab.sweep.map_or(&[][..], |h| h.presets);
    presets.iter().find(|p| p.id == id).ok_or_else(|| {
        let ids: Vec<&str> = presets.iter().map(|p| p.id).collect();
        if ids.is_empty() {
            anyhow::anyhow!("--preset {id}: {} ships no preset sweeps", lab.id)
        } else {
            anyhow::anyhow!(
                "--preset {id}: {} has no preset {id}; its presets: {}",
                lab.id,
                ids.join(", ")
            )
        }
    })
}

/// [`prepare`] of a preset, read by its figure.
pub fn prepare_preset<'a>(
    lab: &'a LabDescriptor,
    preset: &SweepPreset,
    data_dir: &Path,
) -> anyhow::Result<Prepared<'a>> {
    let (flags, vary) = preset_words(preset);
    let p = prepare(lab, &flags, &vary, data_dir)
        .map_err(|e| anyhow::anyhow!("preset {}: {e:#}", preset.id))?;
    match preset.metric {
        Some(m) => p.with_metric(m),
        None => Ok(p),
    }
}

/// Checks a sweep of `lab` with the lab's flags `base` and the `--vary` specs `vary`; an error
/// names the setting or value that is wrong, and nothing has run.
pub fn prepare<'a>(
    lab: &'a LabDescriptor,
    base: &[String],
    vary: &[(String, Vec<String>)],
    data_dir: &Path,
) -> anyhow::Result<Prepared<'a>> {
    let hooks = lab
        .sweep
        .ok_or_else(|| anyhow::anyhow!("the {} lab cannot be swept", lab.id))?;
    let config = lab
        .config
        .ok_or_else(|| anyhow::anyhow!("the {} lab has no config to sweep", lab.id))?;
    let metric = lab
        .main_metric()
        .ok_or_else(|| anyhow::anyhow!("the {} lab has no main figure to sweep", lab.id))?;
    anyhow::ensure!(
        !vary.is_empty(),
        "nothing to sweep: give at least one --vary NAME=V1,V2,..."
    );
    let mut axes: Vec<Axis> = Vec::new();
    for (name, values) in vary {
        let axis = resolve_axis(lab, &hooks, name, values.clone())?;
        anyhow::ensure!(
            !axes.iter().any(|a| a.name == axis.name),
            "--vary {}: the setting is varied twice; give all its values in one --vary",
            axis.name
        );
        anyhow::ensure!(
            !sets_flag(base, &axis.flag),
            "--vary {}: {} is also given as a flag; drop one of them",
            axis.name,
            axis.flag
        );
        axes.push(axis);
    }
    let seeded = has_seeds(&hooks);
    anyhow::ensure!(
        seeded || !sets_flag(base, "--seeds"),
        "--seeds: {} runs have no seed (each grid point is one run); drop --seeds",
        lab.id
    );
    let base_config =
        config(base, data_dir).map_err(|e| anyhow::anyhow!("{} flags: {}", lab.id, clean(&e)))?;
    // Each value alone, so an error names the one that is wrong.
    for a in &axes {
        for v in &a.values {
            let mut w = base.to_vec();
            w.extend(a.words(v));
            config(&w, data_dir)
                .map_err(|e| anyhow::anyhow!("--vary {}={v}: {}", a.name, clean(&e)))?;
        }
    }
    let mut points = vec![GridPoint {
        params: Vec::new(),
        words: base.to_vec(),
        seeds: Vec::new(),
    }];
    for a in &axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                a.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.params.push((a.name.clone(), v.clone()));
                    q.words.extend(a.words(v));
                    q
                })
            })
            .collect();
    }
    for p in &mut points {
        p.seeds = (hooks.seeds)(&p.words, data_dir)
            .map_err(|e| anyhow::anyhow!("{}: {}", p.label(), clean(&e)))?;
        anyhow::ensure!(!p.seeds.is_empty(), "{}: no seed to run", p.label());
    }
    let grid: Vec<GridAxis> = axes
        .iter()
        .map(|a| GridAxis {
            name: a.name.clone(),
            values: a.values.clone(),
        })
        .collect();
    let identity = json!({
        "lab": lab.id,
        "base": base_config,
        "grid": grid,
        "seeds": points[0].seeds,
    });
    let key = super::digest::hex(&Sha256::digest(identity.to_string().as_bytes())[..8]);
    Ok(Prepared {
        lab,
        hooks,
        metric,
        base_config,
        base: base.to_vec(),
        grid,
        points,
        data_dir: data_dir.to_path_buf(),
        key,
    })
}

/// What [`prepare`] needs to find a recorded sweep again (its lab's base flags and its grid),
/// so the app resumes a sweep it did not start in this session; `None` for a sweep recorded
/// before the base flags were kept.
pub fn resume_args(sweep: &SweepRow) -> Option<(Vec<String>, Vary)> {
    let base = sweep.base_words.clone()?;
    let vary = sweep
        .grid
        .iter()
        .map(|a| (a.name.clone(), a.values.clone()))
        .collect();
    Some((base, vary))
}

/// The default `--jobs`: the cores, at most one per run to do, at least one.
pub fn default_jobs(runs: usize) -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    cores.min(runs).max(1)
}

/// One (point, seed) to train.
#[derive(Clone, Debug)]
struct Task {
    point: usize,
    slot: usize,
}

/// What a worker reports about one task.
struct Done {
    task: Task,
    result: anyhow::Result<RunId>,
    seconds: f64,
}

/// How far a sweep is, after each finished (or failed) run: what the CLI prints on stderr and
/// the app's progress bar shows.
pub struct Progress<'a> {
    pub sweep_id: SweepId,
    /// (point, seed) pairs answered, reused ones included.
    pub done: usize,
    pub total: usize,
    /// The event in words.
    pub line: &'a str,
}

/// What [`run`] did.
pub struct Outcome {
    pub sweep_id: SweepId,
    pub resumed: bool,
    pub recorded: usize,
    pub reused: usize,
    /// Seconds spent training the recorded runs (summed over jobs), and the sweep's wall time.
    pub run_seconds: f64,
    pub wall_seconds: f64,
}

/// Runs the sweep `p` in the store at `runs_dir` with `jobs` runs at once (`None`: the cores),
/// resuming it when the store has it. `progress` hears of each event (the CLI prints its line on
/// stderr). Failed runs do not stop the others; they fail the sweep at the end, naming them.
/// `stop` ends it early: runs in flight are stopped and not linked (a resume trains them).
pub fn run(
    p: &Prepared<'_>,
    runs_dir: &Path,
    command: &str,
    jobs: Option<usize>,
    stop: &StopFlag,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> anyhow::Result<Outcome> {
    let t0 = Instant::now();
    let store = RunStore::open(runs_dir)?;
    let (id, resumed) = store.open_sweep(&NewSweep {
        key: p.key.clone(),
        lab: p.lab.id.to_string(),
        command: command.to_string(),
        base_config: p.base_config.clone(),
        base_words: p.base.clone(),
        grid: p.grid.clone(),
        seeds: p.points[0].seeds.clone(),
        points: p.points.len(),
        total: p.total(),
        metric: p.metric.key.to_string(),
    })?;
    let linked: BTreeSet<(usize, usize)> = store
        .sweep_links(id, p.metric.key)?
        .into_iter()
        .map(|l| (l.point, l.slot))
        .collect();
    let already = linked.len();
    // Finished runs of the same configuration and seed recorded elsewhere answer a pair too.
    let mut reused_outside = 0;
    let mut tasks: Vec<Task> = Vec::new();
    let mut planned: Vec<Vec<String>> = vec![Vec::new(); p.points.len()];
    for (k, point) in p.points.iter().enumerate() {
        if (0..point.seeds.len()).all(|s| linked.contains(&(k, s))) {
            continue;
        }
        let plan = (p.hooks.plan)(&point.words, &p.data_dir)
            .map_err(|e| anyhow::anyhow!("{}: {e:#}", point.label()))?;
        for (slot, seed) in point.seeds.iter().enumerate() {
            let key = plan
                .iter()
                .find(|(s, _)| s == seed)
                .map(|(_, k)| k.clone())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{}: the lab planned no run for seed {seed:?}",
                        point.label()
                    )
                })?;
            planned[k].push(key.clone());
            if linked.contains(&(k, slot)) {
                continue;
            }
            if let Some(run) = store.finished_run_of(&key, *seed)? {
                store.link_sweep_run(id, k, slot, &point.params_json(), run)?;
                reused_outside += 1;
            } else {
                tasks.push(Task { point: k, slot });
            }
        }
    }
    let total = p.total();
    let jobs = jobs.unwrap_or_else(|| default_jobs(tasks.len())).max(1);
    let start_line = format!(
        "sweep {id}{}: {} {} points x {} = {total} runs; {} done, {} reused from other runs, {} to train ({} at once)",
        if resumed { " (resumed)" } else { "" },
        p.lab.id,
        p.points.len(),
        super::runs::count_text(p.points[0].seeds.len(), "seed"),
        already,
        reused_outside,
        tasks.len(),
        jobs.min(tasks.len().max(1)),
    );
    progress(&Progress {
        sweep_id: id,
        done: already + reused_outside,
        total: p.total(),
        line: &start_line,
    });
    let to_run = tasks.len();
    let queue = Mutex::new(tasks.into_iter());
    let (tx, rx) = mpsc::channel::<Done>();
    let mut failures: Vec<String> = Vec::new();
    let mut recorded = 0;
    let mut run_seconds = 0.0;
    let train_t0 = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(to_run) {
            let tx = tx.clone();
            let queue = &queue;
            scope.spawn(move || {
                // One connection per thread: a RunStore is used from one thread.
                let store = match RunStore::open(runs_dir) {
                    Ok(s) => s,
                    Err(e) => {
                        let err = anyhow::anyhow!("{e}");
                        if let Some(task) = queue.lock().map(|mut q| q.next()).ok().flatten() {
                            let _ = tx.send(Done {
                                task,
                                result: Err(err),
                                seconds: 0.0,
                            });
                        }
                        return;
                    }
                };
                loop {
                    if stop.is_stopped() {
                        break;
                    }
                    let next = queue.lock().ok().and_then(|mut q| q.next());
                    let Some(task) = next else { break };
                    let point = &p.points[task.point];
                    let seed = point.seeds[task.slot];
                    let t = Instant::now();
                    let result = (p.hooks.run_one)(
                        &point.words,
                        &p.data_dir,
                        seed,
                        &store,
                        &mut NullSink,
                        stop,
                    )
                    .and_then(|run| {
                        // A run cut short by the stop is not an answer: a resume trains it.
                        anyhow::ensure!(!stop.is_stopped(), "stopped");
                        store.link_sweep_run(
                            id,
                            task.point,
                            task.slot,
                            &point.params_json(),
                            run,
                        )?;
                        Ok(run)
                    });
                    let seconds = t.elapsed().as_secs_f64();
                    if tx
                        .send(Done {
                            task,
                            result,
                            seconds,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut finished = 0;
        for d in rx {
            if stop.is_stopped() && d.result.is_err() {
                continue;
            }
            finished += 1;
            let point = &p.points[d.task.point];
            let seed = point.seeds[d.task.slot];
            let what = match seed {
                Some(s) => format!("{} seed {s}", point.label()),
                None => point.label(),
            };
            match d.result {
                Ok(run) => {
                    recorded += 1;
                    run_seconds += d.seconds;
                    // The key the lab planned is the key it recorded, or reuse would miss it.
                    if let Ok(Some(k)) = store.config_key_of(run)
                        && planned[d.task.point].get(d.task.slot) != Some(&k)
                    {
                        progress(&Progress {
                            sweep_id: id,
                            done: already + reused_outside + finished,
                            total,
                            line: &format!(
                                "warning: run {run} ({what}) was recorded under config_key {k}, not the planned one; a later resume may train it again"
                            ),
                        });
                    }
                    let value = store
                        .sweep_links(id, p.metric.key)
                        .ok()
                        .and_then(|ls| {
                            ls.into_iter()
                                .find(|l| l.point == d.task.point && l.slot == d.task.slot)
                        })
                        .and_then(|l| l.value);
                    let elapsed = train_t0.elapsed().as_secs_f64();
                    let left = elapsed / finished as f64 * (to_run - finished) as f64;
                    let done = already + reused_outside + finished;
                    let line = format!(
                        "[{done}/{total}] {what}: {} {} (run {run}, {:.1} s); about {} left",
                        p.metric.key,
                        value.map_or("-".into(), |v| format!("{v:.4}")),
                        d.seconds,
                        duration_text(left),
                    );
                    progress(&Progress {
                        sweep_id: id,
                        done,
                        total,
                        line: &line,
                    });
                }
                Err(e) => {
                    let line = format!("{what}: {e:#}");
                    progress(&Progress {
                        sweep_id: id,
                        done: already + reused_outside + recorded,
                        total,
                        line: &format!("failed: {line}"),
                    });
                    failures.push(line);
                }
            }
        }
    });
    let status = if stop.is_stopped() {
        "stopped"
    } else if failures.is_empty() {
        "finished"
    } else {
        "incomplete"
    };
    store.set_sweep_status(id, status)?;
    if !failures.is_empty() {
        anyhow::bail!(
            "sweep {id}: {} of {total} runs failed (the same command retries them): {}",
            failures.len(),
            failures.join("; ")
        );
    }
    Ok(Outcome {
        sweep_id: id,
        resumed,
        recorded,
        reused: already + reused_outside,
        run_seconds,
        wall_seconds: t0.elapsed().as_secs_f64(),
    })
}

/// "12 s", "3 min 5 s", "1 h 2 min".
pub fn duration_text(s: f64) -> String {
    if !s.is_finite() {
        return "?".into();
    }
    let s = s.round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// One row of a sweep's table: a grid point with its seeds' figures.
#[derive(Clone, Debug, PartialEq)]
pub struct PointRow {
    pub params: Vec<(String, String)>,
    pub per_seed: Vec<f64>,
    pub seeds: Vec<Option<u64>>,
    pub run_ids: Vec<RunId>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
}

impl PointRow {
    pub fn label(&self) -> String {
        params_label(&self.params)
    }
}

/// The grid points of `sweep` in grid order (first axis slowest).
pub fn grid_points(grid: &[GridAxis]) -> Vec<Vec<(String, String)>> {
    let mut points: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for a in grid {
        points = points
            .into_iter()
            .flat_map(|p| {
                a.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push((a.name.clone(), v.clone()));
                    q
                })
            })
            .collect();
    }
    points
}

/// The table of a sweep from its links: one row per grid point, its finished seeds in order.
pub fn rows(sweep: &SweepRow, links: &[SweepLink]) -> Vec<PointRow> {
    grid_points(&sweep.grid)
        .into_iter()
        .enumerate()
        .map(|(k, params)| {
            let mine: Vec<&SweepLink> = links.iter().filter(|l| l.point == k).collect();
            let per_seed: Vec<f64> = mine.iter().filter_map(|l| l.value).collect();
            let (mean, std) = if per_seed.is_empty() {
                (None, None)
            } else {
                let (m, s) = mean_std(&per_seed);
                (Some(m), Some(s))
            };
            PointRow {
                params,
                seeds: mine.iter().map(|l| l.seed).collect(),
                run_ids: mine.iter().map(|l| l.run_id).collect(),
                per_seed,
                mean,
                std,
            }
        })
        .collect()
}

/// The index of the best row by `direction` (`None` for a figure that is not a score).
pub fn best(rows: &[PointRow], direction: Direction) -> Option<usize> {
    let sign = match direction {
        Direction::Neither => return None,
        d => d.sign() as f64,
    };
    rows.iter()
        .enumerate()
        .filter_map(|(i, r)| r.mean.filter(|m| m.is_finite()).map(|m| (i, m * sign)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

fn row_json(r: &PointRow) -> Value {
    json!({
        "params": Value::Object(r.params.iter().map(|(k, v)| (k.clone(), typed(v))).collect()),
        "n": r.per_seed.len(),
        "mean": r.mean,
        "std": r.std,
        "per_seed": r.per_seed,
        "seeds": r.seeds,
        "run_ids": r.run_ids,
    })
}

/// The sweep's table as one JSON object (what `gradlab sweep ... --json` and `sweep show --json`
/// print, less the counts of this call).
pub fn table_json(sweep: &SweepRow, rows: &[PointRow], direction: Direction) -> Value {
    let grid: serde_json::Map<String, Value> = sweep
        .grid
        .iter()
        .map(|a| (a.name.clone(), a.values.iter().map(|v| typed(v)).collect()))
        .collect();
    json!({
        "sweep_id": sweep.id,
        "lab": sweep.lab,
        "metric": sweep.metric,
        "grid": grid,
        "axes": sweep.grid.iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
        "seeds": sweep.seeds,
        "points": rows.iter().map(row_json).collect::<Vec<_>>(),
        "best": best(rows, direction).map(|i| row_json(&rows[i])),
        "done": sweep.done,
        "total": sweep.total,
        "status": sweep.status,
        "command": sweep.command,
    })
}

/// The Welch verdict of each row against row `baseline`: "beyond seed noise?".
pub fn verdicts(rows: &[PointRow], baseline: usize) -> Vec<Option<super::stats::Comparison>> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let b = rows.get(baseline)?;
            (i != baseline && !r.per_seed.is_empty() && !b.per_seed.is_empty())
                .then(|| compare(&r.per_seed, &b.per_seed))
        })
        .collect()
}

/// "+0.0123: beyond seed noise (> 0.0100)": a point against the baseline, in words.
pub fn verdict_text(c: &super::stats::Comparison) -> String {
    match c.exceeds_noise {
        Some(true) => format!("{:+.4}: beyond seed noise (> {:.4})", c.diff, c.threshold),
        Some(false) => format!("{:+.4}: within seed noise (<= {:.4})", c.diff, c.threshold),
        None => format!("{:+.4}: too few seeds to tell", c.diff),
    }
}

/// A table for people: one line per point, mean ± std (n) and the per-seed figures.
pub fn table_text(sweep: &SweepRow, rows: &[PointRow], direction: Direction) -> String {
    let best = best(rows, direction);
    let mut out = format!(
        "sweep {} ({}, {}): {}/{} runs, {}\n",
        sweep.id, sweep.lab, sweep.metric, sweep.done, sweep.total, sweep.status
    );
    let width = rows
        .iter()
        .map(|r| r.label().len())
        .max()
        .unwrap_or(0)
        .max(5);
    out.push_str(&format!(
        "{:<width$}  {:>8}  {:>8}  {:>3}  per seed\n",
        "point", "mean", "std", "n"
    ));
    for (i, r) in rows.iter().enumerate() {
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        let seeds: Vec<String> = r.per_seed.iter().map(|v| format!("{v:.4}")).collect();
        out.push_str(&format!(
            "{:<width$}  {:>8}  {:>8}  {:>3}  {}{}\n",
            r.label(),
            f(r.mean),
            f(r.std),
            r.per_seed.len(),
            seeds.join(" "),
            if best == Some(i) { "  <- best" } else { "" }
        ));
    }
    out.push_str(&format!("reproduce: {}", sweep.command));
    out
}

/// Metric versus the first numeric setting (else the first setting, by position), one line per
/// combination of the other settings, mean ± std over seeds as error bars.
pub fn figure(sweep: &SweepRow, rows: &[PointRow]) -> super::figures::Figure {
    use super::figures::{Figure, PALETTE, Series, Stroke};
    let numeric = |a: &GridAxis| a.values.iter().all(|v| v.parse::<f64>().is_ok());
    let xi = sweep.grid.iter().position(numeric).unwrap_or(0);
    let x_axis = sweep.grid.get(xi);
    let x_name = x_axis.map_or(String::new(), |a| a.name.clone());
    let categorical = x_axis.is_some_and(|a| !numeric(a));
    let mut fig = Figure::new(
        &format!("{} vs {x_name} (sweep {})", sweep.metric, sweep.id),
        &if categorical {
            let names: Vec<String> = x_axis
                .map(|a| {
                    a.values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| format!("{i}={v}"))
                        .collect()
                })
                .unwrap_or_default();
            format!("{x_name} ({})", names.join(", "))
        } else {
            x_name.clone()
        },
        &format!("{} (mean ± std over seeds)", sweep.metric),
    );
    fig.error_bars = true;
    let mut lines: Vec<(String, Series)> = Vec::new();
    let mut dots: Vec<(usize, Vec<[f64; 2]>)> = Vec::new();
    for r in rows {
        let (Some(m), Some(sd)) = (r.mean, r.std) else {
            continue;
        };
        let x = match x_axis {
            Some(a) => {
                let v = &r.params[xi].1;
                if categorical {
                    a.values.iter().position(|u| u == v).unwrap_or(0) as f64
                } else {
                    v.parse().unwrap_or(f64::NAN)
                }
            }
            None => 0.0,
        };
        let others: Vec<(String, String)> = r
            .params
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != xi)
            .map(|(_, p)| p.clone())
            .collect();
        let name = if others.is_empty() {
            sweep.metric.clone()
        } else {
            params_label(&others)
        };
        let k = match lines.iter().position(|(n, _)| *n == name) {
            Some(k) => k,
            None => {
                let color = PALETTE[lines.len() % PALETTE.len()];
                lines.push((
                    name.clone(),
                    Series {
                        name: name.clone(),
                        color,
                        band: Some(Vec::new()),
                        ..Default::default()
                    },
                ));
                lines.len() - 1
            }
        };
        let s = &mut lines[k].1;
        s.points.push([x, m]);
        if let Some(b) = s.band.as_mut() {
            b.push([x, m - sd, m + sd]);
        }
        s.run_ids.extend(r.run_ids.iter().map(|i| i.to_string()));
        dots.push((k, r.per_seed.iter().map(|&v| [x, v]).collect()));
    }
    // Each seed's figure as a faint dot beside its mean: n and the spread at a glance.
    let seeds: Vec<Series> = (0..lines.len())
        .map(|k| Series {
            name: format!("{} (each seed)", lines[k].0),
            color: lines[k].1.color,
            points: dots
                .iter()
                .filter(|(j, _)| *j == k)
                .flat_map(|(_, p)| p.iter().copied())
                .collect(),
            stroke: Stroke::Dots,
            hide_in_legend: true,
            ..Default::default()
        })
        .collect();
    // A line that is a known configuration ("skips=on", "model=gcn") keeps its colour of every
    // other view, unless two lines would share one.
    let slots: Vec<usize> = lines
        .iter()
        .map(|(name, _)| {
            let words: Vec<String> = name
                .split(' ')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| format!("{k} {v} {}", v.to_uppercase()))
                .collect();
            super::figures::identity_slot(&words.join(" "), name)
        })
        .collect();
    let distinct = slots.iter().collect::<BTreeSet<_>>().len() == slots.len();
    let mut series: Vec<Series> = lines.into_iter().map(|(_, s)| s).chain(seeds).collect();
    if distinct && slots.len() > 1 {
        let n = slots.len();
        for (k, s) in series.iter_mut().enumerate() {
            s.color = PALETTE[slots[k % n]];
        }
    }
    fig.series = series;
    // A figure over two decades or more (a count growing exponentially, a ratio decaying) on a
    // log axis, when every mean and every error bar's low end is positive.
    let (lo, hi) = fig
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p[1]))
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
    let positive = lo > 0.0
        && fig
            .series
            .iter()
            .flat_map(|s| s.band.iter().flatten())
            .all(|b| b[1] > 0.0);
    fig.y.log = positive && hi / lo >= 100.0;
    fig
}

/// The report of a sweep: its grid, the figure, the table with each point's Welch verdict
/// against the `baseline` point (default: the first), and the command that reproduces it.
pub fn report_blocks(
    sweep: &SweepRow,
    rows: &[PointRow],
    direction: Direction,
    baseline: usize,
) -> Vec<super::report::Block> {
    use super::report::{Block, Cell};
    let mut out = vec![
        Block::Heading(
            1,
            format!(
                "Sweep {}: {} over {}",
                sweep.id,
                sweep.lab,
                sweep
                    .grid
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" x ")
            ),
        ),
        Block::Para(format!(
            "{} of {} runs finished ({}); figure: {}, mean ± sample std over seeds.",
            sweep.done, sweep.total, sweep.status, sweep.metric
        )),
        Block::Heading(2, "Grid".into()),
        Block::List(
            sweep
                .grid
                .iter()
                .map(|a| format!("{}: {}", a.name, a.values.join(", ")))
                .chain(std::iter::once(format!(
                    "seeds: {}",
                    sweep
                        .seeds
                        .iter()
                        .map(|s| s.map_or("none".into(), |s| s.to_string()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
                .collect(),
        ),
        Block::Figure {
            stem: format!("sweep-{}", sweep.id),
            figure: figure(sweep, rows),
            caption: format!(
                "{} at each grid point: mean (dot) ± std over seeds (bar).",
                sweep.metric
            ),
        },
        Block::Heading(2, "Table".into()),
    ];
    let best = best(rows, direction);
    let verdicts = verdicts(rows, baseline);
    let base_label = rows.get(baseline).map(|r| r.label()).unwrap_or_default();
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    let table_rows = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let verdict = if i == baseline {
                "baseline".to_string()
            } else {
                verdicts[i].as_ref().map_or("-".into(), verdict_text)
            };
            vec![
                Cell {
                    text: r.label(),
                    bold: best == Some(i),
                },
                Cell::text(&f(r.mean)),
                Cell::text(&f(r.std)),
                Cell::text(&r.per_seed.len().to_string()),
                Cell::text(
                    &r.per_seed
                        .iter()
                        .map(|v| format!("{v:.4}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                Cell::text(&verdict),
                Cell::text(
                    &r.run_ids
                        .iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            ]
        })
        .collect();
    out.push(Block::Table {
        header: vec![
            "point".into(),
            "mean".into(),
            "std".into(),
            "n".into(),
            "per seed".into(),
            format!("vs {base_label} (Welch)"),
            "runs".into(),
        ],
        rows: table_rows,
    });
    out.push(Block::Para(format!(
        "Bold: the best point. The verdict compares each point's seeds with the baseline's: \
         {}",
        super::stats::NOISE_RULE
    )));
    out.push(Block::Heading(2, "Reproduce".into()));
    out.push(Block::Code(sweep.command.clone()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(allowed: &[&str], switch: bool) -> Setting {
        Setting {
            name: "x".into(),
            switch,
            allowed: allowed.iter().map(|s| s.to_string()).collect(),
            help: String::new(),
            default: None,
        }
    }

    #[test]
    fn proposals_follow_what_the_setting_is() {
        let number = setting(&[], false);
        let p = |v: &str| propose(&number, Some(&typed(v)));
        assert_eq!(p("0.6"), ["0.1", "0.3", "0.5", "0.7", "0.9"], "a fraction");
        assert_eq!(
            p("0.01"),
            ["0.001", "0.003", "0.01", "0.03", "0.1"],
            "a small rate, log"
        );
        assert_eq!(
            p("16"),
            ["4", "8", "16", "32", "64"],
            "a count, halving and doubling"
        );
        assert_eq!(
            p("3"),
            ["1", "2", "3", "4", "5"],
            "a small count, never below 1"
        );
        assert_eq!(
            propose(&setting(&["gcn", "gat"], false), None),
            ["gcn", "gat"]
        );
        assert_eq!(propose(&setting(&[], true), None), ["true", "false"]);
        assert!(propose(&number, None).is_empty(), "nothing to start from");
    }

    #[test]
    fn a_heat_map_needs_two_numeric_settings() {
        let row = |x: &str, y: &str, m: f64| PointRow {
            params: vec![("a".into(), x.into()), ("b".into(), y.into())],
            per_seed: vec![m],
            seeds: vec![Some(0)],
            run_ids: vec![1],
            mean: Some(m),
            std: Some(0.0),
        };
        let mut s = SweepRow {
            id: 1,
            lab: "lab".into(),
            command: String::new(),
            base_config: Value::Null,
            base_words: None,
            grid: vec![
                GridAxis {
                    name: "a".into(),
                    values: vec!["1".into(), "2".into()],
                },
                GridAxis {
                    name: "b".into(),
                    values: vec!["0.5".into()],
                },
            ],
            seeds: vec![Some(0)],
            points: 2,
            total: 2,
            done: 2,
            metric: "m".into(),
            status: "finished".into(),
            created_ms: 0,
            updated_ms: 0,
        };
        let rows = [row("1", "0.5", 0.25), row("2", "0.5", 0.75)];
        let h = heat(&s, &rows).expect("two numeric settings");
        assert_eq!(h.cells, vec![vec![Some((0.25, 1)), Some((0.75, 1))]]);
        s.grid[1].values = vec!["on".into()];
        assert!(
            heat(&s, &rows).is_none(),
            "a choice is not an axis of a heat map"
        );
    }
}
