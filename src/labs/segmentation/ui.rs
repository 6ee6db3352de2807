//! The Segmentation tab: train a U-Net with skips on and off side by side, watch loss and
//! validation mIoU, compare predictions in a gallery, segment an own image, save/load models.
//! Everything slow (training, decoding, inference, checkpoint I/O) runs as a job.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::core::Summary;
use crate::core::figures::identity_slot;
use crate::core::figures::{Figure, Series, seed_group};
use crate::core::jobs::{Job, JobHandle, JobId, JobOutput};
use crate::core::metrics::MetricStore;
use crate::core::stats::{self, Comparison, NOISE_RULE};
use crate::data::seg::image_io::{GrayF32, read_gray_noted};
use crate::data::seg::{DatasetSpec, isbi_dir, shapes::ShapesConfig};
use crate::labs::datasets::ui::offer::DownloadOffer;
use crate::labs::lab::{Lab, load_ron, save_ron};
use crate::labs::segmentation::config::SegParams;
use crate::labs::segmentation::render::{FN_COLOR, FP_COLOR, overlay};
use crate::labs::segmentation::restore::{LatestSeg, load_latest};
use crate::labs::segmentation::train::{compare_skips, run_seeds_recorded};
use crate::labs::segmentation::{SegConfig, SegModel, TrainedSeg, UNetConfig, checkpoint, infer};
use crate::widgets::job_row;
use crate::widgets::plot::{PictureTexture, figure_plot};
use crate::widgets::presence::Presence;
use crate::widgets::reopen::Reopen;
use crate::widgets::{PALETTE, TabCx, labeled};

const KIND: &str = super::keys::ID;
const KIND_IO: &str = "segmentation-io";
/// The job that reads the latest runs back from the store.
const PICK_FOLDER: &str = "seg-folder";
const PICK_IMAGE: &str = "seg-image";
const PICK_SAVE: &str = "seg-save";
const PICK_LOAD: &str = "seg-load";
const IMAGE_EXTS: [&str; 6] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Source {
    Shapes,
    Isbi,
    Folder,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum ModelChoice {
    SkipsOn,
    SkipsOff,
    Loaded,
}

#[derive(Serialize, Deserialize)]
#[serde(default)]
struct Settings {
    source: Source,
    folder: Option<PathBuf>,
    /// The generated data's knobs (the CLI uses their defaults).
    shapes: ShapesConfig,
    /// The lab's one config, shared with `gradlab seg`; unset numbers take the dataset's default.
    params: SegParams,
    opacity: f32,
    /// The own-image viewer's magnification (1 = native pixels).
    zoom: f32,
    model: ModelChoice,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            source: Source::Shapes,
            folder: None,
            shapes: ShapesConfig::default(),
            params: SegParams::default(),
            opacity: 0.5,
            zoom: 1.0,
            model: ModelChoice::SkipsOn,
        }
    }
}

/// An own image segmented by one or two models (the chosen one first).
struct Inferred {
    path: PathBuf,
    image: GrayF32,
    /// How the file stored its pixels ("8-bit RGB").
    format: String,
    /// What the loader did to make it gray, when it was not gray.
    note: Option<String>,
    /// (model label, class-1 probability per pixel).
    preds: Vec<(String, Vec<f32>)>,
}

impl JobOutput for Arc<Inferred> {
    fn summary(&self) -> Summary {
        let frac =
            |p: &[f32]| p.iter().filter(|&&v| v > 0.5).count() as f64 / p.len().max(1) as f64;
        let fractions: serde_json::Map<String, serde_json::Value> = self
            .preds
            .iter()
            .map(|(label, p)| (label.clone(), frac(p).into()))
            .collect();
        serde_json::json!({
            "image": self.path.display().to_string(),
            "class1_fraction": self.preds.first().map(|(_, p)| frac(p)),
            "class1_fraction_per_model": fractions,
        })
    }
}

/// What the last "Train both" asked for (for the time estimate and the seeds table).
#[derive(Clone, Copy)]
struct Asked {
    epochs: usize,
    steps: usize,
    seeds: u64,
}

/// Wall seconds of one seed of the skips on / off pair of shapes runs side by side, assumed
/// until this machine has measured a Train both. Measured on 2 cores, release build: the two
/// runs of one seed (6 x 12 steps each, validation included) take 17-18 s from the CLI and about
/// 23 s in the GUI (Train both, 3 seeds: 70 s); 20 s sits between.
const ASSUMED_PAIR_SEED_S: f64 = 20.0;
/// Optimiser steps of one shapes run at the defaults (6 epochs x 12 steps).
const SHAPES_STEPS: f64 = 72.0;

/// What a model save / load job returns.
enum ModelIo {
    Saved(PathBuf),
    Loaded(PathBuf, Arc<SegModel>),
}

impl JobOutput for ModelIo {
    fn summary(&self) -> Summary {
        match self {
            ModelIo::Saved(p) => serde_json::json!({"saved": p.display().to_string()}),
            ModelIo::Loaded(p, _) => serde_json::json!({"loaded": p.display().to_string()}),
        }
    }
}

#[derive(Default)]
struct Runtime {
    /// Whether ISBI is downloaded (checked off the UI thread).
    isbi: Presence,
    on: Option<JobId>,
    off: Option<JobId>,
    infer: Option<JobHandle<Arc<Inferred>>>,
    io: Option<JobHandle<ModelIo>>,
    loaded: Option<(String, Arc<SegModel>)>,
    result: Option<Arc<Inferred>>,
    /// A new result arrived: bring the viewer into view once.
    scroll_to_viewer: bool,
    asked: Option<Asked>,
    overlay_version: u64,
    overlay_for: Option<(usize, f32)>,
    overlay_imgs: Vec<image::RgbaImage>,
    textures: HashMap<String, PictureTexture>,
    message: Option<String>,
    /// Reopening the latest runs of the store, once per session.
    restore: Reopen<LatestSeg>,
    /// Earlier runs' pace, for the Train both estimate.
    pace: crate::widgets::pace::PaceLookup,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentationTab {
    settings: Settings,
    #[serde(skip)]
    rt: Runtime,
}

impl Lab for SegmentationTab {
    fn id(&self) -> &'static str {
        super::keys::ID
    }
    fn title(&self) -> &'static str {
        super::DESCRIPTOR.title
    }
    fn descriptor(&self) -> Option<&'static crate::labs::lab::LabDescriptor> {
        Some(&super::DESCRIPTOR)
    }
    fn config_json(&self, data_dir: &Path) -> Option<serde_json::Value> {
        serde_json::to_value(self.default_run_config(data_dir).ok()?).ok()
    }
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        self.take_picked(cx);
        self.collect_io(cx);
        self.restore_latest(cx);
        egui::Panel::left("seg_controls")
            .resizable(true)
            .default_size(300.0)
            .max_size(420.0)
            .show(ui, |ui| {
                // Pinned below the scrolling controls: on a small screen "Train both" would
                // otherwise sit below the fold, where a first-time user does not look.
                // So are the model's actions (Open image, Save, Load): at 1280 x 768 they were
                // below the fold, and the "Use a model" heading read as Train both's title.
                egui::Panel::bottom("seg_train_buttons")
                    .resizable(false)
                    .show(ui, |ui| {
                        ui.add_space(4.0);
                        self.train_buttons(ui, cx);
                        ui.separator();
                        self.model_controls(ui, cx);
                    });
                egui::ScrollArea::vertical().show(ui, |ui| self.controls(ui, cx));
            });
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.results(ui, cx));
        });
    }
    fn save_state(&self) -> Option<String> {
        save_ron(self)
    }
    fn load_state(&mut self, text: &str) -> Result<(), String> {
        load_ron(text, self)
    }
    fn train(&mut self, cx: &mut TabCx<'_>) {
        let running = [self.rt.on, self.rt.off]
            .into_iter()
            .flatten()
            .any(|id| cx.jobs.get(id).is_some_and(|j| j.state.is_running()));
        if !running {
            self.train_both(cx);
        }
    }
}

