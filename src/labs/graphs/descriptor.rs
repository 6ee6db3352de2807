//! The Graphs lab described once: its names, metric keys, main figure and the published figures
//! it is compared with.

use crate::core::descriptor::{LabDescriptor, Metric, Reference, XAxis};

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

const KIPF: &str = "Kipf & Welling, ICLR 2017, Table 2";
const VELICKOVIC: &str = "Veličković et al., ICLR 2018, Table 2";
const HOMEWORK: &str = "the homework";

pub const DESCRIPTOR: LabDescriptor = LabDescriptor {
    id: "graphs",
    title: "Graphs",
    report_title: "Graphs: node classification",
    cli_aliases: &["graph"],
    summary: &[
        Metric::higher(metric::TEST_ACC, XAxis::None),
        Metric::higher(metric::VAL_ACC, XAxis::None),
        Metric::neither(metric::BEST_EPOCH, XAxis::None),
        Metric::neither(metric::MS_PER_EPOCH, XAxis::None),
    ],
    curves: &[
        Metric::higher(metric::VAL_ACC, XAxis::Epoch),
        Metric::lower(metric::VAL_LOSS, XAxis::Epoch),
        Metric::higher(metric::TRAIN_ACC, XAxis::Epoch),
        Metric::lower(metric::TRAIN_LOSS, XAxis::Epoch),
    ],
    references: &[
        Reference {
            tag: "gcn",
            datasets: &["cora", "cora-planetoid"],
            what: "GCN test accuracy, Cora (Planetoid split)",
            value: "0.815",
            source: KIPF,
        },
        Reference {
            tag: "gat",
            datasets: &["cora", "cora-planetoid"],
            what: "GAT test accuracy, Cora (Planetoid split)",
            value: "0.830 ± 0.007",
            source: VELICKOVIC,
        },
        Reference {
            tag: "gcn",
            datasets: &["citeseer"],
            what: "GCN test accuracy, Citeseer (Planetoid split)",
            value: "0.703",
            source: KIPF,
        },
        Reference {
            tag: "gat",
            datasets: &["citeseer"],
            what: "GAT test accuracy, Citeseer (Planetoid split)",
            value: "0.725 ± 0.007",
            source: VELICKOVIC,
        },
        Reference {
            tag: "gcn",
            datasets: &["pubmed"],
            what: "GCN test accuracy, PubMed (Planetoid split)",
            value: "0.790",
            source: KIPF,
        },
        Reference {
            tag: "gat",
            datasets: &["pubmed"],
            what: "GAT test accuracy, PubMed (Planetoid split)",
            value: "0.790 ± 0.003",
            source: VELICKOVIC,
        },
        Reference {
            tag: "gcn homework",
            datasets: &["cora"],
            what: "GCN accuracy, assignment split and preset (one split)",
            value: "0.6515",
            source: HOMEWORK,
        },
        Reference {
            tag: "gat homework",
            datasets: &["cora"],
            what: "GAT accuracy, assignment split and preset (one split)",
            value: "0.8057",
            source: HOMEWORK,
        },
    ],
    report: None,
    config: Some(super::cli::print_config),
    sweep: Some(super::cli::SWEEP),
};
