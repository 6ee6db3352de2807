//! Runs experiments on background threads and collects what they report, so the UI thread only
//! ever drains channels.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::core::metrics::MetricStore;
use crate::core::runs::RunId;
use crate::core::{Event, Picture, Sink, StopFlag, Summary};

/// Called after each event so the UI repaints soon (the GUI passes `request_repaint_after`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

pub type JobId = u64;

#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Running,
    Finished(Summary),
    /// Stopped by the user; what was measured is kept.
    Stopped,
    Failed(String),
}

impl JobState {
    pub fn is_running(&self) -> bool {
        matches!(self, JobState::Running)
    }
}

/// Forwards events to the job's owner over a channel.
struct ChannelSink {
    tx: Sender<Event>,
    waker: Waker,
}

impl Sink for ChannelSink {
    fn event(&mut self, event: Event) {
        // The receiver is gone only when the app is closing: nothing left to tell.
        let _ = self.tx.send(event);
        (self.waker)();
    }
}

/// Where a job reopened from the run store came from.
#[derive(Clone, Debug, PartialEq)]
pub struct RestoredFrom {
    pub run_ids: Vec<RunId>,
    /// When its newest run started (ms since the Unix epoch).
    pub recorded_ms: i64,
    /// What could not be read back (missing artifacts), in words.
    pub problems: Vec<String>,
}

/// A finished job rebuilt from stored runs: what the labs draw from a job, without a thread.
pub struct Restored {
    pub name: String,
    pub state: JobState,
    pub metrics: MetricStore,
    pub images: Vec<(String, Picture)>,
    /// Payloads as the experiment would have sent them (a trained model, ...).
    pub payloads: Vec<Box<dyn Any + Send>>,
    pub log: Vec<String>,
    pub from: RestoredFrom,
}

/// One experiment running (or finished) on its own thread, with what it reported so far.
pub struct Job {
    pub id: JobId,
    pub name: String,
    /// Which lab started it, so each tab finds its own jobs.
    pub kind: String,
    pub started: Instant,
    pub ended: Option<Instant>,
    pub state: JobState,
    pub progress: (u64, u64),
    pub metrics: MetricStore,
    pub log: Vec<String>,
    /// Latest picture of each name, with a counter that changes when it is replaced.
    pub images: BTreeMap<String, (Picture, u64)>,
    /// Set when the job was reopened from the run store rather than run in this session.
    pub restored: Option<RestoredFrom>,
    /// The run store's ids of the runs this job recorded so far (one per seed), in order.
    pub run_ids: Vec<RunId>,
    payloads: HashMap<TypeId, Box<dyn Any + Send>>,
    stop: StopFlag,
    rx: Receiver<Event>,
    handle: Option<JoinHandle<()>>,
    image_counter: u64,
}

impl Job {
    pub fn elapsed(&self) -> Duration {
        self.ended.unwrap_or_else(Instant::now) - self.started
    }

    /// How much is done: 1 once it finished (early stopping ends a job before its last unit).
    pub fn fraction(&self) -> f32 {
        let (done, total) = self.progress;
        if matches!(self.state, JobState::Finished(_)) {
            1.0
        } else if total == 0 {
            0.0
        } else {
            (done as f32 / total as f32).clamp(0.0, 1.0)
        }
    }

    /// "GAT on cora (runs #12-#21)": the job's name with the store's ids of its runs, the
    /// numbering the Runs tab and the CLI use.
    pub fn title(&self) -> String {
        match crate::core::runs::runs_text(&self.run_ids) {
            Some(r) => format!("{} ({r})", self.name),
            None => self.name.clone(),
        }
    }

    /// How long this job's configuration took on this machine before (sent by the run store
    /// when the job's run starts), for an estimate before its own pace can be told.
    pub fn pace(&self) -> Option<&crate::core::runs::Pace> {
        self.latest()
    }

    /// The latest payload of type `T` the experiment sent.
    pub fn latest<T: Any>(&self) -> Option<&T> {
        self.payloads
            .get(&TypeId::of::<T>())
            .and_then(|p| p.downcast_ref::<T>())
    }

