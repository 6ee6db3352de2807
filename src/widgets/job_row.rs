//! One row per job, the same in every lab and the status bar: name, progress, state, elapsed
//! time and a Stop button while it runs.

use eframe::egui;

use crate::core::jobs::{Job, JobState};
use crate::core::runs::Pace;

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

/// "12.3 s" of a running job, with the time left ("12.3 s, ~40 s left"), or "estimating" while
/// nothing tells it yet.
pub fn elapsed_text(job: &Job) -> String {
    let secs = job.elapsed().as_secs_f64();
    let (done, total) = job.progress;
    match time_left(secs, done, total, job.pace()) {
        Some(left) => format!("{secs:.1} s, {}", left.text()),
        None => format!("{secs:.1} s, estimating"),
    }
}

/// The time a running job has left, and what it is based on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Left {
    pub secs: f64,
    /// Earlier runs of the same configuration on this machine (how many), or only this job's
    /// pace so far (None).
    pub from_runs: Option<usize>,
}

impl Left {
    pub fn text(&self) -> String {
        let left = self.secs;
        if left < 1.0 {
            "finishing".into()
        } else if left < 90.0 {
            format!("~{left:.0} s left")
        } else {
            format!("~{:.0} min left", left / 60.0)
        }
    }

    /// Where the estimate comes from, for a tooltip.
    pub fn basis(&self) -> String {
        match self.from_runs {
            Some(n) => format!(
                "from {} of this configuration on this machine and this job's pace so far",
                crate::core::runs::count_text(n, "earlier run")
            ),
            None => {
                "from this job's pace so far (no earlier run of this configuration here)".into()
            }
        }
    }
}

/// The time left of a job `elapsed_s` into `done` of `total` units: from the measured pace of
/// earlier runs of its configuration (`prior`) at first, then more and more from its own pace,
/// which alone decides once a tenth is done. Early stopping (earlier runs ended before their
/// last unit) shortens the expected total. None while neither can tell (no earlier run, and not
/// one unit or one second done).
pub fn time_left(elapsed_s: f64, done: u64, total: u64, prior: Option<&Pace>) -> Option<Left> {
    if total == 0 || done >= total {
        return None;
    }
    let share = prior.map_or(1.0, |p| p.done_fraction.clamp(0.05, 1.0));
    let expected_units = (total as f64 * share).max(done as f64 + 1.0);
    let own = (done >= 1 && elapsed_s >= 1.0).then(|| elapsed_s / done as f64 * expected_units);
    let from_prior = prior.map(|p| p.secs_per_unit * expected_units);
    let expected = match (own, from_prior) {
        (Some(o), Some(p)) => {
            let w = (done as f64 / total as f64 / 0.1).min(1.0);
            w * o + (1.0 - w) * p
        }
        (Some(o), None) => o,
        (None, Some(p)) => p,
        (None, None) => return None,
    };
    Some(Left {
        secs: (expected - elapsed_s).max(0.0),
        from_runs: prior.map(|p| p.runs),
    })
}

/// The name a row shows: the job's name with the store's ids of its runs ("GAT on cora (runs
/// #12-#21)") while it runs or after; a reopened job says where it is from in its state text.
pub fn row_name(job: &Job) -> String {
    if job.restored.is_some() {
        job.name.clone()
    } else {
        job.title()
    }
}

/// A label cut to `max_w` points ("GCN on cora (runs #1…"), whole on hover.
fn fitted(ui: &mut egui::Ui, text: egui::WidgetText, full: &str, max_w: f32) -> egui::Response {
    ui.scope(|ui| {
        ui.set_max_width(max_w.max(0.0));
        ui.add(egui::Label::new(text).truncate())
    })
    .inner
    .on_hover_text(full)
}