impl SegmentationTab {
    /// "Train both": skips on and off as two jobs on the same data, each over the same K seeds
    /// (seed, seed + 1, ..., as `gradlab seg --seeds K`).
    pub fn train_both(&mut self, cx: &mut TabCx<'_>) {
        match self.dataset(cx.data_dir) {
            Ok(ds) => {
                cx.jobs.clear_finished(KIND);
                let k = self.settings.params.seeds.max(1);
                for skips in [true, false] {
                    let cfg = self.config(ds.clone(), skips);
                    let seeds: Vec<u64> = (cfg.seed..cfg.seed + k).collect();
                    self.rt.asked = Some(Asked {
                        epochs: cfg.epochs,
                        steps: cfg.steps_per_epoch,
                        seeds: k,
                    });
                    let name = if skips { "skips on" } else { "skips off" };
                    // Recorded as a run, the store opened on the job thread (never the UI's).
                    let runs = cx.runs_dir().map(std::path::Path::to_path_buf);
                    let id = cx
                        .jobs
                        .spawn(KIND, name, cx.waker.clone(), move |sink, stop| {
                            let store = crate::core::runs::open_for_job(runs.as_deref(), sink);
                            let command = super::train::command_for(&cfg, seeds.len());
                            let rec = crate::core::runs::RecordTo {
                                store: store.as_ref(),
                                command: &command,
                            };
                            Ok(run_seeds_recorded(&cfg, &seeds, rec, sink, stop)?.summary)
                        });
                    if skips {
                        self.rt.on = Some(id)
                    } else {
                        self.rt.off = Some(id)
                    }
                }
                self.rt.message = None;
            }
            Err(e) => self.rt.message = Some(e),
        }
    }

    fn dataset(&self, data_dir: &Path) -> Result<DatasetSpec, String> {
        let s = &self.settings;
        match s.source {
            Source::Shapes => Ok(DatasetSpec::Shapes(s.shapes.clone())),
            Source::Isbi => Ok(DatasetSpec::Isbi(isbi_dir(data_dir))),
            Source::Folder => match &s.folder {
                Some(dir) => Ok(DatasetSpec::Folder {
                    dir: dir.clone(),
                    invert: s.params.invert,
                }),
                None => Err("pick a folder first".into()),
            },
        }
    }

    /// The run config "Train both" uses, resolved like `gradlab seg` does.
    fn config(&self, dataset: DatasetSpec, skips: bool) -> SegConfig {
        let mut c = self.settings.params.resolve_with(dataset);
        c.unet.skips = skips;
        c
    }

    /// The config "Train both" starts for the skips-on model (for the GUI = CLI test).
    pub fn default_run_config(&self, data_dir: &Path) -> Result<SegConfig, String> {
        Ok(self.config(self.dataset(data_dir)?, true))
    }

    /// Chooses the data source as the CLI's `--dataset` names it (`shapes`, `isbi` or a folder).
    pub fn set_dataset(&mut self, name: &str) {
        let s = &mut self.settings;
        s.source = match name {
            "shapes" => Source::Shapes,
            "isbi" => Source::Isbi,
            dir => {
                s.folder = Some(PathBuf::from(dir));
                Source::Folder
            }
        };
    }

    fn take_picked(&mut self, cx: &mut TabCx<'_>) {
        if let Some(p) = cx.files.take_picked(PICK_FOLDER) {
            self.settings.folder = Some(p);
            self.settings.source = Source::Folder;
        }
        if let Some(path) = cx.files.take_picked(PICK_IMAGE) {
            let models = self.models_to_apply(cx);
            if models.is_empty() {
                self.rt.message = Some("train or load a model first".into());
            } else {
                let h = cx.jobs.spawn_typed(
                    KIND_IO,
                    "segment image",
                    cx.waker.clone(),
                    move |sink, stop| {
                        let (image, format) = read_gray_noted(&path)?;
                        let mut preds = Vec::new();
                        let n = models.len();
                        for (k, (label, model)) in models.into_iter().enumerate() {
                            let m = &model.meta;
                            // Tiles of all models as one bar; Stop ends the job between tiles.
                            let mut tick = |done: usize, total: usize| {
                                anyhow::ensure!(!stop.is_stopped(), "stopped");
                                sink.progress((k * total + done) as u64, (n * total) as u64);
                                Ok(())
                            };
                            let probs =
                                infer::predict_with(&model.net, &image, m.mean, m.std, &mut tick)
                                    .map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?;
                            preds.push((label, probs));
                        }
                        Ok(Arc::new(Inferred {
                            path,
                            image,
                            format: format.describe(),
                            note: Some(format.notes().join("; ")).filter(|n| !n.is_empty()),
                            preds,
                        }))
                    },
                );
                self.rt.infer = Some(h);
            }
        }
        if let Some(dir) = cx.files.take_picked(PICK_SAVE)
            && let Some(model) = self.current_model(cx)
        {
            let metrics = self.current_summary(cx).unwrap_or_default();
            let h = cx.jobs.spawn_typed(
                KIND_IO,
                "save model",
                cx.waker.clone(),
                move |_sink, _stop| {
                    // A picked folder holding the user's files gets a new model folder inside.
                    let dir = crate::core::files::folder_for(&dir, "gradlab-model");
                    checkpoint::save_folder(&dir, &model, &metrics, &[])?;
                    Ok(ModelIo::Saved(dir))
                },
            );
            self.rt.io = Some(h);
        }
        if let Some(dir) = cx.files.take_picked(PICK_LOAD) {
            let h = cx.jobs.spawn_typed(
                KIND_IO,
                "load model",
                cx.waker.clone(),
                move |_sink, _stop| {
                    let dir = checkpoint::model_folder_in(&dir);
                    let model = checkpoint::load(&dir)?;
                    Ok(ModelIo::Loaded(dir, Arc::new(model)))
                },
            );
            self.rt.io = Some(h);
        }
    }

