//! Segmentation lab: a U-Net with skip connections on or off, trained on `shapes`, ISBI 2012 or
//! a user folder; validation IoU per class, a prediction gallery, tiled inference, checkpoints.
//!
//! The CPU kernels live in the `gradlab-kernels` crate (`crates/gradlab-kernels`); `ops.rs`
//! wraps them as candle ops and `step.rs` runs the training step on them.
//!
//! Classes: class 1 = membrane / boundary (what the single logit predicts), class 0 = interior.

pub(crate) mod adamw;
pub mod apply;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod descriptor;
pub(crate) mod infer;
pub mod keys;
pub mod metrics;
pub(crate) mod ops;
pub mod predict_cli;
pub mod presets;
pub(crate) mod render;
pub(crate) mod restore;
pub(crate) mod step;
pub mod train;
pub mod ui;
pub(crate) mod unet;

pub use checkpoint::{ModelMeta, SegModel};
pub use descriptor::DESCRIPTOR;
pub use keys::metric;
pub use train::{
    SegConfig, SegEpoch, TrainOutput, TrainedSeg, bench_steps, run, run_recorded, train,
};
pub use unet::UNetConfig;
