//! Unattended screenshots for the CI smoke test and the README pictures:
//! `GRADLAB_SCREENSHOT=out.png [GRADLAB_SCREENSHOT_AFTER=secs] gradlab` saves the window as PNG
//! after the given time (default 2 s) and closes the app.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eframe::egui;

use crate::core::files::{atomic_write, png_bytes};

pub struct AutoShot {
    path: PathBuf,
    after: Duration,
    started: Instant,
    requested: bool,
}

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
        })
    }

    /// Call every frame: keeps frames coming and asks for the screenshot once the time is up.
    pub fn tick(&mut self, ctx: &egui::Context) {
        if self.requested {
            return;
        }
        if self.started.elapsed() < self.after {
            ctx.request_repaint_after(Duration::from_millis(50));
            return;
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