    /// On the first frame of a session without a trained pair, reads the latest skips-on and
    /// skips-off runs back from the run store (on a job thread): curves, seeds table, gallery and
    /// the trained models, so "Open image..." works without retraining.
    fn restore_latest(&mut self, cx: &mut TabCx<'_>) {
        let wanted = self.rt.on.is_none() && self.rt.off.is_none();
        let Some(outcome) = self.rt.restore.poll(
            cx,
            wanted,
            "reopen the latest segmentation runs",
            load_latest,
        ) else {
            return;
        };
        let latest = match outcome {
            Ok(l) => l,
            Err(e) => {
                self.rt.message = Some(format!("The latest runs could not be reopened: {e}"));
                return;
            }
        };
        // A pair trained meanwhile is newer: keep it.
        if self.rt.on.is_some() || self.rt.off.is_some() {
            return;
        }
        let mut problems = latest.problems;
        for r in latest.configs {
            problems.extend(r.job.from.problems.iter().cloned());
            let id = cx.jobs.restore(KIND, r.job);
            if r.skips {
                self.rt.on = Some(id);
            } else {
                self.rt.off = Some(id);
            }
            self.rt.asked = Some(Asked {
                epochs: r.cfg.epochs,
                steps: r.cfg.steps_per_epoch,
                seeds: r.seeds,
            });
        }
        if !problems.is_empty() {
            self.rt.message = Some(format!(
                "Reopened what the run store still has; missing: {}",
                problems.join("; ")
            ));
        }
    }

    /// Picks up finished inference / save / load jobs.
    fn collect_io(&mut self, cx: &mut TabCx<'_>) {
        if let Some(h) = self.rt.infer
            && let Some(outcome) = cx.jobs.take(h)
        {
            match outcome {
                Ok(res) => {
                    self.rt.result = Some(res);
                    self.rt.overlay_for = None;
                    self.rt.scroll_to_viewer = true;
                }
                Err(e) => self.rt.message = Some(format!("segmentation failed: {e}")),
            }
            self.rt.infer = None;
        }
        if let Some(h) = self.rt.io
            && let Some(outcome) = cx.jobs.take(h)
        {
            self.rt.message = Some(match outcome {
                Ok(ModelIo::Saved(p)) => format!("model saved to {}", p.display()),
                Ok(ModelIo::Loaded(p, m)) => {
                    self.rt.loaded = Some((p.display().to_string(), m));
                    self.settings.model = ModelChoice::Loaded;
                    format!("model loaded from {}", p.display())
                }
                Err(e) => e,
            });
            self.rt.io = None;
        }
    }

    fn job_model(cx: &TabCx<'_>, id: Option<JobId>) -> Option<Arc<SegModel>> {
        cx.jobs
            .get(id?)?
            .latest::<TrainedSeg>()
            .map(|t| t.0.clone())
    }

    fn current_model(&self, cx: &TabCx<'_>) -> Option<Arc<SegModel>> {
        match self.settings.model {
            ModelChoice::SkipsOn => Self::job_model(cx, self.rt.on),
            ModelChoice::SkipsOff => Self::job_model(cx, self.rt.off),
            ModelChoice::Loaded => self.rt.loaded.as_ref().map(|(_, m)| m.clone()),
        }
    }

    /// The chosen model first, then, when it is one of the pair just trained, the other one:
    /// an own image is shown with and without skips side by side.
    fn models_to_apply(&self, cx: &TabCx<'_>) -> Vec<(String, Arc<SegModel>)> {
        let on = || Self::job_model(cx, self.rt.on).map(|m| ("with skips".to_string(), m));
        let off = || Self::job_model(cx, self.rt.off).map(|m| ("without skips".to_string(), m));
        match self.settings.model {
            ModelChoice::SkipsOn => on().into_iter().chain(off()).collect(),
            ModelChoice::SkipsOff => off().into_iter().chain(on()).collect(),
            ModelChoice::Loaded => self
                .rt
                .loaded
                .iter()
                .map(|(name, m)| (format!("loaded: {name}"), m.clone()))
                .collect(),
        }
    }

    fn current_summary(&self, cx: &TabCx<'_>) -> Option<serde_json::Value> {
        let id = match self.settings.model {
            ModelChoice::SkipsOn => self.rt.on,
            ModelChoice::SkipsOff => self.rt.off,
            ModelChoice::Loaded => None,
        }?;
        cx.jobs.get(id)?.summary().cloned()
    }

    fn controls(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        self.data_controls(ui, cx);
        ui.separator();
        let measured = self.stored_pair_step_s(cx).or_else(|| {
            self.measured_pair_step_s(cx)
                .map(|s| (s, "measured by the last Train both here".to_string()))
        });
        self.training_controls(ui, cx.data_dir, measured);
    }

    fn data_controls(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        let isbi = self
            .rt
            .isbi
            .get(&isbi_dir(cx.data_dir).join("images"), &cx.waker);
        let isbi_present = isbi == Some(true);
        let s = &mut self.settings;
        ui.heading("Data");
        ui.radio_value(&mut s.source, Source::Shapes, "shapes (generated cells)");
        ui.add_enabled_ui(isbi_present, |ui| {
            ui.radio_value(&mut s.source, Source::Isbi, "ISBI 2012 EM (30 slices)")
        })
        .response
        .on_disabled_hover_text("Not downloaded: fetch isbi2012_em in the Datasets tab");
        // Offered only once the check says it is missing.
        if DownloadOffer::new("isbi2012_em", "ISBI")
            .present(isbi != Some(false))
            .reason("not downloaded")
            .show(ui, cx)
        {
            s.source = Source::Isbi;
        }
        ui.horizontal(|ui| {
            ui.radio_value(&mut s.source, Source::Folder, "folder");
            if ui
                .button("Open folder...")
                .on_hover_text("A folder with images/ and masks/ (same file names)")
                .clicked()
            {
                cx.files.pick(PICK_FOLDER, true, None);
            }
        });
        if let Some(f) = &s.folder {
            ui.small(f.display().to_string());
        }
        match s.source {
            Source::Shapes => shapes_grid(ui, &mut s.shapes),
            Source::Folder => {
                ui.checkbox(&mut s.params.invert, "class 1 = dark mask pixels").on_hover_text(
                    "Masks are read at their bit depth: 0/1, 0/255 and label maps; class 1 = non-zero. Tick this when your masks draw the boundary in black (as ISBI does)",
                );
            }
            Source::Isbi => {
                ui.small("Validation: 5 of the 30 slices, chosen by the seed. Non-commercial use only (see its README).");
            }
        }
    }

