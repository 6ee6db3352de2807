//! GAT's edge-wise attention as two fused candle ops over the edge list (never N x N):
//!
//! - [`edge_softmax`]: per destination node and head, softmax of the scores of its incoming
//!   edges, stable by subtracting the segment max;
//! - [`aggregate`]: out[i, h, :] = Σ_{edges j->i} alpha[e, h] · Wh[j, h, :].
//!
//! The same computations written with candle's index_select / index_add are in
//! [`edge_softmax_reference`] and [`aggregate_reference`]; the tests hold the two together.

use std::ops::Range;
use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::prep::{EdgeIndex, Topology};

use crate::core::kernels::{PREFETCH_AHEAD, f32_slice, prefetch, with_f32};

/// Softmax of `scores` (E x H) over the incoming edges of each destination node.
pub fn edge_softmax(scores: &Tensor, edges: &EdgeIndex) -> Result<Tensor> {
    scores
        .contiguous()?
        .apply_op1(EdgeSoftmax(edges.topo.clone()))
}

/// Σ over incoming edges of alpha (E x H) times the source's features wh (N x H x F).
pub fn aggregate(alpha: &Tensor, wh: &Tensor, edges: &EdgeIndex) -> Result<Tensor> {
    alpha
        .contiguous()?
        .apply_op2(&wh.contiguous()?, Aggregate(edges.topo.clone()))
}

/// Attention scores LeakyReLU(f_src[src e] + f_dst[dst e]) per edge, from per-node halves
/// f_src, f_dst (N x H).
pub fn edge_scores(
    f_src: &Tensor,
    f_dst: &Tensor,
    slope: f32,
    edges: &EdgeIndex,
) -> Result<Tensor> {
    f_src.contiguous()?.apply_op2(
        &f_dst.contiguous()?,
        EdgeScores {
            topo: edges.topo.clone(),
            slope,
        },
    )
}

/// [`edge_scores`] from candle's own ops.
pub fn edge_scores_reference(
    f_src: &Tensor,
    f_dst: &Tensor,
    slope: f32,
    edges: &EdgeIndex,
) -> Result<Tensor> {
    let e = (f_src.contiguous()?.index_select(&edges.src_t, 0)?
        + f_dst.contiguous()?.index_select(&edges.dst_t, 0)?)?;
    candle_nn::ops::leaky_relu(&e, slope as f64)
}

struct EdgeScores {
    topo: Arc<Topology>,
    slope: f32,
}

/// Edges per parallel piece of the passes over the edge list.
const CHUNK: usize = 2048;

/// Splits `out` (E x w, edges in destination order) into blocks of whole destination segments and
/// runs `f(nodes, first edge, block of out)` on them in parallel (work-stealing). Each value is
/// computed by the same operations in the same order whichever thread takes its block, so results
/// do not depend on the number of threads.
fn par_dst_blocks(
    t: &Topology,
    out: &mut [f32],
    w: usize,
    f: impl Fn(Range<usize>, usize, &mut [f32]) + Sync + Send,
) {
    let mut parts = Vec::new();
    let mut rest = out;
    for b in t.dst_blocks(CHUNK) {
        let a = t.dst_ptr[b.start];
        let len = (t.dst_ptr[b.end] - a) * w;
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
        parts.push((b, a, head));
        rest = tail;
    }
    parts.into_par_iter().for_each(|(b, a, o)| f(b, a, o));
}

impl EdgeScores {
    /// fs[src e] + fd[dst e], per edge and head.
    fn pre(&self, fs: &[f32], fd: &[f32], h: usize) -> Vec<f32> {
        let t = &self.topo;
        let mut out = vec![0f32; t.src.len() * h];
        out.par_chunks_mut(CHUNK * h.max(1))
            .enumerate()
            .for_each(|(c, o)| {
                for (i, o) in o.chunks_mut(h).enumerate() {
                    let k = c * CHUNK + i;
                    if let Some(&s) = t.src.get(k + PREFETCH_AHEAD) {
                        prefetch(fs, s as usize * h, h);
                    }
                    let (s, d) = (t.src[k] as usize, t.dst[k] as usize);
                    for j in 0..h {
                        o[j] = fs[s * h + j] + fd[d * h + j];
                    }
                }
            });
        out
    }
}