    pub fn stop(&self) {
        self.stop.stop();
    }

    pub fn summary(&self) -> Option<&Summary> {
        match &self.state {
            JobState::Finished(s) => Some(s),
            _ => None,
        }
    }

    /// Applies every event waiting in the channel; returns whether anything changed.
    fn drain(&mut self) -> bool {
        let mut changed = false;
        while let Ok(ev) = self.rx.try_recv() {
            changed = true;
            match ev {
                Event::Progress { done, total } => self.progress = (done, total),
                Event::Metric {
                    series,
                    step,
                    value,
                } => self.metrics.push(&series, step, value),
                Event::Image { name, image } => {
                    self.image_counter += 1;
                    self.images.insert(name, (image, self.image_counter));
                }
                Event::Payload(p) => {
                    if let Some(r) = p.downcast_ref::<crate::core::runs::RecordedRun>() {
                        self.run_ids.push(r.0);
                    }
                    self.payloads.insert((*p).type_id(), p);
                }
                Event::Log(line) => self.log.push(line),
                Event::Done(summary) => {
                    self.ended = Some(Instant::now());
                    self.state = if self.stop.is_stopped() {
                        JobState::Stopped
                    } else {
                        JobState::Finished(summary)
                    };
                }
                Event::Failed(msg) => {
                    self.ended = Some(Instant::now());
                    self.state = JobState::Failed(msg);
                }
            }
        }
        changed
    }
}

/// What a typed job returns: the value its owner takes once through its [`JobHandle`], and the
/// JSON summary everyone else (status bar, tests) sees.
pub trait JobOutput: Send + 'static {
    fn summary(&self) -> Summary;
}

/// The typed result of a job, kept apart from the experiment's own payloads.
struct Output<R>(R);

/// A job started with [`Jobs::spawn_typed`]: its result is an `R`, taken once with
/// [`Jobs::take`], so jobs are told apart by type, not by a key in their summary.
pub struct JobHandle<R> {
    pub id: JobId,
    _result: PhantomData<fn() -> R>,
}

impl<R> Clone for JobHandle<R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R> Copy for JobHandle<R> {}

impl<R> std::fmt::Debug for JobHandle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JobHandle({})", self.id)
    }
}

/// All jobs of the app, running and finished.
#[derive(Default)]
pub struct Jobs {
    jobs: Vec<Job>,
    next_id: JobId,
    /// Where jobs record their runs (None: not recorded, as in tests). It lives here, not in
    /// each lab, because every training job records into the same store.
    runs_dir: Option<PathBuf>,
}

impl Jobs {
    /// Jobs whose training records into the run store at `dir`.
    pub fn with_runs_dir(dir: Option<PathBuf>) -> Self {
        let mut jobs = Jobs::default();
        jobs.runs_dir = dir;
        jobs
    }

    /// The run store's folder, if runs are recorded.
    pub fn runs_dir(&self) -> Option<&Path> {
        self.runs_dir.as_deref()
    }

