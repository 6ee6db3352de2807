//! Sweeps in the run store: one row per sweep (its lab, command, base config, grid, seeds and
//! status) and one link per (grid point, seed) to the finished run that answers it. A link is
//! written only after its run finished, so a killed sweep leaves no half-answered point: the
//! same command finds the sweep by its key and runs only what has no link.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::liveness;
use super::model::RunId;
use super::store::{RunStore, StoreError, now_ms};

pub type SweepId = i64;

/// One varied setting: its name (the config field, as `--print-config` names it) and its
/// values as typed on the command line, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridAxis {
    pub name: String,
    pub values: Vec<String>,
}

/// A sweep to find or create.
#[derive(Clone, Debug)]
pub struct NewSweep {
    /// Identifies the sweep: a hash of its lab, base config, grid and seeds.
    pub key: String,
    pub lab: String,
    pub command: String,
    pub base_config: Value,
    /// The lab's flags every point starts from (what a resume passes to `prepare` again).
    pub base_words: Vec<String>,
    pub grid: Vec<GridAxis>,
    pub seeds: Vec<Option<u64>>,
    pub points: usize,
    pub total: usize,
    /// The figure each run is read by (the lab's main metric).
    pub metric: String,
}

/// A sweep as lists show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepRow {
    pub id: SweepId,
    pub lab: String,
    pub command: String,
    pub base_config: Value,
    /// The lab's flags every point starts from; `None` for a sweep recorded before they were
    /// kept (its command still reproduces it).
    pub base_words: Option<Vec<String>>,
    pub grid: Vec<GridAxis>,
    pub seeds: Vec<Option<u64>>,
    pub points: usize,
    pub total: usize,
    /// (point, seed) pairs with a finished run.
    pub done: usize,
    pub metric: String,
    /// running, finished, incomplete (ended with failed runs), or interrupted (its process is
    /// gone: the same command resumes it).
    pub status: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// The finished run answering one (point, seed slot) of a sweep, with its figure.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepLink {
    pub point: usize,
    pub slot: usize,
    pub run_id: RunId,
    pub seed: Option<u64>,
    /// The sweep's metric in the run's summary; `None` when the summary lacks it.
    pub value: Option<f64>,
}

const SWEEP_COLUMNS: &str = "s.id, s.lab, s.command, s.base_config, s.grid, s.seeds, s.points,
    s.total, s.metric, s.status, s.pid, s.pid_start, s.created_ms, s.updated_ms, s.base_words,
    (SELECT count(*) FROM sweep_runs l JOIN runs r ON r.id = l.run_id
     WHERE l.sweep_id = s.id AND r.status = 'finished' AND r.deleted_ms IS NULL)";

fn sweep_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<SweepRow> {
    let json = |i: usize| -> rusqlite::Result<Value> {
        let t: String = r.get(i)?;
        Ok(serde_json::from_str(&t).unwrap_or(Value::Null))
    };
    let grid: Vec<GridAxis> = serde_json::from_value(json(4)?).unwrap_or_default();
    let seeds: Vec<Option<u64>> = serde_json::from_value(json(5)?).unwrap_or_default();
    let mut status: String = r.get(9)?;
    let (pid, start): (Option<i64>, Option<i64>) = (r.get(10)?, r.get(11)?);
    if status == "running" && !pid.is_some_and(|p| liveness::is_alive(p, start)) {
        status = "interrupted".into();
    }
    Ok(SweepRow {
        id: r.get(0)?,
        lab: r.get(1)?,
        command: r.get(2)?,
        base_config: json(3)?,
        grid,
        seeds,
        points: r.get::<_, i64>(6)? as usize,
        total: r.get::<_, i64>(7)? as usize,
        metric: r.get(8)?,
        status,
        created_ms: r.get(12)?,
        updated_ms: r.get(13)?,
        base_words: r
            .get::<_, Option<String>>(14)?
            .and_then(|t| serde_json::from_str(&t).ok()),
        done: r.get::<_, i64>(15)? as usize,
    })
}

