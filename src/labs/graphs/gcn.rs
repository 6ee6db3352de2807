//! Graph convolutional network (Kipf & Welling 2017): H' = Â·H·W + b, two layers.

use candle_core::{Result, Var};
use rand::rngs::SmallRng;

use super::config::GraphConfig;
use super::layers::{Forward, add_bias, input_features};
use super::prep::Prepared;
use crate::core::nn::{dropout, uniform_var};

pub struct Gcn {
    w1: Var,
    b1: Option<Var>,
    w2: Var,
    b2: Option<Var>,
    cfg: GraphConfig,
}

/// pygcn's initialisation: uniform in ±1/sqrt(fan_out) for weight and bias.
fn layer(rng: &mut SmallRng, fin: usize, fout: usize, bias: bool) -> Result<(Var, Option<Var>)> {
    let s = 1.0 / (fout as f64).sqrt();
    let w = uniform_var(rng, &[fin, fout], s)?;
    let b = if bias {
        Some(uniform_var(rng, &[fout], s)?)
    } else {
        None
    };
    Ok((w, b))
}

impl Gcn {
    pub fn new(cfg: &GraphConfig, fin: usize, classes: usize, rng: &mut SmallRng) -> Result<Self> {
        let (w1, b1) = layer(rng, fin, cfg.hidden, cfg.bias)?;
        let (w2, b2) = layer(rng, cfg.hidden, classes, cfg.bias)?;
        Ok(Self {
            w1,
            b1,
            w2,
            b2,
            cfg: cfg.clone(),
        })
    }

    pub fn forward(&self, p: &Prepared, train: bool, rng: &mut SmallRng) -> Result<Forward> {
        let x = input_features(p, &self.cfg, train, rng)?;
        // Â(XW): both products sparse, and the narrow one (H columns) is propagated.
        let h = add_bias(p.adj.matmul(&x.matmul(self.w1.as_tensor())?)?, &self.b1)?.relu()?;
        let hd = dropout(&h, self.cfg.dropout, train, rng)?;
        let logits = add_bias(p.adj.matmul(&hd.matmul(self.w2.as_tensor())?)?, &self.b2)?;
        Ok(Forward {
            logits,
            hidden: h,
            attention: None,
        })
    }

    pub fn vars(&self) -> Vec<Var> {
        let mut v = vec![self.w1.clone(), self.w2.clone()];
        v.extend(self.b1.iter().chain(&self.b2).cloned());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::graph::{BinaryFeatures, Graph, Split};
    use crate::labs::graphs::config::{AdjNorm, ModelKind, Preset};
    use candle_core::{Device, Tensor};
    use rand::SeedableRng;

    /// A 5-node graph with 4 features.
    pub fn tiny_graph() -> Graph {
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
        Graph {
            name: "tiny".into(),
            node_names: (0..5).map(|i| i.to_string()).collect(),
            features: f,
            labels: vec![0, 1, 0, 1, 0],
            class_names: vec!["a".into(), "b".into()],
            edges: vec![(0, 1), (1, 2), (2, 3), (0, 4)],
            ..Default::default()
        }
    }

    fn tiny_split() -> Split {
        Split {
            train: vec![0, 1, 3],
            val: vec![2],
            test: vec![4],
        }
    }

    /// Dense Â for the tiny graph, straight from the definition.
    fn dense_adj(g: &Graph, norm: AdjNorm) -> Vec<f32> {
        let n = g.num_nodes();
        let mut a = vec![0f32; n * n];
        for &(u, v) in &g.edges {
            a[u as usize * n + v as usize] = 1.0;
            a[v as usize * n + u as usize] = 1.0;
        }
        for i in 0..n {
            a[i * n + i] = 1.0;
        }
        let d: Vec<f32> = (0..n).map(|i| a[i * n..(i + 1) * n].iter().sum()).collect();
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] *= match norm {
                    AdjNorm::Sym => 1.0 / (d[i] * d[j]).sqrt(),
                    AdjNorm::Row => 1.0 / d[i],
                    AdjNorm::None => 1.0,
                };
            }
        }
        a
    }

    #[test]
    fn propagation_matches_dense_computation_for_every_norm() -> Result<()> {
        let g = tiny_graph();
        let dev = Device::Cpu;
        for norm in AdjNorm::ALL {
            let cfg = GraphConfig {
                norm,
                ..GraphConfig::preset(ModelKind::Gcn, Preset::Paper)
            };
            let p = Prepared::new(&g, norm, tiny_split())?;
            let mut rng = SmallRng::seed_from_u64(0);
            let m = Gcn::new(&cfg, 4, 2, &mut rng)?;
            let out = m.forward(&p, false, &mut rng)?.logits;
            let a = Tensor::from_vec(dense_adj(&g, norm), (5, 5), &dev)?;
            let x = Tensor::from_vec(
                crate::labs::graphs::prep::row_normalized_features(&g).to_dense(),
                (5, 4),
                &dev,
            )?;
            let h = a
                .matmul(&x.matmul(m.w1.as_tensor())?)?
                .broadcast_add(m.b1.as_ref().unwrap().as_tensor())?
                .relu()?;
            let want = a
                .matmul(&h.matmul(m.w2.as_tensor())?)?
                .broadcast_add(m.b2.as_ref().unwrap().as_tensor())?;
            let d = (out - want)?
                .abs()?
                .flatten_all()?
                .max(0)?
                .to_scalar::<f32>()?;
            assert!(d < 1e-5, "{norm:?}: {d}");
        }
        Ok(())
    }

    #[test]
    fn weight_gradients_match_finite_differences() -> Result<()> {
        let g = tiny_graph();
        let cfg = GraphConfig {
            hidden: 3,
            ..GraphConfig::preset(ModelKind::Gcn, Preset::Paper)
        };
        let p = Prepared::new(&g, AdjNorm::Sym, tiny_split())?;
        let mut rng = SmallRng::seed_from_u64(1);
        let m = Gcn::new(&cfg, 4, 2, &mut rng)?;
        // Keep every hidden unit well inside ReLU's linear part: finite differences across its
        // kink measure the kink, not the gradient (the dense test above covers the kink).
        let b1 = m.b1.as_ref().expect("bias on");
        b1.set(&Tensor::ones(b1.shape(), b1.dtype(), b1.device())?)?;
        let loss = |m: &Gcn, rng: &mut SmallRng| -> Result<Tensor> {
            let lp = candle_nn::ops::log_softmax(&m.forward(&p, false, rng)?.logits, 1)?;
            candle_nn::loss::nll(&lp.index_select(&p.train_idx, 0)?, &p.train_y)
        };
        // Step 1e-3 (in the helper): a larger one can cross a ReLU kink on this tiny graph.
        crate::core::test_util::assert_grads_match_fd(&m.vars(), || loss(&m, &mut rng), 1e-3, 0.01)
    }
}
