//! The Sweeps tab: the sweeps in the run store, one drawn with error bars and verdicts, the
//! editor that starts a new one (from a lab's "Sweep..." button or a preset question), and the
//! sweep running as a background job. Every store access goes through a [`StoreReader`] thread.
//!
//! A sweep survives closing the app: its runs are in the store and its status becomes
//! "interrupted" once its process is gone, so on the next start this tab asks whether to resume
//! it (the same grid and seeds; only the runs without a finished answer train).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::core::Summary;
use crate::core::descriptor::{Direction, LabDescriptor};
use crate::core::figures::{Figure, identity_color, seed_group};
use crate::core::jobs::{JobHandle, JobOutput};
use crate::core::runs::{
    Point, Query, Reply, RunFilter, RunId, RunStatus, StoreReader, SweepId, SweepLink, SweepRow,
};
use crate::core::sweep::{self, PointRow};
use crate::labs::lab::{Lab, load_ron, save_ron};
use crate::widgets::TabCx;
use crate::widgets::job_row::{JobRow, job_row};
use crate::widgets::plot::figure_plot;

mod editor;
#[cfg(test)]
mod tests;
mod view;

use editor::{Editor, Start};

pub const KIND: &str = "sweeps";
const PICK_REPORT: &str = "sweep-report";
/// Finished runs a lab's estimate is the median of.
const PACE_RUNS: usize = 20;

/// What survives a restart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SweepsSettings {
    pub open: Option<SweepId>,
    pub baseline: usize,
    pub heat: bool,
    /// Interrupted sweeps the user chose not to resume (not asked again).
    pub declined: Vec<SweepId>,
}

/// What a sweep job hands back.
pub struct SweepDone {
    pub sweep_id: SweepId,
    pub recorded: usize,
    pub reused: usize,
    pub wall_seconds: f64,
}

impl JobOutput for SweepDone {
    fn summary(&self) -> Summary {
        serde_json::json!({
            "sweep_id": self.sweep_id,
            "runs_recorded": self.recorded,
            "runs_reused": self.reused,
            "wall_seconds": self.wall_seconds,
        })
    }
}

/// A sweep's report, written by its job.
pub struct ReportDone(pub PathBuf);

impl JobOutput for ReportDone {
    fn summary(&self) -> Summary {
        serde_json::json!({ "report": self.0.display().to_string() })
    }
}

/// Sent by a running sweep once it is in the store, so the view follows it live.
pub struct SweepStarted(pub SweepId);

/// The curves of the runs of one chosen point.
#[derive(Default)]
struct PointCurves {
    point: usize,
    key: String,
    runs: HashMap<RunId, (Vec<Point>, i64)>,
}

#[derive(Default)]
pub struct Runtime {
    labs: Vec<&'static LabDescriptor>,
    reader: Option<StoreReader>,
    reader_dir: Option<PathBuf>,
    pub unavailable: Option<String>,
    pub sweeps: Vec<SweepRow>,
    pub listed: bool,
    /// The open sweep and its finished runs.
    pub open: Option<(SweepRow, Vec<SweepLink>)>,
    pub editor: Option<Editor>,
    pub job: Option<JobHandle<SweepDone>>,
    report: Option<JobHandle<ReportDone>>,
    /// Seconds per run (median) and how many runs, per lab: the editor's estimate.
    pace: HashMap<String, (f64, usize)>,
    curves: Option<PointCurves>,
    pub message: Option<String>,
    /// An interrupted sweep this session asks about.
    pub ask_resume: Option<SweepId>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SweepsTab {
    pub settings: SweepsSettings,
    #[serde(skip)]
    pub rt: Runtime,
}

impl Lab for SweepsTab {
    fn id(&self) -> &'static str {
        "sweeps"
    }
    fn title(&self) -> &'static str {
        "Sweeps"
    }
    fn background(&mut self, ctx: &egui::Context, cx: &mut TabCx<'_>) {
        self.rt.labs = cx.labs.to_vec();
        self.connect(ctx, cx.runs_dir());
        self.poll();
        self.take_job(cx);
        self.take_report(cx);
        self.resume_prompt(ctx, cx);
    }
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        ui.heading("Sweeps");
        ui.label(
            "How does a result change with a setting? A sweep runs a lab over a grid of \
             values and seeds, records every run, and draws the mean ± std at each point with \
             a verdict against a baseline. Closing the app pauses it; it resumes where it was.",
        );
        let Some(dir) = cx.runs_dir().map(Path::to_path_buf) else {
            ui.label(
                "Sweeps need the run store: start gradlab with --runs-dir DIR or set GRADLAB_RUNS.",
            );
            return;
        };
        if let Some(why) = &self.rt.unavailable {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("The run store at {} cannot be used: {why}", dir.display()),
            );
            return;
        }
        if let Some(m) = &self.rt.message {
            ui.label(m);
        }
        self.new_sweep_row(ui);
        self.job_row(ui, cx);
        if let Some(ed) = &mut self.rt.editor {
            let pace = self.rt.pace.get(ed.lab.id).copied();
            let busy = self.rt.job.is_some();
            let mut out = (None, false);
            egui::Frame::group(ui.style()).show(ui, |ui| {
                out = ed.show(ui, pace, busy);
            });
            match out {
                (Some(start), _) => self.start(start, cx),
                (None, true) => self.rt.editor = None,
                _ => {}
            }
        }
        ui.separator();
        self.list(ui);
        self.view(ui, cx);
    }
    fn save_state(&self) -> Option<String> {
        save_ron(&self.settings)
    }
    fn load_state(&mut self, text: &str) -> Result<(), String> {
        load_ron(text, &mut self.settings)
    }
}

