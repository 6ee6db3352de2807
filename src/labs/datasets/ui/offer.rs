//! "Download Cora (7.5 MB)" where a lab chooses its dataset: the Datasets tab's download job,
//! its progress in place, and a signal when it is done so the lab can switch to the data.
//!
//! The lab keeps no state for it: the job is found by its name in the job list, and the id of
//! the download this offer started lives in egui's memory under the dataset's name.

use std::sync::OnceLock;

use eframe::egui;

use crate::core::jobs::{JobId, JobState};
use crate::data::catalog::{Catalog, human_size};
use crate::data::download::FetchOptions;
use crate::labs::datasets::download_job::{running_download, spawn_download};
use crate::widgets::TabCx;

/// What one offer remembers between frames.
#[derive(Clone, Default)]
struct OfferMemory {
    /// The download started by this offer, until its end has been reported.
    started: Option<JobId>,
    /// How the last download started here ended, when not well: (text).
    failure: Option<String>,
}

/// One dataset's download offer; `show` draws it and says when its download has finished.
pub struct DownloadOffer<'a> {
    dataset: &'a str,
    short: &'a str,
    present: bool,
    reason: Option<&'a str>,
    /// Where to fetch from; `None`: the catalog's URLs or `GRADLAB_MIRROR`.
    options: Option<FetchOptions>,
}

impl<'a> DownloadOffer<'a> {
    /// `dataset` is the catalog name (`cora`), `short` what the button calls it (`Cora`).
    pub fn new(dataset: &'a str, short: &'a str) -> Self {
        Self {
            dataset,
            short,
            present: false,
            reason: None,
            options: None,
        }
    }

    /// Whether the dataset is there already: then only a running download is shown.
    pub fn present(mut self, present: bool) -> Self {
        self.present = present;
        self
    }

    /// A word before the button saying why it is offered ("not downloaded").
    pub fn reason(mut self, reason: &'a str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Fetch with these options (a mirror, timeouts) instead of [`FetchOptions::from_env`].
    pub fn options(mut self, options: FetchOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// Draws the button or the running download's progress; true on the one frame on which a
    /// download started here has finished with every file in place.
    pub fn show(self, ui: &mut egui::Ui, cx: &mut TabCx<'_>) -> bool {
        let key = egui::Id::unique(("download_offer", self.dataset));
        let mut mem: OfferMemory = ui.data(|d| d.get_temp(key)).unwrap_or_default();
        let mut done = false;
        if let Some(id) = mem.started
            && let Some(job) = cx.jobs.get(id)
            && !job.state.is_running()
        {
            mem.started = None;
            match &job.state {
                JobState::Finished(s) if s["cancelled"] != true => done = true,
                JobState::Failed(e) => mem.failure = Some(e.clone()),
                _ => mem.failure = Some("Download cancelled.".into()),
            }
        }
        let running = running_download(cx.jobs, self.dataset);
        if let Some(id) = running {
            if let Some(job) = cx.jobs.get(id) {
                ui.horizontal(|ui| {
                    ui.spinner();
                    let (got, total) = job.progress;
                    ui.add(
                        egui::ProgressBar::new(job.fraction())
                            .desired_width(200.0)
                            .text(format!(
                                "{}: {} of {}",
                                self.short,
                                human_size(got),
                                human_size(total)
                            )),
                    );
                    if ui.small_button("Cancel").clicked() {
                        job.stop();
                    }
                });
            }
        } else if !self.present {
            match catalog().get(self.dataset) {
                Some(ds) => {
                    ui.horizontal(|ui| {
                        if let Some(r) = self.reason {
                            ui.weak(r);
                        }
                        let label = format!("Download {} ({})", self.short, ds.size_text());
                        let hover = format!(
                            "{} into {}; licence: {}",
                            ds.title,
                            ds.dir(cx.data_dir).display(),
                            ds.licence
                        );
                        if ui.button(label).on_hover_text(hover).clicked() {
                            mem.failure = None;
                            mem.started = Some(spawn_download(
                                cx.jobs,
                                cx.waker.clone(),
                                ds,
                                cx.data_dir,
                                self.options.clone().unwrap_or_else(FetchOptions::from_env),
                            ));
                        }
                    });
                }
                None => {
                    ui.weak(format!("{} is not in the dataset catalog", self.dataset));
                }
            }
        }
        if let Some(e) = &mem.failure
            && running.is_none()
        {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        ui.data_mut(|d| d.insert_temp(key, mem));
        done
    }
}

/// The built-in catalog, parsed once (every frame asks for it).
fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::builtin)
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;
    use crate::core::jobs::Jobs;
    use crate::widgets::files::FileTasks;

    struct St {
        jobs: Jobs,
        files: FileTasks,
        dir: PathBuf,
        mirror: String,
        /// Frames on which `show` returned true.
        switched: usize,
    }

    fn harness(dir: &Path, mirror: &str) -> Harness<'static, St> {
        let st = St {
            jobs: Jobs::default(),
            files: FileTasks::default(),
            dir: dir.to_path_buf(),
            mirror: mirror.into(),
            switched: 0,
        };
        Harness::new_ui_state(
            |ui, st: &mut St| {
                st.jobs.poll();
                let present = st.dir.join("cora/cora.content").is_file();
                let opts = FetchOptions {
                    mirror: Some(st.mirror.clone()),
                    ..FetchOptions::default()
                };
                let mut cx = TabCx {
                    jobs: &mut st.jobs,
                    files: &mut st.files,
                    data_dir: &st.dir,
                    waker: Arc::new(|| {}),
                    labs: &[],
                };
                if DownloadOffer::new("cora", "Cora")
                    .present(present)
                    .options(opts)
                    .show(ui, &mut cx)
                {
                    st.switched += 1;
                }
            },
            st,
        )
    }