impl CustomOp2 for EdgeScores {
    fn name(&self) -> &'static str {
        "edge-scores"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let fs = f32_slice(s1, l1, "edge-scores")?;
        let fd = f32_slice(s2, l2, "edge-scores")?;
        let (n, h) = l1.shape().dims2()?;
        if l2.shape().dims2()? != (n, h) || n != self.topo.n {
            candle_core::bail!(
                "edge-scores: shapes {:?} and {:?} do not fit {} nodes",
                l1.shape(),
                l2.shape(),
                self.topo.n
            );
        }
        let mut e = self.pre(fs, fd, h);
        let slope = self.slope;
        e.par_chunks_mut(CHUNK).for_each(|e| {
            for x in e {
                if *x < 0.0 {
                    *x *= slope;
                }
            }
        });
        Ok((CpuStorage::F32(e), Shape::from((self.topo.src.len(), h))))
    }

    fn bwd(
        &self,
        fs_t: &Tensor,
        fd_t: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (n, h) = fs_t.dims2()?;
        let t = &self.topo;
        let slope = self.slope;
        // The gradient through the LeakyReLU, its sign recomputed as the forward computed it.
        let mut g = grad.flatten_all()?.to_vec1::<f32>()?;
        with_f32(fs_t, |fs| {
            with_f32(fd_t, |fd| {
                g.par_chunks_mut(CHUNK * h.max(1))
                    .enumerate()
                    .for_each(|(c, o)| {
                        for (i, o) in o.chunks_mut(h).enumerate() {
                            let k = c * CHUNK + i;
                            if let Some(&s) = t.src.get(k + PREFETCH_AHEAD) {
                                prefetch(fs, s as usize * h, h);
                            }
                            let (s, d) = (t.src[k] as usize, t.dst[k] as usize);
                            for j in 0..h {
                                if fs[s * h + j] + fd[d * h + j] < 0.0 {
                                    o[j] *= slope;
                                }
                            }
                        }
                    });
                Ok(())
            })
        })?;
        // Sums over each node's incoming (gd) and outgoing (gs) edges, in edge order.
        let (mut gs, mut gd) = (vec![0f32; n * h], vec![0f32; n * h]);
        gd.par_chunks_mut(h.max(1)).enumerate().for_each(|(d, o)| {
            for k in t.dst_ptr[d]..t.dst_ptr[d + 1] {
                for j in 0..h {
                    o[j] += g[k * h + j];
                }
            }
        });
        gs.par_chunks_mut(h.max(1)).enumerate().for_each(|(s, o)| {
            for q in t.src_ptr[s]..t.src_ptr[s + 1] {
                if let Some(&k) = t.by_src.get(q + PREFETCH_AHEAD) {
                    prefetch(&g, k as usize * h, h);
                }
                let k = t.by_src[q] as usize;
                for j in 0..h {
                    o[j] += g[k * h + j];
                }
            }
        });
        let dev = fs_t.device();
        Ok((
            Some(Tensor::from_vec(gs, (n, h), dev)?),
            Some(Tensor::from_vec(gd, (n, h), dev)?),
        ))
    }
}

struct EdgeSoftmax(Arc<Topology>);

