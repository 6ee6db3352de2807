//! The app window: settings, the tab bar from the registry, the status bar and persistence.

use super::autoshot::AutoShot;
use crate::core::jobs::Jobs;
use crate::labs::{Lab, TabCx};
use crate::widgets::files::FileTasks;
use eframe::egui;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// App-wide settings that survive a restart (each lab keeps its own under `lab/<id>`).
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The open lab's id; unknown or empty opens the first lab.
    pub tab: String,
    pub dark: bool,
    /// The first-run tour was finished or skipped: it does not start on its own again.
    pub tour_done: bool,
}

/// The window's first size: 1280 x 820, or `GRADLAB_WINDOW=WxH` (screenshots at 1024 x 600).
pub fn window_size() -> [f32; 2] {
    std::env::var("GRADLAB_WINDOW")
        .ok()
        .and_then(|s| parse_size(&s))
        .unwrap_or([1280.0, 820.0])
}

fn parse_size(s: &str) -> Option<[f32; 2]> {
    let (w, h) = s.split_once('x')?;
    let (w, h) = (w.trim().parse::<f32>().ok()?, h.trim().parse::<f32>().ok()?);
    (w >= 320.0 && h >= 240.0).then_some([w, h])
}

/// Storage key of one lab's state.
pub fn lab_key(id: &str) -> String {
    format!("lab/{id}")
}

pub struct GradlabApp {
    pub settings: Settings,
    /// The registry: one entry per tab, in tab order.
    pub labs: Vec<Box<dyn Lab>>,
    /// The descriptors of [`Self::labs`] that record runs.
    pub descriptors: Vec<&'static crate::labs::LabDescriptor>,
    pub jobs: Jobs,
    pub files: FileTasks,
    pub data_dir: PathBuf,
    /// Said once at start, e.g. when the saved settings could not be read.
    pub notice: Option<String>,
    autoshot: Option<AutoShot>,
    /// Failed jobs whose message the user dismissed.
    pub dismissed: std::collections::HashSet<crate::core::jobs::JobId>,
    /// The Help and About windows, the tour.
    pub help: super::help::Help,
}

impl GradlabApp {
    /// The app with every lab of [`crate::labs::labs`].
    pub fn new(settings: Settings, data_dir: PathBuf, files: FileTasks) -> Self {
        Self::with_labs(crate::labs::labs(), settings, data_dir, files)
    }

    /// The app with these labs (tests add their own).
    pub fn with_labs(
        labs: Vec<Box<dyn Lab>>,
        settings: Settings,
        data_dir: PathBuf,
        files: FileTasks,
    ) -> Self {
        Self {
            settings,
            descriptors: labs.iter().filter_map(|l| l.descriptor()).collect(),
            labs,
            jobs: Jobs::default(),
            files,
            data_dir,
            notice: None,
            autoshot: None,
            dismissed: Default::default(),
            help: super::help::Help::default(),
        }
    }

    /// Records every training job into the run store at `dir` (None: runs are not recorded and
    /// the Runs tab says why).
    pub fn with_runs_dir(mut self, dir: Option<PathBuf>) -> Self {
        let old = std::mem::take(&mut self.jobs);
        debug_assert!(
            old.iter().next().is_none(),
            "set the runs folder before any job"
        );
        self.jobs = Jobs::with_runs_dir(dir);
        self
    }

    /// Builds the app from eframe's storage; a corrupted entry falls back to defaults.
    pub fn from_storage(storage: Option<&dyn eframe::Storage>, data_dir: PathBuf) -> Self {
        let get = |key: &str| storage.and_then(|s| s.get_string(key));
        let (settings, notice) = load_settings(get(eframe::APP_KEY).as_deref());
        let mut app = Self::new(settings, data_dir, FileTasks::default());
        let mut notices: Vec<String> = notice.into_iter().collect();
        for lab in &mut app.labs {
            if let Some(text) = get(&lab_key(lab.id()))
                && let Err(e) = lab.load_state(&text)
            {
                notices.push(format!(
                    "The saved {} settings could not be read ({e}); defaults are used.",
                    lab.title()
                ));
            }
        }
        app.notice = (!notices.is_empty()).then(|| notices.join(" "));
        app.autoshot = AutoShot::from_env();
        // The tour starts on the first start of the app (not under an automatic screenshot,
        // unless it asks for the tour: GRADLAB_TOUR=1).
        let tour_shot = std::env::var_os("GRADLAB_TOUR").is_some();
        if !app.settings.tour_done && (app.autoshot.is_none() || tour_shot) {
            app.help.tour = Some(0);
        }
        if std::env::var_os("GRADLAB_HELP").is_some() {
            app.help.help_open = true;
        }
        if let Ok(title) = std::env::var("GRADLAB_TAB") {
            app.open_by_title(&title);
        }
        app
    }

