//! The user's own data as it really comes, through the real binary: instance label maps (16-bit
//! TIFF), 0/1 and 0/255 masks, RGB JPEG images; `gradlab data inspect` must report the true
//! foreground fraction and encoding, and `gradlab predict` must write masks of the inputs' sizes.

use std::path::Path;
use std::process::Command;

use gradlab::labs::segmentation::UNetConfig;
use gradlab::labs::segmentation::checkpoint::{self, ModelMeta, SegModel};
use image::{DynamicImage, ImageBuffer, Luma, Rgb};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

#[path = "common/outcome.rs"]
mod outcome;
use outcome::{Run, assert_fails, json_of};

fn gradlab(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_gradlab"))
        .args(args)
        .env_remove("GRADLAB_DATA")
        .output()
        .expect("start gradlab");
    Run::from(out)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Random discs labelled 1..=labels on a 0 background (later discs cover earlier ones).
fn label_map(w: u32, h: u32, labels: u16, rng: &mut StdRng) -> ImageBuffer<Luma<u16>, Vec<u16>> {
    let mut img = ImageBuffer::new(w, h);
    for label in 1..=labels {
        let (cx, cy) = (rng.random_range(0..w) as i64, rng.random_range(0..h) as i64);
        let r = rng.random_range(3..9i64);
        for y in (cy - r).max(0)..(cy + r + 1).min(h as i64) {
            for x in (cx - r).max(0)..(cx + r + 1).min(w as i64) {
                if (x - cx).pow(2) + (y - cy).pow(2) <= r * r {
                    img.put_pixel(x as u32, y as u32, Luma([label]));
                }
            }
        }
    }
    img
}

fn gray_image(w: u32, h: u32, seed: u64) -> DynamicImage {
    let mut rng = StdRng::seed_from_u64(seed);
    DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| {
        Luma([((x * 3 + y * 5) % 200) as u8 + rng.random_range(0..50u8)])
    }))
}

fn folder(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (i, m) = (root.join("images"), root.join("masks"));
    std::fs::create_dir_all(&i).unwrap();
    std::fs::create_dir_all(&m).unwrap();
    (i, m)
}

fn inspect(dir: &Path) -> Value {
    json_of(&gradlab(&["data", "inspect", s(dir), "--json"]))
}

#[test]
fn sixteen_bit_instance_label_tiffs_report_the_true_foreground_fraction() {
    let t = tempfile::tempdir().unwrap();
    let (imgs, masks) = folder(t.path());
    let mut rng = StdRng::seed_from_u64(11);
    let (mut nonzero, mut total, mut top) = (0u64, 0u64, 0u16);
    for (k, (w, h)) in [(200u32, 150u32), (160, 180), (97, 61)]
        .into_iter()
        .enumerate()
    {
        gray_image(w, h, k as u64)
            .save(imgs.join(format!("cell{k}.png")))
            .unwrap();
        let m = label_map(w, h, 183, &mut rng);
        nonzero += m.pixels().filter(|p| p[0] != 0).count() as u64;
        total += u64::from(w * h);
        top = top.max(m.pixels().map(|p| p[0]).max().unwrap());
        DynamicImage::ImageLuma16(m)
            .save(masks.join(format!("cell{k}.tif")))
            .unwrap();
    }
    let truth = nonzero as f64 / total as f64;
    // Labels 1..=128 are below 257: the old 8-bit conversion made most of them background.
    assert!(truth > 0.3 && top > 128, "{truth} {top}");
    let j = inspect(t.path());
    assert_eq!(j["foreground_fraction"].as_f64().unwrap(), truth, "{j}");
    assert_eq!(j["mask_encoding"], "label map");
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["pairs"], 3);
    let f = &j["files"][0];
    assert_eq!(f["mask"]["bit_depth"], 16);
    assert_eq!(f["mask"]["encoding"], "label map");
    assert!(f["mask"]["labels"].as_u64().unwrap() > 100, "{f}");
    assert_eq!(f["image"]["width"], 200);
    // The human form says the same.
    let r = gradlab(&["data", "inspect", s(t.path())]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stdout.contains("label map") && r.stdout.contains(&format!("{:.2} %", 100.0 * truth)),
        "{}",
        r.stdout
    );
}

