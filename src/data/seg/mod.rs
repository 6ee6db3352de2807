//! Segmentation data: the procedural `shapes` set, image/mask folders (ISBI 2012 is one), the
//! seeded validation split and the augmented random crops used for training.
//!
//! Class convention everywhere: class 1 = membrane / boundary (the model's single logit is the
//! probability of class 1), class 0 = cell interior / background. ISBI masks are white inside
//! cells and black on membranes, so they are read inverted. A user folder's class 1 is the mask's
//! foreground (non-zero: 0/1, 0/255 or a label map; see `mask.rs`), or its background with
//! `invert`.

mod dataset;
pub mod folder;
pub(crate) mod image;
pub mod image_io;
pub(crate) mod inspect;
pub mod mask;
pub mod shapes;

pub use dataset::*;
