//! "Sweep...": a lab asks for the sweep editor, starting from its current settings. The request
//! travels through egui's memory, so a lab needs nothing but its `Ui` to ask and the window
//! takes it after the frame (opening the Sweeps tab with the editor filled in).

use eframe::egui;

/// A lab's current settings as its own CLI flags, to sweep from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepRequest {
    pub lab: String,
    pub flags: Vec<String>,
}

fn key() -> egui::Id {
    egui::Id::unique("gradlab-sweep-request")
}

/// The "Sweep..." button of a lab: on a click, asks for the editor with `flags()`.
pub fn sweep_button(
    ui: &mut egui::Ui,
    lab: &str,
    flags: impl FnOnce() -> Vec<String>,
) -> egui::Response {
    let r = ui.button("Sweep...").on_hover_text(
        "Ask how a result changes with a setting: run these settings over a grid of values \
         and seeds, with error bars (opens the Sweeps tab)",
    );
    if r.clicked() {
        request(ui.ctx(), lab, flags());
    }
    r
}

/// Asks for the sweep editor (what the button does; tests call it directly).
pub fn request(ctx: &egui::Context, lab: &str, flags: Vec<String>) {
    let req = SweepRequest {
        lab: lab.to_string(),
        flags,
    };
    ctx.data_mut(|d| d.insert_temp(key(), req));
}

/// The pending request, once.
pub fn take_request(ctx: &egui::Context) -> Option<SweepRequest> {
    ctx.data_mut(|d| d.remove_temp::<SweepRequest>(key()))
}
