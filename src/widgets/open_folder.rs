//! "Open folder": shows a folder in the desktop's file manager (`xdg-open`, `open` on macOS,
//! `explorer` on Windows). The program runs on a worker thread, since it can take a while to
//! return; when it cannot be run or fails, the widget says so and names the folder.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};

use eframe::egui;

#[derive(Default)]
pub struct OpenFolder {
    /// The program instead of the platform's (tests use `true` / `false`).
    command: Option<OsString>,
    pending: Option<Receiver<Result<(), String>>>,
    /// The last failure, shown until the next try.
    error: Option<String>,
}

impl OpenFolder {
    /// Opens folders with `program` instead of the platform's file-manager launcher.
    pub fn with_command(program: impl Into<OsString>) -> Self {
        Self {
            command: Some(program.into()),
            ..Self::default()
        }
    }

    /// The button; a click creates the folder if needed and opens it in the background.
    pub fn button(&mut self, ui: &mut egui::Ui, dir: &Path) {
        self.poll();
        let idle = self.pending.is_none();
        if ui
            .add_enabled(idle, egui::Button::new("Open folder"))
            .on_hover_text("Show this folder in the file manager (it is created if missing)")
            .clicked()
        {
            self.start(dir.to_path_buf(), ui.ctx().clone());
        }
        if !idle {
            ui.spinner();
        }
    }

    /// The failure of the last try, if any (drawn where the caller wants it).
    pub fn message_ui(&mut self, ui: &mut egui::Ui) {
        self.poll();
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    }

    /// Whether the file manager is still being started.
    pub fn busy(&self) -> bool {
        self.pending.is_some()
    }

    fn start(&mut self, dir: PathBuf, ctx: egui::Context) {
        self.error = None;
        let program = self.command.clone().unwrap_or_else(platform_opener);
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("open-folder".into())
            .spawn(move || {
                let _ = tx.send(open(&program, &dir));
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => self.pending = Some(rx),
            Err(e) => self.error = Some(format!("Could not open the folder: {e}")),
        }
    }

    fn poll(&mut self) {
        let Some(rx) = &self.pending else { return };
        match rx.try_recv() {
            Ok(res) => {
                self.pending = None;
                self.error = res.err();
            }
            Err(mpsc::TryRecvError::Empty) => {}
            Err(mpsc::TryRecvError::Disconnected) => self.pending = None,
        }
    }
}

fn platform_opener() -> OsString {
    if cfg!(target_os = "macos") {
        "open".into()
    } else if cfg!(windows) {
        "explorer".into()
    } else {
        "xdg-open".into()
    }
}

/// Creates `dir` if needed and runs `program dir`; the error names the program and the folder.
fn open(program: &OsString, dir: &Path) -> Result<(), String> {
    let shown = program.to_string_lossy();
    std::fs::create_dir_all(dir).map_err(|e| format!("Could not create {}: {e}", dir.display()))?;
    match std::process::Command::new(program).arg(dir).status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!(
            "{shown} could not open {} ({s}); open it in your file manager.",
            dir.display()
        )),
        Err(e) => Err(format!(
            "Could not run {shown} to open {} ({e}); open it in your file manager.",
            dir.display()
        )),
    }
}
