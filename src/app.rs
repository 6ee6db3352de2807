//! The eframe app: tabs, persisted settings, the running jobs.

pub mod autoshot;
pub mod frame_bench;
pub mod status_bar;

use std::path::PathBuf;
use std::time::Duration;

use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::core::jobs::Jobs;
use crate::labs::{Lab, TabCx};
use crate::widgets::files::FileTasks;
use autoshot::AutoShot;

/// App-wide settings that survive a restart (each lab keeps its own under `lab/<id>`).
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The open lab's id; unknown or empty opens the first lab.
    pub tab: String,
    pub dark: bool,
}

/// Storage key of one lab's state.
pub fn lab_key(id: &str) -> String {
    format!("lab/{id}")
}

pub struct GradlabApp {
    pub settings: Settings,
    /// The registry: one entry per tab, in tab order.
    pub labs: Vec<Box<dyn Lab>>,
    pub jobs: Jobs,
    pub files: FileTasks,
    pub data_dir: PathBuf,
    /// Said once at start, e.g. when the saved settings could not be read.
    pub notice: Option<String>,
    autoshot: Option<AutoShot>,
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
            labs,
            jobs: Jobs::default(),
            files,
            data_dir,
            notice: None,
            autoshot: None,
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
        };
        Some(f(lab, &mut cx))
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
        self.jobs.poll();
        self.files.poll();

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
            status_bar::show(ui, &self.jobs, &self.files);
        });
        egui::CentralPanel::default().show(ui, |ui| {
            let mut cx = TabCx {
                jobs: &mut self.jobs,
                files: &mut self.files,
                data_dir: &self.data_dir,
                waker: crate::widgets::repaint_waker(&ctx),
            };
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
        if let Some(shot) = &mut self.autoshot {
            shot.tick(&ctx);
        }
        if self.jobs.any_running() {
            // Elapsed times keep moving even between job events.
            ctx.request_repaint_after(Duration::from_millis(250));
        }
    }

    fn tab_bar(&mut self, ui: &mut egui::Ui) {
        let current = self.current();
        ui.horizontal(|ui| {
            ui.strong("gradlab");
            ui.separator();
            for (i, lab) in self.labs.iter().enumerate() {
                if ui.selectable_label(i == current, lab.title()).clicked() {
                    self.settings.tab = lab.id().to_string();
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
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
        };
        let text = ron::to_string(&s).unwrap();
        let (back, notice) = load_settings(Some(&text));
        assert_eq!(back.tab, "segmentation");
        assert!(back.dark);
        assert!(notice.is_none());
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
