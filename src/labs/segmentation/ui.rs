//! The Segmentation tab: train a U-Net with skips on and off side by side, watch loss and
//! validation mIoU, compare predictions in a gallery, segment an own image, save/load models.
//! Everything slow (training, decoding, inference, checkpoint I/O) runs as a job.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::core::Summary;
use crate::core::jobs::{JobHandle, JobId, JobOutput};
use crate::data::seg::image_io::{GrayF32, read_gray};
use crate::data::seg::{DatasetSpec, isbi_dir, shapes::ShapesConfig};
use crate::labs::segmentation::config::SegParams;
use crate::labs::segmentation::render::{FN_COLOR, FP_COLOR, overlay};
use crate::labs::segmentation::{
    SegConfig, SegModel, TrainedSeg, UNetConfig, checkpoint, infer, run_recorded,
};
use crate::labs::{Lab, load_ron, save_ron};
use crate::widgets::job_row;
use crate::widgets::metric_panel::{Panel, metric_panel};
use crate::widgets::plot::{Curve, PictureTexture, PlotSpec};
use crate::widgets::{PALETTE, TabCx, labeled};

const KIND: &str = "seg";
const KIND_IO: &str = "seg-io";
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
            model: ModelChoice::SkipsOn,
        }
    }
}

/// An own image segmented by a model.
struct Inferred {
    path: PathBuf,
    image: GrayF32,
    probs: Vec<f32>,
}

impl JobOutput for Arc<Inferred> {
    fn summary(&self) -> Summary {
        let frac =
            self.probs.iter().filter(|&&p| p > 0.5).count() as f64 / self.probs.len().max(1) as f64;
        serde_json::json!({"image": self.path.display().to_string(), "class1_fraction": frac})
    }
}

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
    on: Option<JobId>,
    off: Option<JobId>,
    infer: Option<JobHandle<Arc<Inferred>>>,
    io: Option<JobHandle<ModelIo>>,
    loaded: Option<(String, Arc<SegModel>)>,
    result: Option<Arc<Inferred>>,
    overlay_version: u64,
    overlay_for: Option<(usize, f32)>,
    overlay_img: Option<image::RgbaImage>,
    textures: HashMap<String, PictureTexture>,
    message: Option<String>,
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
        "segmentation"
    }
    fn title(&self) -> &'static str {
        "Segmentation"
    }
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        self.take_picked(cx);
        self.collect_io(cx);
        egui::Panel::left("seg_controls")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| {
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
}

