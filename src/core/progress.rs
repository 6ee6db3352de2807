//! Progress of long CLI work on stderr, with the time left. Nothing is shown for the first
//! [`QUIET`] (short commands stay silent); then a terminal gets a bar that redraws in place and
//! a pipe or file gets one plain line every [`PIPE_EVERY`]. `GRADLAB_PROGRESS_MS=N` shortens
//! both to N milliseconds (tests use 0 to see lines from short work).

use std::io::{IsTerminal, Write as _};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::core::{Event, Sink};

/// Work shorter than this prints no progress.
pub const QUIET: Duration = Duration::from_secs(2);
/// Interval of the plain lines written to a pipe.
pub const PIPE_EVERY: Duration = Duration::from_secs(5);

/// "1 h 02 min", "3 min 05 s", "42 s".
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

/// Time left after `done` of `total` units in `elapsed`, at the average pace so far.
pub fn time_left(elapsed: Duration, done: u64, total: u64) -> Option<Duration> {
    (done > 0 && total >= done).then(|| elapsed.mul_f64((total - done) as f64 / done as f64))
}

/// One progress display on stderr (see the module notes).
pub struct Progress {
    label: String,
    start: Instant,
    quiet: Duration,
    every: Duration,
    tty: bool,
    bar: Option<ProgressBar>,
    last_line: Option<Instant>,
    /// What the last update said, for the final line on a pipe.
    last: Option<(u64, u64)>,
    /// The count of the last plain line.
    printed: Option<(u64, u64)>,
}

impl Progress {
    pub fn new(label: &str) -> Self {
        Self::with_terminal(label, std::io::stderr().is_terminal())
    }

    /// As [`Progress::new`], saying whether stderr is a terminal (tests).
    pub fn with_terminal(label: &str, tty: bool) -> Self {
        let forced = std::env::var("GRADLAB_PROGRESS_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis);
        Self {
            label: label.to_string(),
            start: Instant::now(),
            quiet: forced.unwrap_or(QUIET),
            every: forced.unwrap_or(PIPE_EVERY),
            tty,
            bar: None,
            last_line: None,
            last: None,
            printed: None,
        }
    }

    pub fn set_label(&mut self, label: &str) {
        self.label = label.to_string();
        if let Some(b) = &self.bar {
            b.set_prefix(label.to_string());
        }
    }

    /// `done` of `total` units; `msg` is shown after the time left (a metric, a file name).
    pub fn update(&mut self, done: u64, total: u64, msg: &str) {
        self.last = Some((done, total));
        let elapsed = self.start.elapsed();
        if elapsed < self.quiet {
            return;
        }
        if self.tty {
            let bar = self.bar.get_or_insert_with(|| {
                let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                b.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {pos}/{len} {elapsed_precise}, {eta} left {msg}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                b.set_prefix(self.label.clone());
                b
            });
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(msg.to_string());
            return;
        }
        if self.last_line.is_none_or(|t| t.elapsed() >= self.every) {
            self.line(done, total, msg);
        }
    }

    fn line(&mut self, done: u64, total: u64, msg: &str) {
        let elapsed = self.start.elapsed();
        let pct = if total > 0 {
            100.0 * done as f64 / total as f64
        } else {
            0.0
        };
        let left = time_left(elapsed, done, total)
            .map(|d| format!(", about {} left", short_duration(d)))
            .unwrap_or_default();
        let msg = if msg.is_empty() {
            String::new()
        } else {
            format!(" {msg}")
        };
        // A closed stderr (`2>&1 | head`) must not panic the run.
        let _ = writeln!(
            std::io::stderr(),
            "{}: {done}/{total} ({pct:.0} %), {} elapsed{left}{msg}",
            self.label,
            short_duration(elapsed)
        );
        self.last_line = Some(Instant::now());
        self.printed = Some((done, total));
    }

    /// A line above the bar (or a plain line on a pipe).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        }
    }

    /// Clears the bar; on a pipe, where lines were printed, a last one gives the final count.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        if let (Some((done, total)), Some(_)) = (self.last, self.last_line)
            && self.printed != Some((done, total))
        {
            self.line(done, total, "");
        }
        self.last_line = None;
        self.last = None;
        self.printed = None;
        self.start = Instant::now();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// The CLI's sink: [`Progress`] with the latest metric as its message; logs go to stderr.
pub struct CliSink {
    progress: Progress,
    prefix: String,
    last_metric: String,
}

impl CliSink {
    pub fn new(prefix: &str) -> Self {
        Self {
            progress: Progress::new(prefix),
            prefix: prefix.to_string(),
            last_metric: String::new(),
        }
    }

    pub fn finish(&mut self) {
        self.progress.finish();
    }
}

impl Sink for CliSink {
    fn event(&mut self, event: Event) {
        match event {
            Event::Progress { done, total } => {
                self.progress.update(done, total, &self.last_metric);
            }
            Event::Metric { series, value, .. } => {
                self.last_metric = format!("{series}={value:.4}")
            }
            Event::Log(line) => self.progress.println(&format!("{}: {line}", self.prefix)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_time_left_read_as_a_person_says_them() {
        assert_eq!(short_duration(Duration::from_secs(42)), "42 s");
        assert_eq!(short_duration(Duration::from_secs(185)), "3 min 05 s");
        assert_eq!(short_duration(Duration::from_secs(3720)), "1 h 02 min");
        assert_eq!(
            time_left(Duration::from_secs(10), 1, 4),
            Some(Duration::from_secs(30))
        );
        assert_eq!(time_left(Duration::from_secs(10), 0, 4), None);
    }
}
