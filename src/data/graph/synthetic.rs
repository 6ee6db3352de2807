//! A synthetic citation graph: a contextual stochastic block model with Cora's size, so the
//! Graphs lab works offline. Classes are topics: each class has its own preferred words, and an
//! edge joins two papers of the same class with probability `homophily`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{BinaryFeatures, Graph, canonical_edges};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyntheticSpec {
    pub nodes: usize,
    pub classes: usize,
    pub vocabulary: usize,
    /// Undirected edges to draw (Cora: 5278).
    pub edges: usize,
    /// Probability that an edge stays inside a class (Cora: 0.81).
    pub homophily: f64,
    /// Words per paper (Cora averages 18).
    pub words_per_node: usize,
    /// Probability that a word comes from the paper's class topic rather than the background.
    pub topic_strength: f64,
    pub seed: u64,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        Self {
            nodes: 2708,
            classes: 7,
            vocabulary: 1433,
            edges: 5278,
            homophily: 0.8,
            words_per_node: 18,
            topic_strength: 0.35,
            seed: 0,
        }
    }
}

/// Draws the graph described by `spec`; the same spec always gives the same graph.
pub fn synthetic_graph(spec: &SyntheticSpec) -> anyhow::Result<Graph> {
    anyhow::ensure!(
        spec.classes >= 2 && spec.nodes >= 2 * spec.classes,
        "synthetic graph needs >= 2 classes and >= 2 nodes per class"
    );
    anyhow::ensure!(
        spec.vocabulary >= spec.classes * 4,
        "synthetic graph needs a vocabulary of at least 4 words per class"
    );
    anyhow::ensure!(
        (0.0..=1.0).contains(&spec.homophily),
        "homophily must be in [0, 1]"
    );
    anyhow::ensure!(
        (0.0..=1.0).contains(&spec.topic_strength),
        "topic strength must be in [0, 1]"
    );
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let (n, c) = (spec.nodes, spec.classes);
    // Unequal class sizes, like Cora (largest class ~ 4x the smallest).
    let weights: Vec<f64> = (0..c)
        .map(|k| 1.0 + 3.0 * (k as f64 / (c - 1) as f64))
        .collect();
    let total: f64 = weights.iter().sum();
    let mut labels: Vec<u32> = (0..n)
        .map(|_| {
            let mut r = rng.random::<f64>() * total;
            let mut k = 0;
            while k + 1 < c && r >= weights[k] {
                r -= weights[k];
                k += 1;
            }
            k as u32
        })
        .collect();
    // Every class gets at least 20 nodes so the `random` split (20 per class) is possible.
    for k in 0..c {
        for i in 0..20.min(n / c) {
            labels[k * (n / c) + i] = k as u32;
        }
    }
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); c];
    for (i, &l) in labels.iter().enumerate() {
        members[l as usize].push(i as u32);
    }

    // Each class prefers a block of the vocabulary.
    let block = spec.vocabulary / c;
    let mut features = BinaryFeatures {
        cols: spec.vocabulary,
        indptr: vec![0],
        ..Default::default()
    };
    for &l in &labels {
        let mut words: Vec<u32> = (0..spec.words_per_node)
            .map(|_| {
                if rng.random::<f64>() < spec.topic_strength {
                    (l as usize * block + rng.random_range(0..block)) as u32
                } else {
                    rng.random_range(0..spec.vocabulary) as u32
                }
            })
            .collect();
        words.sort_unstable();
        words.dedup();
        features.indices.extend(words);
        features.indptr.push(features.indices.len());
    }

    // Edges: pick a node, then a partner inside its class with probability `homophily`.
    let mut raw = Vec::with_capacity(spec.edges);
    let mut attempts = 0;
    while raw.len() < spec.edges && attempts < spec.edges * 20 {
        attempts += 1;
        let u = rng.random_range(0..n) as u32;
        let lu = labels[u as usize] as usize;
        let k = if rng.random::<f64>() < spec.homophily {
            lu
        } else {
            let o = rng.random_range(0..c - 1);
            if o >= lu { o + 1 } else { o }
        };
        let v = members[k][rng.random_range(0..members[k].len())];
        if u != v {
            raw.push((u, v));
        }
    }
    let (edges, _, _) = canonical_edges(raw);
    let g = Graph {
        name: format!(
            "synthetic (homophily {:.2}, seed {})",
            spec.homophily, spec.seed
        ),
        node_names: (0..n).map(|i| format!("node {i}")).collect(),
        features,
        labels,
        class_names: (0..c).map(|k| format!("Topic {}", k + 1)).collect(),
        edges,
        ..Default::default()
    };
    let g = Graph {
        fingerprint: fingerprint(spec, &g),
        ..g
    };
    g.validate()?;
    Ok(g)
}

/// sha256 over the generator's parameters (as JSON) and the arrays it made.
fn fingerprint(spec: &SyntheticSpec, g: &Graph) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"gradlab synthetic graph v1\0");
    h.update(serde_json::to_vec(spec).unwrap_or_default());
    for &l in &g.labels {
        h.update(l.to_le_bytes());
    }
    for &p in &g.features.indptr {
        h.update((p as u64).to_le_bytes());
    }
    for &j in &g.features.indices {
        h.update(j.to_le_bytes());
    }
    for &(u, v) in &g.edges {
        h.update(u.to_le_bytes());
        h.update(v.to_le_bytes());
    }
    crate::core::digest::hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_graph_other_seed_other_graph() {
        let s = SyntheticSpec::default();
        let a = synthetic_graph(&s).unwrap();
        let b = synthetic_graph(&s).unwrap();
        assert_eq!(a.edges, b.edges);
        assert_eq!(a.features, b.features);
        let c = synthetic_graph(&SyntheticSpec { seed: 1, ..s }).unwrap();
        assert_ne!(a.edges, c.edges);
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, c.fingerprint);
        assert_eq!(a.fingerprint.len(), 64);
    }

    #[test]
    fn shape_and_homophily_follow_the_spec() {
        for h in [0.2, 0.9] {
            let g = synthetic_graph(&SyntheticSpec {
                homophily: h,
                ..Default::default()
            })
            .unwrap();
            assert_eq!(g.num_nodes(), 2708);
            assert_eq!(g.num_classes(), 7);
            assert!(g.edges.len() > 5000, "{}", g.edges.len());
            assert!(
                (g.edge_homophily() - h).abs() < 0.05,
                "wanted {h}, got {}",
                g.edge_homophily()
            );
            let density = g.features.nnz() as f64 / (2708.0 * 1433.0);
            assert!(density < 0.02, "{density}");
            for k in 0..7 {
                assert!(g.labels.iter().filter(|&&l| l == k).count() >= 20);
            }
        }
    }
}
