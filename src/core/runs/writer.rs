//! The writer thread of one recorded run: it owns its own connection and inserts what the
//! recorder sends in batches, one transaction at least every [`FLUSH_EVERY`], so a killed
//! process loses at most the last fraction of a second of points.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use serde_json::Value;

use super::artifacts;
use super::model::{RunId, RunStatus};
use super::store::{StoreError, connect, describe, now_ms};

/// Longest time a point waits in memory before its transaction commits.
pub(super) const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Commit early when this many points are waiting (bounds memory and transaction size).
const MAX_BATCH: usize = 8192;

pub(super) enum Msg {
    Point {
        key: String,
        step: f64,
        value: f64,
        wall: f64,
    },
    Log {
        wall: f64,
        line: String,
    },
    Progress {
        done: u64,
        total: u64,
    },
    Image {
        name: String,
        image: image::RgbaImage,
    },
    File {
        name: String,
        bytes: Vec<u8>,
    },
    Finish {
        status: RunStatus,
        summary: Option<Value>,
        main_value: Option<f64>,
        error: Option<String>,
        reply: Sender<Result<(), String>>,
    },
}

/// What the writer thread measured, for the bench.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriterStats {
    pub points: u64,
    pub commits: u64,
    pub cpu_s: f64,
}

pub(super) struct Writer {
    pub tx: Sender<Msg>,
    pub handle: Option<JoinHandle<WriterStats>>,
    /// Set once a write failed: the recorder trips its stop flag, finish reports the error.
    pub failed: Arc<AtomicBool>,
}

impl Writer {
    pub fn spawn(db: &Path, runs_dir: &Path, run: RunId) -> Result<Writer, StoreError> {
        let conn = connect(db)?;
        let (tx, rx) = channel();
        let failed = Arc::new(AtomicBool::new(false));
        let error = Arc::new(Mutex::new(None));
        let mut w = Work {
            conn,
            db: db.to_path_buf(),
            runs_dir: runs_dir.to_path_buf(),
            run,
            points: Vec::new(),
            logs: Vec::new(),
            progress: None,
            failed: failed.clone(),
            error,
            stats: WriterStats::default(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("run-{run}-writer"))
            .spawn(move || w.serve(rx))
            .map_err(|e| StoreError::new(db, format!("cannot start the writer thread: {e}")))?;
        Ok(Writer {
            tx,
            handle: Some(handle),
            failed,
        })
    }
}

struct Work {
    conn: Connection,
    db: PathBuf,
    runs_dir: PathBuf,
    run: RunId,
    points: Vec<(String, f64, f64, f64)>,
    logs: Vec<(f64, String)>,
    progress: Option<(u64, u64)>,
    failed: Arc<AtomicBool>,
    error: Arc<Mutex<Option<String>>>,
    stats: WriterStats,
}

impl Work {
    fn serve(&mut self, rx: Receiver<Msg>) -> WriterStats {
        let mut deadline: Option<Instant> = None;
        loop {
            let msg = match deadline {
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            };
            match msg {
                Ok(Msg::Finish {
                    status,
                    summary,
                    main_value,
                    error,
                    reply,
                }) => {
                    self.flush();
                    let r = self.finish(status, summary, main_value, error);
                    let _ = reply.send(r);
                    break;
                }
                Ok(m) => {
                    let urgent = self.take(m);
                    if deadline.is_none() {
                        deadline = Some(Instant::now() + FLUSH_EVERY);
                    }
                    if urgent || self.points.len() >= MAX_BATCH {
                        self.flush();
                        deadline = None;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.flush();
                    deadline = None;
                }
                // The recorder went away without finishing (it marks the run itself on drop;
                // a killed process is found by the next open).
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush();
                    break;
                }
            }
        }
        self.stats.cpu_s = crate::sysinfo::thread_cpu_seconds();
        self.stats
    }

