//! Graph attention network (Velickovic et al. 2018), computed edge by edge over the edge list:
//! memory grows with the number of edges, never with N².

use candle_core::{Result, Tensor, Var};
use rand::rngs::SmallRng;

use super::config::GraphConfig;
use super::edge_ops::{
    aggregate, aggregate_reference, edge_scores, edge_scores_reference, edge_softmax,
    edge_softmax_reference,
};
use super::layers::{Forward, add_bias, input_features};
use super::prep::Prepared;
use crate::core::kernels::elu;
use crate::core::nn::{dropout, xavier_var, zeros_var};

const SLOPE: f32 = 0.2;

/// One multi-head attention layer; its input projection Wh is computed by the caller (sparse for
/// the first layer, dense for the second).
pub struct GatLayer {
    pub w: Var,
    a_src: Var,
    a_dst: Var,
    bias: Option<Var>,
    heads: usize,
    out: usize,
    concat: bool,
}

impl GatLayer {
    fn new(
        rng: &mut SmallRng,
        fin: usize,
        out: usize,
        heads: usize,
        concat: bool,
        bias: bool,
    ) -> Result<Self> {
        // pyGAT's initialisation: Xavier uniform with gain 1.414 for W and the attention vector.
        Ok(Self {
            w: xavier_var(rng, &[fin, heads * out], fin, heads * out, 1.414)?,
            a_src: xavier_var(rng, &[1, heads, out], 2 * out, 1, 1.414)?,
            a_dst: xavier_var(rng, &[1, heads, out], 2 * out, 1, 1.414)?,
            bias: if bias {
                Some(zeros_var(&[if concat { heads * out } else { out }])?)
            } else {
                None
            },
            heads,
            out,
            concat,
        })
    }

    /// Returns the layer output and the attention coefficients (E x heads) before dropout.
    fn attend(
        &self,
        wh: &Tensor,
        p: &Prepared,
        drop: f32,
        train: bool,
        rng: &mut SmallRng,
        reference: bool,
    ) -> Result<(Tensor, Tensor)> {
        let n = wh.dim(0)?;
        let wh3 = wh.reshape((n, self.heads, self.out))?;
        // a·[Wh_i || Wh_j] splits into a per-source and a per-destination half; both come from
        // one small matmul with block-diagonal [a_src | a_dst] (heads*out x 2*heads), cheaper
        // than broadcast products over N x heads x out.
        let (h, f) = (self.heads, self.out);
        let eye = Tensor::eye(h, wh.dtype(), wh.device())?.reshape((h, 1, h))?;
        let block = |a: &Var| -> Result<Tensor> {
            a.as_tensor()
                .reshape((h, f, 1))?
                .broadcast_mul(&eye)?
                .reshape((h * f, h))
        };
        let att = Tensor::cat(&[block(&self.a_src)?, block(&self.a_dst)?], 1)?;
        let both = wh.matmul(&att)?;
        let fs = both.narrow(1, 0, h)?;
        let fd = both.narrow(1, h, h)?;
        let ed = &p.edges;
        let (alpha, out) = if reference {
            let alpha = edge_softmax_reference(&edge_scores_reference(&fs, &fd, SLOPE, ed)?, ed)?;
            let out = aggregate_reference(&dropout(&alpha, drop, train, rng)?, &wh3, ed)?;
            (alpha, out)
        } else {
            let alpha = edge_softmax(&edge_scores(&fs, &fd, SLOPE, ed)?, ed)?;
            let out = aggregate(&dropout(&alpha, drop, train, rng)?, &wh3, ed)?;
            (alpha, out)
        };
        let out = if self.concat {
            out.reshape((n, self.heads * self.out))?
        } else {
            out.mean(1)?
        };
        Ok((add_bias(out, &self.bias)?, alpha))
    }