#[test]
fn binary_png_masks_and_rgb_jpeg_images_report_the_true_fraction() {
    // (mask value for foreground, expected encoding, RGB JPEG images?)
    for (on, encoding, rgb) in [
        (1u8, "binary 0/1", false),
        (255, "binary 0/255", false),
        (255, "binary 0/255", true),
    ] {
        let t = tempfile::tempdir().unwrap();
        let (imgs, masks) = folder(t.path());
        let mut rng = StdRng::seed_from_u64(u64::from(on) + u64::from(rgb));
        let (mut fg, mut total) = (0u64, 0u64);
        for k in 0..3u32 {
            let (w, h) = (64 + 13 * k, 48 + 7 * k);
            let (cx, cy, r) = (rng.random_range(10..50), rng.random_range(10..40), 9 + k);
            let m = ImageBuffer::from_fn(w, h, |x, y| {
                let inside = (x as i64 - cx).pow(2) + (y as i64 - cy).pow(2) <= i64::from(r * r);
                Luma([if inside { on } else { 0 }])
            });
            fg += m.pixels().filter(|p| p[0] != 0).count() as u64;
            total += u64::from(w * h);
            DynamicImage::ImageLuma8(m)
                .save(masks.join(format!("{k}.png")))
                .unwrap();
            if rgb {
                // H&E-like pink and purple.
                DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
                    Rgb([200 - (x % 50) as u8, 100 + (y % 60) as u8, 180])
                }))
                .save(imgs.join(format!("{k}.jpg")))
                .unwrap();
            } else {
                gray_image(w, h, u64::from(k))
                    .save(imgs.join(format!("{k}.png")))
                    .unwrap();
            }
        }
        let j = inspect(t.path());
        let truth = fg as f64 / total as f64;
        assert_eq!(j["foreground_fraction"].as_f64().unwrap(), truth, "{j}");
        assert_eq!(j["mask_encoding"], encoding, "{j}");
        assert_eq!(j["ok"], true, "{j}");
        if rgb {
            assert_eq!(j["image_formats"]["8-bit RGB"], 3, "{j}");
            assert_eq!(j["files"][1]["image"]["channels"], 3);
            let notes = j["notes"].to_string();
            assert!(notes.contains("converted to gray"), "{notes}");
        }
    }
}

#[test]
fn a_grey_ramp_mask_is_refused_naming_the_file_and_values() {
    let t = tempfile::tempdir().unwrap();
    let (imgs, masks) = folder(t.path());
    for k in 0..3u32 {
        gray_image(40, 30, u64::from(k))
            .save(imgs.join(format!("{k}.png")))
            .unwrap();
        let m = ImageBuffer::from_fn(40, 30, |x, y| {
            Luma([if k == 1 {
                (x * 5 + y) as u8
            } else {
                u8::from(x > 20) * 255
            }])
        });
        DynamicImage::ImageLuma8(m)
            .save(masks.join(format!("{k}.png")))
            .unwrap();
    }
    let j = inspect(t.path());
    assert_eq!(j["ok"], false);
    let p = j["problems"][0].as_str().unwrap();
    assert!(
        p.contains("masks/1.png") && p.contains("values 0, 1, 2") && p.contains("label map"),
        "{p}"
    );
    assert!(j["files"][1]["mask"].is_null());
    // Training refuses it the same way.
    let r = gradlab(&[
        "seg",
        "--dataset",
        s(t.path()),
        "--epochs",
        "1",
        "--steps",
        "1",
        "--size",
        "16",
        "--batch",
        "2",
        "--depth",
        "2",
        "--base",
        "4",
    ]);
    assert_fails(
        &r,
        &[
            "masks/1.png",
            "neither a binary mask nor a label map",
            "values 0, 1, 2",
        ],
    );
}

fn save_model(dir: &Path) {
    let meta = ModelMeta {
        unet: UNetConfig {
            depth: 2,
            base: 4,
            skips: true,
        },
        mean: 0.45,
        std: 0.25,
        classes: ["background".into(), "foreground".into()],
        dataset: "test".into(),
    };
    let model = SegModel::new(meta, 3).unwrap();
    checkpoint::save(dir, &model, &serde_json::json!({})).unwrap();
}

