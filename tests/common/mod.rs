//! What the tests that drive the `gradlab` binary against a run store share.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// The binary under test: cargo's, or `GRADLAB_TEST_BIN` (a copy taken right after the build,
/// where several worktrees share one target folder and a later build replaces cargo's).
pub fn bin() -> std::ffi::OsString {
    std::env::var_os("GRADLAB_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_gradlab").into())
}

/// Runs `gradlab ARGS --runs-dir RUNS`, ignoring any GRADLAB_RUNS of the environment.
pub fn gradlab(runs: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .arg("--runs-dir")
        .arg(runs)
        .env_remove("GRADLAB_RUNS")
        .output()
        .expect("start gradlab")
}

/// The one JSON object a successful `--json` command printed; fails the test on exit != 0.
pub fn json_of(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("one JSON object on stdout")
}
