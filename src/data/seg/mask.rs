//! Masks as users have them, read at their native bit depth (8 or 16 bit; never through
//! `to_luma8`, which divides 16-bit values by 257 and turns a label map with labels 1..183 into
//! noise). Accepted encodings: binary 0/1, binary 0/255 (0/65535), a binary mask with a few grey
//! edge pixels (JPEG or anti-aliased drawing), and instance label maps (0 = background, 1..N =
//! one value per object). Foreground = non-zero; anything else is refused with the values found.

use std::collections::HashMap;

use anyhow::bail;
use image::DynamicImage;
use serde::Serialize;

/// Share of pixels allowed to be mid-grey in a binary mask (JPEG masks have some at edges);
/// above it the "mask" is probably a photo and thresholding it would train on garbage.
const MAX_GREY_FRACTION: f64 = 0.05;
/// A label map's objects are regions of one value: on average at least this many pixels per
/// 4-connected region (objects cut by others included); a grey picture's regions are 1-2 pixels.
const MIN_MEAN_REGION_PIXELS: usize = 4;
/// Some of a label map's edges are object against background (0), unlike a grey ramp's, where
/// only the darkest step touches 0.
const MIN_BACKGROUND_EDGE_SHARE: f64 = 0.1;
/// Values this small are labels whatever their layout: no grey-level picture lives in 0..=31.
const SMALL_LABEL_MAX: u32 = 31;
/// More distinct colours than this in a colour mask: a photo, not a label map.
const MAX_COLOURS: usize = 65_536;

/// What a mask's values mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskKind {
    /// Every pixel is 0: no foreground.
    Empty,
    /// Values 0 and 1.
    Binary01,
    /// Values 0 and the largest value of the bit depth (255 or 65535).
    BinaryMax,
    /// Mostly 0 and the largest value with a few grey pixels: thresholded at half the range.
    BinaryGreyEdges,
    /// 0 = background, 1..N (or N colours) = objects: foreground = non-zero.
    LabelMap,
}

/// What was found in one mask file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MaskInfo {
    /// People's name of the encoding, e.g. "binary 0/255" or "label map".
    pub encoding: String,
    pub kind: MaskKind,
    pub width: usize,
    pub height: usize,
    pub bit_depth: u8,
    /// Channels in the file (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA); alpha is ignored.
    pub channels: u8,
    /// Whether the mask is in colour (R, G, B differ): its colours are the labels.
    pub colour: bool,
    /// Distinct non-zero values (objects in a label map).
    pub labels: usize,
    /// Largest value found (colour masks: the number of colours other than black).
    pub max_value: u32,
    /// Foreground pixels (before `invert`).
    pub foreground: u64,
}

impl MaskInfo {
    pub fn pixels(&self) -> u64 {
        (self.width * self.height) as u64
    }

    pub fn foreground_fraction(&self) -> f64 {
        self.foreground as f64 / self.pixels().max(1) as f64
    }
}

/// The label of an encoding as shown to people.
pub fn encoding_name(kind: MaskKind, bit_depth: u8, colour: bool) -> String {
    let max = if bit_depth >= 16 { 65_535 } else { 255 };
    match (kind, colour) {
        (MaskKind::Empty, _) => "empty".into(),
        (MaskKind::Binary01, true) => "binary black/colour".into(),
        (MaskKind::Binary01, false) => "binary 0/1".into(),
        (MaskKind::BinaryMax, _) => format!("binary 0/{max}"),
        (MaskKind::BinaryGreyEdges, _) => format!("binary 0/{max} with grey edges"),
        (MaskKind::LabelMap, true) => "label map (colours)".into(),
        (MaskKind::LabelMap, false) => "label map".into(),
    }
}

/// One plane of native values (or colour ids, black = 0).
struct Plane {
    values: Vec<u32>,
    width: usize,
    height: usize,
    /// Largest value the bit depth can hold (binary "white").
    full: u32,
    bit_depth: u8,
    channels: u8,
    colour: bool,
}

fn gray_plane<T: Copy + Into<u32>>(raw: &[T], stride: usize) -> Vec<u32> {
    raw.iter().step_by(stride).map(|&v| v.into()).collect()
}

