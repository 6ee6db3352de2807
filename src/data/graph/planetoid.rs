//! The Planetoid files of Cora, Citeseer and PubMed (Yang et al. 2016): the data and the split
//! of the GCN and GAT papers, read from `ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}`
//! with [`super::pickle`] (nothing executed), assembled as Kipf's `utils.load_data` does.
//!
//! Nodes `0..len(allx)` take the rows of `allx` / `ally`; node `test.index[k]` takes row k of
//! `tx` / `ty`. Nodes in neither (Citeseer's 15 nodes missing from `test.index`) get an empty
//! feature row and no label and keep their edges: they pass messages but are in no split. The split: train =
//! the rows of `x` (the first `len(y)` nodes), validation = the next 500, test = `test.index`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use super::pickle::{self, Pickle, Value};
use super::{BinaryFeatures, Graph, Split, canonical_edges};
use crate::core::digest::hex;

/// The file suffixes, in the order they are read (and hashed for the fingerprint).
pub const PARTS: [&str; 8] = ["x", "y", "tx", "ty", "allx", "ally", "graph", "test.index"];
/// Validation nodes of the Planetoid split.
pub const VAL_NODES: usize = 500;

/// `dir/ind.<name>.<part>` for every part.
pub fn planetoid_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    PARTS
        .iter()
        .map(|p| dir.join(format!("ind.{name}.{p}")))
        .collect()
}

/// Cora's Planetoid classes in LINQS names. The files carry only class numbers; the names are
/// matched by class size (Planetoid counts 351, 217, 418, 818, 426, 298, 180 against the LINQS
/// file's counts per name; all seven sizes differ, so the matching is unique).
const CORA_CLASSES: [&str; 7] = [
    "Theory",
    "Reinforcement_Learning",
    "Genetic_Algorithms",
    "Neural_Networks",
    "Probabilistic_Methods",
    "Case_Based",
    "Rule_Learning",
];

