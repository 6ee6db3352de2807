//! The questions the Theory lab ships as one-click sweeps (`gradlab sweep theory --preset ID`),
//! each read by the figure that answers it (a check's own figure, recorded as `CHECK.FIGURE`);
//! their measured answers are in the README.

use super::keys::metric;
use crate::core::descriptor::SweepPreset;

pub const PRESETS: &[SweepPreset] = &[
    SweepPreset {
        id: "jl_count_vs_n",
        question: "How fast does the number of near-orthogonal random vectors grow with n at a fixed delta, and is the claimed c = 72 in exp(n delta^2 / c) close to what random projection reaches?",
        flags: &[
            "--check",
            "jl_near_orthogonal",
            "--jl-near-orthogonal-delta",
            "0.3",
            "--jl-near-orthogonal-cap",
            "5000",
        ],
        vary: &[
            (
                "jl_near_orthogonal.n",
                &["32", "64", "96", "128", "160", "192", "224", "256", "288"],
            ),
            ("jl_near_orthogonal.seed", &["1", "2", "3"]),
        ],
        metric: Some(metric::JL_COUNT),
    },
    SweepPreset {
        id: "rnn_ratio_vs_n",
        question: "How close does a sigmoid RNN's Jacobian come to the bound (gamma/4)^(n-1) as the sequence grows?",
        flags: &["--check", "rnn_sigmoid_bound"],
        vary: &[
            (
                "rnn_sigmoid_bound.n_max",
                &["2", "3", "5", "10", "20", "30", "45", "60"],
            ),
            ("rnn_sigmoid_bound.gamma", &["0.25", "1", "4"]),
        ],
        metric: Some(metric::RNN_RATIO_AT_N_MAX),
    },
];