    /// Queues a message; returns true when it must be written now (files keep their order
    /// with the points before them).
    fn take(&mut self, m: Msg) -> bool {
        match m {
            Msg::Point {
                key,
                step,
                value,
                wall,
            } => self.points.push((key, step, value, wall)),
            Msg::Log { wall, line } => self.logs.push((wall, line)),
            Msg::Progress { done, total } => self.progress = Some((done, total)),
            Msg::Image { name, image } => {
                self.flush();
                let bytes = crate::files::png_bytes(&image);
                self.artifact(&format!("images/{name}.png"), bytes);
                return false;
            }
            Msg::File { name, bytes } => {
                self.flush();
                self.artifact(&name, Ok(bytes));
                return false;
            }
            Msg::Finish { .. } => unreachable!("handled by serve"),
        }
        false
    }

    fn fail(&self, what: String) {
        if !self.failed.swap(true, Ordering::SeqCst)
            && let Ok(mut e) = self.error.lock()
        {
            *e = Some(what);
        }
    }

    fn artifact(&mut self, name: &str, bytes: anyhow::Result<Vec<u8>>) {
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        let info = match bytes.and_then(|b| artifacts::write(&self.runs_dir, self.run, name, &b)) {
            Ok(i) => i,
            Err(e) => return self.fail(format!("{e:#}")),
        };
        // The file is whole on disk; only now may a row name it.
        let r = self.conn.execute(
            "INSERT OR REPLACE INTO artifacts (run_id, name, path, sha256, size)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![self.run, info.name, info.path, info.sha256, info.size as i64],
        );
        if let Err(e) = r {
            self.fail(StoreError::sql(&self.db, &e).to_string());
        }
    }

    fn flush(&mut self) {
        if self.failed.load(Ordering::Relaxed) {
            self.points.clear();
            self.logs.clear();
            return;
        }
        if self.points.is_empty() && self.logs.is_empty() && self.progress.is_none() {
            return;
        }
        match self.write_batch() {
            Ok(()) => self.stats.commits += 1,
            Err(e) => self.fail(format!(
                "run store {}: cannot record the run: {}",
                self.db.display(),
                describe(&e)
            )),
        }
        self.points.clear();
        self.logs.clear();
        self.progress = None;
    }

    fn write_batch(&mut self) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO metrics (run_id, key, step, value, wall) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (k, s, v, w) in &self.points {
                st.execute(params![self.run, k, s, v, w])?;
            }
            let mut st =
                tx.prepare_cached("INSERT INTO logs (run_id, wall, line) VALUES (?1, ?2, ?3)")?;
            for (w, l) in &self.logs {
                st.execute(params![self.run, w, l])?;
            }
            if let Some((d, t)) = self.progress {
                tx.execute(
                    "UPDATE runs SET progress_done = ?2, progress_total = ?3 WHERE id = ?1",
                    params![self.run, d as i64, t as i64],
                )?;
            }
        }
        tx.commit()?;
        self.stats.points += self.points.len() as u64;
        Ok(())
    }

    fn finish(
        &mut self,
        status: RunStatus,
        summary: Option<Value>,
        main_value: Option<f64>,
        error: Option<String>,
    ) -> Result<(), String> {
        let write_error = self.error.lock().ok().and_then(|e| e.clone());
        // A failed write fails the run, whatever the experiment thought of itself.
        let (status, error) = match &write_error {
            Some(w) => (RunStatus::Failed, Some(w.clone())),
            None => (status, error),
        };
        let r = self.conn.execute(
            "UPDATE runs SET status = ?2, ended_ms = ?3, summary = ?4, main_value = ?5, error = ?6
             WHERE id = ?1",
            params![
                self.run,
                status.as_str(),
                now_ms(),
                summary.map(|s| s.to_string()),
                main_value,
                error
            ],
        );
        match (write_error, r) {
            (Some(w), _) => Err(w),
            (None, Err(e)) => Err(StoreError::sql(&self.db, &e).to_string()),
            (None, Ok(_)) => Ok(()),
        }
    }
}
