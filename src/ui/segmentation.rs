//! The Segmentation tab: train a U-Net with skips on and off side by side, watch loss and
//! validation mIoU, compare predictions in a gallery, segment an own image, save/load models.
//! Everything slow (training, decoding, inference, checkpoint I/O) runs as a job.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use serde::{Deserialize, Serialize};

use super::plot::{Curve, PictureTexture, PlotSpec, curves_plot};
use super::{PALETTE, TabCx};
use crate::data::seg::image_io::{GrayF32, read_gray};
use crate::data::seg::{DatasetSpec, isbi_dir, shapes::ShapesConfig};
use crate::experiments::seg::render::{FN_COLOR, FP_COLOR, overlay};
use crate::experiments::seg::{
    SegConfig, SegModel, TrainedSeg, UNetConfig, checkpoint, infer, run,
};
use crate::jobs::{JobId, JobState};

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
    invert: bool,
    shapes: ShapesConfig,
    depth: usize,
    base: usize,
    epochs: usize,
    steps: usize,
    crop: usize,
    batch: usize,
    lr: f64,
    dice: f64,
    seed: u64,
    opacity: f32,
    model: ModelChoice,
}

impl Default for Settings {
    fn default() -> Self {
        let c = SegConfig::default();
        Self {
            source: Source::Shapes,
            folder: None,
            invert: false,
            shapes: ShapesConfig::default(),
            depth: c.unet.depth,
            base: c.unet.base,
            epochs: c.epochs,
            steps: c.steps_per_epoch,
            crop: c.crop,
            batch: c.batch,
            lr: c.lr,
            dice: c.dice,
            seed: c.seed,
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

#[derive(Default)]
struct Runtime {
    on: Option<JobId>,
    off: Option<JobId>,
    infer: Option<JobId>,
    io: Option<JobId>,
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

impl SegmentationTab {
    /// "Train both": skips on and off as two jobs on the same data and seed.
    pub fn train_both(&mut self, cx: &mut TabCx<'_>) {
        match self.dataset(cx) {
            Ok(ds) => {
                cx.jobs.clear_finished(KIND);
                for skips in [true, false] {
                    let cfg = self.config(ds.clone(), skips);
                    let name = if skips { "skips on" } else { "skips off" };
                    let id = cx
                        .jobs
                        .spawn(KIND, name, cx.waker.clone(), move |sink, stop| {
                            run(&cfg, sink, stop)
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

    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
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

    fn dataset(&self, cx: &TabCx<'_>) -> Result<DatasetSpec, String> {
        let s = &self.settings;
        match s.source {
            Source::Shapes => Ok(DatasetSpec::Shapes(s.shapes.clone())),
            Source::Isbi => Ok(DatasetSpec::Isbi(isbi_dir(cx.data_dir))),
            Source::Folder => match &s.folder {
                Some(dir) => Ok(DatasetSpec::Folder {
                    dir: dir.clone(),
                    invert: s.invert,
                }),
                None => Err("pick a folder first".into()),
            },
        }
    }

    fn config(&self, dataset: DatasetSpec, skips: bool) -> SegConfig {
        let s = &self.settings;
        SegConfig {
            dataset,
            unet: UNetConfig {
                depth: s.depth,
                base: s.base,
                skips,
            },
            epochs: s.epochs,
            steps_per_epoch: s.steps,
            crop: s.crop,
            batch: s.batch,
            lr: s.lr,
            dice: s.dice,
            seed: s.seed,
            ..SegConfig::default()
        }
    }

    fn take_picked(&mut self, cx: &mut TabCx<'_>) {
        if let Some(p) = cx.files.take_picked(PICK_FOLDER) {
            self.settings.folder = Some(p);
            self.settings.source = Source::Folder;
        }
        if let Some(path) = cx.files.take_picked(PICK_IMAGE) {
            match self.current_model(cx) {
                Some(model) => {
                    let id = cx.jobs.spawn(KIND_IO, "segment image", cx.waker.clone(), move |sink, _stop| {
                        let image = read_gray(&path)?;
                        let m = &model.meta;
                        let probs = infer::predict(&model.net, &image, m.mean, m.std)?;
                        let frac = probs.iter().filter(|&&p| p > 0.5).count() as f64 / probs.len() as f64;
                        let summary = serde_json::json!({"image": path.display().to_string(), "class1_fraction": frac});
                        sink.payload(Box::new(Arc::new(Inferred { path, image, probs })));
                        Ok(summary)
                    });
                    self.rt.infer = Some(id);
                }
                None => self.rt.message = Some("train or load a model first".into()),
            }
        }
        if let Some(dir) = cx.files.take_picked(PICK_SAVE)
            && let Some(model) = self.current_model(cx)
        {
            let metrics = self.current_summary(cx).unwrap_or_default();
            let id = cx.jobs.spawn(
                KIND_IO,
                "save model",
                cx.waker.clone(),
                move |_sink, _stop| {
                    checkpoint::save(&dir, &model, &metrics)?;
                    Ok(serde_json::json!({"saved": dir.display().to_string()}))
                },
            );
            self.rt.io = Some(id);
        }
        if let Some(dir) = cx.files.take_picked(PICK_LOAD) {
            let id = cx.jobs.spawn(
                KIND_IO,
                "load model",
                cx.waker.clone(),
                move |sink, _stop| {
                    let model = checkpoint::load(&dir)?;
                    sink.payload(Box::new(TrainedSeg(Arc::new(model))));
                    Ok(serde_json::json!({"loaded": dir.display().to_string()}))
                },
            );
            self.rt.io = Some(id);
        }
    }

    /// Picks up finished inference / save / load jobs.
    fn collect_io(&mut self, cx: &mut TabCx<'_>) {
        if let Some(id) = self.rt.infer
            && let Some(job) = cx.jobs.get(id)
        {
            match &job.state {
                JobState::Finished(_) => {
                    self.rt.result = job.latest::<Arc<Inferred>>().cloned();
                    self.rt.overlay_for = None;
                    self.rt.infer = None;
                }
                JobState::Failed(e) => {
                    self.rt.message = Some(format!("segmentation failed: {e}"));
                    self.rt.infer = None;
                }
                _ => {}
            }
        }
        if let Some(id) = self.rt.io
            && let Some(job) = cx.jobs.get(id)
        {
            match &job.state {
                JobState::Finished(s) => {
                    if let Some(TrainedSeg(m)) = job.latest::<TrainedSeg>() {
                        let name = s["loaded"].as_str().unwrap_or("model").to_string();
                        self.rt.loaded = Some((name, m.clone()));
                        self.settings.model = ModelChoice::Loaded;
                    }
                    self.rt.message = Some(match s.get("saved") {
                        Some(p) => format!("model saved to {}", p.as_str().unwrap_or("")),
                        None => {
                            format!("model loaded from {}", s["loaded"].as_str().unwrap_or(""))
                        }
                    });
                    self.rt.io = None;
                }
                JobState::Failed(e) => {
                    self.rt.message = Some(e.clone());
                    self.rt.io = None;
                }
                _ => {}
            }
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
            Source::Shapes => {
                egui::Grid::new("shapes_grid")
                    .num_columns(2)
                    .show(ui, |ui| {
                        super::labeled(
                            ui,
                            "image size",
                            egui::DragValue::new(&mut s.shapes.size).range(32..=1024),
                        );
                        ui.end_row();
                        super::labeled(
                            ui,
                            "images",
                            egui::DragValue::new(&mut s.shapes.count).range(2..=1000),
                        );
                        ui.end_row();
                        super::labeled(
                            ui,
                            "cell diameter",
                            egui::DragValue::new(&mut s.shapes.cell)
                                .range(8.0..=100.0)
                                .speed(0.5),
                        );
                        ui.end_row();
                        super::labeled(
                            ui,
                            "membrane width",
                            egui::DragValue::new(&mut s.shapes.membrane)
                                .range(0.5..=6.0)
                                .speed(0.1),
                        );
                        ui.end_row();
                        super::labeled(
                            ui,
                            "noise",
                            egui::DragValue::new(&mut s.shapes.noise)
                                .range(0.0..=0.5)
                                .speed(0.01),
                        );
                        ui.end_row();
                        super::labeled(ui, "data seed", egui::DragValue::new(&mut s.shapes.seed));
                        ui.end_row();
                    });
            }
            Source::Folder => {
                ui.checkbox(&mut s.invert, "class 1 = dark mask pixels").on_hover_text(
                    "Masks are read at their bit depth: 0/1, 0/255 and label maps; class 1 = non-zero. Tick this when your masks draw the boundary in black (as ISBI does)",
                );
            }
            Source::Isbi => {
                ui.small("Validation: 5 of the 30 slices, chosen by the seed. Non-commercial use only (see its README).");
            }
        }
        ui.separator();
        ui.heading("Model and training");
        egui::Grid::new("seg_train_grid")
            .num_columns(2)
            .show(ui, |ui| {
                super::labeled(ui, "depth", egui::DragValue::new(&mut s.depth).range(1..=6));
                ui.end_row();
                super::labeled(
                    ui,
                    "base channels",
                    egui::DragValue::new(&mut s.base).range(2..=64),
                );
                ui.end_row();
                super::labeled(
                    ui,
                    "epochs",
                    egui::DragValue::new(&mut s.epochs).range(1..=500),
                );
                ui.end_row();
                super::labeled(
                    ui,
                    "steps / epoch",
                    egui::DragValue::new(&mut s.steps).range(1..=1000),
                );
                ui.end_row();
                super::labeled(
                    ui,
                    "crop",
                    egui::DragValue::new(&mut s.crop).range(16..=512).speed(8),
                );
                ui.end_row();
                super::labeled(
                    ui,
                    "batch",
                    egui::DragValue::new(&mut s.batch).range(1..=64),
                );
                ui.end_row();
                super::labeled(
                    ui,
                    "learning rate",
                    egui::DragValue::new(&mut s.lr)
                        .range(1e-5..=0.1)
                        .speed(1e-4),
                );
                ui.end_row();
                super::labeled(
                    ui,
                    "Dice weight",
                    egui::DragValue::new(&mut s.dice)
                        .range(0.0..=5.0)
                        .speed(0.05),
                );
                ui.end_row();
                super::labeled(ui, "seed", egui::DragValue::new(&mut s.seed));
                ui.end_row();
            });
        let on = UNetConfig {
            depth: s.depth,
            base: s.base,
            skips: true,
        };
        let off = UNetConfig { skips: false, ..on };
        ui.label(format!(
            "parameters: {} with skips, {} without",
            on.param_count(),
            off.param_count()
        ));
        ui.small("Without skips each decoder block sees only the upsampled path, so its first convolution has half the input channels.");
        ui.separator();
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
                let state = match &job.state {
                    JobState::Running => format!("{:.0}%", job.fraction() * 100.0),
                    JobState::Finished(_) => "done".into(),
                    JobState::Stopped => "stopped".into(),
                    JobState::Failed(e) => format!("failed: {e}"),
                };
                ui.add(egui::ProgressBar::new(job.fraction()).text(format!(
                    "{label}: {state}, {:.0} s",
                    job.elapsed().as_secs_f64()
                )));
            }
        }
        ui.separator();
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
        let saver = cx.saver();
        ui.columns(2, |cols| {
            let c: Vec<Curve> = loss
                .iter()
                .map(|(n, p, col)| Curve::new(n.clone(), p).color(*col))
                .collect();
            curves_plot(
                &mut cols[0],
                &PlotSpec::new("seg_train_loss", "epoch", "train loss")
                    .height(200.0)
                    .log_y(true),
                &c,
                &saver,
            );
            let c: Vec<Curve> = miou
                .iter()
                .map(|(n, p, col)| Curve::new(n.clone(), p).color(*col))
                .collect();
            curves_plot(
                &mut cols[1],
                &PlotSpec::new("seg_val_miou", "epoch", "validation mIoU").height(200.0),
                &c,
                &saver,
            );
        });
        // Headline numbers of each run.
        for (name, id, _) in &jobs {
            if let Some(job) = id.and_then(|id| cx.jobs.get(id))
                && let Some(e) = job.latest::<crate::experiments::seg::SegEpoch>()
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
                self.dataset(cx)
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

#[cfg(test)]
mod flow_tests {
    use std::time::{Duration, Instant};

    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;
    use crate::app::{GradlabApp, Settings as AppSettings, Tab};
    use crate::ui::files::{FileMsg, FileTasks};

    fn run_until(h: &mut Harness<'_, GradlabApp>, what: &str, done: impl Fn(&GradlabApp) -> bool) {
        let t = Instant::now();
        while !done(h.state()) {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(10));
            h.step();
        }
        h.run_steps(2);
    }

    fn no_jobs_running(a: &GradlabApp) -> bool {
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
        let mut app = GradlabApp::new(
            AppSettings::default(),
            dir.path().join("datasets"),
            FileTasks::fixed_dir(dir.path()),
        );
        app.settings.tab = Tab::Segmentation;
        let s = &mut app.settings.segmentation.settings;
        s.shapes.size = 32;
        s.shapes.count = 4;
        (s.depth, s.base, s.epochs, s.steps, s.crop, s.batch) = (2, 4, 1, 2, 32, 2);
        let mut h = Harness::builder()
            .with_size([1280.0, 900.0])
            .build_ui_state(|ui, app: &mut GradlabApp| app.show(ui), app);
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
