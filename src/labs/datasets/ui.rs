//! The Datasets tab: the catalog with each entry's state on disk, Download and Verify as jobs.
//! Every file access (status, hashing, downloading) runs off the UI thread; the tab only shows
//! cached results.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};

use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::core::NullSink;
use crate::core::jobs::{Job, JobId, JobState};
use crate::data::catalog::{
    Catalog, Check, Dataset, DatasetState, DatasetStatus, check, human_size,
};
use crate::data::download::FetchOptions;
use crate::labs::datasets::download_job::{KIND, job_name, spawn_download};
use crate::labs::lab::{Lab, load_ron, save_ron};
use crate::widgets::TabCx;
use crate::widgets::open_folder::OpenFolder;

pub mod offer;

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DatasetsTab {
    /// Fetch from `<mirror>/<name>/<path>` instead of the catalog's URLs (empty: GRADLAB_MIRROR
    /// or the catalog).
    pub mirror: String,
    #[serde(skip)]
    rt: Runtime,
}

/// What the tab knows about the disk, refreshed by a worker thread.
#[derive(Default)]
struct Runtime {
    catalog: Option<Catalog>,
    /// Latest status of each dataset, for `status_dir`.
    statuses: HashMap<String, DatasetStatus>,
    status_dir: Option<PathBuf>,
    status_rx: Option<Receiver<Vec<DatasetStatus>>>,
    /// A refresh was asked for while one was running.
    refresh_again: bool,
    /// The current or last job of each dataset, and whether it is a download.
    jobs: HashMap<String, (JobId, Action)>,
    handled: HashSet<JobId>,
    /// Outcome of the last job of each dataset: (is_error, text).
    messages: HashMap<String, (bool, String)>,
    /// "Open folder": the file manager, started on a worker thread.
    open: OpenFolder,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Action {
    Download,
    Verify,
}

impl Lab for DatasetsTab {
    fn id(&self) -> &'static str {
        "datasets"
    }
    fn title(&self) -> &'static str {
        "Datasets"
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
}

impl DatasetsTab {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) {
        let catalog = self.rt.catalog.get_or_insert_with(Catalog::builtin).clone();
        self.collect_finished_jobs(cx);
        if self.rt.status_dir.as_ref() != Some(cx.data_dir) {
            self.rt.statuses.clear();
            self.start_refresh(&catalog, cx);
        }
        self.poll_refresh(&catalog, cx);

        ui.heading("Datasets");
        ui.horizontal_wrapped(|ui| {
            ui.label("Data folder:");
            ui.monospace(cx.data_dir.display().to_string());
            self.rt.open.button(ui, cx.data_dir);
            if ui
                .button("Refresh")
                .on_hover_text("Check again which files are there (sha256 of each)")
                .clicked()
            {
                self.start_refresh(&catalog, cx);
            }
            if self.rt.status_rx.is_some() {
                ui.spinner();
                ui.label("checking files…");
            }
        });
        self.rt.open.message_ui(ui);
        ui.label("Set the folder with --data-dir or GRADLAB_DATA (default: datasets/ in the working directory when it exists there, else the platform data folder). Downloads go to a .part file, are checked against the catalog's sha256 and only then renamed into place.");
        ui.horizontal(|ui| {
            ui.label("Mirror (optional):");
            ui.add(
                egui::TextEdit::singleline(&mut self.mirror)
                    .hint_text("http://host/path  (fetches <mirror>/<name>/<file>)")
                    .desired_width(320.0),
            );
        });
        ui.add_space(6.0);

