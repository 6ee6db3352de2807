//! One training run: random augmented crops, AdamW, BCE (+ optional Dice), validation on whole
//! images every epoch with IoU per class and a gallery of predictions.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use candle_core::{Device, Tensor};
use candle_nn::{ParamsAdamW, VarMap};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::adamw::FusedAdamW;
use super::checkpoint::{ModelMeta, SegModel};
use super::infer::predict;
use super::keys::metric;
use super::metrics::Confusion;
use super::render;
use super::unet::{UNet, UNetConfig, count, trainable};
use crate::core::driver::{Epoch, Plan, drive};
use crate::core::events::{Picture, SeedSink, Sink, StopFlag, Summary, ensure_finite};
use crate::core::runs::{NewRun, RecordTo, RunId, recorded_stoppable};
use crate::core::stats::{self, Comparison, mean_std, median};
use crate::data::seg::{self, DatasetSpec, SegData};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SegConfig {
    pub dataset: DatasetSpec,
    pub unet: UNetConfig,
    pub epochs: usize,
    /// Optimiser steps per epoch (an "epoch" here is a fixed number of random crop batches).
    pub steps_per_epoch: usize,
    /// Side of the square training crops (reduced to fit the smallest image).
    pub crop: usize,
    pub batch: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Weight of the soft Dice loss of class 1 added to BCE (0 = BCE only).
    pub dice: f64,
    pub seed: u64,
    /// How many validation images the gallery shows.
    pub gallery: usize,
}

impl Default for SegConfig {
    fn default() -> Self {
        Self {
            dataset: DatasetSpec::default(),
            unet: UNetConfig::default(),
            epochs: 6,
            steps_per_epoch: 12,
            crop: 128,
            batch: 8,
            lr: 2e-3,
            weight_decay: 1e-4,
            dice: 0.0,
            seed: 0,
            gallery: 3,
        }
    }
}

