//! Constant sparse matrices times dense tensors, as a candle op with its backward.
//!
//! Both hot products of the graph lab have a constant sparse left factor: the features X
//! (1.3 % non-zero on Cora) in X·W, and the normalised adjacency in Â·H. A dense X·W does
//! 2708 x 1433 x H multiply-adds, the sparse one 49k x H; Â·H is 13k x H instead of 2708² x H.
//! The gradient with respect to the dense factor is Sᵀ·G, the same op with the transpose.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

use crate::core::kernels::{PREFETCH_AHEAD, prefetch};

/// A sparse f32 matrix in compressed sparse row form.
#[derive(Clone, Debug, PartialEq)]
pub struct Csr {
    pub rows: usize,
    pub cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Csr {
    /// Builds from (row, col, value) triplets; repeated positions are summed.
    pub fn from_triplets(rows: usize, cols: usize, mut t: Vec<(u32, u32, f32)>) -> Csr {
        t.sort_unstable_by_key(|&(r, c, _)| (r, c));
        let mut indptr = vec![0usize; rows + 1];
        let (mut indices, mut values) = (Vec::with_capacity(t.len()), Vec::with_capacity(t.len()));
        let mut last: Option<(u32, u32)> = None;
        for (r, c, v) in t {
            if last == Some((r, c)) {
                *values.last_mut().expect("a value was pushed with `last`") += v;
                continue;
            }
            last = Some((r, c));
            indices.push(c);
            values.push(v);
            indptr[r as usize + 1] += 1;
        }
        for i in 0..rows {
            indptr[i + 1] += indptr[i];
        }
        Csr {
            rows,
            cols,
            indptr,
            indices,
            values,
        }
    }

    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// The transpose, and for each of its entries the position of that entry in `self`, so that
    /// new values (a dropout mask on X) can be carried over without re-sorting.
    pub fn transpose_with_perm(&self) -> (Csr, Vec<u32>) {
        let mut counts = vec![0usize; self.cols + 1];
        for &c in &self.indices {
            counts[c as usize + 1] += 1;
        }
        for i in 0..self.cols {
            counts[i + 1] += counts[i];
        }
        let indptr = counts.clone();
        let mut next = counts;
        let nnz = self.nnz();
        let (mut indices, mut values, mut perm) =
            (vec![0u32; nnz], vec![0f32; nnz], vec![0u32; nnz]);
        for r in 0..self.rows {
            for k in self.indptr[r]..self.indptr[r + 1] {
                let c = self.indices[k] as usize;
                let q = next[c];
                next[c] += 1;
                indices[q] = r as u32;
                values[q] = self.values[k];
                perm[q] = k as u32;
            }
        }
        (
            Csr {
                rows: self.cols,
                cols: self.rows,
                indptr,
                indices,
                values,
            },
            perm,
        )
    }

    /// out (rows x k) = self · b (cols x k), both row-major.
    pub fn matmul_into(&self, b: &[f32], k: usize, out: &mut [f32]) {
        let row = |(i, o): (usize, &mut [f32])| {
            o.fill(0.0);
            for p in self.indptr[i]..self.indptr[i + 1] {
                if let Some(&c) = self.indices.get(p + PREFETCH_AHEAD) {
                    prefetch(b, c as usize * k, k);
                }
                let v = self.values[p];
                let src = &b[self.indices[p] as usize * k..][..k];
                for (o, s) in o.iter_mut().zip(src) {
                    *o += v * s;
                }
            }
        };
        // Below ~100k multiply-adds the thread hand-off costs more than it saves.
        if self.nnz() * k > 100_000 {
            out.par_chunks_mut(k).enumerate().for_each(row);
        } else {
            out.chunks_mut(k).enumerate().for_each(row);
        }
    }

    pub fn to_dense(&self) -> Vec<f32> {
        let mut d = vec![0f32; self.rows * self.cols];
        for r in 0..self.rows {
            for p in self.indptr[r]..self.indptr[r + 1] {
                d[r * self.cols + self.indices[p] as usize] += self.values[p];
            }
        }
        d
    }
}

/// A constant sparse matrix S with its transpose, ready to multiply tensors: `s.matmul(&x)`.
#[derive(Clone, Debug)]
pub struct SparseConst {
    s: Arc<Csr>,
    t: Arc<Csr>,
    /// `t.values[q] == s.values[perm[q]]`.
    perm: Arc<Vec<u32>>,
}

impl SparseConst {
    pub fn new(s: Csr) -> Self {
        let (t, perm) = s.transpose_with_perm();
        Self {
            s: Arc::new(s),
            t: Arc::new(t),
            perm: Arc::new(perm),
        }
    }

    pub fn csr(&self) -> &Csr {
        &self.s
    }

    /// The same pattern with every stored value multiplied by `scale[k]` (for dropout on X,
    /// which only touches the non-zeros: a dropped zero stays zero).
    pub fn scaled(&self, scale: &[f32]) -> Self {
        let mut s = (*self.s).clone();
        for (v, m) in s.values.iter_mut().zip(scale) {
            *v *= m;
        }
        let mut t = (*self.t).clone();
        for (v, &p) in t.values.iter_mut().zip(self.perm.iter()) {
            *v = s.values[p as usize];
        }
        Self {
            s: Arc::new(s),
            t: Arc::new(t),
            perm: self.perm.clone(),
        }
    }