    /// Opens the lab with this tab label; false when there is none.
    pub fn open_by_title(&mut self, title: &str) -> bool {
        match self.labs.iter().find(|l| l.title() == title) {
            Some(lab) => {
                self.settings.tab = lab.id().to_string();
                true
            }
            None => false,
        }
    }

    /// Index of the open lab (the first when the saved id is unknown).
    pub fn current(&self) -> usize {
        self.labs
            .iter()
            .position(|l| l.id() == self.settings.tab)
            .unwrap_or(0)
    }

    /// The lab of type `L`, for tests and the frame benchmark.
    pub fn lab_mut<L: Lab>(&mut self) -> Option<&mut L> {
        self.labs.iter_mut().find_map(|l| {
            let any: &mut dyn std::any::Any = l.as_mut();
            any.downcast_mut::<L>()
        })
    }

    /// Calls `f` with the lab of type `L` and the context it draws with, as a click would.
    pub fn with_lab<L: Lab, R>(
        &mut self,
        ctx: &egui::Context,
        f: impl FnOnce(&mut L, &mut TabCx<'_>) -> R,
    ) -> Option<R> {
        let lab = self.labs.iter_mut().find_map(|l| {
            let any: &mut dyn std::any::Any = l.as_mut();
            any.downcast_mut::<L>()
        })?;
        let mut cx = TabCx {
            jobs: &mut self.jobs,
            files: &mut self.files,
            data_dir: &self.data_dir,
            waker: crate::widgets::repaint_waker(ctx),
            labs: &self.descriptors,
        };
        Some(f(lab, &mut cx))
    }

    /// A lab's "Sweep..." was clicked: the Sweeps tab opens with the editor filled in.
    pub fn open_sweep_editor(&mut self, req: &crate::widgets::sweep_request::SweepRequest) {
        if let Some(tab) = self.lab_mut::<crate::labs::sweeps::SweepsTab>() {
            tab.open_editor(&req.lab, &req.flags);
            self.settings.tab = "sweeps".into();
        }
    }

    /// The whole window's contents; also what the UI tests drive.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        ctx.set_theme(if self.settings.dark {
            egui::Theme::Dark
        } else {
            egui::Theme::Light
        });
        self.files.set_context(&ctx);
        if self.jobs.poll() {
            // A job that ended shrinks the status bar: lay it out again at once, or its old
            // height stays as an empty strip until the mouse moves.
            ctx.request_repaint();
        }
        self.files.poll();

        self.shortcuts(&ctx);
        egui::Panel::top("tabs").show(ui, |ui| self.tab_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| {
            if let Some(n) = self.notice.clone() {
                ui.horizontal(|ui| {
                    ui.colored_label(ui.visuals().warn_fg_color, n);
                    if ui.small_button("Dismiss").clicked() {
                        self.notice = None;
                    }
                });
            }
            let lab_id = self
                .labs
                .get(self.current())
                .map_or("", |l| l.id())
                .to_string();
            super::status_bar::show(
                ui,
                &self.jobs,
                &mut self.files,
                &lab_id,
                &mut self.dismissed,
            );
        });
        // A "Sweep..." clicked in the last frame opens the Sweeps tab before this one is drawn.
        if let Some(req) = crate::widgets::sweep_request::take_request(&ctx) {
            self.open_sweep_editor(&req);
        }
        let mut cx = TabCx {
            jobs: &mut self.jobs,
            files: &mut self.files,
            data_dir: &self.data_dir,
            waker: crate::widgets::repaint_waker(&ctx),
            labs: &self.descriptors,
        };
        for lab in &mut self.labs {
            lab.background(&ctx, &mut cx);
        }
        egui::CentralPanel::default().show(ui, |ui| {
            let i = self
                .labs
                .iter()
                .position(|l| l.id() == self.settings.tab)
                .unwrap_or(0);
            if let Some(lab) = self.labs.get_mut(i) {
                egui::ScrollArea::vertical()
                    .auto_shrink(false)
                    .show(ui, |ui| lab.ui(ui, &mut cx));
            }
        });
        self.help.help_window(&ctx);
        self.help
            .about_window(&ctx, &self.data_dir, self.jobs.runs_dir());
        if self.help.tour.is_some() && self.help.tour(&ctx) == super::help::TourEnd::Done {
            self.settings.tour_done = true;
        }
        if let Some(shot) = &mut self.autoshot {
            shot.tick(&ctx, self.jobs.any_running());
        }
        if self.jobs.any_running() {
            // Elapsed times keep moving even between job events.
            ctx.request_repaint_after(Duration::from_millis(250));
        }
    }

    /// F1 / ? help, Ctrl+1..6 tabs, Ctrl+Enter the tab's main action, Ctrl+. stop, Esc closes
    /// the help windows.
    fn shortcuts(&mut self, ctx: &egui::Context) {
        let typing = ctx.egui_wants_keyboard_input();
        let (help, tab, train, stop, esc) = ctx.input(|i| {
            let tab = [
                egui::Key::Num1,
                egui::Key::Num2,
                egui::Key::Num3,
                egui::Key::Num4,
                egui::Key::Num5,
                egui::Key::Num6,
            ]
            .iter()
            .position(|k| i.modifiers.command && i.key_pressed(*k));
            let question = !typing
                && i.events
                    .iter()
                    .any(|e| matches!(e, egui::Event::Text(t) if t == "?"));
            (
                i.key_pressed(egui::Key::F1) || question,
                tab,
                i.modifiers.command && i.key_pressed(egui::Key::Enter),
                i.modifiers.command && i.key_pressed(egui::Key::Period),
                i.key_pressed(egui::Key::Escape),
            )
        });
        if help {
            self.help.help_open = !self.help.help_open;
        }
        if esc && self.help.tour.is_none() {
            self.help.help_open = false;
            self.help.about_open = false;
        }
        if let Some(lab) = tab.and_then(|k| self.labs.get(k)) {
            self.settings.tab = lab.id().to_string();
        }
        let i = self.current();
        if train && let Some(lab) = self.labs.get_mut(i) {
            let mut cx = TabCx {
                jobs: &mut self.jobs,
                files: &mut self.files,
                data_dir: &self.data_dir,
                waker: crate::widgets::repaint_waker(ctx),
                labs: &self.descriptors,
            };
            lab.train(&mut cx);
        }
        if stop && let Some(lab) = self.labs.get(i) {
            for j in self.jobs.running() {
                if super::status_bar::belongs_to(&j.kind, lab.id()) {
                    j.stop();
                }
            }
        }
    }

    fn tab_bar(&mut self, ui: &mut egui::Ui) {
        let current = self.current();
        ui.horizontal(|ui| {
            ui.strong("gradlab");
            ui.separator();
            for (i, lab) in self.labs.iter().enumerate() {
                let r = ui
                    .selectable_label(i == current, lab.title())
                    .on_hover_text(format!("Ctrl+{}", i + 1));
                crate::widgets::tour_anchor(ui.ctx(), &format!("tab:{}", lab.id()), r.rect);
                if r.clicked() {
                    self.settings.tab = lab.id().to_string();
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let r = ui
                    .button("? Help")
                    .on_hover_text("What each lab asks, shortcuts, the tour, About (F1)");
                crate::widgets::tour_anchor(ui.ctx(), "help", r.rect);
                if r.clicked() {
                    self.help.help_open = !self.help.help_open;
                }
                let label = if self.settings.dark {
                    "Light theme"
                } else {
                    "Dark theme"
                };
                if ui.button(label).clicked() {
                    self.settings.dark = !self.settings.dark;
                }
            });
        });
    }
}

