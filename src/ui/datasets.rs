//! The Datasets tab.

use eframe::egui;
use serde::{Deserialize, Serialize};

use super::TabCx;

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DatasetsTab {}

impl DatasetsTab {
    pub fn ui(&mut self, ui: &mut egui::Ui, _cx: &mut TabCx<'_>) {
        ui.heading("Datasets");
    }
}
