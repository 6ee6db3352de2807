//! `gradlab sweep`: a lab's runs over a grid of settings and seeds (`sweep LAB ...`), the sweeps
//! in the store (`sweep list`) and one sweep's table (`sweep show ID`).

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::core::descriptor::LabDescriptor;
use crate::core::runs::{RunStore, SweepRow};
use crate::core::sweep::{self, duration_text};
use crate::labs::lab::CliOutput as Output;

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// `LAB [the lab's flags] --vary NAME=V1,V2,... [--vary ...] [--seeds K] [--jobs J] [--json]`
    /// (NAME: a setting as --print-config names it, or its flag; several --vary make the full
    /// grid; the same command again resumes the sweep); `list [--json]`; `show ID [--json]`.
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
                        "sweep {name}: no such lab; labs: {} (or `list`, `show ID`)",
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
    let vary = p
        .vary
        .iter()
        .map(|v| sweep::parse_vary(v))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let prep = sweep::prepare(lab, words, &vary, data_dir)?;
    let command = prep.command();
    let stop = crate::core::StopFlag::new();
    let outcome = sweep::run(&prep, runs_dir, &command, p.jobs, &stop, &mut |p| {
        eprintln!("{}", p.line);
    })?;
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
    }
}