impl SegmentationTab {
    /// "Train both": skips on and off as two jobs on the same data and seed.
    pub fn train_both(&mut self, cx: &mut TabCx<'_>) {
        match self.dataset(cx.data_dir) {
            Ok(ds) => {
                cx.jobs.clear_finished(KIND);
                for skips in [true, false] {
                    let cfg = self.config(ds.clone(), skips);
                    let name = if skips { "skips on" } else { "skips off" };
                    // Recorded as a run, the store opened on the job thread (never the UI's).
                    let runs = cx.runs_dir().map(std::path::Path::to_path_buf);
                    let id = cx
                        .jobs
                        .spawn(KIND, name, cx.waker.clone(), move |sink, stop| {
                            let store = crate::core::runs::open_for_job(runs.as_deref(), sink);
                            let command = super::train::command_for(&cfg);
                            let rec = crate::core::runs::RecordTo {
                                store: store.as_ref(),
                                command: &command,
                            };
                            run_recorded(&cfg, rec, sink, stop)
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
            match self.current_model(cx) {
                Some(model) => {
                    let h = cx.jobs.spawn_typed(
                        KIND_IO,
                        "segment image",
                        cx.waker.clone(),
                        move |_sink, _stop| {
                            let image = read_gray(&path)?;
                            let m = &model.meta;
                            let probs = infer::predict(&model.net, &image, m.mean, m.std)?;
                            Ok(Arc::new(Inferred { path, image, probs }))
                        },
                    );
                    self.rt.infer = Some(h);
                }
                None => self.rt.message = Some("train or load a model first".into()),
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
                    checkpoint::save(&dir, &model, &metrics)?;
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
                    let model = checkpoint::load(&dir)?;
                    Ok(ModelIo::Loaded(dir, Arc::new(model)))
                },
            );
            self.rt.io = Some(h);
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
        self.training_controls(ui, cx.data_dir);
        ui.separator();
        self.train_buttons(ui, cx);
        ui.separator();
        self.model_controls(ui, cx);
    }

    fn data_controls(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        let s = &mut self.settings;
        ui.heading("Data");
        let isbi_present = isbi_dir(cx.data_dir).join("images").is_dir();
        ui.radio_value(&mut s.source, Source::Shapes, "shapes (generated cells)");
        ui.add_enabled_ui(isbi_present, |ui| {
            ui.radio_value(&mut s.source, Source::Isbi, "ISBI 2012 EM (30 slices)")
        })
        .response
        .on_disabled_hover_text("Not downloaded: fetch isbi2012_em in the Datasets tab");
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
    fn training_controls(&mut self, ui: &mut egui::Ui, data_dir: &Path) {
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
            });
        let on = resolved.unet;
        let off = UNetConfig { skips: false, ..on };
        ui.label(format!(
            "parameters: {} with skips, {} without",
            on.param_count(),
            off.param_count()
        ));
        ui.small("Without skips each decoder block sees only the upsampled path, so its first convolution has half the input channels.");
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
        });
        for (label, id) in [("skips on", self.rt.on), ("skips off", self.rt.off)] {
            if let Some(job) = id.and_then(|id| cx.jobs.get(id)) {
                ui.add(
                    egui::ProgressBar::new(job.fraction())
                        .text(format!("{label}: {}", job_row::state_text(job))),
                );
            }
        }
    }

    fn model_controls(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        ui.heading("Use a model");
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
        ui.horizontal(|ui| {
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
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("working...");
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

    fn results(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        let jobs: Vec<(&str, Option<JobId>, egui::Color32)> = vec![
            ("skips on", self.rt.on, PALETTE[0]),
            ("skips off", self.rt.off, PALETTE[1]),
        ];
        let mut loss = Vec::new();
        let mut miou = Vec::new();
        for (name, id, col) in &jobs {
            if let Some(job) = id.and_then(|id| cx.jobs.get(id)) {
                if let Some(p) = job.metrics.get("train_loss") {
                    loss.push((name.to_string(), p.to_vec(), *col));
                }
                if let Some(p) = job.metrics.get("val_miou") {
                    miou.push((name.to_string(), p.to_vec(), *col));
                }
            }
        }
        metric_panel(
            ui,
            &cx.saver(),
            Panel {
                spec: PlotSpec::new("seg_train_loss", "epoch", "train loss")
                    .height(200.0)
                    .log_y(true),
                curves: loss
                    .iter()
                    .map(|(n, p, col)| Curve::new(n.clone(), p).color(*col))
                    .collect(),
            },
            Panel {
                spec: PlotSpec::new("seg_val_miou", "epoch", "validation mIoU").height(200.0),
                curves: miou
                    .iter()
                    .map(|(n, p, col)| Curve::new(n.clone(), p).color(*col))
                    .collect(),
            },
        );
        // Headline numbers of each run.
        for (name, id, _) in &jobs {
            if let Some(job) = id.and_then(|id| cx.jobs.get(id))
                && let Some(e) = job.latest::<crate::labs::segmentation::SegEpoch>()
            {
                ui.label(format!(
                        "{name}: epoch {}, mIoU {:.3} (class 1 {:.3}, class 0 {:.3}), pixel accuracy {:.3}",
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
        ui.separator();
        self.own_image(ui, cx);
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

    fn own_image(&mut self, ui: &mut egui::Ui, cx: &TabCx<'_>) {
        let Some(res) = self.rt.result.clone() else {
            ui.label("\"Open image...\" segments an image of your own (PNG, JPEG, BMP, TIFF, any size) with the chosen model.");
            return;
        };
        ui.horizontal(|ui| {
            ui.strong(res.path.display().to_string());
            ui.add(egui::Slider::new(&mut self.settings.opacity, 0.0..=1.0).text("mask opacity"));
            if ui.button("Export mask").clicked() {
                let r = res.clone();
                let name = format!(
                    "{}-mask.png",
                    r.path
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or("image")
                );
                cx.saver().save(&name, ("PNG", &["png"]), move || {
                    infer::mask_png(&r.probs, r.image.width, r.image.height)
                });
            }
        });
        let key = (Arc::as_ptr(&res) as usize, self.settings.opacity);
        if self.rt.overlay_for != Some(key) {
            self.rt.overlay_img = Some(overlay(
                &res.image,
                &res.probs,
                FP_COLOR,
                self.settings.opacity,
            ));
            self.rt.overlay_for = Some(key);
            self.rt.overlay_version += 1;
        }
        if let Some(img) = self.rt.overlay_img.clone() {
            let tex = self.texture(ui, "seg-overlay".into(), &img, self.rt.overlay_version);
            let w = ui.available_width().min(img.width() as f32);
            let h = w * img.height() as f32 / img.width() as f32;
            ui.add(egui::Image::from_texture(&tex).fit_to_exact_size(egui::vec2(w, h)));
        }
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
    use egui_kittest::kittest::Queryable;

    use super::*;
    use crate::labs::test_world::{World, run_until};
    use crate::widgets::files::{FileMsg, FileTasks};

    fn no_jobs_running(a: &World<SegmentationTab>) -> bool {
        !a.jobs.any_running() && a.jobs.iter().count() > 0
    }

    /// What a user does in the tab, end to end: train both, segment an own image, export the
    /// mask, save the model and load it back (dialogs answered by a fixed folder).
    #[test]
    fn train_both_then_segment_own_image_export_mask_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let own =
            image::GrayImage::from_fn(45, 37, |x, y| image::Luma([((x * 5 + y * 3) % 256) as u8]));
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
        }

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
        assert!(
            dir.path().join("model.safetensors").exists()
                && dir.path().join("config.json").exists()
        );

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