/// Pixels with R = G = B become their value; otherwise every colour gets an id (black = 0).
fn rgb_plane<T: Copy + Into<u32> + PartialEq>(
    raw: &[T],
    stride: usize,
    name: &str,
) -> anyhow::Result<(Vec<u32>, bool)> {
    let px = raw.chunks_exact(stride);
    if px.clone().all(|p| p[0] == p[1] && p[1] == p[2]) {
        return Ok((gray_plane(raw, stride), false));
    }
    let mut ids: HashMap<[u32; 3], u32> = HashMap::new();
    ids.insert([0; 3], 0);
    let mut out = Vec::with_capacity(raw.len() / stride);
    for p in px {
        let key = [p[0].into(), p[1].into(), p[2].into()];
        let next = ids.len() as u32;
        let id = *ids.entry(key).or_insert(next);
        if ids.len() > MAX_COLOURS {
            bail!(
                "{name}: mask has more than {MAX_COLOURS} colours: a photo, not a mask; masks must be 0/1, 0/255 or a \
                 label map (0 = background, 1..N = objects)"
            );
        }
        out.push(id);
    }
    Ok((out, true))
}

fn float_plane(raw: &[f32], stride: usize, name: &str) -> anyhow::Result<(Vec<u32>, bool)> {
    if let Some(p) = raw
        .chunks_exact(stride)
        .find(|p| p[0] != p[1] || p[1] != p[2])
    {
        bail!(
            "{name}: floating-point colour mask (a pixel is {:?}); masks must be gray",
            &p[..3]
        );
    }
    let mut out = Vec::with_capacity(raw.len() / stride);
    for p in raw.chunks_exact(stride) {
        let v = p[0];
        if !((0.0..=65_535.0).contains(&v) && v.fract() == 0.0) {
            bail!(
                "{name}: floating-point mask with the value {v}; masks must hold whole numbers (0/1 or labels 0..N)"
            );
        }
        out.push(v as u32);
    }
    Ok((out, false))
}

/// The "white" of a float mask holding whole numbers: 255 when every value fits 8 bits.
fn float_full(values: &[u32]) -> u32 {
    if values.iter().all(|&v| v <= 255) {
        255
    } else {
        65_535
    }
}

fn plane(img: &DynamicImage, name: &str) -> anyhow::Result<Plane> {
    let (width, height) = (img.width() as usize, img.height() as usize);
    let ct = img.color();
    let channels = ct.channel_count();
    let bit_depth = ct.bytes_per_pixel() / channels * 8;
    let (values, colour, full) = match img {
        DynamicImage::ImageLuma8(b) => (gray_plane(b.as_raw(), 1), false, 255),
        DynamicImage::ImageLumaA8(b) => (gray_plane(b.as_raw(), 2), false, 255),
        DynamicImage::ImageLuma16(b) => (gray_plane(b.as_raw(), 1), false, 65_535),
        DynamicImage::ImageLumaA16(b) => (gray_plane(b.as_raw(), 2), false, 65_535),
        DynamicImage::ImageRgb8(b) => {
            let (v, c) = rgb_plane(b.as_raw(), 3, name)?;
            (v, c, 255)
        }
        DynamicImage::ImageRgba8(b) => {
            let (v, c) = rgb_plane(b.as_raw(), 4, name)?;
            (v, c, 255)
        }
        DynamicImage::ImageRgb16(b) => {
            let (v, c) = rgb_plane(b.as_raw(), 3, name)?;
            (v, c, 65_535)
        }
        DynamicImage::ImageRgba16(b) => {
            let (v, c) = rgb_plane(b.as_raw(), 4, name)?;
            (v, c, 65_535)
        }
        // Float masks (TIFF) must hold whole numbers: 0.0/1.0 or labels.
        DynamicImage::ImageRgb32F(b) => {
            let (v, c) = float_plane(b.as_raw(), 3, name)?;
            let full = float_full(&v);
            (v, c, full)
        }
        DynamicImage::ImageRgba32F(b) => {
            let (v, c) = float_plane(b.as_raw(), 4, name)?;
            let full = float_full(&v);
            (v, c, full)
        }
        other => {
            let b = other.to_rgba16();
            let (v, c) = rgb_plane(b.as_raw(), 4, name)?;
            (v, c, 65_535)
        }
    };
    Ok(Plane {
        values,
        width,
        height,
        full,
        bit_depth,
        channels,
        colour,
    })
}

