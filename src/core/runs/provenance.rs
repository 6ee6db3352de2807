//! Where a run came from: gradlab version, the commit it was built from, the machine.

use serde_json::{Value, json};

/// The git commit this binary was built from (build.rs), when built from a checkout.
pub const GIT_COMMIT: Option<&str> = option_env!("GRADLAB_GIT_COMMIT");

/// CPU model and thread count, as a JSON object stored with each run.
pub fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    json!({
        "cpu": cpu,
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "os": std::env::consts::OS,
    })
}

/// This process's command line, quoted for a POSIX shell so it can be pasted back.
pub fn command_line() -> String {
    let mut args = std::env::args();
    let mut out = vec!["gradlab".to_string()];
    args.next();
    out.extend(args.map(|a| shell_quote(&a)));
    out.join(" ")
}

/// Words quoted for a POSIX shell and joined: a command line someone can paste.
pub fn quote_args(args: &[String]) -> String {
    args.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(a: &str) -> String {
    let plain = !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_plain_words_and_protects_the_rest() {
        assert_eq!(shell_quote("--epochs=3"), "--epochs=3");
        assert_eq!(shell_quote("my data"), "'my data'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert!(machine()["threads"].as_u64().unwrap() >= 1);
    }
}
