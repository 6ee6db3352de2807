//! Which nodes train, which select the model, which are the test.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::dataset::Graph;
pub use super::split::{ASSIGNMENT_VAL, RANDOM_VAL, Split, SplitKind, TRAIN_PER_CLASS};

impl Split {
    /// (n_train, n_val, n_test), what every summary reports.
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.train.len(), self.val.len(), self.test.len())
    }

    /// True when no node is in two of the three sets (or twice in one).
    pub fn is_disjoint(&self) -> bool {
        let mut seen = std::collections::HashSet::new();
        self.train
            .iter()
            .chain(&self.val)
            .chain(&self.test)
            .all(|i| seen.insert(*i))
    }

    pub fn new(kind: SplitKind, g: &Graph, seed: u64) -> anyhow::Result<Split> {
        Self::with_per_class(kind, g, seed, TRAIN_PER_CLASS)
    }

    /// [`Split::new`] with `per_class` training nodes per class for the random split. Unlabelled
    /// nodes are in no set.
    pub fn with_per_class(
        kind: SplitKind,
        g: &Graph,
        seed: u64,
        per_class: usize,
    ) -> anyhow::Result<Split> {
        let mut s = Self::all_nodes(kind, g, seed, per_class)?;
        if !g.unlabelled.is_empty() {
            for set in [&mut s.train, &mut s.val, &mut s.test] {
                set.retain(|&i| g.is_labelled(i));
            }
        }
        anyhow::ensure!(
            !s.train.is_empty() && !s.val.is_empty() && !s.test.is_empty(),
            "the {} split of {} leaves a set empty ({} train / {} validation / {} test nodes)",
            kind.label(),
            g.name,
            s.train.len(),
            s.val.len(),
            s.test.len()
        );
        Ok(s)
    }

    fn all_nodes(kind: SplitKind, g: &Graph, seed: u64, per_class: usize) -> anyhow::Result<Split> {
        let n = g.num_nodes();
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(0x5eed));
        // Only labelled nodes are drawn (all of them on graphs without unlabelled nodes).
        let labelled = |p: &mut Vec<u32>| p.retain(|&i| g.is_labelled(i));
        match kind {
            SplitKind::Planetoid => g.given_split.clone().ok_or_else(|| {
                anyhow::anyhow!(
                    "the planetoid split comes with the Planetoid files (--dataset cora, citeseer or pubmed); {} has none",
                    g.name
                )
            }),
            SplitKind::Pygcn => {
                anyhow::ensure!(
                    n >= 1500,
                    "the pygcn split needs at least 1500 nodes, {} has {n}",
                    g.name
                );
                let r = |a: u32, b: u32| (a..b).collect::<Vec<_>>();
                Ok(Split {
                    train: r(0, 140),
                    val: r(200, 500),
                    test: r(500, 1500),
                })
            }
            SplitKind::Assignment => {
                anyhow::ensure!(
                    n > 140,
                    "the assignment split needs more than 140 nodes, {} has {n}",
                    g.name
                );
                let mut p: Vec<u32> = (0..n as u32).collect();
                p.shuffle(&mut rng);
                labelled(&mut p);
                let n = p.len();
                // The homework evaluates on every other node and has no validation set; early
                // stopping on those nodes would pick the epoch with the test labels, so validation
                // is carved out of the same seeded permutation and never overlaps the test.
                let n_val = ASSIGNMENT_VAL.min((n - 140) / 2);
                anyhow::ensure!(
                    n_val >= 1,
                    "the assignment split needs at least 142 nodes, {} has {n}",
                    g.name
                );
                Ok(Split {
                    train: p[..140].to_vec(),
                    val: p[140..140 + n_val].to_vec(),
                    test: p[140 + n_val..].to_vec(),
                })
            }
            SplitKind::Random => {
                let c = g.num_classes();
                anyhow::ensure!(per_class >= 1, "the random split needs at least 1 training node per class");
                let mut p: Vec<u32> = (0..n as u32).collect();
                p.shuffle(&mut rng);
                labelled(&mut p);
                let mut count = vec![0usize; c];
                let (mut train, mut others) = (Vec::new(), Vec::new());
                for i in p {
                    let l = g.labels[i as usize] as usize;
                    if count[l] < per_class {
                        count[l] += 1;
                        train.push(i);
                    } else {
                        others.push(i);
                    }
                }
                if let Some(k) = count.iter().position(|&k| k < per_class) {
                    anyhow::bail!(
                        "the random split needs {per_class} labelled nodes of every class; class {} of {} has {}",
                        g.class_names.get(k).map_or("?", |s| s.as_str()),
                        g.name,
                        count[k]
                    );
                }
                let n_val = RANDOM_VAL.min(others.len() / 2);
                anyhow::ensure!(
                    n_val >= 1,
                    "the random split needs at least 2 labelled nodes besides the training ones, {} has {}",
                    g.name,
                    others.len()
                );
                Ok(Split {
                    train,
                    val: others[..n_val].to_vec(),
                    test: others[n_val..].to_vec(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::graph::{SyntheticSpec, synthetic_graph};

    #[test]
    fn splits_have_their_documented_sizes() {
        let g = synthetic_graph(&SyntheticSpec::default()).unwrap();
        let p = Split::new(SplitKind::Pygcn, &g, 3).unwrap();
        assert_eq!((p.train.len(), p.val.len(), p.test.len()), (140, 300, 1000));
        assert_eq!((p.train[0], p.val[0], p.test[999]), (0, 200, 1499));
        assert!(p.is_disjoint());
        let a = Split::new(SplitKind::Assignment, &g, 0).unwrap();
        assert_eq!(a.sizes(), (140, 500, 2708 - 640));
        assert!(a.is_disjoint());
        let r = Split::new(SplitKind::Random, &g, 0).unwrap();
        assert_eq!(r.sizes(), (140, 500, 2708 - 640));
        assert!(r.is_disjoint());
        for k in 0..7 {
            assert_eq!(
                r.train
                    .iter()
                    .filter(|&&i| g.labels[i as usize] == k)
                    .count(),
                20
            );
        }
    }

    #[test]
    fn every_split_keeps_train_val_and_test_apart_for_every_seed() {
        let g = synthetic_graph(&SyntheticSpec::default()).unwrap();
        for kind in SplitKind::ALL {
            if kind == SplitKind::Planetoid {
                let e = Split::new(kind, &g, 0).unwrap_err().to_string();
                assert!(e.contains("comes with the Planetoid files"), "{e}");
                continue;
            }
            for seed in 0..5 {
                let s = Split::new(kind, &g, seed).unwrap();
                let (a, b, c) = s.sizes();
                assert!(a > 0 && b > 0 && c > 0, "{kind:?} {seed}: {:?}", s.sizes());
                assert!(a + b + c <= g.num_nodes(), "{kind:?} {seed}");
                assert!(s.is_disjoint(), "{kind:?} seed {seed} overlaps");
            }
        }
        // A small graph still gets a validation set of its own (half of the non-training nodes).
        let small = synthetic_graph(&SyntheticSpec {
            nodes: 300,
            ..Default::default()
        })
        .unwrap();
        let s = Split::new(SplitKind::Assignment, &small, 1).unwrap();
        assert_eq!(s.sizes(), (140, 80, 80));
        assert!(s.is_disjoint());
    }

    #[test]
    fn overlapping_sets_are_detected() {
        let s = Split {
            train: vec![0, 1],
            val: vec![2],
            test: vec![2, 3],
        };
        assert!(!s.is_disjoint());
    }

    #[test]
    fn seeded_splits_repeat_and_differ_by_seed() {
        let g = synthetic_graph(&SyntheticSpec::default()).unwrap();
        let a = Split::new(SplitKind::Random, &g, 5).unwrap();
        assert_eq!(a, Split::new(SplitKind::Random, &g, 5).unwrap());
        assert_ne!(a, Split::new(SplitKind::Random, &g, 6).unwrap());
    }

    #[test]
    fn unlabelled_nodes_are_in_no_set_and_per_class_counts_apply() {
        let mut g = synthetic_graph(&SyntheticSpec::default()).unwrap();
        g.unlabelled = (0..2708).filter(|i| i % 3 == 0).collect();
        for kind in [SplitKind::Assignment, SplitKind::Pygcn, SplitKind::Random] {
            let s = Split::new(kind, &g, 1).unwrap();
            assert!(
                s.train
                    .iter()
                    .chain(&s.val)
                    .chain(&s.test)
                    .all(|i| i % 3 != 0),
                "{kind:?}"
            );
        }
        let s = Split::with_per_class(SplitKind::Random, &g, 1, 5).unwrap();
        assert_eq!(s.train.len(), 35);
        assert_eq!(s.val.len(), 500);
        assert_eq!(s.train.len() + s.val.len() + s.test.len(), 2708 - 903);
        let e = Split::with_per_class(SplitKind::Random, &g, 1, 5000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("5000 labelled nodes of every class"), "{e}");
    }

    #[test]
    fn small_graphs_are_refused_with_a_reason() {
        let g = synthetic_graph(&SyntheticSpec {
            nodes: 100,
            ..Default::default()
        })
        .unwrap();
        let e = Split::new(SplitKind::Pygcn, &g, 0).unwrap_err().to_string();
        assert!(e.contains("1500"), "{e}");
    }
}
