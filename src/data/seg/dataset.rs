//! The segmentation datasets: which data a run trains on, loading it, splitting it and drawing
//! training batches.

pub use super::image::SegImage;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which data a run trains on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DatasetSpec {
    Shapes(super::shapes::ShapesConfig),
    /// The ISBI 2012 folder (`<data_dir>/isbi2012_em`).
    Isbi(PathBuf),
    /// A user folder with `images/` and `masks/`; `invert` makes the mask's background (value 0,
    /// dark) class 1.
    Folder {
        dir: PathBuf,
        invert: bool,
    },
}

impl Default for DatasetSpec {
    fn default() -> Self {
        DatasetSpec::Shapes(super::shapes::ShapesConfig::default())
    }
}

impl DatasetSpec {
    pub fn name(&self) -> String {
        match self {
            DatasetSpec::Shapes(_) => "shapes".into(),
            DatasetSpec::Isbi(_) => "isbi".into(),
            DatasetSpec::Folder { dir, .. } => dir.display().to_string(),
        }
    }

    /// Names of class 0 and class 1.
    pub fn class_names(&self) -> [&'static str; 2] {
        match self {
            DatasetSpec::Folder { invert: false, .. } => ["background", "foreground"],
            DatasetSpec::Folder { invert: true, .. } => ["mask non-zero", "mask 0"],
            _ => ["interior", "membrane"],
        }
    }

    /// Neighbouring ISBI slices are nearly the same picture (one serial-section stack), so a
    /// random slice between two training slices scores optimistically: ISBI validates on a
    /// contiguous block at the end of the stack; other sets on seeded random images.
    pub fn contiguous_validation(&self) -> bool {
        matches!(self, DatasetSpec::Isbi(_))
    }

    /// Default validation count: ISBI 5 of 30, otherwise ~1/6 (at least 1).
    pub fn default_val_count(&self, n: usize) -> usize {
        match self {
            DatasetSpec::Isbi(_) => 5.min(n - 1),
            _ => (n / 6).clamp(1, n - 1),
        }
    }
}

pub fn isbi_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("isbi2012_em")
}

