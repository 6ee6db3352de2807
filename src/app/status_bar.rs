//! Bottom bar: running jobs with progress, elapsed time and Stop, and the last file message.

use eframe::egui;

use crate::core::jobs::{JobState, Jobs};
use crate::widgets::files::{FileMsg, FileTasks};
use crate::widgets::job_row::{JobRow, job_row};

pub fn show(ui: &mut egui::Ui, jobs: &Jobs, files: &FileTasks) {
    ui.horizontal_wrapped(|ui| {
        let running: Vec<_> = jobs.running().collect();
        if running.is_empty() {
            ui.label("No jobs running");
        }
        for job in running {
            let opts = JobRow {
                bar_width: 90.0,
                ..JobRow::default()
            };
            if ui.group(|ui| job_row(ui, job, opts)).inner {
                job.stop();
            }
        }
        if let Some(failed) = jobs
            .iter()
            .filter(|j| matches!(j.state, JobState::Failed(_)))
            .last()
            && let JobState::Failed(msg) = &failed.state
        {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("{} failed: {msg}", failed.name),
            );
        }
        match files.last_message() {
            Some(FileMsg::Saved(p)) => {
                ui.label(format!("Saved {}", p.display()));
            }
            Some(FileMsg::Error(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            Some(FileMsg::Info(s)) => {
                ui.label(s);
            }
            _ => {}
        }
    });
}
