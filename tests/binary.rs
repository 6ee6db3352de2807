//! Launches the real binary in a virtual X server, lets it draw, and checks the screenshot it
//! takes of itself is a real picture (not blank). Skipped when Xvfb is missing, except in CI.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running Xvfb, stopped with SIGTERM on drop so it removes its socket and lock file: a
/// SIGKILLed server leaves both behind, and enough of them once made every display number
/// this test tried look taken.
struct Xvfb(Child);

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid; no memory is touched.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts Xvfb on a display it picks itself (`-displayfd`: it skips displays whose lock
/// belongs to a live server and reclaims stale ones), and returns it with its `DISPLAY`.
/// `Err` says why not; `Ok(None)` means Xvfb is not installed.
fn start_xvfb() -> Result<Option<(Xvfb, String)>, String> {
    let spawned = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x860x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("could not start Xvfb: {e}")),
    };
    let stdout = child.stdout.take().expect("piped stdout");
    let guard = Xvfb(child);
    // Xvfb writes the display number once it accepts connections, or exits (EOF) if it
    // cannot; the thread turns that blocking read into one with a timeout.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = BufReader::new(stdout);
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let _ = tx.send(line);
        // Keep reading until Xvfb exits: a closed pipe would kill it (SIGPIPE) if it ever
        // wrote to stdout again.
        let mut rest = String::new();
        while out.read_line(&mut rest).is_ok_and(|n| n > 0) {
            rest.clear();
        }
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(line) if line.trim().parse::<u32>().is_ok() => {
            Ok(Some((guard, format!(":{}", line.trim()))))
        }
        Ok(line) => Err(format!("Xvfb exited without a display (printed {line:?})")),
        Err(_) => Err("Xvfb gave no display within 20 s".into()),
    }
}

#[test]
fn window_opens_and_draws_under_xvfb() {
    let Some((_xvfb, display)) = start_xvfb().unwrap() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Xvfb is needed in CI (apt-get install xvfb)"
        );
        eprintln!("skipped: no Xvfb");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let runtime = tempfile::tempdir().unwrap();
    let shot = dir.path().join("window.png");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gradlab"))
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
    Command::new(env!("CARGO_BIN_EXE_gradlab"))
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