    /// S · x for a dense 2-D `x` (S.cols x k); differentiable with respect to `x`.
    pub fn matmul(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1(SpMM {
            s: self.s.clone(),
            t: self.t.clone(),
        })
    }
}

struct SpMM {
    s: Arc<Csr>,
    t: Arc<Csr>,
}

impl CustomOp1 for SpMM {
    fn name(&self) -> &'static str {
        "sparse-matmul"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("sparse-matmul: only f32 is supported")
        };
        let (r, k) = layout.shape().dims2()?;
        if r != self.s.cols {
            candle_core::bail!(
                "sparse-matmul: sparse matrix has {} columns, dense one {r} rows",
                self.s.cols
            );
        }
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("sparse-matmul: the dense input must be contiguous")
        };
        let mut out = vec![0f32; self.s.rows * k];
        self.s.matmul_into(&data[start..end], k, &mut out);
        Ok((CpuStorage::F32(out), Shape::from((self.s.rows, k))))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let g = grad_res.contiguous()?.apply_op1(SpMM {
            s: self.t.clone(),
            t: self.s.clone(),
        })?;
        Ok(Some(g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_util::randn;
    use candle_core::{Device, Var};

    fn sample() -> Csr {
        Csr::from_triplets(
            3,
            4,
            vec![
                (0, 1, 2.0),
                (2, 0, -1.0),
                (0, 3, 0.5),
                (2, 3, 1.5),
                (0, 1, 1.0),
            ],
        )
    }

    #[test]
    fn triplets_sum_duplicates_and_transpose_round_trips() {
        let s = sample();
        assert_eq!(s.nnz(), 4);
        assert_eq!(
            s.to_dense(),
            vec![0., 3., 0., 0.5, 0., 0., 0., 0., -1., 0., 0., 1.5]
        );
        let (t, perm) = s.transpose_with_perm();
        let (tt, _) = t.transpose_with_perm();
        assert_eq!(tt, s);
        for (q, &p) in perm.iter().enumerate() {
            assert_eq!(t.values[q], s.values[p as usize]);
        }
    }

    #[test]
    fn forward_matches_dense_candle_matmul() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        let s = sample();
        let x = randn(&[4, 5], 101);
        let dense = Tensor::from_vec(s.to_dense(), (3, 4), &dev)?;
        let want = dense.matmul(&x)?;
        let got = SparseConst::new(s).matmul(&x)?;
        let diff = (want - got)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-6, "{diff}");
        Ok(())
    }

    #[test]
    fn gradient_matches_dense_candle_and_finite_differences() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        let s = sample();
        let sc = SparseConst::new(s.clone());
        let x = Var::from_tensor(&randn(&[4, 2], 102).to_dtype(candle_core::DType::F32)?)?;
        let w = randn(&[3, 2], 103);
        // Loss = sum(w * (S x)): its gradient is Sᵀ w.
        let loss = |x: &Tensor| -> candle_core::Result<Tensor> { (sc.matmul(x)? * &w)?.sum_all() };
        let g = loss(x.as_tensor())?.backward()?;
        let got = g
            .get(x.as_tensor())
            .expect("x has a gradient")
            .flatten_all()?
            .to_vec1::<f32>()?;
        let dense = Tensor::from_vec(s.to_dense(), (3, 4), &dev)?;
        let want = dense.t()?.matmul(&w)?.flatten_all()?.to_vec1::<f32>()?;
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-5, "{got:?} vs {want:?}");
        }
        let xv = x.as_tensor().flatten_all()?.to_vec1::<f32>()?;
        let h = 1e-2f32;
        for i in 0..xv.len() {
            let mut p = xv.clone();
            p[i] += h;
            let mut m = xv.clone();
            m[i] -= h;
            let f = |v: Vec<f32>| -> candle_core::Result<f32> {
                loss(&Tensor::from_vec(v, (4, 2), &dev)?)?.to_scalar::<f32>()
            };
            let fd = (f(p)? - f(m)?) / (2.0 * h);
            assert!(
                (fd - got[i]).abs() < 1e-3,
                "entry {i}: fd {fd} vs {}",
                got[i]
            );
        }
        Ok(())
    }

    #[test]
    fn scaled_keeps_transpose_in_step() -> candle_core::Result<()> {
        let s = SparseConst::new(sample());
        let m = s.scaled(&[0.0, 2.0, 1.0, 3.0]);
        let (t, _) = m.csr().transpose_with_perm();
        assert_eq!(*m.t, t);
        Ok(())
    }

    #[test]
    fn large_products_take_the_parallel_path_and_agree() {
        let mut t = Vec::new();
        for r in 0..300u32 {
            for c in (r % 7..500).step_by(7) {
                t.push((r, c, (r as f32 - c as f32) * 0.01));
            }
        }
        let s = Csr::from_triplets(300, 500, t);
        let k = 16;
        let b: Vec<f32> = (0..500 * k).map(|i| (i % 13) as f32 * 0.1).collect();
        let mut out = vec![0f32; 300 * k];
        s.matmul_into(&b, k, &mut out);
        assert!(s.nnz() * k > 100_000);
        let d = s.to_dense();
        for r in [0, 150, 299] {
            for j in 0..k {
                let want: f32 = (0..500).map(|c| d[r * 500 + c] * b[c * k + j]).sum();
                assert!((want - out[r * k + j]).abs() < 1e-3);
            }
        }
    }
}
