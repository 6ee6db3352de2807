//! Whole-image prediction at native resolution. Images up to `TILE` pixels a side go through the
//! network in one piece; larger ones in overlapping tiles whose borders (`MARGIN` pixels, where
//! the convolutions saw padding instead of image) are thrown away, so the stitched mask has no
//! seams.

use candle_core::{Device, Tensor};

use super::unet::UNet;
use crate::data::seg::image_io::GrayF32;

pub const TILE: usize = 512;
pub const MARGIN: usize = 32;

/// Probability of class 1 per pixel for a gray image in [0, 1], normalised with (mean, std).
pub fn predict(net: &UNet, img: &GrayF32, mean: f32, std: f32) -> anyhow::Result<Vec<f32>> {
    predict_tiled(net, img, mean, std, TILE, MARGIN)
}

fn forward_probs(net: &UNet, data: Vec<f32>, w: usize, h: usize) -> anyhow::Result<Vec<f32>> {
    let x = Tensor::from_vec(data, (1, 1, h, w), &Device::Cpu)?;
    let y = net.forward_eval(&x)?.flatten_all()?.to_vec1::<f32>()?;
    // An overflow inside the network would read as "no foreground" (NaN > 0.5 is false):
    // an error instead of an empty mask.
    if let Some(bad) = y.iter().find(|v| !v.is_finite()) {
        anyhow::bail!(
            "the model's output is not finite ({bad}): its weights or normalisation overflow on this image"
        );
    }
    Ok(y.into_iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect())
}

/// Reflect index into 0..n (n >= 1).
fn reflect(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let m = i.rem_euclid(period);
    (if m < n as isize { m } else { period - m }) as usize
}

pub fn predict_tiled(
    net: &UNet,
    img: &GrayF32,
    mean: f32,
    std: f32,
    tile: usize,
    margin: usize,
) -> anyhow::Result<Vec<f32>> {
    let (w, h) = (img.width, img.height);
    let norm = |v: f32| (v - mean) / std;
    if w <= tile && h <= tile {
        return forward_probs(net, img.data.iter().map(|&v| norm(v)).collect(), w, h);
    }
    anyhow::ensure!(
        tile > 2 * margin,
        "tile {tile} too small for margin {margin}"
    );
    let core = tile - 2 * margin;
    let mut out = vec![0f32; w * h];
    let mut ty = 0;
    while ty < h {
        let mut tx = 0;
        while tx < w {
            // Tile covering [tx - margin, tx - margin + tile), reflected at the image borders.
            let mut data = Vec::with_capacity(tile * tile);
            for y in 0..tile {
                let sy = reflect(ty as isize - margin as isize + y as isize, h);
                for x in 0..tile {
                    let sx = reflect(tx as isize - margin as isize + x as isize, w);
                    data.push(norm(img.data[sy * w + sx]));
                }
            }
            let p = forward_probs(net, data, tile, tile)?;
            for y in 0..core.min(h - ty) {
                for x in 0..core.min(w - tx) {
                    out[(ty + y) * w + tx + x] = p[(margin + y) * tile + margin + x];
                }
            }
            tx += core;
        }
        ty += core;
    }
    Ok(out)
}

/// The mask as an 8-bit gray PNG: 255 where class 1 has probability > 0.5.
pub fn mask_png(probs: &[f32], w: usize, h: usize) -> anyhow::Result<Vec<u8>> {
    let px: Vec<u8> = probs
        .iter()
        .map(|&p| if p > 0.5 { 255 } else { 0 })
        .collect();
    let img = image::GrayImage::from_raw(w as u32, h as u32, px)
        .ok_or_else(|| anyhow::anyhow!("mask size mismatch"))?;
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labs::segmentation::unet::UNetConfig;
    use candle_nn::VarMap;

    #[test]
    fn tiles_agree_with_one_pass_away_from_borders() {
        let vm = VarMap::new();
        let net = UNet::new(
            UNetConfig {
                depth: 2,
                base: 4,
                skips: true,
            },
            &vm,
            3,
        )
        .unwrap();
        let (w, h) = (50, 37);
        let data: Vec<f32> = (0..w * h)
            .map(|i| (((i * 31) % 17) as f32) / 17.0)
            .collect();
        let img = GrayF32::new(w, h, data);
        let whole = predict_tiled(&net, &img, 0.5, 0.3, 64, 8).unwrap();
        let tiled = predict_tiled(&net, &img, 0.5, 0.3, 40, 12).unwrap();
        assert_eq!(tiled.len(), w * h);
        // The receptive field of depth 2 reaches ~9 pixels (< margin 12): interior pixels must match.
        let mut worst = 0f32;
        for y in 12..h - 12 {
            for x in 12..w - 12 {
                worst = worst.max((whole[y * w + x] - tiled[y * w + x]).abs());
            }
        }
        assert!(worst < 1e-4, "tiled differs by {worst}");
        let png = mask_png(&tiled, w, h).unwrap();
        let back = image::load_from_memory(&png).unwrap();
        assert_eq!((back.width(), back.height()), (w as u32, h as u32));
    }
}
