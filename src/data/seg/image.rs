//! One training image with its class map: what every loader (shapes, ISBI, a user's folder)
//! produces.

use super::image_io::GrayF32;

/// One image with its class map (0/1 per pixel, same size).
#[derive(Clone, Debug, PartialEq)]
pub struct SegImage {
    pub name: String,
    pub image: GrayF32,
    pub mask: Vec<u8>,
}
