//! `gradlab sweep`: a lab's runs over a grid of settings and seeds (`sweep LAB ...`), a question
//! the lab ships as a preset (`sweep LAB --preset ID`, `sweep presets`), the sweeps in the store
//! (`sweep list`) and one sweep's table (`sweep show ID`).

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::core::descriptor::{LabDescriptor, SweepPreset};
use crate::core::runs::{RunStore, SweepRow, quote_args};
use crate::core::sweep::{self, duration_text};
use crate::labs::lab::CliOutput as Output;

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// `LAB [the lab's flags] --vary NAME=V1,V2,... [--vary ...] [--seeds K] [--metric KEY]
    /// [--jobs J] [--json]` (NAME: a setting as --print-config names it, or its flag; several
    /// --vary make the full grid; --metric: the summary figure to read, default the lab's main
    /// one; the same command again resumes the sweep); `LAB --preset ID [--jobs J] [--json]` (a
    /// question the lab ships); `presets [--json]`; `list [--json]`; `show ID [--json]`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 1..,
        value_name = "LAB|list|show"
    )]
    pub words: Vec<String>,
}

/// What the words of `gradlab sweep` say, beyond the lab's own flags.
#[derive(Debug, Default, PartialEq)]
struct Parsed {
    lab_words: Vec<String>,
    vary: Vec<String>,
    preset: Option<String>,
    metric: Option<String>,
    jobs: Option<usize>,
    json: bool,
    runs_dir: Option<PathBuf>,
    data_dir: Option<PathBuf>,
}

/// Takes the sweep's own flags (and the global --runs-dir/--data-dir, which land here when
/// given after the lab) out of `words`; the rest are the lab's.
fn split_words(words: &[String]) -> anyhow::Result<Parsed> {
    let mut p = Parsed::default();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (w.as_str(), None),
        };
        let mut value = |name: &str| -> anyhow::Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("{name} needs a value")),
            }
        };
        match flag {
            "--vary" => p.vary.push(value("--vary")?),
            "--preset" => p.preset = Some(value("--preset")?),
            "--metric" => p.metric = Some(value("--metric")?),
            "--jobs" => {
                let v = value("--jobs")?;
                let j: usize = v
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--jobs {v}: expected a whole number >= 1"))?;
                anyhow::ensure!(j >= 1, "--jobs {v}: expected a whole number >= 1");
                p.jobs = Some(j);
            }
            "--json" if inline.is_none() => p.json = true,
            "--runs-dir" => p.runs_dir = Some(value("--runs-dir")?.into()),
            "--data-dir" => p.data_dir = Some(value("--data-dir")?.into()),
            "--print-config" => anyhow::bail!(
                "--print-config: a sweep has one config per grid point; give the lab's command --print-config"
            ),
            _ => p.lab_words.push(w.clone()),
        }
    }
    Ok(p)
}

/// Runs `gradlab sweep ...`; `runs_dir` and `data_dir` are the global options' folders (given
/// as functions: a sweep's own `--runs-dir` / `--data-dir` words take precedence).
pub fn run(
    args: &SweepArgs,
    runs_dir: impl FnOnce() -> anyhow::Result<std::path::PathBuf>,
    data_dir: impl FnOnce() -> std::path::PathBuf,
) -> anyhow::Result<(Output, bool)> {
    let p = split_words(&args.words)?;
    let runs_dir = match &p.runs_dir {
        Some(d) => d.clone(),
        None => runs_dir()?,
    };
    let data_dir = p.data_dir.clone().unwrap_or_else(data_dir);
    let (first, rest) = p
        .lab_words
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("gradlab sweep: name a lab, `list` or `show ID`"))?;
    let labs = crate::labs::descriptors();
    let out = match first.as_str() {
        "list" => {
            anyhow::ensure!(
                rest.is_empty(),
                "sweep list takes no arguments besides --json"
            );
            list(&RunStore::open(&runs_dir)?)?
        }
        "presets" => {
            anyhow::ensure!(
                rest.is_empty(),
                "sweep presets takes no arguments besides --json"
            );
            presets(&labs)
        }
        "show" => {
            let [id] = rest else {
                anyhow::bail!("sweep show takes one sweep id (see `gradlab sweep list`)");
            };
            let id: i64 = id
                .parse()
                .map_err(|_| anyhow::anyhow!("sweep show {id}: expected a sweep id (a number)"))?;
            let store = RunStore::open(&runs_dir)?;
            let s = store
                .sweep(id)?
                .ok_or_else(|| anyhow::anyhow!("no sweep {id} in {}", runs_dir.display()))?;
            show(&store, &s, &labs)?
        }
        name => {
            let lab = labs
                .iter()
                .copied()
                .find(|d| d.answers_to(name))
                .ok_or_else(|| {
                    let ids: Vec<&str> = labs
                        .iter()
                        .filter(|d| d.sweep.is_some())
                        .map(|d| d.id)
                        .collect();
                    anyhow::anyhow!(
                        "sweep {name}: no such lab; labs: {} (or `presets`, `list`, `show ID`)",
                        ids.join(", ")
                    )
                })?;
            sweep_lab(lab, rest, &p, &runs_dir, &data_dir)?
        }
    };
    Ok((out, p.json))
}

