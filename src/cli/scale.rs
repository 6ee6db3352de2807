//! `gradlab bench --only scale`: how time and memory grow with the work. Every row runs in its own
//! child process (this binary, `bench --scale-child SPEC`), so its peak RSS (VmHWM) is its own.
//!
//! - graph rows: GCN (hidden 64) and GAT (8 heads x 8) training epochs on random graphs shaped
//!   like ogbn-arxiv: N nodes, 5 N random undirected pairs stored both ways, 128 dense features,
//!   40 classes; the PyG side is `../shared/bench/graph_scale_bench.py`.
//! - U-Net inference (default model, depth 4, base 16) through `predict`'s streaming path: an
//!   8-bit gray picture in, a 1-byte mask out, tiles as `infer::Plan` cuts them.
//! - U-Net training steps at crops 128, 256 and 512 (batch 8), as `bench --only seg` times them.

use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::core::sysinfo::peak_rss_mib;

/// Graph sizes by default.
pub const NODES: [usize; 3] = [10_000, 100_000, 1_000_000];
/// U-Net inference sizes (width, height).
pub const INFER: [(usize, usize); 5] = [
    (512, 512),
    (2048, 2048),
    (8192, 8192),
    (1, 10_000),
    (64, 100_000),
];
/// U-Net step crops (batch 8).
pub const CROPS: [usize; 3] = [128, 256, 512];
pub const STEP_BATCH: usize = 8;

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs `bench --json --scale-child spec` in a child process and returns its JSON row.
fn child(spec: &str) -> anyhow::Result<Value> {
    eprintln!("bench: scale {spec} ...");
    let exe = std::env::current_exe().context("cannot find this program to run a bench child")?;
    let out = Command::new(exe)
        .args(["bench", "--json", "--scale-child", spec])
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("bench child {spec} did not start"))?;
    anyhow::ensure!(
        out.status.success(),
        "bench child {spec} failed ({})",
        out.status
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("bench child {spec} printed no JSON"))?;
    Ok(v["row"].clone())
}

/// The whole scale part: `{graph_scale, unet_infer_scale, unet_step_scale}`.
pub fn run(nodes: &[usize]) -> anyhow::Result<Value> {
    let mut graph = Vec::new();
    for &n in nodes {
        for model in ["gcn", "gat"] {
            graph.push(child(&format!("graph:{model}:{n}"))?);
        }
    }
    let mut infer = Vec::new();
    for (w, h) in INFER {
        infer.push(child(&format!("infer:{w}:{h}"))?);
    }
    let mut step = Vec::new();
    for c in CROPS {
        step.push(child(&format!("step:{c}"))?);
    }
    Ok(json!({
        "graph_scale": graph,
        "unet_infer_scale": infer,
        "unet_step_scale": step,
        "cpu": cpu_name(),
    }))
}

fn cpu_name() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |k: &str| {
        info.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let flags = field("flags");
    let simd = if flags.split(' ').any(|f| f == "avx512f") {
        "AVX-512"
    } else if flags.split(' ').any(|f| f == "avx2") {
        "AVX2"
    } else {
        "no AVX2"
    };
    format!("{} ({simd})", field("model name"))
}

/// One row, in this (child) process: `{"row": {...}}`.
pub fn child_row(spec: &str) -> anyhow::Result<Value> {
    let parts: Vec<&str> = spec.split(':').collect();
    let num = |i: usize| -> anyhow::Result<usize> {
        parts
            .get(i)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad scale spec {spec}"))
    };
    let mut row = match parts.first().copied() {
        Some("graph") => graph_row(parts.get(1).copied().unwrap_or(""), num(2)?)?,
        Some("infer") => infer_row(num(1)?, num(2)?)?,
        Some("step") => step_row(num(1)?)?,
        _ => anyhow::bail!("bad scale spec {spec}"),
    };
    row["peak_rss_mib"] = json!(peak_rss_mib().map(|m| (m * 10.0).round() / 10.0));
    Ok(json!({ "row": row }))
}

/// A random graph shaped like ogbn-arxiv (see the module notes), trained on all nodes but two.
pub fn random_graph(n: usize, seed: u64) -> crate::data::graph::Graph {
    use crate::data::graph::{BinaryFeatures, Graph, Split};
    const FEATURES: usize = 128;
    const CLASSES: usize = 40;
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut edges: Vec<(u32, u32)> = (0..5 * n)
        .map(|_| (rng.random_range(0..n as u32), rng.random_range(0..n as u32)))
        .filter(|(u, v)| u != v)
        .map(|(u, v)| (u.min(v), u.max(v)))
        .collect();
    edges.sort_unstable();
    edges.dedup();
    let normal = rand_distr::StandardNormal;
    let values: Vec<f32> = (0..n * FEATURES).map(|_| rng.sample(normal)).collect();
    let features = BinaryFeatures {
        cols: FEATURES,
        indptr: (0..=n).map(|i| i * FEATURES).collect(),
        indices: (0..n).flat_map(|_| 0..FEATURES as u32).collect(),
        values,
    };
    let labels = (0..n)
        .map(|_| rng.random_range(0..CLASSES as u32))
        .collect();
    let nodes = n as u32;
    Graph {
        name: format!("random {n} nodes"),
        node_names: (0..n).map(|i| i.to_string()).collect(),
        features,
        labels,
        class_names: (0..CLASSES).map(|c| c.to_string()).collect(),
        edges,
        notes: Vec::new(),
        unlabelled: Vec::new(),
        given_split: Some(Split {
            train: (0..nodes - 2).collect(),
            val: vec![nodes - 2],
            test: vec![nodes - 1],
        }),
        fingerprint: format!("random-{n}-{seed}"),
        raw_features: true,
    }
}

