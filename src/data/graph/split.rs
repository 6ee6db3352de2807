//! A split of a graph's nodes into training, validation and test sets, and the kinds of split;
//! how a split is drawn from a graph is in `splits.rs`.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum SplitKind {
    /// Random permutation (seeded): first 140 nodes train (CSC413 A4), the next 500 validate
    /// (half of the rest on graphs with fewer than 1140 nodes), all the others are the test.
    Assignment,
    /// Rows 0-139 train, 200-499 validation, 500-1499 test (pygcn / pyGAT on Cora).
    #[default]
    Pygcn,
    /// 20 labelled nodes per class train (`--train-per-class`), 500 validation (half of the rest
    /// on small graphs), all the other labelled nodes are the test; seeded.
    Random,
    /// The split that comes with the Planetoid files (GCN and GAT papers): the rows of `x`
    /// train, the next 500 nodes validate, the 1000 nodes of `test.index` are the test.
    Planetoid,
}

impl SplitKind {
    pub const ALL: [SplitKind; 4] = [
        SplitKind::Assignment,
        SplitKind::Pygcn,
        SplitKind::Random,
        SplitKind::Planetoid,
    ];
    pub fn label(self) -> &'static str {
        match self {
            SplitKind::Assignment => "assignment",
            SplitKind::Pygcn => "pygcn",
            SplitKind::Random => "random",
            SplitKind::Planetoid => "planetoid",
        }
    }
}

/// Training nodes per class of the random split, by default.
pub const TRAIN_PER_CLASS: usize = 20;

/// Validation nodes of the assignment split (fewer on small graphs: half of the non-training ones).
pub const ASSIGNMENT_VAL: usize = 500;
/// Validation nodes of the random split (fewer on small graphs: half of the non-training ones).
pub const RANDOM_VAL: usize = 500;

#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub train: Vec<u32>,
    pub val: Vec<u32>,
    pub test: Vec<u32>,
}