impl RunStore {
    /// The sweep with `s.key`, created when there is none; marks it running in this process.
    /// Returns its id and whether it already existed (a resume).
    pub fn open_sweep(&self, s: &NewSweep) -> Result<(SweepId, bool), StoreError> {
        let (pid, start) = liveness::this_process();
        let now = now_ms();
        let existing: Option<SweepId> = self
            .conn
            .query_row(
                "SELECT id FROM sweeps WHERE sweep_key = ?1",
                params![s.key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        if let Some(id) = existing {
            self.conn
                .execute(
                    "UPDATE sweeps SET status = 'running', pid = ?2, pid_start = ?3,
                     updated_ms = ?4, command = ?5, base_words = ?6 WHERE id = ?1",
                    params![
                        id,
                        pid,
                        start.map(|s| s as i64),
                        now,
                        s.command,
                        json_text(&s.base_words)
                    ],
                )
                .map_err(|e| self.err(e))?;
            return Ok((id, true));
        }
        self.conn
            .execute(
                "INSERT INTO sweeps (sweep_key, lab, command, base_config, grid, seeds, points,
                   total, metric, status, pid, pid_start, created_ms, updated_ms, base_words)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'running', ?10, ?11, ?12, ?12, ?13)",
                params![
                    s.key,
                    s.lab,
                    s.command,
                    s.base_config.to_string(),
                    json_text(&s.grid),
                    json_text(&s.seeds),
                    s.points as i64,
                    s.total as i64,
                    s.metric,
                    pid,
                    start.map(|s| s as i64),
                    now,
                    json_text(&s.base_words),
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok((self.conn.last_insert_rowid(), false))
    }

    /// Sets a sweep's status (finished, incomplete) and when it changed.
    pub fn set_sweep_status(&self, id: SweepId, status: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE sweeps SET status = ?2, updated_ms = ?3 WHERE id = ?1",
                params![id, status, now_ms()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every sweep, newest first.
    pub fn sweeps(&self) -> Result<Vec<SweepRow>, StoreError> {
        let sql = format!("SELECT {SWEEP_COLUMNS} FROM sweeps s ORDER BY s.id DESC");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        stmt.query_map([], sweep_from)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))
    }

    /// One sweep, if there is one with this id.
    pub fn sweep(&self, id: SweepId) -> Result<Option<SweepRow>, StoreError> {
        let sql = format!("SELECT {SWEEP_COLUMNS} FROM sweeps s WHERE s.id = ?1");
        self.conn
            .query_row(&sql, params![id], sweep_from)
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The finished, not deleted runs linked to sweep `id`, by point and slot, each with the
    /// value of `metric` in its summary.
    pub fn sweep_links(&self, id: SweepId, metric: &str) -> Result<Vec<SweepLink>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT l.point, l.slot, l.run_id, r.seed, r.summary FROM sweep_runs l
                 JOIN runs r ON r.id = l.run_id
                 WHERE l.sweep_id = ?1 AND r.status = 'finished' AND r.deleted_ms IS NULL
                 ORDER BY l.point, l.slot",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map(params![id], |r| {
            let summary: Option<String> = r.get(4)?;
            // Parsed here, not by SQLite: the figure comes back to the bit as it was written.
            let value = summary
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v.get(metric).and_then(Value::as_f64));
            Ok(SweepLink {
                point: r.get::<_, i64>(0)? as usize,
                slot: r.get::<_, i64>(1)? as usize,
                run_id: r.get(2)?,
                seed: r.get::<_, Option<i64>>(3)?.map(|s| s as u64),
                value,
            })
        })
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| self.err(e))
    }

    /// Links `run` as the answer to (`point`, `slot`) of sweep `id`, replacing a link to a run
    /// that is gone or deleted.
    pub fn link_sweep_run(
        &self,
        id: SweepId,
        point: usize,
        slot: usize,
        params: &Value,
        run: RunId,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO sweep_runs (sweep_id, point, slot, params, run_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, point as i64, slot as i64, params.to_string(), run],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The first finished, not deleted run of `config_key` with `seed` (any sweep or none).
    pub fn finished_run_of(
        &self,
        config_key: &str,
        seed: Option<u64>,
    ) -> Result<Option<RunId>, StoreError> {
        self.conn
            .query_row(
                "SELECT id FROM runs WHERE config_key = ?1 AND seed IS ?2
                 AND status = 'finished' AND deleted_ms IS NULL ORDER BY id LIMIT 1",
                params![config_key, seed.map(|s| s as i64)],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The config_key a run was recorded under.
    pub fn config_key_of(&self, run: RunId) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT config_key FROM runs WHERE id = ?1",
                params![run],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}

/// JSON text of a value that always serializes (plain data).
fn json_text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}
