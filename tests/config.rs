//! The GUI and the CLI start from the same config for every lab and dataset: the defaults are
//! written once (in each lab's config.rs / compute) and both front ends resolve through them.

use std::path::Path;

use clap::Parser;
use gradlab::cli::{Cli, Command};
use gradlab::labs::graphs::ui::GraphsTab;
use gradlab::labs::graphs::{DatasetArg, ModelKind};
use gradlab::labs::segmentation::ui::SegmentationTab;
use gradlab::labs::theory::ui::TheoryTab;

fn cli(args: &[&str]) -> Command {
    let mut argv = vec!["gradlab"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
        .command
        .unwrap()
}

#[test]
fn segmentation_gui_and_cli_defaults_agree_for_every_dataset() {
    let data_dir = Path::new("/data");
    let folder = "/data/my-cells";
    for name in ["shapes", "isbi", folder] {
        let Command::Seg(args) = cli(&["seg", "--dataset", name]) else {
            unreachable!()
        };
        let from_cli = args.config.resolve(data_dir);
        let mut tab = SegmentationTab::default();
        tab.set_dataset(name);
        let from_gui = tab.default_run_config(data_dir).unwrap();
        assert_eq!(from_gui, from_cli, "dataset {name}");
    }
    // The drift this test was written for: ISBI trains longer than shapes in both front ends.
    let isbi = |tab: &mut SegmentationTab| {
        tab.set_dataset("isbi");
        tab.default_run_config(data_dir).unwrap()
    };
    let shapes = SegmentationTab::default()
        .default_run_config(data_dir)
        .unwrap();
    let isbi = isbi(&mut SegmentationTab::default());
    assert!(isbi.epochs * isbi.steps_per_epoch > shapes.epochs * shapes.steps_per_epoch);
}

#[test]
fn the_command_a_gui_segmentation_run_records_trains_the_same_config() {
    let data_dir = Path::new("/data");
    for name in ["shapes", "isbi"] {
        let mut tab = SegmentationTab::default();
        tab.set_dataset(name);
        let gui = gradlab::labs::segmentation::SegConfig {
            seed: 7,
            ..tab.default_run_config(data_dir).unwrap()
        };
        let command = gradlab::labs::segmentation::train::command_for(&gui, 3);
        let words: Vec<&str> = command.split_whitespace().skip(1).collect();
        let Command::Seg(args) = cli(&words) else {
            unreachable!()
        };
        assert_eq!(args.config.resolve(data_dir), gui, "{command}");
        assert!(command.ends_with("--seed 7 --seeds 3"), "{command}");
    }
}

#[test]
fn graph_gui_and_cli_defaults_agree_for_every_model_and_dataset() {
    let mut datasets = DatasetArg::NAMED.to_vec();
    datasets.push(DatasetArg::Folder("/data/my-graph".into()));
    for dataset in datasets {
        for model in ModelKind::ALL {
            let (m, d) = (format!("{model:?}"), dataset.arg());
            let Command::Graph(args) =
                cli(&["graph", "--model", &m.to_lowercase(), "--dataset", &d])
            else {
                unreachable!()
            };
            assert_eq!(args.config.dataset, dataset, "{d}");
            let mut tab = GraphsTab::default();
            tab.set_dataset(dataset.clone());
            assert_eq!(
                tab.run_config(model),
                args.config.resolve(model),
                "{m} on {d}"
            );
            let (gui, cli) = (tab.params(), &args.config);
            assert_eq!(
                (
                    gui.preset,
                    gui.split(),
                    gui.seeds,
                    gui.epochs,
                    gui.homophily
                ),
                (
                    cli.preset,
                    cli.split(),
                    cli.seeds,
                    cli.epochs,
                    cli.homophily
                ),
                "{m} on {d}"
            );
        }
    }
}

#[test]
fn each_dataset_has_its_default_split() {
    use gradlab::data::graph::SplitKind;
    for (d, split) in [
        ("cora", SplitKind::Pygcn),
        ("citeseer", SplitKind::Planetoid),
        ("pubmed", SplitKind::Planetoid),
        ("synthetic", SplitKind::Pygcn),
        ("/data/my-graph", SplitKind::Random),
    ] {
        let Command::Graph(args) = cli(&["graph", "--dataset", d]) else {
            unreachable!()
        };
        assert_eq!(args.config.resolve(ModelKind::Gcn).split, split, "{d}");
    }
    let Command::Graph(args) = cli(&["graph", "--dataset", "cora", "--split", "planetoid"]) else {
        unreachable!()
    };
    assert_eq!(
        args.config.dataset.planetoid_name(args.config.split()),
        Some("cora")
    );
}

#[test]
fn theory_gui_and_cli_defaults_agree() {
    let Command::Theory(args) = cli(&["theory"]) else {
        unreachable!()
    };
    assert_eq!(TheoryTab::default().params, args.config.params);
}

#[test]
fn print_config_prints_json_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // No data in `dir`: a graph or ISBI run would fail, so success means nothing ran.
    for (args, key) in [
        (&["theory"][..], "params"),
        (&["graph", "--model", "gat"][..], "run"),
        (&["seg", "--dataset", "isbi"][..], "steps_per_epoch"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gradlab"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .arg("--print-config")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e})"));
        assert!(v.get(key).is_some(), "{args:?}: no {key} in {v}");
    }
}
