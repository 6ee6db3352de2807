//! The GUI and the CLI start from the same config for every lab and dataset: the defaults are
//! written once (in each lab's config.rs / compute) and both front ends resolve through them.

use std::path::Path;

use clap::Parser;
use gradlab::cli::{Cli, Command};
use gradlab::labs::graphs::ui::GraphsTab;
use gradlab::labs::graphs::{DatasetArg, ModelKind};
use gradlab::labs::segmentation::ui::SegmentationTab;

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

/// For every lab that records runs, the tab starts from exactly the config its subcommand
/// prints with no flags (`--print-config`), read through the lab's descriptor; a flag the lab
/// does not have is refused with its name.
#[test]
fn every_lab_starts_from_the_config_its_cli_prints() {
    let data = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for lab in gradlab::labs::labs() {
        let Some(d) = lab.descriptor() else {
            assert!(lab.config_json(data.path()).is_none(), "{}", lab.id());
            continue;
        };
        assert_eq!(d.id, lab.id());
        let parse = d.config.expect("a lab that records runs has a config");
        let cli = parse(&[], data.path()).unwrap_or_else(|e| panic!("{}: {e:#}", d.id));
        let gui = lab
            .config_json(data.path())
            .unwrap_or_else(|| panic!("{}: the tab has no config", d.id));
        assert_eq!(gui, cli, "{}", d.id);
        let e = parse(&["--no-such-flag".into()], data.path()).unwrap_err();
        assert!(
            format!("{e:#}").contains("--no-such-flag"),
            "{}: {e:#}",
            d.id
        );
        seen.push(d.id);
    }
    assert_eq!(seen, ["theory", "graphs", "segmentation"]);
}

/// The descriptor's parser is the CLI's: a flag changes the config it returns.
#[test]
fn the_descriptor_parses_flags_like_the_cli() {
    let data = Path::new("/data");
    let parse = gradlab::labs::segmentation::DESCRIPTOR.config.unwrap();
    let off = parse(&["--skips".into(), "off".into()], data).unwrap();
    assert_eq!(off["unet"]["skips"], false);
    let Command::Seg(args) = cli(&["seg", "--skips", "off"]) else {
        unreachable!()
    };
    assert_eq!(
        off,
        serde_json::to_value(args.config.resolve(data)).unwrap()
    );
    let parse = gradlab::labs::graphs::DESCRIPTOR.config.unwrap();
    let gat = parse(&["--model".into(), "gat".into()], data).unwrap();
    assert_eq!(gat["run"]["model"], "Gat");
}
