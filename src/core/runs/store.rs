//! Opening the store and reading it. One `RunStore` is one SQLite connection: use it from one
//! thread (the UI uses [`super::StoreReader`], a recorder its own writer thread).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, params, params_from_iter};
use serde_json::Value;

use super::artifacts;
use super::liveness;
use super::model::ArtifactInfo;
use super::model::{
    ConfigGroup, Facets, NewRun, Point, Purged, RunDetail, RunFilter, RunId, RunRow, RunStatus,
    SeriesInfo, SortBy, config_key, without_seed,
};
use super::provenance;
use super::schema::{self, SchemaError};

/// The database file inside the runs folder.
pub const DB_FILE: &str = "runs.sqlite";

/// How long a statement waits for another connection's write before giving up. Writers hold the
/// lock for milliseconds (one batch), so only a stuck or exclusive locker reaches this.
const BUSY_TIMEOUT: Duration = Duration::from_secs(3);

/// A store problem, always naming the database file or folder.
#[derive(Debug, thiserror::Error)]
#[error("run store {}: {reason}", path.display())]
pub struct StoreError {
    pub path: PathBuf,
    pub reason: String,
}

impl StoreError {
    pub(super) fn new(path: &Path, reason: impl Into<String>) -> Self {
        StoreError {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    pub(super) fn sql(path: &Path, e: &rusqlite::Error) -> Self {
        StoreError::new(path, describe(e))
    }
}

const LOCKED: &str = "is locked by another process (try again when it has finished)";

/// How long [`RunStore::open`] retries a store another process holds locked: several gradlab
/// commands started at once on a new store take turns creating it (switching a fresh database
/// to WAL is not covered by SQLite's busy timeout).
const OPEN_RETRY: Duration = Duration::from_secs(6);

/// A sentence for an SQLite error, in words a user can act on.
pub(super) fn describe(e: &rusqlite::Error) -> String {
    let code = e.sqlite_error_code();
    let what = match code {
        Some(ErrorCode::NotADatabase) => "is not a SQLite database, or is damaged",
        Some(ErrorCode::DatabaseCorrupt) => "is damaged",
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => LOCKED,
        Some(ErrorCode::CannotOpen) => "cannot be opened (is its folder writable?)",
        Some(ErrorCode::ReadOnly) => "is read-only",
        Some(ErrorCode::DiskFull) => "the disk is full",
        Some(ErrorCode::SystemIoFailure) => "input/output error",
        Some(ErrorCode::PermissionDenied) => "permission denied",
        _ => return e.to_string(),
    };
    format!("{what} ({e})")
}

/// `~/.local/share/gradlab/runs` on Linux, the platform's data folder elsewhere.
pub fn default_runs_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "gradlab").map(|p| p.data_dir().join("runs"))
}

pub struct RunStore {
    pub(super) conn: Connection,
    dir: PathBuf,
    db: PathBuf,
}

impl RunStore {
    /// Opens (or creates) the store in `dir`: checks the file, switches to WAL, migrates, and
    /// marks runs whose process is gone `interrupted`. Never deletes or rewrites a file it
    /// cannot use: it reports it.
    pub fn open(dir: &Path) -> Result<RunStore, StoreError> {
        let started = std::time::Instant::now();
        loop {
            match Self::open_once(dir) {
                Err(e) if e.reason.starts_with(LOCKED) && started.elapsed() < OPEN_RETRY => {
                    std::thread::sleep(Duration::from_millis(40));
                }
                other => return other,
            }
        }
    }