    /// The numbers of the shared config; each shows the dataset's default until it is edited.
    fn training_controls(
        &mut self,
        ui: &mut egui::Ui,
        data_dir: &Path,
        measured_pair_step_s: Option<(f64, String)>,
    ) {
        let resolved = match self.dataset(data_dir) {
            Ok(ds) => self.config(ds, true),
            Err(_) => self.config(
                DatasetSpec::Folder {
                    dir: PathBuf::new(),
                    invert: false,
                },
                true,
            ),
        };
        let p = &mut self.settings.params;
        ui.horizontal(|ui| {
            ui.heading("Model and training");
            let edited = *p
                != SegParams {
                    dataset: p.dataset.clone(),
                    invert: p.invert,
                    skips: p.skips,
                    ..SegParams::default()
                };
            if ui
                .add_enabled(edited, egui::Button::new("Defaults"))
                .on_hover_text("The dataset's defaults (the same as gradlab seg's)")
                .clicked()
            {
                *p = SegParams {
                    dataset: p.dataset.clone(),
                    invert: p.invert,
                    ..SegParams::default()
                };
            }
        });
        egui::Grid::new("seg_train_grid")
            .num_columns(2)
            .show(ui, |ui| {
                let r = &resolved;
                override_drag(ui, "depth", &mut p.depth, r.unet.depth, |d| d.range(1..=6));
                override_drag(ui, "base channels", &mut p.base, r.unet.base, |d| {
                    d.range(2..=64)
                });
                override_drag(ui, "epochs", &mut p.epochs, r.epochs, |d| d.range(1..=500));
                override_drag(ui, "steps / epoch", &mut p.steps, r.steps_per_epoch, |d| {
                    d.range(1..=1000)
                });
                override_drag(ui, "crop", &mut p.crop, r.crop, |d| {
                    d.range(16..=512).speed(8)
                });
                override_drag(ui, "batch", &mut p.batch, r.batch, |d| d.range(1..=64));
                override_drag(ui, "learning rate", &mut p.lr, r.lr, |d| {
                    d.range(1e-5..=0.1).speed(1e-4)
                });
                override_drag(ui, "Dice weight", &mut p.dice, r.dice, |d| {
                    d.range(0.0..=5.0).speed(0.05)
                });
                override_drag(ui, "seed", &mut p.seed, r.seed, |d| d);
                labeled(ui, "seeds", egui::DragValue::new(&mut p.seeds).range(1..=20))
                    .on_hover_text("Runs per model (seed, seed + 1, ...). One seed cannot tell skips on from off: the gap is often within what another seed changes.");
                ui.end_row();
            });
        let on = resolved.unet;
        let off = UNetConfig { skips: false, ..on };
        ui.label(format!(
            "parameters: {} with skips, {} without",
            on.param_count(),
            off.param_count()
        ));
        ui.small("Without skips each decoder block sees only the upsampled path, so its first convolution has half the input channels.");
        let k = self.settings.params.seeds.max(1);
        let steps = (resolved.epochs * resolved.steps_per_epoch) as f64;
        let (per_step, basis) = match measured_pair_step_s {
            Some(m) => m,
            None => (
                ASSUMED_PAIR_SEED_S / SHAPES_STEPS,
                format!(
                    "assumed: ~{ASSUMED_PAIR_SEED_S:.0} s per seed for the shapes defaults on 2 \
                     cores, release build"
                ),
            ),
        };
        ui.label(format!(
            "Train both = 2 x {k} runs (skips on and off side by side, {k} seed{} each): about {} ({basis}).",
            if k == 1 { "" } else { "s" },
            duration_text(per_step * steps * k as f64),
        ));
    }

