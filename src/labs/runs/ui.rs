//! The Runs tab. Every store access goes through a [`StoreReader`] (its own thread): the UI
//! thread only sends queries and drains replies, so a slow or locked store never freezes a
//! frame, and a store that cannot be opened is a message, not a crash.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use eframe::egui;
use serde::{Deserialize, Serialize};

use super::figure::overlay;
use crate::core::Summary;
use crate::core::jobs::{JobHandle, JobOutput};
use crate::core::report::{Selection, meta_now, report_run, select, write_report};
use crate::core::runs::{
    self, ConfigGroup, Facets, Point, Purged, Query, Reply, RunDetail, RunFilter, RunId, RunRow,
    RunStatus, RunStore, SeriesChunk, SortBy, StoreReader, group_rows,
};
use crate::labs::lab::{Lab, LabDescriptor, load_ron, save_ron};
use crate::widgets::plot::figure_plot;
use crate::widgets::{TabCx, labeled_combo};

const KIND: &str = "runs";
pub(super) const PICK_REPORT: &str = "runs-report";
const ROW_HEIGHT: f32 = 22.0;
/// Runs a report covers when none is selected.
const REPORT_LAST: usize = 20;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sort {
    #[default]
    Started,
    Name,
    Main,
    /// The summary figure in [`RunsSettings::figure`].
    Figure,
}

/// What survives a restart: the filters, the sort and the plotted metric.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunsSettings {
    pub text: String,
    pub lab: Option<String>,
    pub status: Option<RunStatus>,
    pub tag: String,
    pub model: Option<String>,
    pub dataset: Option<String>,
    pub sort: Sort,
    /// The summary figure sorted by when `sort` is [`Sort::Figure`].
    pub figure: String,
    pub ascending: bool,
    pub trash: bool,
    pub metric: String,
    /// The ticked runs (their curves are overlaid), kept across restarts.
    pub ticked: Vec<RunId>,
}

impl RunsSettings {
    pub fn filter(&self) -> RunFilter {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        RunFilter {
            lab: self.lab.clone(),
            status: self.status,
            tag: some(&self.tag),
            text: some(&self.text),
            model: self.model.clone(),
            dataset: self.dataset.clone(),
            trash: self.trash,
            sort: match self.sort {
                Sort::Started => SortBy::Started,
                Sort::Name => SortBy::Name,
                Sort::Main => SortBy::Main,
                Sort::Figure if self.figure.is_empty() => SortBy::Main,
                Sort::Figure => SortBy::Summary(self.figure.clone()),
            },
            descending: !self.ascending,
            ..Default::default()
        }
    }
}

/// One line of the list: a configuration with several runs, or one run.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Line {
    Group(usize),
    Run(usize),
}

/// A metric series of a run as far as it has been read, and where to read on.
#[derive(Default)]
struct Curve {
    metric: String,
    points: Vec<Point>,
    cursor: i64,
}

/// A written report, handed back by its job.
pub struct ReportDone(pub PathBuf, pub usize);

impl JobOutput for ReportDone {
    fn summary(&self) -> Summary {
        serde_json::json!({ "report": self.0.display().to_string(), "runs": self.1 })
    }
}

