//! `gradlab theory` end to end: JSON shape, the table, and the error for an unknown id.

use std::process::Command;

fn gradlab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gradlab"))
        .args(args)
        .env(
            "GRADLAB_RUNS",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/runs"),
        )
        .output()
        .expect("gradlab runs")
}

#[test]
fn one_check_as_json_has_the_documented_fields() {
    let out = gradlab(&["theory", "--check", "attention_conv1d", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("exactly one JSON object on stdout");
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1);
    let c = &checks[0];
    for key in [
        "id",
        "claim",
        "holds",
        "verdict",
        "conditions",
        "trials",
        "worst",
        "tolerance",
        "counterexample",
        "seconds",
    ] {
        assert!(c.get(key).is_some(), "missing {key}: {c}");
    }
    assert_eq!(c["id"], "attention_conv1d");
    assert_eq!(c["holds"], false);
    assert!(c["counterexample"]["input"]["x"].is_array());
    assert_eq!(c["corrected"]["holds"], true);
    assert_eq!(c["verdict"], "fails");
    let verdicts: Vec<&str> = c["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["fails", "holds"], "{}", c["conditions"]);
}

/// Every check reports a verdict in {holds, fails, inconclusive} per condition, and JL includes
/// configurations where the claim is at least 100 vectors with the count measured there.
#[test]
fn every_check_has_verdicts_per_condition_and_jl_reaches_a_hundred() {
    let out = gradlab(&["theory", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 7);
    for c in checks {
        let conds = c["conditions"].as_array().unwrap();
        assert!(!conds.is_empty(), "{}", c["id"]);
        for k in conds.iter().chain([c]) {
            let verdict = k["verdict"].as_str().unwrap();
            assert!(["holds", "fails", "inconclusive"].contains(&verdict), "{k}");
        }
    }
    let jl = checks
        .iter()
        .find(|c| c["id"] == "jl_near_orthogonal")
        .unwrap();
    let big = jl["figures"]["claimed_at_least_100"].as_array().unwrap();
    assert!(
        big.iter()
            .any(|m| m["judged"] == true
                && m["count"].as_f64().unwrap() >= m["bound"].as_f64().unwrap()),
        "{big:?}"
    );
    assert!(jl["figures"]["cap"].as_u64().unwrap() >= 100);
}

#[test]
fn table_and_unknown_id() {
    let out = gradlab(&["theory", "--check", "rnn_sigmoid_bound"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("rnn_sigmoid_bound") && text.contains("tolerance") && text.contains("holds"),
        "{text}"
    );

    let bad = gradlab(&["theory", "--check", "nope"]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.starts_with("error:")
            && err.contains("jl_near_orthogonal")
            && err.contains("relu_chain"),
        "{err}"
    );
}
