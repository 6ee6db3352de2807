//! A trained model on disk: a folder with `model.safetensors` (all variables, BatchNorm running
//! statistics included), `config.json` (architecture and input normalisation) and
//! `metrics.json` (the run's summary). Each file is written atomically.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use super::unet::{UNet, UNetConfig};
use crate::core::files::{atomic_write, atomic_write_with, replace_folder};

/// What a model needs besides its weights to segment a new image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub unet: UNetConfig,
    /// Input normalisation: (pixel - mean) / std, pixels in [0, 1].
    pub mean: f32,
    pub std: f32,
    /// Names of class 0 and class 1 (the logit is the probability of class 1).
    pub classes: [String; 2],
    pub dataset: String,
}

pub struct SegModel {
    pub net: UNet,
    pub vm: VarMap,
    pub meta: ModelMeta,
}

impl SegModel {
    pub fn new(meta: ModelMeta, seed: u64) -> anyhow::Result<Self> {
        let vm = VarMap::new();
        let net = UNet::new(meta.unet, &vm, seed)?;
        Ok(Self { net, vm, meta })
    }
}

pub const WEIGHTS: &str = "model.safetensors";
pub const CONFIG: &str = "config.json";
pub const METRICS: &str = "metrics.json";

/// Writes the checkpoint's three files into `dir` (created when missing), each atomically.
pub fn save(dir: &Path, model: &SegModel, metrics: &serde_json::Value) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tensors: HashMap<String, Tensor> = {
        let data = model
            .vm
            .data()
            .lock()
            .map_err(|_| anyhow::anyhow!("variable map poisoned"))?;
        data.iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect()
    };
    // candle writes safetensors only to a path: it fills the temporary file that is renamed.
    let path = dir.join(WEIGHTS);
    atomic_write_with(&path, |tmp| {
        candle_core::safetensors::save(&tensors, tmp)
            .with_context(|| format!("cannot write {}", path.display()))
    })?;
    atomic_write(
        &dir.join(CONFIG),
        serde_json::to_string_pretty(&model.meta)?.as_bytes(),
    )?;
    atomic_write(
        &dir.join(METRICS),
        serde_json::to_string_pretty(metrics)?.as_bytes(),
    )?;
    Ok(())
}

/// Writes a model folder whole: `out` must be absent, empty, or a folder gradlab wrote (which is
/// then replaced, stale files included). `extra` are further files, e.g. `predictions.png`.
pub fn save_folder(
    out: &Path,
    model: &SegModel,
    metrics: &serde_json::Value,
    extra: &[(&str, Vec<u8>)],
) -> anyhow::Result<()> {
    replace_folder(out, "the model", |staging| {
        save(staging, model, metrics)?;
        for (name, bytes) in extra {
            atomic_write(&staging.join(name), bytes)?;
        }
        Ok(())
    })
}

/// The model folder a user means by picking `dir` in "Load model...": `dir` itself when it holds
/// a model, else the newest `gradlab-model[-N]` folder that "Save model" made inside it (it does
/// so when the picked folder holds the user's files).
pub fn model_folder_in(dir: &Path) -> std::path::PathBuf {
    if dir.join(CONFIG).is_file() {
        return dir.to_path_buf();
    }
    let number = |name: &str| -> Option<u32> {
        match name.strip_prefix("gradlab-model")? {
            "" => Some(1),
            rest => rest.strip_prefix('-')?.parse().ok(),
        }
    };
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = number(&e.file_name().to_string_lossy())?;
            e.path().join(CONFIG).is_file().then(|| (n, e.path()))
        })
        .max_by_key(|(n, _)| *n)
        .map_or_else(|| dir.to_path_buf(), |(_, p)| p)
}

/// Largest magnitude accepted in a checkpoint: trained U-Net weights and BatchNorm statistics
/// stay many orders below it; beyond it activations overflow f32 and the mask is all one class.
pub const MAX_ABS: f32 = 1e6;