impl SweepsTab {
    fn connect(&mut self, ctx: &egui::Context, dir: Option<&Path>) {
        if self.rt.reader_dir.as_deref() == dir && (self.rt.reader.is_some() || dir.is_none()) {
            return;
        }
        let labs = std::mem::take(&mut self.rt.labs);
        self.rt = Runtime {
            labs,
            ..Default::default()
        };
        let Some(dir) = dir else { return };
        let ctx = ctx.clone();
        let reader = StoreReader::spawn(dir.to_path_buf(), move || ctx.request_repaint());
        reader.send(Query::Sweeps);
        if let Some(id) = self.settings.open {
            reader.send(Query::Sweep(id));
        }
        self.rt.reader = Some(reader);
        self.rt.reader_dir = Some(dir.to_path_buf());
    }

    fn send(&self, q: Query) {
        if let Some(r) = &self.rt.reader {
            r.send(q);
        }
    }

    /// Drains the reader's replies.
    pub fn poll(&mut self) {
        let replies = match &self.rt.reader {
            Some(r) => r.poll(),
            None => return,
        };
        for reply in replies {
            match reply {
                Reply::Unavailable(why) => self.rt.unavailable = Some(why),
                Reply::Sweeps(list) => {
                    self.rt.listed = true;
                    // The newest sweep is drawn until another is picked.
                    if self.settings.open.is_none()
                        && let Some(s) = list.first()
                    {
                        self.settings.open = Some(s.id);
                        self.send(Query::Sweep(s.id));
                    }
                    self.rt.sweeps = list;
                }
                Reply::Sweep(id, row, links) if self.settings.open == Some(id) => {
                    self.rt.open = row.map(|r| (*r, links));
                }
                Reply::List(rows) => self.take_pace(&rows),
                Reply::Series { run, series } => {
                    if let Some(c) = &mut self.rt.curves {
                        for chunk in series {
                            if let Some((pts, cursor)) = c.runs.get_mut(&run)
                                && chunk.key == c.key
                                && chunk.from == *cursor
                            {
                                pts.extend(chunk.points);
                                *cursor = chunk.next;
                            }
                        }
                    }
                }
                Reply::Changed => {
                    self.send(Query::Sweeps);
                    if let Some(id) = self.settings.open {
                        self.send(Query::Sweep(id));
                    }
                    self.refresh_curves();
                }
                Reply::Error(e) => self.rt.message = Some(format!("Run store: {e}")),
                _ => {}
            }
        }
    }