/// A CSR matrix read from a pickle.
struct Sparse {
    rows: usize,
    cols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if len > pickle::MAX_FILE_BYTES {
        bail!(
            "{}: {len} bytes, more than the {} a Planetoid file may have",
            path.display(),
            pickle::MAX_FILE_BYTES
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn sparse(p: &Pickle, file: &str) -> anyhow::Result<Sparse> {
    let Value::Csr(Some(state)) = p.get(p.root) else {
        bail!("{file}: expected a scipy csr_matrix");
    };
    let state = *state;
    let array = |key: &str| {
        p.dict_get(state, key)
            .and_then(|h| p.array(h))
            .filter(|a| a.shape.len() == 1)
            .ok_or_else(|| anyhow::anyhow!("{file}: the csr_matrix has no 1-D array {key:?}"))
    };
    let shape = p
        .dict_get(state, "_shape")
        .and_then(|h| match p.get(h) {
            Value::Tuple(t) if t.len() == 2 => Some((p.int(t[0])?, p.int(t[1])?)),
            _ => None,
        })
        .filter(|&(r, c)| r >= 0 && c >= 0)
        .ok_or_else(|| anyhow::anyhow!("{file}: the csr_matrix has no shape (rows, cols)"))?;
    let (rows, cols) = (shape.0 as usize, shape.1 as usize);
    let (indptr, indices, data) = (array("indptr")?, array("indices")?, array("data")?);
    if indptr.data.len() != rows + 1 {
        bail!(
            "{file}: indptr has {} entries for {rows} rows",
            indptr.data.len()
        );
    }
    if indices.data.len() != data.data.len() {
        bail!(
            "{file}: {} column indices for {} values",
            indices.data.len(),
            data.data.len()
        );
    }
    let nnz = indices.data.len();
    let mut ptr = Vec::with_capacity(rows + 1);
    for (i, &v) in indptr.data.iter().enumerate() {
        let v = v as usize;
        if (i == 0 && v != 0) || v > nnz || ptr.last().is_some_and(|&l| v < l) {
            bail!("{file}: indptr[{i}] = {v} is out of order or beyond the {nnz} values");
        }
        ptr.push(v);
    }
    if ptr.last() != Some(&nnz) {
        bail!(
            "{file}: indptr ends at {:?}, not at the {nnz} values",
            ptr.last()
        );
    }
    let mut idx = Vec::with_capacity(nnz);
    for &c in &indices.data {
        if !(c >= 0.0 && (c as usize) < cols) {
            bail!("{file}: column index {c} outside the {cols} columns");
        }
        idx.push(c as u32);
    }
    let values: Vec<f32> = data.data.iter().map(|&v| v as f32).collect();
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        bail!("{file}: a feature value is {v}");
    }
    Ok(Sparse {
        rows,
        cols,
        indptr: ptr,
        indices: idx,
        values,
    })
}

/// One-hot rows -> Some(class) or None for an all-zero row; anything else is refused.
fn one_hot(p: &Pickle, file: &str) -> anyhow::Result<(Vec<Option<u32>>, usize)> {
    let a = p
        .array(p.root)
        .filter(|a| a.shape.len() == 2)
        .ok_or_else(|| anyhow::anyhow!("{file}: expected a 2-D numpy array of one-hot labels"))?;
    let (rows, c) = (a.shape[0], a.shape[1]);
    let mut out = Vec::with_capacity(rows);
    for r in 0..rows {
        let row = &a.data[r * c..(r + 1) * c];
        let ones: Vec<usize> = (0..c).filter(|&k| row[k] != 0.0).collect();
        if row.iter().any(|&v| v != 0.0 && v != 1.0) || ones.len() > 1 {
            bail!("{file}: row {r} is not one-hot: {row:?}");
        }
        out.push(ones.first().map(|&k| k as u32));
    }
    Ok((out, c))
}

fn adjacency(p: &Pickle, file: &str) -> anyhow::Result<Vec<(usize, Vec<usize>)>> {
    let (Value::DefaultDict(items) | Value::Dict(items)) = p.get(p.root) else {
        bail!("{file}: expected a dict of adjacency lists");
    };
    let mut out = Vec::with_capacity(items.len());
    for &(k, v) in items {
        let Some(key) = p.int(k).filter(|&k| k >= 0) else {
            bail!("{file}: a node key that is not a non-negative integer");
        };
        let Value::List(ns) = p.get(v) else {
            bail!("{file}: node {key}'s neighbours are not a list");
        };
        let mut list = Vec::with_capacity(ns.len());
        for &n in ns {
            match p.int(n) {
                Some(j) if j >= 0 => list.push(j as usize),
                _ => bail!("{file}: node {key} has a neighbour that is not a node index"),
            }
        }
        out.push((key as usize, list));
    }
    Ok(out)
}

/// Reads the Planetoid dataset `name` from `dir` (the files `dir/ind.<name>.*`).
pub fn load_planetoid(dir: &Path, name: &str) -> anyhow::Result<Graph> {
    let files = planetoid_files(dir, name);
    for f in &files {
        if !f.is_file() {
            bail!(
                "{} is missing (run `gradlab data fetch {}` to download the Planetoid files)",
                f.display(),
                catalog_name(name)
            );
        }
    }
    let mut hasher = Sha256::new();
    let mut bytes = Vec::new();
    for f in &files {
        let b = read(f)?;
        hasher.update((b.len() as u64).to_le_bytes());
        hasher.update(&b);
        bytes.push(b);
    }
    let fname = |k: usize| files[k].display().to_string();
    let parse = |k: usize| pickle::parse(&bytes[k], &fname(k));
    let x = sparse(&parse(0)?, &fname(0))?;
    let (y, c_y) = one_hot(&parse(1)?, &fname(1))?;
    let tx = sparse(&parse(2)?, &fname(2))?;
    let (ty, c_ty) = one_hot(&parse(3)?, &fname(3))?;
    let allx = sparse(&parse(4)?, &fname(4))?;
    let (ally, c_ally) = one_hot(&parse(5)?, &fname(5))?;
    let adj = adjacency(&parse(6)?, &fname(6))?;
    let test_index = parse_test_index(&bytes[7], &fname(7))?;
    let mut g = assemble(
        Parts {
            x_rows: x.rows,
            y,
            tx,
            ty,
            allx,
            ally,
            classes: [c_y, c_ty, c_ally],
            adj,
            test_index,
        },
        name,
        &files,
    )?;
    g.fingerprint = hex(&hasher.finalize());
    Ok(g)
}

/// The catalog entry holding `name`'s Planetoid files.
pub fn catalog_name(name: &str) -> String {
    match name {
        // "cora" is the LINQS files.
        "cora" => "cora_planetoid".into(),
        other => other.into(),
    }
}

/// `test.index`: one node index per line.
fn parse_test_index(b: &[u8], file: &str) -> anyhow::Result<Vec<usize>> {
    let text = std::str::from_utf8(b).map_err(|_| anyhow::anyhow!("{file}: not UTF-8 text"))?;
    let mut out = Vec::new();
    for (k, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        match t.parse::<usize>() {
            Ok(v) if v < u32::MAX as usize => out.push(v),
            _ => bail!("{file} line {}: {t:?} is not a node index", k + 1),
        }
    }
    if out.is_empty() {
        bail!("{file}: the file is empty");
    }
    Ok(out)
}

struct Parts {
    x_rows: usize,
    y: Vec<Option<u32>>,
    tx: Sparse,
    ty: Vec<Option<u32>>,
    allx: Sparse,
    ally: Vec<Option<u32>>,
    classes: [usize; 3],
    adj: Vec<(usize, Vec<usize>)>,
    test_index: Vec<usize>,
}

fn assemble(p: Parts, name: &str, files: &[PathBuf]) -> anyhow::Result<Graph> {
    let f = |k: usize| files[k].display().to_string();
    let c = p.classes[0];
    if p.classes.iter().any(|&k| k != c) || c == 0 {
        bail!(
            "{}, {}, {}: different numbers of classes {:?}",
            f(1),
            f(3),
            f(5),
            p.classes
        );
    }
    if p.x_rows != p.y.len() || p.tx.rows != p.ty.len() || p.allx.rows != p.ally.len() {
        bail!(
            "{}: row counts disagree: x {} / y {}, tx {} / ty {}, allx {} / ally {}",
            files[0].parent().unwrap_or(Path::new(".")).display(),
            p.x_rows,
            p.y.len(),
            p.tx.rows,
            p.ty.len(),
            p.allx.rows,
            p.ally.len()
        );
    }
    let cols = p.allx.cols;
    if p.tx.cols != cols {
        bail!("{}: {} feature columns, allx has {cols}", f(2), p.tx.cols);
    }
    if p.tx.rows != p.test_index.len() {
        bail!(
            "{}: {} test nodes for the {} rows of tx",
            f(7),
            p.test_index.len(),
            p.tx.rows
        );
    }
    if p.x_rows + VAL_NODES > p.allx.rows {
        bail!(
            "{}: {} rows, fewer than the {} training + {VAL_NODES} validation nodes",
            f(4),
            p.allx.rows,
            p.x_rows
        );
    }
    let n_allx = p.allx.rows;
    // Kipf's loader: allx rows, then the range of test.index (padded with empty rows).
    let n = p
        .test_index
        .iter()
        .map(|&i| i + 1)
        .max()
        .unwrap_or(0)
        .max(n_allx);
    // Each node's source row: Some((from tx?, row)).
    let mut source: Vec<Option<(bool, usize)>> =
        (0..n).map(|i| (i < n_allx).then_some((false, i))).collect();
    for (k, &i) in p.test_index.iter().enumerate() {
        if i < n_allx {
            bail!(
                "{} line {}: test node {i} is one of the {n_allx} rows of allx",
                f(7),
                k + 1
            );
        }
        if source[i].is_some() {
            bail!("{} line {}: test node {i} is listed twice", f(7), k + 1);
        }
        source[i] = Some((true, k));
    }
    let mut features = BinaryFeatures {
        cols,
        indptr: vec![0],
        ..Default::default()
    };
    let mut labels = Vec::with_capacity(n);
    let mut unlabelled = Vec::new();
    let mut padded = 0;
    for (i, s) in source.iter().enumerate() {
        let (m, r, lab) = match *s {
            Some((false, r)) => (&p.allx, r, p.ally[r]),
            Some((true, r)) => (&p.tx, r, p.ty[r]),
            None => {
                padded += 1;
                features.indptr.push(features.indices.len());
                labels.push(0);
                unlabelled.push(i as u32);
                continue;
            }
        };
        let (a, b) = (m.indptr[r], m.indptr[r + 1]);
        let mut row: Vec<(u32, f32)> = m.indices[a..b]
            .iter()
            .copied()
            .zip(m.values[a..b].iter().copied())
            .filter(|&(_, v)| v != 0.0)
            .collect();
        row.sort_by_key(|e| e.0);
        row.dedup_by_key(|e| e.0);
        features.indices.extend(row.iter().map(|e| e.0));
        features.values.extend(row.iter().map(|e| e.1));
        features.indptr.push(features.indices.len());
        match lab {
            Some(l) => labels.push(l),
            None => {
                labels.push(0);
                unlabelled.push(i as u32);
            }
        }
    }
    if features.values.iter().all(|&v| v == 1.0) {
        features.values.clear();
    }
    let mut raw = Vec::new();
    let mut entries = 0usize;
    for (u, ns) in &p.adj {
        for &v in ns {
            entries += 1;
            if *u >= n || v >= n {
                bail!(
                    "{}: edge ({u}, {v}) names a node beyond the {n} nodes of the features",
                    f(6)
                );
            }
            raw.push((*u as u32, v as u32));
        }
    }
    let (edges, duplicates, self_loops) = canonical_edges(raw);
    let mut test: Vec<u32> = p.test_index.iter().map(|&i| i as u32).collect();
    test.sort_unstable();
    let split = Split {
        train: (0..p.x_rows as u32).collect(),
        val: (p.x_rows as u32..(p.x_rows + VAL_NODES) as u32).collect(),
        test,
    };
    for &i in split.train.iter().chain(&split.val).chain(&split.test) {
        if unlabelled.binary_search(&i).is_ok() {
            bail!(
                "{}: node {i} of the Planetoid split has no label (an all-zero row)",
                files[0].parent().unwrap_or(Path::new(".")).display()
            );
        }
    }
    let class_names = if name == "cora" && c == CORA_CLASSES.len() {
        CORA_CLASSES.iter().map(|s| s.to_string()).collect()
    } else {
        (0..c).map(|k| format!("class {k}")).collect()
    };
    let mut notes = vec![format!(
        "{}: {entries} neighbour entries -> {} undirected edges ({duplicates} duplicate or reversed pairs merged, {self_loops} self-loops dropped)",
        f(6),
        edges.len()
    )];
    if padded > 0 {
        notes.push(format!(
            "{}: {padded} nodes between the test indices are in no feature or label file: empty feature rows, no label, edges kept, in no split (as Kipf's loader pads them)",
            f(7)
        ));
    }
    let g = Graph {
        // Cora also comes as LINQS files ("cora"); Citeseer and PubMed only as Planetoid files.
        name: if name == "cora" {
            "cora-planetoid".into()
        } else {
            name.to_string()
        },
        node_names: (0..n).map(|i| i.to_string()).collect(),
        features,
        labels,
        class_names,
        edges,
        notes,
        unlabelled,
        given_split: Some(split),
        ..Default::default()
    };
    g.validate()?;
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::graph::pickle::write;

    /// Writes a tiny Planetoid dataset `name` into `dir`: 4 nodes of x, 506 of allx, 2 test nodes
    /// (indices 507 and 509: node 506 and 508 are in no file, as Citeseer's padded nodes).
    pub(crate) fn write_tiny(dir: &Path, name: &str) {
        let n_allx = 506;
        let one_hot = |rows: usize, f: &dyn Fn(usize) -> usize| {
            let mut v = vec![0; rows * 2];
            for r in 0..rows {
                v[r * 2 + f(r)] = 1;
            }
            write::dense(rows, 2, &v)
        };
        let diag = |rows: usize| {
            let ptr: Vec<i32> = (0..=rows as i32).collect();
            let ind: Vec<i32> = (0..rows as i32).map(|r| r % 3).collect();
            write::csr(rows, 3, &ptr, &ind, &vec![1.0; rows])
        };
        let put = |part: &str, b: Vec<u8>| {
            std::fs::write(dir.join(format!("ind.{name}.{part}")), b).unwrap()
        };
        put("x", diag(4));
        put("y", one_hot(4, &|r| r % 2));
        put(
            "tx",
            write::csr(2, 3, &[0, 2, 3], &[0, 2, 1], &[1.0, 1.0, 1.0]),
        );
        put("ty", one_hot(2, &|r| r));
        put("allx", diag(n_allx));
        put("ally", one_hot(n_allx, &|r| r % 2));
        let mut adj: Vec<(i64, Vec<i64>)> = (0..510).map(|i| (i, vec![])).collect();
        adj[0].1 = vec![1, 1, 0, 509];
        adj[509].1 = vec![0, 507];
        put("graph", write::graph(&adj));
        put("test.index", b"509\n507\n".to_vec());
    }

    #[test]
    fn a_written_dataset_assembles_as_kipfs_loader() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny(dir.path(), "tiny");
        let g = load_planetoid(dir.path(), "tiny").unwrap();
        assert_eq!(g.num_nodes(), 510);
        assert_eq!(g.num_features(), 3);
        assert_eq!(g.name, "tiny");
        // tx row 0 belongs to node 509 (first line of test.index), row 1 to node 507.
        assert_eq!(g.features.row(509), &[0, 2]);
        assert_eq!(g.features.row(507), &[1]);
        assert_eq!((g.labels[509], g.labels[507]), (0, 1));
        assert_eq!(g.unlabelled, vec![506, 508]);
        assert!(g.features.row(506).is_empty());
        assert_eq!(g.edges, vec![(0, 1), (0, 509), (507, 509)]);
        let s = g.given_split.as_ref().unwrap();
        assert_eq!(s.sizes(), (4, 500, 2));
        assert_eq!(s.test, vec![507, 509]);
        assert!(
            g.notes.iter().any(|n| n.contains("2 nodes")),
            "{:?}",
            g.notes
        );
        assert_eq!(g.fingerprint.len(), 64);
    }

    #[test]
    fn bad_files_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny(dir.path(), "tiny");
        let e = |dir: &Path| format!("{:#}", load_planetoid(dir, "tiny").unwrap_err());
        std::fs::write(dir.path().join("ind.tiny.test.index"), "509\nabc\n").unwrap();
        let m = e(dir.path());
        assert!(
            m.contains("ind.tiny.test.index line 2") && m.contains("abc"),
            "{m}"
        );
        std::fs::write(dir.path().join("ind.tiny.test.index"), "509\n3\n").unwrap();
        assert!(e(dir.path()).contains("is one of the 506 rows of allx"));
        write_tiny(dir.path(), "tiny");
        std::fs::write(
            dir.path().join("ind.tiny.ty"),
            write::dense(2, 2, &[1, 1, 0, 1]),
        )
        .unwrap();
        let m = e(dir.path());
        assert!(
            m.contains("ind.tiny.ty") && m.contains("row 0 is not one-hot"),
            "{m}"
        );
        write_tiny(dir.path(), "tiny");
        std::fs::write(
            dir.path().join("ind.tiny.graph"),
            write::graph(&[(0, vec![9999])]),
        )
        .unwrap();
        let m = e(dir.path());
        assert!(m.contains("ind.tiny.graph") && m.contains("9999"), "{m}");
        std::fs::remove_file(dir.path().join("ind.tiny.allx")).unwrap();
        let m = e(dir.path());
        assert!(
            m.contains("ind.tiny.allx is missing") && m.contains("data fetch"),
            "{m}"
        );
    }

