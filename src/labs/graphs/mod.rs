//! The Graph lab: GCN, GAT and an MLP for node classification on Cora or a synthetic graph.
//!
//! Sparse throughout: features and adjacency are CSR matrices multiplied by a custom candle op
//! ([`sparse`]), attention runs over the edge list with fused edge ops ([`edge_ops`]).

pub mod cli;
pub mod config;
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

pub use config::{AdjNorm, DatasetArg, GraphConfig, GraphParams, ModelKind, Preset};
pub use train::{
    AttentionSnapshot, ConfusionMatrix, EmbeddingSnapshot, RunResult, run, run_seeds,
    run_seeds_recorded, seed_prefix, train_one,
};
