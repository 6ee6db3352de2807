//! `gradlab seg`: train a U-Net with skips on or off and print the summary.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Output;
use super::progress::CliSink;
use crate::data::seg::{DatasetSpec, isbi_dir, shapes::ShapesConfig};
use crate::experiments::seg::{SegConfig, checkpoint, train};
use crate::files::{atomic_write, png_bytes};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(clap::Args, Debug)]
pub struct SegArgs {
    /// Skip connections on or off.
    #[arg(long, value_enum, default_value = "on")]
    pub skips: OnOff,
    /// `shapes` (built in), `isbi` (<data-dir>/isbi2012_em) or a folder with images/ and masks/.
    #[arg(long, default_value = "shapes")]
    pub dataset: String,
    /// Epochs (default: 6 for shapes, 10 otherwise).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Optimiser steps per epoch (default: 12 for shapes, 20 otherwise).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Side of the square training crops.
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Weight of the Dice loss added to BCE.
    #[arg(long, default_value_t = 0.0)]
    pub dice: f64,
    #[arg(long, default_value_t = 4)]
    pub depth: usize,
    #[arg(long, default_value_t = 16)]
    pub base: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// For a user folder: class 1 is the dark mask pixels (as in ISBI) instead of the bright ones.
    #[arg(long)]
    pub invert: bool,
    /// Save the checkpoint (model.safetensors, config.json, metrics.json) and predictions.png here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn dataset_spec(name: &str, data_dir: &Path, invert: bool) -> DatasetSpec {
    match name {
        "shapes" => DatasetSpec::Shapes(ShapesConfig::default()),
        "isbi" => DatasetSpec::Isbi(isbi_dir(data_dir)),
        path => DatasetSpec::Folder {
            dir: PathBuf::from(path),
            invert,
        },
    }
}

pub fn run(args: &SegArgs, data_dir: &Path) -> anyhow::Result<Output> {
    run_recorded(args, data_dir, None)
}

/// Trains one recorded run (when `store` is given): points, gallery pictures, summary, and
/// the checkpoint as the run's files `checkpoint/*`.
pub fn run_recorded(
    args: &SegArgs,
    data_dir: &Path,
    store: Option<&crate::core::runs::RunStore>,
) -> anyhow::Result<Output> {
    let mut cfg = SegConfig::for_dataset(dataset_spec(&args.dataset, data_dir, args.invert));
    cfg.unet.skips = args.skips == OnOff::On;
    cfg.unet.depth = args.depth;
    cfg.unet.base = args.base;
    cfg.epochs = args.epochs.unwrap_or(cfg.epochs);
    cfg.steps_per_epoch = args.steps.unwrap_or(cfg.steps_per_epoch);
    cfg.crop = args.size;
    cfg.batch = args.batch;
    cfg.lr = args.lr;
    cfg.dice = args.dice;
    cfg.seed = args.seed;
    let name = format!("seg skips {}", if cfg.unet.skips { "on" } else { "off" });
    let mut sink = CliSink::new(&name);
    let run = crate::core::runs::NewRun {
        lab: "seg".into(),
        name: format!("U-Net {} {}", cfg.dataset.name(), &name[4..]),
        config: serde_json::to_value(&cfg)?,
        seed: Some(cfg.seed),
        dataset: Some(cfg.dataset.name()),
        main_metric: Some("val_miou".into()),
        ..Default::default()
    };
    let (out, run_id) = super::runs::recorded(
        store,
        run,
        &mut sink,
        |s, stop| train(&cfg, s, stop),
        |o| Ok(o.summary.clone()),
        checkpoint_files,
    )?;
    sink.finish();
    if let Some(dir) = &args.out {
        checkpoint::save(dir, &out.model, &out.summary)?;
        if let Some(pic) = &out.gallery {
            let p = dir.join("predictions.png");
            atomic_write(&p, &png_bytes(pic)?)
                .with_context(|| format!("cannot write {}", p.display()))?;
        }
    }
    let s = &out.summary;
    let mut human = format!(
        "{} skips {}: val mIoU {:.4}, IoU per class {}, pixel acc {:.4}, {} params, {:.0} ms/step, {:.1} s{}",
        s["dataset"].as_str().unwrap_or("?"),
        if cfg.unet.skips { "on" } else { "off" },
        s["val_miou"].as_f64().unwrap_or(f64::NAN),
        s["val_iou_per_class"],
        s["pixel_acc"].as_f64().unwrap_or(f64::NAN),
        s["params"],
        s["ms_per_step_median"].as_f64().unwrap_or(f64::NAN),
        s["seconds"].as_f64().unwrap_or(f64::NAN),
        args.out
            .as_ref()
            .map(|d| format!("; saved to {}", d.display()))
            .unwrap_or_default(),
    );
    let mut json = out.summary;
    if let Some(id) = run_id {
        json["run_ids"] = serde_json::json!([id]);
        human.push_str(&format!("\n  run {id}"));
    }
    Ok(Output { json, human })
}

/// The checkpoint as (name, bytes) pairs: saved through a temporary folder because candle
/// writes safetensors only to a path.
fn checkpoint_files(
    out: &crate::experiments::seg::TrainOutput,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let tmp = tempfile::tempdir()?;
    checkpoint::save(tmp.path(), &out.model, &out.summary)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma};

    fn args(dataset: &str, out: Option<PathBuf>) -> SegArgs {
        SegArgs {
            skips: OnOff::Off,
            dataset: dataset.into(),
            epochs: Some(1),
            steps: Some(2),
            size: 16,
            batch: 2,
            lr: 1e-3,
            dice: 0.5,
            depth: 2,
            base: 4,
            seed: 0,
            invert: false,
            out,
            json: true,
        }
    }

    #[test]
    fn folder_run_prints_the_summary_and_saves_a_checkpoint() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        for sub in ["images", "masks"] {
            std::fs::create_dir_all(data.join(sub)).unwrap();
        }
        for i in 0..4 {
            let img =
                GrayImage::from_fn(24, 20, |x, y| Luma([((x * 9 + y * 5 + i * 3) % 256) as u8]));
            img.save(data.join(format!("images/{i}.png"))).unwrap();
            let m = GrayImage::from_fn(24, 20, |x, _| Luma([if x % 6 == 0 { 255 } else { 0 }]));
            m.save(data.join(format!("masks/{i}.png"))).unwrap();
        }
        let out = t.path().join("run");
        let o = run(&args(data.to_str().unwrap(), Some(out.clone())), t.path()).unwrap();
        for key in [
            "dataset",
            "skips",
            "epochs",
            "val_miou",
            "val_iou_per_class",
            "pixel_acc",
            "params",
            "ms_per_step_median",
            "seconds",
        ] {
            assert!(o.json.get(key).is_some(), "missing {key} in {}", o.json);
        }
        assert_eq!(o.json["skips"], false);
        assert_eq!(
            o.json["params"],
            crate::experiments::seg::UNetConfig {
                depth: 2,
                base: 4,
                skips: false
            }
            .param_count()
        );
        for f in [
            "model.safetensors",
            "config.json",
            "metrics.json",
            "predictions.png",
        ] {
            assert!(out.join(f).is_file(), "{f} not written");
        }
        assert!(checkpoint::load(&out).is_ok());
    }

    #[test]
    fn missing_isbi_is_a_clear_error() {
        let t = tempfile::tempdir().unwrap();
        let e = format!("{:#}", run(&args("isbi", None), t.path()).err().unwrap());
        assert!(e.contains("isbi2012_em") && e.contains("fetch"), "{e}");
    }
}
