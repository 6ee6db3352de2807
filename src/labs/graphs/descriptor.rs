//! The Graphs lab described once: its names, metric keys, main figure and the published figures
//! it is compared with.

use super::keys::{self, metric};
use crate::core::descriptor::{LabDescriptor, Metric, Reference, XAxis};

const KIPF: &str = "Kipf & Welling, ICLR 2017, Table 2";
const VELICKOVIC: &str = "Veličković et al., ICLR 2018, Table 2";
const HOMEWORK: &str = "the homework";
/// The papers' figures are of the Planetoid split (the other splits of Cora's LINQS files are
/// different train / test nodes of the same graph).
const PLANETOID_SPLIT: &[(&str, &str)] = &[("split", "planetoid")];
/// The homework's figures are of its own (assignment) split.
const ASSIGNMENT_SPLIT: &[(&str, &str)] = &[("split", "assignment")];

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
            when: PLANETOID_SPLIT,
            what: "GCN test accuracy, Cora (Planetoid split)",
            value: "0.815",
            source: KIPF,
        },
        Reference {
            tag: "gat",
            datasets: &["cora", "cora-planetoid"],
            when: PLANETOID_SPLIT,
            what: "GAT test accuracy, Cora (Planetoid split)",
            value: "0.830 ± 0.007",
            source: VELICKOVIC,
        },
        Reference {
            tag: "gcn",
            datasets: &["citeseer"],
            when: PLANETOID_SPLIT,
            what: "GCN test accuracy, Citeseer (Planetoid split)",
            value: "0.703",
            source: KIPF,
        },
        Reference {
            tag: "gat",
            datasets: &["citeseer"],
            when: PLANETOID_SPLIT,
            what: "GAT test accuracy, Citeseer (Planetoid split)",
            value: "0.725 ± 0.007",
            source: VELICKOVIC,
        },
        Reference {
            tag: "gcn",
            datasets: &["pubmed"],
            when: PLANETOID_SPLIT,
            what: "GCN test accuracy, PubMed (Planetoid split)",
            value: "0.790",
            source: KIPF,
        },
        Reference {
            tag: "gat",
            datasets: &["pubmed"],
            when: PLANETOID_SPLIT,
            what: "GAT test accuracy, PubMed (Planetoid split)",
            value: "0.790 ± 0.003",
            source: VELICKOVIC,
        },
        Reference {
            tag: "gcn homework",
            datasets: &["cora"],
            when: ASSIGNMENT_SPLIT,
            what: "GCN accuracy, assignment split and preset (one split)",
            value: "0.6515",
            source: HOMEWORK,
        },
        Reference {
            tag: "gat homework",
            datasets: &["cora"],
            when: ASSIGNMENT_SPLIT,
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
/// "citeseer", "pubmed") with the recorded `config` (a [`super::config::GraphConfig`] as JSON),
/// and where it is from: the figures of GCN (Kipf & Welling 2017, Table 2) and GAT (Veličković
/// et al. 2018, Table 2), both on the Planetoid split. Decided by [`Reference::applies`], as the
/// report decides which figures to print beside the same runs.
pub fn published(
    model: super::config::ModelKind,
    dataset: &str,
    config: &serde_json::Value,
) -> Option<(&'static str, &'static str)> {
    let tag = model.label().to_lowercase();
    DESCRIPTOR
        .references
        .iter()
        .find(|r| r.tag == tag && r.applies(dataset, config))
        .map(|r| (r.value, r.source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::graph::SplitKind;
    use crate::labs::graphs::config::ModelKind;

    /// A run's recorded config with `split`, as the store holds it.
    fn config(split: SplitKind) -> serde_json::Value {
        serde_json::to_value(crate::labs::graphs::config::GraphConfig {
            split,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn published_figures_only_for_the_planetoid_split() {
        assert_eq!(
            published(ModelKind::Gat, "citeseer", &config(SplitKind::Planetoid)),
            Some(("0.725 ± 0.007", "Veličković et al., ICLR 2018, Table 2"))
        );
        assert_eq!(
            published(
                ModelKind::Gcn,
                "cora-planetoid",
                &config(SplitKind::Planetoid)
            )
            .map(|p| p.0),
            Some("0.815")
        );
        assert_eq!(
            published(ModelKind::Gcn, "cora", &config(SplitKind::Pygcn)),
            None
        );
        assert_eq!(
            published(ModelKind::Mlp, "citeseer", &config(SplitKind::Planetoid)),
            None
        );
    }

    /// The report prints beside a run exactly the figures the app's "paper" column would:
    /// none of the papers' Planetoid figures beside Cora with the pygcn split (they were, while
    /// the app's column was empty).
    #[test]
    fn the_app_and_the_report_agree_on_which_figures_apply() {
        for (dataset, split) in [
            ("cora", SplitKind::Pygcn),
            ("cora", SplitKind::Assignment),
            ("cora", SplitKind::Random),
            ("cora-planetoid", SplitKind::Planetoid),
            ("citeseer", SplitKind::Planetoid),
            ("synthetic-h0.80", SplitKind::Pygcn),
        ] {
            let cfg = config(split);
            for model in ModelKind::ALL {
                let app = published(model, dataset, &cfg).map(|p| p.0);
                let tag = model.label().to_lowercase();
                let report: Vec<&str> = DESCRIPTOR
                    .references
                    .iter()
                    .filter(|r| r.tag == tag && r.applies(dataset, &cfg))
                    .map(|r| r.value)
                    .collect();
                assert_eq!(
                    app.into_iter().collect::<Vec<_>>(),
                    report,
                    "{model:?} {dataset} {split:?}"
                );
            }
            let planetoid = DESCRIPTOR
                .references
                .iter()
                .filter(|r| r.what.contains("Planetoid") && r.applies(dataset, &cfg))
                .count();
            assert_eq!(
                planetoid > 0,
                split == SplitKind::Planetoid,
                "{dataset} {split:?}"
            );
        }
    }
}