    fn train_buttons(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        let running = [self.rt.on, self.rt.off]
            .iter()
            .flatten()
            .any(|id| cx.jobs.get(*id).is_some_and(|j| j.state.is_running()));
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!running, egui::Button::new("Train both"))
                .clicked()
            {
                self.train_both(cx);
            }
            if ui.add_enabled(running, egui::Button::new("Stop")).clicked() {
                for id in [self.rt.on, self.rt.off].into_iter().flatten() {
                    cx.jobs.stop(id);
                }
            }
            let k = self.settings.params.seeds.max(1) as usize;
            let flags = || match self.dataset(cx.data_dir) {
                Ok(ds) => super::train::flags_for(&self.config(ds, true), k),
                Err(_) => Vec::new(),
            };
            crate::widgets::sweep_request::sweep_button(ui, super::keys::ID, flags);
        });
        for (label, id) in [("skips on", self.rt.on), ("skips off", self.rt.off)] {
            if let Some(job) = id.and_then(|id| cx.jobs.get(id)) {
                // The panel is narrow: a long state (the runs a reopened result comes from) is
                // cut at its edge, so the whole text is on hover.
                let text = format!("{label}: {}", job_row::state_text(job));
                ui.add(egui::ProgressBar::new(job.fraction()).text(text.clone()))
                    .on_hover_text(text);
            }
        }
    }

    fn model_controls(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        ui.strong("Use a model");
        let s = &mut self.settings;
        egui::ComboBox::new("seg_model", "model")
            .selected_text(match s.model {
                ModelChoice::SkipsOn => "trained with skips",
                ModelChoice::SkipsOff => "trained without skips",
                ModelChoice::Loaded => "loaded from disk",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut s.model, ModelChoice::SkipsOn, "trained with skips");
                ui.selectable_value(&mut s.model, ModelChoice::SkipsOff, "trained without skips");
                ui.selectable_value(&mut s.model, ModelChoice::Loaded, "loaded from disk");
            });
        if let Some((name, m)) = &self.rt.loaded {
            let u = m.meta.unet;
            ui.small(format!(
                "loaded: {name} (depth {}, base {}, skips {})",
                u.depth,
                u.base,
                if u.skips { "on" } else { "off" }
            ));
        }
        let has_model = self.current_model(cx).is_some();
        let busy = self.rt.infer.is_some() || self.rt.io.is_some();
        ui.horizontal_wrapped(|ui| {
            if ui
                .add_enabled(has_model && !busy, egui::Button::new("Open image..."))
                .clicked()
            {
                cx.files
                    .pick(PICK_IMAGE, false, Some(("Images", &IMAGE_EXTS)));
            }
            if ui
                .add_enabled(has_model && !busy, egui::Button::new("Save model"))
                .clicked()
            {
                cx.files.pick(PICK_SAVE, true, None);
            }
            if ui
                .add_enabled(!busy, egui::Button::new("Load model..."))
                .clicked()
            {
                cx.files.pick(PICK_LOAD, true, None);
            }
        });
        if busy {
            // "Open image..." on a big picture: its tiles as a bar, and a Stop.
            let infer_job = self.rt.infer.and_then(|h| cx.jobs.get(h.id));
            ui.horizontal(|ui| {
                ui.spinner();
                match infer_job {
                    Some(job) => {
                        ui.add(
                            egui::ProgressBar::new(job.fraction())
                                .desired_width(220.0)
                                .text(format!("segmenting: {:.0} %", 100.0 * job.fraction())),
                        );
                        if ui.button("Stop").clicked() {
                            job.stop();
                        }
                    }
                    None => {
                        ui.label("working...");
                    }
                }
            });
        }
        if let Some(m) = &self.rt.message {
            ui.colored_label(egui::Color32::from_rgb(213, 94, 0), m);
        }
    }

    fn texture(
        &mut self,
        ui: &egui::Ui,
        key: String,
        img: &image::RgbaImage,
        version: u64,
    ) -> egui::TextureHandle {
        self.rt
            .textures
            .entry(key.clone())
            .or_default()
            .get(ui.ctx(), &key, img, version)
            .clone()
    }

    /// Wall seconds per optimiser step of the slower of the two configurations Train both would
    /// start, from their earlier finished runs on this machine (the run store, read off the UI
    /// thread), with the words saying so.
    fn stored_pair_step_s(&self, cx: &TabCx<'_>) -> Option<(f64, String)> {
        let ds = self.dataset(cx.data_dir).ok()?;
        let generation = cx
            .jobs
            .iter()
            .filter(|j| j.kind == KIND && !j.state.is_running())
            .count() as u64;
        let mut paces = Vec::new();
        for skips in [true, false] {
            let cfg = self.config(ds.clone(), skips);
            let key = crate::core::runs::pace_key(
                super::keys::ID,
                Some(cfg.dataset.name().as_str()),
                &serde_json::to_value(&cfg).ok()?,
            );
            paces.push(
                self.rt
                    .pace
                    .get(cx.runs_dir(), &key, generation, &cx.waker)?,
            );
        }
        let slower = paces
            .iter()
            .max_by(|a, b| a.secs_per_unit.total_cmp(&b.secs_per_unit))?;
        let runs: usize = paces.iter().map(|p| p.runs).sum();
        Some((
            slower.secs_per_unit * slower.done_fraction,
            format!(
                "measured on this machine: {} of these settings",
                crate::core::runs::count_text(runs, "earlier run")
            ),
        ))
    }

    /// Wall seconds per optimiser step of the last finished Train both pair, when there is one.
    fn measured_pair_step_s(&self, cx: &TabCx<'_>) -> Option<f64> {
        let asked = self.rt.asked?;
        let jobs: Vec<&Job> = [self.rt.on, self.rt.off]
            .iter()
            .filter_map(|id| cx.jobs.get((*id)?))
            .collect();
        // A reopened job did not run in this session: its times say nothing of this machine.
        if jobs.len() < 2
            || jobs
                .iter()
                .any(|j| j.summary().is_none() || j.restored.is_some())
        {
            return None;
        }
        let seeds = jobs
            .iter()
            .map(|j| j.summary().and_then(|s| s["seeds"].as_u64()).unwrap_or(0))
            .min()?;
        let wall = jobs
            .iter()
            .map(|j| j.elapsed().as_secs_f64())
            .fold(0.0, f64::max);
        let steps = (seeds as usize * asked.epochs * asked.steps) as f64;
        (steps > 0.0).then(|| wall / steps)
    }

    fn results(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        // An own image goes first: it is what the user just asked for.
        self.own_image(ui, cx);
        let jobs: Vec<(&str, Option<JobId>, egui::Color32)> = vec![
            // One palette by identity: the colours of the Runs overlay and the report.
            (
                "skips on",
                self.rt.on,
                PALETTE[identity_slot("skips on", "")],
            ),
            (
                "skips off",
                self.rt.off,
                PALETTE[identity_slot("skips off", "")],
            ),
        ];
        let mut loss = Figure::new("Training loss per step", "optimiser step", "train loss");
        loss.y.log = true;
        let mut miou = Figure::new("Validation mIoU", "epoch", "validation mIoU");
        for (name, id, col) in &jobs {
            if let Some(job) = id.and_then(|id| cx.jobs.get(id)) {
                let color = [col.r(), col.g(), col.b()];
                loss.series
                    .extend(seed_series(&job.metrics, "train_loss_step", name, color));
                miou.series.extend(seed_series(
                    &job.metrics,
                    super::keys::metric::VAL_MIOU,
                    name,
                    color,
                ));
            }
        }
        for fig in [&mut loss, &mut miou] {
            // Seed lines under every mean.
            fig.series.sort_by_key(|s| !s.hide_in_legend);
        }
        let saver = cx.saver();
        ui.columns(2, |cols| {
            figure_plot(&mut cols[0], "seg_train_loss", &loss, 200.0, &saver);
            figure_plot(&mut cols[1], "seg_val_miou", &miou, 200.0, &saver);
        });
        self.seeds_table(ui, cx);
        // Headline numbers of each run.
        for (name, id, _) in &jobs {
            if let Some(job) = id.and_then(|id| cx.jobs.get(id))
                && let Some(e) = job.latest::<crate::labs::segmentation::SegEpoch>()
            {
                ui.label(format!(
                        "{name}, latest seed: epoch {}, mIoU {:.3} (class 1 {:.3}, class 0 {:.3}), pixel accuracy {:.3}",
                        e.epoch, e.val_miou, e.val_iou[1], e.val_iou[0], e.pixel_acc
                    ));
            }
        }
        let classes = self
            .current_model(cx)
            .map(|m| m.meta.classes.clone())
            .unwrap_or_else(|| {
                self.dataset(cx.data_dir)
                    .map(|d| d.class_names().map(String::from))
                    .unwrap_or(["interior".into(), "membrane".into()])
            });
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "Classes: class 1 = {} (white), class 0 = {} (black).",
                classes[1], classes[0]
            ));
            ui.colored_label(
                egui::Color32::from_rgb(FP_COLOR[0], FP_COLOR[1], FP_COLOR[2]),
                "orange = false positive",
            );
            ui.colored_label(
                egui::Color32::from_rgb(FN_COLOR[0], FN_COLOR[1], FN_COLOR[2]),
                "blue = false negative",
            );
        });
        ui.separator();
        self.gallery(ui, cx);
        if self.rt.result.is_none() {
            ui.separator();
            ui.label("\"Open image...\" segments an image of your own (PNG, JPEG, BMP, TIFF, any size) with the chosen model, and with and without skips side by side when both are trained.");
        }
    }

    /// Validation mIoU over seeds, skips on and off side by side, with the difference and whether
    /// it exceeds the seed noise. Fills in as seeds finish.
    fn seeds_table(&self, ui: &mut egui::Ui, cx: &TabCx<'_>) {
        let (Some(on), Some(off)) = (
            self.rt.on.and_then(|id| cx.jobs.get(id)),
            self.rt.off.and_then(|id| cx.jobs.get(id)),
        ) else {
            return;
        };
        let epochs = self.rt.asked.map_or(usize::MAX, |a| a.epochs);
        let c = match (on.summary(), off.summary()) {
            (Some(a), Some(b)) => compare_skips(a, b),
            _ => stats::compare(&finished_seeds(on, epochs), &finished_seeds(off, epochs)),
        };
        let per = |j: &Job| match j.summary() {
            Some(s) => s["val_miou_per_seed"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
                .unwrap_or_default(),
            None => finished_seeds(j, epochs),
        };
        let asked = self.rt.asked.map_or(0, |a| a.seeds);
        ui.horizontal(|ui| {
            ui.strong("Validation mIoU over seeds");
            ui.weak(format!("mean ± sample std (n of {asked} seeds finished)"));
        });
        egui::Grid::new("seg_seed_table")
            .striped(true)
            .num_columns(5)
            .show(ui, |ui| {
                for h in [
                    "",
                    "skips on",
                    "skips off",
                    "on − off",
                    "beyond seed noise?",
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                ui.label("val mIoU");
                ui.label(mean_std_text(c.mean_a, c.std_a, c.n_a));
                ui.label(mean_std_text(c.mean_b, c.std_b, c.n_b));
                ui.label(if c.n_a > 0 && c.n_b > 0 {
                    format!("{:+.4}", c.diff)
                } else {
                    "…".into()
                });
                ui.label(verdict_text(&c)).on_hover_text(NOISE_RULE);
                ui.end_row();
                ui.label("per seed");
                for j in [on, off] {
                    let v: Vec<String> = per(j).iter().map(|x| format!("{x:.4}")).collect();
                    ui.label(v.join(", "));
                }
                ui.end_row();
            });
    }

    fn gallery(&mut self, ui: &mut egui::Ui, cx: &TabCx<'_>) {
        let on = self.rt.on.and_then(|id| cx.jobs.get(id));
        let off = self.rt.off.and_then(|id| cx.jobs.get(id));
        let Some(first) = on.or(off) else {
            ui.label("Press \"Train both\" to train the U-Net with and without skip connections on the same data.");
            return;
        };
        ui.strong("Validation gallery: input | target | with skips | without skips");
        let mut rows = Vec::new();
        for i in 0..8 {
            let Some(input) = first.images.get(&format!("input_{i}")) else {
                break;
            };
            let target = first.images.get(&format!("target_{i}"));
            let p_on = on.and_then(|j| j.images.get(&format!("pred_{i}")));
            let p_off = off.and_then(|j| j.images.get(&format!("pred_{i}")));
            rows.push((
                i,
                input.clone(),
                target.cloned(),
                p_on.cloned(),
                p_off.cloned(),
            ));
        }
        let fid = first.id;
        let (on_id, off_id) = (on.map(|j| j.id), off.map(|j| j.id));
        let side = ((ui.available_width() - 40.0) / 4.0).clamp(64.0, 256.0);
        egui::Grid::new("seg_gallery")
            .spacing([6.0, 6.0])
            .show(ui, |ui| {
                for (i, input, target, p_on, p_off) in rows {
                    let cells = [
                        (format!("{fid}-input_{i}"), Some(input)),
                        (format!("{fid}-target_{i}"), target),
                        (format!("{on_id:?}-pred_{i}"), p_on),
                        (format!("{off_id:?}-pred_{i}"), p_off),
                    ];
                    for (key, pic) in cells {
                        match pic {
                            Some((img, v)) => {
                                let tex = self.texture(ui, key, &img, v);
                                ui.add(
                                    egui::Image::from_texture(&tex)
                                        .fit_to_exact_size(egui::vec2(side, side)),
                                );
                            }
                            None => {
                                ui.label("…");
                            }
                        }
                    }
                    ui.end_row();
                }
            });
    }

    /// The viewer of an own image: every model's mask over the image side by side, at native
    /// resolution times the zoom, panned together (drag or scroll; Ctrl + wheel zooms).
    fn own_image(&mut self, ui: &mut egui::Ui, cx: &TabCx<'_>) {
        let Some(res) = self.rt.result.clone() else {
            return;
        };
        let (w, h) = (res.image.width as f32, res.image.height as f32);
        let n = res.preds.len().max(1) as f32;
        let visible = ui.clip_rect().height();
        let mut close = false;
        let frame = egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.strong(format!("Your image: {}", res.path.display()));
                ui.label(format!(
                    "{} x {} px, {}",
                    res.image.width, res.image.height, res.format
                ));
                if ui.small_button("Close").clicked() {
                    close = true;
                }
            });
            if let Some(note) = &res.note {
                ui.colored_label(ui.visuals().warn_fg_color, note);
            }
            let seen: Vec<String> = self
                .models_to_apply(cx)
                .iter()
                .map(|(_, m)| m.meta.dataset.clone())
                .collect();
            ui.colored_label(ui.visuals().warn_fg_color, domain_caveat(&seen));
            let fit = ((ui.available_width() - 12.0 * n) / n / w)
                .min((visible * 0.6 - 40.0) / h)
                .clamp(0.05, 8.0);
            ui.horizontal_wrapped(|ui| {
                ui.add(
                    egui::Slider::new(&mut self.settings.opacity, 0.0..=1.0).text("mask opacity"),
                );
                ui.add(
                    egui::Slider::new(&mut self.settings.zoom, 0.05..=8.0)
                        .logarithmic(true)
                        .text("zoom"),
                );
                if ui.button("1:1").on_hover_text("native pixels").clicked() {
                    self.settings.zoom = 1.0;
                }
                if ui.button("Fit").clicked() {
                    self.settings.zoom = fit;
                }
                if ui
                    .button("Export mask")
                    .on_hover_text("The first model's mask, 0/255, at the image's size")
                    .clicked()
                {
                    let r = res.clone();
                    let name = format!(
                        "{}-mask.png",
                        r.path
                            .file_stem()
                            .and_then(|s| s.to_str())
                            .unwrap_or("image")
                    );
                    cx.saver().save(&name, ("PNG", &["png"]), move || {
                        let probs = &r.preds.first().expect("at least one model").1;
                        infer::mask_png(probs, r.image.width, r.image.height)
                    });
                }
            });
            let key = (Arc::as_ptr(&res) as usize, self.settings.opacity);
            if self.rt.overlay_for != Some(key) {
                self.rt.overlay_imgs = res
                    .preds
                    .iter()
                    .map(|(_, p)| overlay(&res.image, p, FP_COLOR, self.settings.opacity))
                    .collect();
                self.rt.overlay_for = Some(key);
                self.rt.overlay_version += 1;
            }
            let zoom = self.settings.zoom;
            let imgs = self.rt.overlay_imgs.clone();
            let view = egui::ScrollArea::both()
                .id_salt("seg_viewer")
                .max_height((visible * 0.6).max(200.0))
                .auto_shrink([false, true])
                .show(ui, |ui| {
                    ui.horizontal_top(|ui| {
                        for (k, ((label, _), img)) in res.preds.iter().zip(&imgs).enumerate() {
                            let tex = self.texture(
                                ui,
                                format!("seg-overlay-{k}"),
                                img,
                                self.rt.overlay_version,
                            );
                            ui.vertical(|ui| {
                                ui.label(label.as_str());
                                ui.add(
                                    egui::Image::from_texture(&tex)
                                        .fit_to_exact_size(egui::vec2(w * zoom, h * zoom)),
                                );
                            });
                        }
                    });
                });
            if ui.rect_contains_pointer(view.inner_rect) {
                let z = ui.input(|i| i.zoom_delta());
                if z != 1.0 {
                    self.settings.zoom = (self.settings.zoom * z).clamp(0.05, 8.0);
                }
            }
        });
        if std::mem::take(&mut self.rt.scroll_to_viewer) {
            frame.response.scroll_to_me(Some(egui::Align::TOP));
        }
        if close {
            self.rt.result = None;
            self.rt.overlay_imgs.clear();
            self.rt.overlay_for = None;
        }
        ui.separator();
    }
}

