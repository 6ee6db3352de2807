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
            || rel == "labs/lab.rs"
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

// ---- File level: no arrow back up, no circles --------------------------------------------
//
// Every `crate::`, `super::` and `self::` path of a file (in `use` trees and inline) is resolved
// to the file of the module it names; an item a `mod.rs` only re-exports is followed to the file
// that defines it. Two rules then hold:
// - no arrow back up: a file never uses an item defined in a module above it (a lab's file never
//   reaches into `labs/mod.rs`, a layer into its folder's `mod.rs`): shared pieces live in a
//   file of their own beside their users;
// - no circles: no file reaches itself through the files it uses.
// Test code (`#[cfg(test)]` modules, `tests.rs`, `test_world.rs`) is left out.

type Files = BTreeMap<String, String>;

/// The module path of a file: `labs/graphs/gcn.rs` -> [labs, graphs, gcn]; `mod.rs` is its folder.
fn module_of(rel: &str) -> Vec<String> {
    let stem = rel.strip_suffix(".rs").unwrap_or(rel);
    let stem = stem.strip_suffix("/mod").unwrap_or(stem);
    if stem == "lib" {
        return Vec::new();
    }
    stem.split('/').map(String::from).collect()
}

fn file_of(files: &Files, module: &[String]) -> Option<String> {
    if module.is_empty() {
        return Some("lib.rs".into());
    }
    let base = module.join("/");
    [format!("{base}.rs"), format!("{base}/mod.rs")]
        .into_iter()
        .find(|f| files.contains_key(f))
}

/// The code without test modules: from `#[cfg(test)]` before a `mod` to its closing brace.
fn without_tests(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "#[cfg(test)]".len()..];
        let t = after.trim_start();
        if !(t.starts_with("mod ") || t.starts_with("pub mod ")) {
            out.push_str("#[cfg(test)]");
            rest = after;
            continue;
        }
        // `mod tests;` (a file of its own) or `mod tests { ... }`.
        let semi = t.find(';').unwrap_or(usize::MAX);
        let brace = t.find('{').unwrap_or(usize::MAX);
        let skip_to = if semi < brace {
            semi + 1
        } else if brace != usize::MAX {
            let mut depth = 0;
            let mut end = t.len();
            for (k, c) in t[brace..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = brace + k + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            end
        } else {
            t.len()
        };
        rest = &t[skip_to..];
    }
    out.push_str(rest);
    out
}

/// Expands a `use` tree (`a::{b, c::{d, e as f}}`) into paths, each with the name it is known
/// by here (its alias, else its last segment); `self` in braces is the prefix.
fn expand_use(tree: &str) -> Vec<(Vec<String>, String)> {
    fn parse(s: &str, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
        let s = s.trim();
        if let Some(open) = s.find('{') {
            let head: Vec<String> = s[..open]
                .split("::")
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect();
            let mut p = prefix.to_vec();
            p.extend(head);
            let close = s.rfind('}').filter(|&c| c > open).unwrap_or(s.len());
            let inner = &s[open + 1..close];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        parse(&inner[start..i], &p, out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            parse(&inner[start..], &p, out);
        } else if !s.is_empty() {
            let mut parts = s.split(" as ");
            let path = parts.next().unwrap_or(s).trim();
            let alias = parts.next().map(|a| a.trim().to_string());
            let mut p = prefix.to_vec();
            for seg in path.split("::").map(str::trim).filter(|x| !x.is_empty()) {
                if seg != "self" {
                    p.push(seg.to_string());
                }
            }
            let name = alias.unwrap_or_else(|| p.last().cloned().unwrap_or_default());
            out.push((p, name));
        }
    }
    let mut out = Vec::new();
    parse(tree, &[], &mut out);
    out
}

/// Every path of `code` that starts at `crate`, `super` or `self`, with whether it is a
/// `pub use` (a re-export).
fn paths_of(code: &str) -> Vec<(bool, Vec<String>, String)> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before = rest[..i].chars().next_back();
        let start_ok = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let Some(end) = rest[i..].find(';') else {
            break;
        };
        if start_ok {
            let line_start = rest[..i].rfind('\n').map_or(0, |n| n + 1);
            let is_pub = rest[line_start..i].contains("pub");
            for (p, name) in expand_use(&rest[i + 4..i + end]) {
                out.push((is_pub, p, name));
            }
        }
        rest = &rest[i + end + 1..];
    }
    // Inline paths: crate::a::b(...), super::x::Y.
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        for (i, _) in code.match_indices(start) {
            if i > 0
                && (bytes[i - 1].is_ascii_alphanumeric()
                    || bytes[i - 1] == b'_'
                    || bytes[i - 1] == b':')
            {
                continue;
            }
            let tail: String = code[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            // `super::{a, b}` and `super::*` are use trees, read above.
            if tail.ends_with("::") {
                continue;
            }
            let segs: Vec<String> = tail
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            let name = segs.last().cloned().unwrap_or_default();
            out.push((false, segs, name));
        }
    }
    out
}

