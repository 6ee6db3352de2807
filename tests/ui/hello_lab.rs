//! A complete lab in one file: the example README "Developing" points at. A real lab lives in
//! `src/labs/<name>/` and is added to `gradlab::labs::labs()` (and `descriptors()`) with one
//! line each. It describes itself once ([`DESCRIPTOR`]); the Runs tab and the report show its
//! runs from that alone.

use eframe::egui;
use gradlab::core::runs::{NewRun, RecordTo, RunId, RunStore, recorded_stoppable};
use gradlab::core::{NullSink, StopFlag};
use gradlab::labs::lab::{Direction, LabDescriptor, Metric, Reference, XAxis};
use gradlab::labs::{Lab, TabCx, load_ron, save_ron};
use serde::{Deserialize, Serialize};

/// The metric keys of the lab, written once.
pub const SCORE: &str = "hello_score";

pub static DESCRIPTOR: LabDescriptor = LabDescriptor {
    id: "hello",
    title: "Hello",
    report_title: "Hello: counting clicks",
    cli_aliases: &[],
    summary: &[Metric {
        key: SCORE,
        direction: Direction::Higher,
        x: XAxis::None,
    }],
    curves: &[Metric::higher(SCORE, XAxis::Epoch)],
    references: &[Reference {
        tag: "",
        datasets: &[],
        when: &[],
        what: "a perfect score",
        value: "1.0",
        source: "this file",
    }],
    report: None,
    config: Some(|_, _| Ok(serde_json::json!({ "steps": 3 }))),
    sweep: None,
};

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HelloLab {
    /// Persisted under the storage key `lab/hello`.
    pub clicks: u32,
}

/// Records one run of the lab: a short curve and its summary, like a real lab's training job.
pub fn record_run(store: &RunStore, seed: u64) -> anyhow::Result<RunId> {
    let run = NewRun {
        lab: DESCRIPTOR.id.into(),
        name: format!("hello seed {seed}"),
        config: serde_json::json!({ "steps": 3, "seed": seed }),
        seed: Some(seed),
        main_metric: Some(SCORE.into()),
        ..Default::default()
    };
    let rec = RecordTo {
        store: Some(store),
        command: "gradlab hello",
    };
    let (score, id) = recorded_stoppable(
        rec.store,
        run,
        &mut NullSink,
        &StopFlag::new(),
        |sink, _| {
            let mut score = 0.0;
            for epoch in 1..=3 {
                score = epoch as f64 / (3.0 + seed as f64);
                sink.metric(SCORE, epoch as f64, score);
            }
            Ok(score)
        },
        |score| Ok(serde_json::json!({ SCORE: score })),
        |_| Ok(Vec::new()),
    )?;
    assert!(score > 0.0);
    id.ok_or_else(|| anyhow::anyhow!("not recorded"))
}

impl Lab for HelloLab {
    fn id(&self) -> &'static str {
        DESCRIPTOR.id
    }
    fn title(&self) -> &'static str {
        DESCRIPTOR.title
    }
    fn descriptor(&self) -> Option<&'static LabDescriptor> {
        Some(&DESCRIPTOR)
    }
    fn ui(&mut self, ui: &mut egui::Ui, _cx: &mut TabCx<'_>) {
        ui.heading("Hello, lab");
        if ui.button("Count").clicked() {
            self.clicks += 1;
        }
        ui.label(format!("clicked {} times", self.clicks));
    }
    fn save_state(&self) -> Option<String> {
        save_ron(self)
    }
    fn load_state(&mut self, text: &str) -> Result<(), String> {
        load_ron(text, self)
    }
}
