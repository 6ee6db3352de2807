//! What a Graph-lab run is: model, hyperparameters, split, seed; and the two presets.

use serde::{Deserialize, Serialize};

use crate::data::graph::SplitKind;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum ModelKind {
    #[default]
    Gcn,
    Gat,
    Mlp,
}

impl ModelKind {
    pub const ALL: [ModelKind; 3] = [ModelKind::Gcn, ModelKind::Gat, ModelKind::Mlp];
    pub fn label(self) -> &'static str {
        match self {
            ModelKind::Gcn => "GCN",
            ModelKind::Gat => "GAT",
            ModelKind::Mlp => "MLP",
        }
    }
}

/// How GCN normalises Â = A + I.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum AdjNorm {
    /// D^-1/2 (A+I) D^-1/2 (Kipf & Welling).
    #[default]
    Sym,
    /// D^-1 (A+I): the mean over the neighbourhood (what pygcn's code does).
    Row,
    /// A + I: the plain sum; large degrees blow up activations.
    None,
}

impl AdjNorm {
    pub const ALL: [AdjNorm; 3] = [AdjNorm::Sym, AdjNorm::Row, AdjNorm::None];
    pub fn label(self) -> &'static str {
        match self {
            AdjNorm::Sym => "symmetric",
            AdjNorm::Row => "row",
            AdjNorm::None => "none",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Preset {
    /// The CSC413 homework: 100 epochs, lr 0.01, hidden 16 (GAT 8 heads x 2), dropout 0.5.
    Assignment,
    /// The papers: GCN as Kipf & Welling, GAT as Velickovic et al. (8 x 8 heads, early stopping).
    #[default]
    Paper,
}

impl Preset {
    pub const ALL: [Preset; 2] = [Preset::Assignment, Preset::Paper];
    pub fn label(self) -> &'static str {
        match self {
            Preset::Assignment => "assignment",
            Preset::Paper => "paper",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GraphConfig {
    pub model: ModelKind,
    /// Hidden units (for GAT: units per head).
    pub hidden: usize,
    /// GAT attention heads in the hidden layer (concatenated).
    pub heads: usize,
    /// GAT heads in the output layer (averaged).
    pub out_heads: usize,
    pub dropout: f32,
    /// Dropout on the input features too (GAT in the papers; pygcn's GCN does not).
    pub input_dropout: bool,
    pub lr: f64,
    pub weight_decay: f64,
    /// Most epochs to train.
    pub epochs: usize,
    /// Stop when the validation loss has not improved for this many epochs (0: never) and report
    /// the test accuracy of the best-validation-loss epoch, as GAT's authors did.
    pub patience: usize,
    pub norm: AdjNorm,
    pub bias: bool,
    pub split: SplitKind,
    pub seed: u64,
    /// Send an embedding (and attention) snapshot every this many epochs.
    pub snapshot_every: usize,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self::preset(ModelKind::Gcn, Preset::Paper)
    }
}

impl GraphConfig {
    pub fn preset(model: ModelKind, preset: Preset) -> Self {
        let base = GraphConfig {
            model,
            hidden: 16,
            heads: 8,
            out_heads: 1,
            dropout: 0.5,
            input_dropout: false,
            lr: 0.01,
            weight_decay: 5e-4,
            epochs: 200,
            patience: 0,
            norm: AdjNorm::Sym,
            bias: true,
            split: SplitKind::Pygcn,
            seed: 0,
            snapshot_every: 10,
        };
        match (preset, model) {
            (Preset::Assignment, ModelKind::Gat) => GraphConfig {
                hidden: 2,
                epochs: 100,
                input_dropout: true,
                ..base
            },
            (Preset::Assignment, _) => GraphConfig {
                epochs: 100,
                ..base
            },
            (Preset::Paper, ModelKind::Gat) => GraphConfig {
                hidden: 8,
                dropout: 0.6,
                input_dropout: true,
                lr: 0.005,
                epochs: 1000,
                patience: 100,
                ..base
            },
            (Preset::Paper, _) => base,
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.hidden >= 1, "hidden units must be at least 1");
        anyhow::ensure!(
            self.heads >= 1 && self.out_heads >= 1,
            "GAT needs at least one head per layer"
        );
        anyhow::ensure!(
            (0.0..1.0).contains(&self.dropout),
            "dropout must be in [0, 1), got {}",
            self.dropout
        );
        anyhow::ensure!(
            self.lr > 0.0 && self.lr.is_finite(),
            "learning rate must be positive, got {}",
            self.lr
        );
        anyhow::ensure!(self.weight_decay >= 0.0, "weight decay must be >= 0");
        anyhow::ensure!(self.epochs >= 1, "epochs must be at least 1");
        Ok(())
    }
}

/// The graph a run trains on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum DatasetArg {
    #[default]
    Cora,
    Synthetic,
}

/// The one config of the Graphs lab: what `gradlab graph` parses and the GUI edits (the GUI
/// adds per-model hyperparameters on top, which start at the preset's values).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default)]
pub struct GraphParams {
    #[arg(long, value_enum, default_value_t = GraphParams::default().model)]
    pub model: ModelKind,
    #[arg(long, value_enum, default_value_t = GraphParams::default().dataset)]
    pub dataset: DatasetArg,
    #[arg(long, value_enum, default_value_t = GraphParams::default().preset)]
    pub preset: Preset,
    #[arg(long, value_enum, default_value_t = GraphParams::default().split)]
    pub split: SplitKind,
    /// Runs with seeds 0..K-1.
    #[arg(long, default_value_t = GraphParams::default().seeds)]
    pub seeds: u64,
    /// Override the preset's (maximum) number of epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Homophily of the synthetic graph (fraction of edges inside a class).
    #[arg(long, default_value_t = GraphParams::default().homophily)]
    pub homophily: f64,
}

/// The defaults of both front ends, written once (clap's defaults above read them).
impl Default for GraphParams {
    fn default() -> Self {
        Self {
            model: ModelKind::Gcn,
            dataset: DatasetArg::Cora,
            preset: Preset::Paper,
            split: SplitKind::Pygcn,
            seeds: 10,
            epochs: None,
            homophily: 0.8,
        }
    }
}

impl GraphParams {
    /// The run config of `model`: its preset, this split and epoch override, no snapshots (the
    /// GUI turns those on for its live views).
    pub fn resolve(&self, model: ModelKind) -> GraphConfig {
        self.apply(GraphConfig::preset(model, self.preset))
    }

    /// Applies the shared settings to a model's (possibly GUI-edited) hyperparameters.
    pub fn apply(&self, mut cfg: GraphConfig) -> GraphConfig {
        cfg.split = self.split;
        cfg.snapshot_every = 0;
        if let Some(e) = self.epochs {
            cfg.epochs = e;
        }
        cfg
    }
}
