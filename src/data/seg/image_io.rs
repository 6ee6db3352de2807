//! Decoding user images with limits, so a hostile or huge file is an error and never an
//! out-of-memory. Every format (PNG, JPEG, BMP, TIFF; gray, RGB, alpha, 8 or 16 bit) becomes one
//! gray f32 plane in [0, 1]; alpha is ignored because microscopy and masks do not use it. Colour
//! (H&E histology, microscope RGB) becomes luma at the file's own precision: the network takes
//! one channel, and `PixelFormat::gray_note` says so to the user.

use std::io::Cursor;
use std::path::Path;

use anyhow::{Context, bail};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

/// Largest side accepted. 16384^2 gray f32 is 1 GiB of pixels before the model even starts.
pub const MAX_SIDE: u32 = 16_384;
/// Largest decoder allocation.
pub const MAX_ALLOC: u64 = 1 << 30;
/// Largest file read: no supported image of MAX_SIDE^2 needs more, and a garbage file of many GB
/// must not be read into memory first.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// A gray picture, row-major, values in [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct GrayF32 {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl GrayF32 {
    pub fn new(width: usize, height: usize, data: Vec<f32>) -> Self {
        debug_assert_eq!(data.len(), width * height);
        Self {
            width,
            height,
            data,
        }
    }

    pub fn get(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }
}

/// How a file stores its pixels, as found by the decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PixelFormat {
    /// Bits per channel: 8, 16 or 32 (float).
    pub bit_depth: u8,
    /// 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    pub channels: u8,
    /// The EXIF (or TIFF) orientation applied, 1..=8; 1 = stored as shown.
    pub orientation: u8,
    /// A TIFF holding more than one page: only the first was read.
    pub more_pages: bool,
}

/// What a decoded file needed beyond its pixels: the orientation viewers apply, extra pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Decoded {
    pub orientation: u8,
    pub more_pages: bool,
}

/// Weights of R, G, B in the gray value of a colour image (Rec. 709 luma, as `image` uses).
pub const LUMA_WEIGHTS: [f32; 3] = [0.2126, 0.7152, 0.0722];

impl PixelFormat {
    pub fn of(img: &DynamicImage, decoded: Decoded) -> Self {
        let ct = img.color();
        let channels = ct.channel_count();
        Self {
            bit_depth: ct.bytes_per_pixel() / channels * 8,
            channels,
            orientation: decoded.orientation.max(1),
            more_pages: decoded.more_pages,
        }
    }

    /// Everything done to the file before the network saw it: orientation, pages, colour.
    pub fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(o) = orientation_note(self.orientation) {
            out.push(o);
        }
        if self.more_pages {
            out.push(MORE_PAGES_NOTE.to_string());
        }
        out.extend(self.gray_note());
        out
    }

    /// "gray", "gray+alpha", "RGB" or "RGBA".
    pub fn layout(&self) -> &'static str {
        match self.channels {
            1 => "gray",
            2 => "gray+alpha",
            3 => "RGB",
            _ => "RGBA",
        }
    }

    /// "8-bit RGB" and the like.
    pub fn describe(&self) -> String {
        let depth = if self.bit_depth == 32 {
            "32-bit float".to_string()
        } else {
            format!("{}-bit", self.bit_depth)
        };
        format!("{depth} {}", self.layout())
    }

    /// What happens to such an image before the network sees it, when it is not plain gray.
    pub fn gray_note(&self) -> Option<String> {
        let [r, g, b] = LUMA_WEIGHTS;
        match self.channels {
            1 => None,
            2 => Some(format!("{}: alpha ignored", self.describe())),
            _ => Some(format!(
                "{}: converted to gray (luma {r} R + {g} G + {b} B at {}-bit precision, scaled to [0, 1]{}); \
                 the network takes one channel",
                self.describe(),
                self.bit_depth,
                if self.channels == 4 {
                    ", alpha ignored"
                } else {
                    ""
                }
            )),
        }
    }
}

/// Said of a multi-page TIFF.
pub const MORE_PAGES_NOTE: &str = "multi-page TIFF: only page 1 was read";