/// The seeds of `metric` in a multi-seed run's store ("s3/val_miou") as one seed group: thin
/// seed lines, and one legend entry for their mean ± std.
fn seed_series(metrics: &MetricStore, metric: &str, name: &str, color: [u8; 3]) -> Vec<Series> {
    let seeds: Vec<(String, Vec<[f64; 2]>)> = metrics
        .iter()
        .filter_map(|(series, pts)| {
            let (seed, what) = series.split_once('/')?;
            (what == metric).then(|| (seed.to_string(), pts.to_vec()))
        })
        .collect();
    if seeds.is_empty() {
        return Vec::new();
    }
    let mut group = seed_group(name, color, &seeds);
    if seeds.len() == 1 {
        group.retain(|s| !s.hide_in_legend);
    }
    group
}

/// The validation mIoU of every seed of `job` that ran all `epochs` epochs.
fn finished_seeds(job: &Job, epochs: usize) -> Vec<f64> {
    job.metrics
        .iter()
        .filter(|(series, pts)| series.ends_with("/val_miou") && pts.len() >= epochs)
        .filter_map(|(_, pts)| pts.last().map(|p| p[1]))
        .collect()
}

fn mean_std_text(mean: f64, std: f64, n: usize) -> String {
    match n {
        0 => "…".into(),
        1 => format!("{mean:.4} (1)"),
        _ => format!("{mean:.4} ± {std:.4} ({n})"),
    }
}

