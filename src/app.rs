//! The eframe app: tabs, persisted settings, the running jobs.

pub mod autoshot;
pub mod frame_bench;
pub mod status_bar;

use std::path::PathBuf;
use std::time::Duration;

use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::core::jobs::Jobs;
use crate::labs::datasets::ui::DatasetsTab;
use crate::labs::graphs::ui::GraphsTab;
use crate::labs::segmentation::ui::SegmentationTab;
use crate::labs::theory::ui::TheoryTab;
use crate::widgets::files::FileTasks;
use crate::widgets::{self as ui, TabCx};
use autoshot::AutoShot;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tab {
    #[default]
    Theory,
    Graphs,
    Segmentation,
    Datasets,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Theory, Tab::Graphs, Tab::Segmentation, Tab::Datasets];

    pub fn label(self) -> &'static str {
        match self {
            Tab::Theory => "Theory",
            Tab::Graphs => "Graphs",
            Tab::Segmentation => "Segmentation",
            Tab::Datasets => "Datasets",
        }
    }
}

/// Everything that survives a restart.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub tab: Tab,
    pub dark: bool,
    pub theory: TheoryTab,
    pub graphs: GraphsTab,
    pub segmentation: SegmentationTab,
    pub datasets: DatasetsTab,
}

pub struct GradlabApp {
    pub settings: Settings,
    pub jobs: Jobs,
    pub files: FileTasks,
    pub data_dir: PathBuf,
    /// Said once at start, e.g. when the saved settings could not be read.
    pub notice: Option<String>,
    autoshot: Option<AutoShot>,
}

impl GradlabApp {
    pub fn new(settings: Settings, data_dir: PathBuf, files: FileTasks) -> Self {
        Self {
            settings,
            jobs: Jobs::default(),
            files,
            data_dir,
            notice: None,
            autoshot: None,
        }
    }

    /// Builds the app from eframe's storage; a corrupted settings file falls back to defaults.
    pub fn from_storage(storage: Option<&dyn eframe::Storage>, data_dir: PathBuf) -> Self {
        let (settings, notice) = load_settings(
            storage
                .and_then(|s| s.get_string(eframe::APP_KEY))
                .as_deref(),
        );
        let mut app = Self::new(settings, data_dir, FileTasks::default());
        app.notice = notice;
        app.autoshot = AutoShot::from_env();
        if let Some(tab) = std::env::var("GRADLAB_TAB")
            .ok()
            .and_then(|t| Tab::ALL.into_iter().find(|x| x.label() == t))
        {
            app.settings.tab = tab;
        }
        app
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

        egui::Panel::top("tabs").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.strong("gradlab");
                ui.separator();
                for tab in Tab::ALL {
                    ui.selectable_value(&mut self.settings.tab, tab, tab.label());
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
        });
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
                waker: ui::repaint_waker(&ctx),
            };
            egui::ScrollArea::vertical()
                .auto_shrink(false)
                .show(ui, |ui| match self.settings.tab {
                    Tab::Theory => self.settings.theory.ui(ui, &mut cx),
                    Tab::Graphs => self.settings.graphs.ui(ui, &mut cx),
                    Tab::Segmentation => self.settings.segmentation.ui(ui, &mut cx),
                    Tab::Datasets => self.settings.datasets.ui(ui, &mut cx),
                });
        });
        if let Some(shot) = &mut self.autoshot {
            shot.tick(&ctx);
        }
        if self.jobs.any_running() {
            // Elapsed times keep moving even between job events.
            ctx.request_repaint_after(Duration::from_millis(250));
        }
    }
}

impl GradlabApp {
    /// Starts the Segmentation tab's "Train both" as a click would: two U-Net jobs training while
    /// the UI draws (the UI frame-time benchmark).
    pub fn start_benchmark_jobs(&mut self, ctx: &egui::Context) {
        let mut cx = TabCx {
            jobs: &mut self.jobs,
            files: &mut self.files,
            data_dir: &self.data_dir,
            waker: ui::repaint_waker(ctx),
        };
        self.settings.segmentation.train_both(&mut cx);
    }
}

/// Parses saved settings; `None` means first start. A parse failure gives defaults and a notice.
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
            tab: Tab::Segmentation,
            dark: true,
            ..Default::default()
        };
        let text = ron::to_string(&s).unwrap();
        let (back, notice) = load_settings(Some(&text));
        assert_eq!(back.tab, Tab::Segmentation);
        assert!(back.dark);
        assert!(notice.is_none());
    }

    #[test]
    fn corrupted_settings_fall_back_to_defaults_with_a_notice() {
        let (s, notice) = load_settings(Some("(tab: Graphs, dark: tru"));
        assert_eq!(s.tab, Tab::Theory);
        assert!(notice.unwrap().contains("could not be read"));
    }
}