    /// The median wall time of the lab's last finished runs, for the editor's estimate.
    fn take_pace(&mut self, rows: &[crate::core::runs::RunRow]) {
        let Some(lab) = rows.first().map(|r| r.lab.clone()) else {
            return;
        };
        let mut secs: Vec<f64> = rows
            .iter()
            .filter(|r| r.lab == lab)
            .filter_map(|r| Some((r.ended_ms? - r.started_ms) as f64 / 1000.0))
            .collect();
        if !secs.is_empty() {
            let m = crate::core::stats::median(&mut secs);
            self.rt.pace.insert(lab, (m, secs.len()));
        }
    }

    fn descriptor(&self, id: &str) -> Option<&'static LabDescriptor> {
        self.rt.labs.iter().copied().find(|d| d.id == id)
    }

    /// Opens the editor for lab `lab` starting from `flags`.
    pub fn open_editor(&mut self, lab: &str, flags: &[String]) {
        let Some(d) = self.descriptor(lab).filter(|d| d.sweep.is_some()) else {
            self.rt.message = Some(format!("The {lab} lab cannot be swept."));
            return;
        };
        self.rt.editor = Some(Editor::new(d, flags));
        self.ask_pace(d.id);
    }

    fn ask_pace(&self, lab: &str) {
        self.send(Query::List(RunFilter {
            lab: Some(lab.to_string()),
            status: Some(RunStatus::Finished),
            limit: Some(PACE_RUNS),
            descending: true,
            ..Default::default()
        }));
    }

    /// "New sweep": per lab, its preset questions and an empty editor.
    fn new_sweep_row(&mut self, ui: &mut egui::Ui) {
        let labs: Vec<&'static LabDescriptor> = self
            .rt
            .labs
            .iter()
            .copied()
            .filter(|d| d.sweep.is_some())
            .collect();
        ui.horizontal_wrapped(|ui| {
            ui.label("New sweep:");
            for d in &labs {
                if ui
                    .button(d.title)
                    .on_hover_text(format!("An empty {} sweep", d.title))
                    .clicked()
                {
                    self.rt.editor = Some(Editor::new(d, &[]));
                    self.ask_pace(d.id);
                }
            }
        });
        let presets: Vec<_> = labs
            .iter()
            .flat_map(|d| {
                d.sweep
                    .iter()
                    .flat_map(move |h| h.presets.iter().map(move |p| (*d, p)))
            })
            .collect();
        if !presets.is_empty() {
            ui.horizontal_wrapped(|ui| {
                ui.label("Questions:");
                for (d, p) in presets {
                    // The question's first sentence on the button, all of it on hover.
                    let short = short_question(p.question);
                    if ui
                        .button(format!("{}: {short}", d.title))
                        .on_hover_text(format!(
                            "{}\n(fills in the editor; Start runs it)",
                            p.question
                        ))
                        .clicked()
                    {
                        self.rt.editor = Some(Editor::preset(d, p));
                        self.ask_pace(d.id);
                    }
                }
            });
        }
    }

    /// Starts the sweep job; the lab's parser checks everything on the job thread first.
    fn start(&mut self, s: Start, cx: &mut TabCx<'_>) {
        let Some(runs_dir) = cx.runs_dir().map(Path::to_path_buf) else {
            return;
        };
        let data_dir = cx.data_dir.clone();
        let name = format!(
            "{} sweep over {}",
            s.lab.title,
            s.vary
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(" x ")
        );
        self.rt.job = Some(cx.jobs.spawn_typed(
            KIND,
            &name,
            cx.waker.clone(),
            move |sink, stop| run_sweep(&s, &runs_dir, &data_dir, sink, stop),
        ));
        self.rt.editor = None;
        self.rt.message = None;
    }

    /// The running sweep's row (progress, time left, Stop), and the view following it.
    fn job_row(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        let Some(h) = self.rt.job else { return };
        let Some(job) = cx.jobs.get(h.id) else { return };
        if let Some(SweepStarted(id)) = job.latest::<SweepStarted>()
            && self.settings.open != Some(*id)
        {
            self.settings.open = Some(*id);
            self.rt.open = None;
            self.send(Query::Sweep(*id));
        }
        let opts = JobRow {
            label: None,
            bar_width: 200.0,
            last_log: true,
        };
        if job_row(ui, job, opts) {
            cx.jobs.stop(h.id);
        }
    }

    /// Takes the finished job's result.
    fn take_job(&mut self, cx: &mut TabCx<'_>) {
        let Some(h) = self.rt.job else { return };
        let Some(out) = cx.jobs.take(h) else { return };
        self.rt.job = None;
        self.rt.message = Some(match out {
            Ok(d) => {
                self.settings.open = Some(d.sweep_id);
                self.send(Query::Sweep(d.sweep_id));
                format!(
                    "Sweep {} done: {} trained, {} reused, in {}.",
                    d.sweep_id,
                    crate::core::runs::count_text(d.recorded, "run"),
                    d.reused,
                    sweep::duration_text(d.wall_seconds)
                )
            }
            Err(e) => format!("The sweep did not finish: {e}"),
        });
        self.send(Query::Sweeps);
    }

    /// Starts the report job once a folder is picked, and says where it went.
    fn take_report(&mut self, cx: &mut TabCx<'_>) {
        if let Some(h) = self.rt.report
            && let Some(out) = cx.jobs.take(h)
        {
            self.rt.report = None;
            self.rt.message = Some(match out {
                Ok(ReportDone(path)) => format!("Report written to {}", path.display()),
                Err(e) => format!("The report failed: {e}"),
            });
        }
        let Some(folder) = cx.files.take_picked(PICK_REPORT) else {
            return;
        };
        let (Some(dir), Some(id)) = (cx.runs_dir().map(Path::to_path_buf), self.settings.open)
        else {
            return;
        };
        let direction = self
            .rt
            .open
            .as_ref()
            .and_then(|(s, _)| self.descriptor(&s.lab)?.metric(&s.metric))
            .map_or(Direction::Neither, |m| m.direction);
        let baseline = self.settings.baseline;
        self.rt.message = Some(format!("Writing the report into {}...", folder.display()));
        self.rt.report = Some(cx.jobs.spawn_typed(
            KIND,
            "sweep report",
            cx.waker.clone(),
            move |_sink, _stop| {
                let store = crate::core::runs::RunStore::open(&dir)?;
                let s = store
                    .sweep(id)?
                    .ok_or_else(|| anyhow::anyhow!("no sweep {id} in the store"))?;
                let rows = sweep::rows(&s, &store.sweep_links(id, &s.metric)?);
                let blocks = sweep::report_blocks(
                    &s,
                    &rows,
                    direction,
                    baseline.min(rows.len().saturating_sub(1)),
                );
                // A picked folder that holds the user's files gets the report in a new folder.
                let out = crate::core::files::folder_for(&folder, "gradlab-report");
                let files = crate::core::report::write_blocks(&blocks, &out)?;
                Ok(ReportDone(files.html))
            },
        ));
    }

    /// Asks once per start about a sweep whose process ended before it finished.
    fn resume_prompt(&mut self, ctx: &egui::Context, cx: &mut TabCx<'_>) {
        if self.rt.ask_resume.is_none() && self.rt.job.is_none() {
            self.rt.ask_resume = self
                .rt
                .sweeps
                .iter()
                .find(|s| {
                    s.status == "interrupted"
                        && s.base_words.is_some()
                        && !self.settings.declined.contains(&s.id)
                })
                .map(|s| s.id);
        }
        let Some(id) = self.rt.ask_resume else { return };
        let Some(s) = self.rt.sweeps.iter().find(|s| s.id == id).cloned() else {
            return;
        };
        let mut answer = None;
        egui::Window::new("Resume the sweep?")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
            .show(ctx, |ui| {
                ui.label(format!(
                    "Sweep {} ({}, {} of {} runs done) stopped when its program ended.",
                    s.id, s.lab, s.done, s.total
                ));
                ui.weak(&s.command);
                ui.label("Resuming trains only the runs it is missing.");
                ui.horizontal(|ui| {
                    if ui.button("Resume").clicked() {
                        answer = Some(true);
                    }
                    if ui.button("Not now").clicked() {
                        answer = Some(false);
                    }
                });
            });
        match answer {
            Some(true) => {
                self.rt.ask_resume = None;
                self.resume(&s, cx);
            }
            Some(false) => {
                self.rt.ask_resume = None;
                self.settings.declined.push(id);
            }
            None => {}
        }
    }

    /// Runs a recorded sweep again: the same lab, flags and grid find it by its key.
    pub fn resume(&mut self, s: &SweepRow, cx: &mut TabCx<'_>) {
        let (Some(lab), Some((base, vary))) = (self.descriptor(&s.lab), sweep::resume_args(s))
        else {
            self.rt.message = Some(format!(
                "Sweep {} cannot be resumed from here; run its command: {}",
                s.id, s.command
            ));
            return;
        };
        self.settings.open = Some(s.id);
        self.send(Query::Sweep(s.id));
        let start = Start {
            lab,
            base,
            vary,
            jobs: sweep::default_jobs(usize::MAX),
            metric: (lab.main_metric().map(|m| m.key) != Some(s.metric.as_str()))
                .then(|| s.metric.clone()),
        };
        self.start(start, cx);
    }

    fn list(&mut self, ui: &mut egui::Ui) {
        if !self.rt.listed {
            ui.label("Reading the run store...");
            return;
        }
        if self.rt.sweeps.is_empty() {
            ui.label(
                "No sweeps yet. Click a lab above (or \"Sweep...\" in a lab, next to its train \
                 button), tick a setting and Start; `gradlab sweep` sweeps appear here too.",
            );
            return;
        }
        let mut open = None;
        egui::ScrollArea::vertical()
            .id_salt("sweeps-list")
            .max_height(130.0)
            .auto_shrink([false, true])
            .show(ui, |ui| {
                for s in &self.rt.sweeps {
                    let grid: Vec<String> = s
                        .grid
                        .iter()
                        .map(|a| format!("{} ({})", a.name, a.values.len()))
                        .collect();
                    let text = format!(
                        "#{} {} over {} · {}/{} runs · {}",
                        s.id,
                        s.lab,
                        grid.join(" x "),
                        s.done,
                        s.total,
                        s.status
                    );
                    if ui
                        .selectable_label(self.settings.open == Some(s.id), text)
                        .clicked()
                    {
                        open = Some(s.id);
                    }
                }
            });
        if let Some(id) = open {
            self.settings.open = Some(id);
            self.settings.baseline = 0;
            self.rt.open = None;
            self.rt.curves = None;
            self.send(Query::Sweep(id));
        }
    }

    /// Points read for the chosen point's curves (tests).
    #[cfg(test)]
    pub fn curve_points(&self) -> usize {
        self.rt
            .curves
            .as_ref()
            .map_or(0, |c| c.runs.values().map(|r| r.0.len()).sum())
    }

    /// The table rows of the open sweep.
    pub fn rows(&self) -> Option<(&SweepRow, Vec<PointRow>)> {
        let (s, links) = self.rt.open.as_ref()?;
        Some((s, sweep::rows(s, links)))
    }

    /// The figure the view draws for the open sweep.
    pub fn figure(&self) -> Option<Figure> {
        let (s, rows) = self.rows()?;
        Some(sweep::figure(s, &rows))
    }

    fn view(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        let Some((s, links)) = self.rt.open.clone() else {
            if self.settings.open.is_some() && self.rt.listed {
                ui.label("Reading the sweep...");
            }
            return;
        };
        let rows = sweep::rows(&s, &links);
        let lab = self.descriptor(&s.lab);
        let direction = lab
            .and_then(|d| d.metric(&s.metric))
            .map_or(Direction::Neither, |m| m.direction);
        ui.separator();
        ui.horizontal_wrapped(|ui| {
            ui.strong(format!(
                "Sweep {}: {} over {}",
                s.id,
                lab.map_or(s.lab.as_str(), |d| d.title),
                s.grid
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" x ")
            ));
            ui.label(format!("· {}/{} runs · {}", s.done, s.total, s.status));
            let resumable = s.status != "running" && s.done < s.total && self.rt.job.is_none();
            if resumable && ui.button("Resume this sweep").clicked() {
                self.resume(&s, cx);
            }
            if ui
                .add_enabled(self.rt.report.is_none(), egui::Button::new("Report..."))
                .on_hover_text(
                    "The grid, the figure, the table with verdicts against the baseline and the \
                     command, as HTML and Markdown in a folder you pick",
                )
                .clicked()
            {
                cx.files.pick(PICK_REPORT, true, None);
            }
        });
        ui.horizontal(|ui| {
            ui.weak("Reproduce:");
            ui.add(egui::Label::new(egui::RichText::new(&s.command).monospace()).truncate())
                .on_hover_text(&s.command);
        });
        let chosen = self.rt.curves.as_ref().map(|c| c.point);
        let asked = view::show(
            ui,
            &s,
            &rows,
            direction,
            &mut self.settings.baseline,
            &mut self.settings.heat,
            chosen,
            &cx.saver(),
        );
        if let Some(k) = asked.point {
            self.choose_point(k, &rows, lab);
        }
        self.point_curves(ui, &rows, cx);
    }

    /// Reads the curves of the runs of point `k` (the lab's first curve).
    fn choose_point(&mut self, k: usize, rows: &[PointRow], lab: Option<&'static LabDescriptor>) {
        let Some(key) = lab
            .and_then(|d| d.curves.first())
            .map(|m| m.key.to_string())
        else {
            self.rt.message = Some("This lab records no curves; its table is all there is.".into());
            return;
        };
        let runs = rows
            .get(k)
            .map(|r| r.run_ids.iter().map(|&id| (id, (Vec::new(), 0))).collect())
            .unwrap_or_default();
        self.rt.curves = Some(PointCurves {
            point: k,
            key,
            runs,
        });
        self.refresh_curves();
    }

    fn refresh_curves(&self) {
        let Some(c) = &self.rt.curves else { return };
        for (&run, (_, cursor)) in &c.runs {
            self.send(Query::Series {
                run,
                keys: vec![c.key.clone()],
                cursors: vec![*cursor],
            });
        }
    }

    fn point_curves(&mut self, ui: &mut egui::Ui, rows: &[PointRow], cx: &mut TabCx<'_>) {
        let Some(c) = &self.rt.curves else { return };
        let Some(row) = rows.get(c.point) else { return };
        let curves: Vec<(String, Vec<[f64; 2]>)> = row
            .run_ids
            .iter()
            .filter_map(|id| {
                let (pts, _) = c.runs.get(id)?;
                Some((
                    format!("run {id}"),
                    pts.iter().map(|p| [p.step, p.value]).collect(),
                ))
            })
            .collect();
        let label = row.label();
        let mut fig = Figure::new("", "epoch", &format!("{} at {label}", c.key));
        fig.series = seed_group(&label, identity_color(&label, &label), &curves);
        ui.horizontal(|ui| {
            ui.strong(format!("Curves of {label}"));
            if ui.small_button("Close").clicked() {
                self.rt.curves = None;
            }
        });
        figure_plot(ui, "sweep-point-curves", &fig, 220.0, &cx.saver());
    }
}

