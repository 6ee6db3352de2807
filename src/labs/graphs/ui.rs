//! The Graphs tab: train GCN / GAT / MLP on Cora or the synthetic graph, watch them learn side by
//! side, compare over seeds, look at embeddings, confusion and attention.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};

use eframe::egui;
use egui_plot::{Bar, BarChart, Legend, Plot, Points};
use serde::{Deserialize, Serialize};

use crate::core::figures::{Figure, Series, Stroke, seed_group};
use crate::core::jobs::{Job, JobId};
use crate::core::metrics::MetricStore;
use crate::data::graph::planetoid::catalog_name;
use crate::data::graph::{Graph, SplitKind};
use crate::labs::datasets::ui::offer::DownloadOffer;
use crate::labs::graphs::restore::{LatestGraphs, load_latest};
use crate::labs::graphs::{
    AdjNorm, AttentionSnapshot, ConfusionMatrix, DatasetArg, EmbeddingSnapshot, GraphConfig,
    GraphParams, ModelKind, Preset, StopRule, run_seeds_recorded,
};
use crate::labs::lab::{Lab, load_ron, save_ron};
use crate::widgets::job_row::{JobRow, job_row};
use crate::widgets::plot::figure_plot;
use crate::widgets::presence::Presence;
use crate::widgets::reopen::Reopen;
use crate::widgets::results_table::results_table;
use crate::widgets::{PALETTE, TabCx};

const KIND: &str = super::keys::ID;
/// The file dialog's key for "Open graph folder...".
const PICK_GRAPH_FOLDER: &str = "graph-folder";
/// The job that reads the latest runs back from the store.

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DatasetChoice {
    #[default]
    Auto,
    Cora,
    Citeseer,
    Pubmed,
    Synthetic,
    /// The folder of "Open graph folder..." (`GraphsTab::graph_folder`).
    Folder,
}

/// What is (being) loaded, so a changed choice triggers a reload.
#[derive(Clone, Debug, PartialEq)]
struct DataKey {
    dataset: DatasetArg,
    /// The Planetoid files are read (Cora with the planetoid split, Citeseer, PubMed).
    planetoid: Option<&'static str>,
    homophily_millis: i64,
}

#[derive(Default)]
struct Runtime {
    graph: Option<(DataKey, Arc<Graph>)>,
    loading: Option<(DataKey, Receiver<anyhow::Result<Graph>>)>,
    load_error: Option<String>,
    /// Which job the lower panels show; None = the newest.
    inspect: Option<JobId>,
    /// The model config and dataset of each job this tab started (or reopened).
    started: Vec<(JobId, ModelKind, GraphConfig, String, Preset)>,
    /// Whether Cora is downloaded (checked off the UI thread).
    cora: Presence,
    /// Whether the Planetoid files of the chosen dataset are there.
    planetoid: Presence,
    /// Reopening the latest runs of the store, once per session.
    restore: Reopen<LatestGraphs>,
    /// What reopening could not do, for the user.
    restore_note: Option<String>,
    /// Earlier runs' pace, for the estimate beside the Train buttons.
    pace: crate::widgets::pace::PaceLookup,
}

#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct GraphsTab {
    dataset: DatasetChoice,
    /// The lab's shared config (`gradlab graph`'s options); the GUI ignores its `model` and
    /// `dataset` (buttons and the dataset row choose those).
    params: GraphParams,
    gcn: GraphConfig,
    gat: GraphConfig,
    mlp: GraphConfig,
    node: usize,
    /// The user's graph folder (nodes.csv + edges.csv), chosen with "Open graph folder...".
    graph_folder: Option<std::path::PathBuf>,
    #[serde(skip)]
    rt: Runtime,
}

impl Default for GraphsTab {
    fn default() -> Self {
        let params = GraphParams::default();
        Self {
            dataset: DatasetChoice::Auto,
            gcn: GraphConfig::preset(ModelKind::Gcn, params.preset),
            gat: GraphConfig::preset(ModelKind::Gat, params.preset),
            mlp: GraphConfig::preset(ModelKind::Mlp, params.preset),
            params,
            node: 0,
            graph_folder: None,
            rt: Runtime::default(),
        }
    }
}

/// One line of the results table (and of its CSV / Markdown export).
#[derive(Serialize)]
struct ResultRow {
    model: String,
    dataset: String,
    preset: String,
    split: String,
    #[serde(rename = "test acc (mean ± std)")]
    test_acc: String,
    /// The published figure for this model, dataset and split, when there is one.
    paper: String,
    seeds: u64,
    #[serde(rename = "best epoch")]
    best_epoch: String,
    #[serde(rename = "ms/epoch")]
    ms_per_epoch: String,
    params: u64,
}

/// "12 s", "3 min" for an estimate.
fn approx_duration(secs: f64) -> String {
    if secs < 90.0 {
        format!("~{secs:.0} s")
    } else {
        format!("~{:.0} min", secs / 60.0)
    }
}

/// What a preset or split means, for its tooltip.
fn knob_help(what: &str) -> &'static str {
    match what {
        "preset" => "The hyperparameters of each model: the homework's or the papers'.",
        "preset assignment" => {
            "The homework's settings: 100 epochs, GAT 8 heads x 2 units, no early stopping."
        }
        "preset paper" => {
            "The papers' settings (Kipf & Welling, Veličković et al.): GCN 200 epochs; GAT 8 heads x 8 units with early stopping on the validation loss."
        }
        "split" => {
            "Which nodes train, which validate (early stopping, curves) and which test (the reported accuracy)."
        }
        "split assignment" => {
            "A random permutation per seed: the first 140 nodes train, the next 500 validate, all others test (the homework's)."
        }
        "split pygcn" => {
            "Rows 0-139 train, 200-499 validate, 500-1499 test, as pygcn and pyGAT do on Cora."
        }
        "split random" => "20 nodes per class train, 500 validate, 1000 test, drawn by the seed.",
        "split planetoid" => {
            "The Planetoid split of the GCN and GAT papers: 20 nodes per class train, 500 validate, 1000 test, the same for every seed (Cora, Citeseer, PubMed)."
        }
        _ => "See the README's Graph lab section.",
    }
}

/// A loader's message as the app says it: the CLI's "run `gradlab data fetch cora`" becomes the
/// button beside it (a student of the app has no terminal open).
pub(crate) fn in_app_words(e: &str) -> String {
    e.replace(
        "run `gradlab data fetch cora` to download Cora",
        "download it with the Download Cora button above, or in the Datasets tab",
    )
}

/// The model's colour in every view and export (one palette by identity).
pub(crate) fn model_color(m: ModelKind) -> egui::Color32 {
    PALETTE[crate::core::figures::identity_slot(m.label(), "")]
}

impl Lab for GraphsTab {
    fn id(&self) -> &'static str {
        super::keys::ID
    }
    fn title(&self) -> &'static str {
        super::DESCRIPTOR.title
    }
    fn descriptor(&self) -> Option<&'static crate::labs::lab::LabDescriptor> {
        Some(&super::DESCRIPTOR)
    }
    fn config_json(&self, _data_dir: &std::path::Path) -> Option<serde_json::Value> {
        let mut json = super::cli::resolved_config(&self.params);
        json["run"] = serde_json::to_value(self.run_config(self.params.model)).ok()?;
        Some(json)
    }
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        self.show(ui, cx);
    }
    fn save_state(&self) -> Option<String> {
        save_ron(self)
    }
    fn load_state(&mut self, text: &str) -> Result<(), String> {
        load_ron(text, self)
    }
    /// Ctrl+Enter: Race GCN vs GAT, when the graph is loaded and nothing of this tab runs.
    fn train(&mut self, cx: &mut TabCx<'_>) {
        let busy = self.my_jobs(cx).iter().any(|(j, _)| j.state.is_running());
        if self.rt.graph.is_some() && !busy {
            self.spawn(cx, ModelKind::Gcn);
            self.spawn(cx, ModelKind::Gat);
        }
    }
}

