//! The Graph lab: GCN, GAT and an MLP for node classification on Cora, Citeseer, PubMed, a
//! user's own graph or a synthetic graph.
//!
//! Sparse throughout: features and adjacency are CSR matrices multiplied by a custom candle op
//! ([`sparse`]), attention runs over the edge list with fused edge ops ([`edge_ops`]).

pub mod cli;
pub mod config;
pub mod descriptor;
pub(crate) mod edge_ops;
pub(crate) mod gat;
pub(crate) mod gcn;
pub mod keys;
pub(crate) mod layers;
pub(crate) mod mlp;
pub(crate) mod model;
pub(crate) mod pca;
pub(crate) mod prep;
pub mod presets;
pub(crate) mod restore;
pub(crate) mod sparse;
pub mod train;
pub mod ui;

pub use config::{AdjNorm, DatasetArg, GraphConfig, GraphParams, ModelKind, Preset, StopRule};
pub use descriptor::{DESCRIPTOR, published};
pub use keys::metric;
pub use train::{
    AttentionSnapshot, ConfusionMatrix, EmbeddingSnapshot, RunResult, run, run_seeds,
    run_seeds_recorded, seed_prefix, train_one,
};
