//! `gradlab seg`: train a U-Net with skips on or off and print the summary.

use std::path::{Path, PathBuf};

use crate::core::StopFlag;
use crate::core::descriptor::SweepHooks;
use crate::core::files::{foreign_folder, png_bytes};
use crate::core::progress::CliSink;
use crate::core::runs::{RecordTo, RunId, RunStore};
use crate::core::{NullSink, Sink};
use crate::labs::lab::CliOutput as Output;
use crate::labs::lab::{flags_of, parse_flags};
use crate::labs::segmentation::SegConfig;
use crate::labs::segmentation::checkpoint;
use crate::labs::segmentation::config::SegParams;
use crate::labs::segmentation::train::{
    TrainOutput, load_data, new_run, seed_summary, train_recorded, train_seeds,
};

#[derive(clap::Args, Debug)]
pub struct SegArgs {
    #[command(flatten)]
    pub config: SegParams,
    /// Save the checkpoint (model.safetensors, config.json, metrics.json) and predictions.png of
    /// the first seed here (metrics.json holds the summary over all seeds).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print the resolved config as JSON and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// The descriptor's config parser: `gradlab segmentation FLAGS --print-config` as a value.
pub fn print_config(words: &[String], data_dir: &Path) -> anyhow::Result<serde_json::Value> {
    let args: SegArgs = parse_flags(super::keys::ID, words)?;
    Ok(serde_json::to_value(args.config.resolve(data_dir))?)
}

/// How a sweep plans and runs this lab's runs.
pub const SWEEP: SweepHooks = SweepHooks {
    flags: || flags_of::<SegArgs>(super::keys::ID),
    seeds: sweep_seeds,
    plan: sweep_plan,
    run_one: sweep_run_one,
    presets: super::presets::PRESETS,
};

/// The run config of one sweep point and its seeds (`--seed S --seeds K`: S..S+K-1), checked as
/// `gradlab segmentation` checks them.
fn sweep_config(words: &[String], data_dir: &Path) -> anyhow::Result<(SegConfig, Vec<u64>)> {
    let args: SegArgs = parse_flags(super::keys::ID, words)?;
    anyhow::ensure!(args.config.seeds >= 1, "--seeds must be at least 1");
    let cfg = args.config.resolve(data_dir);
    cfg.validate()?;
    let seeds = (cfg.seed..cfg.seed + args.config.seeds).collect();
    Ok((cfg, seeds))
}

fn sweep_seeds(words: &[String], data_dir: &Path) -> anyhow::Result<Vec<Option<u64>>> {
    Ok(sweep_config(words, data_dir)?
        .1
        .into_iter()
        .map(Some)
        .collect())
}

fn sweep_plan(words: &[String], data_dir: &Path) -> anyhow::Result<Vec<(Option<u64>, String)>> {
    let (cfg, seeds) = sweep_config(words, data_dir)?;
    seeds
        .into_iter()
        .map(|seed| {
            let c = SegConfig {
                seed,
                ..cfg.clone()
            };
            let data = load_data(&c, &mut NullSink)?;
            Ok((Some(seed), new_run(&c, &data.fingerprint)?.config_key()))
        })
        .collect()
}

fn sweep_run_one(
    words: &[String],
    data_dir: &Path,
    seed: Option<u64>,
    store: &RunStore,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<RunId> {
    let (cfg, _) = sweep_config(words, data_dir)?;
    let seed = seed.ok_or_else(|| anyhow::anyhow!("a segmentation run needs a seed"))?;
    let c = SegConfig { seed, ..cfg };
    let rec = RecordTo {
        store: Some(store),
        command: "",
    };
    let (_, id) = train_recorded(&c, rec, sink, stop)?;
    id.ok_or_else(|| anyhow::anyhow!("seed {seed} was not recorded"))
}

pub fn run(args: &SegArgs, data_dir: &Path) -> anyhow::Result<Output> {
    run_recorded(args, data_dir, None)
}

/// Trains each seed as its own recorded run (when `store` is given): points, gallery pictures,
/// summary, and the checkpoint as the run's files `checkpoint/*`; the runs of one command group
/// as one configuration.
pub fn run_recorded(
    args: &SegArgs,
    data_dir: &Path,
    store: Option<&RunStore>,
) -> anyhow::Result<Output> {
    let cfg = args.config.resolve(data_dir);
    if args.print_config {
        return Output::config(&cfg);
    }
    anyhow::ensure!(args.config.seeds >= 1, "--seeds must be at least 1");
    // Before minutes of training: a folder of the user's is refused now, not at the end.
    if let Some(dir) = &args.out
        && let Some(why) = foreign_folder(dir)
    {
        anyhow::bail!("--out: {why}");
    }
    let first = cfg.seed;
    let seeds: Vec<u64> = (first..first + args.config.seeds).collect();
    let on_off = if cfg.unet.skips { "on" } else { "off" };
    let mut sink = CliSink::new(&format!("seg skips {on_off}"));
    let rec = RecordTo { store, command: "" };
    let runs = train_seeds(&cfg, &seeds, rec, &mut sink, &StopFlag::new())?;
    sink.finish();
    let run_ids = runs.run_ids;
    let first_out = runs
        .first
        .ok_or_else(|| anyhow::anyhow!("no seed was trained"))?;
    let mut out = TrainOutput {
        summary: seed_summary(&runs.finished, seeds.len(), false),
        ..first_out
    };
    if !run_ids.is_empty() {
        out.summary["run_ids"] = serde_json::json!(run_ids);
    }
    if let Some(dir) = &args.out {
        let mut extra = Vec::new();
        if let Some(pic) = &out.gallery {
            extra.push(("predictions.png", png_bytes(pic)?));
        }
        checkpoint::save_folder(dir, &out.model, &out.summary, &extra)?;
    }
    let s = &out.summary;
    let f = |k: &str| s[k].as_f64().unwrap_or(f64::NAN);
    let human = format!(
        "{} skips {}: val mIoU {:.4} ± {:.4} (mean ± sample std over {} seeds; per seed {}), pixel acc {:.4}, {} params, {:.0} ms/step, {:.1} s\n  validation: {}{}",
        s["dataset"].as_str().unwrap_or("?"),
        if cfg.unet.skips { "on" } else { "off" },
        f("val_miou_mean"),
        f("val_miou_std"),
        s["seeds"],
        s["val_miou_per_seed"],
        f("pixel_acc_mean"),
        s["params"],
        f("ms_per_step_median"),
        f("seconds"),
        s["validation"].as_str().unwrap_or("?"),
        args.out
            .as_ref()
            .map(|d| format!("; first seed saved to {}", d.display()))
            .unwrap_or_default(),
    );
    let mut human = human;
    if !run_ids.is_empty() {
        let ids: Vec<String> = run_ids.iter().map(|i| i.to_string()).collect();
        human.push_str(&format!("\n  runs {}", ids.join(",")));
    }
    Ok(Output {
        json: out.summary,
        human,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labs::segmentation::config::OnOff;
    use image::{GrayImage, Luma};

    fn args(dataset: &str, out: Option<PathBuf>) -> SegArgs {
        SegArgs {
            config: SegParams {
                skips: OnOff::Off,
                dataset: dataset.into(),
                epochs: Some(1),
                steps: Some(2),
                crop: Some(16),
                batch: Some(2),
                lr: Some(1e-3),
                dice: Some(0.5),
                depth: Some(2),
                base: Some(4),
                seed: Some(0),
                invert: false,
                seeds: 1,
            },
            out,
            json: true,
            print_config: false,
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
            "val_miou_mean",
            "val_miou_std",
            "val_miou_per_seed",
            "validation",
            "pixel_acc_mean",
            "params",
            "ms_per_step_median",
            "seconds",
        ] {
            assert!(o.json.get(key).is_some(), "missing {key} in {}", o.json);
        }
        assert_eq!(o.json["skips"], false);
        assert_eq!(
            o.json["params"],
            crate::labs::segmentation::UNetConfig {
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
    fn seeds_are_consecutive_from_the_first() {
        let mut a = args("shapes", None);
        a.config.seeds = 2;
        a.config.seed = Some(4);
        let o = run(&a, Path::new(".")).unwrap();
        assert_eq!(o.json["seed_list"], serde_json::json!([4, 5]));
        assert_eq!(o.json["val_miou_per_seed"].as_array().unwrap().len(), 2);
        assert!(o.human.contains("over 2 seeds"), "{}", o.human);
    }

    #[test]
    fn missing_isbi_is_a_clear_error() {
        let t = tempfile::tempdir().unwrap();
        let e = format!("{:#}", run(&args("isbi", None), t.path()).err().unwrap());
        assert!(e.contains("isbi2012_em") && e.contains("fetch"), "{e}");
    }
}