/// What EXIF orientation `o` made gradlab do, as the user would say it; `None` for 1 (upright).
pub fn orientation_note(o: u8) -> Option<String> {
    let what = match o {
        2 => "mirrored left-right",
        3 => "rotated 180°",
        4 => "mirrored top-bottom",
        5 => "rotated 90° clockwise and mirrored left-right",
        6 => "rotated 90° clockwise",
        7 => "rotated 90° counter-clockwise and mirrored left-right",
        8 => "rotated 90° counter-clockwise",
        _ => return None,
    };
    Some(format!(
        "EXIF orientation {o}: {what}, as photo viewers show it"
    ))
}

fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(MAX_SIDE);
    l.max_image_height = Some(MAX_SIDE);
    l.max_alloc = Some(MAX_ALLOC);
    l
}

/// Decodes any supported image from memory; `name` is used in error messages. The picture is
/// turned the way its EXIF (or TIFF) orientation says, as every photo viewer shows it.
pub fn decode_dynamic(bytes: &[u8], name: &str) -> anyhow::Result<DynamicImage> {
    Ok(decode_oriented(bytes, name)?.0)
}

/// [`decode_dynamic`] with what was done to the file: the orientation applied, extra pages.
pub fn decode_oriented(bytes: &[u8], name: &str) -> anyhow::Result<(DynamicImage, Decoded)> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .with_context(|| format!("{name}: cannot read"))?;
    let Some(format) = reader.format() else {
        bail!("{name}: not an image this program reads (PNG, JPEG, BMP or TIFF)");
    };
    // The JPEG decoder pads a cut-off file with grey instead of failing: require the end marker
    // (allowing some trailing bytes, which some cameras write).
    if format == image::ImageFormat::Jpeg
        && !bytes[bytes.len().saturating_sub(4096)..]
            .windows(2)
            .any(|w| w == [0xFF, 0xD9])
    {
        bail!("{name}: truncated JPEG (no end-of-image marker)");
    }
    reader.limits(limits());
    let decode_error = |e: image::ImageError| match e {
        image::ImageError::Limits(l) => anyhow::anyhow!(
            "{name}: image is too large ({l}); at most {MAX_SIDE} x {MAX_SIDE} pixels and {} MiB are accepted",
            MAX_ALLOC >> 20
        ),
        other => anyhow::anyhow!("{name}: cannot decode: {other}"),
    };
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    // A damaged EXIF block is no reason to refuse the pixels: read upright then.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    if img.width() == 0 || img.height() == 0 {
        bail!("{name}: image has no pixels");
    }
    img.apply_orientation(orientation);
    let more_pages = format == image::ImageFormat::Tiff && tiff_has_more_pages(bytes);
    Ok((
        img,
        Decoded {
            orientation: orientation.to_exif(),
            more_pages,
        },
    ))
}

/// Whether a TIFF holds a second image file directory (a second page).
fn tiff_has_more_pages(bytes: &[u8]) -> bool {
    tiff::decoder::Decoder::new(Cursor::new(bytes))
        .map(|d| d.more_images())
        .unwrap_or(false)
}

pub fn read_dynamic(path: &Path) -> anyhow::Result<DynamicImage> {
    Ok(read_oriented(path)?.0)
}