/// Whether `code` defines `name` itself (not by `use`).
fn defines(code: &str, name: &str) -> bool {
    [
        "fn",
        "struct",
        "enum",
        "trait",
        "type",
        "const",
        "static",
        "mod",
        "macro_rules!",
    ]
    .iter()
    .any(|kw| {
        code.match_indices(&format!("{kw} {name}")).any(|(i, m)| {
            let after = code[i + m.len()..].chars().next();
            !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    })
}

/// The file a path of `from` leads to, following re-exports to the defining file.
fn resolve(files: &Files, from: &str, path: &[String], depth: usize) -> Option<String> {
    let here = module_of(from);
    // `use child::Item` in a module file names its own child (2018 paths).
    let (mut module, mut segs): (Vec<String>, &[String]) = match path.first()?.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (here.clone(), &path[1..]),
        "super" => (here[..here.len().saturating_sub(1)].to_vec(), &path[1..]),
        _ => (here.clone(), path),
    };
    while let Some(s) = segs.first() {
        match s.as_str() {
            "super" => {
                module.pop();
            }
            "self" => {}
            _ => {
                let mut next = module.clone();
                next.push(s.clone());
                if file_of(files, &next).is_none() {
                    break;
                }
                module = next;
            }
        }
        segs = &segs[1..];
    }
    let file = file_of(files, &module)?;
    let Some(item) = segs.first() else {
        return Some(file);
    };
    let code = &files[&file];
    if depth < 4 && !defines(code, item) {
        // A re-export: follow it to the file that defines the item.
        for (is_pub, p, name) in paths_of(code) {
            // `pub use x::Item`, `pub use x::Other as Item`, or `pub use x::*`.
            let p = if name == *item {
                p
            } else if is_pub && name == "*" {
                let mut p = p[..p.len() - 1].to_vec();
                p.push(item.clone());
                p
            } else {
                continue;
            };
            if let Some(target) = resolve(files, &file, &p, depth + 1)
                && target != file
            {
                return Some(target);
            }
        }
    }
    Some(file)
}

fn file_graph() -> BTreeMap<String, BTreeSet<String>> {
    let files: Files = sources()
        .into_iter()
        .filter(|(rel, _)| {
            rel != "main.rs" && !rel.ends_with("/tests.rs") && !rel.ends_with("test_world.rs")
        })
        .map(|(rel, code)| (rel, without_tests(&code)))
        .collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, code) in &files {
        let mut paths = paths_of(code);
        // `use crate::labs::theory::{self}` then `theory::summary(..)`: a module imported by
        // name is followed to the items used through it, not counted as a use of its mod.rs.
        let mut through = Vec::new();
        for (_, p, name) in &paths {
            let mut module = p.clone();
            module.push(String::new());
            let names_a_module = resolve(&files, rel, p, 0).is_some()
                && p.last() == Some(name)
                && module_file(&files, rel, p).is_some();
            if names_a_module {
                for (i, _) in code.match_indices(&format!("{name}::")) {
                    let before = code[..i].chars().next_back();
                    if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                        continue;
                    }
                    let item: String = code[i + name.len() + 2..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !item.is_empty() {
                        let mut q = p.clone();
                        q.push(item);
                        through.push((false, q, String::new()));
                    }
                }
            }
        }
        paths.retain(|(_, p, _)| module_file(&files, rel, p).is_none());
        paths.extend(through);
        let entry = g.entry(rel.clone()).or_default();
        for (_, p, _) in paths {
            if let Some(to) = resolve(&files, rel, &p, 0)
                && to != *rel
                && to != "lib.rs"
            {
                entry.insert(to);
            }
        }
    }
    g
}

