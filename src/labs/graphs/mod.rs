//! The Graph lab: GCN, GAT and an MLP for node classification on Cora, Citeseer, PubMed, a
//! user's own graph or a synthetic graph.
//!
//! Sparse throughout: features and adjacency are CSR matrices multiplied by a custom candle op
//! ([`sparse`]), attention runs over the edge list with fused edge ops ([`edge_ops`]).

pub mod cli;
pub mod config;
pub mod descriptor;
pub mod edge_ops;
pub mod gat;
pub mod gcn;
pub mod mlp;
pub mod model;
pub mod pca;
pub mod prep;
pub mod restore;
pub mod sparse;
pub mod train;
pub mod ui;

pub use config::{AdjNorm, DatasetArg, GraphConfig, GraphParams, ModelKind, Preset, StopRule};
pub use descriptor::{DESCRIPTOR, metric};
pub use train::{
    AttentionSnapshot, ConfusionMatrix, EmbeddingSnapshot, RunResult, run, run_seeds,
    run_seeds_recorded, seed_prefix, train_one,
};

/// The published test accuracy of `model` on `dataset` (as a run records it: "cora-planetoid",
/// "citeseer", "pubmed") with `split`, and where it is from: the figures of GCN (Kipf & Welling
/// 2017, Table 2) and GAT (Veličković et al. 2018, Table 2), both on the Planetoid split. Cora's
/// LINQS files with the pygcn split are a different split of the same graph; no figure is
/// claimed for them.
pub fn published(
    model: ModelKind,
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