    fn vars(&self) -> Vec<Var> {
        let mut v = vec![self.w.clone(), self.a_src.clone(), self.a_dst.clone()];
        v.extend(self.bias.iter().cloned());
        v
    }
}

pub struct Gat {
    pub l1: GatLayer,
    pub l2: GatLayer,
    cfg: GraphConfig,
    /// Use candle's index_select/index_add instead of the fused edge ops (tests compare them).
    pub reference: bool,
}

impl Gat {
    pub fn new(cfg: &GraphConfig, fin: usize, classes: usize, rng: &mut SmallRng) -> Result<Self> {
        Ok(Self {
            l1: GatLayer::new(rng, fin, cfg.hidden, cfg.heads, true, cfg.bias)?,
            l2: GatLayer::new(
                rng,
                cfg.hidden * cfg.heads,
                classes,
                cfg.out_heads,
                false,
                cfg.bias,
            )?,
            cfg: cfg.clone(),
            reference: false,
        })
    }

    pub fn forward(&self, p: &Prepared, train: bool, rng: &mut SmallRng) -> Result<Forward> {
        let d = self.cfg.dropout;
        let x = input_features(p, &self.cfg, train, rng)?;
        let (h, alpha) = self.l1.attend(
            &x.matmul(self.l1.w.as_tensor())?,
            p,
            d,
            train,
            rng,
            self.reference,
        )?;
        let h = elu(&h)?;
        let hd = dropout(&h, d, train, rng)?;
        let (o, _) = self.l2.attend(
            &hd.matmul(self.l2.w.as_tensor())?,
            p,
            d,
            train,
            rng,
            self.reference,
        )?;
        // ELU on the output as pyGAT and the PyTorch reference in shared/bench do.
        Ok(Forward {
            logits: o.elu(1.0)?,
            hidden: h,
            attention: Some(alpha),
        })
    }

