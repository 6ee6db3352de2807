//! A user's own graph: a folder with `nodes.csv` and `edges.csv`.
//!
//! `nodes.csv`: header `id,label,...`, then one row per node. After `id` and `label` come either
//! one column `words` (space-separated indices of the non-zero entries of a binary bag of words)
//! or any number of numeric feature columns (none: each node gets a one-hot feature of its own).
//! An empty label marks an unlabelled node: it passes messages but is in no split.
//! `edges.csv`: header `source,target`, ids as in `nodes.csv`, read as undirected; duplicates and
//! reversed pairs are merged and self-loops dropped (and counted).
//!
//! [`inspect_csv_folder`] reads the folder without stopping at the first problem (what `gradlab
//! data inspect` prints); [`load_csv_folder`] refuses a folder with any problem, naming the file
//! and line of the first.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::cora::Lines;
use super::{BinaryFeatures, Graph, canonical_edges, fingerprint_files};

/// Largest feature index of a `words` column (10 million columns).
pub const MAX_WORD_INDEX: usize = 10_000_000;
/// Problems listed one by one; more are counted.
const MAX_LISTED: usize = 50;

/// True when `dir` looks like a graph folder (it has `nodes.csv`).
pub fn is_graph_folder(dir: &Path) -> bool {
    dir.join("nodes.csv").is_file()
}

/// What `gradlab data inspect` reports for a graph folder.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GraphInspection {
    pub dir: String,
    pub kind: &'static str,
    /// No problems: training would load this folder.
    pub ok: bool,
    pub nodes: usize,
    pub labelled: usize,
    pub unlabelled: usize,
    /// Class name -> labelled nodes.
    pub label_counts: BTreeMap<String, usize>,
    /// "words (binary bag of words)", "N numeric columns" or "none (one-hot node ids)".
    pub features: String,
    pub feature_columns: usize,
    /// Non-zero feature entries over nodes x columns.
    pub feature_density: f64,
    /// Data lines of edges.csv.
    pub edge_lines: usize,
    pub edges: usize,
    pub duplicates_merged: usize,
    pub self_loops_dropped: usize,
    pub isolated_nodes: usize,
    /// Edge lines naming an id that is not in nodes.csv.
    pub unknown_ids: usize,
    pub notes: Vec<String>,
    /// Every problem, "file line N: what" (the first 50; `problem_count` counts all).
    pub problems: Vec<String>,
    pub problem_count: usize,
}

impl GraphInspection {
    fn problem(&mut self, p: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(p);
        }
    }

    pub fn human(&self) -> String {
        let mut s = format!("{} (graph folder)\n", self.dir);
        let _ = writeln!(
            s,
            "  nodes {} ({} labelled, {} unlabelled), features: {} ({} columns, density {:.4})",
            self.nodes,
            self.labelled,
            self.unlabelled,
            self.features,
            self.feature_columns,
            self.feature_density
        );
        let _ = writeln!(
            s,
            "  edges {} from {} lines ({} duplicate or reversed pairs merged, {} self-loops dropped, {} lines with unknown ids), {} isolated nodes",
            self.edges,
            self.edge_lines,
            self.duplicates_merged,
            self.self_loops_dropped,
            self.unknown_ids,
            self.isolated_nodes
        );
        let labels: Vec<String> = self
            .label_counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(s, "  labels: {}", labels.join(", "));
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        for p in &self.problems {
            let _ = writeln!(s, "  problem: {p}");
        }
        if self.problem_count > self.problems.len() {
            let _ = writeln!(
                s,
                "  ... and {} more problems",
                self.problem_count - self.problems.len()
            );
        }
        let _ = write!(
            s,
            "{}",
            if self.ok {
                "ok: training can load this folder"
            } else {
                "NOT ok: training would refuse this folder"
            }
        );
        s
    }
}

/// Splits one CSV line into trimmed fields (RFC 4180 double quotes, `""` inside quotes).
fn fields(line: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                out.push(if was_quoted {
                    std::mem::take(&mut cur)
                } else {
                    std::mem::take(&mut cur).trim().to_string()
                });
                was_quoted = false;
            }
            (false, c) => cur.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed");
    }
    out.push(if was_quoted {
        cur
    } else {
        cur.trim().to_string()
    });
    Ok(out)
}

enum FeatureKind {
    Words,
    Numeric(usize),
}

struct Parsed {
    graph: Option<Graph>,
    report: GraphInspection,
}