/// A question's first sentence, cut at a word near 60 characters.
fn short_question(q: &str) -> String {
    let first = q.split_inclusive('?').next().unwrap_or(q);
    if first.chars().count() <= 64 {
        return first.to_string();
    }
    let cut: String = first.chars().take(60).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a);
    format!("{cut}…?")
}

/// The job: checks the sweep with the lab's parser, then runs it (resuming it when the store
/// has it), telling the tab its id and progress.
fn run_sweep(
    s: &Start,
    runs_dir: &Path,
    data_dir: &Path,
    sink: &mut dyn crate::core::Sink,
    stop: &crate::core::StopFlag,
) -> anyhow::Result<SweepDone> {
    let p = sweep::prepare(s.lab, &s.base, &s.vary, data_dir)?;
    let p = match &s.metric {
        Some(m) => p.with_metric(m)?,
        None => p,
    };
    let command = p.command();
    let mut told = false;
    let out = sweep::run(&p, runs_dir, &command, Some(s.jobs), stop, &mut |pr| {
        if !told {
            sink.payload(Box::new(SweepStarted(pr.sweep_id)));
            told = true;
        }
        sink.progress(pr.done as u64, pr.total as u64);
        sink.log(pr.line);
    })?;
    Ok(SweepDone {
        sweep_id: out.sweep_id,
        recorded: out.recorded,
        reused: out.reused,
        wall_seconds: out.wall_seconds,
    })
}
