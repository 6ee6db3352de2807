//! The built-in `shapes` set: cell-like regions separated by thin dark membranes, generated from
//! a seed (no files). A jittered Voronoi tessellation gives the cells; textured interiors, dark
//! "organelle" blobs (which are NOT membrane), blur and noise make the membranes something a
//! model has to find by shape, at full resolution. Target: 1 = membrane, 0 = interior.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use super::image::SegImage;
use super::image_io::GrayF32;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShapesConfig {
    /// Side of each square image, pixels.
    pub size: usize,
    /// Number of images (training + validation).
    pub count: usize,
    /// Mean cell diameter, pixels.
    pub cell: f32,
    /// Membrane width, pixels.
    pub membrane: f32,
    /// Standard deviation of the pixel noise (intensities are in [0, 1]).
    pub noise: f32,
    /// Dark blobs per cell on average: distractors that look like membrane locally.
    pub blobs: f32,
    pub seed: u64,
}

impl Default for ShapesConfig {
    fn default() -> Self {
        Self {
            size: 192,
            count: 40,
            cell: 28.0,
            membrane: 2.5,
            noise: 0.08,
            blobs: 0.8,
            seed: 1,
        }
    }
}

impl ShapesConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (16..=2048).contains(&self.size),
            "shapes: size must be 16..2048, is {}",
            self.size
        );
        anyhow::ensure!(
            (2..=10_000).contains(&self.count),
            "shapes: count must be 2..10000, is {}",
            self.count
        );
        anyhow::ensure!(self.cell >= 6.0, "shapes: cell diameter must be >= 6 px");
        anyhow::ensure!(
            self.membrane > 0.3 && self.membrane < self.cell / 2.0,
            "shapes: membrane width out of range"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.noise),
            "shapes: noise must be in [0, 1]"
        );
        Ok(())
    }
}

/// All images of the set, image `i` depending only on (seed, i).
pub fn generate(cfg: &ShapesConfig) -> Vec<SegImage> {
    (0..cfg.count).map(|i| generate_one(cfg, i)).collect()
}

fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