fn read_folder(dir: &Path) -> anyhow::Result<Parsed> {
    let nodes_path = dir.join("nodes.csv");
    let edges_path = dir.join("edges.csv");
    let mut r = GraphInspection {
        dir: dir.display().to_string(),
        kind: "graph",
        ..Default::default()
    };
    for p in [&nodes_path, &edges_path] {
        if !p.is_file() {
            anyhow::bail!(
                "{} is missing (a graph folder has nodes.csv and edges.csv)",
                p.display()
            );
        }
    }
    let nf = nodes_path.display().to_string();
    let ef = edges_path.display().to_string();
    let open = |p: &Path| File::open(p).with_context(|| format!("cannot open {}", p.display()));
    let mut lines = Lines::new(BufReader::new(open(&nodes_path)?), &nf);

    // Header.
    let Some((no, header)) = lines.next_line()? else {
        anyhow::bail!("{nf}: the file is empty (expected a header row id,label,...)");
    };
    let header = fields(header).map_err(|e| anyhow::anyhow!("{nf} line {no}: {e}"))?;
    let names: Vec<String> = header.iter().map(|h| h.to_lowercase()).collect();
    if names.len() < 2 || names[0] != "id" || names[1] != "label" {
        anyhow::bail!(
            "{nf} line {no}: the header must start with id,label (found {:?})",
            header.join(",")
        );
    }
    let kind = if names.len() == 3 && names[2] == "words" {
        FeatureKind::Words
    } else {
        FeatureKind::Numeric(names.len() - 2)
    };
    let columns = names.len();

    let mut index: HashMap<String, u32> = HashMap::new();
    let mut first_line: Vec<usize> = Vec::new();
    let mut node_names = Vec::new();
    let mut label_text: Vec<Option<String>> = Vec::new();
    let mut features = BinaryFeatures {
        indptr: vec![0],
        ..Default::default()
    };
    let mut max_word = 0usize;
    while let Some((no, line)) = lines.next_line()? {
        let f = match fields(line) {
            Ok(f) => f,
            Err(e) => {
                r.problem(format!("{nf} line {no}: {e}"));
                continue;
            }
        };
        if f.len() != columns {
            r.problem(format!(
                "{nf} line {no}: {} columns, the header has {columns}",
                f.len()
            ));
            continue;
        }
        let id = f[0].clone();
        if id.is_empty() {
            r.problem(format!("{nf} line {no}: empty id"));
            continue;
        }
        if let Some(&prev) = index.get(&id) {
            r.problem(format!(
                "{nf} line {no}: duplicate id {id:?} (first on line {})",
                first_line[prev as usize]
            ));
            continue;
        }
        let mut row: Vec<(u32, f32)> = Vec::new();
        let mut bad = None;
        match kind {
            FeatureKind::Words => {
                for w in f[2].split_whitespace() {
                    match w.parse::<usize>() {
                        Ok(j) if j <= MAX_WORD_INDEX => {
                            max_word = max_word.max(j);
                            row.push((j as u32, 1.0));
                        }
                        _ => {
                            bad = Some(format!(
                                "word index {w:?} is not an integer in 0..={MAX_WORD_INDEX}"
                            ));
                            break;
                        }
                    }
                }
                row.sort_by_key(|e| e.0);
                row.dedup_by_key(|e| e.0);
            }
            FeatureKind::Numeric(k) => {
                for (j, cell) in f[2..2 + k].iter().enumerate() {
                    match cell.parse::<f32>() {
                        Ok(v) if v.is_finite() => {
                            if v != 0.0 {
                                row.push((j as u32, v));
                            }
                        }
                        _ => {
                            bad = Some(format!(
                                "column {} ({}): {cell:?} is not a finite number",
                                j + 3,
                                header[j + 2]
                            ));
                            break;
                        }
                    }
                }
            }
        }
        if let Some(b) = bad {
            r.problem(format!("{nf} line {no}: {b}"));
            continue;
        }
        index.insert(id.clone(), node_names.len() as u32);
        first_line.push(no);
        node_names.push(id);
        label_text.push(Some(f[1].clone()).filter(|l| !l.is_empty()));
        features.indices.extend(row.iter().map(|e| e.0));
        features.values.extend(row.iter().map(|e| e.1));
        features.indptr.push(features.indices.len());
    }
    let n = node_names.len();
    r.nodes = n;
    if n == 0 && r.problem_count == 0 {
        r.problem(format!("{nf}: no node rows after the header"));
    }
    match kind {
        FeatureKind::Words => {
            r.features = "words (binary bag of words)".into();
            features.cols = if n > 0 { max_word + 1 } else { 0 };
        }
        FeatureKind::Numeric(0) => {
            r.features = "none (one-hot node ids)".into();
            features = BinaryFeatures {
                cols: n,
                indptr: (0..=n).collect(),
                indices: (0..n as u32).collect(),
                values: Vec::new(),
            };
            r.notes.push(format!(
                "{nf}: no feature columns: each node gets a one-hot feature of its own"
            ));
        }
        FeatureKind::Numeric(k) => {
            r.features = format!("{k} numeric columns");
            features.cols = k;
            r.notes.push(format!(
                "{nf}: numeric features are used as they are (not row-normalised): scale them if their ranges differ a lot"
            ));
        }
    }
    if matches!(kind, FeatureKind::Words) || features.values.iter().all(|&v| v == 1.0) {
        features.values.clear();
    }
    r.feature_columns = features.cols;
    r.feature_density = if n * features.cols > 0 {
        features.nnz() as f64 / (n as f64 * features.cols as f64)
    } else {
        0.0
    };

    // Labels: classes in sorted order.
    let mut class_names: Vec<String> = label_text.iter().flatten().cloned().collect();
    class_names.sort();
    class_names.dedup();
    let mut labels = Vec::with_capacity(n);
    let mut unlabelled = Vec::new();
    for (i, l) in label_text.iter().enumerate() {
        match l {
            Some(l) => {
                let k = class_names.binary_search(l).expect("collected above");
                labels.push(k as u32);
                *r.label_counts.entry(l.clone()).or_default() += 1;
            }
            None => {
                labels.push(0);
                unlabelled.push(i as u32);
            }
        }
    }
    r.unlabelled = unlabelled.len();
    r.labelled = n - unlabelled.len();
    if n > 0 && class_names.len() < 2 {
        r.problem(format!(
            "{nf}: {} class(es) among the labelled nodes; node classification needs at least 2",
            class_names.len()
        ));
    }
    if !unlabelled.is_empty() {
        r.notes.push(format!(
            "{nf}: {} nodes have an empty label: they pass messages but are in no split",
            unlabelled.len()
        ));
    }

    // Edges.
    let mut lines = Lines::new(BufReader::new(open(&edges_path)?), &ef);
    match lines.next_line()? {
        None => r.problem(format!(
            "{ef}: the file is empty (expected a header row source,target)"
        )),
        Some((no, h)) => {
            let h: Vec<String> = fields(h)
                .unwrap_or_default()
                .iter()
                .map(|s| s.to_lowercase())
                .collect();
            if h != ["source", "target"] {
                r.problem(format!(
                    "{ef} line {no}: the header must be source,target (found {:?})",
                    h.join(",")
                ));
            }
        }
    }
    let mut raw = Vec::new();
    while let Some((no, line)) = lines.next_line()? {
        r.edge_lines += 1;
        let f = match fields(line) {
            Ok(f) if f.len() == 2 => f,
            Ok(f) => {
                r.problem(format!(
                    "{ef} line {no}: {} columns, expected 2 (source,target)",
                    f.len()
                ));
                continue;
            }
            Err(e) => {
                r.problem(format!("{ef} line {no}: {e}"));
                continue;
            }
        };
        let (a, b) = (index.get(&f[0]), index.get(&f[1]));
        match (a, b) {
            (Some(&a), Some(&b)) => raw.push((a, b)),
            _ => {
                r.unknown_ids += 1;
                let unknown = if a.is_none() { &f[0] } else { &f[1] };
                r.problem(format!(
                    "{ef} line {no}: id {unknown:?} is not in nodes.csv"
                ));
            }
        }
    }
    let (edges, duplicates, self_loops) = canonical_edges(raw);
    r.edges = edges.len();
    r.duplicates_merged = duplicates;
    r.self_loops_dropped = self_loops;
    let mut deg = vec![0u32; n];
    for &(u, v) in &edges {
        deg[u as usize] += 1;
        deg[v as usize] += 1;
    }
    r.isolated_nodes = deg.iter().filter(|&&d| d == 0).count();
    let edge_note = format!(
        "{ef}: {} lines -> {} undirected edges ({duplicates} duplicate or reversed pairs merged, {self_loops} self-loops dropped)",
        r.edge_lines,
        edges.len()
    );
    r.notes.insert(0, edge_note);
    r.ok = r.problem_count == 0;
    if !r.ok {
        return Ok(Parsed {
            graph: None,
            report: r,
        });
    }
    let name = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    let g = Graph {
        name,
        node_names,
        raw_features: matches!(kind, FeatureKind::Numeric(k) if k > 0),
        features,
        labels,
        class_names,
        edges,
        notes: r.notes.clone(),
        unlabelled,
        given_split: None,
        fingerprint: fingerprint_files(&[&nodes_path, &edges_path])?,
    };
    g.validate()?;
    Ok(Parsed {
        graph: Some(g),
        report: r,
    })
}

