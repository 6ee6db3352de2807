//! Graph datasets through the real binary: a user's CSV folder (training, inspection, bad
//! input), the Planetoid files (Citeseer, Cora with the planetoid split) and their split sizes.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "common/outcome.rs"]
mod outcome;
use outcome::{Run, assert_fails, json_of};

fn gradlab(data: &Path, runs: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_gradlab"))
        .arg("--data-dir")
        .arg(data)
        .arg("--runs-dir")
        .arg(runs)
        .args(args)
        .output()
        .expect("start gradlab");
    Run::from(out)
}

/// A 3-class graph of 150 nodes (50 per class, 5 of them unlabelled), words features that
/// carry the class, edges mostly inside a class, one duplicate and one self-loop.
pub fn write_graph_folder(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut nodes = String::from("id,label,words\n");
    let mut edges = String::from("source,target\n");
    for i in 0..150usize {
        let c = i % 3;
        let label = if i % 30 == 29 {
            String::new()
        } else {
            format!("topic-{c}")
        };
        let words: Vec<String> = (0..4)
            .map(|k| (c * 10 + (i * 7 + k * 3) % 10).to_string())
            .collect();
        nodes.push_str(&format!("n{i},{label},{}\n", words.join(" ")));
        for d in [3, 6] {
            edges.push_str(&format!("n{i},n{}\n", (i + d) % 150));
        }
    }
    edges.push_str("n0,n3\nn5,n5\n");
    std::fs::write(dir.join("nodes.csv"), nodes).unwrap();
    std::fs::write(dir.join("edges.csv"), edges).unwrap();
}

#[test]
fn a_user_graph_folder_trains_and_is_inspected() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, runs) = (tmp.path().join("data"), tmp.path().join("runs"));
    let folder = tmp.path().join("my-graph");
    write_graph_folder(&folder);
    let f = folder.to_str().unwrap();
    let v = json_of(&gradlab(
        &data,
        &runs,
        &[
            "graph",
            "--dataset",
            f,
            "--model",
            "gcn",
            "--seeds",
            "2",
            "--epochs",
            "5",
            "--json",
        ],
    ));
    assert_eq!(v["dataset"], "my-graph");
    assert_eq!(v["split"], "random");
    // 145 labelled nodes: 20 per class train, half of the other 85 (42) validate, 43 test.
    assert_eq!(
        (&v["n_train"], &v["n_val"], &v["n_test"]),
        (&60.into(), &42.into(), &43.into())
    );
    let v = json_of(&gradlab(
        &data,
        &runs,
        &[
            "graph",
            "--dataset",
            f,
            "--model",
            "gat",
            "--seeds",
            "1",
            "--epochs",
            "3",
            "--train-per-class",
            "10",
            "--json",
        ],
    ));
    assert_eq!(v["n_train"], 30);

    let v = json_of(&gradlab(&data, &runs, &["data", "inspect", f, "--json"]));
    assert_eq!(v["ok"], true);
    assert_eq!(v["nodes"], 150);
    assert_eq!(v["unlabelled"], 5);
    assert_eq!(v["self_loops_dropped"], 1);
    assert_eq!(v["duplicates_merged"], 1);
    assert_eq!(v["label_counts"]["topic-0"], 50);
    assert_eq!(v["label_counts"]["topic-2"], 45);

    // The store keeps the folder's name and its fingerprint.
    let list = json_of(&gradlab(&data, &runs, &["runs", "list", "--json"]));
    let text = list.to_string();
    assert!(text.contains("my-graph"), "{text}");
}

#[test]
fn bad_graph_folders_fail_with_one_line_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, runs) = (tmp.path().join("data"), tmp.path().join("runs"));
    let folder = tmp.path().join("bad");
    write_graph_folder(&folder);
    let f = folder.to_str().unwrap();
    let train = |extra: &[&str]| {
        let mut a = vec!["graph", "--dataset", f, "--seeds", "1", "--epochs", "2"];
        a.extend_from_slice(extra);
        gradlab(&data, &runs, &a)
    };
    let edges = std::fs::read_to_string(folder.join("edges.csv")).unwrap();
    std::fs::write(folder.join("edges.csv"), format!("{edges}n1,ghost\n")).unwrap();
    assert_fails(
        &train(&[]),
        &["edges.csv line 304", "\"ghost\" is not in nodes.csv"],
    );
    let r = gradlab(&data, &runs, &["data", "inspect", f, "--json"]);
    let v = json_of(&r);
    assert_eq!((&v["ok"], &v["unknown_ids"]), (&false.into(), &1.into()));

    write_graph_folder(&folder);
    let nodes = std::fs::read_to_string(folder.join("nodes.csv")).unwrap();
    std::fs::write(
        folder.join("nodes.csv"),
        nodes.replace("n7,topic-1,", "n7,topic-1,x "),
    )
    .unwrap();
    assert_fails(&train(&[]), &["nodes.csv line 9", "\"x\""]);
    write_graph_folder(&folder);
    // The pygcn split needs 1500 nodes; the planetoid split comes with the Planetoid files.
    assert_fails(&train(&["--split", "pygcn"]), &["1500"]);
    assert_fails(&train(&["--split", "planetoid"]), &["Planetoid files"]);
    assert_fails(
        &train(&["--train-per-class", "60"]),
        &["60 labelled nodes of every class"],
    );
    let missing = tmp.path().join("nowhere");
    let r = gradlab(
        &data,
        &runs,
        &["graph", "--dataset", missing.to_str().unwrap()],
    );
    assert_fails(&r, &["nodes.csv is missing"]);
}

fn shared() -> Option<PathBuf> {
    let root = std::env::var_os("GRADLAB_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"));
    if root.join("planetoid").is_dir() {
        return Some(root);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI without the shared datasets"
    );
    eprintln!("skipped: no planetoid files");
    None
}

#[test]
fn planetoid_datasets_have_the_papers_split_sizes() {
    let Some(data) = shared() else { return };
    let runs = tempfile::tempdir().unwrap();
    for (args, name, train) in [
        (&["--dataset", "citeseer"][..], "citeseer", 120),
        (
            &["--dataset", "cora", "--split", "planetoid"][..],
            "cora-planetoid",
            140,
        ),
    ] {
        let mut a = vec![
            "graph", "--model", "gcn", "--seeds", "1", "--epochs", "2", "--json",
        ];
        a.extend_from_slice(args);
        let v = json_of(&gradlab(&data, runs.path(), &a));
        assert_eq!(v["dataset"], name);
        assert_eq!(v["split"], "planetoid");
        assert_eq!(
            (&v["n_train"], &v["n_val"], &v["n_test"]),
            (&train.into(), &500.into(), &1000.into()),
            "{name}"
        );
    }
    // Without the files: one line naming the missing file and the fetch command.
    let empty = tempfile::tempdir().unwrap();
    let r = gradlab(
        empty.path(),
        runs.path(),
        &["graph", "--dataset", "citeseer"],
    );
    assert_fails(
        &r,
        &["ind.citeseer.x is missing", "gradlab data fetch citeseer"],
    );
    let r = gradlab(empty.path(), runs.path(), &["graph", "--dataset", "pubmed"]);
    assert_fails(&r, &["ind.pubmed.x is missing"]);
}