fn sweep_lab(
    lab: &LabDescriptor,
    words: &[String],
    p: &Parsed,
    runs_dir: &std::path::Path,
    data_dir: &std::path::Path,
) -> anyhow::Result<Output> {
    let prep = match &p.preset {
        // A preset is a whole sweep: the lab's flags, the grid and the figure are its own.
        Some(id) => {
            let preset = sweep::find_preset(lab, id)?;
            anyhow::ensure!(
                words.is_empty() && p.vary.is_empty() && p.metric.is_none(),
                "--preset {id} is a whole sweep and takes no lab flags, --vary or --metric \
                 besides --jobs and --json; to change it, run its command with your changes: {}",
                preset_command(lab, preset)
            );
            sweep::prepare_preset(lab, preset, data_dir)?
        }
        None => {
            let vary = p
                .vary
                .iter()
                .map(|v| sweep::parse_vary(v))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let prep = sweep::prepare(lab, words, &vary, data_dir)?;
            match &p.metric {
                Some(m) => prep.with_metric(m)?,
                None => prep,
            }
        }
    };
    let command = prep.command();
    let outcome = run_prepared(&prep, runs_dir, &command, p.jobs, false)?;
    let store = RunStore::open(runs_dir)?;
    let s = store
        .sweep(outcome.sweep_id)?
        .ok_or_else(|| anyhow::anyhow!("sweep {} vanished from the store", outcome.sweep_id))?;
    let mut out = show(&store, &s, &[lab])?;
    out.json["runs_recorded"] = json!(outcome.recorded);
    out.json["runs_reused"] = json!(outcome.reused);
    out.json["resumed"] = json!(outcome.resumed);
    out.json["run_seconds"] = json!(outcome.run_seconds);
    out.json["wall_seconds"] = json!(outcome.wall_seconds);
    out.human.push_str(&format!(
        "\n{} runs trained, {} reused, in {}",
        outcome.recorded,
        outcome.reused,
        duration_text(outcome.wall_seconds)
    ));
    Ok(out)
}

/// A preset's sweep as it would be typed by hand.
fn preset_command(lab: &LabDescriptor, preset: &SweepPreset) -> String {
    let mut cmd = vec!["gradlab".to_string(), "sweep".into(), lab.id.into()];
    cmd.extend(preset.flags.iter().map(|w| w.to_string()));
    for (name, values) in preset.vary {
        cmd.push("--vary".into());
        cmd.push(format!("{name}={}", values.join(",")));
    }
    if let Some(m) = preset.metric {
        cmd.push("--metric".into());
        cmd.push(m.into());
    }
    quote_args(&cmd)
}

/// Runs a prepared sweep, its progress on stderr unless `quiet`.
pub(crate) fn run_prepared(
    prep: &sweep::Prepared<'_>,
    runs_dir: &std::path::Path,
    command: &str,
    jobs: Option<usize>,
    quiet: bool,
) -> anyhow::Result<sweep::Outcome> {
    let stop = crate::core::StopFlag::new();
    sweep::run(prep, runs_dir, command, jobs, &stop, &mut |p| {
        if !quiet {
            eprintln!("{}", p.line);
        }
    })
}

