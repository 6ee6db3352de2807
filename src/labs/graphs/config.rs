//! What a Graph-lab run is: model, hyperparameters, split, seed; and the two presets.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::graph::{
    Graph, SplitKind, SyntheticSpec, load_cora, load_csv_folder, load_planetoid, synthetic_graph,
};

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

/// When early stopping resets its patience, and which epoch's model is reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum StopRule {
    /// Patience counts epochs since the lowest validation loss; the reported model is the one of
    /// that epoch (pyGAT's PyTorch code).
    #[default]
    ValLoss,
    /// GAT's own code (Veličković et al., `execute_cora.py`): patience restarts when the
    /// validation accuracy reaches its best or the loss its lowest; the reported model is the
    /// last one at which both held at once.
    LossOrAcc,
}

impl StopRule {
    pub fn label(self) -> &'static str {
        match self {
            StopRule::ValLoss => "val-loss",
            StopRule::LossOrAcc => "loss-or-acc",
        }
    }
}

fn is_default_stop_rule(r: &StopRule) -> bool {
    *r == StopRule::ValLoss
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
    /// How early stopping reads the validation set (left out of the recorded config at its
    /// default, so earlier runs keep their configuration key).
    #[serde(skip_serializing_if = "is_default_stop_rule")]
    pub stop_rule: StopRule,
    pub norm: AdjNorm,
    pub bias: bool,
    pub split: SplitKind,
    /// Training nodes per class of the random split (left out of the recorded config at its
    /// default, so runs from before it existed keep their configuration key).
    #[serde(skip_serializing_if = "is_default_per_class")]
    pub train_per_class: usize,
    pub seed: u64,
    /// Send an embedding (and attention) snapshot every this many epochs.
    pub snapshot_every: usize,
}

fn is_default_per_class(k: &usize) -> bool {
    *k == crate::data::graph::splits::TRAIN_PER_CLASS
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
            stop_rule: StopRule::ValLoss,
            norm: AdjNorm::Sym,
            bias: true,
            split: SplitKind::Pygcn,
            train_per_class: crate::data::graph::splits::TRAIN_PER_CLASS,
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

/// The graph a run trains on, as `--dataset` names it: `cora` (LINQS files, or the Planetoid
/// files with `--split planetoid`), `citeseer` and `pubmed` (Planetoid files), `synthetic`, or
/// the path of a folder with `nodes.csv` and `edges.csv`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum DatasetArg {
    #[default]
    Cora,
    Citeseer,
    Pubmed,
    Synthetic,
    Folder(PathBuf),
}

impl DatasetArg {
    /// The built-in names (a folder is anything else).
    pub const NAMED: [DatasetArg; 4] = [
        DatasetArg::Cora,
        DatasetArg::Citeseer,
        DatasetArg::Pubmed,
        DatasetArg::Synthetic,
    ];

    pub fn parse(s: &str) -> Self {
        match s.trim().to_lowercase().as_str() {
            "cora" => DatasetArg::Cora,
            "citeseer" => DatasetArg::Citeseer,
            "pubmed" => DatasetArg::Pubmed,
            "synthetic" => DatasetArg::Synthetic,
            _ => DatasetArg::Folder(PathBuf::from(s)),
        }
    }

    /// What `--dataset` takes for it.
    pub fn arg(&self) -> String {
        match self {
            DatasetArg::Cora => "cora".into(),
            DatasetArg::Citeseer => "citeseer".into(),
            DatasetArg::Pubmed => "pubmed".into(),
            DatasetArg::Synthetic => "synthetic".into(),
            DatasetArg::Folder(p) => p.display().to_string(),
        }
    }

    /// The split used when `--split` is not given: the papers' split for the Planetoid-only
    /// datasets, a random one for a user's folder, pygcn's otherwise.
    pub fn default_split(&self) -> SplitKind {
        match self {
            DatasetArg::Citeseer | DatasetArg::Pubmed => SplitKind::Planetoid,
            DatasetArg::Folder(_) => SplitKind::Random,
            DatasetArg::Cora | DatasetArg::Synthetic => SplitKind::Pygcn,
        }
    }