/// Reads a graph folder, refusing it with the first problem (file and line) when there is any.
pub fn load_csv_folder(dir: &Path) -> anyhow::Result<Graph> {
    let p = read_folder(dir)?;
    match p.graph {
        Some(g) => Ok(g),
        None => {
            let r = p.report;
            let first = r.problems.first().cloned().unwrap_or_default();
            if r.problem_count > 1 {
                anyhow::bail!(
                    "{first} (and {} more problems: `gradlab data inspect {}` lists them)",
                    r.problem_count - 1,
                    r.dir
                )
            }
            anyhow::bail!("{first}")
        }
    }
}

/// Everything about a graph folder, problems included, without training.
pub fn inspect_csv_folder(dir: &Path) -> anyhow::Result<GraphInspection> {
    Ok(read_folder(dir)?.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(nodes: &str, edges: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("nodes.csv"), nodes).unwrap();
        std::fs::write(d.path().join("edges.csv"), edges).unwrap();
        d
    }

    fn err(nodes: &str, edges: &str) -> String {
        let d = folder(nodes, edges);
        format!("{:#}", load_csv_folder(d.path()).unwrap_err())
    }

    const WORDS: &str = "id,label,words\na,x,0 3\nb,y,1\nc,,2 2\n\"d, the fourth\",x,\n";

    #[test]
    fn words_folder_loads_with_unlabelled_nodes_and_merged_edges() {
        let d = folder(
            WORDS,
            "source,target\na,b\nb,a\nc,c\n\"d, the fourth\",a\r\n\n",
        );
        let g = load_csv_folder(d.path()).unwrap();
        assert_eq!(g.num_nodes(), 4);
        assert_eq!(g.num_features(), 4);
        assert_eq!(g.features.row(0), &[0, 3]);
        assert_eq!(g.features.row(2), &[2]);
        assert!(g.features.row(3).is_empty());
        assert!(g.features.values.is_empty());
        assert_eq!(g.class_names, vec!["x", "y"]);
        assert_eq!(g.unlabelled, vec![2]);
        assert_eq!(g.edges, vec![(0, 1), (0, 3)]);
        assert_eq!(g.node_names[3], "d, the fourth");
        assert!(!g.raw_features);
        assert_eq!(g.fingerprint.len(), 64);
        let r = inspect_csv_folder(d.path()).unwrap();
        assert!(r.ok);
        assert_eq!(
            (
                r.edge_lines,
                r.edges,
                r.duplicates_merged,
                r.self_loops_dropped
            ),
            (4, 2, 1, 1)
        );
        assert_eq!(r.isolated_nodes, 1);
        assert_eq!(r.label_counts["x"], 2);
        assert_eq!((r.labelled, r.unlabelled), (3, 1));
        assert!(r.human().contains("ok: training can load"));
    }

    #[test]
    fn numeric_columns_are_kept_as_values() {
        let d = folder(
            "id,label,age,score\n1,a,0.5,-2\n2,b,0,3e2\n",
            "source,target\n1,2\n",
        );
        let g = load_csv_folder(d.path()).unwrap();
        assert_eq!(g.num_features(), 2);
        assert_eq!(g.features.to_dense(), vec![0.5, -2.0, 0.0, 300.0]);
        assert!(g.raw_features);
    }

    #[test]
    fn no_feature_columns_means_one_hot_ids() {
        let d = folder("id,label\n1,a\n2,b\n3,a\n", "source,target\n1,2\n");
        let g = load_csv_folder(d.path()).unwrap();
        assert_eq!(g.num_features(), 3);
        assert_eq!(g.features.row(2), &[2]);
    }

    #[test]
    fn every_bad_input_names_the_file_and_line() {
        let e = err("name,label\na,x\n", "source,target\n");
        assert!(
            e.contains("nodes.csv line 1") && e.contains("id,label"),
            "{e}"
        );
        let e = err("id,label,words\na,x,1\nb,y,2 -1\n", "source,target\n");
        assert!(
            e.contains("nodes.csv line 3") && e.contains("\"-1\""),
            "{e}"
        );
        let e = err("id,label,f\na,x,1\nb,y,abc\n", "source,target\n");
        assert!(
            e.contains("nodes.csv line 3") && e.contains("column 3 (f)") && e.contains("abc"),
            "{e}"
        );
        let e = err("id,label,f\na,x,1\nb,y\n", "source,target\n");
        assert!(
            e.contains("nodes.csv line 3: 2 columns, the header has 3"),
            "{e}"
        );
        let e = err("id,label\na,x\nb,y\na,y\n", "source,target\n");
        assert!(
            e.contains("nodes.csv line 4") && e.contains("duplicate id \"a\" (first on line 2)"),
            "{e}"
        );
        let e = err("id,label\na,x\nb,y\n", "source,target\na,b\nb,zz\n");
        assert!(
            e.contains("edges.csv line 3") && e.contains("\"zz\" is not in nodes.csv"),
            "{e}"
        );
        let e = err("id,label\na,x\nb,y\n", "from,to\na,b\n");
        assert!(
            e.contains("edges.csv line 1") && e.contains("source,target"),
            "{e}"
        );
        let e = err("id,label\na,x\nb,y\n", "source,target\na,b,c\n");
        assert!(e.contains("edges.csv line 2: 3 columns"), "{e}");
        let e = err("id,label\na,x\nb,x\n", "source,target\n");
        assert!(e.contains("1 class(es)"), "{e}");
        let e = err("id,label\n\"a,x\nb,y\n", "source,target\n");
        assert!(
            e.contains("nodes.csv line 2: a quoted field is not closed"),
            "{e}"
        );
        let e = err("", "source,target\n");
        assert!(e.contains("nodes.csv: the file is empty"), "{e}");
        let e = err("id,label\na,x\nb,y\n", "");
        assert!(e.contains("edges.csv: the file is empty"), "{e}");
        let e = err(
            "id,label,words\na,x,99999999999\nb,y,1\n",
            "source,target\n",
        );
        assert!(
            e.contains("line 2") && e.contains("not an integer in"),
            "{e}"
        );
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("nodes.csv"), "id,label\n").unwrap();
        let e = format!("{:#}", load_csv_folder(d.path()).unwrap_err());
        assert!(e.contains("edges.csv is missing"), "{e}");
        // Binary garbage: one line, not a panic.
        let e = err("id,label\n\u{0}\u{1}\n", "source,target\n");
        assert!(e.contains("nodes.csv line 2"), "{e}");
    }

    #[test]
    fn many_problems_are_counted_and_inspect_lists_them() {
        let mut edges = String::from("source,target\n");
        for k in 0..80 {
            edges.push_str(&format!("a,missing{k}\n"));
        }
        let d = folder("id,label\na,x\nb,y\n", &edges);
        let e = format!("{:#}", load_csv_folder(d.path()).unwrap_err());
        assert!(
            e.contains("edges.csv line 2") && e.contains("79 more problems"),
            "{e}"
        );
        let r = inspect_csv_folder(d.path()).unwrap();
        assert!(!r.ok);
        assert_eq!(
            (r.unknown_ids, r.problem_count, r.problems.len()),
            (80, 80, 50)
        );
        assert!(r.human().contains("NOT ok"));
    }

    #[test]
    fn random_bytes_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let d = tempfile::tempdir().unwrap();
        for _ in 0..200 {
            let mut nodes = b"id,label,words\n".to_vec();
            nodes.extend((0..rng.random_range(0..80)).map(|_| {
                *[b'a', b',', b'"', b'\n', b' ', b'1', b'x', 0xff]
                    .get(rng.random_range(0..8))
                    .unwrap()
            }));
            std::fs::write(d.path().join("nodes.csv"), &nodes).unwrap();
            std::fs::write(d.path().join("edges.csv"), b"source,target\na,1\n").unwrap();
            let _ = load_csv_folder(d.path());
            let _ = inspect_csv_folder(d.path());
        }
    }
}