        for ds in &catalog.datasets {
            self.dataset_card(ui, ds, cx);
            ui.add_space(6.0);
        }
    }

    fn dataset_card(&mut self, ui: &mut egui::Ui, ds: &Dataset, cx: &mut TabCx<'_>) {
        let job = self
            .rt
            .jobs
            .get(&ds.name)
            .and_then(|(id, action)| cx.jobs.get(*id).map(|j| (j, *action)));
        let running = job.as_ref().filter(|(j, _)| j.state.is_running());
        let status = self.rt.statuses.get(&ds.name);
        let (start, stop_job) = ui
            .group(|ui| {
                ui.set_width(ui.available_width());
                ui.horizontal(|ui| {
                    ui.strong(&ds.title);
                    ui.label(format!("({})", ds.name));
                });
                ui.label(&ds.description);
                facts_grid(ui, ds, status, cx.data_dir);
                if let Some(s) = status {
                    problems(ui, s);
                }
                let clicked = action_row(ui, status, running.map(|(j, a)| (*j, *a)));
                if running.is_none()
                    && let Some((is_err, msg)) = self.rt.messages.get(&ds.name)
                {
                    let color = if *is_err {
                        ui.visuals().error_fg_color
                    } else {
                        ui.visuals().text_color()
                    };
                    ui.add(egui::Label::new(egui::RichText::new(msg).color(color)).wrap());
                }
                clicked
            })
            .inner;

        if stop_job && let Some((j, _)) = running {
            j.stop();
        }
        match start {
            Some(Action::Download) => self.start_download(ds, cx),
            Some(Action::Verify) => self.start_verify(ds, cx),
            None => {}
        }
    }

    fn start_download(&mut self, ds: &Dataset, cx: &mut TabCx<'_>) {
        let mut opts = FetchOptions::from_env();
        if !self.mirror.trim().is_empty() {
            opts.mirror = Some(self.mirror.trim().to_string());
        }
        let id = spawn_download(cx.jobs, cx.waker.clone(), ds, cx.data_dir, opts);
        self.rt.messages.remove(&ds.name);
        self.rt.jobs.insert(ds.name.clone(), (id, Action::Download));
    }

    fn start_verify(&mut self, ds: &Dataset, cx: &mut TabCx<'_>) {
        let ds2 = ds.clone();
        let dir = cx.data_dir.clone();
        let id = cx.jobs.spawn(
            KIND,
            &format!("verify {}", ds.name),
            cx.waker.clone(),
            move |sink, stop| {
                let Some(status) = check(&ds2, &dir, Check::Full, sink, stop) else {
                    return Ok(serde_json::json!({"dataset": ds2.name, "cancelled": true}));
                };
                let summary = serde_json::to_value(&status)?;
                sink.payload(Box::new(status));
                Ok(summary)
            },
        );
        self.rt.messages.remove(&ds.name);
        self.rt.jobs.insert(ds.name.clone(), (id, Action::Verify));
    }

    /// Turns each of this tab's jobs that ended into a message, once, and refreshes the status.
    /// A download started from another tab's offer is taken in too, so it shows here as well.
    fn collect_finished_jobs(&mut self, cx: &mut TabCx<'_>) {
        if let Some(catalog) = &self.rt.catalog {
            for ds in &catalog.datasets {
                let name = job_name(&ds.name);
                let newest = cx
                    .jobs
                    .iter()
                    .filter(|j| j.kind == KIND && j.name == name)
                    .map(|j| j.id)
                    .max();
                let known = self.rt.jobs.get(&ds.name).map(|(id, _)| *id);
                if let Some(id) = newest
                    && known.is_none_or(|k| k < id)
                {
                    self.rt.jobs.insert(ds.name.clone(), (id, Action::Download));
                }
            }
        }
        let mut ended = false;
        for (name, (id, action)) in &self.rt.jobs {
            let Some(job) = cx.jobs.get(*id) else {
                continue;
            };
            if job.state.is_running() || !self.rt.handled.insert(*id) {
                continue;
            }
            // A verify brings its own fresh status; only a download changes the disk.
            ended |= *action == Action::Download;
            let msg = match (&job.state, action) {
                (JobState::Failed(e), _) => (true, e.clone()),
                (JobState::Stopped, _) => (false, "Cancelled; nothing new was kept.".to_string()),
                (JobState::Finished(s), Action::Download) => {
                    let n = |k: &str| s[k].as_array().map_or(0, |a| a.len());
                    if s["cancelled"] == true {
                        (false, "Cancelled; nothing new was kept.".to_string())
                    } else {
                        (
                            false,
                            format!(
                                "Downloaded {} files, {} were already present and intact.",
                                n("downloaded"),
                                n("skipped")
                            ),
                        )
                    }
                }
                (JobState::Finished(_), Action::Verify) => match job.latest::<DatasetStatus>() {
                    Some(st) if st.state == DatasetState::Present => (
                        false,
                        format!("Verified: all {} files match their sha256.", st.files.len()),
                    ),
                    Some(st) => {
                        let lines = st.problem_lines();
                        let more = if lines.len() > 3 {
                            format!(" (and {} more)", lines.len() - 3)
                        } else {
                            String::new()
                        };
                        (
                            true,
                            format!(
                                "Verify found {}: {}{more}",
                                st.state,
                                lines[..lines.len().min(3)].join("; ")
                            ),
                        )
                    }
                    None => (false, "Verify was cancelled.".to_string()),
                },
                (JobState::Running, _) => unreachable!("skipped above"),
            };
            if let (Action::Verify, Some(st)) = (action, job.latest::<DatasetStatus>()) {
                self.rt.statuses.insert(name.clone(), st.clone());
            }
            self.rt.messages.insert(name.clone(), msg);
        }
        if ended && let Some(c) = self.rt.catalog.clone() {
            self.start_refresh(&c, cx);
        }
    }

    /// Recomputes every dataset's status on a worker thread (it hashes files).
    fn start_refresh(&mut self, catalog: &Catalog, cx: &TabCx<'_>) {
        self.rt.status_dir = Some(cx.data_dir.clone());
        if self.rt.status_rx.is_some() {
            self.rt.refresh_again = true;
            return;
        }
        let (tx, rx) = mpsc::channel();
        let datasets = catalog.datasets.clone();
        let dir = cx.data_dir.clone();
        let waker = cx.waker.clone();
        let spawned = std::thread::Builder::new()
            .name("dataset-status".into())
            .spawn(move || {
                let _ = tx.send(statuses(&datasets, &dir));
                waker();
            });
        if spawned.is_ok() {
            self.rt.status_rx = Some(rx);
        }
    }

    fn poll_refresh(&mut self, catalog: &Catalog, cx: &TabCx<'_>) {
        let Some(rx) = &self.rt.status_rx else { return };
        match rx.try_recv() {
            Ok(list) => {
                self.rt.status_rx = None;
                // A running download's files are in flux; its result triggers another refresh.
                for st in list {
                    self.rt.statuses.insert(st.name.clone(), st);
                }
                if std::mem::take(&mut self.rt.refresh_again) {
                    self.start_refresh(catalog, cx);
                }
            }
            Err(mpsc::TryRecvError::Empty) => {}
            Err(mpsc::TryRecvError::Disconnected) => self.rt.status_rx = None,
        }
    }

    /// The cached status of a dataset (for tests and other tabs).
    pub fn status(&self, name: &str) -> Option<&DatasetStatus> {
        self.rt.statuses.get(name)
    }

    /// Whether a status refresh or one of this tab's jobs is still running.
    pub fn busy(&self, cx: &TabCx<'_>) -> bool {
        self.rt.status_rx.is_some()
            || self
                .rt
                .jobs
                .values()
                .any(|(id, _)| cx.jobs.get(*id).is_some_and(|j| j.state.is_running()))
    }
}

