//! What the tests that drive the `gradlab` binary against a run store share.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Runs `gradlab ARGS --runs-dir RUNS`, ignoring any GRADLAB_RUNS of the environment.
pub fn gradlab(runs: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradlab"))
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
