//! What a report is made of: recorded runs, read from the run store by the caller, and facts about
//! the machine. The report never reads the screen, only these.

use std::collections::BTreeMap;

use serde_json::Value;

/// One recorded run as the report needs it.
#[derive(Clone, Debug, Default)]
pub struct ReportRun {
    pub id: String,
    /// The id of the lab that recorded it (its descriptor's `id`).
    pub lab: String,
    pub name: String,
    /// The dataset the run recorded ("cora", "cora-planetoid", a folder's name; "" if none).
    pub dataset: String,
    pub status: String,
    pub seed: Option<u64>,
    /// The resolved configuration (what `--print-config` shows).
    pub config: Value,
    /// Runs with the same key differ only by their seed (same data, same settings).
    pub config_key: String,
    /// sha256 of the data the run trained on (`None`: recorded by an older gradlab).
    pub dataset_sha256: Option<String>,
    pub summary: Value,
    /// The CLI command that reproduces the run.
    pub command: String,
    pub started: String,
    pub metrics: BTreeMap<String, Vec<[f64; 2]>>,
    /// Pictures to show (PNG bytes), e.g. the segmentation gallery.
    pub images: Vec<(String, Vec<u8>)>,
    /// Saved model files and their sha256.
    pub checkpoints: Vec<(String, String)>,
    /// Artifacts listed for the run but missing on disk.
    pub missing: Vec<String>,
}
