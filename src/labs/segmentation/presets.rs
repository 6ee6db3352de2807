//! The questions the Segmentation lab ships as one-click sweeps (`gradlab sweep segmentation
//! --preset ID`), sized to finish in minutes on two cores; their measured answers are in the
//! README.

use crate::core::descriptor::SweepPreset;

pub const PRESETS: &[SweepPreset] = &[SweepPreset {
    id: "depth_skips",
    question: "Does the benefit of skip connections grow with depth? U-Nets of depth 2 to 5, skips on and off, on shapes.",
    flags: &["--dataset", "shapes", "--epochs", "6", "--seeds", "3"],
    vary: &[("depth", &["2", "3", "4", "5"]), ("skips", &["on", "off"])],
    metric: None,
}];