    /// Starts `run` on a new thread. `run` gets the sink and stop flag, and its result ends the job.
    pub fn spawn<F>(&mut self, kind: &str, name: &str, waker: Waker, run: F) -> JobId
    where
        F: FnOnce(&mut dyn Sink, &StopFlag) -> anyhow::Result<Summary> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let stop = StopFlag::new();
        let thread_stop = stop.clone();
        let id = self.next_id;
        self.next_id += 1;
        let handle = std::thread::Builder::new()
            .name(format!("job-{id}-{name}"))
            .spawn(move || {
                let mut sink = ChannelSink { tx, waker };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run(&mut sink, &thread_stop)
                }));
                let ev = match result {
                    Ok(Ok(summary)) => Event::Done(summary),
                    Ok(Err(e)) => Event::Failed(format!("{e:#}")),
                    Err(panic) => {
                        let msg = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "unknown panic".into());
                        Event::Failed(format!("internal error: {msg}"))
                    }
                };
                sink.event(ev);
            })
            .expect("the OS refused to start a thread");
        self.jobs.push(Job {
            id,
            name: name.to_string(),
            kind: kind.to_string(),
            started: Instant::now(),
            ended: None,
            state: JobState::Running,
            progress: (0, 0),
            metrics: MetricStore::default(),
            log: Vec::new(),
            images: BTreeMap::new(),
            restored: None,
            run_ids: Vec::new(),
            payloads: HashMap::new(),
            stop,
            rx,
            handle: Some(handle),
            image_counter: 0,
        });
        id
    }

    /// Adds a job reopened from the run store: already ended, no thread. Labs draw it like
    /// any job of theirs; `Job::restored` says where it came from.
    pub fn restore(&mut self, kind: &str, r: Restored) -> JobId {
        let id = self.next_id;
        self.next_id += 1;
        // Nobody ever sends on it: the job has no thread.
        let (_, rx) = mpsc::channel();
        let now = Instant::now();
        let n_images = r.images.len() as u64;
        self.jobs.push(Job {
            id,
            name: r.name,
            kind: kind.to_string(),
            started: now,
            ended: Some(now),
            state: r.state,
            progress: (1, 1),
            metrics: r.metrics,
            log: r.log,
            images: r
                .images
                .into_iter()
                .zip(1..)
                .map(|((name, pic), v)| (name, (pic, v)))
                .collect(),
            run_ids: r.from.run_ids.clone(),
            restored: Some(r.from),
            payloads: r
                .payloads
                .into_iter()
                .map(|p| ((*p).type_id(), p))
                .collect(),
            stop: StopFlag::new(),
            rx,
            handle: None,
            image_counter: n_images,
        });
        id
    }

    /// Starts `run` like [`Jobs::spawn`]; its typed result is handed over by [`Jobs::take`].
    pub fn spawn_typed<R, F>(
        &mut self,
        kind: &str,
        name: &str,
        waker: Waker,
        run: F,
    ) -> JobHandle<R>
    where
        R: JobOutput,
        F: FnOnce(&mut dyn Sink, &StopFlag) -> anyhow::Result<R> + Send + 'static,
    {
        let id = self.spawn(kind, name, waker, move |sink, stop| {
            let out = run(sink, stop)?;
            let summary = out.summary();
            sink.payload(Box::new(Output(out)));
            Ok(summary)
        });
        JobHandle {
            id,
            _result: PhantomData,
        }
    }

    /// The outcome of a typed job once it has ended, handed over once: `Some(Ok(result))` when it
    /// finished, `Some(Err(message))` when it failed or was stopped, `None` while it runs (or
    /// after the result was taken).
    pub fn take<R: JobOutput>(&mut self, handle: JobHandle<R>) -> Option<Result<R, String>> {
        let job = self.jobs.iter_mut().find(|j| j.id == handle.id)?;
        match &job.state {
            JobState::Running => None,
            JobState::Failed(m) => Some(Err(m.clone())),
            JobState::Stopped => Some(Err(format!("{} was stopped", job.name))),
            JobState::Finished(_) => job
                .payloads
                .remove(&TypeId::of::<Output<R>>())
                .and_then(|p| p.downcast::<Output<R>>().ok())
                .map(|o| Ok(o.0)),
        }
    }

    /// Drains all channels; call once per frame. Returns whether anything changed.
    pub fn poll(&mut self) -> bool {
        let mut changed = false;
        for job in &mut self.jobs {
            changed |= job.drain();
            // Joined only once the thread has returned: after its last event it may still be
            // dropping what it held, and the UI thread must never wait for that.
            if !job.state.is_running()
                && job.handle.as_ref().is_some_and(|h| h.is_finished())
                && let Some(h) = job.handle.take()
            {
                let _ = h.join();
            }
        }
        changed
    }

    pub fn get(&self, id: JobId) -> Option<&Job> {
        self.jobs.iter().find(|j| j.id == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter()
    }

    pub fn running(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter().filter(|j| j.state.is_running())
    }

    pub fn any_running(&self) -> bool {
        self.running().next().is_some()
    }

    pub fn stop(&self, id: JobId) {
        if let Some(j) = self.get(id) {
            j.stop();
        }
    }

    /// Forgets finished jobs of this kind (their curves disappear from the plots).
    pub fn clear_finished(&mut self, kind: &str) {
        self.jobs.retain(|j| j.kind != kind || j.state.is_running());
    }

    /// Stops every job and waits up to `timeout` for their threads; threads still busy after that
    /// (a long training step) are left to finish on their own and die with the process.
    pub fn shutdown(&mut self, timeout: Duration) {
        for j in &self.jobs {
            j.stop();
        }
        let deadline = Instant::now() + timeout;
        for job in &mut self.jobs {
            if let Some(h) = job.handle.take() {
                while !h.is_finished() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                if h.is_finished() {
                    let _ = h.join();
                }
            }
        }
        self.poll();
    }

    /// Number of job threads not yet joined (for leak tests).
    pub fn live_threads(&self) -> usize {
        self.jobs.iter().filter(|j| j.handle.is_some()).count()
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        self.shutdown(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_wake() -> Waker {
        Arc::new(|| {})
    }

    fn wait_done(jobs: &mut Jobs, id: JobId) {
        let t = Instant::now();
        // Until its result is in and its thread is joined (which poll does once it returned).
        while jobs.get(id).unwrap().state.is_running() || jobs.get(id).unwrap().handle.is_some() {
            assert!(t.elapsed() < Duration::from_secs(10), "job did not end");
            jobs.poll();
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn events_arrive_in_order_and_summary_ends_the_job() {
        let mut jobs = Jobs::default();
        let id = jobs.spawn("test", "count", no_wake(), |sink, _stop| {
            for i in 0..5 {
                sink.metric("x", i as f64, (i * i) as f64);
                sink.progress(i + 1, 5);
            }
            Ok(serde_json::json!({"n": 5}))
        });
        wait_done(&mut jobs, id);
        let job = jobs.get(id).unwrap();
        assert_eq!(
            job.metrics
                .get("x")
                .unwrap()
                .iter()
                .map(|p| p[1])
                .collect::<Vec<_>>(),
            [0.0, 1.0, 4.0, 9.0, 16.0]
        );
        assert_eq!(job.progress, (5, 5));
        assert_eq!(job.fraction(), 1.0);
        assert_eq!(job.state, JobState::Finished(serde_json::json!({"n": 5})));
        assert_eq!(jobs.live_threads(), 0);
    }

    #[test]
    fn a_job_that_finished_early_is_whole() {
        let mut jobs = Jobs::default();
        // Early stopping: 97 of 100 epochs, then done.
        let id = jobs.spawn("test", "early", no_wake(), |sink, _stop| {
            sink.progress(97, 100);
            Ok(serde_json::Value::Null)
        });
        wait_done(&mut jobs, id);
        assert_eq!(jobs.get(id).unwrap().progress, (97, 100));
        assert_eq!(jobs.get(id).unwrap().fraction(), 1.0, "done shows 100 %");
    }

    #[test]
    fn stop_ends_a_long_job_and_keeps_its_points() {
        let mut jobs = Jobs::default();
        let id = jobs.spawn("test", "forever", no_wake(), |sink, stop| {
            let mut i = 0;
            while !stop.is_stopped() {
                sink.metric("x", i as f64, 1.0);
                i += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(serde_json::json!({"steps": i}))
        });
        std::thread::sleep(Duration::from_millis(30));
        jobs.stop(id);
        wait_done(&mut jobs, id);
        let job = jobs.get(id).unwrap();
        assert_eq!(job.state, JobState::Stopped);
        assert!(!job.metrics.get("x").unwrap().is_empty());
    }

    #[test]
    fn errors_and_panics_become_failed_jobs() {
        let mut jobs = Jobs::default();
        let a = jobs.spawn("test", "err", no_wake(), |_, _| {
            anyhow::bail!("cora.content line 3: bad")
        });
        let b = jobs.spawn("test", "panic", no_wake(), |_, _| panic!("boom"));
        wait_done(&mut jobs, a);
        wait_done(&mut jobs, b);
        assert_eq!(
            jobs.get(a).unwrap().state,
            JobState::Failed("cora.content line 3: bad".into())
        );
        assert!(matches!(&jobs.get(b).unwrap().state, JobState::Failed(m) if m.contains("boom")));
    }

    #[test]
    fn payloads_are_found_by_type() {
        let mut jobs = Jobs::default();
        let id = jobs.spawn("test", "p", no_wake(), |sink, _| {
            sink.payload(Box::new(1_u32));
            sink.payload(Box::new(2_u32));
            sink.payload(Box::new(String::from("s")));
            Ok(serde_json::Value::Null)
        });
        wait_done(&mut jobs, id);
        let job = jobs.get(id).unwrap();
        assert_eq!(job.latest::<u32>(), Some(&2));
        assert_eq!(job.latest::<String>().map(|s| s.as_str()), Some("s"));
    }

    struct Saved(String);
    impl JobOutput for Saved {
        fn summary(&self) -> Summary {
            serde_json::json!({ "saved": self.0 })
        }
    }
    struct Loaded(u32);
    impl JobOutput for Loaded {
        fn summary(&self) -> Summary {
            serde_json::Value::Null
        }
    }

    #[test]
    fn typed_results_are_taken_once_and_failures_are_errors() {
        let mut jobs = Jobs::default();
        let saved = jobs.spawn_typed("test", "save", no_wake(), |_, _| Ok(Saved("a".into())));
        let loaded = jobs.spawn_typed("test", "load", no_wake(), |_, _| Ok(Loaded(7)));
        let failed: JobHandle<Loaded> = jobs.spawn_typed("test", "bad", no_wake(), |_, _| {
            anyhow::bail!("no such file")
        });
        for id in [saved.id, loaded.id, failed.id] {
            wait_done(&mut jobs, id);
        }
        assert_eq!(
            jobs.get(saved.id).unwrap().summary(),
            Some(&serde_json::json!({ "saved": "a" }))
        );
        assert_eq!(jobs.take(saved).unwrap().unwrap().0, "a");
        assert!(jobs.take(saved).is_none(), "a result is handed over once");
        assert_eq!(jobs.take(loaded).unwrap().unwrap().0, 7);
        assert_eq!(jobs.take(failed).unwrap().err().unwrap(), "no such file");
    }

    #[test]
    fn a_restored_job_is_finished_threadless_and_keeps_its_data() {
        let mut jobs = Jobs::default();
        let mut metrics = MetricStore::default();
        metrics.push("s0/loss", 1.0, 0.5);
        let id = jobs.restore(
            "test",
            Restored {
                name: "old".into(),
                state: JobState::Finished(serde_json::json!({"acc": 0.8})),
                metrics,
                images: vec![("pred_0".into(), Picture::new(2, 2))],
                payloads: vec![Box::new(7_u32)],
                log: Vec::new(),
                from: RestoredFrom {
                    run_ids: vec![4],
                    recorded_ms: 0,
                    problems: Vec::new(),
                },
            },
        );
        assert!(!jobs.poll(), "nothing arrives for a restored job");
        let job = jobs.get(id).unwrap();
        assert_eq!(job.summary(), Some(&serde_json::json!({"acc": 0.8})));
        assert_eq!(job.latest::<u32>(), Some(&7));
        assert_eq!(job.metrics.last("s0/loss"), Some(0.5));
        assert!(job.images.contains_key("pred_0"));
        assert_eq!(job.restored.as_ref().unwrap().run_ids, [4]);
        assert_eq!(jobs.live_threads(), 0);
        assert!(!jobs.any_running());
    }

    #[test]
    fn shutdown_stops_all_and_joins() {
        let mut jobs = Jobs::default();
        for _ in 0..3 {
            jobs.spawn("test", "loop", no_wake(), |_, stop| {
                while !stop.is_stopped() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(serde_json::Value::Null)
            });
        }
        jobs.shutdown(Duration::from_secs(5));
        assert_eq!(jobs.live_threads(), 0);
        assert!(!jobs.any_running());
    }
}