impl SegConfig {
    /// Defaults tuned per dataset so a run fits its time budget on 2 cores.
    pub fn for_dataset(dataset: DatasetSpec) -> Self {
        match dataset {
            DatasetSpec::Shapes(_) => Self {
                dataset,
                ..Self::default()
            },
            _ => Self {
                dataset,
                epochs: 10,
                steps_per_epoch: 20,
                ..Self::default()
            },
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.unet.validate()?;
        anyhow::ensure!(self.epochs >= 1, "epochs must be at least 1");
        anyhow::ensure!(
            self.steps_per_epoch >= 1,
            "steps per epoch must be at least 1"
        );
        anyhow::ensure!(
            (8..=1024).contains(&self.crop),
            "crop must be 8..1024, is {}",
            self.crop
        );
        anyhow::ensure!(
            (1..=256).contains(&self.batch),
            "batch must be 1..256, is {}",
            self.batch
        );
        anyhow::ensure!(
            self.lr > 0.0 && self.lr < 1.0,
            "learning rate must be in (0, 1)"
        );
        anyhow::ensure!(self.dice >= 0.0, "Dice weight must be >= 0");
        Ok(())
    }
}

/// Sent after every epoch.
#[derive(Clone, Debug)]
pub struct SegEpoch {
    pub epoch: usize,
    pub train_loss: f64,
    pub val_miou: f64,
    pub val_iou: [f64; 2],
    pub pixel_acc: f64,
}

/// Sent once at the end: the trained model, for inference and saving.
#[derive(Clone)]
pub struct TrainedSeg(pub Arc<SegModel>);

pub struct TrainOutput {
    pub summary: Summary,
    pub model: Arc<SegModel>,
    /// input | target | prediction with errors, for the gallery images.
    pub gallery: Option<Picture>,
}

pub fn run(cfg: &SegConfig, sink: &mut dyn Sink, stop: &StopFlag) -> anyhow::Result<Summary> {
    Ok(train(cfg, sink, stop)?.summary)
}

/// Scores the model on whole validation images; also returns the probability maps.
fn validate(net: &UNet, data: &SegData) -> anyhow::Result<(Confusion, Vec<Vec<f32>>)> {
    let mut c = Confusion::default();
    let mut probs = Vec::new();
    for im in &data.val {
        let p = predict(net, &im.image, data.mean, data.std)
            .with_context(|| format!("validating on {}", im.name))?;
        c.add(&p, &im.mask);
        probs.push(p);
    }
    Ok((c, probs))
}

fn gallery(
    data: &SegData,
    probs: &[Vec<f32>],
    n: usize,
    sink: &mut dyn Sink,
    first: bool,
) -> Picture {
    let mut rows = Vec::new();
    for (i, (im, p)) in data.val.iter().zip(probs).take(n).enumerate() {
        let win = render::center_window(im.image.width, im.image.height, 192);
        let (inp, tgt) = (
            render::gray(&im.image, win),
            render::mask(&im.mask, im.image.width, win),
        );
        let err = render::errors(p, &im.mask, im.image.width, win);
        if first {
            sink.image(&format!("input_{i}"), inp.clone());
            sink.image(&format!("target_{i}"), tgt.clone());
        }
        sink.image(&format!("pred_{i}"), err.clone());
        rows.push(vec![inp, tgt, err]);
    }
    render::grid(&rows)
}

pub fn train(cfg: &SegConfig, sink: &mut dyn Sink, stop: &StopFlag) -> anyhow::Result<TrainOutput> {
    let t0 = Instant::now();
    let data = load_data(cfg, sink)?;
    train_on(cfg, data, t0, sink, stop)
}

/// The data of `cfg`, checked, with its notes told to `sink`.
pub fn load_data(cfg: &SegConfig, sink: &mut dyn Sink) -> anyhow::Result<seg::SegData> {
    cfg.validate()?;
    sink.log(&format!("loading {}", cfg.dataset.name()));
    let data = seg::load(&cfg.dataset, cfg.seed)?;
    for note in &data.notes {
        sink.log(&format!("{}: {note}", data.name));
    }
    Ok(data)
}

/// Trains on `data` (loaded from `cfg.dataset` since `t0`).
fn train_on(
    cfg: &SegConfig,
    data: seg::SegData,
    t0: Instant,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<TrainOutput> {
    let crop = seg::fit_crop(&data.train, cfg.crop);
    if crop != cfg.crop {
        sink.log(&format!(
            "crop reduced to {crop} to fit the smallest training image"
        ));
    }
    let meta = ModelMeta {
        unet: cfg.unet,
        mean: data.mean,
        std: data.std,
        classes: data.classes.map(String::from),
        dataset: data.name.clone(),
    };
    let vm = VarMap::new();
    let net = UNet::new(cfg.unet, &vm, cfg.seed)?;
    let vars = trainable(&vm);
    let params = count(&vars);
    sink.log(&format!(
        "{}: {} training / {} validation images, crop {crop}, {params} parameters, skips {}",
        data.name,
        data.train.len(),
        data.val.len(),
        if cfg.unet.skips { "on" } else { "off" }
    ));
    let mut opt = FusedAdamW::new(
        vars,
        ParamsAdamW {
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            ..Default::default()
        },
    );
    let mut rng = StdRng::seed_from_u64(cfg.seed.wrapping_add(17));
    let mut last: Option<SegEpoch> = None;
    let mut picture = None;
    let total = (cfg.epochs * cfg.steps_per_epoch) as u64;
    let plan = Plan {
        epochs: cfg.epochs,
        steps_per_epoch: cfg.steps_per_epoch,
        patience: 0,
    };
    let driven = drive(plan, sink, stop, |cx| {
        let epoch = cx.epoch();
        let mut loss_sum = 0.0;
        let ran = cx.steps(|_, step| {
            let (xs, ys) =
                seg::random_batch(&data.train, cfg.batch, crop, data.mean, data.std, &mut rng);
            let x = Tensor::from_vec(xs, (cfg.batch, 1, crop, crop), &Device::Cpu)?;
            let y = Tensor::from_vec(ys, (cfg.batch, 1, crop, crop), &Device::Cpu)?;
            // Forward and backward on buffers (`step.rs`), not through candle's graph.
            let (l, grads) = net.forward_train(&x)?.loss_and_grads(&y, cfg.dice)?;
            let lv = ensure_finite("train loss", l as f64, step)?;
            // Cosine decay to 5% of lr: late epochs refine instead of bouncing around.
            let frac = step as f64 / total.max(1) as f64;
            opt.set_learning_rate(
                cfg.lr * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())),
            );
            opt.step(&grads)?;
            loss_sum += lv;
            // Per step, so the GUI's loss curve moves while an epoch runs (epochs take ~20 s).
            Ok(vec![(metric::TRAIN_LOSS_STEP, lv)])
        })?;
        if ran < cfg.steps_per_epoch {
            // Stopped inside the epoch: no validation of a partial epoch.
            return Ok(Epoch::default());
        }
        let train_loss = loss_sum / ran as f64;
        let (conf, probs) = validate(&net, &data)?;
        let [i0, i1] = conf.iou();
        let ep = SegEpoch {
            epoch,
            train_loss,
            val_miou: conf.miou(),
            val_iou: [i0, i1],
            pixel_acc: conf.pixel_acc(),
        };
        let points = Epoch::new([
            (metric::TRAIN_LOSS.to_string(), train_loss),
            (metric::VAL_MIOU.to_string(), ep.val_miou),
            (metric::val_iou(data.classes[1]), i1),
            (metric::val_iou(data.classes[0]), i0),
            (metric::PIXEL_ACC.to_string(), ep.pixel_acc),
        ]);
        // Checked before the pictures and the log show it.
        ensure_finite("val mIoU", ep.val_miou, epoch)?;
        let pic = gallery(&data, &probs, cfg.gallery, cx.sink, epoch == 1);
        cx.sink.image("gallery", pic.clone());
        picture = Some(pic);
        cx.sink.log(&format!(
            "epoch {epoch}: loss {train_loss:.4}, val mIoU {:.4} ({} {i1:.4}, {} {i0:.4}), pixel acc {:.4}",
            ep.val_miou, data.classes[1], data.classes[0], ep.pixel_acc
        ));
        cx.sink.payload(Box::new(ep.clone()));
        last = Some(ep);
        Ok(points)
    })?;
    let model = Arc::new(SegModel { net, vm, meta });
    let secs = t0.elapsed().as_secs_f64();
    let mut summary = json!({
        "dataset": data.name,
        "skips": cfg.unet.skips,
        "seed": cfg.seed,
        "validation": data.validation,
        "n_train_images": data.train.len(),
        "n_val_images": data.val.len(),
        "epochs": last.as_ref().map_or(0, |e| e.epoch),
        "depth": cfg.unet.depth,
        "base": cfg.unet.base,
        "crop": crop,
        "batch": cfg.batch,
        "params": params,
        "ms_per_step_median": driven.step_ms_median(),
        "seconds": secs,
        "stopped": driven.stopped || stop.is_stopped(),
        "data_notes": data.notes,
    });
    if let Some(e) = &last {
        summary[metric::VAL_MIOU] = json!(e.val_miou);
        summary["val_iou_per_class"] =
            json!({ data.classes[0]: e.val_iou[0], data.classes[1]: e.val_iou[1] });
        summary[metric::PIXEL_ACC] = json!(e.pixel_acc);
        summary[metric::TRAIN_LOSS] = json!(e.train_loss);
    }
    sink.payload(Box::new(TrainedSeg(model.clone())));
    Ok(TrainOutput {
        summary,
        model,
        gallery: picture,
    })
}

