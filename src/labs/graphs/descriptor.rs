//! The Graphs lab described once: its names, metric keys, main figure and the published figures
//! it is compared with.

use super::keys::{self, metric};
use crate::core::descriptor::{LabDescriptor, Metric, Reference, XAxis};

const KIPF: &str = "Kipf & Welling, ICLR 2017, Table 2";
const VELICKOVIC: &str = "Veličković et al., ICLR 2018, Table 2";
const HOMEWORK: &str = "the homework";

pub const DESCRIPTOR: LabDescriptor = LabDescriptor {
    id: keys::ID,
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

/// The published test accuracy of `model` on `dataset` (as a run records it: "cora-planetoid",
/// "citeseer", "pubmed") with `split`, and where it is from: the figures of GCN (Kipf & Welling
/// 2017, Table 2) and GAT (Veličković et al. 2018, Table 2), both on the Planetoid split. Cora's
/// LINQS files with the pygcn split are a different split of the same graph; no figure is
/// claimed for them.
pub fn published(
    model: super::config::ModelKind,
    dataset: &str,
    split: crate::data::graph::SplitKind,
) -> Option<(&'static str, &'static str)> {
    if split != crate::data::graph::SplitKind::Planetoid {
        return None;
    }
    let tag = model.label().to_lowercase();
    DESCRIPTOR
        .references
        .iter()
        .find(|r| r.tag == tag && r.datasets.contains(&dataset))
        .map(|r| (r.value, r.source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::graph::SplitKind;
    use crate::labs::graphs::config::ModelKind;

    #[test]
    fn published_figures_only_for_the_planetoid_split() {
        assert_eq!(
            published(ModelKind::Gat, "citeseer", SplitKind::Planetoid),
            Some(("0.725 ± 0.007", "Veličković et al., ICLR 2018, Table 2"))
        );
        assert_eq!(
            published(ModelKind::Gcn, "cora-planetoid", SplitKind::Planetoid).map(|p| p.0),
            Some("0.815")
        );
        assert_eq!(published(ModelKind::Gcn, "cora", SplitKind::Pygcn), None);
        assert_eq!(
            published(ModelKind::Mlp, "citeseer", SplitKind::Planetoid),
            None
        );
    }
}
