//! Graphs for node classification: the Cora citation graph (LINQS text format), the Planetoid
//! files of Cora, Citeseer and PubMed (Python pickles, read without Python), a user's own graph
//! (a folder of CSV files), a synthetic citation graph generated from a seed, and the
//! train/val/test splits used on them.

pub mod cora;
pub(crate) mod csv_folder;
mod dataset;
pub(crate) mod pickle;
pub(crate) mod planetoid;
pub(crate) mod split;
pub(crate) mod splits;
pub(crate) mod synthetic;

pub use cora::load_cora;
pub use csv_folder::load_csv_folder;
pub use dataset::*;
pub use planetoid::load_planetoid;
pub use splits::{Split, SplitKind};
pub use synthetic::{SyntheticSpec, synthetic_graph};
