//! A graph turned into the constant tensors the models read: normalised features and adjacency,
//! the edge list with self-loops for attention, labels and split indices.

use candle_core::{Device, Result, Tensor};

use super::config::AdjNorm;
use super::sparse::{Csr, SparseConst};
use crate::data::graph::{Graph, Split};

/// Edges with one self-loop per node, sorted by destination: node i attends over
/// `src[dst_ptr[i]..dst_ptr[i + 1]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    pub n: usize,
    pub src: Vec<u32>,
    pub dst: Vec<u32>,
    pub dst_ptr: Vec<usize>,
    /// Edge ids grouped by source: the edges leaving j are `by_src[src_ptr[j]..src_ptr[j + 1]]`.
    pub src_ptr: Vec<usize>,
    pub by_src: Vec<u32>,
}

impl Topology {
    /// From directed (dst, src) pairs over `n` nodes.
    pub fn from_pairs(n: usize, mut pairs: Vec<(u32, u32)>) -> Self {
        pairs.sort_unstable();
        let mut dst_ptr = vec![0usize; n + 1];
        let mut src_ptr = vec![0usize; n + 1];
        for &(d, s) in &pairs {
            dst_ptr[d as usize + 1] += 1;
            src_ptr[s as usize + 1] += 1;
        }
        for i in 0..n {
            dst_ptr[i + 1] += dst_ptr[i];
            src_ptr[i + 1] += src_ptr[i];
        }
        let dst: Vec<u32> = pairs.iter().map(|p| p.0).collect();
        let src: Vec<u32> = pairs.iter().map(|p| p.1).collect();
        let mut next = src_ptr.clone();
        let mut by_src = vec![0u32; src.len()];
        for (k, &s) in src.iter().enumerate() {
            by_src[next[s as usize]] = k as u32;
            next[s as usize] += 1;
        }
        Self {
            n,
            src,
            dst,
            dst_ptr,
            src_ptr,
            by_src,
        }
    }
}

#[derive(Clone, Debug)]
pub struct EdgeIndex {
    pub topo: std::sync::Arc<Topology>,
    pub src_t: Tensor,
    pub dst_t: Tensor,
}

impl EdgeIndex {
    pub fn new(g: &Graph) -> Result<Self> {
        let n = g.num_nodes();
        let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(2 * g.edges.len() + n);
        for &(u, v) in &g.edges {
            pairs.push((v, u));
            pairs.push((u, v));
        }
        pairs.extend((0..n as u32).map(|i| (i, i)));
        Self::from_topology(Topology::from_pairs(n, pairs))
    }

    pub fn from_topology(t: Topology) -> Result<Self> {
        let e = t.src.len();
        Ok(Self {
            src_t: Tensor::from_vec(t.src.clone(), e, &Device::Cpu)?,
            dst_t: Tensor::from_vec(t.dst.clone(), e, &Device::Cpu)?,
            topo: std::sync::Arc::new(t),
        })
    }

    pub fn len(&self) -> usize {
        self.topo.src.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topo.src.is_empty()
    }
}

/// Â with the chosen normalisation, as a sparse matrix (self-loops included).
pub fn normalized_adjacency(g: &Graph, norm: AdjNorm) -> Csr {
    let n = g.num_nodes();
    let deg: Vec<f32> = g.degrees().iter().map(|&d| d as f32 + 1.0).collect();
    let w = |i: u32, j: u32| match norm {
        AdjNorm::Sym => 1.0 / (deg[i as usize] * deg[j as usize]).sqrt(),
        AdjNorm::Row => 1.0 / deg[i as usize],
        AdjNorm::None => 1.0,
    };
    let mut t = Vec::with_capacity(2 * g.edges.len() + n);
    for &(u, v) in &g.edges {
        t.push((u, v, w(u, v)));
        t.push((v, u, w(v, u)));
    }
    t.extend((0..n as u32).map(|i| (i, i, w(i, i))));
    Csr::from_triplets(n, n, t)
}

/// Features divided by their row sums (as pygcn, pyGAT and Kipf's `preprocess_features` do);
/// rows summing to zero stay as they are. A graph with `raw_features` keeps its values.
pub fn row_normalized_features(g: &Graph) -> Csr {
    let f = &g.features;
    let mut values = Vec::with_capacity(f.nnz());
    for i in 0..f.rows() {
        let row: Vec<f32> = f.row_values(i).collect();
        let sum: f32 = row.iter().sum();
        let scale = if g.raw_features || sum == 0.0 || !sum.is_finite() {
            1.0
        } else {
            1.0 / sum
        };
        values.extend(row.iter().map(|v| v * scale));
    }
    Csr {
        rows: f.rows(),
        cols: f.cols,
        indptr: f.indptr.clone(),
        indices: f.indices.clone(),
        values,
    }
}

pub struct Prepared {
    pub n: usize,
    pub num_features: usize,
    pub num_classes: usize,
    pub x: SparseConst,
    pub adj: SparseConst,
    pub edges: EdgeIndex,
    pub labels: Vec<u32>,
    pub split: Split,
    pub train_idx: Tensor,
    pub train_y: Tensor,
}

impl Prepared {
    pub fn new(g: &Graph, norm: AdjNorm, split: Split) -> Result<Self> {
        let dev = Device::Cpu;
        let train_y: Vec<u32> = split.train.iter().map(|&i| g.labels[i as usize]).collect();
        Ok(Self {
            n: g.num_nodes(),
            num_features: g.num_features(),
            num_classes: g.num_classes(),
            x: SparseConst::new(row_normalized_features(g)),
            adj: SparseConst::new(normalized_adjacency(g, norm)),
            edges: EdgeIndex::new(g)?,
            labels: g.labels.clone(),
            train_idx: Tensor::from_vec(split.train.clone(), split.train.len(), &dev)?,
            train_y: Tensor::from_vec(train_y, split.train.len(), &dev)?,
            split,
        })
    }
}
