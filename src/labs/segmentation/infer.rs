//! Whole-image prediction at native resolution, tiled to the image and streamed. A network pass
//! holds at most `TILE * TILE` (padded) pixels: images that fit go through in one piece; a thin
//! image (one side under `TILE`) is cut only along its long side, in strips of its own width
//! that hold as many pixels as a square tile; larger images in `TILE` squares. Neighbouring
//! tiles overlap by `2 * MARGIN` pixels and keep only their core (the border where the
//! convolutions saw padding instead of image is thrown away), so the stitched mask has no seams;
//! the last tile of a row or column is moved back to end at the image's edge, so no pass is
//! spent on reflected padding. Tiles are read from the gray picture and written to the caller
//! as they are done: memory is the picture, the output and one tile, whatever the image size.

use candle_core::{Device, Tensor};

use super::unet::UNet;
use crate::data::seg::image_io::{Gray, GrayF32};

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

/// How one image axis is cut: windows of `window` pixels whose cores (`window - 2 * margin`
/// pixels) start at `starts`; one window of the whole axis (margin 0) when it fits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Axis {
    pub window: usize,
    pub margin: usize,
    pub core: usize,
    pub starts: Vec<usize>,
}

impl Axis {
    fn new(n: usize, window: usize, margin: usize) -> Self {
        if n <= window {
            return Self {
                window: n,
                margin: 0,
                core: n,
                starts: vec![0],
            };
        }
        let core = window - 2 * margin;
        let mut starts: Vec<usize> = (0..n).step_by(core).map(|s| s.min(n - core)).collect();
        starts.dedup();
        Self {
            window,
            margin,
            core,
            starts,
        }
    }
}

/// The tiles of one image: the cut of each axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub x: Axis,
    pub y: Axis,
}

impl Plan {
    /// Tiles for a `w` x `h` image, each pass at most `tile * tile` pixels once padded to the
    /// network's `multiple`; `tile > 2 * margin`.
    pub fn new(
        w: usize,
        h: usize,
        tile: usize,
        margin: usize,
        multiple: usize,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            tile > 2 * margin,
            "tile {tile} too small for margin {margin}"
        );
        anyhow::ensure!(w > 0 && h > 0, "the image has no pixels");
        let m = multiple.max(1);
        let pad = |n: usize| n.div_ceil(m) * m;
        let area = tile * tile;
        // The long side of a thin image gets windows as large as a square tile's area allows.
        let long = |short: usize| ((area / pad(short)) / m * m).max(tile);
        let (tw, th) = if pad(w) * pad(h) <= area {
            (w, h)
        } else if w <= tile && h > tile {
            (w, long(w))
        } else if h <= tile && w > tile {
            (long(h), h)
        } else {
            (tile, tile)
        };
        Ok(Self {
            x: Axis::new(w, tw, margin),
            y: Axis::new(h, th, margin),
        })
    }

    /// Number of network passes.
    pub fn tiles(&self) -> usize {
        self.x.starts.len() * self.y.starts.len()
    }

    /// Pixels the network sees in all passes (before its own padding).
    #[cfg(test)]
    pub fn pixels_seen(&self) -> usize {
        self.tiles() * self.x.window * self.y.window
    }
}

/// Runs the network tile by tile over `img` and hands each finished core row segment to
/// `put(x0, y, probs)`; `tick(done, total)` is called after every tile and stops the work when
/// it returns an error (the GUI's Stop, a closed pipe).
#[allow(clippy::too_many_arguments)]
pub fn predict_stream(
    net: &UNet,
    img: &impl Gray,
    mean: f32,
    std: f32,
    plan: &Plan,
    tick: &mut dyn FnMut(usize, usize) -> anyhow::Result<()>,
    put: &mut dyn FnMut(usize, usize, &[f32]),
) -> anyhow::Result<()> {
    let (w, h) = (img.width(), img.height());
    let norm = |v: f32| (v - mean) / std;
    let (ax, ay) = (&plan.x, &plan.y);
    let total = plan.tiles();
    let mut done = 0;
    for &ty in &ay.starts {
        for &tx in &ax.starts {
            let mut data = Vec::with_capacity(ax.window * ay.window);
            for y in 0..ay.window {
                let sy = reflect(ty as isize - ay.margin as isize + y as isize, h);
                let row = sy * w;
                for x in 0..ax.window {
                    let sx = reflect(tx as isize - ax.margin as isize + x as isize, w);
                    data.push(norm(img.at(row + sx)));
                }
            }
            let p = forward_probs(net, data, ax.window, ay.window)?;
            for y in 0..ay.core {
                let start = (ay.margin + y) * ax.window + ax.margin;
                put(tx, ty + y, &p[start..start + ax.core]);
            }
            done += 1;
            tick(done, total)?;
        }
    }
    Ok(())
}

