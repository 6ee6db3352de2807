//! Bottom bar: running jobs with progress, elapsed time and Stop, the failure of the open tab's
//! last job (dismissable), and the last file message (dismissable).

use std::collections::HashSet;

use eframe::egui;

use crate::core::jobs::{JobId, JobState, Jobs};
use crate::widgets::files::{FileMsg, FileTasks};
use crate::widgets::job_row::{JobRow, job_row};

/// Whether a job of `kind` belongs to the lab `lab_id`: a lab's jobs are of the kind of its id,
/// or `<id>-<what>` ("segmentation-io"). Its failure is shown on that tab only.
pub fn belongs_to(kind: &str, lab_id: &str) -> bool {
    !lab_id.is_empty() && kind.split('-').next() == Some(lab_id)
}

/// The last failed job of the lab `lab_id` that was not dismissed.
pub fn failure_for(
    jobs: &Jobs,
    lab_id: &str,
    dismissed: &HashSet<JobId>,
) -> Option<(JobId, String)> {
    jobs.iter()
        .filter(|j| belongs_to(&j.kind, lab_id) && !dismissed.contains(&j.id))
        .filter_map(|j| match &j.state {
            JobState::Failed(msg) => Some((j.id, format!("{} failed: {msg}", j.name))),
            _ => None,
        })
        .last()
}

pub fn show(
    ui: &mut egui::Ui,
    jobs: &Jobs,
    files: &mut FileTasks,
    lab_id: &str,
    dismissed: &mut HashSet<JobId>,
) {
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
        if let Some((id, text)) = failure_for(jobs, lab_id, dismissed) {
            ui.colored_label(ui.visuals().error_fg_color, text);
            if ui
                .small_button("×")
                .on_hover_text("Dismiss this message")
                .clicked()
            {
                dismissed.insert(id);
            }
        }
        let mut dismiss = false;
        match files.last_message() {
            Some(FileMsg::Saved(p)) => {
                ui.label(format!("Saved {}", p.display()));
                dismiss = ui.small_button("×").on_hover_text("Dismiss").clicked();
            }
            Some(FileMsg::Error(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
                dismiss = ui.small_button("×").on_hover_text("Dismiss").clicked();
            }
            Some(FileMsg::Info(s)) => {
                ui.label(s);
                dismiss = ui.small_button("×").on_hover_text("Dismiss").clicked();
            }
            _ => {}
        }
        if dismiss {
            files.dismiss_last();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::belongs_to;

    #[test]
    fn jobs_belong_to_the_lab_that_started_them() {
        assert!(belongs_to("graphs", "graphs"));
        assert!(belongs_to("segmentation", "segmentation"));
        assert!(belongs_to("segmentation-io", "segmentation"));
        assert!(!belongs_to("graph", "graphs"), "a prefix is not the lab");
        assert!(belongs_to("theory", "theory"));
        assert!(belongs_to("datasets", "datasets"));
        assert!(!belongs_to("graphs", "segmentation"));
        assert!(!belongs_to("segmentation", "graphs"));
        assert!(!belongs_to("", "graphs"));
    }
}