/// Trains `cfg` once per seed (weights, crops and, where it is random, the validation split
/// differ per seed) and summarises the validation mIoU over seeds: `val_miou_mean`,
/// `val_miou_std` (sample std), `val_miou_per_seed`, with each seed's summary under `runs`.
/// Series are prefixed per seed ("s1/val_miou"). Returns the model of the first seed too.
pub fn run_seeds(
    cfg: &SegConfig,
    seeds: &[u64],
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<TrainOutput> {
    run_seeds_recorded(cfg, seeds, RecordTo::default(), sink, stop)
}

/// [`run_seeds`], each seed recorded as its own run when `rec` has a store (`run_ids` in the
/// summary).
pub fn run_seeds_recorded(
    cfg: &SegConfig,
    seeds: &[u64],
    rec: RecordTo<'_>,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<TrainOutput> {
    let runs = train_seeds(cfg, seeds, rec, sink, stop)?;
    let first = runs
        .first
        .ok_or_else(|| anyhow::anyhow!("stopped before the first seed"))?;
    let mut summary = seed_summary(&runs.finished, seeds.len(), stop.is_stopped());
    if !runs.run_ids.is_empty() {
        summary["run_ids"] = json!(runs.run_ids);
    }
    Ok(TrainOutput { summary, ..first })
}

/// What [`train_seeds`] trained: the summaries of the seeds that finished (a stopped seed did
/// not finish its epochs and does not enter the statistics), the first seed's output, and the
/// ids of the recorded runs.
pub struct SeedRuns {
    pub finished: Vec<Summary>,
    pub first: Option<TrainOutput>,
    pub run_ids: Vec<RunId>,
}

/// The one multi-seed loop of the GUI and the CLI. Series reach `sink` prefixed per seed while
/// each seed's run records them unprefixed, so seeds group in the store.
pub fn train_seeds(
    cfg: &SegConfig,
    seeds: &[u64],
    rec: RecordTo<'_>,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<SeedRuns> {
    anyhow::ensure!(!seeds.is_empty(), "need at least one seed");
    let mut out = SeedRuns {
        finished: Vec::new(),
        first: None,
        run_ids: Vec::new(),
    };
    for (k, &seed) in seeds.iter().enumerate() {
        if stop.is_stopped() {
            break;
        }
        let c = SegConfig {
            seed,
            ..cfg.clone()
        };
        let mut s = SeedSink {
            inner: &mut *sink,
            prefix: format!("s{seed}/"),
            index: k as u64,
            runs: seeds.len() as u64,
        };
        let (o, id) = train_recorded(&c, rec, &mut s, stop)?;
        sink.log(&format!(
            "seed {seed}: val mIoU {:.4}",
            o.summary[metric::VAL_MIOU].as_f64().unwrap_or(f64::NAN)
        ));
        out.run_ids.extend(id);
        if o.summary["stopped"] != true {
            out.finished.push(o.summary.clone());
        }
        if out.first.is_none() {
            out.first = Some(o);
        }
    }
    Ok(out)
}

/// What the run of `cfg` (its seed included) on data with `fingerprint` is recorded as (the
/// sweeps compute its `config_key` from this before training).
pub fn new_run(cfg: &SegConfig, fingerprint: &str) -> anyhow::Result<NewRun> {
    let on_off = if cfg.unet.skips { "on" } else { "off" };
    let seed = cfg.seed;
    Ok(NewRun {
        lab: super::keys::ID.into(),
        name: format!("U-Net {} skips {on_off} seed {seed}", cfg.dataset.name()),
        config: serde_json::to_value(cfg)?,
        seed: Some(seed),
        dataset: Some(cfg.dataset.name()),
        dataset_sha256: Some(fingerprint.to_string()),
        main_metric: Some(metric::VAL_MIOU.into()),
        ..Default::default()
    })
}

/// One seed of `cfg` as one recorded run (when `rec` has a store): points, gallery pictures,
/// summary, and the checkpoint as the run's files `checkpoint/*`.
pub fn train_recorded(
    cfg: &SegConfig,
    rec: RecordTo<'_>,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<(TrainOutput, Option<RunId>)> {
    let seed = cfg.seed;
    // The data first: its fingerprint is part of the run's identity (and of its group).
    let t0 = Instant::now();
    let data = load_data(cfg, sink).with_context(|| format!("seed {seed}"))?;
    let run = rec.run(new_run(cfg, &data.fingerprint)?);
    recorded_stoppable(
        rec.store,
        run,
        sink,
        stop,
        |s, stop| train_on(cfg, data, t0, s, stop).with_context(|| format!("seed {seed}")),
        |o| Ok(o.summary.clone()),
        checkpoint_files,
    )
}

/// The `gradlab seg` command that trains `cfg` with `seeds` seeds from `cfg.seed` on, for runs
/// started in the GUI: like a CLI run, each seed's run keeps the command of its whole group.
pub fn command_for(cfg: &SegConfig, seeds: usize) -> String {
    let mut args = vec!["gradlab".to_string(), super::keys::ID.into()];
    args.extend(flags_for(cfg, seeds));
    crate::core::runs::quote_args(&args)
}

/// The lab's flags of `cfg` with `seeds` seeds: [`command_for`] without the program and
/// subcommand (what the sweep editor starts from).
pub fn flags_for(cfg: &SegConfig, seeds: usize) -> Vec<String> {
    let (dataset, invert) = match &cfg.dataset {
        DatasetSpec::Folder { dir, invert } => (dir.display().to_string(), *invert),
        d => (d.name(), false),
    };
    let mut args = vec![
        "--dataset".to_string(),
        dataset,
        "--skips".into(),
        (if cfg.unet.skips { "on" } else { "off" }).into(),
        "--epochs".into(),
        cfg.epochs.to_string(),
        "--steps".into(),
        cfg.steps_per_epoch.to_string(),
        "--size".into(),
        cfg.crop.to_string(),
        "--batch".into(),
        cfg.batch.to_string(),
        "--lr".into(),
        cfg.lr.to_string(),
        "--dice".into(),
        cfg.dice.to_string(),
        "--depth".into(),
        cfg.unet.depth.to_string(),
        "--base".into(),
        cfg.unet.base.to_string(),
        "--seed".into(),
        cfg.seed.to_string(),
        "--seeds".into(),
        seeds.to_string(),
    ];
    if invert {
        args.push("--invert".into());
    }
    args
}

/// One seed as [`run`] gives it (the GUI's "Train both"), recorded when `rec` has a store.
pub fn run_recorded(
    cfg: &SegConfig,
    rec: RecordTo<'_>,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<Summary> {
    let (out, id) = train_recorded(cfg, rec, sink, stop)?;
    let mut summary = out.summary;
    if let Some(id) = id {
        summary["run_ids"] = json!([id]);
    }
    Ok(summary)
}

/// The checkpoint as (name, bytes) pairs: saved through a temporary folder because candle
/// writes safetensors only to a path.
pub fn checkpoint_files(out: &TrainOutput) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let tmp = tempfile::tempdir()?;
    super::checkpoint::save(tmp.path(), &out.model, &out.summary)?;
    let mut files = Vec::new();
    for e in std::fs::read_dir(tmp.path())? {
        let e = e?;
        if e.file_type()?.is_file() {
            let name = e.file_name().to_string_lossy().into_owned();
            files.push((format!("checkpoint/{name}"), std::fs::read(e.path())?));
        }
    }
    files.sort();
    Ok(files)
}

