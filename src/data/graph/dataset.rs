//! A graph dataset in memory (features, labels, edges, the split it ships with) and what every
//! loader shares: edge canonicalisation and file fingerprints.

use super::split::Split;
use sha2::{Digest, Sha256};
use std::path::Path;

/// A sparse node-feature matrix stored by rows (CSR): Cora's bag-of-words is 1.3 % non-zero, so
/// the dense 2708 x 1433 matrix would be 75x larger than what it says. Binary (0/1) features,
/// the common case, keep no values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BinaryFeatures {
    pub cols: usize,
    /// Row `i` owns `indices[indptr[i]..indptr[i + 1]]`, sorted ascending.
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    /// The value of each stored entry (PubMed's TF-IDF, a user's numeric columns); empty when
    /// every stored entry is 1.
    pub values: Vec<f32>,
}

impl BinaryFeatures {
    pub fn rows(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }
    pub fn row(&self, i: usize) -> &[u32] {
        &self.indices[self.indptr[i]..self.indptr[i + 1]]
    }
    /// The values of row `i` (ones for binary features).
    pub fn row_values(&self, i: usize) -> impl Iterator<Item = f32> + '_ {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (a..b).map(move |k| self.values.get(k).copied().unwrap_or(1.0))
    }
    /// The dense row-major matrix (tests and small graphs only).
    pub fn to_dense(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows() * self.cols];
        for i in 0..self.rows() {
            for (&j, v) in self.row(i).iter().zip(self.row_values(i)) {
                out[i * self.cols + j as usize] = v;
            }
        }
        out
    }
}

/// An undirected graph with node features and one class label per node.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Where it came from, e.g. "cora" or "synthetic (homophily 0.80, seed 0)".
    pub name: String,
    /// A name per node (Cora's paper id), for the node picker.
    pub node_names: Vec<String>,
    pub features: BinaryFeatures,
    pub labels: Vec<u32>,
    pub class_names: Vec<String>,
    /// Each undirected edge once, as (u, v) with u < v; no self-loops, no duplicates.
    pub edges: Vec<(u32, u32)>,
    /// What the loader did with the raw input (duplicates merged, self-loops dropped), for the log.
    pub notes: Vec<String>,
    /// Nodes without a label, sorted: they pass messages but are in no split (their `labels`
    /// entry is 0 and means nothing).
    pub unlabelled: Vec<u32>,
    /// The split that comes with the data (Planetoid's), for `--split planetoid`.
    pub given_split: Option<Split>,
    /// sha256 (lowercase hex) of what the graph was made from: the files read, in a fixed order,
    /// or the generator's parameters and output. Runs record it so that different data never
    /// share a group.
    pub fingerprint: String,
    /// Feed the features as they are instead of dividing each row by its sum (a user's numeric
    /// columns, which may be negative).
    pub raw_features: bool,
}

impl Graph {
    pub fn num_nodes(&self) -> usize {
        self.labels.len()
    }
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }
    pub fn num_features(&self) -> usize {
        self.features.cols
    }
    pub fn is_labelled(&self, i: u32) -> bool {
        self.unlabelled.binary_search(&i).is_err()
    }
    /// Fraction of edges between two labelled nodes whose two ends share a class.
    pub fn edge_homophily(&self) -> f64 {
        let labelled: Vec<_> = self
            .edges
            .iter()
            .filter(|(u, v)| self.is_labelled(*u) && self.is_labelled(*v))
            .collect();
        if labelled.is_empty() {
            return 0.0;
        }
        let same = labelled
            .iter()
            .filter(|(u, v)| self.labels[*u as usize] == self.labels[*v as usize])
            .count();
        same as f64 / labelled.len() as f64
    }
    /// Node degrees in the undirected graph (without self-loops).
    pub fn degrees(&self) -> Vec<u32> {
        let mut d = vec![0u32; self.num_nodes()];
        for &(u, v) in &self.edges {
            d[u as usize] += 1;
            d[v as usize] += 1;
        }
        d
    }
    /// Checks the invariants the models rely on; the loaders and generator uphold them.
    pub fn validate(&self) -> anyhow::Result<()> {
        let n = self.num_nodes();
        anyhow::ensure!(n > 0, "graph {} has no nodes", self.name);
        anyhow::ensure!(
            self.features.rows() == n,
            "graph {}: {} feature rows for {n} nodes",
            self.name,
            self.features.rows()
        );
        anyhow::ensure!(
            self.node_names.len() == n,
            "graph {}: {} node names for {n} nodes",
            self.name,
            self.node_names.len()
        );
        anyhow::ensure!(
            self.labels
                .iter()
                .all(|&l| (l as usize) < self.num_classes()),
            "graph {}: a label is out of range",
            self.name
        );
        for &(u, v) in &self.edges {
            anyhow::ensure!(
                u < v && (v as usize) < n,
                "graph {}: bad edge ({u}, {v})",
                self.name
            );
        }
        anyhow::ensure!(
            self.features.values.is_empty() || self.features.values.len() == self.features.nnz(),
            "graph {}: {} feature values for {} entries",
            self.name,
            self.features.values.len(),
            self.features.nnz()
        );
        anyhow::ensure!(
            self.unlabelled.windows(2).all(|w| w[0] < w[1])
                && self.unlabelled.last().is_none_or(|&i| (i as usize) < n),
            "graph {}: the unlabelled nodes are not sorted node indices",
            self.name
        );
        anyhow::ensure!(
            self.unlabelled.len() < n,
            "graph {}: no node has a label",
            self.name
        );
        Ok(())
    }
}

/// sha256 over the files' lengths and bytes, in the order given: the fingerprint of a dataset
/// read from files.
pub fn fingerprint_files(paths: &[&Path]) -> anyhow::Result<String> {
    use anyhow::Context;
    let mut h = Sha256::new();
    for p in paths {
        let b = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
        h.update((b.len() as u64).to_le_bytes());
        h.update(&b);
    }
    Ok(crate::core::digest::hex(&h.finalize()))
}

/// Merges an edge list into the canonical form of [`Graph::edges`]: both directions count as one
/// edge, self-loops are dropped. Returns (edges, duplicates merged, self-loops dropped).
pub fn canonical_edges(
    raw: impl IntoIterator<Item = (u32, u32)>,
) -> (Vec<(u32, u32)>, usize, usize) {
    let mut self_loops = 0;
    let mut edges: Vec<(u32, u32)> = raw
        .into_iter()
        .filter_map(|(a, b)| {
            if a == b {
                self_loops += 1;
                None
            } else {
                Some((a.min(b), a.max(b)))
            }
        })
        .collect();
    let before = edges.len();
    edges.sort_unstable();
    edges.dedup();
    let duplicates = before - edges.len();
    (edges, duplicates, self_loops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_edges_merges_both_directions_and_drops_self_loops() {
        let (e, dup, sl) = canonical_edges([(1, 0), (0, 1), (2, 2), (1, 2), (1, 2)]);
        assert_eq!(e, vec![(0, 1), (1, 2)]);
        assert_eq!(dup, 2);
        assert_eq!(sl, 1);
    }
}
