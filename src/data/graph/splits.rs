//! Which nodes train, which select the model, which are the test.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::Graph;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum SplitKind {
    /// Random permutation (seeded): first 140 nodes train (CSC413 A4), the next 500 validate
    /// (half of the rest on graphs with fewer than 1140 nodes), all the others are the test.
    Assignment,
    /// Rows 0-139 train, 200-499 validation, 500-1499 test (pygcn / pyGAT on Cora).
    #[default]
    Pygcn,
    /// 20 nodes per class train, 500 validation, 1000 test, seeded.
    Random,
}

impl SplitKind {
    pub const ALL: [SplitKind; 3] = [SplitKind::Assignment, SplitKind::Pygcn, SplitKind::Random];
    pub fn label(self) -> &'static str {
        match self {
            SplitKind::Assignment => "assignment",
            SplitKind::Pygcn => "pygcn",
            SplitKind::Random => "random",
        }
    }
}

/// Validation nodes of the assignment split (fewer on small graphs: half of the non-training ones).
pub const ASSIGNMENT_VAL: usize = 500;

#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub train: Vec<u32>,
    pub val: Vec<u32>,
    pub test: Vec<u32>,
}

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
        let n = g.num_nodes();
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(0x5eed));
        match kind {
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
                let mut p: Vec<u32> = (0..n as u32).collect();
                p.shuffle(&mut rng);
                let mut per_class = vec![0usize; c];
                let (mut train, mut others) = (Vec::new(), Vec::new());
                for i in p {
                    let l = g.labels[i as usize] as usize;
                    if per_class[l] < 20 {
                        per_class[l] += 1;
                        train.push(i);
                    } else {
                        others.push(i);
                    }
                }
                anyhow::ensure!(
                    per_class.iter().all(|&k| k == 20),
                    "the random split needs 20 nodes of every class in {}",
                    g.name
                );
                anyhow::ensure!(
                    others.len() >= 1500,
                    "the random split needs 1500 nodes besides the training ones, {} has {}",
                    g.name,
                    others.len()
                );
                Ok(Split {
                    train,
                    val: others[..500].to_vec(),
                    test: others[500..1500].to_vec(),
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
        assert_eq!(r.sizes(), (140, 500, 1000));
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