#[derive(Default)]
pub struct Runtime {
    /// The app's labs as they describe themselves (titles, which curve to plot first).
    labs: Vec<&'static LabDescriptor>,
    reader: Option<StoreReader>,
    reader_dir: Option<PathBuf>,
    /// Why the store cannot be used (shown instead of the list).
    pub unavailable: Option<String>,
    pub rows: Vec<RunRow>,
    pub groups: Vec<ConfigGroup>,
    /// What the filters and the sort offer.
    pub facets: Facets,
    lines: Vec<Line>,
    /// A list reply has arrived since the reader started.
    pub listed: bool,
    sent_filter: Option<RunFilter>,
    pub selected: BTreeSet<RunId>,
    curves: HashMap<RunId, Curve>,
    /// Series keys of selected runs (from their details).
    keys: HashMap<RunId, Vec<String>>,
    pub focused: Option<RunId>,
    pub detail: Option<RunDetail>,
    name_edit: String,
    notes_edit: String,
    tag_edit: String,
    /// Runs deleted by this tab, newest last: what "Undo" restores.
    pub undo: Vec<RunId>,
    confirm_purge: bool,
    pub message: Option<String>,
    report: Option<JobHandle<ReportDone>>,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunsTab {
    pub settings: RunsSettings,
    #[serde(skip)]
    pub rt: Runtime,
}

impl Lab for RunsTab {
    fn id(&self) -> &'static str {
        "runs"
    }
    fn title(&self) -> &'static str {
        "Runs"
    }
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        self.rt.labs = cx.labs.to_vec();
        self.connect(ui.ctx(), cx.runs_dir());
        self.poll();
        self.take_report(cx);
        let Some(dir) = cx.runs_dir().map(Path::to_path_buf) else {
            ui.label(
                "Runs are not recorded: this system has no data folder. Start gradlab with \
                 --runs-dir DIR or set GRADLAB_RUNS.",
            );
            return;
        };
        if let Some(why) = &self.rt.unavailable {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("The run store cannot be used: {why}"),
            );
            ui.label(format!(
                "Training still works; its runs are not recorded. The store is at {} and is left untouched.",
                dir.display()
            ));
            return;
        }
        ui.horizontal_wrapped(|ui| {
            ui.weak(format!("Store: {}", dir.display()));
            if let Some(m) = self.rt.message.clone() {
                ui.separator();
                ui.label(m);
            }
        });
        self.toolbar(ui, cx);
        self.filters(ui);
        ui.separator();
        self.list(ui);
        ui.separator();
        self.plot(ui, cx);
        self.details(ui);
    }
    fn save_state(&self) -> Option<String> {
        let mut s = self.settings.clone();
        s.ticked = self.rt.selected.iter().copied().collect();
        save_ron(&s)
    }
    fn load_state(&mut self, text: &str) -> Result<(), String> {
        load_ron(text, &mut self.settings)?;
        self.rt.selected = self.settings.ticked.iter().copied().collect();
        Ok(())
    }
}

impl RunsTab {
    /// Starts (or restarts, when the folder changed) the reader thread.
    fn connect(&mut self, ctx: &egui::Context, dir: Option<&Path>) {
        if self.rt.reader_dir.as_deref() == dir && (self.rt.reader.is_some() || dir.is_none()) {
            return;
        }
        // The first connection keeps the ticks restored from the settings; another folder
        // starts afresh.
        let first = self.rt.reader_dir.is_none();
        let ticked = std::mem::take(&mut self.rt.selected);
        self.rt = Runtime::default();
        let Some(dir) = dir else { return };
        let ctx = ctx.clone();
        self.rt.reader = Some(StoreReader::spawn(dir.to_path_buf(), move || {
            ctx.request_repaint()
        }));
        self.rt.reader_dir = Some(dir.to_path_buf());
        if first {
            for id in ticked {
                self.set_selected(id, true);
            }
        }
    }

    fn send(&self, q: Query) {
        if let Some(r) = &self.rt.reader {
            r.send(q);
        }
    }

    fn refresh_list(&mut self) {
        let f = self.settings.filter();
        self.send(Query::List(f.clone()));
        // What the filters offer depends on the lab alone (and on commits, see Changed), not on
        // each keystroke in the name field.
        if self.rt.sent_filter.as_ref().map(|s| &s.lab) != Some(&f.lab) {
            self.send(Query::Facets(f.lab.clone()));
        }
        self.rt.sent_filter = Some(f);
    }

    /// Asks for the points of the plotted metric each selected run recorded since last time.
    fn refresh_curves(&mut self) {
        let metric = self.settings.metric.clone();
        for &id in &self.rt.selected {
            let c = self.rt.curves.entry(id).or_default();
            if c.metric != metric {
                *c = Curve {
                    metric: metric.clone(),
                    ..Default::default()
                };
            }
            if !metric.is_empty() {
                let q = Query::Series {
                    run: id,
                    keys: vec![metric.clone()],
                    cursors: vec![c.cursor],
                };
                if let Some(r) = &self.rt.reader {
                    r.send(q);
                }
            }
        }
    }