/// The multi-seed summary of finished single-seed summaries (see [`run_seeds`]).
pub fn seed_summary(runs: &[Summary], asked: usize, stopped: bool) -> Summary {
    let f = |r: &Summary, k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    let miou: Vec<f64> = runs.iter().map(|r| f(r, metric::VAL_MIOU)).collect();
    let (m, sd) = mean_std(&miou);
    let (acc, _) = mean_std(&runs.iter().map(|r| f(r, "pixel_acc")).collect::<Vec<_>>());
    let mut ms: Vec<f64> = runs.iter().map(|r| f(r, "ms_per_step_median")).collect();
    let first = runs.first().cloned().unwrap_or(Summary::Null);
    json!({
        "dataset": first["dataset"],
        "skips": first["skips"],
        "validation": first["validation"],
        "n_train_images": first["n_train_images"],
        "n_val_images": first["n_val_images"],
        "epochs": first["epochs"],
        "depth": first["depth"],
        "base": first["base"],
        "crop": first["crop"],
        "batch": first["batch"],
        "params": first["params"],
        "seeds": runs.len(),
        "seeds_asked": asked,
        "seed_list": runs.iter().map(|r| r["seed"].clone()).collect::<Vec<_>>(),
        "val_miou_mean": m,
        "val_miou_std": sd,
        "val_miou_per_seed": miou,
        "pixel_acc_mean": acc,
        "ms_per_step_median": median(&mut ms),
        "seconds": runs.iter().map(|r| f(r, "seconds")).sum::<f64>(),
        "stopped": stopped,
        "runs": runs,
    })
}