/// Refuses weights that cannot give a meaningful mask: non-finite or absurd values, BatchNorm
/// variances that are not positive, a convolution or BatchNorm scale that is all zero.
fn check_tensor(file: &Path, name: &str, t: &Tensor) -> anyhow::Result<()> {
    let v: Vec<f32> = t
        .to_dtype(candle_core::DType::F32)?
        .flatten_all()?
        .to_vec1()?;
    let at = |i: usize| {
        let mut idx = Vec::new();
        let mut r = i;
        for d in t.dims().iter().rev() {
            idx.push(r % d);
            r /= d;
        }
        idx.reverse();
        format!("{idx:?}")
    };
    let shown = format!("{}: tensor {name}", file.display());
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        let n = v.iter().filter(|x| !x.is_finite()).count();
        bail!(
            "{shown} holds {n} non-finite value(s) (first {} at {}): the weights are damaged",
            v[i],
            at(i)
        );
    }
    if let Some(i) = v.iter().position(|x| x.abs() > MAX_ABS) {
        bail!(
            "{shown} holds {:e} at {}, beyond the sane magnitude {MAX_ABS:e}: the weights are damaged",
            v[i],
            at(i)
        );
    }
    if name.ends_with("running_var")
        && let Some(i) = v.iter().position(|&x| x <= 0.0)
    {
        bail!(
            "{shown} holds the BatchNorm variance {} at {}; a variance must be > 0",
            v[i],
            at(i)
        );
    }
    let is_scale = name.ends_with(".weight") && (t.rank() >= 2 || name.contains("bn"));
    if is_scale && !v.is_empty() && v.iter().all(|&x| x == 0.0) {
        bail!("{shown} is all zero: that layer passes nothing, so every pixel would get one class");
    }
    Ok(())
}

/// The input normalisation must be usable: a finite mean, a finite std that is not tiny.
fn check_normalisation(file: &Path, meta: &ModelMeta) -> anyhow::Result<()> {
    if !meta.mean.is_finite() || meta.mean.abs() > 1e3 {
        bail!(
            "{}: normalisation mean {} is not a usable value (pixels are in [0, 1])",
            file.display(),
            meta.mean
        );
    }
    if !meta.std.is_finite() || !(1e-3..=1e3).contains(&meta.std) {
        bail!(
            "{}: normalisation std {} must be finite and between 0.001 and 1000 (pixels are in [0, 1])",
            file.display(),
            meta.std
        );
    }
    Ok(())
}