    pub fn vars(&self) -> Vec<Var> {
        let mut v = self.l1.vars();
        v.extend(self.l2.vars());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::graph::{BinaryFeatures, Graph, Split};
    use crate::labs::graphs::config::{AdjNorm, ModelKind, Preset};
    use crate::labs::graphs::prep::row_normalized_features;
    use rand::SeedableRng;

    fn tiny() -> (Graph, Prepared) {
        let rows: [&[u32]; 5] = [&[0, 1], &[1], &[2, 3], &[0, 3], &[1, 2, 3]];
        let mut f = BinaryFeatures {
            cols: 4,
            indptr: vec![0],
            ..Default::default()
        };
        for r in rows {
            f.indices.extend_from_slice(r);
            f.indptr.push(f.indices.len());
        }
        let g = Graph {
            name: "tiny".into(),
            node_names: (0..5).map(|i| i.to_string()).collect(),
            features: f,
            labels: vec![0, 1, 0, 1, 0],
            class_names: vec!["a".into(), "b".into()],
            edges: vec![(0, 1), (1, 2), (2, 3), (0, 4), (1, 4)],
            ..Default::default()
        };
        let p = Prepared::new(
            &g,
            AdjNorm::Sym,
            Split {
                train: vec![0, 1, 3],
                val: vec![2],
                test: vec![4],
            },
        )
        .unwrap();
        (g, p)
    }

    fn cfg() -> GraphConfig {
        GraphConfig {
            hidden: 3,
            heads: 2,
            out_heads: 2,
            ..GraphConfig::preset(ModelKind::Gat, Preset::Paper)
        }
    }

    #[test]
    fn attention_sums_to_one_and_matches_dense_reference() -> Result<()> {
        let (g, p) = tiny();
        let mut rng = SmallRng::seed_from_u64(3);
        let m = Gat::new(&cfg(), 4, 2, &mut rng)?;
        let alpha = m
            .forward(&p, false, &mut rng)?
            .attention
            .expect("GAT returns attention");
        let alpha = alpha.to_vec2::<f32>()?;
        // Dense reference from the definition, one head at a time over the full 5 x 5 mask.
        let x = Tensor::from_vec(
            row_normalized_features(&g).to_dense(),
            (5, 4),
            &candle_core::Device::Cpu,
        )?;
        let wh = x
            .matmul(m.l1.w.as_tensor())?
            .reshape((5, 2, 3))?
            .to_vec3::<f32>()?;
        let a_src = m.l1.a_src.as_tensor().to_vec3::<f32>()?[0].clone();
        let a_dst = m.l1.a_dst.as_tensor().to_vec3::<f32>()?[0].clone();
        let mut adj = [[false; 5]; 5];
        for &(u, v) in &g.edges {
            adj[u as usize][v as usize] = true;
            adj[v as usize][u as usize] = true;
        }
        let t = &p.edges.topo;
        for h in 0..2 {
            let dot = |v: &[f32], a: &[f32]| v.iter().zip(a).map(|(x, y)| x * y).sum::<f32>();
            for i in 0..5 {
                let nb: Vec<usize> = (0..5).filter(|&j| j == i || adj[i][j]).collect();
                let e: Vec<f32> = nb
                    .iter()
                    .map(|&j| {
                        let s = dot(&wh[j][h], &a_src[h]) + dot(&wh[i][h], &a_dst[h]);
                        if s > 0.0 { s } else { 0.2 * s }
                    })
                    .collect();
                let z: f32 = e.iter().map(|v| v.exp()).sum();
                let mut total = 0.0;
                #[allow(clippy::needless_range_loop)]
                for k in t.dst_ptr[i]..t.dst_ptr[i + 1] {
                    let j = t.src[k] as usize;
                    let pos = nb
                        .iter()
                        .position(|&q| q == j)
                        .expect("edge list matches adjacency");
                    assert!((alpha[k][h] - e[pos].exp() / z).abs() < 1e-5);
                    total += alpha[k][h];
                }
                assert_eq!(t.dst_ptr[i + 1] - t.dst_ptr[i], nb.len());
                assert!((total - 1.0).abs() < 1e-5, "node {i} head {h}: {total}");
            }
        }
        Ok(())
    }

    fn loss(m: &Gat, p: &Prepared) -> Result<Tensor> {
        let mut rng = SmallRng::seed_from_u64(0);
        let lp = candle_nn::ops::log_softmax(&m.forward(p, false, &mut rng)?.logits, 1)?;
        candle_nn::loss::nll(&lp.index_select(&p.train_idx, 0)?, &p.train_y)
    }

    #[test]
    fn fused_and_reference_agree_in_value_and_gradient() -> Result<()> {
        let (_, p) = tiny();
        let mut m = Gat::new(&cfg(), 4, 2, &mut SmallRng::seed_from_u64(5))?;
        let a = loss(&m, &p)?;
        let ga = a.backward()?;
        m.reference = true;
        let b = loss(&m, &p)?;
        let gb = b.backward()?;
        assert!((a.to_scalar::<f32>()? - b.to_scalar::<f32>()?).abs() < 1e-5);
        for v in m.vars() {
            let x = ga
                .get(v.as_tensor())
                .expect("fused grad")
                .flatten_all()?
                .to_vec1::<f32>()?;
            let y = gb
                .get(v.as_tensor())
                .expect("reference grad")
                .flatten_all()?
                .to_vec1::<f32>()?;
            for (x, y) in x.iter().zip(&y) {
                assert!((x - y).abs() < 1e-4, "{x} vs {y}");
            }
        }
        Ok(())
    }

    #[test]
    fn gradients_match_finite_differences() -> Result<()> {
        let (_, p) = tiny();
        let m = Gat::new(&cfg(), 4, 2, &mut SmallRng::seed_from_u64(7))?;
        crate::core::test_util::assert_grads_match_fd(&m.vars(), || loss(&m, &p), 3e-3, 0.02)
    }
}