/// `gradlab bench --only sweep`: what a sweep adds over running the same runs one by one. 100
/// tiny runs (GCN on the synthetic graph, 10 epochs: 10 homophilies x 10 seeds) as one sweep
/// (`--jobs 1`, planning, look-ups, links, progress) and the same runs one after the other
/// through the lab's own `run_one` in this process, each recorded in a fresh store; rounds
/// alternate which goes first, so drift on a shared machine favours neither.
pub(crate) fn bench(data_dir: &std::path::Path) -> anyhow::Result<Value> {
    use std::time::Instant;
    let lab = crate::labs::descriptors()
        .into_iter()
        .find(|d| d.id == crate::labs::graphs::keys::ID)
        .ok_or_else(|| anyhow::anyhow!("no graphs lab"))?;
    let hooks = lab
        .sweep
        .ok_or_else(|| anyhow::anyhow!("the graphs lab cannot be swept"))?;
    let base: Vec<String> = ["--dataset", "synthetic", "--epochs", "10", "--seeds", "10"]
        .iter()
        .map(|w| w.to_string())
        .collect();
    let homophilies: Vec<String> = (1..=10)
        .map(|k| format!("{:.2}", k as f64 * 0.09))
        .collect();
    let vary = vec![("homophily".to_string(), homophilies)];
    let prep = sweep::prepare(lab, &base, &vary, data_dir)?;
    let runs = prep.total();
    let command = prep.command();
    // (wall seconds, seconds inside the runs and their links).
    let as_sweep = || -> anyhow::Result<(f64, f64)> {
        let dir = tempfile::tempdir()?;
        let t = Instant::now();
        let out = run_prepared(&prep, dir.path(), &command, Some(1), true)?;
        anyhow::ensure!(
            out.recorded == runs,
            "the sweep trained {} runs",
            out.recorded
        );
        Ok((t.elapsed().as_secs_f64(), out.run_seconds))
    };
    let one_by_one = || -> anyhow::Result<f64> {
        let dir = tempfile::tempdir()?;
        let t = Instant::now();
        let store = RunStore::open(dir.path())?;
        let stop = crate::core::StopFlag::new();
        for point in &prep.points {
            for seed in &point.seeds {
                (hooks.run_one)(
                    &point.words,
                    data_dir,
                    *seed,
                    &store,
                    &mut crate::core::NullSink,
                    &stop,
                )?;
            }
        }
        Ok(t.elapsed().as_secs_f64())
    };
    // Warm-up: the first runs of a process pay for allocations and page faults.
    one_by_one()?;
    let (mut swept, mut single, mut inside) = (Vec::new(), Vec::new(), 0.0);
    for round in 0..2 {
        let mut sweep_once = || -> anyhow::Result<()> {
            let (wall, runs) = as_sweep()?;
            swept.push(wall);
            inside += runs;
            Ok(())
        };
        if round % 2 == 0 {
            sweep_once()?;
            single.push(one_by_one()?);
        } else {
            single.push(one_by_one()?);
            sweep_once()?;
        }
    }
    let (s, o) = (swept.iter().sum::<f64>(), single.iter().sum::<f64>());
    let r2 = |x: f64| (x * 100.0).round() / 100.0;
    let r2s = |v: &[f64]| v.iter().map(|x| r2(*x)).collect::<Vec<_>>();
    Ok(json!({
        "sweep_runs": runs,
        "sweep_rounds": 2,
        "sweep_s": r2(s),
        "one_by_one_s": r2(o),
        // The sweep against the same runs one by one: within this machine's noise (see the
        // rounds) when the sweep's own work is small.
        "sweep_overhead_pct": r2((s - o) / o * 100.0),
        "sweep_round_s": r2s(&swept),
        "one_by_one_round_s": r2s(&single),
        // The sweep's own work (opening it, planning each point, look-ups, progress), timed in
        // the same process: its wall time outside the runs.
        "sweep_outside_runs_pct": r2((s - inside) / inside * 100.0),
        "sweep_command": command,
    }))
}

/// Every lab's preset questions, each with its command.
fn presets(labs: &[&LabDescriptor]) -> Output {
    let mut human = String::new();
    let mut json = Vec::new();
    for lab in labs {
        for p in lab.sweep.map_or(&[][..], |h| h.presets) {
            let command = preset_command(lab, p);
            human.push_str(&format!(
                "{} --preset {}\n  {}\n  = {command}\n",
                lab.id, p.id, p.question
            ));
            json.push(json!({
                "lab": lab.id,
                "id": p.id,
                "question": p.question,
                "command": command,
                "metric": p.metric.or(lab.main_metric().map(|m| m.key)),
            }));
        }
    }
    Output {
        json: json!({ "presets": json }),
        human: human.trim_end().to_string(),
    }
}

/// The descriptor of a sweep's lab (a lab this build does not know: its id alone).
fn lab_of(labs: &[&LabDescriptor], id: &str) -> LabDescriptor {
    labs.iter()
        .find(|d| d.id == id)
        .map(|d| **d)
        .unwrap_or_else(|| LabDescriptor::unknown("unknown lab"))
}

/// One sweep's table.
fn show(store: &RunStore, s: &SweepRow, labs: &[&LabDescriptor]) -> anyhow::Result<Output> {
    let lab = lab_of(labs, &s.lab);
    let direction = lab
        .metric(&s.metric)
        .map(|m| m.direction)
        .unwrap_or(crate::core::descriptor::Direction::Neither);
    let rows = sweep::rows(s, &store.sweep_links(s.id, &s.metric)?);
    Ok(Output {
        json: sweep::table_json(s, &rows, direction),
        human: sweep::table_text(s, &rows, direction),
    })
}

