//! Segmentation lab: a U-Net with skip connections on or off, trained on `shapes`, ISBI 2012 or
//! a user folder; validation IoU per class, a prediction gallery, tiled inference, checkpoints.
//!
//! Classes: class 1 = membrane / boundary (what the single logit predicts), class 0 = interior.

pub mod adamw;
pub mod alloc;
pub mod apply;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod conv;
#[cfg(test)]
mod conv_check;
pub mod descriptor;
pub mod direct;
pub mod infer;
pub mod kernels;
pub mod metrics;
pub mod ops;
pub mod predict_cli;
pub mod render;
pub mod restore;
pub mod step;
pub mod timers;
pub mod train;
pub mod ui;
pub mod unet;
pub mod wgrad;
pub mod winograd;

pub use checkpoint::{ModelMeta, SegModel};
pub use descriptor::{DESCRIPTOR, metric};
pub use train::{
    SegConfig, SegEpoch, TrainOutput, TrainedSeg, bench_steps, run, run_recorded, train,
};
pub use unet::UNetConfig;