impl GraphsTab {
    /// Controls on the left, results in the centre sized to the visible height, so at 1366 x 768
    /// curves, table, embedding and confusion are all in view; what does not fit scrolls with an
    /// always visible bar.
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        if let Some(dir) = cx.files.take_picked(PICK_GRAPH_FOLDER) {
            self.graph_folder = Some(dir);
            self.choose(DatasetChoice::Folder);
        }
        self.poll_loading(cx);
        self.restore_latest(cx);
        egui::Panel::left("graph_controls")
            .resizable(true)
            .default_size(360.0)
            // A long job log line must not widen the panel over the results.
            .max_size(440.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    ui.heading("Graphs: GCN vs GAT");
                    self.data_row(ui, cx);
                    ui.separator();
                    self.knobs(ui);
                    self.buttons(ui, cx);
                    ui.separator();
                    self.jobs_list(ui, cx);
                });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            let visible = ui.available_height();
            egui::ScrollArea::vertical()
                .id_salt("graph_results_scroll")
                .auto_shrink(false)
                .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::AlwaysVisible)
                .show(ui, |ui| {
                    let fit = Fit::for_height(visible);
                    self.curves(ui, cx, fit.curve_h);
                    ui.separator();
                    self.results_table(ui, cx);
                    ui.separator();
                    self.inspector(ui, cx, fit);
                });
        });
    }

    fn cora_present(&self, cx: &TabCx<'_>) -> Option<bool> {
        let file = cx.data_dir.join("cora").join("cora.content");
        self.rt.cora.get(&file, &cx.waker)
    }

    /// The dataset the choices ask for; None while it is not yet known whether Cora is there.
    fn wanted_dataset(&self, cx: &TabCx<'_>) -> Option<DatasetArg> {
        Some(match self.dataset {
            DatasetChoice::Auto => {
                if self.cora_present(cx)? {
                    DatasetArg::Cora
                } else {
                    DatasetArg::Synthetic
                }
            }
            DatasetChoice::Cora => DatasetArg::Cora,
            DatasetChoice::Citeseer => DatasetArg::Citeseer,
            DatasetChoice::Pubmed => DatasetArg::Pubmed,
            DatasetChoice::Synthetic => DatasetArg::Synthetic,
            DatasetChoice::Folder => DatasetArg::Folder(self.graph_folder.clone()?),
        })
    }

    /// The shared config with the dataset the choices ask for (what a run records as its command).
    fn resolved_params(&self, cx: &TabCx<'_>) -> Option<GraphParams> {
        Some(GraphParams {
            dataset: self.wanted_dataset(cx)?,
            ..self.params.clone()
        })
    }

    /// The graph the choices ask for; None while it is not yet known whether Cora is there.
    fn wanted_key(&self, cx: &TabCx<'_>) -> Option<DataKey> {
        let p = self.resolved_params(cx)?;
        let synthetic = p.dataset == DatasetArg::Synthetic;
        Some(DataKey {
            planetoid: p.dataset.planetoid_name(p.split()),
            homophily_millis: if synthetic {
                (self.params.homophily * 1000.0).round() as i64
            } else {
                0
            },
            dataset: p.dataset,
        })
    }

    /// A new dataset choice: its default split, and a fresh load.
    fn choose(&mut self, d: DatasetChoice) {
        self.dataset = d;
        // Auto is Cora or the synthetic graph: both default to the pygcn split, as Cora does.
        self.params.dataset = self.wanted_dataset_offline().unwrap_or_default();
        if self.params.split != Some(SplitKind::Assignment) {
            self.params.split = None;
        }
        self.rt.load_error = None;
        self.rt.graph = None;
    }

    /// Starts loading in the background when the wanted data changed; picks up finished loads.
    fn poll_loading(&mut self, cx: &TabCx<'_>) {
        if let Some((key, rx)) = &self.rt.loading {
            match rx.try_recv() {
                Ok(Ok(g)) => {
                    self.rt.graph = Some((key.clone(), Arc::new(g)));
                    self.rt.load_error = None;
                    self.rt.loading = None;
                }
                Ok(Err(e)) => {
                    self.rt.load_error = Some(format!("{e:#}"));
                    self.rt.loading = None;
                }
                // The loader ended without an answer (it panicked): say so instead of waiting
                // on it for ever.
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    self.rt.load_error =
                        Some("loading the graph stopped unexpectedly; press Retry".into());
                    self.rt.loading = None;
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
            }
        }
        // A failed load waits for the user (a changed choice or Retry clears the error).
        if self.rt.load_error.is_some() {
            return;
        }
        let Some(want) = self.wanted_key(cx) else {
            return;
        };
        let have = self.rt.graph.as_ref().map(|(k, _)| k);
        let pending = self.rt.loading.as_ref().map(|(k, _)| k);
        if have != Some(&want) && pending != Some(&want) {
            let (tx, rx) = channel();
            let (dir, waker, key) = (cx.data_dir.to_path_buf(), cx.waker.clone(), want.clone());
            std::thread::spawn(move || {
                let split = if key.planetoid.is_some() {
                    SplitKind::Planetoid
                } else {
                    SplitKind::Pygcn
                };
                let g = key
                    .dataset
                    .load(split, &dir, key.homophily_millis as f64 / 1000.0);
                // The tab may be gone (app closing): nobody to tell.
                let _ = tx.send(g);
                waker();
            });
            self.rt.loading = Some((want, rx));
        }
    }

    /// On the first frame of a session without graph jobs, reads the latest runs of each model
    /// back from the run store (on a job thread) and shows them as finished jobs.
    fn restore_latest(&mut self, cx: &mut TabCx<'_>) {
        let wanted = self.rt.started.is_empty();
        let Some(outcome) =
            self.rt
                .restore
                .poll(cx, wanted, "reopen the latest graph runs", load_latest)
        else {
            return;
        };
        match outcome {
            Ok(latest) => {
                // Before any job started meanwhile: those are newer.
                let restored: Vec<_> = latest
                    .configs
                    .into_iter()
                    .map(|r| {
                        let id = cx.jobs.restore(KIND, r.job);
                        (id, r.model, r.cfg, r.dataset, r.preset)
                    })
                    .collect();
                self.rt.started.splice(0..0, restored);
                if !latest.problems.is_empty() {
                    self.rt.restore_note =
                        Some(format!("Not reopened: {}", latest.problems.join("; ")));
                }
            }
            Err(e) => {
                self.rt.restore_note = Some(format!("The latest runs could not be reopened: {e}"))
            }
        }
    }

    fn data_row(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        let cora_present = self.cora_present(cx);
        // On its own row: inside the wrapped row it widened the side panel past its size.
        // Offered only once the check says it is missing.
        if DownloadOffer::new("cora", "Cora")
            .present(cora_present != Some(false))
            .show(ui, cx)
        {
            self.choose(DatasetChoice::Cora);
        }
        // The Planetoid files of the chosen dataset (Cora with the planetoid split, Citeseer,
        // PubMed), offered the same way.
        if let Some(name) = self.wanted_key(cx).and_then(|k| k.planetoid) {
            let file = cx
                .data_dir
                .join("planetoid")
                .join(format!("ind.{name}.graph"));
            let present = self.rt.planetoid.get(&file, &cx.waker);
            let catalog = catalog_name(name);
            let short = match name {
                "cora" => "Cora (Planetoid)",
                "citeseer" => "Citeseer",
                _ => "PubMed",
            };
            if DownloadOffer::new(&catalog, short)
                .present(present != Some(false))
                .show(ui, cx)
            {
                self.rt.load_error = None;
                self.rt.graph = None;
            }
        }
        ui.horizontal_wrapped(|ui| {
            ui.label("Dataset:");
            let before = (self.dataset, self.params.homophily);
            let auto = match cora_present {
                Some(true) => "Auto (Cora)",
                Some(false) => "Auto (synthetic: no Cora)",
                None => "Auto",
            };
            let mut choice = self.dataset;
            ui.selectable_value(&mut choice, DatasetChoice::Auto, auto);
            ui.selectable_value(&mut choice, DatasetChoice::Cora, "Cora")
                .on_hover_text("LINQS files; the planetoid split reads the Planetoid files");
            ui.selectable_value(&mut choice, DatasetChoice::Citeseer, "Citeseer");
            ui.selectable_value(&mut choice, DatasetChoice::Pubmed, "PubMed");
            ui.selectable_value(&mut choice, DatasetChoice::Synthetic, "Synthetic");
            if self.graph_folder.is_some() {
                let name = self
                    .graph_folder
                    .as_ref()
                    .and_then(|f| f.file_name())
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                ui.selectable_value(&mut choice, DatasetChoice::Folder, name);
            }
            if choice != self.dataset {
                self.choose(choice);
            }
            if ui
                .button("Open graph folder...")
                .on_hover_text("A folder with nodes.csv (id,label,words or numeric columns) and edges.csv (source,target)")
                .clicked()
            {
                cx.files.pick(PICK_GRAPH_FOLDER, true, None);
            }
            if (self.dataset, self.params.homophily) != before {
                self.rt.load_error = None;
                self.rt.graph = None;
            }
            if let Some((_, g)) = &self.rt.graph {
                ui.weak(format!(
                    "{}: {} nodes, {} edges, {} features, {} classes, edge homophily {:.2}",
                    g.name,
                    g.num_nodes(),
                    g.edges.len(),
                    g.num_features(),
                    g.num_classes(),
                    g.edge_homophily()
                ));
            }
            if self.rt.loading.is_some() {
                ui.spinner();
                ui.label("loading…");
            }
        });
        // Its own row: inside the wrapped dataset row it pushed the dataset choices apart.
        if self
            .wanted_key(cx)
            .is_some_and(|k| k.dataset == DatasetArg::Synthetic)
        {
            let before = self.params.homophily;
            ui.add(egui::Slider::new(&mut self.params.homophily, 0.0..=1.0).text("homophily"))
                .on_hover_text("Fraction of edges that join two nodes of the same class. Low homophily: neighbours mislead.");
            if self.params.homophily != before {
                self.rt.load_error = None;
                self.rt.graph = None;
            }
        }
        if let Some(e) = &self.rt.load_error {
            ui.colored_label(ui.visuals().error_fg_color, in_app_words(e));
            if ui.button("Retry").clicked() {
                self.rt.load_error = None;
                self.rt.graph = None;
            }
        }
    }

    fn knobs(&mut self, ui: &mut egui::Ui) {
        // One row per choice: a label never wraps away from its options (1024 px), and no row
        // is wider than the panel.
        ui.horizontal(|ui| {
            ui.label("Preset:").on_hover_text(knob_help("preset"));
            for p in Preset::ALL {
                if ui
                    .selectable_label(self.params.preset == p, p.label())
                    .on_hover_text(knob_help(&format!("preset {}", p.label())))
                    .clicked()
                {
                    self.params.preset = p;
                    self.gcn = GraphConfig::preset(ModelKind::Gcn, p);
                    self.gat = GraphConfig::preset(ModelKind::Gat, p);
                    self.mlp = GraphConfig::preset(ModelKind::Mlp, p);
                    if p == Preset::Assignment {
                        self.params.split = Some(SplitKind::Assignment);
                    }
                }
            }
        });
        ui.horizontal(|ui| {
            ui.label("Split:").on_hover_text(knob_help("split"));
            let current = self.params.split();
            for s in SplitKind::ALL {
                if ui
                    .selectable_label(current == s, s.label())
                    .on_hover_text(knob_help(&format!("split {}", s.label())))
                    .clicked()
                {
                    self.params.split = Some(s);
                }
            }
        });
        ui.add(
            egui::DragValue::new(&mut self.params.seeds)
                .range(1..=50)
                .prefix("seeds "),
        )
        .on_hover_text("Runs per model; the curves show their mean ± std with each seed as a thin line. Costs seeds x one run.");
        egui::CollapsingHeader::new("Hyperparameters").default_open(false).show(ui, |ui| {
            egui::Grid::new("graph_knobs").striped(true).show(ui, |ui| {
                ui.label("");
                for m in ModelKind::ALL {
                    ui.colored_label(model_color(m), m.label());
                }
                ui.end_row();
                let mut row = |ui: &mut egui::Ui, name: &str, f: &mut dyn FnMut(&mut egui::Ui, &mut GraphConfig)| {
                    ui.label(name);
                    for c in [&mut self.gcn, &mut self.gat, &mut self.mlp] {
                        f(ui, c);
                    }
                    ui.end_row();
                };
                row(ui, "hidden units (GAT: per head)", &mut |ui, c| {
                    ui.add(egui::DragValue::new(&mut c.hidden).range(1..=512));
                });
                row(ui, "heads (hidden / output, GAT)", &mut |ui, c| {
                    ui.horizontal(|ui| {
                        ui.add(egui::DragValue::new(&mut c.heads).range(1..=16));
                        ui.add(egui::DragValue::new(&mut c.out_heads).range(1..=16));
                    });
                });
                row(ui, "dropout", &mut |ui, c| {
                    ui.add(egui::DragValue::new(&mut c.dropout).range(0.0..=0.95).speed(0.01));
                });
                row(ui, "dropout on input features", &mut |ui, c| {
                    ui.checkbox(&mut c.input_dropout, "");
                });
                row(ui, "learning rate", &mut |ui, c| {
                    ui.add(egui::DragValue::new(&mut c.lr).range(1e-5..=1.0).speed(0.0005));
                });
                row(ui, "weight decay (L2)", &mut |ui, c| {
                    ui.add(egui::DragValue::new(&mut c.weight_decay).range(0.0..=0.1).speed(0.0001));
                });
                row(ui, "max epochs", &mut |ui, c| {
                    ui.add(egui::DragValue::new(&mut c.epochs).range(1..=5000));
                });
                row(ui, "patience (0 = off)", &mut |ui, c| {
                    ui.add(egui::DragValue::new(&mut c.patience).range(0..=1000));
                });
                row(ui, "early stopping rule", &mut |ui, c| {
                    egui::ComboBox::from_id_salt(("stop", c.model.label())).selected_text(c.stop_rule.label()).show_ui(ui, |ui| {
                        for r in [StopRule::ValLoss, StopRule::LossOrAcc] {
                            ui.selectable_value(&mut c.stop_rule, r, r.label());
                        }
                    });
                });
                row(ui, "bias", &mut |ui, c| {
                    ui.checkbox(&mut c.bias, "");
                });
                row(ui, "adjacency normalisation (GCN)", &mut |ui, c| {
                    egui::ComboBox::from_id_salt(("norm", c.model.label())).selected_text(c.norm.label()).show_ui(ui, |ui| {
                        for n in AdjNorm::ALL {
                            ui.selectable_value(&mut c.norm, n, n.label());
                        }
                    });
                });
            });
        });
    }

    /// The config a Train button runs `model` with, resolved through the shared config.
    pub fn run_config(&self, model: ModelKind) -> GraphConfig {
        self.params.apply(match model {
            ModelKind::Gcn => self.gcn.clone(),
            ModelKind::Gat => self.gat.clone(),
            ModelKind::Mlp => self.mlp.clone(),
        })
    }

    /// Chooses the dataset as `gradlab graph --dataset` names it (for the GUI = CLI test).
    pub fn set_dataset(&mut self, d: DatasetArg) {
        let choice = match d {
            DatasetArg::Cora => DatasetChoice::Cora,
            DatasetArg::Citeseer => DatasetChoice::Citeseer,
            DatasetArg::Pubmed => DatasetChoice::Pubmed,
            DatasetArg::Synthetic => DatasetChoice::Synthetic,
            DatasetArg::Folder(p) => {
                self.graph_folder = Some(p);
                DatasetChoice::Folder
            }
        };
        self.choose(choice);
    }

    /// [`Self::wanted_dataset`] for a choice that needs no presence check.
    fn wanted_dataset_offline(&self) -> Option<DatasetArg> {
        Some(match self.dataset {
            DatasetChoice::Auto => return None,
            DatasetChoice::Cora => DatasetArg::Cora,
            DatasetChoice::Citeseer => DatasetArg::Citeseer,
            DatasetChoice::Pubmed => DatasetArg::Pubmed,
            DatasetChoice::Synthetic => DatasetArg::Synthetic,
            DatasetChoice::Folder => DatasetArg::Folder(self.graph_folder.clone()?),
        })
    }

    /// The shared config as the GUI holds it.
    pub fn params(&self) -> &GraphParams {
        &self.params
    }

    fn spawn(&mut self, cx: &mut TabCx<'_>, model: ModelKind) {
        let Some((_, graph)) = &self.rt.graph else {
            return;
        };
        let mut cfg = self.run_config(model);
        // The live views (embeddings, attention) need snapshots; they do not change the results.
        cfg.snapshot_every = 5;
        let seeds: Vec<u64> = (0..self.params.seeds).collect();
        let graph = graph.clone();
        let name = format!("{} on {}", model.label(), graph.name);
        let c = cfg.clone();
        // Each seed is recorded as its own run, opened on the job thread (never the UI's).
        let runs = cx.runs_dir().map(std::path::Path::to_path_buf);
        let params = self
            .resolved_params(cx)
            .unwrap_or_else(|| self.params.clone());
        let command = crate::labs::graphs::train::command_for(&params, model, seeds.len());
        let id = cx
            .jobs
            .spawn(KIND, &name, cx.waker.clone(), move |sink, stop| {
                let store = crate::core::runs::open_for_job(runs.as_deref(), sink);
                let rec = crate::core::runs::RecordTo {
                    store: store.as_ref(),
                    command: &command,
                };
                run_seeds_recorded(&c, &graph, &seeds, rec, sink, stop)
            });
        let dataset = self
            .rt
            .graph
            .as_ref()
            .map(|(_, g)| g.name.clone())
            .unwrap_or_default();
        self.rt
            .started
            .push((id, model, cfg, dataset, self.params.preset));
        self.rt.inspect = None;
    }

    fn buttons(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        let ready = self.rt.graph.is_some();
        ui.horizontal_wrapped(|ui| {
            ui.add_enabled_ui(ready, |ui| {
                if ui.button("Train GCN").clicked() {
                    self.spawn(cx, ModelKind::Gcn);
                }
                if ui.button("Train GAT").clicked() {
                    self.spawn(cx, ModelKind::Gat);
                }
                if ui.button("Train MLP").clicked() {
                    self.spawn(cx, ModelKind::Mlp);
                }
                if ui
                    .button("Race GCN vs GAT")
                    .on_hover_text("Both in parallel, curves overlaid")
                    .clicked()
                {
                    self.spawn(cx, ModelKind::Gcn);
                    self.spawn(cx, ModelKind::Gat);
                }
            });
            if ui.button("Clear finished").clicked() {
                cx.jobs.clear_finished(KIND);
                let live: Vec<JobId> = cx.jobs.iter().map(|j| j.id).collect();
                self.rt.started.retain(|s| live.contains(&s.0));
            }
            let params = self
                .resolved_params(cx)
                .unwrap_or_else(|| self.params.clone());
            let seeds = self.params.seeds.max(1) as usize;
            crate::widgets::sweep_request::sweep_button(ui, super::keys::ID, || {
                super::train::flags_for(&params, ModelKind::Gcn, seeds)
            });
        });
        if let Some(text) = self.estimate_text(cx) {
            ui.weak(text);
        }
    }

    /// "About 12 s for GCN, 3 min for GAT (3 seeds; measured on this machine: ...)": from the
    /// finished runs of the same configurations in the run store, read off the UI thread.
    fn estimate_text(&self, cx: &TabCx<'_>) -> Option<String> {
        let (_, graph) = self.rt.graph.as_ref()?;
        let generation = cx
            .jobs
            .iter()
            .filter(|j| j.kind == KIND && !j.state.is_running())
            .count() as u64;
        let seeds = self.params.seeds.max(1);
        let mut parts = Vec::new();
        let mut runs = 0;
        for m in ModelKind::ALL {
            let cfg = GraphConfig {
                snapshot_every: 0,
                ..self.run_config(m)
            };
            let key = crate::core::runs::pace_key(
                super::keys::ID,
                Some(graph.name.as_str()),
                &serde_json::to_value(&cfg).ok()?,
            );
            if let Some(p) = self.rt.pace.get(cx.runs_dir(), &key, generation, &cx.waker) {
                let secs = p.expected_secs(cfg.epochs as u64 * seeds);
                parts.push(format!("{} {}", m.label(), approx_duration(secs)));
                runs += p.runs;
            }
        }
        (!parts.is_empty()).then(|| {
            format!(
                "Expected time at {seeds} seed{}: {} (measured on this machine: {} of these settings).",
                if seeds == 1 { "" } else { "s" },
                parts.join(", "),
                crate::core::runs::count_text(runs, "earlier run")
            )
        })
    }

    fn my_jobs<'a>(&self, cx: &'a TabCx<'_>) -> Vec<(&'a Job, ModelKind)> {
        self.rt
            .started
            .iter()
            .filter_map(|(id, m, ..)| cx.jobs.get(*id).map(|j| (j, *m)))
            .collect()
    }

    fn jobs_list(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        let mut stop = None;
        for (job, _) in self.my_jobs(cx) {
            let opts = JobRow {
                last_log: true,
                ..JobRow::default()
            };
            if job_row(ui, job, opts) {
                stop = Some(job.id);
            }
        }
        if let Some(id) = stop {
            cx.jobs.stop(id);
        }
        if self.rt.restore.is_loading() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.weak("reopening the latest runs…");
            });
        }
        if let Some(n) = &self.rt.restore_note {
            ui.colored_label(ui.visuals().warn_fg_color, n);
        }
    }

    fn curves(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>, height: f32) {
        let jobs = self.my_jobs(cx);
        if jobs.is_empty() {
            ui.weak(format!(
                "\"Train GCN\" (or GAT, MLP) trains that model on {} seed{} one after another; \
                 \"Race GCN vs GAT\" trains both side by side. Their curves grow here live, \
                 as mean ± std over the seeds with each seed a thin line; a model's row in the \
                 results table appears when all its seeds have finished.",
                self.params.seeds,
                if self.params.seeds == 1 { "" } else { "s" }
            ));
            return;
        }
        // Legends name configurations ("GCN", "GCN, citeseer"); the run ids are in the job rows.
        let names = config_names(&self.configs_shown(cx));
        let runs: Vec<(String, ModelKind, &MetricStore)> = jobs
            .iter()
            .zip(names)
            .map(|((j, m), name)| (name, *m, &j.metrics))
            .collect();
        let (loss, acc) = curve_figures(&runs);
        let saver = cx.saver();
        two_up(
            ui,
            |ui| {
                figure_plot(ui, "graph_loss", &loss, height, &saver);
            },
            |ui| {
                figure_plot(ui, "graph_accuracy", &acc, height, &saver);
            },
        );
    }

    /// What tells the configurations of [`Self::my_jobs`] apart, in the same order.
    fn configs_shown(&self, cx: &TabCx<'_>) -> Vec<ShownConfig> {
        self.rt
            .started
            .iter()
            .filter_map(|(id, m, cfg, dataset, preset)| {
                let job = cx.jobs.get(*id)?;
                Some(ShownConfig {
                    model: *m,
                    dataset: dataset.clone(),
                    split: cfg.split.label(),
                    preset: preset.label(),
                    settings: serde_json::to_value(GraphConfig {
                        seed: 0,
                        snapshot_every: 0,
                        ..cfg.clone()
                    })
                    .unwrap_or_default(),
                    reopened: job.restored.is_some(),
                })
            })
            .collect()
    }

    fn rows(&self, cx: &TabCx<'_>) -> Vec<ResultRow> {
        let mut rows = Vec::new();
        for (id, m, cfg, dataset, preset) in &self.rt.started {
            let Some(job) = cx.jobs.get(*id) else {
                continue;
            };
            let Some(s) = job.summary() else { continue };
            let f = |k: &str| s[k].as_f64().unwrap_or(f64::NAN);
            rows.push(ResultRow {
                model: m.label().to_string(),
                dataset: dataset.clone(),
                preset: preset.label().to_string(),
                split: format!(
                    "{} ({}/{}/{})",
                    cfg.split.label(),
                    s["n_train"],
                    s["n_val"],
                    s["n_test"]
                ),
                test_acc: format!("{:.4} ± {:.4}", f("test_acc_mean"), f("test_acc_std")),
                paper: serde_json::to_value(cfg)
                    .ok()
                    .and_then(|c| crate::labs::graphs::published(*m, dataset, &c))
                    .map(|(v, src)| format!("{v} ({src})"))
                    .unwrap_or_default(),
                seeds: s["seeds"].as_u64().unwrap_or(0),
                best_epoch: format!("{}", f("best_epoch_median")),
                ms_per_epoch: format!("{:.2}", f("ms_per_epoch_median")),
                params: s["params"].as_u64().unwrap_or(0),
            });
        }
        rows
    }

    fn results_table(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        let rows = self.rows(cx);
        results_table(
            ui,
            "graph_results",
            "Results",
            "graph_results",
            &rows,
            &cx.saver(),
        );
    }

    fn inspector(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>, fit: Fit) {
        let jobs = self.my_jobs(cx);
        let Some(newest) = jobs.last().map(|(j, _)| j.id) else {
            return;
        };
        let current = self
            .rt
            .inspect
            .filter(|id| jobs.iter().any(|(j, _)| j.id == *id))
            .unwrap_or(newest);
        let mut pick = current;
        ui.horizontal(|ui| {
            let title = ui.strong("Inspect run:");
            let label = jobs
                .iter()
                .find(|(j, _)| j.id == current)
                .map(|(j, _)| j.title())
                .unwrap_or_default();
            egui::ComboBox::from_id_salt("graph_inspect")
                .selected_text(label)
                .show_ui(ui, |ui| {
                    for (j, _) in &jobs {
                        ui.selectable_value(&mut pick, j.id, j.title());
                    }
                })
                .response
                .labelled_by(title.id);
        });
        if pick != current {
            self.rt.inspect = Some(pick);
        }
        let Some(job) = cx.jobs.get(current) else {
            return;
        };
        if job.restored.is_some() {
            ui.weak("Embeddings, the confusion matrix and attention weights are not recorded with a run: train again to see them.");
            return;
        }
        two_up(
            ui,
            |ui| embedding_plot(ui, job.latest::<EmbeddingSnapshot>(), fit.pca_h),
            |ui| confusion_grid(ui, job.latest::<ConfusionMatrix>(), fit.cell),
        );
        if let Some(att) = job.latest::<AttentionSnapshot>() {
            ui.separator();
            egui::CollapsingHeader::new("GAT attention, first layer")
                .id_salt("graph_attention_header")
                .default_open(true)
                .show(ui, |ui| attention_view(ui, att, &mut self.node));
        }
    }
}