fn list(store: &RunStore) -> anyhow::Result<Output> {
    let sweeps = store.sweeps()?;
    let grid = |s: &SweepRow| -> String {
        s.grid
            .iter()
            .map(|a| format!("{}={}", a.name, a.values.join(",")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut human = format!(
        "{:>4}  {:<13} {:<11} {:>9}  grid\n",
        "id", "lab", "status", "done"
    );
    for s in &sweeps {
        human.push_str(&format!(
            "{:>4}  {:<13} {:<11} {:>9}  {}\n",
            s.id,
            s.lab,
            s.status,
            format!("{}/{}", s.done, s.total),
            grid(s)
        ));
    }
    if sweeps.is_empty() {
        human.push_str("(no sweeps yet: gradlab sweep LAB --vary NAME=V1,V2,...)\n");
    }
    let json: Vec<Value> = sweeps
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "lab": s.lab,
                "metric": s.metric,
                "grid": s.grid.iter().map(|a| (a.name.clone(), json!(a.values.iter().map(|v| sweep::typed(v)).collect::<Vec<_>>()))).collect::<serde_json::Map<_, _>>(),
                "seeds": s.seeds,
                "done": s.done,
                "total": s.total,
                "status": s.status,
                "command": s.command,
                "created_ms": s.created_ms,
            })
        })
        .collect();
    Ok(Output {
        json: json!({ "sweeps": json }),
        human: human.trim_end().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn the_sweeps_flags_come_out_and_the_rest_is_the_labs() {
        let p = split_words(&w(
            "graphs --dataset synthetic --vary homophily=0.2,0.5 --jobs 2 --vary=model=gcn,mlp --json --runs-dir /tmp/r --epochs 5",
        ))
        .unwrap();
        assert_eq!(p.lab_words, w("graphs --dataset synthetic --epochs 5"));
        assert_eq!(p.vary, ["homophily=0.2,0.5", "model=gcn,mlp"]);
        assert_eq!(p.jobs, Some(2));
        assert!(p.json);
        assert_eq!(p.runs_dir, Some(PathBuf::from("/tmp/r")));
        for bad in ["x --jobs 0", "x --jobs two", "x --vary", "x --print-config"] {
            assert!(split_words(&w(bad)).is_err(), "{bad}");
        }
        let p = split_words(&w("theory --preset rnn_ratio_vs_n --metric=x --jobs 1")).unwrap();
        assert_eq!(p.lab_words, w("theory"));
        assert_eq!(p.preset.as_deref(), Some("rnn_ratio_vs_n"));
        assert_eq!(p.metric.as_deref(), Some("x"));
    }

    /// Every preset of every lab is a valid sweep (names and values as the lab's parser takes
    /// them, its figure a summary figure of the lab), with at least two points; nothing runs.
    #[test]
    fn every_preset_prepares() {
        let data = tempfile::tempdir().unwrap();
        let mut seen = 0;
        for lab in crate::labs::descriptors() {
            let presets = lab.sweep.map_or(&[][..], |h| h.presets);
            let mut ids: Vec<&str> = presets.iter().map(|p| p.id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(
                ids.len(),
                presets.len(),
                "{}: two presets share an id",
                lab.id
            );
            for p in presets {
                let prep = sweep::prepare_preset(lab, p, data.path())
                    .unwrap_or_else(|e| panic!("{} --preset {}: {e:#}", lab.id, p.id));
                assert!(prep.points.len() >= 2, "{}", p.id);
                assert_eq!(prep.grid.len(), p.vary.len());
                assert_eq!(
                    prep.metric.key,
                    p.metric.unwrap_or_else(|| lab.main_metric().unwrap().key),
                    "{}",
                    p.id
                );
                assert!(!p.question.is_empty());
                // The command it prints reads the same sweep.
                let cmd = preset_command(lab, p);
                assert!(
                    cmd.starts_with(&format!("gradlab sweep {} ", lab.id)),
                    "{cmd}"
                );
                seen += 1;
            }
        }
        assert!(seen >= 5, "{seen} presets");
        let graphs = crate::labs::descriptors()
            .into_iter()
            .find(|d| d.id == "graphs")
            .unwrap();
        let e = sweep::find_preset(graphs, "nope").unwrap_err().to_string();
        assert!(e.contains("homophily") && e.contains("gat_heads"), "{e}");
    }
}