    #[test]
    fn truncated_real_files_fail_with_the_file_name() {
        let Some(dir) = crate::core::test_util::data_dir_or_skip("planetoid") else {
            return;
        };
        for part in ["x", "ty", "graph"] {
            let b = std::fs::read(dir.join(format!("ind.cora.{part}"))).unwrap();
            // Every prefix of a small file, every 97th of a large one (each opcode boundary of
            // the array headers is among the first bytes).
            let step = if b.len() > 5000 { 97 } else { 1 };
            for cut in (0..b.len()).step_by(step).chain(0..200.min(b.len())) {
                let e = pickle::parse(&b[..cut], "ind.cora.cut").err().unwrap();
                assert!(format!("{e:#}").contains("ind.cora.cut"));
            }
        }
    }

    fn real(name: &str) -> Option<Graph> {
        let dir = crate::core::test_util::data_dir_or_skip("planetoid")?;
        Some(load_planetoid(&dir, name).unwrap())
    }

    fn counts(g: &Graph, nodes: impl Iterator<Item = u32>) -> Vec<usize> {
        let mut c = vec![0; g.num_classes()];
        for i in nodes {
            c[g.labels[i as usize] as usize] += 1;
        }
        c
    }

    // The figures below were obtained once with Python 3.11, numpy 2.4 and scipy 1.17 from the
    // same files (`pickle.load(f, encoding="latin1")`, then Kipf's `utils.load_data`), an
    // independent reading of the pickles.
    #[test]
    fn real_cora_matches_an_independent_reading() {
        let Some(g) = real("cora") else { return };
        assert_eq!((g.num_nodes(), g.num_features()), (2708, 1433));
        assert_eq!(g.features.nnz(), 49216);
        assert!(g.features.values.is_empty(), "binary features");
        assert_eq!(g.edges.len(), 5278);
        assert!(g.unlabelled.is_empty());
        let all = counts(&g, 0..2708);
        assert_eq!(all, vec![351, 217, 418, 818, 426, 298, 180]);
        let s = g.given_split.as_ref().unwrap();
        assert_eq!(s.sizes(), (140, 500, 1000));
        assert_eq!(counts(&g, s.train.iter().copied()), vec![20; 7]);
        assert_eq!(
            counts(&g, s.val.iter().copied()),
            vec![61, 36, 78, 158, 81, 57, 29]
        );
        assert_eq!(
            counts(&g, s.test.iter().copied()),
            vec![130, 91, 144, 319, 149, 103, 64]
        );
        assert_eq!((s.test[0], s.test[999]), (1708, 2707));
        assert_eq!(
            g.features.row(0),
            &[19, 81, 146, 315, 774, 877, 1194, 1247, 1274]
        );
        // Row 0 of tx is node 2692 (the first line of test.index).
        assert_eq!(&g.features.row(2692)[..4], &[311, 314, 353, 505]);
        assert_eq!(g.class_names[3], "Neural_Networks");
    }