pub fn load(dir: &Path) -> anyhow::Result<SegModel> {
    let cpath = dir.join(CONFIG);
    let text = std::fs::read_to_string(&cpath)
        .with_context(|| format!("{}: cannot read", cpath.display()))?;
    let meta: ModelMeta = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a gradlab segmentation config", cpath.display()))?;
    meta.unet
        .validate()
        .with_context(|| format!("{}", cpath.display()))?;
    check_normalisation(&cpath, &meta)?;
    let wpath = dir.join(WEIGHTS);
    let bytes =
        std::fs::read(&wpath).with_context(|| format!("{}: cannot read", wpath.display()))?;
    let stored = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).map_err(|e| {
        anyhow::anyhow!(
            "{}: damaged or truncated safetensors file ({e})",
            wpath.display()
        )
    })?;
    // Before building the model: an edited config.json claiming a far larger network would
    // otherwise allocate it (seconds, gigabytes) only to find the weights do not fit. A rough
    // bound suffices here (param_count leaves out a few buffers); the exact per-tensor check
    // follows once the model exists.
    let stored_count: usize = stored.values().map(|t| t.elem_count()).sum();
    let expected = meta.unet.param_count();
    if expected > 8 * stored_count + (1 << 20) {
        bail!(
            "{}: holds {stored_count} numbers, but the architecture in {} (depth {}, base {}) has {expected}",
            wpath.display(),
            cpath.display(),
            meta.unet.depth,
            meta.unet.base
        );
    }
    let model = SegModel::new(meta, 0).with_context(|| format!("{}", cpath.display()))?;
    let u = model.meta.unet;
    let arch = format!(
        "depth {}, base {}, skips {}",
        u.depth,
        u.base,
        if u.skips { "on" } else { "off" }
    );
    {
        let data = model
            .vm
            .data()
            .lock()
            .map_err(|_| anyhow::anyhow!("variable map poisoned"))?;
        for (name, var) in data.iter() {
            let Some(t) = stored.get(name) else {
                bail!(
                    "{}: has no tensor {name}; the weights are not for the architecture in config.json ({arch})",
                    wpath.display()
                );
            };
            check_tensor(&wpath, name, t)?;
            if t.dims() != var.dims() {
                bail!(
                    "{}: tensor {name} is {:?} but the architecture in config.json ({arch}) needs {:?}",
                    wpath.display(),
                    t.dims(),
                    var.dims()
                );
            }
            var.set(&t.to_dtype(candle_core::DType::F32)?)?;
        }
        if let Some(extra) = stored.keys().find(|k| !data.contains_key(*k)) {
            bail!(
                "{}: has tensor {extra}, which the architecture in config.json ({arch}) does not have",
                wpath.display()
            );
        }
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::seg::image_io::GrayF32;
    use crate::labs::segmentation::infer::predict;

    fn meta(skips: bool) -> ModelMeta {
        ModelMeta {
            unet: UNetConfig {
                depth: 2,
                base: 4,
                skips,
            },
            mean: 0.4,
            std: 0.2,
            classes: ["interior".into(), "membrane".into()],
            dataset: "test".into(),
        }
    }

    #[test]
    fn round_trip_gives_identical_predictions() {
        let dir = tempfile::tempdir().unwrap();
        let model = SegModel::new(meta(true), 5).unwrap();
        // Move the BatchNorm statistics away from their initial values so they must be saved too.
        let x = Tensor::randn(0f32, 3.0, (2, 1, 12, 12), &Device::Cpu).unwrap();
        model.net.forward_t(&x, true).unwrap();
        save(dir.path(), &model, &serde_json::json!({"val_miou": 0.5})).unwrap();
        let back = load(dir.path()).unwrap();
        assert_eq!(back.meta, model.meta);
        let img = GrayF32::new(20, 15, (0..300).map(|i| (i % 13) as f32 / 13.0).collect());
        let (a, b) = (
            predict(&model.net, &img, 0.4, 0.2).unwrap(),
            predict(&back.net, &img, 0.4, 0.2).unwrap(),
        );
        assert_eq!(a, b);
        let fresh = SegModel::new(meta(true), 6).unwrap();
        assert_ne!(predict(&fresh.net, &img, 0.4, 0.2).unwrap(), a);
    }

    #[test]
    fn wrong_architecture_and_truncation_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        save(
            dir.path(),
            &SegModel::new(meta(true), 1).unwrap(),
            &serde_json::json!({}),
        )
        .unwrap();
        // Claim skips off for weights trained with skips on.
        let cpath = dir.path().join(CONFIG);
        atomic_write(
            &cpath,
            serde_json::to_string(&meta(false)).unwrap().as_bytes(),
        )
        .unwrap();
        let e = format!("{:#}", load(dir.path()).err().unwrap());
        assert!(e.contains("architecture") && e.contains("skips off"), "{e}");
        atomic_write(
            &cpath,
            serde_json::to_string(&meta(true)).unwrap().as_bytes(),
        )
        .unwrap();
        let w = dir.path().join(WEIGHTS);
        let bytes = std::fs::read(&w).unwrap();
        std::fs::write(&w, &bytes[..bytes.len() - 100]).unwrap();
        let e = format!("{:#}", load(dir.path()).err().unwrap());
        assert!(
            e.contains("model.safetensors") && e.contains("truncated"),
            "{e}"
        );
    }

    #[test]
    fn a_config_claiming_a_huge_network_fails_before_building_it() {
        let dir = tempfile::tempdir().unwrap();
        save(
            dir.path(),
            &SegModel::new(meta(true), 1).unwrap(),
            &serde_json::json!({}),
        )
        .unwrap();
        let mut big = meta(true);
        big.unet.depth = 6;
        big.unet.base = 64;
        let cpath = dir.path().join(CONFIG);
        atomic_write(&cpath, serde_json::to_string(&big).unwrap().as_bytes()).unwrap();
        let t = std::time::Instant::now();
        let e = format!("{:#}", load(dir.path()).err().unwrap());
        assert!(
            e.contains("model.safetensors") && e.contains("depth 6"),
            "{e}"
        );
        // Building a depth-6 base-64 U-Net takes seconds and hundreds of MB; the check does not.
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }
}
