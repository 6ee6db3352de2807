//! How a layout snapshot is stored and compared.
//!
//! A snapshot is the window's *fingerprint*: its luma at half resolution (each pixel the mean of
//! a 2 x 2 block of the screen) in 16 grey levels (multiples of 17). That keeps a checked-in
//! 1366 x 768 window at 10-40 kB and is already blind to the last bits of anti-aliasing.
//!
//! Two fingerprints are compared with a neighbourhood tolerance: a pixel differs only when no
//! pixel of the other image within one fingerprint pixel (two screen pixels) is within
//! [`PIXEL_DELTA`] of it, in both directions. Noise of a few grey levels and sub-pixel shifts of
//! anti-aliased edges find their match next door; a widget that moved or vanished does not.
//! The snapshot fails when more than [`MAX_TOTAL`] pixels differ, or more than
//! [`MAX_IN_WINDOW`] inside any [`WINDOW`] x [`WINDOW`] square (32 x 32 screen pixels): a
//! clipped button or a deleted word is small but dense.
//!
//! Measured on the window (1024 x 600 and 1366 x 768, fingerprint pixels, total / densest
//! square): two runs of the same state 0 / 0 (the scroll bar's fade that differs by a few
//! levels does not count); the Theory tab's volatile text (its timing claim `linear_attention`
//! holds or not on a busy machine: a tick or a cross, "4 of 7" or "5 of 7"; a duration "0.02 s"
//! or "0.07 s") 0-2 / 0-2; the whole window shifted by one screen pixel 44 / 7 (the controls of
//! `compare-sample.png` 21-32 / 5-8), by two 0 / 0; noise of +-4 levels 0 / 0. Against that:
//! the Graphs results panel moved 20 px right 533 / 32, moved 20 px up 1469 / 66;
//! Segmentation's "Load model..." button erased 390 / 116, its "Stop" button erased 182 / 94.
//! The limits sit between the two groups with a factor of two or more to both sides; the tests
//! below check both groups. What the tolerance lets through: a changed glyph or two in a line
//! (a digit, a tick) and moves of one or two screen pixels.

use image::{GrayImage, Luma, Rgb, RgbImage, RgbaImage};

/// Grey levels of a fingerprint are multiples of this (16 levels).
const LEVEL: u16 = 17;
/// A pixel with no counterpart within this many grey levels (two levels of the fingerprint)
/// differs.
pub const PIXEL_DELTA: u8 = 34;
/// At most this many differing pixels in any [`WINDOW`] x [`WINDOW`] square.
pub const MAX_IN_WINDOW: usize = 16;
/// Side of the squares of [`MAX_IN_WINDOW`], in fingerprint pixels (32 screen pixels).
pub const WINDOW: u32 = 16;
/// At most this many differing pixels in all.
pub const MAX_TOTAL: usize = 100;

/// The stored form of a screenshot: half-resolution luma in 16 levels.
pub fn fingerprint(shot: &RgbaImage) -> GrayImage {
    let (w, h) = (shot.width() / 2, shot.height() / 2);
    GrayImage::from_fn(w, h, |x, y| {
        let mut sum = 0u32;
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let p = shot.get_pixel(2 * x + dx, 2 * y + dy).0;
            sum += 299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]);
        }
        // Mean of four luma values (x 1000), rounded to one of 16 levels.
        let levels = (sum * 15 + 2000 * 255) / (4000 * 255);
        Luma([(levels as u16 * LEVEL) as u8])
    })
}

/// Where two fingerprints differ, and whether that is within the tolerance.
pub struct Comparison {
    pub width: u32,
    pub height: u32,
    /// Row-major: this pixel differs.
    pub differs: Vec<bool>,
    pub total: usize,
    /// The most differing pixels inside one [`WINDOW`] x [`WINDOW`] square.
    pub densest: usize,
}

impl Comparison {
    pub fn passes(&self) -> bool {
        self.total <= MAX_TOTAL && self.densest <= MAX_IN_WINDOW
    }

    pub fn summary(&self) -> String {
        format!(
            "{} pixels differ (at most {MAX_TOTAL}), {} in the densest {WINDOW}x{WINDOW} square \
             (at most {MAX_IN_WINDOW})",
            self.total, self.densest
        )
    }
}