    fn open_once(dir: &Path) -> Result<RunStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::new(dir, format!("cannot create the folder: {e}")))?;
        let db = dir.join(DB_FILE);
        let mut conn = connect(&db)?;
        check_length(&conn, &db)?;
        schema::migrate(&mut conn).map_err(|e| match e {
            SchemaError::Sql(e) => StoreError::sql(&db, &e),
            other => StoreError::new(&db, other.to_string()),
        })?;
        let store = RunStore {
            conn,
            dir: dir.to_path_buf(),
            db,
        };
        store.mark_interrupted()?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn db_path(&self) -> &Path {
        &self.db
    }

    pub(super) fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::sql(&self.db, &e)
    }

    /// Marks `interrupted` every running run whose process is gone (or is another process
    /// that reuses its pid). Returns how many.
    pub fn mark_interrupted(&self) -> Result<usize, StoreError> {
        let running: Vec<(RunId, i64, Option<i64>)> = self
            .conn
            .prepare_cached("SELECT id, pid, pid_start FROM runs WHERE status = 'running'")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(|e| self.err(e))?;
        let mut n = 0;
        for (id, pid, start) in running {
            if !liveness::is_alive(pid, start) {
                n += self
                    .conn
                    .execute(
                        "UPDATE runs SET status = 'interrupted', ended_ms = COALESCE(ended_ms, ?2),
                         error = COALESCE(error, 'its process ended without finishing the run')
                         WHERE id = ?1 AND status = 'running'",
                        params![id, now_ms()],
                    )
                    .map_err(|e| self.err(e))?;
            }
        }
        Ok(n)
    }

    /// Inserts a new run in state `running`, owned by this process, and creates its folder.
    /// The folder is created exclusively: where `<runs>/<id>` already exists (someone's files),
    /// that id is given up and the next one taken, so a run never adopts a folder.
    pub fn create_run(&self, run: &NewRun) -> Result<RunId, StoreError> {
        // AUTOINCREMENT never hands out a deleted row's id again, so each try gets a new one.
        for _ in 0..1000 {
            let id = self.insert_run(run)?;
            match artifacts::create_run_folder(&self.dir, id) {
                Ok(true) => {
                    for t in &run.tags {
                        self.add_tag(id, t)?;
                    }
                    return Ok(id);
                }
                Ok(false) => {
                    self.conn
                        .execute("DELETE FROM runs WHERE id = ?1", params![id])
                        .map_err(|e| self.err(e))?;
                }
                Err(e) => {
                    let _ = self
                        .conn
                        .execute("DELETE FROM runs WHERE id = ?1", params![id]);
                    return Err(StoreError::new(
                        &artifacts::run_folder(&self.dir, id),
                        format!("cannot create the run's folder: {e}"),
                    ));
                }
            }
        }
        Err(StoreError::new(
            &self.dir,
            "1000 run folders ahead of the store's next id already exist; move them away",
        ))
    }

    fn insert_run(&self, run: &NewRun) -> Result<RunId, StoreError> {
        let (pid, start) = liveness::this_process();
        let key = run.config_key();
        self.conn
            .execute(
                "INSERT INTO runs (lab, name, status, config, config_key, seed, dataset,
                   dataset_sha256, command, gradlab_version, git_commit, machine, pid, pid_start,
                   started_ms, main_metric)
                 VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    run.lab,
                    run.name,
                    run.config.to_string(),
                    key,
                    run.seed.map(|s| s as i64),
                    run.dataset,
                    run.dataset_sha256,
                    run.command,
                    env!("CARGO_PKG_VERSION"),
                    provenance::GIT_COMMIT,
                    provenance::machine().to_string(),
                    pid,
                    start.map(|s| s as i64),
                    now_ms(),
                    run.main_metric,
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Runs matching `f`, sorted as it asks. Reads only the runs table (not the points), so it
    /// stays fast with thousands of runs.
    pub fn list(&self, f: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
        let mut args: Vec<SqlValue> = Vec::new();
        // The figure sorted by comes back with each row (?1), so a list can show it.
        let sort_value = match &f.sort {
            SortBy::Summary(k) => {
                args.push(json_path(k).into());
                "CASE WHEN json_type(r.summary, ?1) IN ('real', 'integer')
                   THEN json_extract(r.summary, ?1) END"
            }
            _ => "NULL",
        };
        let mut sql = format!("SELECT {ROW_COLUMNS}, {sort_value} FROM runs r WHERE ");
        sql.push_str(if f.trash {
            "r.deleted_ms IS NOT NULL"
        } else {
            "r.deleted_ms IS NULL"
        });
        let mut cond = |clause: &str, v: SqlValue| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(l) = &f.lab {
            cond(" AND r.lab = ?", l.clone().into());
        }
        if let Some(s) = f.status {
            cond(" AND r.status = ?", s.as_str().to_string().into());
        }
        if let Some(t) = &f.tag {
            cond(
                " AND EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.id AND t.tag = ?)",
                t.clone().into(),
            );
        }
        if let Some(d) = &f.dataset {
            cond(" AND r.dataset = ?", d.clone().into());
        }
        if let Some(m) = &f.model {
            cond(
                " AND json_extract(r.config, '$.model') = ?",
                m.clone().into(),
            );
        }
        if let Some(s) = f.sweep {
            cond(
                " AND EXISTS (SELECT 1 FROM sweep_runs l WHERE l.run_id = r.id AND l.sweep_id = ?)",
                s.into(),
            );
        }
        if let Some(t) = &f.text {
            cond(" AND instr(lower(r.name), ?) > 0", t.to_lowercase().into());
        }
        let dir = if f.descending { "DESC" } else { "ASC" };
        let order = match &f.sort {
            SortBy::Started => format!("r.started_ms {dir}, r.id {dir}"),
            SortBy::Name => format!("r.name {dir}, r.id"),
            SortBy::Status => format!("r.status {dir}, r.id"),
            SortBy::Main => format!("(r.main_value IS NULL), r.main_value {dir}, r.id"),
            SortBy::Summary(_) => format!("({sort_value}) IS NULL, {sort_value} {dir}, r.id"),
        };
        sql.push_str(&format!(" ORDER BY {order}"));
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params_from_iter(args), |r| {
                let mut row = row_from(r)?;
                row.sort_value = r.get(ROW_COLUMN_COUNT)?;
                Ok(row)
            })
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// The runs of `f` grouped by configuration (equal `config_key`), in the order of their
    /// first run in the list.
    pub fn groups(&self, f: &RunFilter) -> Result<Vec<ConfigGroup>, StoreError> {
        let rows = self.list(&RunFilter {
            limit: None,
            ..f.clone()
        })?;
        Ok(group_rows(&rows))
    }

    /// The models, datasets and numeric summary figures of the live runs (of `lab`, if given),
    /// for the filters and the sort of a runs list.
    pub fn facets(&self, lab: Option<&str>) -> Result<Facets, StoreError> {
        let strings_of = |sql: &str, lab: Option<&str>| -> Result<Vec<String>, StoreError> {
            let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
            st.query_map([lab], |r| r.get::<_, String>(0))
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| self.err(e))
        };
        let strings = |sql: &str| strings_of(sql, lab);
        Ok(Facets {
            // Every lab, whatever the lab filter: the filter's own choices.
            labs: strings_of(
                "SELECT DISTINCT lab FROM runs
                 WHERE deleted_ms IS NULL AND (?1 IS NULL OR lab = ?1)
                 ORDER BY lab",
                None,
            )?,
            models: strings(
                "SELECT DISTINCT json_extract(config, '$.model') AS m FROM runs
                 WHERE deleted_ms IS NULL AND (?1 IS NULL OR lab = ?1)
                   AND json_valid(config) AND json_type(config, '$.model') = 'text'
                 ORDER BY m",
            )?,
            datasets: strings(
                "SELECT DISTINCT dataset FROM runs
                 WHERE deleted_ms IS NULL AND (?1 IS NULL OR lab = ?1) AND dataset IS NOT NULL
                 ORDER BY dataset",
            )?,
            figures: strings(
                "SELECT DISTINCT j.key FROM runs r, json_each(r.summary) j
                 WHERE r.deleted_ms IS NULL AND (?1 IS NULL OR r.lab = ?1)
                   AND r.summary IS NOT NULL AND json_valid(r.summary)
                   AND j.type IN ('real', 'integer')
                 ORDER BY j.key",
            )?,
        })
    }

    /// One run with its config, summary, series names, artifacts (checked on disk) and logs.
    pub fn get(&self, id: RunId) -> Result<Option<RunDetail>, StoreError> {
        let r = self
            .conn
            .query_row(
                &format!(
                    "SELECT {ROW_COLUMNS}, r.config, r.command, r.gradlab_version,
                       r.git_commit, r.machine, r.pid, r.summary, r.error, r.notes
                     FROM runs r WHERE r.id = ?1"
                ),
                [id],
                |r| {
                    let row = row_from(r)?;
                    let json = |i: usize| -> rusqlite::Result<Option<Value>> {
                        let s: Option<String> = r.get(i)?;
                        Ok(s.and_then(|s| serde_json::from_str(&s).ok()))
                    };
                    Ok(RunDetail {
                        row,
                        config: json(ROW_COLUMN_COUNT)?.unwrap_or(Value::Null),
                        command: r.get(ROW_COLUMN_COUNT + 1)?,
                        gradlab_version: r.get(ROW_COLUMN_COUNT + 2)?,
                        git_commit: r.get(ROW_COLUMN_COUNT + 3)?,
                        machine: json(ROW_COLUMN_COUNT + 4)?.unwrap_or(Value::Null),
                        pid: r.get(ROW_COLUMN_COUNT + 5)?,
                        summary: json(ROW_COLUMN_COUNT + 6)?,
                        error: r.get(ROW_COLUMN_COUNT + 7)?,
                        notes: r.get(ROW_COLUMN_COUNT + 8)?,
                        series: Vec::new(),
                        artifacts: Vec::new(),
                        logs: Vec::new(),
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some(mut d) = r else {
            return Ok(None);
        };
        d.series = self.series_keys(id)?;
        d.artifacts = self.artifacts(id)?;
        d.logs = self
            .conn
            .prepare_cached("SELECT line FROM logs WHERE run_id = ?1 ORDER BY rowid")
            .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect())
            .map_err(|e| self.err(e))?;
        Ok(Some(d))
    }

    /// Just the config of run `id` (None: no such run, or not JSON).
    pub fn config(&self, id: RunId) -> Result<Option<Value>, StoreError> {
        let text: Option<String> = self
            .conn
            .prepare_cached("SELECT config FROM runs WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Like [`get`](Self::get) but a missing run is an error naming it.
    pub fn require(&self, id: RunId) -> Result<RunDetail, StoreError> {
        self.get(id)?
            .ok_or_else(|| StoreError::new(&self.db, format!("there is no run {id}")))
    }

    /// The metric series of a run: name, number of points, last point.
    pub fn series_keys(&self, id: RunId) -> Result<Vec<SeriesInfo>, StoreError> {
        // SQLite takes the bare columns (step, value) from the row of the single max().
        self.conn
            .prepare_cached(
                "SELECT key, count(*), max(rowid), step, value FROM metrics WHERE run_id = ?1
                 GROUP BY key ORDER BY key",
            )
            .and_then(|mut s| {
                s.query_map([id], |r| {
                    Ok(SeriesInfo {
                        key: r.get(0)?,
                        points: r.get::<_, i64>(1)? as u64,
                        last_step: r.get(3)?,
                        last_value: r.get(4)?,
                    })
                })?
                .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// Every point of one series, in the order recorded.
    pub fn series(&self, id: RunId, key: &str) -> Result<Vec<Point>, StoreError> {
        Ok(self.series_after(id, key, 0)?.0)
    }

    /// The points of a series recorded after `cursor` (0: all), and the cursor to pass next
    /// time: a live plot asks only for what is new.
    pub fn series_after(
        &self,
        id: RunId,
        key: &str,
        cursor: i64,
    ) -> Result<(Vec<Point>, i64), StoreError> {
        let mut last = cursor;
        let pts = self
            .conn
            .prepare_cached(
                "SELECT rowid, step, value, wall FROM metrics
                 WHERE run_id = ?1 AND key = ?2 AND rowid > ?3 ORDER BY rowid",
            )
            .and_then(|mut s| {
                s.query_map(params![id, key, cursor], |r| {
                    last = last.max(r.get(0)?);
                    Ok(Point {
                        step: r.get(1)?,
                        value: r.get(2)?,
                        wall: r.get(3)?,
                    })
                })?
                .collect()
            })
            .map_err(|e| self.err(e))?;
        Ok((pts, last))
    }

    /// Every point of a run as CSV: `key,step,value,wall_s`.
    pub fn export_csv(&self, id: RunId) -> Result<String, StoreError> {
        self.require(id)?;
        let mut out = String::from("key,step,value,wall_s\n");
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT key, step, value, wall FROM metrics WHERE run_id = ?1 ORDER BY key, rowid",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([id]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let key: String = r.get(0).map_err(|e| self.err(e))?;
            let (s, v, w): (f64, f64, f64) = (
                r.get(1).map_err(|e| self.err(e))?,
                r.get(2).map_err(|e| self.err(e))?,
                r.get(3).map_err(|e| self.err(e))?,
            );
            out.push_str(&format!("{},{s},{v},{w:.3}\n", csv_field(&key)));
        }
        Ok(out)
    }

    pub fn artifacts(&self, id: RunId) -> Result<Vec<ArtifactInfo>, StoreError> {
        let mut v: Vec<ArtifactInfo> = self
            .conn
            .prepare_cached(
                "SELECT name, path, sha256, size FROM artifacts WHERE run_id = ?1 ORDER BY name",
            )
            .and_then(|mut s| {
                s.query_map([id], |r| {
                    Ok(ArtifactInfo {
                        name: r.get(0)?,
                        path: r.get(1)?,
                        sha256: r.get(2)?,
                        size: r.get::<_, i64>(3)? as u64,
                        missing: None,
                    })
                })?
                .collect()
            })
            .map_err(|e| self.err(e))?;
        for a in &mut v {
            artifacts::check(&self.dir, a);
        }
        Ok(v)
    }

    fn update(&self, id: RunId, sql: &str, arg: SqlValue) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute(sql, params![id, arg])
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(StoreError::new(&self.db, format!("there is no run {id}")));
        }
        Ok(())
    }

    pub fn set_name(&self, id: RunId, name: &str) -> Result<(), StoreError> {
        self.update(
            id,
            "UPDATE runs SET name = ?2 WHERE id = ?1",
            name.to_string().into(),
        )
    }

    pub fn set_notes(&self, id: RunId, notes: &str) -> Result<(), StoreError> {
        self.update(
            id,
            "UPDATE runs SET notes = ?2 WHERE id = ?1",
            notes.to_string().into(),
        )
    }

    pub fn add_tag(&self, id: RunId, tag: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO tags (run_id, tag) VALUES (?1, ?2)",
                params![id, tag],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn remove_tag(&self, id: RunId, tag: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "DELETE FROM tags WHERE run_id = ?1 AND tag = ?2",
                params![id, tag],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Moves a run to the trash (undo with [`restore`](Self::restore)).
    pub fn delete(&self, id: RunId) -> Result<(), StoreError> {
        self.update(
            id,
            "UPDATE runs SET deleted_ms = COALESCE(deleted_ms, ?2) WHERE id = ?1",
            now_ms().into(),
        )
    }

    pub fn restore(&self, id: RunId) -> Result<(), StoreError> {
        self.update(
            id,
            "UPDATE runs SET deleted_ms = NULL WHERE id = ?1 AND ?2 IS NULL",
            SqlValue::Null,
        )
    }

    /// Deletes for good every run in the trash: rows first (one transaction), then the files each
    /// run recorded (when they still hold what was recorded), then its folder if that is empty,
    /// so no row is ever left pointing at a removed file and nothing else in a run's folder is
    /// touched. Returns the purged ids and what was left.
    pub fn purge(&mut self) -> Result<Purged, StoreError> {
        let db = self.db.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(|e| StoreError::sql(&db, &e))?;
        let ids: Vec<RunId> = tx
            .prepare("SELECT id FROM runs WHERE deleted_ms IS NOT NULL")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| StoreError::sql(&db, &e))?;
        // The files each run recorded (path and sha256): only those are removed with it.
        let mut recorded: Vec<(RunId, Vec<(String, String)>)> = Vec::new();
        {
            let mut q = tx
                .prepare("SELECT path, sha256 FROM artifacts WHERE run_id = ?1")
                .map_err(|e| StoreError::sql(&db, &e))?;
            for id in &ids {
                let files = q
                    .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .and_then(|rows| rows.collect())
                    .map_err(|e| StoreError::sql(&db, &e))?;
                recorded.push((*id, files));
            }
        }
        tx.execute_batch(
            "DELETE FROM metrics WHERE run_id IN (SELECT id FROM runs WHERE deleted_ms IS NOT NULL);
             DELETE FROM runs WHERE deleted_ms IS NOT NULL;",
        )
        .map_err(|e| StoreError::sql(&db, &e))?;
        tx.commit().map_err(|e| StoreError::sql(&db, &e))?;
        let mut kept = Vec::new();
        for (id, files) in &recorded {
            kept.extend(artifacts::remove_run_files(&self.dir, *id, files));
        }
        Ok(Purged { ids, kept })
    }

    /// Fills the store with `runs` finished graph runs of `points` points each (4 series),
    /// configurations repeated over 3 seeds: for the bench and load tests.
    #[doc(hidden)]
    pub fn generate_for_bench(&mut self, runs: usize, points: usize) -> Result<(), StoreError> {
        let db = self.db.clone();
        let e = |e: rusqlite::Error| StoreError::sql(&db, &e);
        let tx = self.conn.transaction().map_err(e)?;
        {
            let mut ins_run = tx
                .prepare(
                    "INSERT INTO runs (lab, name, status, config, config_key, seed, dataset,
                       command, gradlab_version, machine, pid, started_ms, ended_ms, summary,
                       main_metric, main_value)
                     VALUES ('demo', ?1, 'finished', ?2, ?3, ?4, 'synthetic', 'gradlab demo',
                       ?5, '{}', 0, ?6, ?6, ?7, 'test_acc', ?8)",
                )
                .map_err(e)?;
            let mut ins_pt = tx
                .prepare(
                    "INSERT INTO metrics (run_id, key, step, value, wall) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(e)?;
            let keys = ["train_loss", "val_loss", "train_acc", "val_acc"];
            for i in 0..runs {
                let seed = (i % 3) as u64;
                let config =
                    serde_json::json!({"model": "gcn", "hidden": 16 + i / 3, "seed": seed});
                let acc = 0.7 + 0.1 * ((i * 7919) % 100) as f64 / 100.0;
                ins_run
                    .execute(params![
                        format!("GCN synthetic run {i}"),
                        config.to_string(),
                        config_key("demo", Some("synthetic"), None, &config),
                        seed as i64,
                        env!("CARGO_PKG_VERSION"),
                        1_700_000_000_000i64 + i as i64 * 60_000,
                        serde_json::json!({"test_acc": acc}).to_string(),
                        acc,
                    ])
                    .map_err(e)?;
                let id = tx.last_insert_rowid();
                for k in 0..points {
                    let step = (k / keys.len()) as f64;
                    ins_pt
                        .execute(params![
                            id,
                            keys[k % keys.len()],
                            step,
                            1.0 / (1.0 + step),
                            step * 0.01
                        ])
                        .map_err(e)?;
                }
            }
        }
        tx.commit().map_err(e)?;
        Ok(())
    }

    /// `PRAGMA integrity_check`: "ok" or the problems found.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        let lines: Vec<String> = self
            .conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.err(e))?;
        Ok(lines.join("; "))
    }

    /// Changes whenever another connection commits: a cheap "is there anything new?".
    pub fn data_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }
}

/// Opens a connection with the settings every user of the store shares.
pub(super) fn connect(db: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(db).map_err(|e| StoreError::sql(db, &e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| StoreError::sql(db, &e))?;
    // WAL: readers never wait for the writer and a kill leaves the database whole.
    // synchronous=NORMAL: a commit survives a killed process (not a power cut, where the last
    // transactions may roll back; the database stays consistent either way).
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| StoreError::sql(db, &e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::new(
            db,
            format!("cannot switch to WAL mode (got {mode}); is it on a network file system?"),
        ));
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .map_err(|e| StoreError::sql(db, &e))?;
    Ok(conn)
}

/// Refuses a file shorter than its own header says (a truncated copy), which SQLite would open
/// and fail on later, or worse. Asks SQLite for the header's figures instead of reading the
/// file: opening and closing a descriptor of the database here would drop this process's POSIX
/// locks on it (held by its other connections).
fn check_length(conn: &Connection, db: &Path) -> Result<(), StoreError> {
    let Ok(len) = std::fs::metadata(db).map(|m| m.len()) else {
        return Ok(());
    };
    // With frames in the WAL the main file may legitimately lag the database's size.
    let wal = db.with_extension("sqlite-wal");
    if std::fs::metadata(&wal)
        .map(|m| m.len() > 0)
        .unwrap_or(false)
    {
        return Ok(());
    }
    let q = |sql: &str| -> Result<u64, StoreError> {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|v| v as u64)
            .map_err(|e| StoreError::sql(db, &e))
    };
    let (pages, page) = (q("PRAGMA page_count")?, q("PRAGMA page_size")?);
    if len < pages * page {
        return Err(StoreError::new(
            db,
            format!(
                "is truncated: {len} bytes, its header says {} ({pages} pages)",
                pages * page
            ),
        ));
    }
    Ok(())
}

const ROW_COLUMNS: &str = "r.id, r.lab, r.name, r.status, r.config_key, r.seed, r.dataset,
    r.started_ms, r.ended_ms, r.main_metric, r.main_value, r.progress_done, r.progress_total,
    r.deleted_ms IS NOT NULL,
    (SELECT group_concat(tag, char(31)) FROM tags t WHERE t.run_id = r.id), r.dataset_sha256";
const ROW_COLUMN_COUNT: usize = 16;

fn row_from(r: &Row<'_>) -> rusqlite::Result<RunRow> {
    let status: String = r.get(3)?;
    let tags: Option<String> = r.get(14)?;
    let mut tags: Vec<String> = tags
        .map(|t| t.split('\u{1f}').map(str::to_string).collect())
        .unwrap_or_default();
    tags.sort();
    Ok(RunRow {
        id: r.get(0)?,
        lab: r.get(1)?,
        name: r.get(2)?,
        status: RunStatus::parse(&status).unwrap_or(RunStatus::Failed),
        config_key: r.get(4)?,
        seed: r.get::<_, Option<i64>>(5)?.map(|s| s as u64),
        dataset: r.get(6)?,
        started_ms: r.get(7)?,
        ended_ms: r.get(8)?,
        main_metric: r.get(9)?,
        main_value: r.get(10)?,
        progress_done: r.get::<_, Option<i64>>(11)?.map(|s| s as u64),
        progress_total: r.get::<_, Option<i64>>(12)?.map(|s| s as u64),
        deleted: r.get(13)?,
        tags,
        dataset_sha256: r.get(15)?,
        sort_value: None,
    })
}

/// Groups rows by config_key, keeping the order of each group's first row.
pub fn group_rows(rows: &[RunRow]) -> Vec<ConfigGroup> {
    let mut groups: Vec<ConfigGroup> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for r in rows {
        let k = *index.entry(r.config_key.clone()).or_insert_with(|| {
            groups.push(ConfigGroup {
                config_key: r.config_key.clone(),
                lab: r.lab.clone(),
                name: without_seed(&r.name).to_string(),
                dataset: r.dataset.clone(),
                dataset_sha256: r.dataset_sha256.clone(),
                main_metric: r.main_metric.clone(),
                n: 0,
                mean: None,
                std: None,
                run_ids: Vec::new(),
                seeds: Vec::new(),
            });
            groups.len() - 1
        });
        groups[k].run_ids.push(r.id);
        groups[k].seeds.push(r.seed);
    }
    let values: std::collections::HashMap<RunId, f64> = rows
        .iter()
        .filter_map(|r| r.main_value.filter(|v| v.is_finite()).map(|v| (r.id, v)))
        .collect();
    for g in &mut groups {
        let xs: Vec<f64> = g
            .run_ids
            .iter()
            .filter_map(|id| values.get(id))
            .copied()
            .collect();
        g.n = xs.len();
        if !xs.is_empty() {
            let m = xs.iter().sum::<f64>() / xs.len() as f64;
            g.mean = Some(m);
            if xs.len() > 1 {
                let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
                g.std = Some(var.sqrt());
            }
        }
    }
    groups
}

fn json_path(key: &str) -> String {
    format!("$.\"{}\"", key.replace('"', ""))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