/// Skips on vs off from two multi-seed summaries: means, spread, the difference (on - off) and
/// whether it exceeds the seed noise (Welch's t-test, see [`stats::NOISE_RULE`]).
pub fn compare_skips(on: &Summary, off: &Summary) -> Comparison {
    let per_seed = |s: &Summary| -> Vec<f64> {
        s["val_miou_per_seed"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
            .unwrap_or_default()
    };
    stats::compare(&per_seed(on), &per_seed(off))
}

/// `gradlab bench`: median ms of one training step (batch 8 x 1 x 128 x 128, depth 4, base 16,
/// skips on, AdamW) and of one 512 x 512 inference, after warm-up.
pub fn bench_steps() -> anyhow::Result<serde_json::Value> {
    let vm = VarMap::new();
    let net = UNet::new(UNetConfig::default(), &vm, 0)?;
    let mut opt = FusedAdamW::new(
        trainable(&vm),
        ParamsAdamW {
            lr: 1e-3,
            ..Default::default()
        },
    );
    let x = Tensor::randn(0f32, 1.0, (8, 1, 128, 128), &Device::Cpu)?;
    let y = Tensor::rand(0f32, 1.0, (8, 1, 128, 128), &Device::Cpu)?
        .ge(0.5)?
        .to_dtype(candle_core::DType::F32)?;
    let (mut times, mut fwd, mut bwd, mut upd) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..8 {
        if i == 2 {
            gradlab_kernels::timers::reset();
        }
        let t = Instant::now();
        let fw = net.forward_train(&x)?;
        let t1 = Instant::now();
        let (_, grads) = fw.loss_and_grads(&y, 0.0)?;
        drop(fw);
        let t2 = Instant::now();
        opt.step(&grads)?;
        if i >= 2 {
            let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
            let t3 = Instant::now();
            times.push(ms(t, t3));
            fwd.push(ms(t, t1));
            bwd.push(ms(t1, t2));
            upd.push(ms(t2, t3));
        }
    }
    let steps = times.len() as f64;
    let top_ops: serde_json::Map<String, serde_json::Value> = gradlab_kernels::timers::take()
        .into_iter()
        .take(12)
        .map(|(k, ms, _)| (k.to_string(), json!((ms / steps * 100.0).round() / 100.0)))
        .collect();
    // The previous path (candle's autograd through `forward_t`, candle_nn's AdamW), same data,
    // so every bench run carries its own before/after.
    let mut graph = Vec::new();
    {
        use candle_nn::Optimizer;
        let vm = VarMap::new();
        let net = UNet::new(UNetConfig::default(), &vm, 0)?;
        let mut opt = candle_nn::AdamW::new(
            trainable(&vm),
            ParamsAdamW {
                lr: 1e-3,
                ..Default::default()
            },
        )?;
        for i in 0..6 {
            let t = Instant::now();
            let l = super::unet::loss(&net.forward_t(&x, true)?, &y, 0.0)?;
            opt.backward_step(&l)?;
            if i >= 2 {
                graph.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    let x512 = Tensor::randn(0f32, 1.0, (1, 1, 512, 512), &Device::Cpu)?;
    let mut inf = Vec::new();
    for i in 0..6 {
        let t = Instant::now();
        let _ = candle_nn::ops::sigmoid(&net.forward_eval(&x512)?)?;
        if i >= 1 {
            inf.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let mut out = json!({
        "unet_step_ms": median(&mut times),
        "unet_forward_ms": median(&mut fwd),
        "unet_backward_ms": median(&mut bwd),
        "unet_optimizer_ms": median(&mut upd),
        "unet_infer_512_ms": median(&mut inf),
        "unet_step_graph_ms": median(&mut graph),
    });
    if !top_ops.is_empty() {
        // Per training step, from GRADLAB_OP_TIMERS.
        out["unet_top_ops_ms"] = serde_json::Value::Object(top_ops);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::VecSink;
    use crate::data::seg::shapes::ShapesConfig;

    /// The smallest run that exercises the whole loop.
    fn tiny() -> SegConfig {
        SegConfig {
            dataset: DatasetSpec::Shapes(ShapesConfig {
                size: 32,
                count: 4,
                cell: 12.0,
                ..Default::default()
            }),
            unet: UNetConfig {
                depth: 2,
                base: 4,
                skips: true,
            },
            crop: 32,
            batch: 2,
            ..Default::default()
        }
    }

    #[test]
    fn short_shapes_run_clearly_improves_miou() {
        let cfg = SegConfig {
            dataset: DatasetSpec::Shapes(ShapesConfig {
                size: 64,
                count: 12,
                cell: 20.0,
                membrane: 3.0,
                ..Default::default()
            }),
            unet: UNetConfig {
                depth: 3,
                base: 8,
                skips: true,
            },
            epochs: 3,
            steps_per_epoch: 12,
            crop: 48,
            batch: 4,
            lr: 5e-3,
            gallery: 1,
            ..Default::default()
        };
        let mut sink = VecSink::default();
        let out = train(&cfg, &mut sink, &StopFlag::new()).unwrap();
        let miou = sink.series("val_miou");
        assert_eq!(miou.len(), 3);
        // Untrained baseline on the same validation images.
        let data = seg::load(&cfg.dataset, cfg.seed).unwrap();
        let vm = VarMap::new();
        let fresh = UNet::new(cfg.unet, &vm, cfg.seed).unwrap();
        let (c0, _) = validate(&fresh, &data).unwrap();
        let last = miou.last().unwrap().1;
        assert!(
            last > c0.miou() + 0.15 && last > 0.6,
            "mIoU untrained {} -> trained {last}",
            c0.miou()
        );
        assert!(
            out.summary["val_iou_per_class"]["membrane"]
                .as_f64()
                .unwrap()
                > 0.3,
            "{}",
            out.summary
        );
        assert!(sink.latest_payload::<TrainedSeg>().is_some());
        assert!(out.gallery.is_some());
    }

    #[test]
    fn seeds_give_mean_std_and_per_seed_values_and_repeat() {
        let cfg = SegConfig {
            epochs: 1,
            steps_per_epoch: 2,
            ..tiny()
        };
        let mut sink = VecSink::default();
        let out = run_seeds(&cfg, &[0, 1, 2], &mut sink, &StopFlag::new()).unwrap();
        let s = &out.summary;
        let per: Vec<f64> = s["val_miou_per_seed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(per.len(), 3);
        assert_eq!(s["seeds"], 3);
        assert_eq!(s["seed_list"], json!([0, 1, 2]));
        let (m, sd) = mean_std(&per);
        assert!((s["val_miou_mean"].as_f64().unwrap() - m).abs() < 1e-12);
        assert!((s["val_miou_std"].as_f64().unwrap() - sd).abs() < 1e-12);
        assert!(
            per[0] != per[1] || per[1] != per[2],
            "seeds differ: {per:?}"
        );
        assert_eq!(sink.series("s2/val_miou").len(), 1);
        // One loss point per optimiser step, numbered from 1.
        let steps = sink.series("s1/train_loss_step");
        assert_eq!(
            steps.iter().map(|p| p.0).collect::<Vec<_>>(),
            vec![1.0, 2.0]
        );
        let c = compare_skips(s, s);
        assert_eq!((c.diff, c.exceeds_noise), (0.0, Some(false)));
    }

    #[test]
    fn stop_flag_ends_the_run_early() {
        let cfg = tiny();
        let stop = StopFlag::new();
        stop.stop();
        let out = train(&cfg, &mut VecSink::default(), &stop).unwrap();
        assert_eq!(out.summary["epochs"], 0);
        assert_eq!(out.summary["stopped"], true);
    }

    #[test]
    fn divergence_is_an_error() {
        // Decoupled weight decay of lr * wd = 5e5 multiplies every weight (BatchNorm's scale
        // included) by about -5e5 per step: the weights overflow f32 within a few steps, so this
        // run must diverge, and divergence must be an error naming the loss, never NaN metrics.
        let cfg = SegConfig {
            lr: 0.5,
            weight_decay: 1e6,
            epochs: 2,
            steps_per_epoch: 10,
            ..tiny()
        };
        let mut sink = VecSink::default();
        let e = train(&cfg, &mut sink, &StopFlag::new())
            .err()
            .expect("the run diverges");
        assert!(format!("{e:#}").contains("diverged"), "{e:#}");
        assert!(sink.series("train_loss").iter().all(|(_, v)| v.is_finite()));
    }
}