    fn until_idle(h: &mut Harness<'static, St>) {
        let t = Instant::now();
        while h.state().jobs.any_running() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "download did not end"
            );
            std::thread::sleep(Duration::from_millis(5));
            h.step();
        }
        h.step();
        h.step();
    }

    /// Serves `<root>/<path>` at `/<path>` over HTTP on 127.0.0.1.
    fn serve(root: PathBuf) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let rel = request.split_whitespace().nth(1).unwrap_or("/");
                let body =
                    std::fs::read(root.join(rel.trim_start_matches('/'))).unwrap_or_default();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        base
    }

    #[test]
    fn the_button_downloads_in_place_and_says_when_done_once() {
        let Some(cora) = crate::core::test_util::data_dir_or_skip("cora") else {
            return;
        };
        let base = serve(cora.parent().unwrap().to_path_buf());
        let dir = tempfile::tempdir().unwrap();
        let mut h = harness(dir.path(), &base);
        h.step();
        let size = human_size(catalog().get("cora").unwrap().total_size());
        h.get_by_label(&format!("Download Cora ({size})")).click();
        h.step();
        assert_eq!(h.state().jobs.iter().count(), 1);
        until_idle(&mut h);
        assert!(dir.path().join("cora/cora.content").is_file());
        assert_eq!(
            h.state().switched,
            1,
            "the end of the download is reported once"
        );
        assert!(h.query_by_label_contains("Download Cora").is_none());
        h.run_steps(3);
        assert_eq!(h.state().switched, 1);
    }

    #[test]
    fn a_failed_download_says_why_and_offers_the_button_again() {
        let dir = tempfile::tempdir().unwrap();
        // Port 9 refuses at once: the download fails without the internet.
        let mut h = harness(dir.path(), "http://127.0.0.1:9");
        h.step();
        h.get_by_label_contains("Download Cora (").click();
        h.step();
        until_idle(&mut h);
        assert_eq!(h.state().switched, 0);
        assert!(
            h.query_by_label_contains("cora.content").is_some(),
            "no error naming the file"
        );
        assert!(h.query_by_label_contains("Download Cora (").is_some());
    }
}