#[test]
fn predict_writes_masks_of_the_input_sizes() {
    let t = tempfile::tempdir().unwrap();
    let model = t.path().join("model");
    save_model(&model);
    let png = t.path().join("gray.png");
    gray_image(97, 61, 1).save(&png).unwrap();
    let tif = t.path().join("deep.tif");
    DynamicImage::ImageLuma16(ImageBuffer::from_fn(130, 257, |x, y| {
        Luma([(x * 300 + y * 97) as u16])
    }))
    .save(&tif)
    .unwrap();
    let jpg = t.path().join("he.jpg");
    DynamicImage::ImageRgb8(ImageBuffer::from_fn(61, 97, |x, y| {
        Rgb([200 - x as u8, 100 + (y % 60) as u8, 180])
    }))
    .save(&jpg)
    .unwrap();
    // Wider than one 512 px tile: goes through the tiled path.
    let wide = t.path().join("wide.png");
    gray_image(531, 23, 2).save(&wide).unwrap();
    let out = t.path().join("out");
    let j = json_of(&gradlab(&[
        "predict",
        "--model",
        s(&model),
        s(&png),
        s(&tif),
        s(&jpg),
        s(&wide),
        "--out",
        s(&out),
        "--overlay",
        "--json",
    ]));
    let sizes = [
        (97, 61, "8-bit gray"),
        (130, 257, "16-bit gray"),
        (61, 97, "8-bit RGB"),
        (531, 23, "8-bit gray"),
    ];
    let list = j["images"].as_array().unwrap();
    assert_eq!(list.len(), 4, "{j}");
    for (e, (w, h, format)) in list.iter().zip(sizes) {
        let mask = image::open(e["mask"].as_str().unwrap()).unwrap();
        assert_eq!((mask.width(), mask.height()), (w, h), "{e}");
        assert_eq!(
            (e["width"].as_u64(), e["height"].as_u64()),
            (Some(w.into()), Some(h.into()))
        );
        assert_eq!(e["format"], format);
        let px = mask.to_luma8();
        assert!(px.iter().all(|&v| v == 0 || v == 255), "{e}");
        let fg = px.iter().filter(|&&v| v == 255).count() as f64 / f64::from(w * h);
        assert_eq!(e["foreground_fraction"].as_f64().unwrap(), fg);
        let over = image::open(e["overlay"].as_str().unwrap()).unwrap();
        assert_eq!((over.width(), over.height()), (w, h));
    }
    assert!(
        list[2]["notes"][0]
            .as_str()
            .unwrap()
            .contains("converted to gray")
    );
    assert!(out.join("he_mask.png").is_file() && out.join("deep_overlay.png").is_file());
    assert_eq!(j["classes"][1], "foreground");
}

#[test]
fn predict_names_a_bad_image_or_model() {
    let t = tempfile::tempdir().unwrap();
    let model = t.path().join("model");
    save_model(&model);
    let good = t.path().join("a.png");
    gray_image(20, 20, 0).save(&good).unwrap();
    let bad = t.path().join("broken.png");
    std::fs::write(&bad, b"not a picture").unwrap();
    let out = t.path().join("out");
    let r = gradlab(&[
        "predict",
        "--model",
        s(&model),
        s(&good),
        s(&bad),
        "--out",
        s(&out),
    ]);
    assert_fails(&r, &["broken.png", "cannot read"]);
    // Headers are read before any work: nothing was written for the good image either.
    assert!(!out.join("a_mask.png").exists());
    let missing = t.path().join("no-such-model");
    let r = gradlab(&[
        "predict",
        "--model",
        s(&missing),
        s(&good),
        "--out",
        s(&out),
    ]);
    assert_fails(&r, &["no-such-model", "no such model folder"]);
    std::fs::remove_file(model.join("model.safetensors")).unwrap();
    let r = gradlab(&["predict", "--model", s(&model), s(&good), "--out", s(&out)]);
    assert_fails(&r, &["model.safetensors"]);
}

#[test]
fn predict_prints_progress_lines_with_time_left_on_a_pipe() {
    let t = tempfile::tempdir().unwrap();
    let model = t.path().join("model");
    save_model(&model);
    // 1200 x 700: 3 x 2 tiles of 512; a thin 3 x 3000 strip goes through in strips.
    let big = t.path().join("big.png");
    gray_image(1200, 700, 3).save(&big).unwrap();
    let thin = t.path().join("thin.png");
    gray_image(3, 3000, 4).save(&thin).unwrap();
    let out = t.path().join("out");
    // GRADLAB_PROGRESS_MS=0: a line for every tile instead of one every 5 s after 2 s.
    let r = Run::from(
        Command::new(env!("CARGO_BIN_EXE_gradlab"))
            .args(["predict", "--model", s(&model), s(&big), s(&thin)])
            .args(["--out", s(&out), "--json"])
            .env("GRADLAB_PROGRESS_MS", "0")
            .output()
            .expect("start gradlab"),
    );
    let j = json_of(&r);
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("predict big.png (1/2), tiles:"))
        .collect();
    assert!(lines.len() >= 3, "stderr: {}", r.stderr);
    assert!(lines.iter().any(|l| l.contains("6/6")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("left")), "{lines:?}");
    assert!(r.stderr.contains("predict thin.png (2/2)"), "{}", r.stderr);
    // Nothing but the JSON object on stdout.
    assert_eq!(j["images"][1]["width"], 3);
    let mask = image::open(j["images"][1]["mask"].as_str().unwrap()).unwrap();
    assert_eq!((mask.width(), mask.height()), (3, 3000));
}
