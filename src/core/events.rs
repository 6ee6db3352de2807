//! The one-way channel from a running experiment to whoever watches it (GUI or CLI).

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What an experiment returns when it ends: the figures a script or a results table reads.
pub type Summary = serde_json::Value;

/// An 8-bit RGBA picture produced by an experiment (predictions, galleries).
pub type Picture = image::RgbaImage;

/// Typed events an experiment emits while it runs.
pub enum Event {
    /// `done` of `total` units of work (epochs, trials) are finished.
    Progress { done: u64, total: u64 },
    /// One point of a named curve, e.g. series "val_acc" at step (epoch) 12.
    Metric {
        series: String,
        step: f64,
        value: f64,
    },
    /// A named picture that replaces the previous one of the same name.
    Image { name: String, image: Picture },
    /// Lab-specific rich data (embeddings, attention weights, a check result). The watcher keeps
    /// the latest value of each type and looks it up by type.
    Payload(Box<dyn Any + Send>),
    /// A line of text for the log.
    Log(String),
    /// The run ended with this summary (sent by the job runner, not by experiments).
    Done(Summary),
    /// The run failed with this message (sent by the job runner: a failure is never a summary).
    Failed(String),
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Progress { done, total } => write!(f, "Progress({done}/{total})"),
            Event::Metric {
                series,
                step,
                value,
            } => write!(f, "Metric({series}, {step}, {value})"),
            Event::Image { name, image } => {
                write!(f, "Image({name}, {}x{})", image.width(), image.height())
            }
            Event::Payload(_) => write!(f, "Payload"),
            Event::Log(s) => write!(f, "Log({s})"),
            Event::Done(s) => write!(f, "Done({s})"),
            Event::Failed(m) => write!(f, "Failed({m})"),
        }
    }
}

/// Receives the events of one run. The GUI's sink forwards them over a channel, the CLI's draws
/// a progress bar, tests collect them.
pub trait Sink: Send {
    fn event(&mut self, event: Event);

    fn progress(&mut self, done: u64, total: u64) {
        self.event(Event::Progress { done, total });
    }
    fn metric(&mut self, series: &str, step: f64, value: f64) {
        self.event(Event::Metric {
            series: series.to_string(),
            step,
            value,
        });
    }
    fn log(&mut self, line: &str) {
        self.event(Event::Log(line.to_string()));
    }
    fn image(&mut self, name: &str, image: Picture) {
        self.event(Event::Image {
            name: name.to_string(),
            image,
        });
    }
    fn payload(&mut self, payload: Box<dyn Any + Send>) {
        self.event(Event::Payload(payload));
    }
}

/// Renames the metric series of one seed ("s3/val_acc") and maps its progress into the whole run.
pub struct SeedSink<'a> {
    pub inner: &'a mut dyn Sink,
    pub prefix: String,
    pub index: u64,
    pub runs: u64,
}

impl Sink for SeedSink<'_> {
    fn event(&mut self, event: Event) {
        let ev = match event {
            Event::Metric {
                series,
                step,
                value,
            } => Event::Metric {
                series: format!("{}{series}", self.prefix),
                step,
                value,
            },
            Event::Progress { done, total } => Event::Progress {
                done: self.index * total + done,
                total: total * self.runs,
            },
            other => other,
        };
        self.inner.event(ev);
    }
}

/// Drops every event: for benchmarks and callers that only want the summary.
pub struct NullSink;

impl Sink for NullSink {
    fn event(&mut self, _event: Event) {}
}

/// Keeps every event in order: for tests.
#[derive(Default)]
pub struct VecSink {
    pub events: Vec<Event>,
}

impl Sink for VecSink {
    fn event(&mut self, event: Event) {
        self.events.push(event);
    }
}

impl VecSink {
    /// The values of one metric series, in the order they were sent.
    pub fn series(&self, name: &str) -> Vec<(f64, f64)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Metric {
                    series,
                    step,
                    value,
                } if series == name => Some((*step, *value)),
                _ => None,
            })
            .collect()
    }

    pub fn latest_payload<T: Any>(&self) -> Option<&T> {
        self.events.iter().rev().find_map(|e| match e {
            Event::Payload(p) => p.downcast_ref::<T>(),
            _ => None,
        })
    }
}

/// Shared cancel flag: the owner sets it, the experiment polls it once per step and returns what
/// it measured so far.
#[derive(Clone, Default, Debug)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Training diverged: a loss or metric became NaN or infinite.
#[derive(Debug, thiserror::Error)]
#[error("training diverged at step {step}: {what} is {value} (try a smaller learning rate)")]
pub struct Diverged {
    pub step: usize,
    pub what: String,
    pub value: f64,
}

/// Fails with [`Diverged`] when `value` is not finite, so a run stops instead of plotting garbage.
pub fn ensure_finite(what: &str, value: f64, step: usize) -> Result<f64, Diverged> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Diverged {
            step,
            what: what.to_string(),
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_flag_is_shared_between_clones() {
        let a = StopFlag::new();
        let b = a.clone();
        assert!(!b.is_stopped());
        a.stop();
        assert!(b.is_stopped());
    }

    #[test]
    fn ensure_finite_rejects_nan_and_inf() {
        assert!(ensure_finite("loss", 1.0, 0).is_ok());
        let e = ensure_finite("loss", f64::NAN, 3).unwrap_err();
        assert!(e.to_string().contains("step 3"), "{e}");
        assert!(ensure_finite("loss", f64::INFINITY, 0).is_err());
    }

    #[test]
    fn vec_sink_filters_series_and_payloads() {
        let mut s = VecSink::default();
        s.metric("a", 0.0, 1.0);
        s.metric("b", 0.0, 2.0);
        s.metric("a", 1.0, 3.0);
        s.payload(Box::new(7_u32));
        assert_eq!(s.series("a"), vec![(0.0, 1.0), (1.0, 3.0)]);
        assert_eq!(s.latest_payload::<u32>(), Some(&7));
        assert_eq!(s.latest_payload::<i64>(), None);
    }
}