    /// Drains the reader's replies.
    pub fn poll(&mut self) {
        let replies = match &self.rt.reader {
            Some(r) => r.poll(),
            None => return,
        };
        if self.rt.sent_filter.as_ref() != Some(&self.settings.filter())
            && self.rt.unavailable.is_none()
        {
            self.refresh_list();
        }
        for reply in replies {
            match reply {
                Reply::Unavailable(why) => self.rt.unavailable = Some(why),
                Reply::List(rows) => self.set_rows(rows),
                Reply::Groups(_) => {}
                Reply::Facets(f) => self.rt.facets = f,
                Reply::Run(id, d) => self.take_detail(id, d),
                Reply::Series { run, series } => {
                    for chunk in series {
                        self.apply_chunk(run, chunk);
                    }
                }
                Reply::Done(q) => self.done(q),
                Reply::Purged(p) => {
                    self.rt.undo.clear();
                    self.rt.message = Some(purged_text(&p));
                    self.refresh_list();
                }
                Reply::Error(e) => self.rt.message = Some(format!("Run store: {e}")),
                Reply::Sweeps(_) | Reply::Sweep(..) => {}
                Reply::Changed => {
                    // The reader re-lists by itself; the curves, the open run and what the
                    // filters offer grow here.
                    self.refresh_curves();
                    self.send(Query::Facets(self.settings.lab.clone()));
                    if let Some(id) = self.rt.focused {
                        self.send(Query::Run(id));
                    }
                }
            }
        }
    }

    /// Adds points read for a plotted curve. A chunk read from another cursor was already
    /// applied by an earlier reply (two queries were in flight), or belongs to another metric:
    /// adding it would draw points twice, the line jumping back to the start.
    fn apply_chunk(&mut self, run: RunId, chunk: SeriesChunk) {
        if let Some(c) = self.rt.curves.get_mut(&run)
            && chunk.key == c.metric
            && chunk.from == c.cursor
        {
            c.points.extend(chunk.points);
            c.cursor = chunk.next;
        }
    }

    fn set_rows(&mut self, rows: Vec<RunRow>) {
        self.rt.listed = true;
        self.rt.groups = group_rows(&rows);
        let index: HashMap<RunId, usize> =
            rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        self.rt.lines.clear();
        for (g, group) in self.rt.groups.iter().enumerate() {
            if group.run_ids.len() > 1 {
                self.rt.lines.push(Line::Group(g));
            }
            self.rt.lines.extend(
                group
                    .run_ids
                    .iter()
                    .filter_map(|id| index.get(id))
                    .map(|&i| Line::Run(i)),
            );
        }
        self.rt.rows = rows;
    }

    fn take_detail(&mut self, id: RunId, d: Option<Box<RunDetail>>) {
        let Some(d) = d else {
            return;
        };
        self.rt
            .keys
            .insert(id, d.series.iter().map(|s| s.key.clone()).collect());
        if self.settings.metric.is_empty()
            && let Some(k) = preferred_metric(&self.rt.keys, &self.rt.labs)
        {
            self.settings.metric = k;
            self.refresh_curves();
        }
        if self.rt.focused == Some(id) {
            let fresh = self.rt.detail.as_ref().map(|x| x.row.id) != Some(id);
            if fresh {
                self.rt.name_edit = d.row.name.clone();
                self.rt.notes_edit = d.notes.clone();
            }
            self.rt.detail = Some(*d);
        }
    }

    fn done(&mut self, q: Query) {
        match q {
            Query::Delete(id) => {
                self.rt.undo.push(id);
                self.rt.selected.remove(&id);
                self.rt.message = Some(format!("Run {id} moved to the trash."));
                if self.rt.focused == Some(id) {
                    self.rt.focused = None;
                    self.rt.detail = None;
                }
            }
            Query::Restore(id) => self.rt.message = Some(format!("Run {id} restored.")),
            _ => {
                if let Some(id) = self.rt.focused {
                    self.send(Query::Run(id));
                }
            }
        }
        self.refresh_list();
    }

    /// Selects or unselects a run, as its checkbox does.
    pub fn set_selected(&mut self, id: RunId, on: bool) {
        if on {
            self.rt.selected.insert(id);
            self.send(Query::Run(id));
            self.refresh_curves();
        } else {
            self.rt.selected.remove(&id);
            self.rt.curves.remove(&id);
        }
    }

