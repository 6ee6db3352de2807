//! A complete lab in one file: the example README "Developing" points at. A real lab lives in
//! `src/labs/<name>/` and is added to `gradlab::labs::labs()` with one line.

use eframe::egui;
use gradlab::labs::{Lab, TabCx, load_ron, save_ron};
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HelloLab {
    /// Persisted under the storage key `lab/hello`.
    pub clicks: u32,
}

impl Lab for HelloLab {
    fn id(&self) -> &'static str {
        "hello"
    }
    fn title(&self) -> &'static str {
        "Hello"
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
