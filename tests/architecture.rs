//! The layering rules of DESIGN.md, checked on the source text so a violation fails `cargo test`:
//! - the core, the data loaders, the CLI and every lab's compute never import egui / eframe
//!   (only a lab's `ui.rs`, the registry, `widgets/` and `app` draw);
//! - only the app (and `main`, which starts it) names `crate::app`: the CLI never builds the GUI
//!   (the UI-frame bench is handed to it by `main`);
//! - top-level modules depend on each other only along the layers below, so there are no cycles;
//! - the kernels crate (`crates/gradlab-kernels`) names no GUI, database, candle or app code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const TOP: [&str; 6] = ["app", "cli", "core", "data", "labs", "widgets"];

/// Which top-level modules each one may use.
fn allowed(top: &str) -> &'static [&'static str] {
    match top {
        "core" => &[],
        "data" => &["core"],
        "widgets" => &["core"],
        "labs" => &["core", "data", "widgets"],
        "cli" => &["core", "data", "labs"],
        "app" => &["core", "labs", "widgets"],
        other => panic!("unknown top-level module {other}"),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every source file with its path relative to `src/` and its text without `//` comments.
fn sources() -> Vec<(String, String)> {
    sources_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

/// Every source file under `src` with its path relative to it and its text without `//`
/// comments.
fn sources_in(src: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap();
            let code: String = text
                .lines()
                .map(|l| match l.find("//") {
                    Some(i) => &l[..i],
                    None => l,
                })
                .collect::<Vec<_>>()
                .join("\n");
            (rel, code)
        })
        .collect()
}

/// The top-level module a file belongs to (`app.rs` and `app/..` are both `app`).
fn top_of(rel: &str) -> Option<&str> {
    let first = rel.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    TOP.iter().copied().find(|t| *t == name)
}

fn may_draw(rel: &str) -> bool {
    let in_lab_ui = rel.starts_with("labs/")
        && (rel.ends_with("/ui.rs")
            || rel.contains("/ui/")
            || rel == "labs/mod.rs"
            || rel == "labs/test_world.rs");
    in_lab_ui || rel.starts_with("widgets/") || rel.starts_with("app") || rel == "main.rs"
}

fn names_egui(code: &str) -> bool {
    ["egui", "eframe"].iter().any(|w| {
        code.match_indices(w).any(|(i, _)| {
            let before = code[..i].chars().next_back();
            let after = code[i + w.len()..].chars().next();
            let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            !ident(before) && (!ident(after) || code[i + w.len()..].starts_with("_"))
        })
    })
}

#[test]
fn only_ui_files_import_egui() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, code)| !may_draw(rel) && names_egui(code))
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        offenders.is_empty(),
        "these compute / CLI files name egui or eframe: {offenders:?}"
    );
}

#[test]
fn only_the_app_and_main_name_the_app() {
    let offenders: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, code)| {
            let app_side = rel == "app.rs" || rel.starts_with("app/") || rel == "main.rs";
            !app_side && (code.contains("crate::app") || code.contains("gradlab::app"))
        })
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        offenders.is_empty(),
        "these files use the GUI app: {offenders:?}"
    );
}

/// Edges `from -> to` between top-level modules, from `crate::<to>` paths.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, code) in sources() {
        let Some(from) = top_of(&rel) else { continue };
        for to in TOP {
            let uses = [format!("crate::{to}::"), format!("crate::{to};")]
                .iter()
                .any(|p| code.contains(p.as_str()));
            if to != from && uses {
                g.entry(from.to_string())
                    .or_default()
                    .insert(to.to_string());
            }
        }
    }
    g
}

#[test]
fn top_level_modules_follow_the_layers() {
    let g = module_graph();
    let mut bad = Vec::new();
    for (from, tos) in &g {
        for to in tos {
            if !allowed(from).contains(&to.as_str()) {
                bad.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(bad.is_empty(), "dependencies against the layers: {bad:?}");
    // The scan finds real edges (a broken scan would pass vacuously).
    assert!(
        g["labs"].contains("core") && g["app"].contains("labs"),
        "{g:?}"
    );
}

#[test]
fn top_level_modules_have_no_cycles() {
    let g = module_graph();
    // Depth-first search for a back edge.
    fn visit<'a>(
        n: &'a str,
        g: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(1) => {
                let start = path.iter().position(|p| *p == n).unwrap();
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            Some(2) => return None,
            _ => {}
        }
        state.insert(n, 1);
        path.push(n);
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in TOP {
        if let Some(cycle) = visit(n, &g, &mut state, &mut Vec::new()) {
            panic!("module cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_scans_catch_what_they_are_for() {
    assert!(names_egui("use eframe::egui;"));
    assert!(names_egui("fn f(ui: &mut egui::Ui)"));
    assert!(names_egui("use egui_plot::Plot;"));
    assert!(!names_egui("let regui = 1; // no"));
    assert!(may_draw("labs/graphs/ui.rs") && !may_draw("labs/graphs/train.rs"));
    assert!(!may_draw("core/jobs.rs") && !may_draw("cli/bench.rs"));
}

/// Whether `code` names the crate or path `name` as a whole identifier (`gradlab::` but not
/// `gradlab_kernels::`).
fn names(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(i, _)| {
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(code[..i].chars().next_back()) && !ident(code[i + name.len()..].chars().next())
    })
}

/// What the kernels crate must not name: the GUI, the run store's database, candle (the app
/// wraps the kernels as candle ops) and the app itself.
const NOT_IN_KERNELS: [&str; 9] = [
    "egui",
    "eframe",
    "egui_plot",
    "rusqlite",
    "candle_core",
    "candle_nn",
    "gradlab",
    "crate::labs",
    "crate::core",
];

#[test]
fn the_kernels_crate_names_no_gui_database_candle_or_app() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/gradlab-kernels");
    let mut offenders = Vec::new();
    let mut count = 0;
    for dir in ["src", "tests", "benches"] {
        for (rel, code) in sources_in(&root.join(dir)) {
            count += 1;
            for w in NOT_IN_KERNELS {
                if names(&code, w) {
                    offenders.push(format!("{dir}/{rel}: {w}"));
                }
            }
            if names_egui(&code) {
                offenders.push(format!("{dir}/{rel}: egui"));
            }
        }
    }
    // The scan found the crate (a moved crate would pass vacuously).
    assert!(count >= 10, "only {count} files under {}", root.display());
    assert!(
        offenders.is_empty(),
        "the kernels crate names what it must not: {offenders:?}"
    );
    // Nor does its manifest depend on them.
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .expect("a [dependencies] table")
        .split("\n[")
        .next()
        .unwrap();
    for w in ["egui", "eframe", "rusqlite", "candle", "gradlab", "path"] {
        assert!(
            !deps
                .lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains(w)),
            "crates/gradlab-kernels/Cargo.toml depends on {w}"
        );
    }
}

#[test]
fn the_name_scan_sees_whole_names_only() {
    assert!(names("use gradlab::core;", "gradlab"));
    assert!(!names("use gradlab_kernels::conv;", "gradlab"));
    assert!(names("crate::labs::x", "crate::labs") && !names("crate::labsx", "crate::labs"));
    assert!(names("candle_core::Tensor", "candle_core"));
}