impl CustomOp1 for EdgeSoftmax {
    fn name(&self) -> &'static str {
        "edge-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let e = f32_slice(s, l, "edge-softmax")?;
        let (ne, h) = l.shape().dims2()?;
        let t = &self.0;
        if ne != t.src.len() {
            candle_core::bail!("edge-softmax: {ne} scores for {} edges", t.src.len());
        }
        let mut out = vec![0f32; ne * h];
        par_dst_blocks(t, &mut out, h, |nodes, a0, out| {
            let mut max = vec![f32::NEG_INFINITY; h];
            let mut sum = vec![0f32; h];
            for i in nodes {
                let (a, b) = (t.dst_ptr[i], t.dst_ptr[i + 1]);
                if a == b {
                    continue;
                }
                max.fill(f32::NEG_INFINITY);
                sum.fill(0.0);
                for k in a..b {
                    for (m, &v) in max.iter_mut().zip(&e[k * h..(k + 1) * h]) {
                        *m = m.max(v);
                    }
                }
                for k in a..b {
                    let o = &mut out[(k - a0) * h..(k - a0 + 1) * h];
                    for j in 0..h {
                        let x = (e[k * h + j] - max[j]).exp();
                        o[j] = x;
                        sum[j] += x;
                    }
                }
                for k in a..b {
                    let o = &mut out[(k - a0) * h..(k - a0 + 1) * h];
                    for j in 0..h {
                        o[j] /= sum[j];
                    }
                }
            }
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        // d e_k = alpha_k (g_k - Σ_{k' in segment} g_k' alpha_k').
        let (ne, h) = res.dims2()?;
        let t = &self.0;
        let mut out = vec![0f32; ne * h];
        with_f32(res, |alpha| {
            with_f32(grad, |g| {
                par_dst_blocks(t, &mut out, h, |nodes, a0, out| {
                    let mut dot = vec![0f32; h];
                    for i in nodes {
                        let (a, b) = (t.dst_ptr[i], t.dst_ptr[i + 1]);
                        dot.fill(0.0);
                        for k in a..b {
                            for j in 0..h {
                                dot[j] += g[k * h + j] * alpha[k * h + j];
                            }
                        }
                        for k in a..b {
                            for j in 0..h {
                                out[(k - a0) * h + j] = alpha[k * h + j] * (g[k * h + j] - dot[j]);
                            }
                        }
                    }
                });
                Ok(())
            })
        })?;
        Ok(Some(Tensor::from_vec(out, (ne, h), res.device())?))
    }
}

struct Aggregate(Arc<Topology>);

impl CustomOp2 for Aggregate {
    fn name(&self) -> &'static str {
        "edge-aggregate"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let alpha = f32_slice(s1, l1, "edge-aggregate")?;
        let wh = f32_slice(s2, l2, "edge-aggregate")?;
        let (ne, h) = l1.shape().dims2()?;
        let (n, h2, f) = l2.shape().dims3()?;
        let t = &self.0;
        if ne != t.src.len() || h != h2 || n != t.n {
            candle_core::bail!(
                "edge-aggregate: shapes {:?} and {:?} do not fit {} edges over {} nodes",
                l1.shape(),
                l2.shape(),
                t.src.len(),
                t.n
            );
        }
        let hf = h * f;
        let mut out = vec![0f32; n * hf];
        out.par_chunks_mut(hf.max(1))
            .enumerate()
            .for_each(|(i, o)| {
                for k in t.dst_ptr[i]..t.dst_ptr[i + 1] {
                    if let Some(&s) = t.src.get(k + PREFETCH_AHEAD) {
                        prefetch(wh, s as usize * hf, hf);
                    }
                    let s = t.src[k] as usize;
                    let src = &wh[s * hf..(s + 1) * hf];
                    for j in 0..h {
                        let a = alpha[k * h + j];
                        for (o, x) in o[j * f..(j + 1) * f]
                            .iter_mut()
                            .zip(&src[j * f..(j + 1) * f])
                        {
                            *o += a * x;
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((n, h, f))))
    }

    fn bwd(
        &self,
        alpha_t: &Tensor,
        wh_t: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (ne, h) = alpha_t.dims2()?;
        let (n, _, f) = wh_t.dims3()?;
        let t = &self.0;
        let hf = h * f;
        let (mut ga, mut gw) = (vec![0f32; ne * h], vec![0f32; n * hf]);
        with_f32(alpha_t, |alpha| {
            with_f32(wh_t, |wh| {
                with_f32(grad, |g| {
                    // d alpha[k, j] = <g[dst k, j, :], wh[src k, j, :]>
                    ga.par_chunks_mut(CHUNK * h.max(1))
                        .enumerate()
                        .for_each(|(c, o)| {
                            for (i, o) in o.chunks_mut(h).enumerate() {
                                let k = c * CHUNK + i;
                                if let Some(&s) = t.src.get(k + PREFETCH_AHEAD) {
                                    prefetch(wh, s as usize * hf, hf);
                                }
                                let (d, s) = (t.dst[k] as usize, t.src[k] as usize);
                                for j in 0..h {
                                    let gd = &g[d * hf + j * f..][..f];
                                    let ws = &wh[s * hf + j * f..][..f];
                                    o[j] = gd.iter().zip(ws).map(|(a, b)| a * b).sum();
                                }
                            }
                        });
                    // alpha in the order of `by_src`, so that the pass by source reads it in order.
                    let mut at = vec![0f32; ne * h];
                    at.par_chunks_mut(CHUNK * h.max(1))
                        .enumerate()
                        .for_each(|(c, o)| {
                            for (i, o) in o.chunks_mut(h).enumerate() {
                                let q = c * CHUNK + i;
                                if let Some(&k) = t.by_src.get(q + PREFETCH_AHEAD) {
                                    prefetch(alpha, k as usize * h, h);
                                }
                                let k = t.by_src[q] as usize;
                                o.copy_from_slice(&alpha[k * h..(k + 1) * h]);
                            }
                        });
                    // d wh[s, j, :] = Σ_{edges k leaving s} alpha[k, j] g[dst k, j, :]
                    gw.par_chunks_mut(hf.max(1)).enumerate().for_each(|(s, o)| {
                        for q in t.src_ptr[s]..t.src_ptr[s + 1] {
                            if let Some(&d) = t.by_src_dst.get(q + PREFETCH_AHEAD) {
                                prefetch(g, d as usize * hf, hf);
                            }
                            let d = t.by_src_dst[q] as usize;
                            for j in 0..h {
                                let a = at[q * h + j];
                                for (o, x) in o[j * f..(j + 1) * f]
                                    .iter_mut()
                                    .zip(&g[d * hf + j * f..][..f])
                                {
                                    *o += a * x;
                                }
                            }
                        }
                    });
                    Ok(())
                })
            })
        })?;
        let dev = alpha_t.device();
        Ok((
            Some(Tensor::from_vec(ga, (ne, h), dev)?),
            Some(Tensor::from_vec(gw, (n, h, f), dev)?),
        ))
    }
}

/// Per-destination maxima of `scores` (E x H), as an N x H tensor outside the autograd graph:
/// subtracting a constant inside a softmax leaves its value and gradient unchanged.
fn segment_max(scores: &Tensor, edges: &EdgeIndex) -> Result<Tensor> {
    let (_, h) = scores.dims2()?;
    let v = scores.flatten_all()?.to_vec1::<f32>()?;
    let t = &edges.topo;
    let mut m = vec![0f32; t.n * h];
    for i in 0..t.n {
        for j in 0..h {
            m[i * h + j] = (t.dst_ptr[i]..t.dst_ptr[i + 1])
                .map(|k| v[k * h + j])
                .fold(f32::NEG_INFINITY, f32::max);
        }
    }
    Tensor::from_vec(m, (t.n, h), scores.device())
}

/// [`edge_softmax`] from candle's own ops (index_select, index_add): the plain version.
pub fn edge_softmax_reference(scores: &Tensor, edges: &EdgeIndex) -> Result<Tensor> {
    let (_, h) = scores.dims2()?;
    let m = segment_max(scores, edges)?.index_select(&edges.dst_t, 0)?;
    let p = (scores - m)?.exp()?;
    let denom =
        Tensor::zeros((edges.topo.n, h), p.dtype(), p.device())?.index_add(&edges.dst_t, &p, 0)?;
    p / denom.index_select(&edges.dst_t, 0)?
}

/// [`aggregate`] from candle's own ops: gather sources, weight, scatter-add to destinations.
pub fn aggregate_reference(alpha: &Tensor, wh: &Tensor, edges: &EdgeIndex) -> Result<Tensor> {
    let msg = wh
        .index_select(&edges.src_t, 0)?
        .broadcast_mul(&alpha.unsqueeze(2)?)?;
    Tensor::zeros(wh.shape(), wh.dtype(), wh.device())?.index_add(&edges.dst_t, &msg, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_util::{max_diff, randn};
    use crate::labs::graphs::prep::Topology;
    use candle_core::{Device, Var};

    fn small_edges() -> EdgeIndex {
        // 4 nodes: a path 0-1-2 plus 3-0, symmetric, with self-loops.
        let und = [(0u32, 1u32), (1, 2), (0, 3)];
        let mut pairs = Vec::new();
        for (u, v) in und {
            pairs.push((u, v));
            pairs.push((v, u));
        }
        pairs.extend((0..4).map(|i| (i, i)));
        EdgeIndex::from_topology(Topology::from_pairs(4, pairs)).unwrap()
    }

    #[test]
    fn softmax_sums_to_one_per_node_and_matches_reference() -> Result<()> {
        let ed = small_edges();
        let e = randn(&[ed.len(), 2], 120).affine(3.0, 0.0)?;
        let a = edge_softmax(&e, &ed)?;
        let r = edge_softmax_reference(&e, &ed)?;
        assert!(max_diff(&a, &r) < 1e-6);
        let sums = Tensor::zeros((4, 2), candle_core::DType::F32, &Device::Cpu)?
            .index_add(&ed.dst_t, &a, 0)?;
        for s in sums.flatten_all()?.to_vec1::<f32>()? {
            assert!((s - 1.0).abs() < 1e-5, "{s}");
        }
        Ok(())
    }

    #[test]
    fn softmax_is_stable_for_huge_scores() -> Result<()> {
        let ed = small_edges();
        let e = (randn(&[ed.len(), 1], 121) + 1e4)?;
        let a = edge_softmax(&e, &ed)?.flatten_all()?.to_vec1::<f32>()?;
        assert!(a.iter().all(|x| x.is_finite()), "{a:?}");
        Ok(())
    }

    #[test]
    fn scores_and_their_gradients_match_reference() -> Result<()> {
        let ed = small_edges();
        let fs0 = randn(&[4, 2], 104);
        let fd0 = randn(&[4, 2], 105);
        let proj = randn(&[ed.len(), 2], 122);
        let run = |fused: bool| -> Result<(Tensor, Vec<f32>, Vec<f32>)> {
            let (fs, fd) = (Var::from_tensor(&fs0)?, Var::from_tensor(&fd0)?);
            let e = if fused {
                edge_scores(&fs, &fd, 0.2, &ed)?
            } else {
                edge_scores_reference(&fs, &fd, 0.2, &ed)?
            };
            let g = (&e * &proj)?.sum_all()?.backward()?;
            Ok((
                e,
                g.get(&fs).expect("fs").flatten_all()?.to_vec1()?,
                g.get(&fd).expect("fd").flatten_all()?.to_vec1()?,
            ))
        };
        let (a, ga, da) = run(true)?;
        let (b, gb, db) = run(false)?;
        assert!(max_diff(&a, &b) < 1e-6);
        for (x, y) in ga.iter().zip(&gb).chain(da.iter().zip(&db)) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
        Ok(())
    }

    #[test]
    fn aggregate_matches_reference() -> Result<()> {
        let ed = small_edges();
        let alpha = Tensor::rand(0f32, 1.0, (ed.len(), 3), &Device::Cpu)?;
        let wh = randn(&[4, 3, 5], 106);
        assert!(
            max_diff(
                &aggregate(&alpha, &wh, &ed)?,
                &aggregate_reference(&alpha, &wh, &ed)?
            ) < 1e-5
        );
        Ok(())
    }

    /// Gradients of a fixed random projection of the output, fused vs reference vs finite
    /// differences (in f32, so a loose tolerance).
    #[test]
    fn gradients_match_reference_and_finite_differences() -> Result<()> {
        let dev = Device::Cpu;
        let ed = small_edges();
        let (ne, h, f) = (ed.len(), 2, 3);
        let e0 = randn(&[ne, h], 107);
        let wh0 = randn(&[4, h, f], 108);
        let proj = randn(&[4, h, f], 109);
        let loss = |e: &Tensor, wh: &Tensor, fused: bool| -> Result<Tensor> {
            let out = if fused {
                aggregate(&edge_softmax(e, &ed)?, wh, &ed)?
            } else {
                aggregate_reference(&edge_softmax_reference(e, &ed)?, wh, &ed)?
            };
            (out * &proj)?.sum_all()
        };
        let grads = |fused: bool| -> Result<(Vec<f32>, Vec<f32>)> {
            let (e, wh) = (Var::from_tensor(&e0)?, Var::from_tensor(&wh0)?);
            let g = loss(e.as_tensor(), wh.as_tensor(), fused)?.backward()?;
            Ok((
                g.get(e.as_tensor())
                    .expect("grad e")
                    .flatten_all()?
                    .to_vec1()?,
                g.get(wh.as_tensor())
                    .expect("grad wh")
                    .flatten_all()?
                    .to_vec1()?,
            ))
        };
        let (ge, gw) = grads(true)?;
        let (re, rw) = grads(false)?;
        for (a, b) in ge.iter().zip(&re).chain(gw.iter().zip(&rw)) {
            assert!((a - b).abs() < 1e-4, "fused {a} vs reference {b}");
        }
        let hstep = 1e-2f32;
        let ev = e0.flatten_all()?.to_vec1::<f32>()?;
        for i in 0..ev.len() {
            let at = |d: f32| -> Result<f32> {
                let mut v = ev.clone();
                v[i] += d;
                loss(&Tensor::from_vec(v, (ne, h), &dev)?, &wh0, true)?.to_scalar::<f32>()
            };
            let fd = (at(hstep)? - at(-hstep)?) / (2.0 * hstep);
            assert!((fd - ge[i]).abs() < 2e-3, "score {i}: fd {fd} vs {}", ge[i]);
        }
        let wv = wh0.flatten_all()?.to_vec1::<f32>()?;
        for i in 0..wv.len() {
            let at = |d: f32| -> Result<f32> {
                let mut v = wv.clone();
                v[i] += d;
                loss(&e0, &Tensor::from_vec(v, (4, h, f), &dev)?, true)?.to_scalar::<f32>()
            };
            let fd = (at(hstep)? - at(-hstep)?) / (2.0 * hstep);
            assert!((fd - gw[i]).abs() < 2e-3, "wh {i}: fd {fd} vs {}", gw[i]);
        }
        Ok(())
    }

    /// A random symmetric graph with self-loops, large enough for many parallel blocks.
    fn random_edges(n: u32, pairs: usize, seed: u64) -> EdgeIndex {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let mut und: Vec<(u32, u32)> = (0..pairs)
            .map(|_| (rng.random_range(0..n), rng.random_range(0..n)))
            .filter(|(u, v)| u != v)
            .map(|(u, v)| (u.min(v), u.max(v)))
            .collect();
        und.sort_unstable();
        und.dedup();
        let mut p: Vec<(u32, u32)> = und.iter().flat_map(|&(u, v)| [(u, v), (v, u)]).collect();
        p.extend((0..n).map(|i| (i, i)));
        EdgeIndex::from_topology(Topology::from_pairs(n as usize, p)).unwrap()
    }

    /// Forward values and the gradients of scores, halves and features through the whole chain.
    fn chain(ed: &EdgeIndex, fused: bool) -> Result<Vec<Vec<f32>>> {
        let n = ed.topo.n;
        let (h, f) = (3, 4);
        let fs = Var::from_tensor(&randn(&[n, h], 130))?;
        let fd = Var::from_tensor(&randn(&[n, h], 131))?;
        let wh = Var::from_tensor(&randn(&[n, h, f], 132))?;
        let proj = randn(&[n, h, f], 133);
        let out = if fused {
            aggregate(
                &edge_softmax(&edge_scores(&fs, &fd, 0.2, ed)?, ed)?,
                &wh,
                ed,
            )?
        } else {
            let e = edge_scores_reference(&fs, &fd, 0.2, ed)?;
            aggregate_reference(&edge_softmax_reference(&e, ed)?, &wh, ed)?
        };
        let g = (&out * &proj)?.sum_all()?.backward()?;
        let mut v = vec![out.flatten_all()?.to_vec1::<f32>()?];
        for x in [&fs, &fd, &wh] {
            v.push(
                g.get(x)
                    .expect("gradient")
                    .flatten_all()?
                    .to_vec1::<f32>()?,
            );
        }
        Ok(v)
    }

    #[test]
    fn many_blocks_match_reference_and_do_not_depend_on_thread_count() -> Result<()> {
        let ed = random_edges(3000, 15_000, 9);
        assert!(ed.topo.dst_blocks(CHUNK).len() > 4);
        let fused = chain(&ed, true)?;
        let reference = chain(&ed, false)?;
        for (a, b) in fused.iter().zip(&reference) {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
            }
        }
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            let again = pool.install(|| chain(&ed, true))?;
            assert!(again == fused, "{threads} threads changed the bits");
        }
        Ok(())
    }
}