    #[test]
    fn real_citeseer_matches_an_independent_reading() {
        let Some(g) = real("citeseer") else { return };
        assert_eq!((g.num_nodes(), g.num_features()), (3327, 3703));
        assert_eq!(g.features.nnz(), 105165);
        // 9464 neighbour entries, 248 of them self-loops -> 4552 undirected edges.
        assert_eq!(g.edges.len(), 4552);
        assert!(g.notes[0].contains("248 self-loops"), "{:?}", g.notes);
        assert_eq!(
            g.unlabelled,
            vec![
                2407, 2489, 2553, 2682, 2781, 2953, 3042, 3063, 3212, 3214, 3250, 3292, 3305, 3306,
                3309
            ]
        );
        // Empty feature rows, but not isolated: each keeps its 1-2 neighbours.
        let deg = g.degrees();
        for &i in &g.unlabelled {
            assert!(g.features.row(i as usize).is_empty());
            assert!((1..=2).contains(&deg[i as usize]), "node {i}");
        }
        let labelled = (0..3327u32).filter(|i| g.unlabelled.binary_search(i).is_err());
        assert_eq!(counts(&g, labelled), vec![249, 590, 668, 701, 596, 508]);
        let s = g.given_split.as_ref().unwrap();
        assert_eq!(s.sizes(), (120, 500, 1000));
        assert_eq!(counts(&g, s.train.iter().copied()), vec![20; 6]);
        assert_eq!(
            counts(&g, s.val.iter().copied()),
            vec![29, 86, 116, 106, 94, 69]
        );
        assert_eq!(
            counts(&g, s.test.iter().copied()),
            vec![77, 182, 181, 231, 169, 160]
        );
        assert_eq!((s.test[0], s.test[999]), (2312, 3326));
        assert_eq!(&g.features.row(2488)[..4], &[19, 21, 169, 170]);
        let isolated = deg.iter().filter(|&&d| d == 0).count();
        assert_eq!(isolated, 48);
    }

    /// Single-byte mutations of the real files never panic; refusals name the file.
    #[test]
    fn mutated_real_files_fail_cleanly() {
        use rand::{Rng, SeedableRng};
        let Some(dir) = crate::core::test_util::data_dir_or_skip("planetoid") else {
            return;
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for part in ["x", "y", "graph"] {
            let good = std::fs::read(dir.join(format!("ind.citeseer.{part}"))).unwrap();
            for _ in 0..300 {
                let mut m = good.clone();
                for _ in 0..rng.random_range(1..4) {
                    let k = rng.random_range(0..m.len().min(2000));
                    m[k] = rng.random();
                }
                if let Err(e) = pickle::parse(&m, "ind.citeseer.mut") {
                    assert!(format!("{e:#}").contains("ind.citeseer.mut"));
                }
            }
        }
    }
}
