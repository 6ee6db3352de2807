//! The names the Graphs lab is known by, written once: its id (run store, persistence, job
//! kind, CLI subcommand) and the keys of the metrics it records. Everything else of the lab
//! refers to these.

/// The lab's id. Never change it: stored runs and settings are keyed by it.
pub const ID: &str = "graphs";

/// The metric keys the Graphs lab records (curves per epoch, summary figures per run).
pub mod metric {
    pub const TRAIN_LOSS: &str = "train_loss";
    pub const VAL_LOSS: &str = "val_loss";
    pub const TRAIN_ACC: &str = "train_acc";
    pub const VAL_ACC: &str = "val_acc";
    /// Measured once, at the epoch the model is reported at.
    pub const TEST_ACC: &str = "test_acc";
    pub const BEST_EPOCH: &str = "best_epoch";
    pub const MS_PER_EPOCH: &str = "ms_per_epoch_median";
}