/// Parses saved app settings; `None` means first start. A parse failure gives defaults and a notice.
pub fn load_settings(saved: Option<&str>) -> (Settings, Option<String>) {
    match saved {
        None => (Settings::default(), None),
        Some(text) => match ron::from_str::<Settings>(text) {
            Ok(s) => (s, None),
            Err(e) => (
                Settings::default(),
                Some(format!(
                    "The saved settings could not be read ({e}); defaults are used and will be saved on exit."
                )),
            ),
        },
    }
}

impl eframe::App for GradlabApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
        for lab in &self.labs {
            if let Some(text) = lab.save_state() {
                storage.set_string(&lab_key(lab.id()), text);
            }
        }
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.jobs.shutdown(Duration::from_secs(3));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_through_ron() {
        let s = Settings {
            tab: "segmentation".into(),
            dark: true,
            tour_done: true,
        };
        let text = ron::to_string(&s).unwrap();
        let (back, notice) = load_settings(Some(&text));
        assert_eq!(back.tab, "segmentation");
        assert!(back.dark);
        assert!(back.tour_done, "a finished tour stays finished");
        assert!(notice.is_none());
    }

    #[test]
    fn window_sizes_parse_and_nonsense_is_refused() {
        assert_eq!(parse_size("1024x600"), Some([1024.0, 600.0]));
        assert_eq!(parse_size("10x10"), None);
        assert_eq!(parse_size("wide"), None);
    }

    #[test]
    fn corrupted_settings_fall_back_to_defaults_with_a_notice() {
        let (s, notice) = load_settings(Some("(tab: \"graphs\", dark: tru"));
        assert_eq!(s.tab, "");
        assert!(notice.unwrap().contains("could not be read"));
    }

    #[test]
    fn lab_ids_are_unique_and_every_lab_state_round_trips() {
        let mut labs = crate::labs::labs();
        let mut ids: Vec<&str> = labs.iter().map(|l| l.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), labs.len(), "two labs share an id");
        for lab in &mut labs {
            if let Some(text) = lab.save_state() {
                lab.load_state(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", lab.id()));
                assert_eq!(lab.save_state().as_deref(), Some(text.as_str()));
            }
        }
    }
}