/// Compares two fingerprints of the same size.
pub fn compare(expected: &GrayImage, actual: &GrayImage) -> Comparison {
    assert_eq!(expected.dimensions(), actual.dimensions());
    let (w, h) = expected.dimensions();
    let mut differs = vec![false; (w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            let far = |a: &GrayImage, b: &GrayImage| {
                let v = a.get_pixel(x, y).0[0];
                let mut best = u8::MAX;
                for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                    for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                        best = best.min(v.abs_diff(b.get_pixel(nx, ny).0[0]));
                    }
                }
                best > PIXEL_DELTA
            };
            differs[(y * w + x) as usize] = far(actual, expected) || far(expected, actual);
        }
    }
    let total = differs.iter().filter(|d| **d).count();
    Comparison {
        width: w,
        height: h,
        densest: densest(&differs, w, h),
        differs,
        total,
    }
}

/// The most `true` cells in any `WINDOW` x `WINDOW` square (the whole image when smaller).
fn densest(mask: &[bool], w: u32, h: u32) -> usize {
    let (w, h) = (w as usize, h as usize);
    // Summed-area table with a zero row and column in front.
    let mut sat = vec![0usize; (w + 1) * (h + 1)];
    for y in 0..h {
        for x in 0..w {
            sat[(y + 1) * (w + 1) + x + 1] = usize::from(mask[y * w + x])
                + sat[y * (w + 1) + x + 1]
                + sat[(y + 1) * (w + 1) + x]
                - sat[y * (w + 1) + x];
        }
    }
    let (sw, sh) = ((WINDOW as usize).min(w), (WINDOW as usize).min(h));
    let mut best = 0;
    for y in 0..=h - sh {
        for x in 0..=w - sw {
            let at = |yy: usize, xx: usize| sat[yy * (w + 1) + xx];
            best = best.max(at(y + sh, x + sw) + at(y, x) - at(y, x + sw) - at(y + sh, x));
        }
    }
    best
}