/// The file of the module a path names when it names a module (nothing after it).
fn module_file(files: &Files, from: &str, path: &[String]) -> Option<String> {
    let here = module_of(from);
    let (mut module, segs): (Vec<String>, &[String]) = match path.first()?.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (here.clone(), &path[1..]),
        "super" => (here[..here.len().saturating_sub(1)].to_vec(), &path[1..]),
        _ => (here.clone(), path),
    };
    for s in segs {
        match s.as_str() {
            "super" => {
                module.pop();
            }
            "self" => {}
            _ => module.push(s.clone()),
        }
    }
    file_of(files, &module)
}

/// `a` is a module file above `b` (`labs/mod.rs` is above `labs/graphs/ui.rs`).
fn is_above(a: &str, b: &str) -> bool {
    let (ma, mb) = (module_of(a), module_of(b));
    ma.len() < mb.len() && mb.starts_with(&ma)
}

#[test]
fn no_file_uses_a_module_above_it() {
    let g = file_graph();
    let up: Vec<String> = g
        .iter()
        .flat_map(|(from, tos)| {
            tos.iter()
                .filter(|to| is_above(to, from))
                .map(move |to| format!("{from} -> {to}"))
        })
        .collect();
    assert!(up.is_empty(), "arrows back up: {up:#?}");
    // The scan sees real edges.
    assert!(
        g["labs/graphs/train.rs"].contains("core/driver.rs"),
        "{:?}",
        g["labs/graphs/train.rs"]
    );
}

#[test]
fn files_have_no_cycles() {
    let g = file_graph();
    let mut cycles = Vec::new();
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    fn visit<'a>(
        n: &'a str,
        g: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
        cycles: &mut Vec<String>,
    ) {
        match state.get(n) {
            Some(1) => {
                let start = path.iter().position(|p| *p == n).unwrap();
                cycles.push(format!("{} -> {n}", path[start..].join(" -> ")));
                return;
            }
            Some(2) => return,
            _ => {}
        }
        state.insert(n, 1);
        path.push(n);
        for m in g.get(n).into_iter().flatten() {
            visit(m, g, state, path, cycles);
        }
        path.pop();
        state.insert(n, 2);
    }
    for n in g.keys() {
        visit(n, &g, &mut state, &mut Vec::new(), &mut cycles);
    }
    assert!(cycles.is_empty(), "file cycles: {cycles:#?}");
}

#[test]
fn the_file_scan_resolves_use_trees_and_re_exports() {
    assert_eq!(
        expand_use("crate::core::{Event, runs::{A, B as C}, self}")
            .into_iter()
            .map(|(p, name)| (p.join("::"), name))
            .collect::<Vec<_>>(),
        [
            ("crate::core::Event".to_string(), "Event".to_string()),
            ("crate::core::runs::A".to_string(), "A".to_string()),
            ("crate::core::runs::B".to_string(), "C".to_string()),
            ("crate::core".to_string(), "core".to_string()),
        ]
    );
    assert!(defines("pub struct Lab {", "Lab") && !defines("pub struct Labs {", "Lab"));
    assert_eq!(
        without_tests("a\n#[cfg(test)]\nmod tests {\n { } }\nb"),
        "a\n\nb"
    );
    assert!(is_above("labs/mod.rs", "labs/graphs/ui.rs"));
    assert!(!is_above("labs/graphs/model.rs", "labs/graphs/gcn.rs"));
    // A re-export in `core/mod.rs` leads to the file that defines the item.
    let g = file_graph();
    assert!(!g["labs/graphs/train.rs"].contains("core/mod.rs"));
}