fn statuses(datasets: &[Dataset], dir: &Path) -> Vec<DatasetStatus> {
    let never = crate::core::StopFlag::new();
    datasets
        .iter()
        .filter_map(|ds| check(ds, dir, Check::Full, &mut NullSink, &never))
        .collect()
}

fn state_look(ui: &egui::Ui, state: DatasetState) -> (&'static str, egui::Color32) {
    let v = ui.visuals();
    match state {
        DatasetState::Present => ("present", egui::Color32::from_rgb(0, 158, 115)),
        DatasetState::Missing => ("missing", v.weak_text_color()),
        DatasetState::Partial => ("partial", v.warn_fg_color),
        DatasetState::Corrupt => ("corrupt", v.error_fg_color),
    }
}

/// Status, size, licence, citation, homepage and folder of a dataset.
fn facts_grid(ui: &mut egui::Ui, ds: &Dataset, status: Option<&DatasetStatus>, data_dir: &Path) {
    egui::Grid::new(("dataset", &ds.name))
        .num_columns(2)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            ui.label("Status");
            match status {
                Some(s) => {
                    let (text, color) = state_look(ui, s.state);
                    ui.colored_label(color, text);
                }
                None => {
                    ui.label("checking…");
                }
            }
            ui.end_row();
            ui.label("Size");
            ui.label(format!("{} in {} files", ds.size_text(), ds.files.len()));
            ui.end_row();
            ui.label("Licence");
            ui.label(&ds.licence);
            ui.end_row();
            ui.label("Citation");
            ui.add(egui::Label::new(&ds.citation).wrap());
            ui.end_row();
            ui.label("Homepage");
            ui.hyperlink(&ds.homepage);
            ui.end_row();
            ui.label("Folder");
            ui.monospace(ds.dir(data_dir).display().to_string());
            ui.end_row();
        });
}

