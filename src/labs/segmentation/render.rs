//! Pictures of a segmentation: the input, the target, and the prediction with its errors
//! (true membrane white, true interior black, false positives orange, false negatives blue).

use image::{Rgba, RgbaImage};

use crate::data::seg::image_io::GrayF32;

pub const FP_COLOR: [u8; 3] = [230, 159, 0];
pub const FN_COLOR: [u8; 3] = [0, 114, 178];

/// A window of an image: (x0, y0, width, height).
pub type Window = (usize, usize, usize, usize);

/// The centred square window of side at most `side`.
pub fn center_window(w: usize, h: usize, side: usize) -> Window {
    let (cw, ch) = (w.min(side), h.min(side));
    ((w - cw) / 2, (h - ch) / 2, cw, ch)
}

fn from_fn(win: Window, f: impl Fn(usize) -> [u8; 4], stride: usize) -> RgbaImage {
    let (x0, y0, w, h) = win;
    RgbaImage::from_fn(w as u32, h as u32, |x, y| {
        Rgba(f((y0 + y as usize) * stride + x0 + x as usize))
    })
}

pub fn gray(img: &GrayF32, win: Window) -> RgbaImage {
    from_fn(
        win,
        |i| {
            let v = (img.data[i].clamp(0.0, 1.0) * 255.0).round() as u8;
            [v, v, v, 255]
        },
        img.width,
    )
}

pub fn mask(m: &[u8], width: usize, win: Window) -> RgbaImage {
    from_fn(
        win,
        |i| {
            let v = if m[i] == 1 { 255 } else { 0 };
            [v, v, v, 255]
        },
        width,
    )
}

pub fn errors(probs: &[f32], target: &[u8], width: usize, win: Window) -> RgbaImage {
    from_fn(
        win,
        |i| {
            let c = match (probs[i] > 0.5, target[i] == 1) {
                (true, true) => [255; 3],
                (false, false) => [0; 3],
                (true, false) => FP_COLOR,
                (false, true) => FN_COLOR,
            };
            [c[0], c[1], c[2], 255]
        },
        width,
    )
}

/// The mask over the image: class-1 pixels tinted with `color` at `opacity`.
pub fn overlay(img: &GrayF32, probs: &[f32], color: [u8; 3], opacity: f32) -> RgbaImage {
    let a = opacity.clamp(0.0, 1.0);
    from_fn(
        (0, 0, img.width, img.height),
        |i| {
            let g = img.data[i].clamp(0.0, 1.0) * 255.0;
            let t = if probs[i] > 0.5 { a } else { 0.0 };
            let mix = |c: u8| (g * (1.0 - t) + c as f32 * t).round() as u8;
            [mix(color[0]), mix(color[1]), mix(color[2]), 255]
        },
        img.width,
    )
}

/// Pictures side by side in rows, separated by 4 gray pixels.
pub fn grid(rows: &[Vec<RgbaImage>]) -> RgbaImage {
    const GAP: u32 = 4;
    let width = rows
        .iter()
        .map(|r| r.iter().map(|p| p.width() + GAP).sum::<u32>())
        .max()
        .unwrap_or(0);
    let height: u32 = rows
        .iter()
        .map(|r| r.iter().map(|p| p.height()).max().unwrap_or(0) + GAP)
        .sum();
    let mut out = RgbaImage::from_pixel(width.max(1), height.max(1), Rgba([60, 60, 60, 255]));
    let mut y = 0;
    for r in rows {
        let mut x = 0;
        for p in r {
            image::imageops::replace(&mut out, p, x as i64, y as i64);
            x += p.width() + GAP;
        }
        y += r.iter().map(|p| p.height()).max().unwrap_or(0) + GAP;
    }
    out
}