/// [`read_dynamic`] with what was done to the file (orientation, extra pages).
pub fn read_oriented(path: &Path) -> anyhow::Result<(DynamicImage, Decoded)> {
    let name = path.display().to_string();
    let len = std::fs::metadata(path)
        .with_context(|| format!("{name}: cannot read the file"))?
        .len();
    if len > MAX_FILE_BYTES {
        bail!(
            "{name}: file is {} MiB; images over {} MiB are not read",
            len >> 20,
            MAX_FILE_BYTES >> 20
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("{name}: cannot read the file"))?;
    decode_oriented(&bytes, &name)
}

/// Width and height as the user sees the picture (EXIF orientation applied), from the file's
/// header only (cheap: no pixel is decoded).
pub fn header_dimensions(path: &Path) -> anyhow::Result<(u32, u32)> {
    let name = path.display().to_string();
    let mut decoder = ImageReader::open(path)
        .with_context(|| format!("{name}: cannot read the file"))?
        .with_guessed_format()
        .with_context(|| format!("{name}: cannot read the file"))?
        .into_decoder()
        .with_context(|| format!("{name}: cannot read the image header"))?;
    let (w, h) = decoder.dimensions();
    let turned = matches!(
        decoder.orientation().unwrap_or(Orientation::NoTransforms),
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    Ok(if turned { (h, w) } else { (w, h) })
}

/// Gray in [0, 1] from any pixel type (16-bit keeps its precision through f32).
pub fn to_gray_f32(img: &DynamicImage) -> GrayF32 {
    let g = img.to_luma32f();
    let (w, h) = (g.width() as usize, g.height() as usize);
    GrayF32::new(
        w,
        h,
        g.into_raw()
            .into_iter()
            // NaN stays NaN (clamp keeps it) so the loaders can name the file.
            .map(|v| if v.is_nan() { v } else { v.clamp(0.0, 1.0) })
            .collect(),
    )
}

pub fn read_gray(path: &Path) -> anyhow::Result<GrayF32> {
    Ok(to_gray_f32(&read_dynamic(path)?))
}

/// A gray image for the network, with how the file stored it (for a note such as "8-bit RGB:
/// converted to gray"). Non-finite pixels (float TIFF) are an error naming the file.
pub fn read_gray_noted(path: &Path) -> anyhow::Result<(GrayF32, PixelFormat)> {
    let (img, decoded) = read_oriented(path)?;
    let format = PixelFormat::of(&img, decoded);
    let gray = to_gray_f32(&img);
    if let Some(bad) = gray.data.iter().find(|v| !v.is_finite()) {
        bail!(
            "{}: the image has non-finite pixel values ({bad})",
            path.display()
        );
    }
    Ok((gray, format))
}

pub fn decode_gray(bytes: &[u8], name: &str) -> anyhow::Result<GrayF32> {
    Ok(to_gray_f32(&decode_dynamic(bytes, name)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, ImageFormat, Luma, LumaA, Rgb, Rgba};

    fn write(dir: &Path, name: &str, img: DynamicImage, fmt: ImageFormat) -> std::path::PathBuf {
        let p = dir.join(name);
        img.save_with_format(&p, fmt).unwrap();
        p
    }

    #[test]
    fn decodes_every_format_and_pixel_type_to_gray() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // A left-dark right-bright ramp: every decoder must keep that order.
        let g8 = ImageBuffer::from_fn(6, 4, |x, _| Luma([(x * 50) as u8]));
        let g16 = ImageBuffer::from_fn(6, 4, |x, _| Luma([(x * 13000) as u16]));
        let rgb = ImageBuffer::from_fn(6, 4, |x, _| Rgb([(x * 50) as u8; 3]));
        let rgba = ImageBuffer::from_fn(6, 4, |x, _| {
            Rgba([(x * 50) as u8, (x * 50) as u8, (x * 50) as u8, 128])
        });
        let la = ImageBuffer::from_fn(6, 4, |x, _| LumaA([(x * 50) as u8, 255]));
        let files = vec![
            write(
                d,
                "g8.png",
                DynamicImage::ImageLuma8(g8.clone()),
                ImageFormat::Png,
            ),
            write(
                d,
                "g16.png",
                DynamicImage::ImageLuma16(g16.clone()),
                ImageFormat::Png,
            ),
            write(
                d,
                "rgb.png",
                DynamicImage::ImageRgb8(rgb.clone()),
                ImageFormat::Png,
            ),
            write(
                d,
                "rgba.png",
                DynamicImage::ImageRgba8(rgba),
                ImageFormat::Png,
            ),
            write(d, "la.png", DynamicImage::ImageLumaA8(la), ImageFormat::Png),
            write(
                d,
                "rgb.jpg",
                DynamicImage::ImageRgb8(rgb.clone()),
                ImageFormat::Jpeg,
            ),
            write(
                d,
                "g8.bmp",
                DynamicImage::ImageRgb8(rgb.clone()),
                ImageFormat::Bmp,
            ),
            write(
                d,
                "g8.tiff",
                DynamicImage::ImageLuma8(g8),
                ImageFormat::Tiff,
            ),
            write(
                d,
                "g16.tiff",
                DynamicImage::ImageLuma16(g16),
                ImageFormat::Tiff,
            ),
        ];
        for f in files {
            let g = read_gray(&f).unwrap_or_else(|e| panic!("{}: {e:#}", f.display()));
            assert_eq!((g.width, g.height), (6, 4), "{}", f.display());
            assert!(g.data.iter().all(|v| (0.0..=1.0).contains(v)));
            // JPEG is lossy: compare ends of the ramp only.
            assert!(
                g.get(5, 1) > g.get(0, 1) + 0.5,
                "{}: {:?}",
                f.display(),
                g.data
            );
            assert!(g.get(0, 2) < 0.1, "{}", f.display());
        }
    }

    #[test]
    fn colour_becomes_luma_at_native_precision_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        // 16-bit RGB: pure red, and a green one code above the 8-bit grid (lost by to_luma8).
        let rgb16 = ImageBuffer::from_fn(2, 1, |x, _| {
            if x == 0 {
                Rgb([65_535u16, 0, 0])
            } else {
                Rgb([0, 257 * 100 + 1, 0])
            }
        });
        let p = write(
            dir.path(),
            "c16.png",
            DynamicImage::ImageRgb16(rgb16),
            ImageFormat::Png,
        );
        let (g, f) = read_gray_noted(&p).unwrap();
        assert!((g.data[0] - 0.2126).abs() < 1e-4, "{}", g.data[0]);
        let want = 0.7152 * (257.0 * 100.0 + 1.0) / 65_535.0;
        // Within a 16-bit step of the exact luma, and off the 8-bit grid by far more.
        assert!(
            (g.data[1] - want).abs() < 2.0 / 65_535.0,
            "{} vs {want}",
            g.data[1]
        );
        let eight = (want * 255.0).round() / 255.0;
        assert!((g.data[1] - eight).abs() > 1e-3, "{} vs {eight}", g.data[1]);
        assert_eq!((f.bit_depth, f.channels), (16, 3));
        let note = f.gray_note().unwrap();
        assert!(
            note.contains("16-bit RGB") && note.contains("converted to gray"),
            "{note}"
        );
        let g16 = ImageBuffer::from_fn(2, 1, |_, _| Luma([1000u16]));
        let p = write(
            dir.path(),
            "g16.tif",
            DynamicImage::ImageLuma16(g16),
            ImageFormat::Tiff,
        );
        let (g, f) = read_gray_noted(&p).unwrap();
        assert!((g.data[0] - 1000.0 / 65_535.0).abs() < 1e-7);
        assert_eq!(
            (f.describe(), f.gray_note()),
            ("16-bit gray".to_string(), None)
        );
    }

    #[test]
    fn truncated_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let img = ImageBuffer::from_fn(64, 64, |x, y| Luma([((x * y) % 256) as u8]));
        let p = write(
            dir.path(),
            "cut.png",
            DynamicImage::ImageLuma8(img),
            ImageFormat::Png,
        );
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let e = read_gray(&p).unwrap_err();
        assert!(format!("{e:#}").contains("cut.png"), "{e:#}");
        let e = decode_gray(b"not an image at all", "junk.png").unwrap_err();
        assert!(format!("{e:#}").contains("junk.png"), "{e:#}");
    }

    #[test]
    fn oversized_header_is_an_error_not_an_allocation() {
        // A BMP header claiming 100000 x 100000 pixels with no pixel data behind it.
        let (w, h) = (100_000i32, 100_000i32);
        let mut b = Vec::new();
        b.extend_from_slice(b"BM");
        b.extend_from_slice(&(54u32 + 16).to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&54u32.to_le_bytes());
        b.extend_from_slice(&40u32.to_le_bytes());
        b.extend_from_slice(&w.to_le_bytes());
        b.extend_from_slice(&h.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&24u16.to_le_bytes());
        b.extend_from_slice(&[0; 24]);
        b.extend_from_slice(&[0; 16]);
        let e = decode_gray(&b, "huge.bmp").unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("huge.bmp") && msg.contains("too large"),
            "{msg}"
        );
    }

    #[test]
    fn jpeg_cut_short_is_an_error_and_headers_give_dimensions() {
        let img = DynamicImage::ImageLuma8(image::GrayImage::from_fn(64, 48, |x, y| {
            Luma([(x * 3 + y) as u8])
        }));
        let mut jpeg = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        assert!(decode_dynamic(&jpeg, "whole.jpg").is_ok());
        let e = decode_dynamic(&jpeg[..jpeg.len() / 2], "cut.jpg")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cut.jpg") && e.contains("truncated JPEG"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.png");
        img.save(&p).unwrap();
        assert_eq!(header_dimensions(&p).unwrap(), (64, 48));
    }
}