/// The first problems found in a corrupt or partial dataset.
fn problems(ui: &mut egui::Ui, s: &DatasetStatus) {
    let lines = s.problem_lines();
    if matches!(s.state, DatasetState::Corrupt | DatasetState::Partial) {
        for line in lines.iter().take(5) {
            ui.colored_label(ui.visuals().warn_fg_color, line);
        }
        if lines.len() > 5 {
            ui.label(format!("… and {} more", lines.len() - 5));
        }
    }
}

/// Download / Verify buttons and the running job's progress; returns (action to start, cancel).
fn action_row(
    ui: &mut egui::Ui,
    status: Option<&DatasetStatus>,
    running: Option<(&Job, Action)>,
) -> (Option<Action>, bool) {
    let mut start = None;
    let mut stop_job = false;
    ui.horizontal(|ui| {
        let idle = running.is_none();
        let present = status.is_some_and(|s| s.state == DatasetState::Present);
        let hover = if present {
            "All files are present; downloads only what is missing or damaged"
        } else {
            "Download the missing files, checking each sha256"
        };
        if ui
            .add_enabled(idle, egui::Button::new("Download"))
            .on_hover_text(hover)
            .clicked()
        {
            start = Some(Action::Download);
        }
        let has_files = status.is_some_and(|s| s.state != DatasetState::Missing);
        if ui
            .add_enabled(idle && has_files, egui::Button::new("Verify"))
            .on_hover_text("Recompute the sha256 of every file")
            .clicked()
        {
            start = Some(Action::Verify);
        }
        if let Some((j, action)) = running {
            let (done, total) = j.progress;
            let what = if action == Action::Download {
                "downloading"
            } else {
                "verifying"
            };
            ui.add(
                egui::ProgressBar::new(j.fraction())
                    .desired_width(220.0)
                    .text(format!(
                        "{what} {} of {}",
                        human_size(done),
                        human_size(total)
                    )),
            );
            if ui.button("Cancel").clicked() {
                stop_job = true;
            }
        }
    });
    (start, stop_job)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;
    use crate::core::jobs::Jobs;
    use crate::widgets::files::FileTasks;

    struct St {
        tab: DatasetsTab,
        jobs: Jobs,
        files: FileTasks,
        dir: PathBuf,
    }

    fn harness(dir: PathBuf, mirror: &str) -> Harness<'static, St> {
        let st = St {
            tab: DatasetsTab {
                mirror: mirror.into(),
                ..Default::default()
            },
            jobs: Jobs::default(),
            files: FileTasks::default(),
            dir,
        };
        Harness::new_ui_state(
            |ui, st: &mut St| {
                st.jobs.poll();
                let mut cx = TabCx {
                    jobs: &mut st.jobs,
                    files: &mut st.files,
                    data_dir: &st.dir,
                    waker: Arc::new(|| {}),
                    labs: &[],
                };
                st.tab.ui(ui, &mut cx);
            },
            st,
        )
    }

    /// Steps the UI until the status refresh and every job of the tab have ended.
    fn settle(h: &mut Harness<'static, St>) {
        let t = Instant::now();
        loop {
            h.step();
            let st = h.state_mut();
            let cx = TabCx {
                jobs: &mut st.jobs,
                files: &mut st.files,
                data_dir: &st.dir,
                waker: Arc::new(|| {}),
                labs: &[],
            };
            if !st.tab.busy(&cx) && st.tab.status("cora").is_some() {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the Datasets tab did not settle"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        h.step();
        h.step();
    }

    #[test]
    fn empty_folder_shows_missing_and_a_failed_download_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        // Port 9 refuses at once: the download fails without the internet.
        let mut h = harness(dir.path().to_path_buf(), "http://127.0.0.1:9");
        settle(&mut h);
        assert_eq!(
            h.state().tab.status("cora").unwrap().state,
            DatasetState::Missing
        );
        assert_eq!(
            h.query_all_by_label("missing").count(),
            Catalog::builtin().datasets.len()
        );
        h.get_all_by_label("Download").next().unwrap().click();
        h.step();
        assert_eq!(h.state().jobs.iter().filter(|j| j.kind == KIND).count(), 1);
        settle(&mut h);
        assert!(
            h.query_by_label_contains("cora/cora.content").is_some(),
            "no error message naming the file"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "a failed download left files"
        );
    }

    #[test]
    fn the_folder_in_use_is_shown_with_open_folder_that_reports_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("not-yet-there");
        let mut h = harness(data.clone(), "");
        h.state_mut().tab.rt.open = OpenFolder::with_command("false");
        settle(&mut h);
        h.get_by_label(&data.display().to_string());
        h.get_by_label("Open folder").click();
        let t = Instant::now();
        while h.query_by_label_contains("could not open").is_none() {
            assert!(t.elapsed() < Duration::from_secs(10), "no failure message");
            std::thread::sleep(Duration::from_millis(5));
            h.step();
        }
        assert!(data.is_dir(), "the folder is created before it is opened");
        // A launcher that works leaves no message.
        h.state_mut().tab.rt.open = OpenFolder::with_command("true");
        h.step();
        h.get_by_label("Open folder").click();
        h.step();
        let t = Instant::now();
        while h.state().tab.rt.open.busy() {
            assert!(t.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(5));
            h.step();
        }
        h.step();
        assert!(h.query_by_label_contains("could not open").is_none());
    }

    #[test]
    fn verify_runs_as_a_job_and_reports_the_shared_copy_intact() {
        let Some(root) = crate::core::test_util::data_dir_or_skip("cora")
            .and_then(|d| d.parent().map(PathBuf::from))
        else {
            return;
        };
        let mut h = harness(root, "");
        settle(&mut h);
        assert_eq!(
            h.state().tab.status("cora").unwrap().state,
            DatasetState::Present
        );
        h.get_all_by_label("Verify").next().unwrap().click();
        h.step();
        assert!(
            h.state()
                .jobs
                .iter()
                .any(|j| j.kind == KIND && j.name == "verify cora")
        );
        settle(&mut h);
        assert!(
            h.query_by_label_contains("Verified: all 2 files match")
                .is_some()
        );
    }
}
