//! The Theory tab: the seven claims on the left with their verdicts; for the selected one its
//! formulas, sliders, live plots of bound vs measured, the verdict and the counterexample.

use std::collections::{BTreeMap, HashSet};

use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::core::jobs::{JobId, JobState, Jobs};
use crate::labs::lab::{Lab, load_ron, save_ron};
use crate::labs::theory::check::Check;
use crate::labs::theory::knob::{Range, Value};
use crate::labs::theory::readable::readable;
use crate::labs::theory::{
    self, CHECKS, CheckInfo, CheckResult, Counterexample, PlotData, SuiteResult, TheoryParams,
    Verdict,
};
use crate::widgets::TabCx;
use crate::widgets::plot::{Curve, PlotSpec, curves_plot, plot_heading};

const KIND: &str = super::keys::ID;

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct TheoryTab {
    pub selected: String,
    pub params: TheoryParams,
    /// Re-run quick checks when a slider moves.
    pub auto_rerun: bool,
    #[serde(skip)]
    results: BTreeMap<String, CheckResult>,
    #[serde(skip)]
    errors: BTreeMap<String, String>,
    /// The latest job that covers each check (a single run or "Run all").
    #[serde(skip)]
    job_for: BTreeMap<String, JobId>,
    #[serde(skip)]
    harvested: HashSet<JobId>,
    /// A slider moved; re-run once the running job (if any) has finished.
    #[serde(skip)]
    dirty: bool,
    /// The checks were started once when the tab was first drawn (so the first screen shows
    /// verdicts); never again on later frames or when the tab is opened again.
    #[serde(skip)]
    autostarted: bool,
}

impl Default for TheoryTab {
    fn default() -> Self {
        Self {
            selected: CHECKS[0].info().id.to_string(),
            params: TheoryParams::default(),
            auto_rerun: true,
            results: BTreeMap::new(),
            errors: BTreeMap::new(),
            job_for: BTreeMap::new(),
            harvested: HashSet::new(),
            dirty: false,
            autostarted: false,
        }
    }
}

impl Lab for TheoryTab {
    fn id(&self) -> &'static str {
        super::keys::ID
    }
    fn title(&self) -> &'static str {
        super::DESCRIPTOR.title
    }
    fn descriptor(&self) -> Option<&'static crate::labs::lab::LabDescriptor> {
        Some(&super::DESCRIPTOR)
    }
    fn config_json(&self, _data_dir: &std::path::Path) -> Option<serde_json::Value> {
        serde_json::to_value(super::config::TheoryConfig {
            check: None,
            params: self.params.clone(),
        })
        .ok()
    }
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        self.show(ui, cx);
    }
    fn save_state(&self) -> Option<String> {
        save_ron(self)
    }
    fn train(&mut self, cx: &mut TabCx<'_>) {
        if running_job(cx.jobs).is_none() {
            self.spawn(cx, None);
        }
    }
    fn load_state(&mut self, text: &str) -> Result<(), String> {
        load_ron(text, self)
    }
}

impl TheoryTab {
    /// A tab that does not run the checks by itself on its first frame (for callers, such as
    /// tests, that press the buttons themselves).
    pub fn without_autostart() -> Self {
        TheoryTab {
            autostarted: true,
            ..Default::default()
        }
    }
}