    /// The figure the plot draws: the chosen metric of the selected runs.
    pub fn figure(&self) -> crate::core::figures::Figure {
        let runs: Vec<(&RunRow, &[Point])> = self
            .rt
            .rows
            .iter()
            .filter(|r| self.rt.selected.contains(&r.id))
            .map(|r| {
                let pts = self
                    .rt
                    .curves
                    .get(&r.id)
                    .map(|c| c.points.as_slice())
                    .unwrap_or(&[]);
                (r, pts)
            })
            .collect();
        overlay(&self.settings.metric, &runs)
    }

    /// Moves a run to the trash (Undo restores it).
    pub fn delete(&mut self, id: RunId) {
        self.send(Query::Delete(id));
    }

    /// Restores the run deleted last.
    pub fn undo(&mut self) {
        if let Some(id) = self.rt.undo.pop() {
            self.send(Query::Restore(id));
        }
    }

    fn toolbar(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        ui.horizontal_wrapped(|ui| {
            let busy = self.rt.report.is_some();
            let what = if self.rt.selected.is_empty() {
                format!("Report (last {REPORT_LAST})")
            } else {
                format!("Report ({} selected)", self.rt.selected.len())
            };
            if ui
                .add_enabled(!busy, egui::Button::new(what))
                .on_hover_text("Writes report.html, report.md and figures/ into a folder you pick")
                .clicked()
            {
                cx.files.pick(PICK_REPORT, true, None);
            }
            if let Some(&id) = self.rt.undo.last()
                && ui.button(format!("Undo delete of run {id}")).clicked()
            {
                self.undo();
            }
            if self.settings.trash {
                if self.rt.confirm_purge {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        "Delete every run in the trash and its files for good?",
                    );
                    if ui.button("Yes, purge").clicked() {
                        self.send(Query::Purge);
                        self.rt.confirm_purge = false;
                    }
                    if ui.button("Cancel").clicked() {
                        self.rt.confirm_purge = false;
                    }
                } else if ui.button("Purge trash...").clicked() {
                    self.rt.confirm_purge = true;
                }
            }
            if !self.rt.selected.is_empty() && ui.button("Clear selection").clicked() {
                self.rt.selected.clear();
                self.rt.curves.clear();
            }
        });
    }

    fn filters(&mut self, ui: &mut egui::Ui) {
        let s = &mut self.settings;
        ui.horizontal_wrapped(|ui| {
            crate::widgets::labeled(
                ui,
                "Name",
                egui::TextEdit::singleline(&mut s.text).desired_width(120.0),
            );
            labeled_combo(
                ui,
                "Lab",
                s.lab.clone().unwrap_or_else(|| "all".into()),
                |ui| {
                    ui.selectable_value(&mut s.lab, None, "all");
                    for l in &self.rt.facets.labs {
                        let title = self
                            .rt
                            .labs
                            .iter()
                            .find(|d| d.id == l)
                            .map_or(l.as_str(), |d| d.title);
                        ui.selectable_value(&mut s.lab, Some(l.clone()), title);
                    }
                },
            );
            labeled_combo(
                ui,
                "Status",
                s.status.map(|x| x.as_str()).unwrap_or("all"),
                |ui| {
                    ui.selectable_value(&mut s.status, None, "all");
                    for st in RunStatus::ALL {
                        ui.selectable_value(&mut s.status, Some(st), st.as_str());
                    }
                },
            );
            crate::widgets::labeled(
                ui,
                "Tag",
                egui::TextEdit::singleline(&mut s.tag).desired_width(70.0),
            );
            let facets = &self.rt.facets;
            any_of(ui, "Model", &mut s.model, &facets.models);
            any_of(ui, "Dataset", &mut s.dataset, &facets.datasets);
            let sort_text = match s.sort {
                Sort::Started => "started".to_string(),
                Sort::Name => "name".to_string(),
                Sort::Main => "main figure".to_string(),
                Sort::Figure => s.figure.clone(),
            };
            labeled_combo(ui, "Sort", sort_text, |ui| {
                ui.selectable_value(&mut s.sort, Sort::Started, "started");
                ui.selectable_value(&mut s.sort, Sort::Name, "name");
                ui.selectable_value(&mut s.sort, Sort::Main, "main figure");
                for k in &facets.figures {
                    let on = s.sort == Sort::Figure && s.figure == *k;
                    if ui.selectable_label(on, k).clicked() {
                        s.sort = Sort::Figure;
                        s.figure = k.clone();
                    }
                }
            });
            ui.checkbox(&mut s.ascending, "ascending");
            ui.checkbox(&mut s.trash, "trash");
        });
    }

    fn list(&mut self, ui: &mut egui::Ui) {
        if !self.rt.listed {
            ui.label("Reading the run store...");
            return;
        }
        if self.rt.rows.is_empty() {
            let f = self.settings.filter();
            let filtered = f.lab.is_some()
                || f.status.is_some()
                || f.tag.is_some()
                || f.text.is_some()
                || f.model.is_some()
                || f.dataset.is_some();
            if filtered && !self.settings.trash {
                ui.horizontal_wrapped(|ui| {
                    ui.label("No run matches these filters.");
                    if ui.button("Clear the filters").clicked() {
                        let keep = (self.settings.metric.clone(), self.settings.sort);
                        self.settings = RunsSettings {
                            metric: keep.0,
                            sort: keep.1,
                            ..RunsSettings::default()
                        };
                    }
                });
            } else {
                ui.label(if self.settings.trash {
                    "The trash is empty."
                } else {
                    "No runs yet. Train in any lab (or run a gradlab command) and it appears here."
                });
            }
            return;
        }
        ui.label(format!(
            "{} in {}",
            runs::count_text(self.rt.rows.len(), "run"),
            runs::count_text(self.rt.groups.len(), "configuration")
        ));
        let lines = std::mem::take(&mut self.rt.lines);
        egui::ScrollArea::vertical()
            .id_salt("runs-list")
            // With runs ticked the plot needs the room: at 1366 x 768 both fit on one screen.
            .max_height(if self.rt.selected.is_empty() {
                420.0
            } else {
                200.0
            })
            .auto_shrink([false, true])
            .show_rows(ui, ROW_HEIGHT, lines.len(), |ui, range| {
                for line in &lines[range] {
                    match *line {
                        Line::Group(g) => self.group_line(ui, g),
                        Line::Run(i) => self.run_line(ui, i),
                    }
                }
            });
        self.rt.lines = lines;
    }

    fn group_line(&mut self, ui: &mut egui::Ui, g: usize) {
        let Some(group) = self.rt.groups.get(g) else {
            return;
        };
        let ids = group.run_ids.clone();
        let name = format!("select the runs of {}", group.name);
        let all = ids.iter().all(|id| self.rt.selected.contains(id));
        let label = format!(
            "{} · {} {} · {} runs",
            group.name,
            group.main_metric.as_deref().unwrap_or("main"),
            group.mean_std_text(),
            ids.len()
        );
        ui.horizontal(|ui| {
            let mut on = all;
            if named_checkbox(ui, &mut on, name)
                .on_hover_text("Select every run of this configuration")
                .changed()
            {
                for id in ids {
                    self.set_selected(id, on);
                }
            }
            ui.strong(label);
        });
    }

    fn run_line(&mut self, ui: &mut egui::Ui, i: usize) {
        let Some(r) = self.rt.rows.get(i) else {
            return;
        };
        let (id, in_group) = (
            r.id,
            self.rt
                .groups
                .iter()
                .any(|g| g.run_ids.len() > 1 && g.run_ids.contains(&r.id)),
        );
        let main = match (&r.main_metric, r.main_value) {
            (Some(k), Some(v)) => format!("{k} {}", runs::figure_text(v)),
            _ => match (r.progress_done, r.progress_total) {
                (Some(d), Some(t)) if t > 0 => format!("{d}/{t}"),
                _ => String::new(),
            },
        };
        let text = format!(
            "#{id} {} · {} · {} · {}{}",
            r.name,
            r.lab,
            r.status,
            main,
            if r.tags.is_empty() {
                String::new()
            } else {
                format!(" · [{}]", r.tags.join(", "))
            }
        );
        let text = match (r.sort_value, &self.settings.sort) {
            (Some(v), Sort::Figure) => {
                format!("{text} · {} {}", self.settings.figure, runs::figure_text(v))
            }
            _ => text,
        };
        let status = r.status;
        ui.horizontal(|ui| {
            if in_group {
                ui.add_space(18.0);
            }
            let mut on = self.rt.selected.contains(&id);
            if named_checkbox(ui, &mut on, format!("select run {id}")).changed() {
                self.set_selected(id, on);
            }
            let color = match status {
                RunStatus::Failed | RunStatus::Diverged => Some(ui.visuals().error_fg_color),
                RunStatus::Interrupted | RunStatus::Stopped => Some(ui.visuals().warn_fg_color),
                _ => None,
            };
            let mut rt = egui::RichText::new(text);
            if let Some(c) = color {
                rt = rt.color(c);
            }
            if ui
                .selectable_label(self.rt.focused == Some(id), rt)
                .clicked()
            {
                self.focus(id);
            }
        });
    }

    /// Opens a run's details (rename, tag, notes, delete).
    pub fn focus(&mut self, id: RunId) {
        self.rt.focused = Some(id);
        self.rt.detail = None;
        self.send(Query::Run(id));
    }

    fn plot(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        if self.rt.selected.is_empty() {
            ui.weak("Tick runs to overlay their curves; runs of one configuration draw as one mean ± std band.");
            return;
        }
        let mut keys: Vec<String> = self
            .rt
            .selected
            .iter()
            .filter_map(|id| self.rt.keys.get(id))
            .flatten()
            .cloned()
            .collect();
        keys.sort();
        keys.dedup();
        let before = self.settings.metric.clone();
        egui::ComboBox::from_label("Metric")
            .selected_text(before.clone())
            .show_ui(ui, |ui| {
                for k in &keys {
                    ui.selectable_value(&mut self.settings.metric, k.clone(), k);
                }
            });
        if self.settings.metric != before {
            self.refresh_curves();
        }
        let fig = self.figure();
        // What is left of the screen, less the plot's toolbar and axis label.
        let height = (ui.available_height() - 90.0).clamp(220.0, 480.0);
        figure_plot(ui, "runs-overlay", &fig, height, &cx.saver());
    }

    fn details(&mut self, ui: &mut egui::Ui) {
        let Some(d) = &self.rt.detail else {
            return;
        };
        let id = d.row.id;
        ui.separator();
        ui.strong(format!("Run {id}: {} ({})", d.row.name, d.row.status));
        ui.label(format!("Reproduce: {}", d.command));
        if let Some(e) = &d.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        for a in d.missing_artifacts() {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "missing file {}: {}",
                    a.name,
                    a.missing.as_deref().unwrap_or("")
                ),
            );
        }
        let tags = d.row.tags.clone();
        let deleted = d.row.deleted;
        let mut queries = Vec::new();
        ui.horizontal(|ui| {
            crate::widgets::labeled(
                ui,
                "Name",
                egui::TextEdit::singleline(&mut self.rt.name_edit),
            );
            if ui.button("Rename").clicked() {
                queries.push(Query::SetName(id, self.rt.name_edit.clone()));
            }
        });
        ui.horizontal_wrapped(|ui| {
            for t in &tags {
                if ui
                    .small_button(format!("{t} ✕"))
                    .on_hover_text("Remove this tag")
                    .clicked()
                {
                    queries.push(Query::RemoveTag(id, t.clone()));
                }
            }
            crate::widgets::labeled(
                ui,
                "Tag",
                egui::TextEdit::singleline(&mut self.rt.tag_edit).desired_width(80.0),
            );
            if ui.button("Add tag").clicked() && !self.rt.tag_edit.trim().is_empty() {
                queries.push(Query::AddTag(id, self.rt.tag_edit.trim().to_string()));
                self.rt.tag_edit.clear();
            }
        });
        ui.label("Notes");
        ui.add(egui::TextEdit::multiline(&mut self.rt.notes_edit).desired_rows(3));
        ui.horizontal(|ui| {
            if ui.button("Save notes").clicked() {
                queries.push(Query::SetNotes(id, self.rt.notes_edit.clone()));
            }
            if deleted {
                if ui.button("Restore").clicked() {
                    queries.push(Query::Restore(id));
                }
            } else if ui.button("Delete (to trash)").clicked() {
                queries.push(Query::Delete(id));
            }
        });
        for q in queries {
            self.send(q);
        }
    }

    /// Starts the report job once a folder is picked, and says where it went.
    fn take_report(&mut self, cx: &mut TabCx<'_>) {
        if let Some(h) = self.rt.report
            && let Some(out) = cx.jobs.take(h)
        {
            self.rt.report = None;
            self.rt.message = Some(match out {
                Ok(ReportDone(path, n)) => {
                    format!("Report of {n} run(s) written to {}", path.display())
                }
                Err(e) => format!("The report failed: {e}"),
            });
        }
        let Some(folder) = cx.files.take_picked(PICK_REPORT) else {
            return;
        };
        let Some(dir) = cx.runs_dir().map(Path::to_path_buf) else {
            return;
        };
        let ids: Vec<RunId> = self.rt.selected.iter().copied().collect();
        let labs = cx.labs.to_vec();
        self.rt.message = Some(format!("Writing the report into {}...", folder.display()));
        self.rt.report = Some(cx.jobs.spawn_typed(
            KIND,
            "report",
            cx.waker.clone(),
            move |_sink, _stop| write_report_job(&dir, ids, &folder, labs),
        ));
    }
}