/// Draws the row within the width it is given (a side panel's): the name and the state cut
/// with "…" (whole on hover), the bar narrower on a narrow panel, Stop always whole; the last
/// log line only where room is left. Returns true when Stop was clicked (the caller stops the
/// job).
pub fn job_row(ui: &mut egui::Ui, job: &Job, opts: JobRow<'_>) -> bool {
    let mut stop = false;
    let name = opts.label.map_or_else(|| row_name(job), str::to_owned);
    ui.horizontal(|ui| {
        let width = ui.available_width();
        let gap = ui.spacing().item_spacing.x;
        let text_w = |text: &str, style: egui::TextStyle| {
            let font = style.resolve(ui.style());
            ui.painter()
                .layout_no_wrap(text.to_owned(), font, egui::Color32::WHITE)
                .size()
                .x
        };
        let stop_w = if matches!(job.state, JobState::Running) {
            text_w("Stop", egui::TextStyle::Button) + 2.0 * ui.spacing().button_padding.x + gap
        } else {
            0.0
        };
        let bar_w = opts.bar_width.min((width * 0.22).max(40.0));
        // What the bar and Stop leave goes to the name first, but the state keeps up to 110
        // points (and the name at least 40 % when both are long).
        let free = width - bar_w - stop_w - 2.0 * gap;
        let shown = match job.state {
            JobState::Running => elapsed_text(job),
            _ => state_text(job),
        };
        let state_w = text_w(&shown, egui::TextStyle::Body).min(110.0);
        let name_w = (free - state_w).max(free * 0.4).max(24.0);
        fitted(ui, name.as_str().into(), &name, name_w);
        ui.add(
            egui::ProgressBar::new(job.fraction())
                .desired_width(bar_w)
                .show_percentage(),
        );
        let rest = |ui: &egui::Ui| ui.available_width() - stop_w;
        match &job.state {
            JobState::Failed(_) => {
                let text = state_text(job);
                let rich = egui::RichText::new(&text).color(ui.visuals().error_fg_color);
                fitted(ui, rich.into(), &text, rest(ui));
            }
            JobState::Running => {
                let (done, total) = job.progress;
                let basis = time_left(job.elapsed().as_secs_f64(), done, total, job.pace())
                    .map(|l| l.basis())
                    .unwrap_or_else(|| {
                        "no earlier run of this configuration here, and not one unit done yet"
                            .into()
                    });
                let text = elapsed_text(job);
                let w = rest(ui);
                fitted(ui, text.as_str().into(), &format!("{text}\n{basis}"), w);
                stop = ui
                    .small_button("Stop")
                    .on_hover_text(format!("Stop {}", job.name))
                    .clicked();
            }
            _ => {
                // A reopened job's origin is long ("from runs #1, #2, #4, recorded ..."): cut at
                // the panel's edge, whole on hover.
                let text = state_text(job);
                let w = rest(ui);
                fitted(ui, egui::RichText::new(&text).weak().into(), &text, w);
            }
        }
        if let Some(from) = job.restored.as_ref().filter(|f| !f.problems.is_empty()) {
            let text = missing_text(&from.problems);
            let rich = egui::RichText::new(&text).color(ui.visuals().warn_fg_color);
            let w = ui.available_width();
            fitted(ui, rich.into(), &from.problems.join("\n"), w);
        }
        // The last log line ("GCN seed 9: test acc ...") only where a few words fit: an ellipsis
        // alone would still run past the edge.
        if opts.last_log
            && let Some(l) = job.log.last()
            && ui.available_width() > 60.0
        {
            let w = ui.available_width();
            fitted(ui, egui::RichText::new(l).weak().into(), l, w);
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
    use super::*;

    fn left(elapsed: f64, done: u64, total: u64, prior: Option<&Pace>) -> Option<String> {
        time_left(elapsed, done, total, prior).map(|l| l.text())
    }

    #[test]
    fn time_left_extrapolates_the_pace_after_one_unit_and_one_second() {
        assert_eq!(left(10.0, 50, 100, None).as_deref(), Some("~10 s left"));
        assert_eq!(left(60.0, 25, 100, None).as_deref(), Some("~3 min left"));
        assert_eq!(left(0.5, 50, 100, None), None, "too early");
        assert_eq!(left(10.0, 0, 100, None), None, "nothing done");
        // A slow start (GAT beside GCN): 1 of 1000 epochs in 2 s already tells it.
        assert_eq!(left(2.0, 1, 1000, None).as_deref(), Some("~33 min left"));
        assert_eq!(left(10.0, 100, 100, None), None, "done");
    }

    #[test]
    fn earlier_runs_give_the_estimate_from_the_first_second() {
        let pace = Pace {
            secs_per_unit: 0.5,
            done_fraction: 1.0,
            runs: 3,
        };
        // Nothing done yet: 100 units at 0.5 s.
        let l = time_left(0.2, 0, 100, Some(&pace)).unwrap();
        assert_eq!(l.text(), "~50 s left");
        assert_eq!(l.from_runs, Some(3));
        assert!(l.basis().contains("3 earlier runs"));
        // Once a tenth is done, this job's own pace decides (here 1 s per unit).
        assert_eq!(
            left(20.0, 20, 100, Some(&pace)).as_deref(),
            Some("~80 s left")
        );
        // Early stopping in the earlier runs (half the epochs): half the time.
        let early = Pace {
            done_fraction: 0.5,
            ..pace
        };
        assert_eq!(
            left(0.0, 0, 100, Some(&early)).as_deref(),
            Some("~25 s left")
        );
    }

    /// A running job with a long name, runs and log line in a panel 300 points wide (the
    /// Graphs side panel at 1024 x 600 is about that): every part of its row stays inside, the
    /// cut texts are whole in their tooltips, Stop is whole.
    #[test]
    fn a_row_is_cut_at_its_panels_edge() {
        use crate::core::jobs::Jobs;
        use crate::core::runs::RecordedRun;
        use egui_kittest::kittest::{NodeT, Queryable};
        use std::time::{Duration, Instant};

        let mut jobs = Jobs::default();
        let id = jobs.spawn(
            "test",
            "GAT on synthetic-h0.80-with-a-long-name",
            std::sync::Arc::new(|| {}),
            |sink, stop| {
                for run in [8, 10, 11, 13, 15, 18] {
                    sink.payload(Box::new(RecordedRun(run)));
                }
                sink.progress(3, 10);
                sink.log("GAT seed 9: test accuracy 0.8123, validation accuracy 0.7990");
                while !stop.is_stopped() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(serde_json::json!({}))
            },
        );
        let t = Instant::now();
        while jobs.get(id).unwrap().log.is_empty() {
            assert!(t.elapsed() < Duration::from_secs(10));
            jobs.poll();
            std::thread::sleep(Duration::from_millis(5));
        }
        let title = jobs.get(id).unwrap().title();
        assert!(title.contains("#18"), "{title}");
        const PANEL: f32 = 300.0;
        let mut h = egui_kittest::Harness::builder()
            .with_size(egui::vec2(800.0, 80.0))
            .build_ui_state(
                move |ui, jobs: &mut Jobs| {
                    ui.scope(|ui| {
                        ui.set_max_width(PANEL);
                        let opts = JobRow {
                            last_log: true,
                            ..JobRow::default()
                        };
                        job_row(ui, jobs.get(id).unwrap(), opts);
                    });
                },
                jobs,
            );
        h.run_steps(2);
        let left = h.get_by_role(egui::Role::ProgressIndicator).rect().left();
        let stop = h.get_by_label("Stop").rect();
        let mut parts = 0;
        for n in h.query_all(egui_kittest::kittest::by()) {
            let role = n.accesskit_node().role();
            if matches!(
                role,
                egui::Role::Label | egui::Role::Button | egui::Role::ProgressIndicator
            ) {
                let r = n.rect();
                parts += 1;
                assert!(
                    r.right() <= PANEL + 8.0,
                    "{role:?} {:?} at {r:?} runs past the panel's edge",
                    n.accesskit_node().label()
                );
            }
        }
        assert!(parts >= 4, "name, bar, time, Stop: {parts}");
        assert!(stop.left() > left, "Stop is whole, after the bar: {stop:?}");
        // Cut on screen, the name stays whole for screen readers (and in its tooltip).
        let name = h.get_by_label_contains("GAT on");
        // (egui gives a label's text to accesskit as its value.)
        let node = name.accesskit_node();
        assert_eq!(
            node.value().or(node.label()).as_deref(),
            Some(title.as_str())
        );
        assert!(name.rect().width() < 200.0, "cut: {:?}", name.rect());
        h.state().stop(id);
    }
}