fn verdict_text(c: &Comparison) -> String {
    match c.exceeds_noise {
        Some(true) => format!("yes: |{:.4}| > {:.4} (Welch, 5%)", c.diff, c.threshold),
        Some(false) => format!(
            "no: |{:.4}| ≤ {:.4}, within the seed noise",
            c.diff, c.threshold
        ),
        None => "needs ≥ 2 seeds on each side".into(),
    }
}

/// What the models applied to an own image were trained on, and what that means for pictures
/// of another kind.
pub fn domain_caveat(datasets: &[String]) -> String {
    let mut seen: Vec<String> = datasets
        .iter()
        .map(|d| match d.as_str() {
            "shapes" => {
                "synthetic cell images (generated textures with thin membranes)".to_string()
            }
            "isbi" => "ISBI 2012 electron-microscopy slices of neural tissue".to_string(),
            folder => format!("your folder {folder}"),
        })
        .collect();
    seen.dedup();
    let what = if seen.is_empty() {
        "one kind of picture".to_string()
    } else {
        seen.join(" and ")
    };
    format!(
        "These models saw only {what}. On pictures of another kind (histology, photographs) \
         expect fragments: to segment those, train on a folder of your own images and masks \
         (Data: folder)."
    )
}

fn duration_text(secs: f64) -> String {
    if secs < 90.0 {
        format!("{secs:.0} s")
    } else {
        format!("{:.0} min", secs / 60.0)
    }
}

/// A number of the shared config: shows `resolved` (the dataset's default) until edited.
fn override_drag<T: egui::emath::Numeric>(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut Option<T>,
    resolved: T,
    style: impl FnOnce(egui::DragValue<'_>) -> egui::DragValue<'_>,
) {
    let mut v = value.unwrap_or(resolved);
    if labeled(ui, label, style(egui::DragValue::new(&mut v))).changed() {
        *value = Some(v);
    }
    ui.end_row();
}

fn shapes_grid(ui: &mut egui::Ui, shapes: &mut ShapesConfig) {
    egui::Grid::new("shapes_grid")
        .num_columns(2)
        .show(ui, |ui| {
            let mut row = |label: &str, w: egui::DragValue<'_>| {
                labeled(ui, label, w);
                ui.end_row();
            };
            row(
                "image size",
                egui::DragValue::new(&mut shapes.size).range(32..=1024),
            );
            row(
                "images",
                egui::DragValue::new(&mut shapes.count).range(2..=1000),
            );
            row(
                "cell diameter",
                egui::DragValue::new(&mut shapes.cell)
                    .range(8.0..=100.0)
                    .speed(0.5),
            );
            row(
                "membrane width",
                egui::DragValue::new(&mut shapes.membrane)
                    .range(0.5..=6.0)
                    .speed(0.1),
            );
            row(
                "noise",
                egui::DragValue::new(&mut shapes.noise)
                    .range(0.0..=0.5)
                    .speed(0.01),
            );
            row("data seed", egui::DragValue::new(&mut shapes.seed));
        });
}

#[cfg(test)]
mod flow_tests {
    use egui_kittest::kittest::{NodeT, Queryable};

    use super::*;
    use crate::labs::test_world::{World, run_until};
    use crate::widgets::files::{FileMsg, FileTasks};

    fn no_jobs_running(a: &World<SegmentationTab>) -> bool {
        !a.jobs.any_running() && a.jobs.iter().count() > 0
    }

    /// Train both in one session (recorded), then open a fresh tab on the same store: curves,
    /// seeds table, gallery and the trained U-Net are back, and "Open image..." segments with
    /// the reopened model. The skips-off run lost a picture and its weights by hand: what is
    /// left is reopened and the tab says what is missing.
    #[test]
    fn a_new_session_reopens_the_latest_pair_with_gallery_and_model() {
        use crate::core::jobs::Jobs;
        use crate::core::runs::{RecordTo, RunStore};
        use crate::core::{NullSink, StopFlag};
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let data = dir.path().join("datasets");
        let own =
            image::GrayImage::from_fn(40, 30, |x, y| image::Luma([((x * 7 + y * 3) % 256) as u8]));
        own.save_with_format(dir.path().join(PICK_IMAGE), image::ImageFormat::Png)
            .unwrap();
        let tiny = || {
            let mut tab = SegmentationTab::default();
            let s = &mut tab.settings;
            (s.shapes.size, s.shapes.count) = (32, 4);
            let p = &mut s.params;
            (p.depth, p.base, p.epochs, p.steps, p.crop, p.batch, p.seeds) =
                (Some(2), Some(4), Some(2), Some(1), Some(32), Some(2), 1);
            tab
        };
        let trained = tiny();
        let mut miou = Vec::new();
        let mut off_run = 0;
        {
            let store = RunStore::open(&runs).unwrap();
            for skips in [true, false] {
                let cfg = trained.config(trained.dataset(&data).unwrap(), skips);
                let rec = RecordTo {
                    store: Some(&store),
                    command: "",
                };
                let out =
                    run_seeds_recorded(&cfg, &[cfg.seed], rec, &mut NullSink, &StopFlag::new())
                        .unwrap();
                miou.push(out.summary["val_miou_mean"].as_f64().unwrap());
                off_run = out.summary["run_ids"][0].as_i64().unwrap();
            }
        }
        let off_dir = runs.join(off_run.to_string());
        std::fs::remove_file(off_dir.join("images/pred_0.png")).unwrap();
        std::fs::remove_file(off_dir.join("checkpoint/model.safetensors")).unwrap();

        let mut world = World::new(tiny(), data, FileTasks::fixed_dir(dir.path()));
        world.jobs = Jobs::with_runs_dir(Some(runs));
        let mut h = world.harness();
        run_until(&mut h, "the reopened runs", |w| {
            w.lab.rt.on.is_some() && w.lab.rt.off.is_some()
        });
        let (on, off) = (h.state().lab.rt.on.unwrap(), h.state().lab.rt.off.unwrap());
        for id in [on, off] {
            let job = h.state().jobs.get(id).unwrap();
            assert!(job.restored.is_some(), "{} is marked as reopened", job.name);
            assert!(
                job.summary().is_some(),
                "{} ended as {:?}",
                job.name,
                job.state
            );
            assert_eq!(job.metrics.get("s0/val_miou").map(<[_]>::len), Some(2));
        }
        h.get_by_label_contains("skips off: from run #");
        // Curves: one legend entry per model in each plot.
        let legend: Vec<String> = h
            .query_all_by_role(egui::Role::CheckBox)
            .filter_map(|n| n.accesskit_node().label())
            .filter(|l| l.starts_with("skips o"))
            .collect();
        assert_eq!(legend.len(), 4, "{legend:?}");
        // The seeds table shows what was measured.
        for m in &miou {
            h.get_by_label(&format!("{m:.4} (1)"));
        }
        // Gallery: the skips-on pictures are all there; the deleted one is named.
        let jobs = &h.state().jobs;
        for name in ["input_0", "target_0", "pred_0"] {
            assert!(jobs.get(on).unwrap().images.contains_key(name), "{name}");
        }
        assert!(!jobs.get(off).unwrap().images.contains_key("pred_0"));
        assert!(jobs.get(off).unwrap().images.contains_key("input_0"));
        h.get_by_label("Validation gallery: input | target | with skips | without skips");
        let msg = h.state().lab.rt.message.clone().unwrap_or_default();
        assert!(
            msg.contains("pred_0.png") && msg.contains("model.safetensors"),
            "{msg}"
        );

        // The reopened skips-on model segments an own image; the off model's weights are gone.
        let open = h.get_by_label("Open image...");
        assert!(
            !open.accesskit_node().is_disabled(),
            "a reopened model to apply"
        );
        open.click();
        run_until(&mut h, "the segmentation of the own image", |w| {
            w.lab.rt.result.is_some()
        });
        let res = h.state().lab.rt.result.clone().unwrap();
        let labels: Vec<&str> = res.preds.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["with skips"]);
        assert_eq!(res.preds[0].1.len(), 40 * 30);
        assert!(res.preds[0].1.iter().all(|p| (0.0..=1.0).contains(p)));
        // It says what the model saw, and what to do for another kind of picture.
        h.run();
        h.get_by_label_contains("These models saw only synthetic cell images");