fn graph_row(model: &str, n: usize) -> anyhow::Result<Value> {
    use crate::labs::graphs::train::Trainer;
    use crate::labs::graphs::{GraphConfig, ModelKind, Preset};
    let kind = match model {
        "gcn" => ModelKind::Gcn,
        "gat" => ModelKind::Gat,
        _ => anyhow::bail!("bad model {model}"),
    };
    let graph = random_graph(n, 0);
    let directed_edges = 2 * graph.edges.len();
    let mut cfg = GraphConfig {
        snapshot_every: 0,
        split: crate::data::graph::SplitKind::Planetoid,
        ..GraphConfig::preset(kind, Preset::Paper)
    };
    match kind {
        // As graph_scale_bench.py's GCN: dropout 0.5 on the input features too.
        ModelKind::Gcn => {
            cfg.hidden = 64;
            cfg.input_dropout = true;
        }
        _ => {
            cfg.hidden = 8;
            cfg.heads = 8;
            cfg.out_heads = 1;
        }
    }
    let mut tr = Trainer::new(&cfg, &graph)?;
    drop(graph);
    // Like graph_scale_bench.py: one warm-up epoch, then the median of 3 (2 for a 1M-node GAT).
    let timed = if n >= 1_000_000 && kind == ModelKind::Gat {
        2
    } else {
        3
    };
    let mut times = Vec::new();
    for e in 0..=timed {
        let t = Instant::now();
        tr.train_step().context("training step failed")?;
        if e > 0 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let ms = median(times);
    Ok(json!({
        "model": model,
        "nodes": n,
        "directed_edges": directed_edges,
        "epoch_ms_median": round2(ms),
        "ns_per_edge": round2(ms * 1e6 / directed_edges.max(1) as f64),
    }))
}

fn infer_row(w: usize, h: usize) -> anyhow::Result<Value> {
    use crate::data::seg::image_io::GrayPlane;
    use crate::labs::segmentation::infer::{MARGIN, Plan, TILE, predict_stream};
    use crate::labs::segmentation::unet::{UNet, UNetConfig};
    let vm = candle_nn::VarMap::new();
    let net = UNet::new(UNetConfig::default(), &vm, 0)?;
    let mut rng = SmallRng::seed_from_u64(1);
    let pixels: Vec<u8> = (0..w * h).map(|_| rng.random()).collect();
    let img = GrayPlane::from_dynamic(image::DynamicImage::ImageLuma8(
        image::GrayImage::from_raw(w as u32, h as u32, pixels).context("image size")?,
    ));
    let plan = Plan::new(w, h, TILE, MARGIN, net.cfg.multiple())?;
    let mut mask = vec![0u8; w * h];
    // Small pictures: the median of 3 after a warm-up; big ones once (they are hundreds of tiles).
    let runs = if w * h <= 4 << 20 { 4 } else { 1 };
    let mut times = Vec::new();
    for r in 0..runs {
        let t = Instant::now();
        predict_stream(
            &net,
            &img,
            0.5,
            0.25,
            &plan,
            &mut |_, _| Ok(()),
            &mut |x, y, p| {
                let i = y * w + x;
                for (o, &v) in mask[i..i + p.len()].iter_mut().zip(p) {
                    *o = if v > 0.5 { 255 } else { 0 };
                }
            },
        )?;
        if runs == 1 || r > 0 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    std::hint::black_box(&mask);
    let ms = median(times);
    Ok(json!({
        "width": w,
        "height": h,
        "ms": round2(ms),
        "tiles": plan.tiles(),
        "ns_per_pixel": round2(ms * 1e6 / (w * h) as f64),
    }))
}

fn step_row(crop: usize) -> anyhow::Result<Value> {
    use crate::labs::segmentation::adamw::FusedAdamW;
    use crate::labs::segmentation::unet::{UNet, UNetConfig, trainable};
    use candle_core::{Device, Tensor};
    let vm = candle_nn::VarMap::new();
    let net = UNet::new(UNetConfig::default(), &vm, 0)?;
    let mut opt = FusedAdamW::new(
        trainable(&vm),
        candle_nn::ParamsAdamW {
            lr: 1e-3,
            ..Default::default()
        },
    );
    let x = Tensor::randn(0f32, 1.0, (STEP_BATCH, 1, crop, crop), &Device::Cpu)?;
    let y = Tensor::rand(0f32, 1.0, (STEP_BATCH, 1, crop, crop), &Device::Cpu)?
        .ge(0.5)?
        .to_dtype(candle_core::DType::F32)?;
    let mut times = Vec::new();
    for i in 0..4 {
        let t = Instant::now();
        let fw = net.forward_train(&x)?;
        let (_, grads) = fw.loss_and_grads(&y, 0.0)?;
        drop(fw);
        opt.step(&grads)?;
        if i > 0 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let ms = median(times);
    Ok(json!({
        "crop": crop,
        "batch": STEP_BATCH,
        "ms": round2(ms),
        "ns_per_pixel": round2(ms * 1e6 / (STEP_BATCH * crop * crop) as f64),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_random_graph_has_the_asked_shape_and_trains() {
        let g = random_graph(300, 0);
        g.validate().unwrap();
        assert_eq!(g.features.cols, 128);
        assert_eq!(g.num_classes(), 40);
        // 5 N pairs, minus self-loops and repeats.
        assert!(
            g.edges.len() > 1400 && g.edges.len() <= 1500,
            "{}",
            g.edges.len()
        );
        for (model, want) in [("gcn", "gcn"), ("gat", "gat")] {
            let row = graph_row(model, 300).unwrap();
            assert_eq!(row["model"], want);
            assert_eq!(row["directed_edges"], 2 * g.edges.len());
            assert!(row["epoch_ms_median"].as_f64().unwrap() > 0.0);
        }
    }
}