/// The report job: the selected runs (or the last [`REPORT_LAST`]) into `out`, off the UI thread.
pub fn write_report_job(
    runs_dir: &Path,
    ids: Vec<RunId>,
    out: &Path,
    labs: Vec<&'static LabDescriptor>,
) -> anyhow::Result<ReportDone> {
    let store = RunStore::open(runs_dir)?;
    let sel = Selection {
        last: ids.is_empty().then_some(REPORT_LAST),
        ids,
        lab: None,
    };
    let ids = select(&store, &sel)?;
    let runs = ids
        .iter()
        .map(|&id| report_run(&store, id))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // A picked folder that holds the user's files gets the report in a new folder inside it.
    let out = crate::core::files::folder_for(out, "gradlab-report");
    let files = write_report(&meta_now(labs), &runs, &out)?;
    Ok(ReportDone(files.html, runs.len()))
}

/// What the user is told after a purge, naming the files that were left.
pub fn purged_text(p: &Purged) -> String {
    let runs = crate::core::runs::count_text(p.ids.len(), "run");
    if p.kept.is_empty() {
        return format!("The trash was emptied ({runs} deleted for good).");
    }
    let kept: Vec<String> = p.kept.iter().map(|k| k.display().to_string()).collect();
    format!(
        "The trash was emptied ({runs} deleted for good); {} file(s) that gradlab did not write were left in place: {}",
        kept.len(),
        crate::core::files::first_few(&kept, 3)
    )
}

