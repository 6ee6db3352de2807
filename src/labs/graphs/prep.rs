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
    /// `dst[by_src[q]]`: the nodes reached from j, in the order of `by_src`, so that a pass over
    /// the edges by source reads them in order instead of through `by_src`.
    pub by_src_dst: Vec<u32>,
}

impl Topology {
    /// Node ranges holding about `edges` edges each (whole destination segments), for parallel
    /// passes over the edges by destination.
    pub fn dst_blocks(&self, edges: usize) -> Vec<std::ops::Range<usize>> {
        let mut blocks = Vec::new();
        let mut start = 0;
        for i in 0..self.n {
            if self.dst_ptr[i + 1] - self.dst_ptr[start] >= edges {
                blocks.push(start..i + 1);
                start = i + 1;
            }
        }
        if start < self.n {
            blocks.push(start..self.n);
        }
        blocks
    }

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
        let by_src_dst = by_src.iter().map(|&k| dst[k as usize]).collect();
        Self {
            n,
            src,
            dst,
            dst_ptr,
            src_ptr,
            by_src,
            by_src_dst,
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

/// How much of `g`'s feature matrix is stored (0..=1).
pub fn feature_density(g: &Graph) -> f64 {
    let cells = g.features.rows() * g.features.cols;
    if cells == 0 {
        0.0
    } else {
        g.features.nnz() as f64 / cells as f64
    }
}

/// From this density on the features are kept dense. A stored entry of the sparse form costs 20
/// bytes (value and column in X and again in Xᵀ, and the position that carries dropout over), a
/// dense entry 4: at a fifth the two weigh the same, and a dense matmul (gemm) is by then several
/// times faster than walking the entries. Bags of words (Cora 1.3 %, Citeseer 0.9 %, PubMed 10 %)
/// stay sparse; embeddings and numeric columns (ogbn-arxiv's 128 floats) go dense.
pub const DENSE_FROM: f64 = 0.2;

/// The factor each row of features is multiplied by (1 / row sum, see below).
fn row_scale(g: &Graph, i: usize) -> f32 {
    let sum: f32 = g.features.row_values(i).sum();
    if g.raw_features || sum == 0.0 || !sum.is_finite() {
        1.0
    } else {
        1.0 / sum
    }
}

/// The input features as the first layer reads them.
#[derive(Clone, Debug)]
pub enum Features {
    /// The stored entries only (bags of words): X·W walks them.
    Sparse(SparseConst),
    /// Every entry, N x F (dense features): X·W is one dense matmul.
    Dense(Tensor),
}

impl Features {
    /// Sparse or dense by [`DENSE_FROM`], row-normalised as [`row_normalized_features`].
    pub fn new(g: &Graph) -> Result<Self> {
        if feature_density(g) < DENSE_FROM {
            return Ok(Features::Sparse(SparseConst::new(row_normalized_features(
                g,
            ))));
        }
        let (n, f) = (g.features.rows(), g.features.cols);
        let mut d = vec![0f32; n * f];
        for (i, out) in d.chunks_mut(f.max(1)).enumerate().take(n) {
            let s = row_scale(g, i);
            for (&j, v) in g.features.row(i).iter().zip(g.features.row_values(i)) {
                out[j as usize] = v * s;
            }
        }
        Ok(Features::Dense(Tensor::from_vec(d, (n, f), &Device::Cpu)?))
    }

    /// X · w, differentiable with respect to `w`.
    pub fn matmul(&self, w: &Tensor) -> Result<Tensor> {
        match self {
            Features::Sparse(s) => s.matmul(w),
            // Not `x.matmul(w)`: candle's matmul backward also computes the gradient of the
            // constant X (N x F, as large as X itself, three buffers of it) and throws it away.
            Features::Dense(x) => w.contiguous()?.apply_op1(ConstMatmul(x.clone())),
        }
    }

    /// Dropout with rate `p`: on the stored entries (a dropped zero stays zero) or on every entry.
    pub fn dropped(&self, p: f32, rng: &mut rand::rngs::SmallRng) -> Result<Self> {
        use crate::core::nn::dropout_mask;
        Ok(match self {
            Features::Sparse(s) => Features::Sparse(s.scaled(&dropout_mask(rng, s.csr().nnz(), p))),
            Features::Dense(x) => Features::Dense(dense_dropout(x, p, rng)?),
        })
    }

    pub fn is_dense(&self) -> bool {
        matches!(self, Features::Dense(_))
    }
}

/// Entries of dense dropout drawn from one generator; each block has its own generator seeded from
/// one draw of the run's, so blocks run in parallel and the mask does not depend on the thread
/// count.
const DROPOUT_BLOCK: usize = 1 << 14;

/// x with each entry zeroed with probability p and the others scaled by 1 / (1 - p), in one pass.
fn dense_dropout(x: &Tensor, p: f32, rng: &mut rand::rngs::SmallRng) -> Result<Tensor> {
    use rand::{Rng, SeedableRng};
    use rayon::prelude::*;
    let seed: u64 = rng.random();
    let keep = 1.0 / (1.0 - p);
    let mut out = vec![0f32; x.elem_count()];
    crate::core::kernels::with_f32(x, |v| {
        out.par_chunks_mut(DROPOUT_BLOCK)
            .zip(v.par_chunks(DROPOUT_BLOCK))
            .enumerate()
            .for_each(|(b, (o, v))| {
                let mut r = rand::rngs::SmallRng::seed_from_u64(
                    seed ^ (b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                for (o, &v) in o.iter_mut().zip(v) {
                    *o = if r.random::<f32>() < p { 0.0 } else { keep * v };
                }
            });
        Ok(())
    })?;
    Tensor::from_vec(out, x.shape(), x.device())
}

/// X · W for a constant dense X (N x F), as a candle op on W with the gradient of W alone.
struct ConstMatmul(Tensor);

impl candle_core::CustomOp1 for ConstMatmul {
    fn name(&self) -> &'static str {
        "const-matmul"
    }

    fn cpu_fwd(
        &self,
        w: &candle_core::CpuStorage,
        wl: &candle_core::Layout,
    ) -> Result<(candle_core::CpuStorage, candle_core::Shape)> {
        use candle_core::backend::BackendStorage;
        let (n, f) = self.0.dims2()?;
        let (f2, h) = wl.shape().dims2()?;
        if f != f2 {
            candle_core::bail!("const-matmul: X has {f} columns, W {f2} rows");
        }
        let (xs, xl) = self.0.storage_and_layout();
        let candle_core::Storage::Cpu(xs) = &*xs else {
            candle_core::bail!("const-matmul: X must be on the CPU")
        };
        Ok((xs.matmul(w, (1, n, h, f), xl, wl)?, (n, h).into()))
    }

    fn bwd(&self, _w: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(self.0.t()?.matmul(&grad.contiguous()?)?))
    }
}

/// Features divided by their row sums (as pygcn, pyGAT and Kipf's `preprocess_features` do);
/// rows summing to zero stay as they are. A graph with `raw_features` keeps its values.
pub fn row_normalized_features(g: &Graph) -> Csr {
    let f = &g.features;
    let mut values = Vec::with_capacity(f.nnz());
    for i in 0..f.rows() {
        let scale = row_scale(g, i);
        values.extend(f.row_values(i).map(|v| v * scale));
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
    pub x: Features,
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
            x: Features::new(g)?,
            adj: SparseConst::new(normalized_adjacency(g, norm)),
            edges: EdgeIndex::new(g)?,
            labels: g.labels.clone(),
            train_idx: Tensor::from_vec(split.train.clone(), split.train.len(), &dev)?,
            train_y: Tensor::from_vec(train_y, split.train.len(), &dev)?,
            split,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_util::{max_diff, randn};
    use crate::data::graph::BinaryFeatures;
    use rand::SeedableRng;

    /// A 6 x 5 feature matrix with `per_row` stored entries a row.
    fn graph(per_row: usize) -> Graph {
        let mut f = BinaryFeatures {
            cols: 5,
            indptr: vec![0],
            ..Default::default()
        };
        for i in 0..6 {
            for j in 0..per_row {
                f.indices.push(((i + 2 * j) % 5) as u32);
                f.values.push(0.5 + (i * 5 + j) as f32 * 0.1);
            }
            f.indices[f.indptr[i]..].sort_unstable();
            f.indptr.push(f.indices.len());
        }
        Graph {
            features: f,
            labels: vec![0; 6],
            class_names: vec!["a".into()],
            node_names: (0..6).map(|i| i.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn density_picks_the_path_and_both_paths_agree() -> Result<()> {
        let sparse = graph(0);
        assert!(!Features::new(&sparse)?.is_dense());
        let g = graph(3);
        assert!(feature_density(&g) >= DENSE_FROM);
        let dense = Features::new(&g)?;
        assert!(dense.is_dense());
        let csr = Features::Sparse(SparseConst::new(row_normalized_features(&g)));
        let w = randn(&[5, 3], 7);
        assert!(max_diff(&dense.matmul(&w)?, &csr.matmul(&w)?) < 1e-6);
        Ok(())
    }

    #[test]
    fn dense_dropout_zeroes_and_rescales_entries_reproducibly() -> Result<()> {
        let g = graph(5);
        let x = Features::new(&g)?;
        let Features::Dense(plain) = &x else {
            panic!("a full matrix is dense")
        };
        let plain = plain.flatten_all()?.to_vec1::<f32>()?;
        let drop = |seed| -> Result<Vec<f32>> {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
            match x.dropped(0.5, &mut rng)? {
                Features::Dense(t) => t.flatten_all()?.to_vec1::<f32>(),
                Features::Sparse(_) => panic!("dropout keeps the form"),
            }
        };
        let (a, b) = (drop(3)?, drop(3)?);
        assert_eq!(a, b);
        assert!(a.contains(&0.0));
        for (d, p) in a.iter().zip(&plain) {
            assert!(*d == 0.0 || (d - 2.0 * p).abs() < 1e-6, "{d} vs {p}");
        }
        Ok(())
    }

    #[test]
    fn dense_product_has_candles_value_and_gradient() -> Result<()> {
        let x = randn(&[40, 6], 11);
        let w = candle_core::Var::from_tensor(&randn(&[6, 3], 12))?;
        let proj = randn(&[40, 3], 13);
        let ours = Features::Dense(x.clone()).matmul(&w)?;
        let theirs = x.matmul(&w)?;
        assert!(max_diff(&ours, &theirs) < 1e-6);
        let g1 = (&ours * &proj)?.sum_all()?.backward()?;
        let g2 = (&theirs * &proj)?.sum_all()?.backward()?;
        let (a, b) = (g1.get(&w).expect("grad"), g2.get(&w).expect("grad"));
        assert!(max_diff(a, b) < 1e-5);
        Ok(())
    }

    #[test]
    fn dense_dropout_keeps_its_rate_and_ignores_the_thread_count() -> Result<()> {
        let x = Tensor::ones((300, 200), candle_core::DType::F32, &Device::Cpu)?;
        let run = |threads| -> Result<Vec<f32>> {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            let mut rng = rand::rngs::SmallRng::seed_from_u64(4);
            pool.install(|| dense_dropout(&x, 0.3, &mut rng))?
                .flatten_all()?
                .to_vec1::<f32>()
        };
        let a = run(1)?;
        assert_eq!(a, run(3)?);
        let dropped = a.iter().filter(|&&v| v == 0.0).count() as f64 / a.len() as f64;
        assert!((dropped - 0.3).abs() < 0.01, "{dropped}");
        assert!(a.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
        Ok(())
    }
}