/// What a legend may name a job's curves by.
#[derive(Clone, Debug, Default)]
struct ShownConfig {
    model: ModelKind,
    dataset: String,
    split: &'static str,
    preset: &'static str,
    /// The whole config (seed aside), to tell other settings apart.
    settings: serde_json::Value,
    reopened: bool,
}

/// The legend name of each job's configuration: the model ("GCN"), then only what tells it
/// from another job of the same name so far: the dataset, the split, the preset, the settings
/// that differ ("hidden 64"), "reopened" for a job read back from the store; a number for the
/// same configuration twice. Never run ids: they interleaved when two jobs recorded at once
/// ("GCN runs #8, #10, #11, …") and wrapped the legend; the job rows carry them.
fn config_names(configs: &[ShownConfig]) -> Vec<String> {
    let mut names: Vec<String> = configs
        .iter()
        .map(|c| c.model.label().to_string())
        .collect();
    for feature in 0..5 {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for i in 0..configs.len() {
            match groups.iter_mut().find(|g| names[g[0]] == names[i]) {
                Some(g) => g.push(i),
                None => groups.push(vec![i]),
            }
        }
        for group in groups.into_iter().filter(|g| g.len() > 1) {
            let texts: Vec<String> = group
                .iter()
                .map(|&i| feature_text(feature, &configs[i], &group, configs))
                .collect();
            if texts.iter().any(|t| *t != texts[0]) {
                for (&i, t) in group.iter().zip(texts) {
                    if !t.is_empty() {
                        names[i] = format!("{}, {t}", names[i]);
                    }
                }
            }
        }
    }
    let all = names.clone();
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for n in &mut names {
        if all.iter().filter(|o| *o == n).count() > 1 {
            let k = seen.entry(n.clone()).or_default();
            *k += 1;
            *n = format!("{n} ({k})");
        }
    }
    names
}