/// The window (full resolution), faded, with the pixels whose fingerprint differs in red.
pub fn diff_image(window: &RgbaImage, c: &Comparison) -> RgbImage {
    RgbImage::from_fn(window.width(), window.height(), |x, y| {
        let (fx, fy) = ((x / 2).min(c.width - 1), (y / 2).min(c.height - 1));
        if c.differs[(fy * c.width + fx) as usize] {
            Rgb([230, 0, 0])
        } else {
            let p = window.get_pixel(x, y).0;
            let fade = |v: u8| 128 + v / 2;
            Rgb([fade(p[0]), fade(p[1]), fade(p[2])])
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checked-in snapshot with text, buttons and panels.
    fn reference() -> GrayImage {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/snapshots/segmentation-start-1024x600.png"
        );
        image::open(path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .to_luma8()
    }

    /// The most common grey: the panels' background.
    fn background(img: &GrayImage) -> u8 {
        let mut count = [0usize; 256];
        for p in img.pixels() {
            count[p.0[0] as usize] += 1;
        }
        (0..=255u8).max_by_key(|v| count[*v as usize]).unwrap()
    }

    /// The `w` x `h` area with the most pixels away from the background (a widget's label).
    fn inkiest(img: &GrayImage, w: u32, h: u32) -> (u32, u32) {
        let bg = background(img);
        let mut best = (0, (0, 0));
        for y in (0..img.height() - h).step_by(2) {
            for x in (0..img.width() - w).step_by(2) {
                let ink = (y..y + h)
                    .flat_map(|yy| (x..x + w).map(move |xx| (xx, yy)))
                    .filter(|&(xx, yy)| img.get_pixel(xx, yy).0[0].abs_diff(bg) > PIXEL_DELTA)
                    .count();
                if ink > best.0 {
                    best = (ink, (x, y));
                }
            }
        }
        best.1
    }

    fn erased(img: &GrayImage, (x0, y0): (u32, u32), w: u32, h: u32) -> GrayImage {
        let bg = background(img);
        let mut out = img.clone();
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                out.put_pixel(x, y, Luma([bg]));
            }
        }
        out
    }

    /// `img` with the part right of `x0` (below `y0`) moved by `dx`, `dy` fingerprint pixels.
    fn shifted(img: &GrayImage, x0: u32, y0: u32, dx: i32, dy: i32) -> GrayImage {
        let mut out = img.clone();
        for y in y0..img.height() {
            for x in x0..img.width() {
                let (sx, sy) = (x as i32 - dx, y as i32 - dy);
                let v = if sx >= x0 as i32 && sy >= y0 as i32 && (sy as u32) < img.height() {
                    img.get_pixel(sx as u32, sy as u32).0[0]
                } else {
                    background(img)
                };
                out.put_pixel(x, y, Luma([v]));
            }
        }
        out
    }

    #[test]
    fn the_same_picture_passes() {
        let r = reference();
        let c = compare(&r, &r);
        assert_eq!((c.total, c.densest), (0, 0));
    }

    /// A piece of a real window at full resolution (Segmentation's controls at 1024 x 600, as
    /// grey): what the fingerprint is made from.
    fn window_sample() -> RgbaImage {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/snapshots/compare-sample.png"
        );
        image::open(path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .to_rgba8()
    }

    #[test]
    fn noise_and_one_pixel_shifts_of_the_window_pass() {
        let sample = window_sample();
        let reference = fingerprint(&sample);
        let mut seed = 12345u32;
        let noisy = RgbaImage::from_fn(sample.width(), sample.height(), |x, y| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let d = ((seed >> 16) % 13) as i16 - 6; // -6..=6 levels
            let p = sample.get_pixel(x, y).0;
            let v = |c: u8| (i16::from(c) + d).clamp(0, 255) as u8;
            image::Rgba([v(p[0]), v(p[1]), v(p[2]), 255])
        });
        let c = compare(&reference, &fingerprint(&noisy));
        assert!(c.passes(), "noise: {}", c.summary());
        for (dx, dy) in [(1, 0), (0, 1), (1, 1), (-1, 0), (0, -1)] {
            let moved = RgbaImage::from_fn(sample.width(), sample.height(), |x, y| {
                let sx = (x as i32 - dx).clamp(0, sample.width() as i32 - 1) as u32;
                let sy = (y as i32 - dy).clamp(0, sample.height() as i32 - 1) as u32;
                *sample.get_pixel(sx, sy)
            });
            let c = compare(&reference, &fingerprint(&moved));
            assert!(c.passes(), "moved by ({dx}, {dy}): {}", c.summary());
        }
    }

    #[test]
    fn a_panel_moved_by_20_pixels_fails() {
        let r = reference();
        // The right part of the window (plots and text), 20 screen pixels right, then down.
        let right = shifted(&r, r.width() / 3, 0, 10, 0);
        let c = compare(&r, &right);
        assert!(!c.passes(), "moved right: {}", c.summary());
        let down = shifted(&r, 0, 20, 0, 10);
        let c = compare(&r, &down);
        assert!(!c.passes(), "moved down: {}", c.summary());
    }

    #[test]
    fn a_missing_button_or_word_fails() {
        let r = reference();
        // A button (96 x 24 screen pixels), then a short word (32 x 16).
        for (w, h) in [(48, 12), (16, 8)] {
            let at = inkiest(&r, w, h);
            let c = compare(&r, &erased(&r, at, w, h));
            assert!(!c.passes(), "{w}x{h} at {at:?} erased: {}", c.summary());
        }
    }

    #[test]
    fn fingerprints_are_half_size_in_sixteen_levels() {
        let shot = RgbaImage::from_fn(8, 6, |x, _| {
            if x < 4 {
                image::Rgba([255, 255, 255, 255])
            } else {
                image::Rgba([0, 0, 0, 255])
            }
        });
        let f = fingerprint(&shot);
        assert_eq!(f.dimensions(), (4, 3));
        assert_eq!(f.get_pixel(0, 0).0[0], 255);
        assert_eq!(f.get_pixel(3, 2).0[0], 0);
        assert!(f.pixels().all(|p| p.0[0] % 17 == 0));
    }
}
