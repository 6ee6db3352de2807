//! A lab on its own in a kittest harness, with the jobs and file tasks the app would give it:
//! lab tests drive their lab without building the app.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;

use super::{Lab, TabCx};
use crate::core::jobs::Jobs;
use crate::widgets::files::FileTasks;

pub struct World<L> {
    pub lab: L,
    pub jobs: Jobs,
    pub files: FileTasks,
    pub data_dir: PathBuf,
}

impl<L: Lab> World<L> {
    pub fn new(lab: L, data_dir: PathBuf, files: FileTasks) -> Self {
        Self {
            lab,
            jobs: Jobs::default(),
            files,
            data_dir,
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
        };
        self.lab.ui(ui, &mut cx);
    }

    pub fn harness(self) -> Harness<'static, World<L>> {
        Harness::builder()
            .with_size([1280.0, 900.0])
            .build_ui_state(|ui, w: &mut World<L>| w.show(ui), self)
    }
}

/// Steps frames until `done` holds (jobs run on real threads, so time must pass).
pub fn run_until<L: Lab>(
    h: &mut Harness<'_, World<L>>,
    what: &str,
    done: impl Fn(&World<L>) -> bool,
) {
    let t = Instant::now();
    while !done(h.state()) {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
        h.step();
    }
    h.run_steps(2);
}