/// One distinguishing feature of `c` among the configurations `group` (indices into `all`).
fn feature_text(feature: usize, c: &ShownConfig, group: &[usize], all: &[ShownConfig]) -> String {
    match feature {
        0 => c.dataset.clone(),
        1 => format!("{} split", c.split),
        2 => format!("{} preset", c.preset),
        3 => {
            // The settings that differ within the group, at most two ("hidden 64, lr 0.01").
            let Some(mine) = c.settings.as_object() else {
                return String::new();
            };
            mine.iter()
                .filter(|(k, v)| group.iter().any(|&j| all[j].settings.get(*k) != Some(*v)))
                .take(2)
                .map(|(k, v)| {
                    format!(
                        "{} {}",
                        k.replace('_', " "),
                        v.to_string().trim_matches('"')
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
        _ => if c.reopened { "reopened" } else { "" }.into(),
    }
}

/// Two views side by side, or one above the other when the area is too narrow for two.
fn two_up(ui: &mut egui::Ui, left: impl FnOnce(&mut egui::Ui), right: impl FnOnce(&mut egui::Ui)) {
    if ui.available_width() >= 560.0 {
        ui.columns(2, |cols| {
            left(&mut cols[0]);
            right(&mut cols[1]);
        });
    } else {
        left(ui);
        right(ui);
    }
}

/// Heights of the result views for a central area `visible` points high: curves, PCA and the
/// confusion cells shrink (to a floor) so that the whole page fits on a 1366 x 768 screen.
#[derive(Clone, Copy, Debug)]
struct Fit {
    curve_h: f32,
    pca_h: f32,
    cell: f32,
}

impl Fit {
    fn for_height(visible: f32) -> Self {
        // Toolbars, titles, the results table (header + a few rows) and separators.
        let fixed = 230.0;
        let free = (visible - fixed).max(0.0);
        let curve_h = (free * 0.45).clamp(140.0, 300.0);
        let lower = (free - curve_h).max(0.0);
        Fit {
            curve_h,
            pca_h: lower.clamp(160.0, 320.0),
            // 7 classes (Cora) + the index row.
            cell: (lower / 7.6).clamp(20.0, 34.0),
        }
    }
}

/// Loss and accuracy figures of `runs` (legend label, model, metrics): per run and curve one seed
/// group (thin seed lines behind a mean ± std band) and one legend entry; training curves dashed.
fn curve_figures(runs: &[(String, ModelKind, &MetricStore)]) -> (Figure, Figure) {
    let mut loss = Figure::new("Loss", "epoch", "loss");
    loss.y.log = true;
    let mut acc = Figure::new("Accuracy", "epoch", "accuracy");
    for (label, model, metrics) in runs {
        let c = model_color(*model);
        let color = [c.r(), c.g(), c.b()];
        for what in ["train_loss", "val_loss", "train_acc", "val_acc"] {
            let seeds: Vec<(String, Vec<[f64; 2]>)> = metrics
                .iter()
                .filter_map(|(series, pts)| {
                    let (seed, w) = series.split_once('/')?;
                    (w == what).then(|| (seed.to_string(), pts.to_vec()))
                })
                .collect();
            if seeds.is_empty() {
                continue;
            }
            let name = format!("{label} {}", what.replace('_', " "));
            let mut group: Vec<Series> = seed_group(&name, color, &seeds);
            if seeds.len() == 1 {
                // One seed: its line is the mean; no faint copy under it.
                group.retain(|s| !s.hide_in_legend);
            }
            if what.starts_with("train") {
                for s in group.iter_mut().filter(|s| !s.hide_in_legend) {
                    s.stroke = Stroke::Dashed;
                }
            }
            let fig = if what.ends_with("loss") {
                &mut loss
            } else {
                &mut acc
            };
            fig.series.extend(group);
        }
    }
    // Seed lines first, so every mean is drawn over all of them.
    for fig in [&mut loss, &mut acc] {
        fig.series.sort_by_key(|s| !s.hide_in_legend);
    }
    (loss, acc)
}

fn embedding_plot(ui: &mut egui::Ui, snap: Option<&EmbeddingSnapshot>, height: f32) {
    let Some(s) = snap else {
        ui.weak("The hidden representation (PCA) appears after the first epoch.");
        return;
    };
    ui.strong(format!(
        "Hidden layer, PCA (seed {}, epoch {}; axes explain {:.0}% + {:.0}%)",
        s.seed,
        s.epoch,
        s.explained[0] * 100.0,
        s.explained[1] * 100.0
    ));
    // The classes' colours above the plot, outside the points (a legend box inside would
    // cover them).
    ui.horizontal_wrapped(|ui| {
        for (k, name) in s.class_names.iter().enumerate() {
            let (r, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            ui.painter()
                .circle_filled(r.center(), 4.0, PALETTE[k % PALETTE.len()]);
            ui.label(name);
        }
    });
    Plot::new("graph_pca")
        .height(height)
        .data_aspect(1.0)
        // The wheel scrolls the page; Ctrl+wheel zooms, double-click resets.
        .allow_scroll(false)
        .show(ui, |pui| {
            for (k, name) in s.class_names.iter().enumerate() {
                let pts: Vec<[f64; 2]> = s
                    .points
                    .iter()
                    .zip(s.labels.iter())
                    .filter(|(_, l)| **l as usize == k)
                    .map(|(p, _)| [p[0] as f64, p[1] as f64])
                    .collect();
                pui.points(
                    Points::new(name.clone(), pts)
                        .color(PALETTE[k % PALETTE.len()])
                        .radius(1.5),
                );
            }
        });
}

fn confusion_grid(ui: &mut egui::Ui, cm: Option<&ConfusionMatrix>, cell: f32) {
    let Some(cm) = cm else {
        ui.weak("The test-set confusion matrix appears when a seed finishes.");
        return;
    };
    ui.strong(format!(
        "Test confusion (seed {}): rows = true class, columns = predicted",
        cm.seed
    ));
    let c = cm.counts.len();
    let label_w = 150.0;
    // Narrow columns shrink the cells rather than spill past the window's edge.
    let cell = cell.min(((ui.available_width() - label_w) / c.max(1) as f32).max(12.0));
    let (resp, painter) = ui.allocate_painter(
        egui::vec2(label_w + cell * c as f32, cell * (c as f32 + 0.6)),
        egui::Sense::hover(),
    );
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, "confusion matrix"));
    let origin = resp.rect.min;
    let font = egui::FontId::proportional(11.0);
    let text_col = ui.visuals().text_color();
    for (t, row) in cm.counts.iter().enumerate() {
        let total: u32 = row.iter().sum::<u32>().max(1);
        let y = origin.y + cell * t as f32;
        painter.text(
            egui::pos2(origin.x + label_w - 6.0, y + cell / 2.0),
            egui::Align2::RIGHT_CENTER,
            &cm.class_names[t],
            font.clone(),
            text_col,
        );
        for (p, &n) in row.iter().enumerate() {
            let frac = n as f32 / total as f32;
            let base = if t == p { PALETTE[2] } else { PALETTE[5] };
            let fill = egui::Color32::from_rgba_unmultiplied(
                base.r(),
                base.g(),
                base.b(),
                (frac * 255.0) as u8,
            );
            let r = egui::Rect::from_min_size(
                egui::pos2(origin.x + label_w + cell * p as f32, y),
                egui::vec2(cell - 2.0, cell - 2.0),
            );
            painter.rect_filled(r, 2.0, fill);
            painter.text(
                r.center(),
                egui::Align2::CENTER_CENTER,
                n.to_string(),
                font.clone(),
                text_col,
            );
        }
    }
    for p in 0..c {
        let x = origin.x + label_w + cell * p as f32 + cell / 2.0;
        painter.text(
            egui::pos2(x, origin.y + cell * c as f32 + 8.0),
            egui::Align2::CENTER_CENTER,
            format!("{p}"),
            font.clone(),
            text_col,
        );
    }
}

fn attention_view(ui: &mut egui::Ui, att: &AttentionSnapshot, node: &mut usize) {
    let n = att.dst_ptr.len() - 1;
    *node = (*node).min(n.saturating_sub(1));
    ui.horizontal(|ui| {
        ui.strong(format!(
            "GAT attention, first layer (seed {}, epoch {})",
            att.seed, att.epoch
        ));
        ui.label("node:");
        ui.add(egui::DragValue::new(node).range(0..=n.saturating_sub(1)));
        let l = att.labels[*node] as usize;
        ui.label(format!(
            "{} ({})",
            att.node_names[*node], att.class_names[l]
        ));
        if ui.small_button("highest degree").clicked() {
            *node = (0..n)
                .max_by_key(|&i| att.dst_ptr[i + 1] - att.dst_ptr[i])
                .unwrap_or(0);
        }
    });
    let (a, b) = (att.dst_ptr[*node], att.dst_ptr[*node + 1]);
    // The strongest 24 neighbours by mean attention over heads.
    let mut edges: Vec<usize> = (a..b).collect();
    let mean = |k: usize| {
        (0..att.heads)
            .map(|h| att.alpha[k * att.heads + h])
            .sum::<f32>()
            / att.heads as f32
    };
    edges.sort_by(|&x, &y| mean(y).total_cmp(&mean(x)));
    edges.truncate(24);
    let w = 0.8 / att.heads as f64;
    Plot::new("graph_attention")
        .height(220.0)
        .legend(Legend::default())
        .include_y(0.0)
        .include_y(1.0)
        // A fixed bar chart: wheel and drag scroll the page, not the plot.
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_boxed_zoom(false)
        .show(ui, |pui| {
            for h in 0..att.heads {
                let bars: Vec<Bar> = edges
                    .iter()
                    .enumerate()
                    .map(|(x, &k)| {
                        let j = att.src[k] as usize;
                        Bar::new(
                            x as f64 - 0.4 + w * (h as f64 + 0.5),
                            att.alpha[k * att.heads + h] as f64,
                        )
                        .width(w)
                        .name(format!(
                            "{} ({})",
                            att.node_names[j], att.class_names[att.labels[j] as usize]
                        ))
                    })
                    .collect();
                pui.bar_chart(
                    BarChart::new(format!("head {}", h + 1), bars)
                        .color(PALETTE[h % PALETTE.len()]),
                );
            }
        });
    ui.horizontal_wrapped(|ui| {
        for (x, &k) in edges.iter().enumerate() {
            let j = att.src[k] as usize;
            let same = att.labels[j] == att.labels[*node];
            let txt = format!(
                "{x}: {}{} {:.2}",
                att.node_names[j],
                if j == *node { " (self)" } else { "" },
                mean(k)
            );
            if same {
                ui.label(txt);
            } else {
                ui.colored_label(ui.visuals().warn_fg_color, txt)
                    .on_hover_text("a neighbour of another class");
            }
        }
    });
    if b - a > edges.len() {
        ui.weak(format!("showing 24 of {} neighbours", b - a));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::jobs::Jobs;
    use crate::data::graph::{SyntheticSpec, synthetic_graph};
    use crate::labs::test_world::{self, run_until_within};
    use crate::widgets::files::FileTasks;
    use egui_kittest::kittest::{NodeT, Queryable};
    use std::time::{Duration, Instant};

    type World = test_world::World<GraphsTab>;

    fn world(tab: GraphsTab, jobs: Jobs, dir: &std::path::Path) -> World {
        let mut w = World::new(tab, dir.to_path_buf(), FileTasks::fixed_dir(dir));
        w.jobs = jobs;
        w
    }

    #[test]
    fn without_cora_the_tab_loads_the_synthetic_graph_and_trains_gcn() {
        let dir = tempfile::tempdir().unwrap();
        let tab = GraphsTab {
            params: GraphParams {
                seeds: 1,
                ..GraphParams::default()
            },
            gcn: GraphConfig {
                epochs: 3,
                ..GraphConfig::preset(ModelKind::Gcn, Preset::Paper)
            },
            ..Default::default()
        };
        let world = world(tab, Jobs::default(), dir.path());
        let mut h = world.harness();
        let t = Instant::now();
        run_until_within(
            &mut h,
            Duration::from_secs(30),
            |w| format!("the graph to load: {:?}", w.lab.rt.load_error),
            |w| w.lab.rt.graph.is_some(),
        );
        assert!(
            h.state()
                .lab
                .rt
                .graph
                .as_ref()
                .unwrap()
                .1
                .name
                .starts_with("synthetic")
        );
        h.step();
        h.get_by_label("Train GCN").click();
        h.step();
        assert_eq!(h.state().lab.rt.started.len(), 1);
        let id = h.state().lab.rt.started[0].0;
        while h.state().jobs.get(id).unwrap().state.is_running() {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "training never ended"
            );
            h.step();
            std::thread::sleep(Duration::from_millis(10));
        }
        h.step();
        let job = h.state().jobs.get(id).unwrap();
        assert!(job.summary().is_some(), "{:?}", job.state);
        assert!(job.latest::<EmbeddingSnapshot>().is_some());
        // The race button and the results row are on screen.
        h.get_by_label("Race GCN vs GAT");
        h.get_by_label("Train GAT");
        let w = h.state_mut();
        let cx = TabCx {
            jobs: &mut w.jobs,
            files: &mut w.files,
            data_dir: &w.data_dir,
            waker: Arc::new(|| {}),
            labs: &[],
        };
        let rows = w.lab.rows(&cx);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].model, "GCN");
    }

    /// A job that reports what a multi-seed run of `model` reports (curves per seed, an
    /// embedding and a confusion matrix), without training: the layout tests need its output.
    fn fake_run(tab: &mut GraphsTab, jobs: &mut Jobs, model: ModelKind, seeds: u64) -> JobId {
        // The job's place among the tab's jobs, for its store ids.
        let k = tab.rt.started.len() as i64;
        let id = jobs.spawn(KIND, model.label(), Arc::new(|| {}), move |sink, _| {
            let names: Arc<Vec<String>> = Arc::new((0..7).map(|k| format!("class {k}")).collect());
            for seed in 0..seeds {
                // Store ids as two jobs recording at once get them: interleaved.
                let run = 8 + k + 3 * seed as i64;
                sink.payload(Box::new(crate::core::runs::RecordedRun(run)));
                for e in 1..=20 {
                    let t = e as f64 + seed as f64 * 0.3;
                    sink.metric(&format!("s{seed}/train_loss"), e as f64, 2.0 / t);
                    sink.metric(&format!("s{seed}/val_loss"), e as f64, 2.2 / t);
                    sink.metric(&format!("s{seed}/train_acc"), e as f64, 1.0 - 0.8 / t);
                    sink.metric(&format!("s{seed}/val_acc"), e as f64, 0.9 - 0.7 / t);
                }
            }
            sink.payload(Box::new(EmbeddingSnapshot {
                seed: 0,
                epoch: 20,
                points: (0..70).map(|i| [i as f32, (i % 7) as f32]).collect(),
                explained: [0.3, 0.2],
                labels: Arc::new((0..70).map(|i| i % 7).collect()),
                class_names: names.clone(),
            }));
            sink.payload(Box::new(ConfusionMatrix {
                seed: 0,
                class_names: names,
                counts: (0..7)
                    .map(|t| (0..7).map(|p| if t == p { 50 } else { 3 }).collect())
                    .collect(),
            }));
            Ok(serde_json::json!({}))
        });
        tab.rt.started.push((
            id,
            model,
            GraphConfig::preset(model, Preset::Paper),
            "fake".into(),
            Preset::Paper,
        ));
        id
    }

    fn world_with_runs(models: &[ModelKind], seeds: u64) -> (World, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut tab = GraphsTab::default();
        let mut jobs = Jobs::default();
        for &m in models {
            fake_run(&mut tab, &mut jobs, m, seeds);
        }
        let t = Instant::now();
        while jobs.any_running() {
            assert!(t.elapsed() < Duration::from_secs(10));
            jobs.poll();
            std::thread::sleep(Duration::from_millis(5));
        }
        let world = world(tab, jobs, dir.path());
        (world, dir)
    }

    fn legend_entries(h: &egui_kittest::Harness<'_, World>) -> Vec<String> {
        h.query_all_by_role(egui::Role::CheckBox)
            .filter_map(|n| n.accesskit_node().label())
            .filter(|l| l.contains("loss") || l.contains("acc"))
            .collect()
    }

    #[test]
    fn seeds_are_grouped_one_legend_entry_per_model_and_curve() {
        let (world, _dir) = world_with_runs(&[ModelKind::Gcn, ModelKind::Gat], 3);
        let mut h = world.harness();
        h.run_steps(3);
        let mut entries = legend_entries(&h);
        entries.sort();
        // 2 models x (train, val) per plot, 2 plots: 8 entries, not 8 x 3 seeds.
        assert_eq!(entries.len(), 8, "{entries:?}");
        assert!(
            entries.iter().all(|e| e.contains("mean ± std, n = 3")),
            "{entries:?}"
        );
        assert!(
            entries.iter().any(|e| e.starts_with("GAT val loss")),
            "{entries:?}"
        );
        // The seeds are still drawn, as thin lines kept out of the legend.
        let w = h.state();
        let runs: Vec<(String, ModelKind, &MetricStore)> = w
            .lab
            .rt
            .started
            .iter()
            .map(|(id, m, ..)| (m.label().to_string(), *m, &w.jobs.get(*id).unwrap().metrics))
            .collect();
        let (loss, _) = curve_figures(&runs);
        assert_eq!(
            loss.series.iter().filter(|s| s.hide_in_legend).count(),
            2 * 2 * 3
        );
    }

    fn shown(model: ModelKind, dataset: &str, hidden: u64, reopened: bool) -> ShownConfig {
        ShownConfig {
            model,
            dataset: dataset.into(),
            split: "pygcn",
            preset: "paper",
            settings: serde_json::json!({ "hidden": hidden, "lr": 0.01 }),
            reopened,
        }
    }

    #[test]
    fn legends_name_configurations_by_what_tells_them_apart() {
        use ModelKind::{Gat, Gcn};
        let names = |c: &[ShownConfig]| config_names(c);
        assert_eq!(
            names(&[shown(Gcn, "cora", 16, false), shown(Gat, "cora", 16, false)]),
            ["GCN", "GAT"]
        );
        // A race beside the GCN reopened from the last session.
        assert_eq!(
            names(&[
                shown(Gcn, "cora", 16, true),
                shown(Gcn, "cora", 16, false),
                shown(Gat, "cora", 16, false)
            ]),
            ["GCN, reopened", "GCN", "GAT"]
        );
        assert_eq!(
            names(&[
                shown(Gcn, "cora", 16, false),
                shown(Gcn, "citeseer", 16, false)
            ]),
            ["GCN, cora", "GCN, citeseer"]
        );
        assert_eq!(
            names(&[shown(Gcn, "cora", 16, false), shown(Gcn, "cora", 64, false)]),
            ["GCN, hidden 16", "GCN, hidden 64"]
        );
        assert_eq!(
            names(&[shown(Gcn, "cora", 16, false), shown(Gcn, "cora", 16, false)]),
            ["GCN (1)", "GCN (2)"]
        );
    }

    /// Two GCN jobs and a GAT recording at once (interleaved run ids): the legend names the
    /// configurations, each entry on one row; the ids are in the job rows.
    #[test]
    fn legends_carry_no_run_ids_the_job_rows_do() {
        let (world, _dir) = world_with_runs(&[ModelKind::Gcn, ModelKind::Gat, ModelKind::Gcn], 3);
        let mut h = world.harness_sized(1366.0, 650.0);
        h.run_steps(3);
        let entries = legend_entries(&h);
        assert_eq!(entries.len(), 12, "{entries:?}");
        assert!(entries.iter().all(|e| !e.contains('#')), "{entries:?}");
        assert!(
            entries.iter().any(|e| e.starts_with("GCN (2) val loss")),
            "{entries:?}"
        );
        // One text row per legend entry: as high as the shortest.
        let rows: Vec<egui::Rect> = h
            .query_all_by_role(egui::Role::CheckBox)
            .filter(|n| {
                n.accesskit_node()
                    .label()
                    .is_some_and(|l| l.contains("loss"))
            })
            .map(|n| n.rect())
            .collect();
        let lowest = rows
            .iter()
            .map(|r| r.height())
            .fold(f32::INFINITY, f32::min);
        for r in &rows {
            assert!(r.height() < lowest * 1.5, "a legend entry wraps: {r:?}");
        }
        // Each job row names its runs by the store's ids (the first GCN's seeds 8, 11, 14; the
        // GAT's 9, 12, 15; the second GCN's 10, 13, 16).
        for ids in [
            "runs #8, #11, #14",
            "runs #9, #12, #15",
            "runs #10, #13, #16",
        ] {
            h.get_by_label_contains(ids);
        }
    }

    /// At 1024 x 600 (the tab's area under the tab bar and over a status bar with two job
    /// rows) the results table's header and first row are in view without scrolling, with
    /// three jobs' legends above it; no legend entry wraps.
    #[test]
    fn at_1024_x_600_the_results_table_is_above_the_fold() {
        let (world, _dir) = world_with_runs(&[ModelKind::Gcn, ModelKind::Gat, ModelKind::Gcn], 10);
        let (w, hgt) = (1024.0, 515.0);
        let mut h = world.harness_sized(w, hgt);
        h.run_steps(3);
        let header = h.get_by_label_contains("test acc").rect();
        assert!(
            header.bottom() + 20.0 <= hgt,
            "the results table's header at {header:?} leaves no room for a row above {hgt}"
        );
        let rows: Vec<egui::Rect> = h
            .query_all_by_role(egui::Role::CheckBox)
            .filter(|n| {
                n.accesskit_node()
                    .label()
                    .is_some_and(|l| l.contains("loss"))
            })
            .map(|n| n.rect())
            .collect();
        assert_eq!(rows.len(), 6);
        let lowest = rows
            .iter()
            .map(|r| r.height())
            .fold(f32::INFINITY, f32::min);
        for r in &rows {
            assert!(r.height() < lowest * 1.5, "a legend entry wraps: {r:?}");
            assert!(r.right() <= w, "a legend entry runs off: {r:?}");
        }
    }

    #[test]
    fn at_1366_x_768_curves_pca_and_confusion_are_in_view() {
        let (world, _dir) = world_with_runs(&[ModelKind::Gcn], 10);
        // The central area of a 1366 x 768 screen: minus the window title, the tab bar and the
        // status bar.
        let (w, hgt) = (1366.0, 650.0);
        let mut h = world.harness_sized(w, hgt);
        h.run_steps(3);
        let cm = h.get_by_label("confusion matrix").rect();
        assert!(
            cm.bottom() <= hgt && cm.right() <= w,
            "confusion matrix at {cm:?}"
        );
        let toolbars: Vec<_> = h
            .query_all_by_label("Export PNG")
            .map(|n| n.rect())
            .collect();
        assert_eq!(toolbars.len(), 2, "both curve plots drawn");
        for r in toolbars {
            assert!(
                r.bottom() <= hgt && r.right() <= w,
                "a plot toolbar at {r:?}"
            );
        }
        let pca = h.get_by_label_contains("Hidden layer, PCA").rect();
        assert!(
            pca.bottom() + 160.0 <= hgt,
            "the PCA plot below its title fits: {pca:?}"
        );
        assert_eq!(legend_entries(&h).len(), 4, "{:?}", legend_entries(&h));
    }

    /// Train in one session (recorded), open a fresh tab on the same store: the seeds come back as
    /// one job whose curves band over them, with their results-table row.
    #[test]
    fn a_new_session_reopens_the_latest_runs_with_curves_and_table() {
        use crate::core::runs::{RecordTo, RunStore};
        use crate::core::{NullSink, StopFlag};
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let graph = synthetic_graph(&SyntheticSpec::default()).unwrap();
        let cfg = GraphConfig {
            epochs: 3,
            ..GraphConfig::preset(ModelKind::Gcn, Preset::Assignment)
        };
        let summary = {
            let store = RunStore::open(&runs).unwrap();
            let rec = RecordTo {
                store: Some(&store),
                command: "gradlab graph --model gcn --preset assignment --seeds 2",
            };
            run_seeds_recorded(&cfg, &graph, &[0, 1], rec, &mut NullSink, &StopFlag::new()).unwrap()
        };
        let world = world(
            GraphsTab::default(),
            Jobs::with_runs_dir(Some(runs)),
            dir.path(),
        );
        let mut h = world.harness();
        run_until_within(
            &mut h,
            Duration::from_secs(30),
            |w| format!("a reopened run: {:?}", w.lab.rt.restore_note),
            |w| !w.lab.rt.started.is_empty(),
        );
        h.run_steps(3);
        assert_eq!(h.state().lab.rt.started.len(), 1, "one configuration");
        let (id, model, ..) = h.state().lab.rt.started[0].clone();
        assert_eq!(model, ModelKind::Gcn);
        let job = h.state().jobs.get(id).unwrap();
        let from = job.restored.as_ref().expect("marked as reopened");
        assert_eq!(serde_json::json!(from.run_ids), summary["run_ids"]);
        assert_eq!(
            job.metrics.get("s1/val_acc").map(<[_]>::len),
            Some(3),
            "every recorded point of every seed"
        );
        // The two seeds are one band per curve, as when they were trained.
        let entries = legend_entries(&h);
        assert_eq!(entries.len(), 4, "{entries:?}");
        assert!(entries.iter().all(|e| e.contains("n = 2")), "{entries:?}");
        h.get_by_label_contains("from runs #");
        let w = h.state_mut();
        let cx = TabCx {
            jobs: &mut w.jobs,
            files: &mut w.files,
            data_dir: &w.data_dir,
            waker: Arc::new(|| {}),
            labs: &[],
        };
        let rows = w.lab.rows(&cx);
        assert_eq!(rows.len(), 1);
        let f = |k: &str| summary[k].as_f64().unwrap();
        assert_eq!(
            rows[0].test_acc,
            format!("{:.4} ± {:.4}", f("test_acc_mean"), f("test_acc_std"))
        );
        assert_eq!(rows[0].seeds, 2);
        assert_eq!(rows[0].preset, "assignment");
        assert_eq!(rows[0].params, summary["params"].as_u64().unwrap());
    }

    /// A 3-class graph folder of 120 nodes (words carry the class; one node unlabelled).
    fn write_graph_folder(dir: &std::path::Path) {
        std::fs::create_dir_all(dir).unwrap();
        let mut nodes = String::from("id,label,words\n");
        let mut edges = String::from("source,target\n");
        for i in 0..120usize {
            let c = i % 3;
            let label = if i == 7 {
                String::new()
            } else {
                format!("c{c}")
            };
            nodes.push_str(&format!("p{i},{label},{} {}\n", c * 5 + i % 5, 20 + i % 7));
            edges.push_str(&format!("p{i},p{}\n", (i + 3) % 120));
        }
        std::fs::write(dir.join("nodes.csv"), nodes).unwrap();
        std::fs::write(dir.join("edges.csv"), edges).unwrap();
    }

    #[test]
    fn open_graph_folder_loads_the_users_graph_and_trains_on_it() {
        let dir = tempfile::tempdir().unwrap();
        // The fixed-folder dialog answers `<dir>/<key>` when it exists.
        let folder = dir.path().join(PICK_GRAPH_FOLDER);
        write_graph_folder(&folder);
        let tab = GraphsTab {
            params: GraphParams {
                seeds: 1,
                ..GraphParams::default()
            },
            gcn: GraphConfig {
                epochs: 3,
                ..GraphConfig::preset(ModelKind::Gcn, Preset::Paper)
            },
            dataset: DatasetChoice::Synthetic,
            ..Default::default()
        };
        let mut h = world(tab, Jobs::default(), dir.path()).harness();
        h.step();
        h.get_by_label("Open graph folder...").click();
        run_until_within(
            &mut h,
            Duration::from_secs(30),
            |w| format!("the folder to load: {:?}", w.lab.rt.load_error),
            |w| {
                w.lab
                    .rt
                    .graph
                    .as_ref()
                    .is_some_and(|(_, g)| g.name == PICK_GRAPH_FOLDER)
            },
        );
        assert_eq!(h.state().lab.dataset, DatasetChoice::Folder);
        assert_eq!(h.state().lab.params.split(), SplitKind::Random);
        let g = h.state().lab.rt.graph.as_ref().unwrap().1.clone();
        assert_eq!(
            (g.num_nodes(), g.num_classes(), g.unlabelled.len()),
            (120, 3, 1)
        );
        h.step();
        h.get_by_label("Train GCN").click();
        h.step();
        let id = h.state().lab.rt.started[0].0;
        run_until_within(
            &mut h,
            Duration::from_secs(60),
            |_| "training to end".into(),
            |w| !w.jobs.get(id).unwrap().state.is_running(),
        );
        h.step();
        let job = h.state().jobs.get(id).unwrap();
        let s = job.summary().unwrap_or_else(|| panic!("{:?}", job.state));
        assert_eq!(s["dataset"], PICK_GRAPH_FOLDER);
        // 20 per class train; of the other 59 labelled nodes 29 validate, 30 are the test.
        assert_eq!(
            (&s["n_train"], &s["n_val"], &s["n_test"]),
            (&60.into(), &29.into(), &30.into())
        );
    }

    #[test]
    fn a_bad_graph_folder_shows_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join(PICK_GRAPH_FOLDER);
        write_graph_folder(&folder);
        std::fs::write(
            folder.join("edges.csv"),
            "source,target\np1,p2\np1,nobody\n",
        )
        .unwrap();
        let tab = GraphsTab {
            dataset: DatasetChoice::Synthetic,
            ..Default::default()
        };
        let mut h = world(tab, Jobs::default(), dir.path()).harness();
        h.step();
        h.get_by_label("Open graph folder...").click();
        run_until_within(
            &mut h,
            Duration::from_secs(30),
            |_| "the load error".into(),
            |w| w.lab.rt.load_error.is_some(),
        );
        let e = h.state().lab.rt.load_error.clone().unwrap();
        assert!(
            e.contains("edges.csv line 3") && e.contains("nobody"),
            "{e}"
        );
        h.step();
        h.get_by_label_contains("edges.csv line 3");
    }

    #[test]
    fn citeseer_without_its_files_offers_the_download() {
        let dir = tempfile::tempdir().unwrap();
        let tab = GraphsTab {
            dataset: DatasetChoice::Synthetic,
            ..Default::default()
        };
        let mut h = world(tab, Jobs::default(), dir.path()).harness();
        h.step();
        h.get_by_label("Citeseer").click();
        run_until_within(
            &mut h,
            Duration::from_secs(10),
            |_| "the load error".into(),
            |w| w.lab.rt.load_error.is_some(),
        );
        assert_eq!(h.state().lab.params.split(), SplitKind::Planetoid);
        let e = h.state().lab.rt.load_error.clone().unwrap();
        assert!(e.contains("ind.citeseer.x is missing"), "{e}");
        // The presence check answers from a background thread.
        let t = Instant::now();
        while h.query_by_label_contains("Download Citeseer").is_none() {
            assert!(t.elapsed() < Duration::from_secs(10), "no download offer");
            h.step();
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn missing_cora_when_asked_for_shows_the_fetch_hint() {
        let dir = tempfile::tempdir().unwrap();
        let tab = GraphsTab {
            dataset: DatasetChoice::Cora,
            ..Default::default()
        };
        let world = world(tab, Jobs::default(), dir.path());
        let mut h = world.harness();
        run_until_within(
            &mut h,
            Duration::from_secs(10),
            |_| "the load error".into(),
            |w| w.lab.rt.load_error.is_some(),
        );
        assert!(
            h.state()
                .lab
                .rt
                .load_error
                .as_ref()
                .unwrap()
                .contains("gradlab data fetch cora")
        );
        // The tab shows it without the terminal command.
        let shown = in_app_words(h.state().lab.rt.load_error.as_ref().unwrap());
        assert!(!shown.contains("gradlab data"), "{shown}");
        assert!(shown.contains("Download Cora"), "{shown}");
    }
}