        // After the restart the Train both estimate comes from the runs the store holds (the
        // two runs above), not from an assumption.
        let t = std::time::Instant::now();
        while h
            .query_by_label_contains("measured on this machine: 2 earlier runs")
            .is_none()
        {
            assert!(
                t.elapsed() < std::time::Duration::from_secs(30),
                "no estimate from the stored runs"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
            h.run();
        }
    }

    /// What a user does in the tab, end to end: train both, segment an own image, export the
    /// mask, save the model and load it back (dialogs answered by a fixed folder).
    #[test]
    fn train_both_then_segment_own_image_export_mask_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        // A colour image, as microscopes and histology give them: the loader makes it gray and
        // the viewer says so.
        let own = image::RgbImage::from_fn(45, 37, |x, y| {
            image::Rgb([((x * 5 + y * 3) % 256) as u8, (x * 2) as u8, (y * 4) as u8])
        });
        // The pick of "Open image..." returns dir/seg-image; the file is recognised by content.
        own.save_with_format(dir.path().join(PICK_IMAGE), image::ImageFormat::Png)
            .unwrap();
        let mut tab = SegmentationTab::default();
        let s = &mut tab.settings;
        s.shapes.size = 32;
        s.shapes.count = 4;
        let p = &mut s.params;
        (p.depth, p.base, p.epochs, p.steps, p.crop, p.batch) =
            (Some(2), Some(4), Some(1), Some(2), Some(32), Some(2));
        assert_eq!(p.seeds, 3, "three seeds by default");
        let mut h = World::new(
            tab,
            dir.path().join("datasets"),
            FileTasks::fixed_dir(dir.path()),
        )
        .harness();
        h.run_steps(2);

        h.get_by_label("Train both").click();
        h.run_steps(2);
        assert_eq!(
            h.state().jobs.running().count(),
            2,
            "skips on and off train as two jobs"
        );
        run_until(&mut h, "training", no_jobs_running);
        for job in h.state().jobs.iter() {
            assert!(
                job.summary().is_some(),
                "{} ended as {:?}",
                job.name,
                job.state
            );
            assert_eq!(job.summary().unwrap()["seeds"], 3, "{}", job.name);
        }
        // The seeds table: mean ± std (n) for on and off, the difference and the noise verdict.
        let cells: Vec<String> = h
            .query_all_by_label_contains(" ± ")
            // A plain label keeps its text as its value.
            .filter_map(|n| n.accesskit_node().value())
            .filter(|l| l.ends_with("(3)"))
            .collect();
        assert_eq!(cells.len(), 2, "on and off as mean ± std (3): {cells:?}");
        h.get_by_label("beyond seed noise?");
        assert!(
            h.query_by_label_contains("within the seed noise").is_some()
                || h.query_by_label_contains("yes: |").is_some(),
            "a verdict on the difference"
        );
        // The loss reaches the plot per step: 3 seeds x 2 steps, not one point per epoch.
        let on = h.state().lab.rt.on.unwrap();
        let steps = h
            .state()
            .jobs
            .get(on)
            .unwrap()
            .metrics
            .get("s1/train_loss_step")
            .map(<[_]>::len);
        assert_eq!(steps, Some(2));
        // One legend entry per model in each plot; the seeds are thin lines out of the legend.
        let legend: Vec<String> = h
            .query_all_by_role(egui::Role::CheckBox)
            .filter_map(|n| n.accesskit_node().label())
            .filter(|l| l.contains("n = 3"))
            .collect();
        assert_eq!(legend.len(), 4, "{legend:?}");

        h.get_by_label("Open image...").click();
        run_until(&mut h, "the segmentation of the own image", |a| {
            a.jobs
                .iter()
                .any(|j| j.name == "segment image" && !j.state.is_running())
        });
        let seg = h
            .state()
            .jobs
            .iter()
            .find(|j| j.name == "segment image")
            .unwrap();
        assert!(
            seg.summary().is_some(),
            "inference ended as {:?}",
            seg.state
        );
        // The viewer shows both models side by side, in view, with the loader's note.
        h.run_steps(3);
        h.get_by_label_contains("converted to gray");
        for label in ["with skips", "without skips"] {
            let r = h.get_by_label(label).rect();
            assert!(
                r.top() >= 0.0 && r.bottom() <= 900.0,
                "{label} out of view: {r:?}"
            );
        }
        h.get_by_role_and_label(egui::Role::Slider, "zoom");
        h.get_by_role_and_label(egui::Role::Slider, "mask opacity");

        h.get_by_label("Export mask").click();
        run_until(&mut h, "the mask export", |a| {
            matches!(a.files.last_message(), Some(FileMsg::Saved(_)))
        });
        let Some(FileMsg::Saved(mask_path)) = h.state().files.last_message().cloned() else {
            unreachable!()
        };
        let mask = image::open(&mask_path).unwrap();
        assert_eq!(
            (mask.width(), mask.height()),
            (45, 37),
            "the mask has the image's native size"
        );

        h.get_by_label("Save model").click();
        run_until(&mut h, "saving the model", |a| {
            a.jobs
                .iter()
                .any(|j| j.name == "save model" && !j.state.is_running())
        });
        // The picked folder holds the user's files: the model went into a new folder inside it,
        // and loading from the same pick finds it there.
        let saved = dir.path().join("gradlab-model");
        assert!(saved.join("model.safetensors").exists() && saved.join("config.json").exists());
        assert!(mask_path.exists(), "the user's files stay");

        h.get_by_label("Load model...").click();
        run_until(&mut h, "loading the model", |a| {
            a.jobs
                .iter()
                .any(|j| j.name == "load model" && !j.state.is_running())
        });
        let load = h
            .state()
            .jobs
            .iter()
            .find(|j| j.name == "load model")
            .unwrap();
        assert!(load.summary().is_some(), "load ended as {:?}", load.state);
    }
}
