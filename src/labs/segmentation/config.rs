//! The one config of the Segmentation lab: what the GUI edits and `gradlab seg` parses.
//!
//! Every number left `None` takes the dataset's default from [`SegConfig::for_dataset`], so the
//! defaults (including the per-dataset ones) are written once, and both front ends resolve
//! through [`SegParams::resolve_with`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SegConfig;
use crate::data::seg::{DatasetSpec, isbi_dir, shapes::ShapesConfig};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum OnOff {
    #[default]
    On,
    Off,
}

/// The built-in dataset, and the CLI's default `--dataset`.
pub const SHAPES: &str = "shapes";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default)]
pub struct SegParams {
    /// `shapes` (built in), `isbi` (<data-dir>/isbi2012_em) or a folder with images/ and masks/.
    #[arg(long, default_value = SHAPES)]
    pub dataset: String,
    /// For a user folder: class 1 is the mask's background (value 0, as ISBI's membranes) instead
    /// of its foreground (non-zero).
    #[arg(long)]
    pub invert: bool,
    /// Skip connections on or off (the GUI trains both).
    #[arg(long, value_enum, default_value = "on")]
    pub skips: OnOff,
    /// Epochs (default: the dataset's, see --print-config).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Optimiser steps per epoch (default: the dataset's).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Side of the square training crops.
    #[arg(long = "size")]
    pub crop: Option<usize>,
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    /// Weight of the Dice loss added to BCE.
    #[arg(long)]
    pub dice: Option<f64>,
    /// U-Net levels.
    #[arg(long)]
    pub depth: Option<usize>,
    /// Channels of the first level (doubling per level).
    #[arg(long)]
    pub base: Option<usize>,
    /// First seed; the runs use seeds SEED, SEED+1, ..., SEED+K-1.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Runs per configuration (K). One seed cannot tell skips on from off: the gap between them
    /// is often within what another seed changes, so the summary gives the mean, the sample std
    /// and every seed's value. Costs K times one run; --seeds 1 for a quick look.
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
}

impl Default for SegParams {
    fn default() -> Self {
        Self {
            dataset: SHAPES.into(),
            invert: false,
            skips: OnOff::On,
            epochs: None,
            steps: None,
            crop: None,
            batch: None,
            lr: None,
            dice: None,
            depth: None,
            base: None,
            seed: None,
            seeds: 3,
        }
    }
}

impl SegParams {
    /// The dataset `--dataset` names: `shapes`, `isbi` or a folder path.
    pub fn dataset_spec(&self, data_dir: &Path) -> DatasetSpec {
        match self.dataset.as_str() {
            SHAPES => DatasetSpec::Shapes(ShapesConfig::default()),
            "isbi" => DatasetSpec::Isbi(isbi_dir(data_dir)),
            path => DatasetSpec::Folder {
                dir: PathBuf::from(path),
                invert: self.invert,
            },
        }
    }

    /// The run config for `--dataset` under `data_dir`.
    pub fn resolve(&self, data_dir: &Path) -> SegConfig {
        self.resolve_with(self.dataset_spec(data_dir))
    }

    /// The run config for `dataset`: its defaults, then every field that is set.
    pub fn resolve_with(&self, dataset: DatasetSpec) -> SegConfig {
        let mut c = SegConfig::for_dataset(dataset);
        c.unet.skips = self.skips == OnOff::On;
        let set = |slot: &mut usize, v: Option<usize>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(&mut c.epochs, self.epochs);
        set(&mut c.steps_per_epoch, self.steps);
        set(&mut c.crop, self.crop);
        set(&mut c.batch, self.batch);
        set(&mut c.unet.depth, self.depth);
        set(&mut c.unet.base, self.base);
        c.lr = self.lr.unwrap_or(c.lr);
        c.dice = self.dice.unwrap_or(c.dice);
        c.seed = self.seed.unwrap_or(c.seed);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isbi_gets_its_own_defaults_and_set_fields_win() {
        let dir = Path::new("/data");
        let isbi = SegParams {
            dataset: "isbi".into(),
            ..Default::default()
        };
        let c = isbi.resolve(dir);
        assert_eq!(
            (c.epochs, c.steps_per_epoch),
            (
                SegConfig::for_dataset(DatasetSpec::Isbi(isbi_dir(dir))).epochs,
                SegConfig::for_dataset(DatasetSpec::Isbi(isbi_dir(dir))).steps_per_epoch
            )
        );
        assert_ne!(
            c.epochs,
            SegParams::default().resolve(dir).epochs,
            "isbi and shapes differ in their defaults"
        );
        let c = SegParams {
            epochs: Some(3),
            skips: OnOff::Off,
            ..isbi
        }
        .resolve(dir);
        assert_eq!(c.epochs, 3);
        assert!(!c.unet.skips);
    }
}
