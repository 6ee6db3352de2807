//! A virtual X server for the tests that open the real window (`tests/binary.rs`: the smoke test
//! and the layout snapshots).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running Xvfb, stopped with SIGTERM on drop so it removes its socket and lock file: a
/// SIGKILLed server leaves both behind, and enough of them once made every display number
/// this test tried look taken.
pub struct Xvfb(Child);

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

/// Starts Xvfb with one screen of `screen` ("WxHxDEPTH") on a display it picks itself
/// (`-displayfd`: it skips displays whose lock belongs to a live server and reclaims stale
/// ones), and returns it with its `DISPLAY`. `Err` says why not; `Ok(None)` means Xvfb is not
/// installed.
pub fn start_xvfb(screen: &str) -> Result<Option<(Xvfb, String)>, String> {
    let spawned = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            screen,
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

/// Xvfb, or `None` after saying why the test is skipped: a machine without Xvfb skips the
/// test, except in CI (`CI` set), where that fails it.
pub fn xvfb_or_skip(screen: &str) -> Option<(Xvfb, String)> {
    let started = start_xvfb(screen).unwrap();
    if started.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "Xvfb is needed in CI (apt-get install xvfb)"
        );
        eprintln!("skipped: no Xvfb");
    }
    started
}