/// Neighbouring pixel pairs (right and down): all, differing, and differing with one side 0.
fn edges(p: &Plane) -> (u64, u64, u64) {
    let (w, h, v) = (p.width, p.height, &p.values);
    let (mut all, mut diff, mut bg) = (0u64, 0u64, 0u64);
    let mut pair = |a: u32, b: u32| {
        all += 1;
        if a != b {
            diff += 1;
            if a == 0 || b == 0 {
                bg += 1;
            }
        }
    };
    for y in 0..h {
        for x in 0..w {
            let a = v[y * w + x];
            if x + 1 < w {
                pair(a, v[y * w + x + 1]);
            }
            if y + 1 < h {
                pair(a, v[(y + 1) * w + x]);
            }
        }
    }
    (all, diff, bg)
}

/// Number of 4-connected regions of one non-zero value, counted up to `limit` (a photo stops
/// early and costs little).
fn regions_up_to(p: &Plane, limit: usize) -> usize {
    let (w, h, v) = (p.width, p.height, &p.values);
    let mut seen = vec![false; v.len()];
    let mut stack = Vec::new();
    let mut regions = 0usize;
    for start in 0..v.len() {
        if seen[start] || v[start] == 0 {
            continue;
        }
        regions += 1;
        if regions > limit {
            break;
        }
        let value = v[start];
        seen[start] = true;
        stack.push(start);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            let mut visit = |j: usize| {
                if !seen[j] && v[j] == value {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
    }
    regions
}

/// A few of the distinct values, for messages: "0, 7, 14, ..., 245 (36 distinct)".
fn values_found(hist: &HashMap<u32, u64>) -> String {
    let mut v: Vec<u32> = hist.keys().copied().collect();
    v.sort_unstable();
    let show = |s: &[u32]| {
        s.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if v.len() <= 8 {
        format!("values {}", show(&v))
    } else {
        format!(
            "values {}, ..., {} ({} distinct)",
            show(&v[..5]),
            show(&v[v.len() - 2..]),
            v.len()
        )
    }
}

/// Decides the encoding; returns the foreground map (1 = foreground, before `invert`).
fn classify(p: &Plane, name: &str) -> anyhow::Result<(MaskKind, Vec<u8>, HashMap<u32, u64>)> {
    let mut hist: HashMap<u32, u64> = HashMap::new();
    for &v in &p.values {
        *hist.entry(v).or_insert(0) += 1;
    }
    let n = p.values.len() as f64;
    let only = |allowed: &[u32]| hist.keys().all(|k| allowed.contains(k));
    let nonzero = |p: &Plane| p.values.iter().map(|&v| u8::from(v != 0)).collect();
    if only(&[0]) {
        return Ok((MaskKind::Empty, vec![0; p.values.len()], hist));
    }
    if only(&[0, 1]) {
        return Ok((MaskKind::Binary01, nonzero(p), hist));
    }
    if !p.colour && only(&[0, p.full]) {
        return Ok((MaskKind::BinaryMax, nonzero(p), hist));
    }
    let count = |f: &dyn Fn(u32) -> bool| -> u64 {
        hist.iter().filter(|(k, _)| f(**k)).map(|(_, c)| *c).sum()
    };
    if !p.colour {
        // A binary mask with grey edges: the grey band is rare and the non-zero pixels are
        // mostly white. A label map (labels below the top eighth of the range) never is.
        let eighth = p.full / 8;
        let grey = count(&|v| v > eighth && v < p.full - eighth);
        let bright = count(&|v| v >= p.full - eighth);
        let lit = count(&|v| v != 0);
        if (grey as f64) <= MAX_GREY_FRACTION * n && bright * 2 >= lit {
            let half = p.full / 2;
            let fg = p.values.iter().map(|&v| u8::from(v > half)).collect();
            return Ok((MaskKind::BinaryGreyEdges, fg, hist));
        }
    }
    let (all, diff, bg) = edges(p);
    if hist.contains_key(&0) && hist.len() >= 3 {
        let max = hist.keys().copied().max().unwrap_or(0);
        let small = !p.colour && max <= SMALL_LABEL_MAX;
        let lit = p.values.len() - hist[&0] as usize;
        let max_regions = lit / MIN_MEAN_REGION_PIXELS;
        let objects = (bg as f64) >= MIN_BACKGROUND_EDGE_SHARE * diff as f64
            && regions_up_to(p, max_regions) <= max_regions;
        if small || objects {
            return Ok((MaskKind::LabelMap, nonzero(p), hist));
        }
    }
    let found = if p.colour {
        format!("{} colours", hist.len())
    } else {
        values_found(&hist)
    };
    bail!(
        "{name}: neither a binary mask nor a label map: {found} ({}-bit), {:.0}% of neighbouring pixels differ{}; \
         masks must be 0/1, 0/{} or a label map (0 = background, 1..N = one value per object)",
        p.bit_depth,
        100.0 * diff as f64 / all.max(1) as f64,
        if hist.contains_key(&0) {
            ""
        } else {
            ", no background (0)"
        },
        p.full.max(255),
    )
}

/// Reads a decoded mask file: the class map (1 = foreground, or background with `invert`) and
/// what was found. `name` is used in messages.
pub fn analyse(
    img: &DynamicImage,
    invert: bool,
    name: &str,
) -> anyhow::Result<(Vec<u8>, MaskInfo)> {
    let p = plane(img, name)?;
    let (kind, fg, hist) = classify(&p, name)?;
    let foreground = fg.iter().map(|&v| v as u64).sum();
    let info = MaskInfo {
        encoding: encoding_name(kind, p.bit_depth, p.colour),
        kind,
        width: p.width,
        height: p.height,
        bit_depth: p.bit_depth,
        channels: p.channels,
        colour: p.colour,
        labels: hist.keys().filter(|&&k| k != 0).count(),
        max_value: hist.keys().copied().max().unwrap_or(0),
        foreground,
    };
    let classes = if invert {
        fg.into_iter().map(|v| 1 - v).collect()
    } else {
        fg
    };
    Ok((classes, info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, Rgb};

    fn g8(w: u32, h: u32, f: impl Fn(u32, u32) -> u8) -> DynamicImage {
        DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| Luma([f(x, y)])))
    }

    fn g16(w: u32, h: u32, f: impl Fn(u32, u32) -> u16) -> DynamicImage {
        DynamicImage::ImageLuma16(ImageBuffer::from_fn(w, h, |x, y| Luma([f(x, y)])))
    }

    /// Discs of labels 1..=n on a 0 background; label k at a fixed pseudo-random place.
    fn blobs(w: u32, h: u32, n: u32) -> impl Fn(u32, u32) -> u16 {
        move |x, y| {
            for k in (1..=n).rev() {
                let cx = (k * 7919) % w;
                let cy = (k * 104_729) % h;
                let (dx, dy) = (x as i64 - cx as i64, y as i64 - cy as i64);
                if dx * dx + dy * dy <= 9 {
                    return k as u16;
                }
            }
            0
        }
    }

    #[test]
    fn sixteen_bit_label_map_keeps_every_label() {
        let f = blobs(200, 150, 183);
        let img = g16(200, 150, &f);
        let (m, info) = analyse(&img, false, "m.tif").unwrap();
        let truth: u64 = (0..150)
            .flat_map(|y| (0..200).map(move |x| (x, y)))
            .filter(|&(x, y)| f(x, y) != 0)
            .count() as u64;
        assert_eq!(info.kind, MaskKind::LabelMap);
        assert_eq!(info.encoding, "label map");
        assert_eq!(info.foreground, truth);
        assert_eq!(m.iter().map(|&v| v as u64).sum::<u64>(), truth);
        assert_eq!(info.bit_depth, 16);
        assert!(info.labels > 150, "{}", info.labels);
        // Inverted, background becomes class 1.
        let (inv, _) = analyse(&img, true, "m.tif").unwrap();
        assert_eq!(
            inv.iter().map(|&v| v as u64).sum::<u64>(),
            200 * 150 - truth
        );
    }

    #[test]
    fn binary_encodings_are_named() {
        let cases = [
            (g8(10, 10, |x, _| u8::from(x > 4)), "binary 0/1"),
            (
                g8(10, 10, |x, _| if x > 4 { 255 } else { 0 }),
                "binary 0/255",
            ),
            (
                g16(10, 10, |x, _| if x > 4 { 65_535 } else { 0 }),
                "binary 0/65535",
            ),
            (g16(10, 10, |x, _| u16::from(x > 4)), "binary 0/1"),
        ];
        for (img, want) in cases {
            let (m, info) = analyse(&img, false, "m.png").unwrap();
            assert_eq!(info.encoding, want);
            assert_eq!(info.foreground, 50, "{want}");
            assert_eq!((m[4], m[5]), (0, 1), "{want}");
        }
        // Float TIFF masks hold whole numbers: 0/1, 0/255 or labels.
        for on in [1.0f32, 255.0] {
            let f = DynamicImage::ImageRgb32F(ImageBuffer::from_fn(10, 10, |x, _| {
                Rgb([if x > 4 { on } else { 0.0 }; 3])
            }));
            let (_, info) = analyse(&f, false, "f.tif").unwrap();
            assert_eq!((info.foreground, info.bit_depth), (50, 32), "{on}");
        }
        let (_, info) = analyse(&g8(4, 4, |_, _| 0), false, "e.png").unwrap();
        assert_eq!((info.kind, info.foreground), (MaskKind::Empty, 0));
    }

    #[test]
    fn grey_edges_are_thresholded_at_half() {
        // White right half, one column of greys at the edge (10 % of pixels would be too many:
        // use 40 columns so one grey column is 2.5 %).
        let img = g8(40, 10, |x, _| match x {
            0..20 => 0,
            20 => 100,
            21 => 200,
            _ => 255,
        });
        let (m, info) = analyse(&img, false, "m.jpg").unwrap();
        assert_eq!(info.kind, MaskKind::BinaryGreyEdges);
        assert_eq!((m[20], m[21]), (0, 1));
    }

    #[test]
    fn grey_ramp_is_refused_with_its_values() {
        let e = analyse(&g8(24, 20, |x, y| ((x + y) * 5) as u8), false, "ramp.png")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ramp.png") && e.contains("values 0, 5, 10") && e.contains("label map"),
            "{e}"
        );
        // A wide ramp with flat steps is piecewise constant but its edges are not background.
        let e = analyse(&g8(1024, 8, |x, _| (x / 4) as u8), false, "wide.png")
            .unwrap_err()
            .to_string();
        assert!(e.contains("wide.png") && e.contains("256 distinct"), "{e}");
    }

    #[test]
    fn colour_masks_use_colours_as_labels() {
        let f = blobs(60, 40, 12);
        let img = DynamicImage::ImageRgb8(ImageBuffer::from_fn(60, 40, |x, y| {
            let k = f(x, y) as u8;
            Rgb([k * 20, 255 - k * 10, k * 3].map(|c| if k == 0 { 0 } else { c }))
        }));
        let (_, info) = analyse(&img, false, "c.png").unwrap();
        assert_eq!(info.encoding, "label map (colours)");
        let truth = (0..40)
            .flat_map(|y| (0..60).map(move |x| (x, y)))
            .filter(|&(x, y)| f(x, y) != 0)
            .count() as u64;
        assert_eq!(info.foreground, truth);
        // Gray stored as RGB is gray.
        let img = DynamicImage::ImageRgb8(ImageBuffer::from_fn(8, 8, |x, _| {
            Rgb([if x > 3 { 255 } else { 0 }; 3])
        }));
        assert_eq!(
            analyse(&img, false, "g.png").unwrap().1.encoding,
            "binary 0/255"
        );
    }
}
