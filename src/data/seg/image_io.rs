//! Decoding user images with limits, so a hostile or huge file is an error and never an
//! out-of-memory. Every format (PNG, JPEG, BMP, TIFF; gray, RGB, alpha, 8 or 16 bit) becomes one
//! gray f32 plane in [0, 1]; alpha is ignored because microscopy and masks do not use it. Colour
//! (H&E histology, microscope RGB) becomes luma at the file's own precision: the network takes
//! one channel, and `PixelFormat::gray_note` says so to the user.

use std::io::{BufRead, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{Context, bail};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

/// Pixel memory one image may need on its way through `predict` (decoded pixels, the gray copy
/// of a colour image, the 1-byte mask): the accepted size follows from this, not from a side
/// length. Gray 8-bit images need 2 bytes a pixel (up to ~335 Mpx, 18 300 x 18 300), 8-bit
/// RGB 7 (~96 Mpx, 9 790 x 9 790), 16-bit RGBA 12 (~56 Mpx, 7 480 x 7 480); with the
/// network's tiles on top, `predict` stays under 1 GB for every accepted image. See
/// [`pixel_bytes`].
pub const MAX_PIXEL_BYTES: u64 = 640 << 20;
/// Largest decoder allocation (a second guard behind [`MAX_PIXEL_BYTES`]).
pub const MAX_ALLOC: u64 = 1 << 30;
/// Largest file read: no accepted image needs more, and a garbage file of many GB must not be
/// decoded at all.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Bytes of pixel memory an image of `w` x `h` stored as `color` needs at its peak on the way
/// through `predict`: max(decoded + gray plane, gray plane + mask). Orientations that turn the picture
/// by 90 degrees copy the decoded pixels once more.
pub fn pixel_bytes(w: u32, h: u32, color: image::ColorType, turned: bool) -> u64 {
    use image::ColorType as C;
    let px = u64::from(w) * u64::from(h);
    let stored = u64::from(color.bytes_per_pixel());
    let channels = u64::from(color.channel_count());
    // Gray keeps its own depth; colour becomes f32 luma (see `GrayPlane`).
    let gray = if channels <= 2 { stored / channels } else { 4 };
    // Plain gray becomes the gray plane without a copy; everything else is converted.
    let copy = if matches!(color, C::L8 | C::L16) {
        0
    } else {
        gray
    };
    let decode = stored * (1 + u64::from(turned)) + copy;
    px * decode.max(gray + 1)
}

/// An error unless [`pixel_bytes`] fits in [`MAX_PIXEL_BYTES`]; names the file and the limit.
pub fn check_pixel_budget(
    name: &str,
    w: u32,
    h: u32,
    color: image::ColorType,
    turned: bool,
) -> anyhow::Result<()> {
    let need = pixel_bytes(w, h, color, turned);
    if need > MAX_PIXEL_BYTES {
        let per_px = need / (u64::from(w) * u64::from(h)).max(1);
        bail!(
            "{name}: image is too large: {w} x {h} pixels of {color:?} need {} MiB of pixel memory \
             ({per_px} bytes a pixel); at most {} MiB are accepted (about {} million pixels of this kind)",
            need >> 20,
            MAX_PIXEL_BYTES >> 20,
            MAX_PIXEL_BYTES / per_px.max(1) / 1_000_000
        );
    }
    Ok(())
}

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

/// Read access to a gray picture's values in [0, 1], row-major (`i = y * width + x`).
pub trait Gray: Sync {
    fn width(&self) -> usize;
    fn height(&self) -> usize;
    fn at(&self, i: usize) -> f32;
}

impl Gray for GrayF32 {
    fn width(&self) -> usize {
        self.width
    }
    fn height(&self) -> usize {
        self.height
    }
    #[inline]
    fn at(&self, i: usize) -> f32 {
        self.data[i]
    }
}

/// A gray picture kept at the file's own precision: 1 byte a pixel for 8-bit gray files, 2 for
/// 16-bit gray, 4 for colour (luma is computed in f32) and float.
/// [`Gray::at`] gives bit for bit what [`to_gray_f32`] gives, in a quarter of the memory for
/// 8-bit files.
#[derive(Clone, Debug, PartialEq)]
pub struct GrayPlane {
    pub width: usize,
    pub height: usize,
    pixels: Pixels,
}

#[derive(Clone, Debug, PartialEq)]
enum Pixels {
    U8(Vec<u8>),
    U16(Vec<u16>),
    F32(Vec<f32>),
}

impl GrayPlane {
    /// Takes the decoded image (gray 8/16-bit pixels are kept without a copy).
    pub fn from_dynamic(img: DynamicImage) -> Self {
        let (width, height) = (img.width() as usize, img.height() as usize);
        let ct = img.color();
        let pixels = match (
            ct.channel_count(),
            ct.bytes_per_pixel() / ct.channel_count(),
        ) {
            (1 | 2, 1) => Pixels::U8(img.into_luma8().into_raw()),
            (1 | 2, 2) => Pixels::U16(img.into_luma16().into_raw()),
            // Colour: `image` computes luma in f32, so the values need 4 bytes to stay exact.
            _ => Pixels::F32(to_gray_f32(&img).data),
        };
        Self {
            width,
            height,
            pixels,
        }
    }

    /// The first non-finite value (only float files can hold one).
    pub fn first_non_finite(&self) -> Option<f32> {
        match &self.pixels {
            Pixels::F32(v) => v.iter().copied().find(|v| !v.is_finite()),
            _ => None,
        }
    }

    /// The picture as f32 values (4 bytes a pixel).
    pub fn to_f32(&self) -> GrayF32 {
        GrayF32::new(
            self.width,
            self.height,
            (0..self.width * self.height).map(|i| self.at(i)).collect(),
        )
    }
}

impl Gray for GrayPlane {
    fn width(&self) -> usize {
        self.width
    }
    fn height(&self) -> usize {
        self.height
    }
    /// The same arithmetic as `image`'s `to_luma32f` (`v as f32 / MAX`, clamped).
    #[inline]
    fn at(&self, i: usize) -> f32 {
        match &self.pixels {
            Pixels::U8(v) => (v[i] as f32 / u8::MAX as f32).clamp(0.0, 1.0),
            Pixels::U16(v) => (v[i] as f32 / u16::MAX as f32).clamp(0.0, 1.0),
            Pixels::F32(v) => v[i],
        }
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
    decode_from(Cursor::new(bytes), name)
}

/// Whether the last 4 KiB of `src` hold a JPEG end-of-image marker (some cameras write trailing
/// bytes after it).
fn has_jpeg_end<R: Read + Seek>(src: &mut R) -> std::io::Result<bool> {
    let len = src.seek(SeekFrom::End(0))?;
    src.seek(SeekFrom::Start(len.saturating_sub(4096)))?;
    let mut tail = Vec::with_capacity(4096);
    src.read_to_end(&mut tail)?;
    src.seek(SeekFrom::Start(0))?;
    Ok(tail.windows(2).any(|w| w == [0xFF, 0xD9]))
}

/// Decodes from a seekable source (a file is read as it decodes, never whole into memory first):
/// the checks and limits of [`decode_oriented`].
fn decode_from<R: BufRead + Seek>(
    mut src: R,
    name: &str,
) -> anyhow::Result<(DynamicImage, Decoded)> {
    let guessed = ImageReader::new(&mut src)
        .with_guessed_format()
        .with_context(|| format!("{name}: cannot read"))?
        .format();
    let Some(format) = guessed else {
        bail!("{name}: not an image this program reads (PNG, JPEG, BMP or TIFF)");
    };
    // The JPEG decoder pads a cut-off file with grey instead of failing: require the end marker.
    if format == image::ImageFormat::Jpeg
        && !has_jpeg_end(&mut src).with_context(|| format!("{name}: cannot read"))?
    {
        bail!("{name}: truncated JPEG (no end-of-image marker)");
    }
    src.seek(SeekFrom::Start(0))
        .with_context(|| format!("{name}: cannot read"))?;
    let mut reader = ImageReader::with_format(&mut src, format);
    reader.limits(limits());
    let decode_error = |e: image::ImageError| match e {
        image::ImageError::Limits(l) => anyhow::anyhow!(
            "{name}: image is too large ({l}); at most {} MiB of pixel memory are accepted",
            MAX_PIXEL_BYTES >> 20
        ),
        other => anyhow::anyhow!("{name}: cannot decode: {other}"),
    };
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    // A damaged EXIF block is no reason to refuse the pixels: read upright then.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let (w, h) = decoder.dimensions();
    check_pixel_budget(name, w, h, decoder.color_type(), is_turned(orientation))?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    if img.width() == 0 || img.height() == 0 {
        bail!("{name}: image has no pixels");
    }
    img.apply_orientation(orientation);
    let more_pages = format == image::ImageFormat::Tiff && {
        src.seek(SeekFrom::Start(0))
            .map(|_| tiff_has_more_pages(&mut src))
            .unwrap_or(false)
    };
    Ok((
        img,
        Decoded {
            orientation: orientation.to_exif(),
            more_pages,
        },
    ))
}

/// Orientations that swap width and height.
fn is_turned(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// Whether a TIFF holds a second image file directory (a second page).
fn tiff_has_more_pages<R: Read + Seek>(src: R) -> bool {
    tiff::decoder::Decoder::new(src)
        .map(|d| d.more_images())
        .unwrap_or(false)
}

pub fn read_dynamic(path: &Path) -> anyhow::Result<DynamicImage> {
    Ok(read_oriented(path)?.0)
}

/// [`read_dynamic`] with what was done to the file (orientation, extra pages). The file is
/// decoded as it is read: its bytes are never all in memory beside its pixels.
pub fn read_oriented(path: &Path) -> anyhow::Result<(DynamicImage, Decoded)> {
    let name = path.display().to_string();
    let file =
        std::fs::File::open(path).with_context(|| format!("{name}: cannot read the file"))?;
    let len = file
        .metadata()
        .with_context(|| format!("{name}: cannot read the file"))?
        .len();
    if len > MAX_FILE_BYTES {
        bail!(
            "{name}: file is {} MiB; images over {} MiB are not read",
            len >> 20,
            MAX_FILE_BYTES >> 20
        );
    }
    decode_from(std::io::BufReader::new(file), &name)
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
    let turned = is_turned(decoder.orientation().unwrap_or(Orientation::NoTransforms));
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

/// [`read_gray_noted`] at the file's own precision (1 byte a pixel for 8-bit files): what
/// `predict` streams its tiles from.
pub fn read_plane_noted(path: &Path) -> anyhow::Result<(GrayPlane, PixelFormat)> {
    let (img, decoded) = read_oriented(path)?;
    let format = PixelFormat::of(&img, decoded);
    let plane = GrayPlane::from_dynamic(img);
    if let Some(bad) = plane.first_non_finite() {
        bail!(
            "{}: the image has non-finite pixel values ({bad})",
            path.display()
        );
    }
    Ok((plane, format))
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

    #[test]
    fn the_gray_plane_equals_the_f32_conversion_bit_for_bit() {
        let (w, h) = (7u32, 5u32);
        let v = |x: u32, y: u32, c: u32| (x * 37 + y * 91 + c * 53) % 256;
        let images = [
            DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| Luma([v(x, y, 0) as u8]))),
            DynamicImage::ImageLumaA8(ImageBuffer::from_fn(w, h, |x, y| {
                LumaA([v(x, y, 0) as u8, 9])
            })),
            DynamicImage::ImageRgb8(ImageBuffer::from_fn(w, h, |x, y| {
                Rgb([v(x, y, 0) as u8, v(x, y, 1) as u8, v(x, y, 2) as u8])
            })),
            DynamicImage::ImageRgba16(ImageBuffer::from_fn(w, h, |x, y| {
                Rgba([
                    (v(x, y, 0) * 257) as u16,
                    (v(x, y, 1) * 251) as u16,
                    (v(x, y, 2) * 199) as u16,
                    7,
                ])
            })),
            DynamicImage::ImageLuma16(ImageBuffer::from_fn(w, h, |x, y| {
                Luma([(v(x, y, 0) * 255) as u16])
            })),
            DynamicImage::ImageRgb32F(ImageBuffer::from_fn(w, h, |x, y| {
                Rgb([v(x, y, 0) as f32 / 300.0, 0.5, 2.0])
            })),
        ];
        for img in images {
            let want = to_gray_f32(&img);
            let got = GrayPlane::from_dynamic(img.clone()).to_f32();
            assert_eq!((got.width, got.height), (want.width, want.height));
            for (a, b) in got.data.iter().zip(&want.data) {
                assert_eq!(a.to_bits(), b.to_bits(), "{:?}", img.color());
            }
        }
    }

    #[test]
    fn the_size_limit_follows_from_memory_and_names_the_file() {
        use image::ColorType as C;
        // 12000 x 12000 8-bit gray fits (and 9000 x 9000 RGB); the same in RGB does not.
        assert!(check_pixel_budget("a.png", 12_000, 12_000, C::L8, false).is_ok());
        assert!(check_pixel_budget("a.png", 9_000, 9_000, C::Rgb8, false).is_ok());
        let e = check_pixel_budget("big.png", 12_000, 12_000, C::Rgb8, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("big.png") && e.contains("too large") && e.contains("MiB"),
            "{e}"
        );
        // A thin image is limited by its pixels, not its side: 1 x 100 million gray is accepted.
        assert!(check_pixel_budget("thin.png", 1, 100_000_000, C::L8, false).is_ok());
        assert_eq!(pixel_bytes(10, 10, C::L8, false), 200);
        assert_eq!(pixel_bytes(10, 10, C::L16, false), 300);
        assert_eq!(pixel_bytes(10, 10, C::Rgb8, false), 700);
        assert_eq!(pixel_bytes(10, 10, C::Rgb8, true), 1000);
        // Through a real file header: a PNG claiming 30000 x 30000 gray pixels.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wide.png");
        let crc = |bytes: &[u8]| {
            let mut c = !0u32;
            for &b in bytes {
                c ^= u32::from(b);
                for _ in 0..8 {
                    c = if c & 1 == 1 {
                        (c >> 1) ^ 0xEDB8_8320
                    } else {
                        c >> 1
                    };
                }
            }
            !c
        };
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&30_000u32.to_be_bytes());
        ihdr.extend_from_slice(&30_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
        let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
        file.extend_from_slice(&13u32.to_be_bytes());
        file.extend_from_slice(&ihdr);
        file.extend_from_slice(&crc(&ihdr).to_be_bytes());
        // An empty IDAT: the header is read up to the first data chunk.
        for tag in [b"IDAT", b"IEND"] {
            file.extend_from_slice(&0u32.to_be_bytes());
            file.extend_from_slice(tag);
            file.extend_from_slice(&crc(tag).to_be_bytes());
        }
        std::fs::write(&p, &file).unwrap();
        let e = format!("{:#}", read_plane_noted(&p).unwrap_err());
        assert!(e.contains("wide.png") && e.contains("too large"), "{e}");
    }
}
