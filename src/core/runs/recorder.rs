//! The recorder: a sink in front of another sink. Every event goes on to the inner sink
//! unchanged; metric points, logs, progress and pictures also go to the run's writer thread
//! over a channel, so the training thread never waits for the disk.
//!
//! This is the only file of the run store that knows the experiments' event types.

use std::sync::atomic::Ordering;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::model::{NewRun, RunId, RunStatus};
use super::store::{RunStore, StoreError};
use super::writer::{MAX_BATCH, Msg, Pending, Writer};
use crate::core::events::Diverged;
use crate::core::{Event, Sink, StopFlag};

/// What recording cost, for `gradlab bench`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecorderStats {
    pub events: u64,
    /// Time spent inside `event` on the caller's thread beyond forwarding (only measured when
    /// [`Recorder::measure`] was called).
    pub caller_s: f64,
    /// CPU time of the writer thread.
    pub writer_cpu_s: f64,
    pub points: u64,
    pub commits: u64,
}

pub struct Recorder<'a> {
    inner: &'a mut dyn Sink,
    run: RunId,
    db: std::path::PathBuf,
    main_metric: Option<String>,
    writer: Writer,
    t0: Instant,
    stop: Option<StopFlag>,
    measure: bool,
    stats: RecorderStats,
    finished: bool,
}

impl<'a> Recorder<'a> {
    /// Creates the run (status `running`) and its writer thread. Call before the first step.
    pub fn start(
        store: &RunStore,
        run: &NewRun,
        inner: &'a mut dyn Sink,
    ) -> Result<Recorder<'a>, StoreError> {
        let id = store.create_run(run)?;
        let writer = match Writer::spawn(store.db_path(), store.dir(), id) {
            Ok(w) => w,
            Err(e) => {
                let _ = store.conn.execute(
                    "UPDATE runs SET status = 'failed', error = ?2 WHERE id = ?1",
                    rusqlite::params![id, e.to_string()],
                );
                return Err(e);
            }
        };
        Ok(Recorder {
            inner,
            run: id,
            db: store.db_path().to_path_buf(),
            main_metric: run.main_metric.clone(),
            writer,
            t0: Instant::now(),
            stop: None,
            measure: false,
            stats: RecorderStats::default(),
            finished: false,
        })
    }

    pub fn run_id(&self) -> RunId {
        self.run
    }

    /// Stop the experiment (through its stop flag) as soon as a write fails, e.g. a full disk,
    /// instead of training on without a record.
    pub fn stop_on_failure(mut self, stop: StopFlag) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Time the caller-side cost of every event (for the bench).
    pub fn measure(mut self) -> Self {
        self.measure = true;
        self
    }

    /// Saves a file of the run (a checkpoint, an export) on the writer thread.
    pub fn save_file(&mut self, name: &str, bytes: Vec<u8>) {
        self.send(Msg::File {
            name: name.to_string(),
            bytes,
        });
    }

    fn send(&mut self, m: Msg) {
        let broken = self.writer.tx.send(m).is_err() || self.writer.failed.load(Ordering::Relaxed);
        if broken && let Some(s) = &self.stop {
            s.stop();
        }
    }

    /// Adds to the pending batch; returns how many points wait. Never waits on the writer: it
    /// holds the lock only to swap the batch out.
    fn queue(&mut self, f: impl FnOnce(&mut Pending)) -> usize {
        if self.writer.failed.load(Ordering::Relaxed) {
            if let Some(s) = &self.stop {
                s.stop();
            }
            return 0;
        }
        match self.writer.pending.lock() {
            Ok(mut p) => {
                f(&mut p);
                p.points.len()
            }
            Err(_) => 0,
        }
    }

    fn wall(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    /// Ends the run with the status its result says: finished, stopped (when `stopped`),
    /// diverged (a [`Diverged`] error anywhere in the chain) or failed. The summary's
    /// `main_metric` field becomes the run's main figure. Waits for the writer to commit
    /// everything; an error says what could not be recorded.
    pub fn finish(
        self,
        result: &anyhow::Result<Value>,
        stopped: bool,
    ) -> Result<RecorderStats, StoreError> {
        let (status, summary, error) = match result {
            Ok(s) if stopped => (RunStatus::Stopped, Some(s.clone()), None),
            Ok(s) => (RunStatus::Finished, Some(s.clone()), None),
            Err(e) if e.chain().any(|c| c.is::<Diverged>()) => {
                (RunStatus::Diverged, None, Some(format!("{e:#}")))
            }
            Err(e) => (RunStatus::Failed, None, Some(format!("{e:#}"))),
        };
        self.finish_with(status, summary, error)
    }

    /// Ends the run with an explicit status.
    pub fn finish_with(
        mut self,
        status: RunStatus,
        summary: Option<Value>,
        error: Option<String>,
    ) -> Result<RecorderStats, StoreError> {
        self.finished = true;
        self.end(status, summary, error)
    }

    fn end(
        &mut self,
        status: RunStatus,
        summary: Option<Value>,
        error: Option<String>,
    ) -> Result<RecorderStats, StoreError> {
        let main_value = summary
            .as_ref()
            .zip(self.main_metric.as_deref())
            .and_then(|(s, k)| s.get(k)?.as_f64());
        let (reply, answer) = channel();
        let sent = self.writer.tx.send(Msg::Finish {
            status,
            summary,
            main_value,
            error,
            reply,
        });
        let (result, answered) = match sent {
            Ok(()) => match answer.recv_timeout(Duration::from_secs(60)) {
                Ok(r) => (r, true),
                Err(_) => (Err("the writer thread did not answer".into()), false),
            },
            Err(_) => (Err("the writer thread has stopped".into()), true),
        };
        // A writer that did not answer may be stuck in the file system: leave it rather than
        // wait for it without end.
        if answered
            && let Some(h) = self.writer.handle.take()
            && let Ok(w) = h.join()
        {
            self.stats.writer_cpu_s = w.cpu_s;
            self.stats.points = w.points;
            self.stats.commits = w.commits;
        }
        result
            .map(|()| self.stats)
            .map_err(|e| StoreError::new(&self.db, e))
    }
}

impl Drop for Recorder<'_> {
    /// A recorder dropped without `finish` (an early return, a panic) still ends its run, so a
    /// long-lived process (the GUI) does not leave it "running".
    fn drop(&mut self) {
        if !self.finished {
            self.finished = true;
            let _ = self.end(
                RunStatus::Failed,
                None,
                Some("the run ended without a result".into()),
            );
        }
    }
}

impl Sink for Recorder<'_> {
    fn event(&mut self, event: Event) {
        let t = self.measure.then(Instant::now);
        self.stats.events += 1;
        let queued = match &event {
            Event::Metric {
                series,
                step,
                value,
            } => {
                let wall = self.wall();
                self.queue(|p| p.points.push((series.clone(), *step, *value, wall)))
            }
            Event::Log(line) => {
                let wall = self.wall();
                self.queue(|p| p.logs.push((wall, line.clone())))
            }
            Event::Progress { done, total } => self.queue(|p| p.progress = Some((*done, *total))),
            Event::Image { name, image } => {
                self.send(Msg::Image {
                    name: name.clone(),
                    image: image.clone(),
                });
                0
            }
            Event::Payload(_) | Event::Done(_) | Event::Failed(_) => 0,
        };
        if queued >= MAX_BATCH {
            self.send(Msg::Flush);
        }
        if let Some(t) = t {
            self.stats.caller_s += t.elapsed().as_secs_f64();
        }
        self.inner.event(event);
    }
}