impl TheoryTab {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        self.harvest(cx.jobs);
        let info = theory::info(&self.selected).unwrap_or(CHECKS[0].info());
        let running = running_job(cx.jobs);
        if !std::mem::replace(&mut self.autostarted, true)
            && self.results.is_empty()
            && running.is_none()
        {
            // About 3 s for all seven on 2 cores, on a worker thread: the first screen fills in
            // check by check. Recorded only when this build has not recorded these checks yet.
            self.spawn_with(cx, None, true);
        }
        let running = running_job(cx.jobs);
        if self.dirty && info.quick && self.auto_rerun && running.is_none() {
            self.dirty = false;
            self.spawn(cx, Some(info.id));
        }
        let running = running_job(cx.jobs);
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(210.0);
                self.list_ui(ui, cx, running);
            });
            ui.separator();
            ui.vertical(|ui| self.check_ui(ui, cx, info, running));
        });
    }

    /// The claims with their verdict badges, and Run all / Stop.
    fn list_ui(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>, running: Option<JobId>) {
        ui.heading("Claims");
        for c in CHECKS.iter().map(|c| c.info()) {
            ui.horizontal(|ui| {
                badge(ui, self.results.get(c.id));
                if ui
                    .selectable_label(self.selected == c.id, c.id)
                    .on_hover_text(c.title)
                    .clicked()
                {
                    self.selected = c.id.to_string();
                }
            });
        }
        ui.separator();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(running.is_none(), egui::Button::new("Run all"))
                .on_hover_text("All seven checks with their current sliders, one after the other")
                .clicked()
            {
                self.spawn(cx, None);
            }
            let check = self.selected.clone();
            crate::widgets::sweep_request::sweep_button(ui, super::keys::ID, || {
                vec!["--check".into(), check]
            });
            if let Some(id) = running
                && ui
                    .button("Stop check")
                    .on_hover_text("Stop the running theory check; what it measured so far is kept")
                    .clicked()
            {
                cx.jobs.stop(id);
            }
        });
        let passed = self
            .results
            .values()
            .filter(|r| r.verdict == Verdict::Holds)
            .count();
        if !self.results.is_empty() {
            ui.label(format!(
                "{passed} of {} checked claims hold",
                self.results.len()
            ));
        }
        ui.checkbox(&mut self.auto_rerun, "re-run quick checks on slider change");
    }

    fn check_ui(
        &mut self,
        ui: &mut egui::Ui,
        cx: &mut TabCx<'_>,
        info: &'static CheckInfo,
        running: Option<JobId>,
    ) {
        // Buttons first, so they stay on screen in small windows.
        ui.horizontal(|ui| {
            ui.heading(info.title);
            if ui
                .add_enabled(running.is_none(), egui::Button::new("Run check"))
                .clicked()
            {
                self.spawn(cx, Some(info.id));
            }
            if ui.button("Reset sliders").clicked() {
                if let Some(c) = theory::check(info.id) {
                    c.reset(&mut self.params);
                }
                self.dirty = info.quick;
            }
            if !info.quick {
                ui.weak("timing sweep: runs on Run check only");
            }
        });
        let job = self.job_for.get(info.id).and_then(|j| cx.jobs.get(*j));
        if let Some(job) = job.filter(|j| j.state.is_running()) {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.add(
                    egui::ProgressBar::new(job.fraction())
                        .desired_width(240.0)
                        .show_percentage(),
                );
                ui.label(format!("{:.1} s", job.elapsed().as_secs_f64()));
            });
        }
        if let Some(e) = self.errors.get(info.id) {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("The check failed to run: {e}"),
            );
        }
        let result = self.results.get(info.id);
        match result {
            Some(r) => verdict_ui(ui, r),
            None if job.is_some_and(|j| j.state.is_running()) => {
                ui.label("Verdict: checking…");
            }
            None => {
                ui.label("Verdict: not checked yet (press Run check)");
            }
        }
        ui.separator();
        ui.label(info.claim);
        ui.add_space(4.0);
        ui.label(egui::RichText::new(info.formulas).monospace());
        ui.add_space(4.0);
        if let Some(c) = theory::check(info.id)
            && params_ui(ui, c, &mut self.params)
            && info.quick
        {
            self.dirty = true;
        }
        ui.separator();
        // Live curves while the job runs, the result's curves afterwards.
        let live = job
            .filter(|j| j.state.is_running())
            .map(|j| live_plots(info, &j.metrics));
        let plots: Vec<PlotData> = match (live, result) {
            (Some(p), _) => p,
            (None, Some(r)) => r.plots.clone(),
            (None, None) => Vec::new(),
        };
        let saver = cx.saver();
        for p in &plots {
            let curves: Vec<Curve<'_>> = p
                .curves
                .iter()
                .enumerate()
                .map(|(i, (n, pts))| {
                    Curve::new(n.clone(), pts)
                        .color(crate::widgets::PALETTE[i % crate::widgets::PALETTE.len()])
                })
                .collect();
            let id = format!("theory_{}_{}", info.id, p.key);
            let spec = PlotSpec::new(&id, &p.x_label, &p.y_label)
                .title(&p.title)
                .log_x(p.log_x)
                .log_y(p.log_y)
                .height(230.0);
            // One heading per plot: the plot heads itself with the title when the title names
            // its y label; otherwise the title goes above the y label it does not repeat.
            if plot_heading(&spec.figure(&[])) != p.title {
                ui.label(egui::RichText::new(&p.title).strong());
            }
            curves_plot(ui, &spec, &curves, &saver);
        }
        if let Some(r) = result {
            details_ui(ui, r);
        }
    }

    fn spawn(&mut self, cx: &mut TabCx<'_>, only: Option<&'static str>) {
        self.spawn_with(cx, only, false);
    }

    /// Starts the checks (`only` one, or all). `once_per_build`: not recorded when the store
    /// already holds a finished run of the same checks with the same sliders from this build
    /// (the start-up run would otherwise add one at every start).
    fn spawn_with(&mut self, cx: &mut TabCx<'_>, only: Option<&'static str>, once_per_build: bool) {
        let params = self.params.clone();
        let name = only.unwrap_or("all checks");
        let runs = cx.runs_dir().map(std::path::Path::to_path_buf);
        let id = cx
            .jobs
            .spawn(KIND, name, cx.waker.clone(), move |sink, stop| {
                // Recorded as a run, the store opened on the job thread (never the UI's).
                let store = crate::core::runs::open_for_job(runs.as_deref(), sink);
                let config = super::config::TheoryConfig {
                    check: only.map(str::to_string),
                    params,
                };
                let command = match only {
                    Some(id) => format!("gradlab theory --check {id}"),
                    None => "gradlab theory".to_string(),
                };
                let known = once_per_build
                    && store.as_ref().is_some_and(|s| {
                        let key = crate::core::runs::config_key(
                            super::keys::ID,
                            None,
                            None,
                            &serde_json::to_value(&config).unwrap_or_default(),
                        );
                        s.recorded_by_this_build(&key).unwrap_or(false)
                    });
                let rec = crate::core::runs::RecordTo {
                    store: if known { None } else { store.as_ref() },
                    command: &command,
                };
                super::cli::run_all_recorded(&config, rec, sink, stop)
            });
        let ids: Vec<&str> = match only {
            Some(i) => vec![i],
            None => theory::ids(),
        };
        for i in ids {
            self.job_for.insert(i.to_string(), id);
            self.errors.remove(i);
        }
    }

    /// Takes the results of theory jobs: each check's as soon as it is done (the suite sends
    /// its results so far after every check), and the whole of a job once it has ended.
    fn harvest(&mut self, jobs: &Jobs) {
        for job in jobs
            .iter()
            .filter(|j| j.kind == KIND && j.state.is_running())
        {
            if let Some(SuiteResult(rs)) = job.latest::<SuiteResult>() {
                for r in rs {
                    if self.results.get(&r.id) != Some(r) {
                        self.results.insert(r.id.clone(), r.clone());
                    }
                }
            }
        }
        let ended: Vec<JobId> = jobs
            .iter()
            .filter(|j| j.kind == KIND && !j.state.is_running() && !self.harvested.contains(&j.id))
            .map(|j| j.id)
            .collect();
        for job in ended.into_iter().filter_map(|id| jobs.get(id)) {
            self.harvested.insert(job.id);
            if let Some(SuiteResult(rs)) = job.latest::<SuiteResult>() {
                for r in rs {
                    self.results.insert(r.id.clone(), r.clone());
                }
            } else if let Some(r) = job.latest::<CheckResult>() {
                self.results.insert(r.id.clone(), r.clone());
            }
            if let JobState::Failed(msg) = &job.state {
                for (id, j) in &self.job_for {
                    if *j == job.id {
                        self.errors.insert(id.clone(), msg.clone());
                    }
                }
            }
        }
    }
}

