//! File dialogs and file writes, all off the UI thread; results come back as messages.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use crate::core::files::atomic_write;

/// A finished file task: what to tell the user.
#[derive(Debug, Clone, PartialEq)]
pub enum FileMsg {
    Saved(PathBuf),
    Picked { key: String, path: PathBuf },
    Error(String),
    Info(String),
}

/// How dialogs are answered: by a real rfd dialog, or (tests, headless use) by a fixed folder.
#[derive(Clone, Debug)]
enum DialogMode {
    Native,
    Fixed(PathBuf),
}

/// A cheap handle that background callbacks (a screenshot, say) use to save a file.
#[derive(Clone)]
pub struct Saver {
    tx: Sender<FileMsg>,
    mode: DialogMode,
    ctx: Option<eframe::egui::Context>,
}

/// A dialog that returns None this fast was never shown (no portal, no zenity): a person
/// cannot cancel a dialog in a tenth of a second.
const DIALOG_MISSING: Duration = Duration::from_millis(150);

fn fallback_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join("gradlab-exports")
}

impl Saver {
    /// Asks where to save (default `file_name`), then writes what `produce` returns, atomically,
    /// on a worker thread.
    pub fn save(
        &self,
        file_name: &str,
        filter: (&str, &[&str]),
        produce: impl FnOnce() -> anyhow::Result<Vec<u8>> + Send + 'static,
    ) {
        self.save_with_csv(file_name, filter, move || Ok((produce()?, None)));
    }

    /// Like [`Self::save`], and when `produce` also returns CSV text, writes it beside the file
    /// (same name, `.csv`): a figure together with the data it plots.
    pub fn save_with_csv(
        &self,
        file_name: &str,
        filter: (&str, &[&str]),
        produce: impl FnOnce() -> anyhow::Result<(Vec<u8>, Option<String>)> + Send + 'static,
    ) {
        let this = self.clone();
        let file_name = file_name.to_string();
        let (fname, exts) = (
            filter.0.to_string(),
            filter.1.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        );
        std::thread::spawn(move || {
            let msg = match this.ask_save_path(&file_name, &fname, &exts) {
                Ok(Some(path)) => {
                    let written = produce().and_then(|(bytes, csv)| {
                        atomic_write(&path, &bytes)?;
                        if let Some(csv) = csv {
                            atomic_write(&path.with_extension("csv"), csv.as_bytes())?;
                        }
                        Ok(())
                    });
                    match written {
                        Ok(()) => FileMsg::Saved(path),
                        Err(e) => FileMsg::Error(format!("{e:#}")),
                    }
                }
                Ok(None) => return,
                Err(msg) => FileMsg::Error(msg),
            };
            this.send(msg);
        });
    }

    fn ask_save_path(
        &self,
        file_name: &str,
        filter: &str,
        exts: &[String],
    ) -> Result<Option<PathBuf>, String> {
        match &self.mode {
            DialogMode::Fixed(dir) => Ok(Some(dir.join(file_name))),
            DialogMode::Native => {
                let t = Instant::now();
                let picked = rfd::FileDialog::new()
                    .set_file_name(file_name)
                    .add_filter(filter, exts)
                    .save_file();
                match picked {
                    Some(p) => Ok(Some(p)),
                    None if t.elapsed() < DIALOG_MISSING => {
                        let dir = fallback_dir();
                        std::fs::create_dir_all(&dir)
                            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                        self.send(FileMsg::Info(format!(
                            "No file dialog is available (install xdg-desktop-portal or zenity); saving into {}",
                            dir.display()
                        )));
                        Ok(Some(dir.join(file_name)))
                    }
                    None => Ok(None),
                }
            }
        }
    }

    fn send(&self, msg: FileMsg) {
        let _ = self.tx.send(msg);
        if let Some(ctx) = &self.ctx {
            ctx.request_repaint();
        }
    }
}

/// Owns the file tasks of the app and the messages they leave for the user.
pub struct FileTasks {
    saver: Saver,
    rx: Receiver<FileMsg>,
    /// Newest last; shown in the status bar.
    pub messages: Vec<(Instant, FileMsg)>,
    picked: Vec<(String, PathBuf)>,
    /// Messages up to this one were dismissed.
    dismissed: Option<Instant>,
}

impl Default for FileTasks {
    fn default() -> Self {
        Self::with_mode(DialogMode::Native)
    }
}

impl FileTasks {
    /// Dialogs are skipped: saves go into `dir` under their default name, and a pick under `key`
    /// returns `dir/key` when that exists, else `dir`.
    pub fn fixed_dir(dir: &Path) -> Self {
        Self::with_mode(DialogMode::Fixed(dir.to_path_buf()))
    }

    fn with_mode(mode: DialogMode) -> Self {
        let (tx, rx) = mpsc::channel();
        Self {
            saver: Saver {
                tx,
                mode,
                ctx: None,
            },
            rx,
            messages: Vec::new(),
            picked: Vec::new(),
            dismissed: None,
        }
    }

    pub fn set_context(&mut self, ctx: &eframe::egui::Context) {
        if self.saver.ctx.is_none() {
            self.saver.ctx = Some(ctx.clone());
        }
    }

    pub fn saver(&self) -> Saver {
        self.saver.clone()
    }

    /// Opens a file (or, with `folder`, a folder) picker on a worker thread; the answer is later
    /// returned by [`Self::take_picked`] under `key`.
    pub fn pick(&self, key: &str, folder: bool, filter: Option<(&str, &[&str])>) {
        let saver = self.saver.clone();
        let key = key.to_string();
        let filter = filter.map(|(n, e)| {
            (
                n.to_string(),
                e.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        });
        std::thread::spawn(move || {
            let t = Instant::now();
            let picked = match &saver.mode {
                DialogMode::Fixed(dir) => Some(
                    Some(dir.join(&key))
                        .filter(|p| p.exists())
                        .unwrap_or_else(|| dir.clone()),
                ),
                DialogMode::Native => {
                    let mut d = rfd::FileDialog::new();
                    if let Some((n, e)) = &filter {
                        d = d.add_filter(n, e);
                    }
                    if folder {
                        d.pick_folder()
                    } else {
                        d.pick_file()
                    }
                }
            };
            match picked {
                Some(path) => saver.send(FileMsg::Picked { key, path }),
                None if t.elapsed() < DIALOG_MISSING => saver.send(FileMsg::Error(
                    "No file dialog is available: install xdg-desktop-portal or zenity, or use the CLI with a path".into(),
                )),
                None => {}
            }
        });
    }

    /// Collects finished tasks; call once per frame.
    pub fn poll(&mut self) {
        while let Ok(msg) = self.rx.try_recv() {
            if let FileMsg::Picked { key, path } = &msg {
                self.picked.push((key.clone(), path.clone()));
            }
            self.messages.push((Instant::now(), msg));
        }
        if self.messages.len() > 50 {
            self.messages.drain(..self.messages.len() - 50);
        }
    }

    pub fn take_picked(&mut self, key: &str) -> Option<PathBuf> {
        let i = self.picked.iter().position(|(k, _)| k == key)?;
        Some(self.picked.remove(i).1)
    }

    /// The newest message, until it is dismissed.
    pub fn last_message(&self) -> Option<&FileMsg> {
        self.messages
            .last()
            .filter(|(t, _)| self.dismissed.is_none_or(|d| *t > d))
            .map(|(_, m)| m)
    }

    /// Hides the newest message (the status bar's ×); a newer one shows again.
    pub fn dismiss_last(&mut self) {
        self.dismissed = self.messages.last().map(|(t, _)| *t);
    }
}
