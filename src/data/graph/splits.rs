//! Which nodes train, which select the model, which are the test.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::Graph;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum SplitKind {
    /// Random permutation (seeded): first 140 nodes train, all the others are evaluated (CSC413 A4).
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

#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub train: Vec<u32>,
    pub val: Vec<u32>,
    pub test: Vec<u32>,
}

impl Split {
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
                let rest = p[140..].to_vec();
                // The homework evaluates on every other node; it has no separate validation set.
                Ok(Split {
                    train: p[..140].to_vec(),
                    val: rest.clone(),
                    test: rest,
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

    fn disjoint(s: &Split) -> bool {
        let mut seen = std::collections::HashSet::new();
        s.train.iter().all(|i| seen.insert(*i)) && s.test.iter().all(|i| !s.train.contains(i))
    }

    #[test]
    fn splits_have_their_documented_sizes() {
        let g = synthetic_graph(&SyntheticSpec::default()).unwrap();
        let p = Split::new(SplitKind::Pygcn, &g, 3).unwrap();
        assert_eq!((p.train.len(), p.val.len(), p.test.len()), (140, 300, 1000));
        assert_eq!((p.train[0], p.val[0], p.test[999]), (0, 200, 1499));
        let a = Split::new(SplitKind::Assignment, &g, 0).unwrap();
        assert_eq!((a.train.len(), a.test.len()), (140, 2568));
        assert!(disjoint(&a));
        let r = Split::new(SplitKind::Random, &g, 0).unwrap();
        assert_eq!((r.train.len(), r.val.len(), r.test.len()), (140, 500, 1000));
        assert!(disjoint(&r));
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