fn running_job(jobs: &Jobs) -> Option<JobId> {
    jobs.iter()
        .find(|j| j.kind == KIND && j.state.is_running())
        .map(|j| j.id)
}

/// Mark and colour of a verdict: √ green, × orange, ? grey.
fn verdict_mark(v: Verdict) -> (&'static str, egui::Color32) {
    match v {
        Verdict::Holds => ("√", egui::Color32::from_rgb(0, 158, 115)),
        Verdict::Fails => ("×", egui::Color32::from_rgb(213, 94, 0)),
        Verdict::Inconclusive => ("?", egui::Color32::GRAY),
    }
}

/// √ / × / ? / · before a claim's id.
fn badge(ui: &mut egui::Ui, r: Option<&CheckResult>) {
    match r {
        Some(r) => {
            let (m, col) = verdict_mark(r.verdict);
            ui.colored_label(col, m)
        }
        None => ui.weak("·"),
    };
}

/// Every condition with its own verdict, so a claim that holds under one convention and fails
/// under another shows both.
fn conditions_ui(ui: &mut egui::Ui, r: &CheckResult) {
    for c in &r.conditions {
        let (m, col) = verdict_mark(c.verdict);
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(col, format!("{m} {}", c.verdict.label()));
            ui.label(format!(
                "{}{}: worst {:.3e} (tolerance {}) over {} trials",
                if c.stated { "" } else { "variant: " },
                c.condition,
                c.worst,
                c.tolerance,
                c.trials
            ));
        });
    }
}

