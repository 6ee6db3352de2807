//! The sweep editor: a lab's flags every grid point starts from, which settings vary over which
//! values, the seeds, how many runs at once, and what it will cost. Everything here is text the
//! lab's own parser reads on the job thread: a bad name or value comes back as the job's error,
//! naming it, before anything trains.

use eframe::egui;

use crate::core::descriptor::{LabDescriptor, SweepPreset};
use crate::core::sweep::{self, Setting, duration_text, norm};
use crate::widgets::labeled;

/// One setting in the editor: varied or not, over which values.
#[derive(Clone, Debug)]
pub struct AxisEdit {
    pub setting: Setting,
    pub on: bool,
    /// Comma-separated, as `--vary NAME=...` takes them.
    pub values: String,
}

#[derive(Clone, Debug)]
pub struct Editor {
    pub lab: &'static LabDescriptor,
    /// The lab's flags as one shell line.
    pub flags: String,
    pub axes: Vec<AxisEdit>,
    /// `--seeds` of the lab (None: the lab has no seeds).
    pub seeds: Option<u32>,
    pub jobs: usize,
    /// The question of the preset it came from.
    pub question: Option<&'static str>,
    /// The summary figure the sweep is read by, when not the lab's main one (a preset's).
    pub metric: Option<String>,
}

/// What the editor asks for when its Start button is clicked.
pub struct Start {
    pub lab: &'static LabDescriptor,
    pub base: Vec<String>,
    pub vary: Vec<(String, Vec<String>)>,
    pub jobs: usize,
    /// Read by this summary figure instead of the lab's main one.
    pub metric: Option<String>,
}

impl Editor {
    /// The editor for `lab` starting from its flags `flags` (what its tab would train now),
    /// proposing values around each setting's current one.
    pub fn new(lab: &'static LabDescriptor, flags: &[String]) -> Self {
        let settings = sweep::settings(lab);
        let seeds = lab.sweep.is_some_and(|h| sweep::has_seeds(&h)).then(|| {
            flag_value(flags, "seeds")
                .and_then(|v| v.parse().ok())
                .unwrap_or(3)
        });
        let flags: Vec<String> = strip_flag(flags, "seeds");
        let axes = settings
            .into_iter()
            .map(|setting| {
                // The value the flags give, else the lab's default for it.
                let current = flag_value(&flags, &setting.name)
                    .or_else(|| setting.default.clone())
                    .map(|v| sweep::typed(&v));
                let values = sweep::propose(&setting, current.as_ref()).join(",");
                AxisEdit {
                    setting,
                    on: false,
                    values,
                }
            })
            .collect();
        Self {
            lab,
            flags: crate::core::runs::quote_args(&flags),
            axes,
            seeds,
            jobs: sweep::default_jobs(usize::MAX),
            question: None,
            metric: None,
        }
    }

    /// The editor filled in from one of the lab's preset questions.
    pub fn preset(lab: &'static LabDescriptor, p: &SweepPreset) -> Self {
        let (flags, vary) = sweep::preset_words(p);
        let mut e = Self::new(lab, &flags);
        for (name, values) in vary {
            let want = norm(&name);
            if let Some(a) = e.axes.iter_mut().find(|a| norm(&a.setting.name) == want) {
                a.on = true;
                a.values = values.join(",");
            }
        }
        e.question = Some(p.question);
        e.metric = p.metric.map(str::to_string);
        e
    }

    /// Grid points x seeds.
    pub fn runs(&self) -> usize {
        let points: usize = self
            .axes
            .iter()
            .filter(|a| a.on)
            .map(|a| a.values.split(',').filter(|v| !v.trim().is_empty()).count())
            .product();
        points * self.seeds.unwrap_or(1).max(1) as usize
    }

