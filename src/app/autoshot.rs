//! Unattended screenshots for the CI smoke test, the layout snapshot tests and the README
//! pictures: `GRADLAB_SCREENSHOT=out.png [GRADLAB_SCREENSHOT_AFTER=secs] gradlab` saves the window
//! as PNG after the given time (default 2 s) and closes the app. With `GRADLAB_SCREENSHOT_IDLE=1`
//! it also waits until no job has run for half a second (the Theory tab's start-up checks, a
//! lab reopening its runs), at most two minutes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eframe::egui;

use crate::core::files::{atomic_write, png_bytes};

pub struct AutoShot {
    path: PathBuf,
    after: Duration,
    started: Instant,
    requested: bool,
    /// Wait for the jobs to end too (`GRADLAB_SCREENSHOT_IDLE`).
    idle: bool,
    /// Since when no job has been running (with `idle`).
    quiet_since: Option<Instant>,
}

/// How long the jobs must have been quiet: the frames after a job's end lay out its results.
const QUIET: Duration = Duration::from_millis(500);
/// The longest an idle screenshot waits for the jobs.
const IDLE_LIMIT: Duration = Duration::from_secs(120);

impl AutoShot {
    pub fn from_env() -> Option<Self> {
        let path = PathBuf::from(std::env::var_os("GRADLAB_SCREENSHOT")?);
        let secs = std::env::var("GRADLAB_SCREENSHOT_AFTER")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(2.0);
        Some(Self {
            path,
            after: Duration::from_secs_f64(secs.max(0.0)),
            started: Instant::now(),
            requested: false,
            idle: std::env::var_os("GRADLAB_SCREENSHOT_IDLE").is_some(),
            quiet_since: None,
        })
    }

    /// Call every frame with whether a job runs: keeps frames coming and asks for the
    /// screenshot once the time is up (and, with `idle`, the jobs have been quiet a while).
    pub fn tick(&mut self, ctx: &egui::Context, busy: bool) {
        if self.requested {
            return;
        }
        let now = Instant::now();
        if busy {
            self.quiet_since = None;
        } else if self.quiet_since.is_none() {
            self.quiet_since = Some(now);
        }
        let waited = now.duration_since(self.started);
        let quiet = self
            .quiet_since
            .is_some_and(|t| now.duration_since(t) >= QUIET);
        if waited < self.after || (self.idle && !quiet && waited < IDLE_LIMIT) {
            // Frames enough to notice the time; each costs a software renderer real CPU time
            // when many windows wait at once (the snapshot tests).
            ctx.request_repaint_after(Duration::from_millis(200));
            return;
        }
        if self.idle && !quiet {
            eprintln!(
                "screenshot: jobs still running after {} s; taking it anyway",
                IDLE_LIMIT.as_secs()
            );
        }
        self.requested = true;
        let path = self.path.clone();
        let close_ctx = ctx.clone();
        ctx.request_screenshot(move |img| {
            let rgba = crate::widgets::plot::color_image_to_rgba(&img);
            let result = png_bytes(&rgba).and_then(|b| atomic_write(&path, &b));
            match result {
                Ok(()) => eprintln!("screenshot saved to {}", path.display()),
                Err(e) => eprintln!("error: screenshot: {e:#}"),
            }
            close_ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        });
    }
}