/// [`predict`] calling `tick(done, total)` after every tile; an error from it stops the work.
pub fn predict_with(
    net: &UNet,
    img: &impl Gray,
    mean: f32,
    std: f32,
    tick: &mut dyn FnMut(usize, usize) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<f32>> {
    let (w, h) = (img.width(), img.height());
    let plan = Plan::new(w, h, TILE, MARGIN, net.cfg.multiple())?;
    let mut out = vec![0f32; w * h];
    predict_stream(net, img, mean, std, &plan, tick, &mut |x, y, p| {
        out[y * w + x..y * w + x + p.len()].copy_from_slice(p)
    })?;
    Ok(out)
}

/// All probabilities of `img` in one vector, tiled with `tile` and `margin`.
pub fn predict_tiled(
    net: &UNet,
    img: &impl Gray,
    mean: f32,
    std: f32,
    tile: usize,
    margin: usize,
) -> anyhow::Result<Vec<f32>> {
    let (w, h) = (img.width(), img.height());
    let plan = Plan::new(w, h, tile, margin, net.cfg.multiple())?;
    let mut out = vec![0f32; w * h];
    predict_stream(
        net,
        img,
        mean,
        std,
        &plan,
        &mut |_, _| Ok(()),
        &mut |x, y, p| out[y * w + x..y * w + x + p.len()].copy_from_slice(p),
    )?;
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

    fn small_net() -> UNet {
        let vm = VarMap::new();
        UNet::new(
            UNetConfig {
                depth: 2,
                base: 4,
                skips: true,
            },
            &vm,
            3,
        )
        .unwrap()
    }

    fn picture(w: usize, h: usize) -> GrayF32 {
        let data: Vec<f32> = (0..w * h)
            .map(|i| (((i * 31) % 17) as f32) / 17.0)
            .collect();
        GrayF32::new(w, h, data)
    }

    /// Largest difference between two probability maps away from the image border.
    fn worst_inside(a: &[f32], b: &[f32], w: usize, h: usize, border: usize) -> f32 {
        let mut worst = 0f32;
        for y in border.min(h / 2)..h - border.min(h / 2) {
            for x in border.min(w / 2)..w - border.min(w / 2) {
                worst = worst.max((a[y * w + x] - b[y * w + x]).abs());
            }
        }
        worst
    }

    /// Tolerance of tiled against untiled inference: the depth-2 network's receptive field
    /// (~9 pixels) is inside the margin of 12, so inside the image only float rounding of the
    /// same sums in a different memory layout remains.
    const TILED_TOL: f32 = 1e-4;

    #[test]
    fn tiles_agree_with_one_pass_away_from_borders() {
        let net = small_net();
        for (w, h) in [(50, 37), (90, 70), (37, 90)] {
            let img = picture(w, h);
            let whole = predict_tiled(&net, &img, 0.5, 0.3, 128, 8).unwrap();
            assert_eq!(Plan::new(w, h, 128, 8, 2).unwrap().tiles(), 1);
            let plan = Plan::new(w, h, 40, 12, 2).unwrap();
            assert!(plan.tiles() > 1, "{w} x {h}: {plan:?}");
            let tiled = predict_tiled(&net, &img, 0.5, 0.3, 40, 12).unwrap();
            assert_eq!(tiled.len(), w * h);
            let worst = worst_inside(&whole, &tiled, w, h, 12);
            assert!(worst < TILED_TOL, "{w} x {h}: tiled differs by {worst}");
            let png = mask_png(&tiled, w, h).unwrap();
            let back = image::load_from_memory(&png).unwrap();
            assert_eq!((back.width(), back.height()), (w as u32, h as u32));
        }
    }

    #[test]
    fn thin_images_are_cut_along_their_length_only_and_cost_their_own_pixels() {
        // 1 x 10000 at the real tile size: one pass of 8 x 10000 padded pixels, not 23 squares.
        let p = Plan::new(1, 10_000, TILE, MARGIN, 8).unwrap();
        assert_eq!(p.tiles(), 1, "{p:?}");
        let p = Plan::new(10_000, 1, TILE, MARGIN, 8).unwrap();
        assert_eq!(p.tiles(), 1, "{p:?}");
        // 64 x 100000: strips 64 wide holding a square tile's pixels.
        let p = Plan::new(64, 100_000, TILE, MARGIN, 8).unwrap();
        assert_eq!((p.x.window, p.y.window), (64, 4096));
        assert!(
            p.pixels_seen() < 64 * 100_000 * 11 / 10,
            "{} pixels seen",
            p.pixels_seen()
        );
        // Big squares: the last tile ends at the edge, the overhead is the margins only.
        let p = Plan::new(12_000, 12_000, TILE, MARGIN, 8).unwrap();
        assert_eq!(p.tiles(), 27 * 27);
        assert_eq!(*p.x.starts.last().unwrap(), 12_000 - p.x.core);
        // Thin images on a small network, tiled along their length: right shape, equal to one pass.
        let net = small_net();
        for (w, h) in [(1, 2000), (2000, 1), (3, 500)] {
            let img = picture(w, h);
            let whole = predict_tiled(&net, &img, 0.5, 0.3, 2048, 12).unwrap();
            let plan = Plan::new(w, h, 40, 12, 2).unwrap();
            assert!(plan.tiles() > 1, "{w} x {h}: {plan:?}");
            assert!(plan.pixels_seen() <= 4 * w.max(2) * h.max(2), "{plan:?}");
            let tiled = predict_tiled(&net, &img, 0.5, 0.3, 40, 12).unwrap();
            assert_eq!(tiled.len(), w * h);
            let worst = worst_inside(&whole, &tiled, w, h, 12);
            assert!(worst < TILED_TOL, "{w} x {h}: tiled differs by {worst}");
            let png = mask_png(&tiled, w, h).unwrap();
            let back = image::load_from_memory(&png).unwrap();
            assert_eq!((back.width(), back.height()), (w as u32, h as u32));
        }
    }

    #[test]
    fn a_failing_tick_stops_between_tiles() {
        let net = small_net();
        let img = picture(90, 70);
        let plan = Plan::new(90, 70, 40, 12, 2).unwrap();
        let mut seen = 0;
        let e = predict_stream(
            &net,
            &img,
            0.5,
            0.3,
            &plan,
            &mut |done, _| {
                seen = done;
                anyhow::ensure!(done < 2, "stopped");
                Ok(())
            },
            &mut |_, _, _| {},
        )
        .unwrap_err();
        assert_eq!(seen, 2);
        assert!(e.to_string().contains("stopped"));
    }
}
