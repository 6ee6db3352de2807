//! A lab on its own in a kittest harness, with the jobs and file tasks the app would give it:
//! lab tests drive their lab without building the app.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;

use super::{Lab, TabCx};
use crate::core::jobs::Jobs;
use crate::core::watchdog::Watchdog;
use crate::widgets::files::FileTasks;

pub struct World<L> {
    pub lab: L,
    pub jobs: Jobs,
    pub files: FileTasks,
    pub data_dir: PathBuf,
    /// The labs' descriptors the tab sees (none unless a test sets them).
    pub labs: Vec<&'static crate::core::descriptor::LabDescriptor>,
    _watchdog: Watchdog,
}

/// No lab test needs more than a minute here; five leaves room for a loaded CI machine.
const TEST_LIMIT: Duration = Duration::from_secs(300);

impl<L: Lab> World<L> {
    pub fn new(lab: L, data_dir: PathBuf, files: FileTasks) -> Self {
        Self {
            lab,
            jobs: Jobs::default(),
            files,
            data_dir,
            labs: Vec::new(),
            _watchdog: Watchdog::new(
                std::thread::current().name().unwrap_or("a lab test"),
                TEST_LIMIT,
            ),
        }
    }

    /// One frame, as the app draws a lab.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.files.set_context(ui.ctx());
        self.jobs.poll();
        self.files.poll();
        let mut cx = TabCx {
            jobs: &mut self.jobs,
            files: &mut self.files,
            data_dir: &self.data_dir,
            waker: crate::widgets::repaint_waker(ui.ctx()),
            labs: &self.labs,
        };
        let lab = &mut self.lab;
        lab.background(ui.ctx(), &mut cx);
        egui::ScrollArea::vertical()
            .auto_shrink(false)
            .show(ui, |ui| lab.ui(ui, &mut cx));
    }

    pub fn harness(self) -> Harness<'static, World<L>> {
        self.harness_sized(1280.0, 900.0)
    }

    /// A harness of the lab's area on a given screen.
    pub fn harness_sized(self, width: f32, height: f32) -> Harness<'static, World<L>> {
        Harness::builder()
            .with_size([width, height])
            .build_ui_state(|ui, w: &mut World<L>| w.show(ui), self)
    }
}

/// Steps frames until `done` holds (jobs run on real threads, so time must pass).
pub fn run_until<L: Lab>(
    h: &mut Harness<'_, World<L>>,
    what: &str,
    done: impl Fn(&World<L>) -> bool,
) {
    run_until_within(h, Duration::from_secs(120), |_| what.to_string(), done);
}

/// [`run_until`] with its own time limit; `what` describes the wait on failure from the state
/// then (e.g. the error that kept it from ending).
pub fn run_until_within<L: Lab>(
    h: &mut Harness<'_, World<L>>,
    limit: Duration,
    what: impl Fn(&World<L>) -> String,
    done: impl Fn(&World<L>) -> bool,
) {
    let t = Instant::now();
    while !done(h.state()) {
        assert!(
            t.elapsed() < limit,
            "timed out waiting for {}",
            what(h.state())
        );
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    h.run_steps(2);
}
