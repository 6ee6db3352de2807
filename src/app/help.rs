//! Help on screen: the Help window (what each lab asks, the keyboard shortcuts, how plots
//! move), the About window (version, commit, licence, the data and runs folders) and a
//! first-run tour that points at the real tabs, skippable and never shown again once done.

use std::path::Path;

use eframe::egui;

use crate::widgets::open_folder::OpenFolder;

/// The shortcuts, as the Help window lists them.
pub const SHORTCUTS: [(&str, &str); 6] = [
    ("F1 or ?", "open or close this help"),
    (
        "Ctrl+1 … Ctrl+6",
        "open the Theory, Graphs, Segmentation, Datasets, Runs, Sweeps tab",
    ),
    (
        "Ctrl+Enter",
        "the open tab's main action: Run all (Theory), Race GCN vs GAT (Graphs), Train both (Segmentation)",
    ),
    ("Ctrl+.", "stop the open tab's running jobs"),
    ("Esc", "close this window or the tour"),
    (
        "on a plot",
        "drag pans, Ctrl+wheel zooms, double-click resets; the wheel alone scrolls the page",
    ),
];

/// What each lab asks, for a student who has not read the README.
pub const QUESTIONS: [(&str, &str); 4] = [
    (
        "Theory",
        "Do the homework's claims hold when checked with numbers? Pick a claim, move its sliders, and read the verdict: holds, fails (with the smallest counterexample) or inconclusive.",
    ),
    (
        "Graphs",
        "Does attention (GAT) beat graph convolution (GCN) at classifying the papers of a citation graph? Train both over several seeds and compare the validation accuracy curves and the mean ± std in the results table; a single seed proves nothing.",
    ),
    (
        "Segmentation",
        "What do a U-Net's skip connections buy? Train both trains it with and without skips side by side; compare the validation IoU and the predicted masks of the same images.",
    ),
    (
        "Sweeps",
        "How does a result change with a setting? \"Sweep...\" in a lab (or a question in the Sweeps tab) runs it over a grid of values and seeds; read the mean ± std at each point and whether each differs from a baseline beyond seed noise.",
    ),
];

/// One step of the tour: the widget it points at (a tab button, or a lab's anchor), a title
/// and the text.
pub struct TourStep {
    /// `tab:<lab id>` or an anchor a lab registered with [`crate::widgets::tour_anchor`].
    pub anchor: &'static str,
    pub title: &'static str,
    pub text: &'static str,
}

pub const TOUR: [TourStep; 6] = [
    TourStep {
        anchor: "tab:theory",
        title: "1 of 6: Theory",
        text: "Each claim of the theory homework, checked numerically. Pick one, move its sliders, and look at the verdict and the plot of bound against measured value. A claim that fails comes with its smallest counterexample.",
    },
    TourStep {
        anchor: "tab:graphs",
        title: "2 of 6: Graphs",
        text: "GCN against GAT on the Cora citation graph (or a synthetic one). Race GCN vs GAT trains both; watch validation accuracy grow, then compare mean ± std over seeds in the results table.",
    },
    TourStep {
        anchor: "tab:segmentation",
        title: "3 of 6: Segmentation",
        text: "A U-Net with skip connections on and off. Train both trains the two side by side; compare validation IoU and the predicted masks, then open an image of your own.",
    },
    TourStep {
        anchor: "tab:datasets",
        title: "4 of 6: Datasets",
        text: "Cora and ISBI download here (or where a lab offers them). Without them the labs use built-in synthetic data, so everything works offline.",
    },
    TourStep {
        anchor: "tab:runs",
        title: "5 of 6: Runs",
        text: "Every run is recorded as it trains. Tick runs to overlay their curves, and write a lab report of the ticked runs. Sweeps, the next tab, asks how a result changes with a setting: a grid of values and seeds, with error bars.",
    },
    TourStep {
        anchor: "help",
        title: "6 of 6: Help",
        text: "F1 (or this button) opens the help: what each lab asks and the keyboard shortcuts. The tour can be started again from there.",
    },
];

/// Which help windows are open, and where the tour is.
#[derive(Default)]
pub struct Help {
    pub help_open: bool,
    pub about_open: bool,
    /// The tour's current step, while it runs.
    pub tour: Option<usize>,
    open_folder: OpenFolder,
}

/// What the tour did this frame, for the app to persist.
#[derive(Debug, PartialEq, Eq)]
pub enum TourEnd {
    Running,
    /// Finished or skipped: never shown again on its own.
    Done,
}