/// A checkbox without visible text that screen readers (and UI tests) still know by `name`.
/// A combo box of "all" and each of `values`.
fn any_of(ui: &mut egui::Ui, label: &str, chosen: &mut Option<String>, values: &[String]) {
    let shown = chosen.clone().unwrap_or_else(|| "all".into());
    labeled_combo(ui, label, shown, |ui| {
        ui.selectable_value(chosen, None, "all");
        for v in values {
            ui.selectable_value(chosen, Some(v.clone()), v);
        }
    });
}

fn named_checkbox(ui: &mut egui::Ui, on: &mut bool, name: String) -> egui::Response {
    let r = ui.checkbox(on, "");
    let checked = *on;
    r.widget_info(|| egui::WidgetInfo::selected(egui::Role::CheckBox, true, checked, &name));
    r
}

/// The metric to plot first: the first curve a lab names (its validation figure) that the runs
/// have, else the first key in alphabetical order.
fn preferred_metric(
    keys: &HashMap<RunId, Vec<String>>,
    labs: &[&'static LabDescriptor],
) -> Option<String> {
    let all: Vec<&String> = keys.values().flatten().collect();
    for want in labs.iter().flat_map(|d| d.curves) {
        if let Some(k) = all.iter().find(|k| k.as_str() == want.key) {
            return Some((*k).clone());
        }
    }
    let mut all: Vec<&String> = all;
    all.sort();
    all.first().map(|k| (*k).clone())
}

#[cfg(test)]
mod tests;
