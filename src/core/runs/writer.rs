//! The writer thread of one recorded run: it owns its own connection and inserts what the
//! recorder sends in batches, one transaction at least every [`FLUSH_EVERY`], so a killed
//! process loses at most the last fraction of a second of points.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, params};
use serde_json::Value;

use super::artifacts;
use super::model::{RunId, RunStatus};
use super::store::{StoreError, connect, describe, now_ms};

/// Longest time a point waits in memory before its transaction commits.
pub(super) const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// The recorder asks for an early commit when this many points are waiting (bounds memory and
/// transaction size).
pub(super) const MAX_BATCH: usize = 8192;

/// Points, logs and progress waiting for the next commit. The training thread pushes here
/// under an uncontended lock (tens of nanoseconds); the writer takes the whole batch on its own
/// timer. Sending every point over a channel instead woke the parked writer each time (a futex
/// syscall per point, ~30 us each on this VM: 3 % of a GCN epoch).
#[derive(Default)]
pub(super) struct Pending {
    pub points: Vec<(String, f64, f64, f64)>,
    pub logs: Vec<(f64, String)>,
    pub progress: Option<(u64, u64)>,
}

/// What goes over the channel: things that must be handled in order with the points before
/// them, and the early-flush nudge.
pub(super) enum Msg {
    /// The pending batch is large: commit it now.
    Flush,
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
    pub pending: Arc<Mutex<Pending>>,
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
        let pending = Arc::new(Mutex::new(Pending::default()));
        let mut w = Work {
            conn,
            db: db.to_path_buf(),
            runs_dir: runs_dir.to_path_buf(),
            run,
            pending: pending.clone(),
            batch: Pending::default(),
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
            pending,
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
    pending: Arc<Mutex<Pending>>,
    batch: Pending,
    failed: Arc<AtomicBool>,
    error: Arc<Mutex<Option<String>>>,
    stats: WriterStats,
}

impl Work {
    fn serve(&mut self, rx: Receiver<Msg>) -> WriterStats {
        loop {
            match rx.recv_timeout(FLUSH_EVERY) {
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
                // Files keep their order with the points sent before them.
                Ok(Msg::Image { name, image }) => {
                    self.flush();
                    let bytes = crate::core::files::png_bytes(&image);
                    self.artifact(&format!("images/{name}.png"), bytes);
                }
                Ok(Msg::File { name, bytes }) => {
                    self.flush();
                    self.artifact(&name, Ok(bytes));
                }
                Ok(Msg::Flush) | Err(RecvTimeoutError::Timeout) => self.flush(),
                // The recorder went away without finishing (it marks the run itself on drop;
                // a killed process is found by the next open).
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush();
                    break;
                }
            }
        }
        self.stats.cpu_s = crate::core::sysinfo::thread_cpu_seconds();
        self.stats
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
            params![
                self.run,
                info.name,
                info.path,
                info.sha256,
                info.size as i64
            ],
        );
        if let Err(e) = r {
            self.fail(format!("cannot record the file {name}: {}", describe(&e)));
        }
    }

    /// Takes what the recorder queued and commits it in one transaction.
    fn flush(&mut self) {
        if let Ok(mut p) = self.pending.lock() {
            std::mem::swap(&mut *p, &mut self.batch);
        }
        let b = &mut self.batch;
        if self.failed.load(Ordering::Relaxed)
            || (b.points.is_empty() && b.logs.is_empty() && b.progress.is_none())
        {
            b.points.clear();
            b.logs.clear();
            b.progress = None;
            return;
        }
        match self.write_batch() {
            Ok(()) => self.stats.commits += 1,
            // `finish` wraps this in a StoreError, which names the database.
            Err(e) => self.fail(format!("cannot record the run: {}", describe(&e))),
        }
        let b = &mut self.batch;
        b.points.clear();
        b.logs.clear();
        b.progress = None;
    }

    fn write_batch(&mut self) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        let b = &self.batch;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO metrics (run_id, key, step, value, wall) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (k, s, v, w) in &b.points {
                st.execute(params![self.run, k, s, v, w])?;
            }
            let mut st =
                tx.prepare_cached("INSERT INTO logs (run_id, wall, line) VALUES (?1, ?2, ?3)")?;
            for (w, l) in &b.logs {
                st.execute(params![self.run, w, l])?;
            }
            if let Some((d, t)) = b.progress {
                tx.execute(
                    "UPDATE runs SET progress_done = ?2, progress_total = ?3 WHERE id = ?1",
                    params![self.run, d as i64, t as i64],
                )?;
            }
        }
        tx.commit()?;
        self.stats.points += b.points.len() as u64;
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