fn verdict_ui(ui: &mut egui::Ui, r: &CheckResult) {
    let (mark, color) = verdict_mark(r.verdict);
    let text = format!(
        "{mark} Verdict: {}",
        match r.verdict {
            Verdict::Holds => "the claim holds",
            Verdict::Fails => "the claim fails",
            Verdict::Inconclusive => "inconclusive",
        }
    );
    ui.horizontal(|ui| {
        ui.label(egui::RichText::new(text).strong().color(color));
        if r.stopped {
            ui.weak("(stopped early: partial)");
        }
    });
    ui.label(format!(
        "worst {:.4e} (tolerance {}) over {} trials, {:.2} s",
        r.worst, r.tolerance, r.trials, r.seconds
    ));
    conditions_ui(ui, r);
    if let Some(c) = &r.corrected {
        let (t, col) = if c.holds {
            ("holds", egui::Color32::from_rgb(0, 158, 115))
        } else {
            ("fails", egui::Color32::from_rgb(213, 94, 0))
        };
        ui.horizontal(|ui| {
            ui.label(format!("Corrected construction ({}):", c.construction));
            ui.colored_label(col, format!("{t}, worst {:.3e}", c.worst));
        });
    }
}

fn details_ui(ui: &mut egui::Ui, r: &CheckResult) {
    if let Some(c) = &r.counterexample {
        ui.separator();
        ui.label(egui::RichText::new("Smallest counterexample found").strong());
        match r.corrected.as_ref().and_then(|c| c.example.as_ref()) {
            Some(fix) => {
                ui.columns(2, |cols| {
                    counterexample_grid(&mut cols[0], "as claimed", c);
                    counterexample_grid(&mut cols[1], "corrected", fix);
                });
            }
            None => counterexample_grid(ui, "as claimed", c),
        }
    }
    for n in &r.notes {
        ui.label(format!("• {n}"));
    }
    egui::CollapsingHeader::new("Figures (JSON)")
        .id_salt(("theory_figures", &r.id))
        .show(ui, |ui| {
            let text = serde_json::to_string_pretty(&r.figures).unwrap_or_default();
            ui.label(egui::RichText::new(text).monospace().small());
        });
}

fn counterexample_grid(ui: &mut egui::Ui, title: &str, c: &Counterexample) {
    ui.label(egui::RichText::new(title).italics());
    egui::Grid::new(("cx", title, c.note.as_str()))
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (k, v) in [
                ("input", readable(&c.input)),
                ("expected", readable(&c.expected)),
                ("got", readable(&c.got)),
                ("note", c.note.clone()),
            ] {
                ui.strong(k);
                ui.add(egui::Label::new(egui::RichText::new(v).monospace()).wrap());
                ui.end_row();
            }
        });
}

/// The running job's curves of this check, grouped into its plots by series name.
fn live_plots(info: &CheckInfo, metrics: &crate::core::metrics::MetricStore) -> Vec<PlotData> {
    info.plots
        .iter()
        .map(|p| {
            let prefix = theory::series_name(info.id, p.key, "");
            p.with_curves(
                metrics
                    .iter()
                    .filter_map(|(n, pts)| {
                        n.strip_prefix(&prefix)
                            .map(|c| (c.to_string(), pts.to_vec()))
                    })
                    .collect(),
            )
        })
        .collect()
}