    /// What Start hands to the job: the words, or what is wrong with them.
    pub fn start(&self) -> Result<Start, String> {
        let mut base = shlex::split(&self.flags)
            .ok_or_else(|| "the flags have an unclosed quote".to_string())?;
        if let Some(k) = self.seeds {
            base.extend(["--seeds".to_string(), k.max(1).to_string()]);
        }
        let vary: Vec<(String, Vec<String>)> = self
            .axes
            .iter()
            .filter(|a| a.on)
            .map(|a| {
                let spec = format!("{}={}", a.setting.name, a.values);
                sweep::parse_vary(&spec).map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        if vary.is_empty() {
            return Err("tick at least one setting to vary".into());
        }
        Ok(Start {
            lab: self.lab,
            base,
            vary,
            jobs: self.jobs.max(1),
            metric: self.metric.clone(),
        })
    }

    /// Draws the editor; returns what to start when Start was clicked, and whether Cancel was.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        secs_per_run: Option<(f64, usize)>,
        busy: bool,
    ) -> (Option<Start>, bool) {
        let mut start = None;
        let mut cancel = false;
        ui.strong(format!("New {} sweep", self.lab.title));
        if let Some(q) = self.question {
            ui.label(egui::RichText::new(q).italics());
        }
        if let Some(m) = &self.metric {
            ui.weak(format!("read by {m}"));
        }
        ui.horizontal(|ui| {
            labeled(
                ui,
                "Flags at every point",
                egui::TextEdit::singleline(&mut self.flags).desired_width(ui.available_width()),
            )
            .on_hover_text(format!(
                "The {} lab's own flags, as `gradlab {} --help` lists them",
                self.lab.title, self.lab.id
            ));
        });
        ui.label("Vary (tick a setting, edit its values, comma-separated):");
        egui::Grid::new("sweep-axes")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                for a in &mut self.axes {
                    let name = a.setting.name.clone();
                    ui.checkbox(&mut a.on, &name).on_hover_text(&a.setting.help);
                    ui.add_enabled(
                        a.on,
                        egui::TextEdit::singleline(&mut a.values)
                            .desired_width(320.0)
                            .id_salt(("sweep-values", &name)),
                    );
                    ui.end_row();
                }
            });
        ui.horizontal_wrapped(|ui| {
            if let Some(k) = &mut self.seeds {
                labeled(ui, "seeds per point", egui::DragValue::new(k).range(1..=20));
            }
            let cores = sweep::default_jobs(usize::MAX);
            labeled(
                ui,
                "runs at once",
                egui::DragValue::new(&mut self.jobs).range(1..=cores.max(1) * 2),
            )
            .on_hover_text(format!(
                "This machine has {cores} cores; two runs on one core each take twice as long"
            ));
            let runs = self.runs();
            let est = match secs_per_run {
                Some((s, n)) if runs > 0 => format!(
                    "; about {} at the median pace of your last {} {} runs",
                    duration_text(s * runs as f64 / self.jobs.max(1) as f64),
                    n,
                    self.lab.title
                ),
                _ => "; no finished run of this lab here yet to estimate from".into(),
            };
            ui.label(format!(
                "{}{est}",
                crate::core::runs::count_text(runs, "run")
            ));
        });
        ui.horizontal(|ui| {
            let r = ui.add_enabled(!busy, egui::Button::new("Start sweep"));
            if busy {
                r.on_disabled_hover_text("A sweep is running; stop it or wait");
            } else if r.clicked() {
                match self.start() {
                    Ok(s) => start = Some(s),
                    Err(e) => {
                        ui.ctx().data_mut(|d| d.insert_temp(error_id(), e));
                    }
                }
            }
            if ui.button("Cancel").clicked() {
                cancel = true;
            }
        });
        if start.is_some() || cancel {
            ui.ctx().data_mut(|d| d.remove_temp::<String>(error_id()));
        }
        if let Some(e) = ui.ctx().data(|d| d.get_temp::<String>(error_id())) {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        (start, cancel)
    }
}

fn error_id() -> egui::Id {
    egui::Id::unique("sweep-editor-error")
}

/// The value given to `--name` (or its flag spelling) in `flags`.
fn flag_value(flags: &[String], name: &str) -> Option<String> {
    let want = norm(name);
    let mut it = flags.iter();
    while let Some(w) = it.next() {
        if !w.starts_with("--") {
            continue;
        }
        match w.split_once('=') {
            Some((f, v)) if norm(f) == want => return Some(v.to_string()),
            None if norm(w) == want => return it.next().cloned(),
            _ => {}
        }
    }
    None
}

/// `flags` without `--name V`.
fn strip_flag(flags: &[String], name: &str) -> Vec<String> {
    let want = norm(name);
    let mut out = Vec::new();
    let mut it = flags.iter();
    while let Some(w) = it.next() {
        if w.starts_with("--") && norm(w) == want {
            it.next();
            continue;
        }
        if w.starts_with("--") && w.split_once('=').is_some_and(|(f, _)| norm(f) == want) {
            continue;
        }
        out.push(w.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_are_read_and_stripped_in_both_spellings() {
        let f = words("--model gcn --seeds 4 --homophily=0.3");
        assert_eq!(flag_value(&f, "seeds").as_deref(), Some("4"));
        assert_eq!(flag_value(&f, "homophily").as_deref(), Some("0.3"));
        assert_eq!(
            strip_flag(&f, "seeds"),
            words("--model gcn --homophily=0.3")
        );
        assert_eq!(strip_flag(&f, "homophily"), words("--model gcn --seeds 4"));
    }
}
