//! Reads the runs a report is made of from the run store: which runs (`--runs`, `--last`,
//! `--lab`), and each run's config, summary, curves, pictures and checkpoints.

use anyhow::Context;

use super::meta::ReportMeta;
use super::model::ReportRun;
use crate::core::clock::utc;
use crate::core::runs::{RunFilter, RunId, RunStore, SortBy, machine};

/// Which runs a report covers. With nothing chosen: the last 20 runs.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub ids: Vec<RunId>,
    pub last: Option<usize>,
    pub lab: Option<String>,
}

/// Parses `--runs 3,4,7`: a bad id is an error that names it.
pub fn parse_ids(text: &str) -> anyhow::Result<Vec<RunId>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<RunId>().map_err(|_| {
                anyhow::anyhow!("bad run id '{s}': run ids are numbers (see gradlab runs list)")
            })
        })
        .collect()
}

/// The run ids a selection names, oldest first; unknown ids are an error.
pub fn select(store: &RunStore, sel: &Selection) -> anyhow::Result<Vec<RunId>> {
    if !sel.ids.is_empty() {
        for &id in &sel.ids {
            anyhow::ensure!(
                store.get(id)?.is_some(),
                "no run {id} in {} (see gradlab runs list)",
                store.dir().display()
            );
        }
        return Ok(sel.ids.clone());
    }
    let rows = store.list(&RunFilter {
        lab: sel.lab.clone(),
        sort: SortBy::default(),
        descending: true,
        limit: Some(sel.last.unwrap_or(20)),
        ..Default::default()
    })?;
    let mut ids: Vec<RunId> = rows.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    anyhow::ensure!(
        !ids.is_empty(),
        "no runs to report in {}{}",
        store.dir().display(),
        sel.lab
            .as_ref()
            .map(|l| format!(" for lab '{l}'"))
            .unwrap_or_default()
    );
    Ok(ids)
}

/// One run as the report needs it. Pictures and checkpoints that are missing on disk are listed
/// as missing, not fatal.
pub fn report_run(store: &RunStore, id: RunId) -> anyhow::Result<ReportRun> {
    let d = store.require(id)?;
    let mut metrics = std::collections::BTreeMap::new();
    for s in &d.series {
        let pts = store.series(id, &s.key)?;
        metrics.insert(
            s.key.clone(),
            pts.iter().map(|p| [p.step, p.value]).collect(),
        );
    }
    let mut images = Vec::new();
    let mut checkpoints = Vec::new();
    let mut missing = Vec::new();
    for a in &d.artifacts {
        if let Some(why) = &a.missing {
            missing.push(format!("{} ({why})", a.name));
            continue;
        }
        if a.name.ends_with(".png") {
            let path = store.dir().join(&a.path);
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            images.push((a.name.trim_end_matches(".png").to_string(), bytes));
        } else if a.name.ends_with(".safetensors") {
            checkpoints.push((a.name.clone(), a.sha256.clone()));
        }
    }
    Ok(ReportRun {
        id: id.to_string(),
        lab: d.row.lab.clone(),
        name: d.row.name.clone(),
        dataset: d.row.dataset.clone().unwrap_or_default(),
        status: d.row.status.to_string(),
        seed: d.row.seed,
        config: d.config.clone(),
        config_key: d.row.config_key.clone(),
        dataset_sha256: d.row.dataset_sha256.clone(),
        summary: d.summary.clone().unwrap_or(serde_json::Value::Null),
        command: d.command.clone(),
        started: utc_datetime(d.row.started_ms),
        metrics,
        images,
        checkpoints,
        missing,
    })
}

/// Date, version, commit and machine of the report being written; `labs` draw their runs.
pub fn meta_now(labs: Vec<&'static crate::core::descriptor::LabDescriptor>) -> ReportMeta {
    let m = machine();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    ReportMeta {
        date: utc_datetime(now),
        version: env!("CARGO_PKG_VERSION").to_string(),
        commit: crate::core::runs::GIT_COMMIT.map(str::to_string),
        machine: format!(
            "{}, {} threads, {}",
            m["cpu"].as_str().unwrap_or("?"),
            m["threads"],
            m["os"].as_str().unwrap_or("?")
        ),
        labs,
    }
}

/// "2026-11-27 06:12 UTC" from milliseconds since the Unix epoch.
pub fn utc_datetime(ms: i64) -> String {
    let t = utc(ms);
    format!("{} {:02}:{:02} UTC", t.date(), t.hour, t.minute)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc_datetime(0), "1970-01-01 00:00 UTC");
        // 2026-11-27 06:12:00 UTC
        assert_eq!(utc_datetime(1_795_759_920_000), "2026-11-27 06:12 UTC");
        assert_eq!(utc_datetime(951_782_400_000), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn run_ids_parse_or_name_the_bad_one() {
        assert_eq!(parse_ids("3, 4,7").unwrap(), vec![3, 4, 7]);
        let e = parse_ids("3,x").unwrap_err().to_string();
        assert!(e.contains("'x'"), "{e}");
    }
}