fn slider_f(ui: &mut egui::Ui, v: &mut f64, lo: f64, hi: f64, log: bool, text: &str) -> bool {
    ui.add(egui::Slider::new(v, lo..=hi).logarithmic(log).text(text))
        .changed()
}

fn slider_u(ui: &mut egui::Ui, v: &mut usize, lo: usize, hi: usize, log: bool, text: &str) -> bool {
    ui.add(egui::Slider::new(v, lo..=hi).logarithmic(log).text(text))
        .changed()
}

fn seed_ui(ui: &mut egui::Ui, seed: &mut u64) -> bool {
    ui.horizontal(|ui| {
        let l = ui.label("seed");
        ui.add(egui::DragValue::new(seed))
            .labelled_by(l.id)
            .changed()
    })
    .inner
}

/// The parameters of `check` drawn from its knobs; returns whether one changed.
fn params_ui(ui: &mut egui::Ui, check: &dyn Check, p: &mut TheoryParams) -> bool {
    let mut changed = false;
    for (i, (_, text, range)) in check.knobs().into_iter().enumerate() {
        let Some(v) = check.get(i, p) else { continue };
        let new = match range {
            Range::Float { lo, hi, log } => {
                let mut x = v.float();
                slider_f(ui, &mut x, lo, hi, log, text).then_some(Value::Float(x))
            }
            Range::Int { lo, hi, log } => {
                let mut x = v.int();
                slider_u(ui, &mut x, lo, hi, log, text).then_some(Value::Int(x))
            }
            Range::Drag { lo, hi } => {
                let mut x = v.float();
                ui.horizontal(|ui| {
                    let l = ui.label(text);
                    ui.add(egui::DragValue::new(&mut x).speed(0.05).range(lo..=hi))
                        .labelled_by(l.id)
                        .changed()
                })
                .inner
                .then_some(Value::Float(x))
            }
            Range::Seed => {
                let mut x = v.seed();
                seed_ui(ui, &mut x).then_some(Value::Seed(x))
            }
            Range::Choice(options) => {
                let mut x = v.int();
                ui.horizontal(|ui| {
                    ui.label(format!("{text}:"));
                    let mut c = false;
                    for (k, o) in options.iter().enumerate() {
                        c |= ui.selectable_value(&mut x, k, *o).changed();
                    }
                    c
                })
                .inner
                .then_some(Value::Choice(x))
            }
        };
        if let Some(new) = new {
            check.set(i, p, new);
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;
    use crate::widgets::files::FileTasks;

    struct State {
        tab: TheoryTab,
        jobs: Jobs,
        files: FileTasks,
        data_dir: PathBuf,
    }

    fn harness() -> Harness<'static, State> {
        // These tests drive the buttons themselves; the start-up run has its own test.
        let state = State {
            tab: TheoryTab {
                autostarted: true,
                ..Default::default()
            },
            jobs: Jobs::default(),
            files: FileTasks::default(),
            data_dir: PathBuf::from("datasets"),
        };
        Harness::builder()
            .with_size(egui::vec2(1280.0, 820.0))
            .build_ui_state(
                |ui, s: &mut State| {
                    s.jobs.poll();
                    let mut cx = TabCx {
                        jobs: &mut s.jobs,
                        files: &mut s.files,
                        data_dir: &s.data_dir,
                        waker: Arc::new(|| {}),
                        labs: &[],
                    };
                    s.tab.ui(ui, &mut cx);
                },
                state,
            )
    }

    /// Steps the UI until no theory job runs (the jobs report over channels, not repaints).
    fn wait_jobs(h: &mut Harness<'static, State>) {
        let t = Instant::now();
        loop {
            h.step();
            if running_job(&h.state().jobs).is_none() && !h.state().tab.dirty {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "theory job did not end"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        h.step();
        h.step();
    }

    /// Every fixed text the tab draws must have glyphs in egui's default fonts (tofu otherwise).
    #[test]
    fn all_claim_texts_have_glyphs() {
        let ctx = egui::Context::default();
        let mut out = ctx.run_ui(Default::default(), |_| {});
        out.textures_delta.clear();
        let mut missing = Vec::new();
        for c in CHECKS.iter().map(|c| c.info()) {
            // The formulas are drawn in monospace, everything else in both families.
            let texts = [
                (c.title, false),
                (c.claim, false),
                (c.formulas, true),
                ("√ × · • …", false),
            ];
            for (text, mono_only) in texts {
                for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
                    if mono_only && family == egui::FontFamily::Proportional {
                        continue;
                    }
                    let id = egui::FontId::new(14.0, family.clone());
                    for ch in text.chars().filter(|ch| !ch.is_control()) {
                        if !ctx.fonts_mut(|f| f.has_glyph(&id, ch)) {
                            missing.push((c.id, family.clone(), ch));
                        }
                    }
                }
            }
        }
        missing.dedup();
        assert!(missing.is_empty(), "{missing:?}");
    }

    #[test]
    fn clicking_a_claim_and_run_check_shows_its_verdict() {
        let mut h = harness();
        h.step();
        h.get_by_label("attention_conv1d").click();
        h.step();
        assert_eq!(h.state().tab.selected, "attention_conv1d");
        h.get_by_label("Run check").click();
        h.step();
        assert_eq!(h.state().jobs.iter().count(), 1, "Run check started no job");
        wait_jobs(&mut h);
        let r = h
            .state()
            .tab
            .results
            .get("attention_conv1d")
            .expect("a result");
        assert!(!r.holds);
        assert!(
            h.query_by_label_contains("Verdict: the claim fails")
                .is_some()
        );
        // Each convention is listed with its own verdict: tokens only fails, zero-padded holds.
        assert!(h.query_by_label("× fails").is_some());
        assert!(h.query_by_label("√ holds").is_some());
        assert!(
            h.query_by_label_contains("variant: every position")
                .is_some()
        );
        assert!(
            h.query_by_label_contains("Smallest counterexample")
                .is_some()
        );
        // The counterexample reads as named fields and tuples, not as JSON.
        assert!(h.query_all_by_label_contains("x = (").next().is_some());
        assert!(
            h.query_all_by_label_contains("convention = ")
                .next()
                .is_some()
        );
        assert!(h.query_by_label_contains("\"x\"").is_none());
    }

    #[test]
    fn settings_round_trip_keeps_selection_and_sliders() {
        let mut t = TheoryTab {
            selected: "attention_maxpool".into(),
            ..Default::default()
        };
        t.params.attention_maxpool.c_max = 7.5;
        t.params.attention_conv1d.convention = theory::attention_conv1d::Convention::ZeroPadded;
        let text = ron::to_string(&t).unwrap();
        let back: TheoryTab = ron::from_str(&text).unwrap();
        assert_eq!(back.selected, "attention_maxpool");
        assert_eq!(back.params, t.params);
    }

    #[test]
    fn run_all_gives_every_claim_a_verdict_and_sliders_rerun_quick_checks() {
        let mut h = harness();
        h.step();
        h.get_by_label("Run all").click();
        h.step();
        wait_jobs(&mut h);
        assert_eq!(h.state().tab.results.len(), 7);
        assert!(h.query_all_by_label_contains("holds").next().is_some());
        // One heading per plot: a title that names its y label is not followed by the y label
        // alone ("log10 |f'(x)| of the non-vanished gradients vs depth", then "log10 |f'(x)|").
        for c in theory::CHECKS {
            h.state_mut().tab.selected = c.info().id.into();
            h.run_steps(2);
            for p in c.info().plots {
                let title = h.query_all_by_label(p.title).count();
                assert_eq!(
                    title,
                    1,
                    "{}: {:?} shown {title} times",
                    c.info().id,
                    p.title
                );
                if p.title != p.y_label {
                    let both = title + h.query_all_by_label(p.y_label).count();
                    let said_once = p.title.to_lowercase().contains(&p.y_label.to_lowercase());
                    assert!(
                        !said_once || both == 1,
                        "{}: {:?} heads a plot whose title says it already",
                        c.info().id,
                        p.y_label
                    );
                }
            }
        }
        // A slider change on a quick check starts one job by itself once nothing runs.
        h.state_mut().tab.selected = "jl_near_orthogonal".into();
        h.state_mut().tab.params.jl_near_orthogonal.c = 1.0;
        h.state_mut().tab.dirty = true;
        h.step();
        assert_eq!(h.state().jobs.iter().count(), 2);
        wait_jobs(&mut h);
        assert!(!h.state().tab.results["jl_near_orthogonal"].holds);
        assert!(h.query_all_by_label_contains("fails").next().is_some());
    }
}
