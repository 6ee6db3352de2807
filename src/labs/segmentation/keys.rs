//! The names the Segmentation lab is known by, written once: its id (run store, persistence, job
//! kind, CLI subcommand) and the keys of the metrics it records. Everything else of the lab
//! refers to these.

/// The lab's id. Never change it: stored runs and settings are keyed by it.
pub const ID: &str = "segmentation";

/// The metric keys the Segmentation lab records.
pub mod metric {
    pub const VAL_MIOU: &str = "val_miou";
    pub const TRAIN_LOSS: &str = "train_loss";
    /// Per optimiser step, so the loss curve moves while an epoch runs.
    pub const TRAIN_LOSS_STEP: &str = "train_loss_step";
    pub const PIXEL_ACC: &str = "pixel_acc";
    pub const SECONDS: &str = "seconds";
    pub const MS_PER_STEP: &str = "ms_per_step_median";
    /// The per-class IoU curve of class `name` ("membrane", "interior", ...).
    pub fn val_iou(name: &str) -> String {
        format!("val_iou_{name}")
    }
}