    /// Planetoid dataset name when `split` reads the Planetoid files.
    pub fn planetoid_name(&self, split: SplitKind) -> Option<&'static str> {
        match (self, split) {
            (DatasetArg::Cora, SplitKind::Planetoid) => Some("cora"),
            (DatasetArg::Citeseer, _) => Some("citeseer"),
            (DatasetArg::Pubmed, _) => Some("pubmed"),
            _ => None,
        }
    }

    /// Loads the graph (files under `data_dir`: `cora/`, `planetoid/`); an error names the
    /// missing or bad file.
    pub fn load(&self, split: SplitKind, data_dir: &Path, homophily: f64) -> anyhow::Result<Graph> {
        if let Some(name) = self.planetoid_name(split) {
            return load_planetoid(&data_dir.join("planetoid"), name);
        }
        match self {
            DatasetArg::Cora => load_cora(&data_dir.join("cora")),
            DatasetArg::Synthetic => synthetic_graph(&SyntheticSpec {
                homophily,
                ..Default::default()
            }),
            DatasetArg::Folder(p) => load_csv_folder(p),
            DatasetArg::Citeseer | DatasetArg::Pubmed => unreachable!("Planetoid above"),
        }
    }
}

impl From<DatasetArg> for String {
    fn from(d: DatasetArg) -> String {
        d.arg()
    }
}

impl From<String> for DatasetArg {
    fn from(s: String) -> Self {
        DatasetArg::parse(&s)
    }
}

impl std::str::FromStr for DatasetArg {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(DatasetArg::parse(s))
    }
}

impl std::fmt::Display for DatasetArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.arg())
    }
}

/// The one config of the Graphs lab: what `gradlab graph` parses and the GUI edits (the GUI
/// adds per-model hyperparameters on top, which start at the preset's values).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default)]
pub struct GraphParams {
    #[arg(long, value_enum, default_value_t = GraphParams::default().model)]
    pub model: ModelKind,
    /// cora, citeseer, pubmed, synthetic, or a folder with nodes.csv and edges.csv.
    #[arg(long, default_value_t = GraphParams::default().dataset)]
    pub dataset: DatasetArg,
    #[arg(long, value_enum, default_value_t = GraphParams::default().preset)]
    pub preset: Preset,
    /// Default: planetoid for citeseer and pubmed, random for a folder, pygcn otherwise.
    #[arg(long, value_enum)]
    pub split: Option<SplitKind>,
    /// Training nodes per class of the random split.
    #[arg(long, default_value_t = GraphParams::default().train_per_class)]
    pub train_per_class: usize,
    /// Early stopping's rule (default: the preset's, val-loss).
    #[arg(long, value_enum)]
    pub stop_rule: Option<StopRule>,
    /// Runs with seeds 0..K-1.
    #[arg(long, default_value_t = GraphParams::default().seeds)]
    pub seeds: u64,
    /// Override the preset's (maximum) number of epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Homophily of the synthetic graph (fraction of edges inside a class).
    #[arg(long, default_value_t = GraphParams::default().homophily)]
    pub homophily: f64,
    /// GAT's attention heads in the hidden layer (default: the preset's, 8); only GAT has heads.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heads: Option<usize>,
}

/// The defaults of both front ends, written once (clap's defaults above read them).
impl Default for GraphParams {
    fn default() -> Self {
        Self {
            model: ModelKind::Gcn,
            dataset: DatasetArg::Cora,
            preset: Preset::Paper,
            split: None,
            train_per_class: crate::data::graph::splits::TRAIN_PER_CLASS,
            stop_rule: None,
            seeds: 10,
            epochs: None,
            homophily: 0.8,
            heads: None,
        }
    }
}

impl GraphParams {
    /// The run config of `model`: its preset, this split and epoch override, no snapshots (the
    /// GUI turns those on for its live views).
    pub fn resolve(&self, model: ModelKind) -> GraphConfig {
        self.apply(GraphConfig::preset(model, self.preset))
    }

    /// The split: `--split`, else the dataset's default.
    pub fn split(&self) -> SplitKind {
        self.split.unwrap_or_else(|| self.dataset.default_split())
    }

    /// Loads the graph these settings train on.
    pub fn load(&self, data_dir: &Path) -> anyhow::Result<Graph> {
        self.dataset.load(self.split(), data_dir, self.homophily)
    }

    /// Applies the shared settings to a model's (possibly GUI-edited) hyperparameters.
    pub fn apply(&self, mut cfg: GraphConfig) -> GraphConfig {
        cfg.split = self.split();
        cfg.train_per_class = self.train_per_class;
        if let Some(r) = self.stop_rule {
            cfg.stop_rule = r;
        }
        cfg.snapshot_every = 0;
        if let Some(e) = self.epochs {
            cfg.epochs = e;
        }
        if let Some(h) = self.heads.filter(|_| cfg.model == ModelKind::Gat) {
            cfg.heads = h;
        }
        cfg
    }
}
