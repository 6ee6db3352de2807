//! The CLI's sink: a progress bar on stderr when it is a terminal, quiet otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::core::{Event, Sink};

pub struct CliSink {
    bar: Option<ProgressBar>,
    prefix: String,
    last_metric: String,
}

impl CliSink {
    pub fn new(prefix: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b.set_prefix(prefix.to_string());
            b
        });
        Self {
            bar,
            prefix: prefix.to_string(),
            last_metric: String::new(),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for CliSink {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Sink for CliSink {
    fn event(&mut self, event: Event) {
        match event {
            Event::Progress { done, total } => {
                if let Some(b) = &self.bar {
                    b.set_length(total);
                    b.set_position(done);
                    b.set_message(self.last_metric.clone());
                }
            }
            Event::Metric { series, value, .. } => {
                self.last_metric = format!("{series}={value:.4}")
            }
            Event::Log(line) => match &self.bar {
                Some(b) => b.println(format!("{}: {line}", self.prefix)),
                // A closed stderr (`2>&1 | head`) must not panic the run.
                None => {
                    use std::io::Write as _;
                    let _ = writeln!(std::io::stderr(), "{}: {line}", self.prefix);
                }
            },
            _ => {}
        }
    }
}