pub fn generate_one(cfg: &ShapesConfig, index: usize) -> SegImage {
    let mut rng =
        StdRng::seed_from_u64(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (index as u64 + 1));
    let s = cfg.size;
    let cell = cfg.cell;
    // Seeds on a jittered grid: every cell is roughly `cell` wide and neighbour search stays local.
    let g = (s as f32 / cell).ceil() as i32 + 2;
    let mut seeds = Vec::with_capacity((g * g) as usize);
    for gy in 0..g {
        for gx in 0..g {
            let x = (gx as f32 - 1.0 + rng.random_range(0.1..0.9)) * cell;
            let y = (gy as f32 - 1.0 + rng.random_range(0.1..0.9)) * cell;
            let tone = rng.random_range(0.5..0.85f32);
            let (fx, fy, ph) = (
                rng.random_range(0.15..0.6f32),
                rng.random_range(0.15..0.6f32),
                // Not TAU on purpose: the range is part of the dataset's definition, and changing
                // it would change every generated image (and the results measured on them).
                #[allow(clippy::approx_constant)]
                rng.random_range(0.0..6.28f32),
            );
            seeds.push((x, y, tone, fx, fy, ph));
        }
    }
    let n_blobs = (cfg.blobs * (s * s) as f32 / (cell * cell)).round() as usize;
    let blobs: Vec<(f32, f32, f32)> = (0..n_blobs)
        .map(|_| {
            (
                rng.random_range(0.0..s as f32),
                rng.random_range(0.0..s as f32),
                rng.random_range(1.5..cell * 0.15),
            )
        })
        .collect();

    let half = cfg.membrane / 2.0;
    let mut clean = vec![0f32; s * s];
    let mut mask = vec![0u8; s * s];
    for py in 0..s {
        for px in 0..s {
            let (x, y) = (px as f32 + 0.5, py as f32 + 0.5);
            let (cx, cy) = ((x / cell).floor() as i32 + 1, (y / cell).floor() as i32 + 1);
            // Nearest seed, then the distance to the bisector with every other close seed.
            let mut best = (f32::MAX, 0usize);
            let mut near = [0usize; 25];
            let mut nn = 0;
            for dy in -2..=2 {
                for dx in -2..=2 {
                    let (gx, gy) = (cx + dx, cy + dy);
                    if gx < 0 || gy < 0 || gx >= g || gy >= g {
                        continue;
                    }
                    let k = (gy * g + gx) as usize;
                    near[nn] = k;
                    nn += 1;
                    let (sx, sy, ..) = seeds[k];
                    let d = (x - sx).powi(2) + (y - sy).powi(2);
                    if d < best.0 {
                        best = (d, k);
                    }
                }
            }
            let (ax, ay, tone, fx, fy, ph) = seeds[best.1];
            let mut edge = f32::MAX;
            for &k in &near[..nn] {
                if k == best.1 {
                    continue;
                }
                let (bx, by, ..) = seeds[k];
                let len = ((bx - ax).powi(2) + (by - ay).powi(2)).sqrt().max(1e-3);
                let db = (x - bx).powi(2) + (y - by).powi(2);
                edge = edge.min((db - best.0) / (2.0 * len));
            }
            let texture = 0.06 * ((x * fx + ph).sin() * (y * fy - ph).cos())
                + 0.04 * ((x + y) * 0.9 + ph).sin();
            let mut v = tone + texture;
            for &(bx, by, r) in &blobs {
                let d = ((x - bx).powi(2) + (y - by).powi(2)).sqrt();
                if d < r + 1.5 {
                    v = v.min(0.25 + 0.5 * smoothstep(r - 1.0, r + 1.0, d) * v);
                }
            }
            let m = 0.12 + 0.05 * (x * 0.3 + ph).sin();
            clean[py * s + px] = m + (v - m) * smoothstep(half - 0.7, half + 0.7, edge);
            mask[py * s + px] = u8::from(edge < half);
        }
    }
    // A small blur (the membrane is not a crisp line in a microscope), then noise.
    let noise = Normal::new(0.0f32, cfg.noise.max(1e-9)).expect("positive std");
    let mut pixels = vec![0f32; s * s];
    for y in 0..s {
        for x in 0..s {
            let mut acc = 0.0;
            let mut wsum = 0.0;
            for dy in -1i32..=1 {
                for dx in -1i32..=1 {
                    let (xx, yy) = (x as i32 + dx, y as i32 + dy);
                    if xx < 0 || yy < 0 || xx >= s as i32 || yy >= s as i32 {
                        continue;
                    }
                    let w = if dx == 0 && dy == 0 {
                        4.0
                    } else if dx == 0 || dy == 0 {
                        2.0
                    } else {
                        1.0
                    };
                    acc += w * clean[yy as usize * s + xx as usize];
                    wsum += w;
                }
            }
            let n = if cfg.noise > 0.0 {
                noise.sample(&mut rng)
            } else {
                0.0
            };
            pixels[y * s + x] = (acc / wsum + n).clamp(0.0, 1.0);
        }
    }
    SegImage {
        name: format!("shapes-{index}"),
        image: GrayF32::new(s, s, pixels),
        mask,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_images_other_seed_other_images() {
        let cfg = ShapesConfig {
            size: 48,
            count: 2,
            ..Default::default()
        };
        let a = generate(&cfg);
        assert_eq!(a, generate(&cfg));
        let b = generate(&ShapesConfig {
            seed: 2,
            ..cfg.clone()
        });
        assert_ne!(a[0].image, b[0].image);
        assert_ne!(a[0].image, a[1].image);
    }

    #[test]
    fn membranes_are_thin_dark_and_a_minority() {
        let cfg = ShapesConfig {
            size: 96,
            count: 1,
            noise: 0.0,
            blobs: 0.0,
            ..Default::default()
        };
        let img = &generate(&cfg)[0];
        let frac = img.mask.iter().filter(|&&m| m == 1).count() as f32 / img.mask.len() as f32;
        assert!((0.05..0.35).contains(&frac), "membrane fraction {frac}");
        let mean = |want: u8| {
            let v: Vec<f32> = img
                .mask
                .iter()
                .zip(&img.image.data)
                .filter(|(m, _)| **m == want)
                .map(|(_, p)| *p)
                .collect();
            v.iter().sum::<f32>() / v.len() as f32
        };
        assert!(
            mean(1) + 0.2 < mean(0),
            "membrane {} interior {}",
            mean(1),
            mean(0)
        );
    }
}
