//! Bottom bar: running jobs with progress, elapsed time and Stop, and the last file message.

use eframe::egui;

use crate::widgets::files::{FileMsg, FileTasks};
use crate::core::jobs::{JobState, Jobs};

pub fn show(ui: &mut egui::Ui, jobs: &Jobs, files: &FileTasks) {
    ui.horizontal_wrapped(|ui| {
        let running: Vec<_> = jobs.running().collect();
        if running.is_empty() {
            ui.label("No jobs running");
        }
        for job in running {
            ui.group(|ui| {
                ui.label(&job.name);
                ui.add(
                    egui::ProgressBar::new(job.fraction())
                        .desired_width(90.0)
                        .show_percentage(),
                );
                ui.label(format!("{:.1} s", job.elapsed().as_secs_f32()));
                if ui
                    .small_button("Stop")
                    .on_hover_text(format!("Stop {}", job.name))
                    .clicked()
                {
                    job.stop();
                }
            });
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
