//! One row per job, the same in every lab and the status bar: name, progress, state, elapsed
//! time and a Stop button while it runs.

use eframe::egui;

use crate::core::jobs::{Job, JobState};

/// Options of a [`job_row`].
#[derive(Clone, Copy)]
pub struct JobRow<'a> {
    /// Shown instead of the job's name.
    pub label: Option<&'a str>,
    pub bar_width: f32,
    /// Show the job's last log line after the state.
    pub last_log: bool,
}

impl Default for JobRow<'_> {
    fn default() -> Self {
        Self {
            label: None,
            bar_width: 160.0,
            last_log: false,
        }
    }
}

/// The state of a job in a few words.
pub fn state_text(job: &Job) -> String {
    if let Some(from) = &job.restored {
        let origin = crate::core::runs::origin_text(&from.run_ids, from.recorded_ms);
        return match &job.state {
            JobState::Finished(_) => origin,
            JobState::Stopped => format!("stopped, {origin}"),
            _ => origin,
        };
    }
    let secs = job.elapsed().as_secs_f64();
    match &job.state {
        JobState::Running => format!("{:.0}%, {}", job.fraction() * 100.0, elapsed_text(job)),
        JobState::Finished(_) => format!("done in {secs:.1} s"),
        JobState::Stopped => "stopped".into(),
        JobState::Failed(e) => format!("failed: {e}"),
    }
}

/// "12.3 s" of a running job, with the time left when it can be told ("12.3 s, ~40 s left").
fn elapsed_text(job: &Job) -> String {
    let secs = job.elapsed().as_secs_f64();
    match time_left(secs, job.fraction() as f64) {
        Some(left) => format!("{secs:.1} s, {left}"),
        None => format!("{secs:.1} s"),
    }
}

/// "~40 s left" from the time so far and the fraction done, assuming the rest goes at the same
/// pace; none while too little is done to tell. (Early stopping makes it an overestimate.)
pub fn time_left(elapsed_s: f64, fraction: f64) -> Option<String> {
    if !(0.03..1.0).contains(&fraction) || elapsed_s < 1.0 {
        return None;
    }
    let left = elapsed_s * (1.0 - fraction) / fraction;
    Some(if left < 90.0 {
        format!("~{left:.0} s left")
    } else {
        format!("~{:.0} min left", left / 60.0)
    })
}

/// Draws the row; returns true when Stop was clicked (the caller stops the job).
pub fn job_row(ui: &mut egui::Ui, job: &Job, opts: JobRow<'_>) -> bool {
    let mut stop = false;
    ui.horizontal(|ui| {
        ui.label(opts.label.unwrap_or(&job.name));
        ui.add(
            egui::ProgressBar::new(job.fraction())
                .desired_width(opts.bar_width)
                .show_percentage(),
        );
        match &job.state {
            JobState::Failed(_) => {
                ui.colored_label(ui.visuals().error_fg_color, state_text(job));
            }
            JobState::Running => {
                ui.label(elapsed_text(job));
                stop = ui
                    .small_button("Stop")
                    .on_hover_text(format!("Stop {}", job.name))
                    .clicked();
            }
            _ => {
                ui.weak(state_text(job));
            }
        }
        if let Some(from) = job.restored.as_ref().filter(|f| !f.problems.is_empty()) {
            ui.colored_label(ui.visuals().warn_fg_color, missing_text(&from.problems))
                .on_hover_text(from.problems.join("\n"));
        }
        if opts.last_log
            && let Some(l) = job.log.last()
        {
            ui.weak(l);
        }
    });
    stop
}

/// "1 file missing" / "3 files missing" for a reopened job whose artifacts are not all there.
pub fn missing_text(problems: &[String]) -> String {
    match problems.len() {
        1 => "1 file missing".into(),
        n => format!("{n} files missing"),
    }
}

#[cfg(test)]
mod tests {
    use super::time_left;

    #[test]
    fn time_left_extrapolates_the_pace_and_waits_for_enough_progress() {
        assert_eq!(time_left(10.0, 0.5).as_deref(), Some("~10 s left"));
        assert_eq!(time_left(60.0, 0.25).as_deref(), Some("~3 min left"));
        assert_eq!(time_left(0.5, 0.5), None, "too early");
        assert_eq!(time_left(10.0, 0.01), None, "too little done");
        assert_eq!(time_left(10.0, 1.0), None, "done");
    }
}
