//! A watchdog for tests: a hang becomes a failure that shows where it hung.

use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::time::Duration;

/// Ends the process when a test outlives `limit`, after writing what hung and every
/// thread's stack (through gdb, where it is installed) to stderr. A hang then fails in minutes,
/// with the place it hung, instead of running CI into its time limit. Dropping the watchdog
/// (the test ended) disarms it.
pub struct Watchdog {
    _armed: Sender<()>,
}

impl Watchdog {
    pub fn new(what: &str, limit: Duration) -> Watchdog {
        let (tx, rx) = channel::<()>();
        let what = what.to_string();
        std::thread::Builder::new()
            .name("test-watchdog".into())
            .spawn(move || {
                if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                    report_hang(&what, limit);
                    std::process::abort();
                }
            })
            .expect("a thread for the watchdog");
        Watchdog { _armed: tx }
    }
}

fn report_hang(what: &str, limit: Duration) {
    use std::io::Write;
    // Straight to the file descriptor: eprintln! would be captured by the test harness and
    // never shown, since the test does not end.
    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "\nWATCHDOG: {what} still running after {} s; every thread's stack follows, then abort.",
        limit.as_secs()
    );
    let gdb = std::process::Command::new("gdb")
        .args(["-p", &std::process::id().to_string(), "-batch", "-nx"])
        .args(["-ex", "set pagination off", "-ex", "thread apply all bt 40"])
        .stdin(std::process::Stdio::null())
        .output();
    match gdb {
        Ok(out) => {
            let _ = err.write_all(&out.stdout);
            let _ = err.write_all(&out.stderr);
        }
        Err(e) => {
            let _ = writeln!(err, "(no stacks: cannot run gdb: {e})");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_watchdog_never_fires() {
        // Were it still armed, the process would abort during the sleep and the run fail.
        drop(Watchdog::new("nothing", Duration::from_millis(50)));
        std::thread::sleep(Duration::from_millis(300));
    }
}
