//! Launches the real binary in a virtual X server, lets it draw, and checks the screenshot it
//! takes of itself is a real picture (not blank); the layout snapshots of every lab
//! (`snapshots/`). Both are skipped when Xvfb is missing, except in CI.

use std::process::Command;
use std::time::{Duration, Instant};

#[path = "snapshots/mod.rs"]
mod snapshots;
#[path = "common/xvfb.rs"]
mod xvfb;

/// The binary under test: cargo's, or `GRADLAB_TEST_BIN` (a copy taken right after the build:
/// a target folder shared by several checkouts may hold another branch's binary by the time the
/// tests run, and the snapshots then compare that one).
fn gradlab_bin() -> std::ffi::OsString {
    std::env::var_os("GRADLAB_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_gradlab").into())
}

#[test]
fn window_opens_and_draws_under_xvfb() {
    let Some((_xvfb, display)) = xvfb::xvfb_or_skip("1280x860x24") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let runtime = tempfile::tempdir().unwrap();
    let shot = dir.path().join("window.png");
    let mut child = Command::new(gradlab_bin())
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env("HOME", dir.path())
        .env("GRADLAB_SCREENSHOT", &shot)
        .env("GRADLAB_SCREENSHOT_AFTER", "1.5")
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .spawn()
        .expect("start gradlab");
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("gradlab did not close within 90 s after its screenshot");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "gradlab exited with {status}");
    let img = image::open(&shot).expect("screenshot written").to_rgba8();
    assert!(
        img.width() >= 640 && img.height() >= 400,
        "tiny window: {:?}",
        img.dimensions()
    );
    let first = img.get_pixel(0, 0);
    let differing = img.pixels().filter(|p| *p != first).count();
    assert!(
        differing > 1000,
        "the window looks blank ({differing} pixels differ from the corner)"
    );
}

fn gradlab(args: &[&str]) -> std::process::Output {
    Command::new(gradlab_bin())
        .args(args)
        .env(
            "GRADLAB_RUNS",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/runs"),
        )
        .output()
        .expect("run gradlab")
}

#[test]
fn help_lists_every_subcommand() {
    let out = gradlab(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["theory", "graph", "seg", "bench", "data"] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(cmd)),
            "--help does not list {cmd}:\n{text}"
        );
    }
}

#[test]
fn unknown_subcommand_fails_with_a_message() {
    let out = gradlab(&["frobnicate"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("frobnicate"));
}