impl Help {
    /// The Help window, when open.
    pub fn help_window(&mut self, ctx: &egui::Context) {
        let mut open = self.help_open;
        let mut start_tour = false;
        let mut about = false;
        egui::Window::new("Help")
            .open(&mut open)
            .collapsible(false)
            .default_width(520.0)
            .max_height(ctx.content_rect().height() - 80.0)
            .show(ctx, |ui| {
                // Above the scrolling text, so they are on screen in a short window too.
                ui.horizontal(|ui| {
                    start_tour = ui.button("Start the tour").clicked();
                    about = ui.button("About gradlab").clicked();
                });
                ui.separator();
                egui::ScrollArea::vertical().show(ui, |ui| {
                    ui.heading("What each lab asks");
                    for (lab, q) in QUESTIONS {
                        ui.horizontal_wrapped(|ui| {
                            ui.strong(lab);
                            ui.label(q);
                        });
                    }
                    ui.label(
                        "Datasets fetches the real data; Runs keeps every run and writes reports.",
                    );
                    ui.separator();
                    ui.heading("Keyboard shortcuts");
                    egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                        for (keys, what) in SHORTCUTS {
                            ui.monospace(keys);
                            ui.label(what);
                            ui.end_row();
                        }
                    });
                });
            });
        self.help_open = open && !start_tour;
        if start_tour {
            self.tour = Some(0);
        }
        if about {
            self.about_open = true;
        }
    }

    /// The About window, when open.
    pub fn about_window(&mut self, ctx: &egui::Context, data_dir: &Path, runs_dir: Option<&Path>) {
        let mut open = self.about_open;
        let folder = &mut self.open_folder;
        egui::Window::new("About gradlab")
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label(about_text());
                egui::Grid::new("about_folders").show(ui, |ui| {
                    ui.label("datasets");
                    ui.monospace(data_dir.display().to_string());
                    folder.button(ui, data_dir);
                    ui.end_row();
                    ui.label("runs");
                    match runs_dir {
                        Some(d) => {
                            ui.monospace(d.display().to_string());
                            folder.button(ui, d);
                        }
                        None => {
                            ui.weak("not recorded (no data folder on this system)");
                        }
                    }
                    ui.end_row();
                });
                folder.message_ui(ui);
            });
        self.about_open = open;
    }

    /// The tour's bubble beside the widget of the current step, with a highlight around it.
    pub fn tour(&mut self, ctx: &egui::Context) -> TourEnd {
        let Some(step) = self.tour else {
            return TourEnd::Running;
        };
        let Some(s) = TOUR.get(step) else {
            self.tour = None;
            return TourEnd::Done;
        };
        let target = crate::widgets::tour_anchor_rect(ctx, s.anchor);
        if let Some(r) = target {
            let painter = ctx.layer_painter(egui::LayerId::new(
                egui::Order::Foreground,
                egui::Id::unique("tour_highlight"),
            ));
            painter.rect_stroke(
                r.expand(3.0),
                4.0,
                egui::Stroke::new(2.5, egui::Color32::from_rgb(230, 159, 0)),
                egui::StrokeKind::Outside,
            );
        }
        let screen = ctx.content_rect();
        let pos = target.map_or(screen.center() - egui::vec2(180.0, 80.0), |r| {
            egui::pos2(
                r.left()
                    .min(screen.right() - 380.0)
                    .max(screen.left() + 8.0),
                r.bottom() + 10.0,
            )
        });
        let mut next = false;
        let mut skip = false;
        egui::Area::new(egui::Id::unique("tour_bubble"))
            .order(egui::Order::Foreground)
            .fixed_pos(pos)
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.set_max_width(360.0);
                    ui.strong(s.title);
                    ui.label(s.text);
                    ui.horizontal(|ui| {
                        let last = step + 1 == TOUR.len();
                        next = ui.button(if last { "Done" } else { "Next" }).clicked();
                        if !last {
                            skip = ui.button("Skip the tour").clicked();
                        }
                    });
                });
            });
        if ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
            skip = true;
        }
        if skip || (next && step + 1 == TOUR.len()) {
            self.tour = None;
            TourEnd::Done
        } else {
            if next {
                self.tour = Some(step + 1);
            }
            TourEnd::Running
        }
    }
}

/// Version, commit and licence, in a few lines.
pub fn about_text() -> String {
    format!(
        "gradlab {} — a desktop laboratory for learning deep learning by experiment.\n\
         commit: {}\nlicence: {}\nBuilt with egui, egui_plot and candle.",
        env!("CARGO_PKG_VERSION"),
        crate::core::runs::GIT_COMMIT.unwrap_or("unknown (not built from a git checkout)"),
        env!("CARGO_PKG_LICENSE"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tour_has_four_to_six_steps_each_pointing_at_a_widget() {
        assert!((4..=6).contains(&TOUR.len()));
        for s in &TOUR {
            assert!(s.anchor.starts_with("tab:") || s.anchor == "help");
            assert!(!s.text.is_empty());
        }
        assert!(about_text().contains(env!("CARGO_PKG_VERSION")));
        assert!(about_text().contains("MIT OR Apache-2.0"));
    }
}
