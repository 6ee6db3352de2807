//! The questions the Graphs lab ships as one-click sweeps (`gradlab sweep graphs --preset ID`),
//! sized to finish in minutes on two cores; their measured answers are in the README.

use crate::core::descriptor::SweepPreset;

pub const PRESETS: &[SweepPreset] = &[
    SweepPreset {
        id: "homophily",
        question: "Where does message passing stop helping? GCN, GAT and an MLP on the synthetic graph from homophily 0.1 to 0.9.",
        flags: &["--dataset", "synthetic", "--epochs", "200", "--seeds", "5"],
        vary: &[
            (
                "homophily",
                &[
                    "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9",
                ],
            ),
            ("model", &["gcn", "gat", "mlp"]),
        ],
        metric: None,
    },
    SweepPreset {
        id: "gat_heads",
        question: "Do more attention heads help GAT? 1, 2, 4 and 8 heads (8 units each) on the synthetic graph at homophily 0.8.",
        flags: &[
            "--dataset",
            "synthetic",
            "--model",
            "gat",
            "--epochs",
            "200",
            "--seeds",
            "5",
        ],
        vary: &[("heads", &["1", "2", "4", "8"])],
        metric: None,
    },
];
