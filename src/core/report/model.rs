//! What a report is made of: recorded runs, read from the run store by the caller, and facts about
//! the machine. The report never reads the screen, only these.

use std::collections::BTreeMap;

use serde_json::Value;

/// One recorded run as the report needs it.
#[derive(Clone, Debug, Default)]
pub struct ReportRun {
    pub id: String,
    /// "graphs", "segmentation", "theory", ...
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

/// Where and with what the report was made.
#[derive(Clone, Debug, Default)]
pub struct ReportMeta {
    pub date: String,
    pub version: String,
    pub commit: Option<String>,
    pub machine: String,
}

/// Figures published for the same experiments, shown beside the user's numbers.
pub struct Reference {
    pub lab: &'static str,
    /// Shown when a run of the report used one of these datasets (empty: always).
    pub datasets: &'static [&'static str],
    pub what: &'static str,
    pub value: &'static str,
    pub source: &'static str,
}

pub const REFERENCES: [Reference; 10] = [
    Reference {
        lab: "graphs",
        datasets: &["cora", "cora-planetoid"],
        what: "GCN test accuracy, Cora (Planetoid split)",
        value: "0.815",
        source: "Kipf & Welling, ICLR 2017, Table 2",
    },
    Reference {
        lab: "graphs",
        datasets: &["cora", "cora-planetoid"],
        what: "GAT test accuracy, Cora (Planetoid split)",
        value: "0.830 ± 0.007",
        source: "Veličković et al., ICLR 2018, Table 2",
    },
    Reference {
        lab: "graphs",
        datasets: &["citeseer"],
        what: "GCN test accuracy, Citeseer (Planetoid split)",
        value: "0.703",
        source: "Kipf & Welling, ICLR 2017, Table 2",
    },
    Reference {
        lab: "graphs",
        datasets: &["citeseer"],
        what: "GAT test accuracy, Citeseer (Planetoid split)",
        value: "0.725 ± 0.007",
        source: "Veličković et al., ICLR 2018, Table 2",
    },
    Reference {
        lab: "graphs",
        datasets: &["pubmed"],
        what: "GCN test accuracy, PubMed (Planetoid split)",
        value: "0.790",
        source: "Kipf & Welling, ICLR 2017, Table 2",
    },
    Reference {
        lab: "graphs",
        datasets: &["pubmed"],
        what: "GAT test accuracy, PubMed (Planetoid split)",
        value: "0.790 ± 0.003",
        source: "Veličković et al., ICLR 2018, Table 2",
    },
    Reference {
        lab: "graphs",
        datasets: &["cora"],
        what: "GCN accuracy, assignment split and preset (one split)",
        value: "0.6515",
        source: "the homework",
    },
    Reference {
        lab: "graphs",
        datasets: &["cora"],
        what: "GAT accuracy, assignment split and preset (one split)",
        value: "0.8057",
        source: "the homework",
    },
    Reference {
        lab: "segmentation",
        datasets: &[],
        what: "U-Net validation mIoU with skip connections",
        value: "about 0.78",
        source: "the homework",
    },
    Reference {
        lab: "segmentation",
        datasets: &[],
        what: "U-Net validation mIoU without skip connections",
        value: "about 0.68",
        source: "the homework",
    },
];