/// Loaded data split into training and validation images.
pub struct SegData {
    pub name: String,
    pub classes: [&'static str; 2],
    pub train: Vec<SegImage>,
    pub val: Vec<SegImage>,
    /// Mean and standard deviation of the training pixels: the model's input normalisation.
    pub mean: f32,
    pub std: f32,
    /// How the validation images were chosen, for summaries.
    pub validation: String,
    /// How the files were read, for the user: colour converted to gray, mask encodings found.
    pub notes: Vec<String>,
    /// sha256 (hex) of every image and mask as decoded, in order, with their names (and the
    /// generator's parameters for generated data): runs on other data never share a group.
    pub fingerprint: String,
}

/// sha256 over what the network sees of a dataset: each image's name, size, pixels (f32, little
/// endian) and class map, in order, after `prefix` (the generator's parameters, say).
pub fn fingerprint(prefix: &str, images: &[SegImage]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(prefix.as_bytes());
    for im in images {
        h.update((im.name.len() as u64).to_le_bytes());
        h.update(im.name.as_bytes());
        h.update((im.image.width as u64).to_le_bytes());
        h.update((im.image.height as u64).to_le_bytes());
        for v in &im.image.data {
            h.update(v.to_le_bytes());
        }
        h.update(&im.mask);
    }
    crate::core::digest::hex(&h.finalize())
}

pub fn load(spec: &DatasetSpec, seed: u64) -> anyhow::Result<SegData> {
    let (all, notes) = match spec {
        DatasetSpec::Shapes(cfg) => {
            cfg.validate()?;
            (super::shapes::generate(cfg), Vec::new())
        }
        DatasetSpec::Isbi(dir) => {
            if !dir.join("images").is_dir() {
                anyhow::bail!(
                    "ISBI 2012 is not at {}: fetch it with `gradlab data fetch isbi2012_em` (or the Datasets tab)",
                    dir.display()
                );
            }
            let f = super::folder::load_folder_noted(dir, true)?;
            (f.images, f.notes)
        }
        DatasetSpec::Folder { dir, invert } => {
            let f = super::folder::load_folder_noted(dir, *invert)?;
            (f.images, f.notes)
        }
    };
    anyhow::ensure!(
        all.len() >= 2,
        "{}: need at least 2 images (one to train, one to validate)",
        spec.name()
    );
    let prefix = match spec {
        DatasetSpec::Shapes(cfg) => format!("shapes {}", serde_json::to_string(cfg)?),
        DatasetSpec::Isbi(_) => "isbi".to_string(),
        DatasetSpec::Folder { invert, .. } => format!("folder invert={invert}"),
    };
    let fingerprint = fingerprint(&prefix, &all);
    let n_val = spec.default_val_count(all.len());
    let n_all = all.len();
    let (train, val, validation) = if spec.contiguous_validation() {
        let (train, val) = split_tail(all, n_val);
        let names: Vec<&str> = val.iter().map(|v| v.name.as_str()).collect();
        let how = format!(
            "the last {n_val} of {n_all} slices in stack order ({}), a contiguous block held out from training; the same for every seed",
            names.join(", ")
        );
        (train, val, how)
    } else {
        let (train, val) = split(all, n_val, seed);
        let how = format!("{n_val} of {n_all} images chosen at random by the seed");
        (train, val, how)
    };
    let (mean, std) = pixel_stats(&train);
    Ok(SegData {
        name: spec.name(),
        classes: spec.class_names(),
        train,
        val,
        mean,
        std,
        validation,
        notes,
        fingerprint,
    })
}

/// Validation set = the last `n_val` images (a contiguous block of a stack in slice order).
pub fn split_tail(mut all: Vec<SegImage>, n_val: usize) -> (Vec<SegImage>, Vec<SegImage>) {
    let val = all.split_off(all.len() - n_val.min(all.len()));
    (all, val)
}

/// Validation set = `n_val` images chosen by `seed`, kept in their original order.
pub fn split(all: Vec<SegImage>, n_val: usize, seed: u64) -> (Vec<SegImage>, Vec<SegImage>) {
    let mut idx: Vec<usize> = (0..all.len()).collect();
    idx.shuffle(&mut StdRng::seed_from_u64(seed ^ 0x5EED_5B11));
    let mut is_val = vec![false; all.len()];
    for &i in &idx[..n_val.min(all.len())] {
        is_val[i] = true;
    }
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for (i, s) in all.into_iter().enumerate() {
        if is_val[i] {
            val.push(s)
        } else {
            train.push(s)
        }
    }
    (train, val)
}

fn pixel_stats(images: &[SegImage]) -> (f32, f32) {
    let (mut s, mut s2, mut n) = (0f64, 0f64, 0f64);
    for im in images {
        for &v in &im.image.data {
            s += v as f64;
            s2 += (v as f64) * (v as f64);
            n += 1.0;
        }
    }
    let mean = s / n.max(1.0);
    let var = (s2 / n.max(1.0) - mean * mean).max(1e-8);
    (mean as f32, var.sqrt().max(1e-3) as f32)
}

/// The largest square crop (a multiple of 8, at most `want`) that fits every training image.
pub fn fit_crop(images: &[SegImage], want: usize) -> usize {
    let min_side = images
        .iter()
        .map(|s| s.image.width.min(s.image.height))
        .min()
        .unwrap_or(want);
    (want.min(min_side) / 8 * 8).max(8)
}

/// A batch of random square crops with random flips and 90-degree rotations: inputs (normalised)
/// and targets, both `[batch, crop, crop]` row-major.
pub fn random_batch(
    images: &[SegImage],
    batch: usize,
    crop: usize,
    mean: f32,
    std: f32,
    rng: &mut StdRng,
) -> (Vec<f32>, Vec<f32>) {
    let mut xs = Vec::with_capacity(batch * crop * crop);
    let mut ts = Vec::with_capacity(batch * crop * crop);
    for _ in 0..batch {
        let im = &images[rng.random_range(0..images.len())];
        let (w, h) = (im.image.width, im.image.height);
        let (ox, oy) = (
            rng.random_range(0..=w - crop),
            rng.random_range(0..=h - crop),
        );
        let (flip, rot) = (rng.random_bool(0.5), rng.random_range(0..4u8));
        for y in 0..crop {
            for x in 0..crop {
                let (mut u, mut v) = (x, y);
                if flip {
                    u = crop - 1 - u;
                }
                for _ in 0..rot {
                    (u, v) = (crop - 1 - v, u);
                }
                let i = (oy + v) * w + ox + u;
                xs.push((im.image.data[i] - mean) / std);
                ts.push(im.mask[i] as f32);
            }
        }
    }
    (xs, ts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::seg::image_io::GrayF32;

    fn img(n: usize, w: usize, h: usize) -> SegImage {
        let data: Vec<f32> = (0..w * h).map(|i| i as f32 / (w * h) as f32).collect();
        let mask = (0..w * h).map(|i| u8::from(i % 3 == 0)).collect();
        SegImage {
            name: n.to_string(),
            image: GrayF32::new(w, h, data),
            mask,
        }
    }

    #[test]
    fn split_is_fixed_by_seed_and_disjoint() {
        let all: Vec<_> = (0..30).map(|i| img(i, 4, 4)).collect();
        let (t1, v1) = split(all.clone(), 5, 7);
        let (_, v2) = split(all.clone(), 5, 7);
        let (_, v3) = split(all, 5, 8);
        assert_eq!((t1.len(), v1.len()), (25, 5));
        assert_eq!(v1, v2);
        assert_ne!(v1, v3);
        assert!(v1.iter().all(|v| t1.iter().all(|t| t.name != v.name)));
    }

    #[test]
    fn tail_split_holds_out_one_contiguous_block() {
        let all: Vec<_> = (0..30).map(|i| img(i, 4, 4)).collect();
        let (t, v) = split_tail(all, 5);
        let names: Vec<&str> = v.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["25", "26", "27", "28", "29"]);
        assert_eq!(t.len(), 25);
        assert!(t.iter().all(|s| s.name.parse::<usize>().unwrap() < 25));
        assert!(DatasetSpec::Isbi(PathBuf::new()).contiguous_validation());
        assert!(!DatasetSpec::default().contiguous_validation());
    }

    /// On the real stack: slices 25..=29 validate, for every seed.
    #[test]
    fn isbi_validates_on_the_last_five_slices() {
        let Some(dir) = crate::core::test_util::data_dir_or_skip("isbi2012_em") else {
            return;
        };
        for seed in [0, 1] {
            let d = load(&DatasetSpec::Isbi(dir.clone()), seed).unwrap();
            let names: Vec<&str> = d.val.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names, ["25", "26", "27", "28", "29"], "seed {seed}");
            assert_eq!(d.train.len(), 25);
            assert!(d.validation.contains("contiguous"), "{}", d.validation);
        }
    }

    #[test]
    fn crops_keep_pixels_and_labels_together() {
        let im = img(0, 12, 10);
        let mut rng = StdRng::seed_from_u64(3);
        let (xs, ts) = random_batch(std::slice::from_ref(&im), 16, 8, 0.0, 1.0, &mut rng);
        assert_eq!(xs.len(), 16 * 64);
        // Every (pixel, label) pair of a crop exists in the source at the same index.
        for (x, t) in xs.iter().zip(&ts) {
            let i = (x * 120.0).round() as usize;
            assert_eq!(*t, i.is_multiple_of(3) as u8 as f32);
        }
        assert_eq!(fit_crop(&[im], 128), 8);
    }
}
