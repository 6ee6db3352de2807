//! The Cora citation graph in the LINQS text format, validated line by line.
//!
//! `cora.content`: `<paper id> <word 0/1> ... <class label>`, tab-separated, one paper per line;
//! `cora.cites`: `<cited id> <citing id>`. Node index = line order in `cora.content` (what pygcn
//! and the pygcn split assume).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::{Graph, canonical_edges};

/// Longest line accepted. Cora's are ~2.9 kB; a file without newlines (a binary, an HTML error
/// page on one line) is rejected after reading this much instead of being slurped whole.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The two files of a LINQS dataset in `dir`.
pub fn cora_files(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("cora.content"), dir.join("cora.cites"))
}

/// Reads `dir/cora.content` and `dir/cora.cites`.
pub fn load_cora(dir: &Path) -> anyhow::Result<Graph> {
    let (content, cites) = cora_files(dir);
    for f in [&content, &cites] {
        if !f.is_file() {
            bail!(
                "{} is missing (run `gradlab data fetch cora` to download Cora)",
                f.display()
            );
        }
    }
    let open = |p: &Path| File::open(p).with_context(|| format!("cannot open {}", p.display()));
    let mut g = parse_content(
        BufReader::new(open(&content)?),
        &content.display().to_string(),
    )?;
    parse_cites(
        BufReader::new(open(&cites)?),
        &cites.display().to_string(),
        &mut g,
    )?;
    g.name = "cora".into();
    g.fingerprint = super::fingerprint_files(&[&content, &cites])?;
    Ok(g)
}

/// Yields (1-based line number, line without its `\n` / `\r\n`), skipping blank lines; fails on an
/// over-long or non-UTF-8 line.
pub(crate) struct Lines<R> {
    reader: R,
    file: String,
    line_no: usize,
    buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    pub(crate) fn new(reader: R, file: &str) -> Self {
        Self {
            reader,
            file: file.to_string(),
            line_no: 0,
            buf: Vec::new(),
        }
    }

    pub(crate) fn next_line(&mut self) -> anyhow::Result<Option<(usize, &str)>> {
        loop {
            self.buf.clear();
            self.line_no += 1;
            let n = (&mut self.reader)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut self.buf)
                .with_context(|| format!("{} line {}: read error", self.file, self.line_no))?;
            if n == 0 {
                return Ok(None);
            }
            if self.buf.len() > MAX_LINE_BYTES {
                bail!(
                    "{} line {}: line is longer than {} bytes (not a LINQS text file?)",
                    self.file,
                    self.line_no,
                    MAX_LINE_BYTES
                );
            }
            while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                self.buf.pop();
            }
            // Windows editors may start a UTF-8 file with a byte-order mark: not part of the id.
            if self.line_no == 1 && self.buf.starts_with(b"\xEF\xBB\xBF") {
                self.buf.drain(..3);
            }
            if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let line = std::str::from_utf8(&self.buf).map_err(|_| {
                anyhow::anyhow!("{} line {}: not UTF-8 text", self.file, self.line_no)
            })?;
            return Ok(Some((self.line_no, line)));
        }
    }
}

/// Parses `cora.content`. `file` names the source in error messages.
pub fn parse_content(reader: impl BufRead, file: &str) -> anyhow::Result<Graph> {
    let mut lines = Lines::new(reader, file);
    let mut columns: Option<usize> = None;
    let mut first_line_of: HashMap<String, usize> = HashMap::new();
    let mut g = Graph::default();
    let mut label_names: Vec<String> = Vec::new();
    g.features.indptr.push(0);
    while let Some((no, line)) = lines.next_line()? {
        let fields: Vec<&str> = line.split('\t').collect();
        let expected = *columns.get_or_insert(fields.len());
        if fields.len() < 3 {
            bail!(
                "{file} line {no}: expected a paper id, word columns and a label separated by tabs, found {} column(s)",
                fields.len()
            );
        }
        if fields.len() != expected {
            bail!(
                "{file} line {no}: expected {expected} tab-separated columns (as on the first line), found {}",
                fields.len()
            );
        }
        let id = fields[0].trim();
        if id.is_empty() {
            bail!("{file} line {no}: empty paper id");
        }
        if let Some(prev) = first_line_of.insert(id.to_string(), no) {
            bail!("{file} line {no}: duplicate paper id {id} (first on line {prev})");
        }
        for (j, f) in fields[1..expected - 1].iter().enumerate() {
            match f.trim() {
                "0" => {}
                "1" => g.features.indices.push(j as u32),
                other => bail!(
                    "{file} line {no} column {}: word value {other:?} is not 0 or 1",
                    j + 2
                ),
            }
        }
        g.features.indptr.push(g.features.indices.len());
        let label = fields[expected - 1].trim();
        if label.is_empty() {
            bail!("{file} line {no}: empty class label");
        }
        let l = match label_names.iter().position(|c| c == label) {
            Some(l) => l,
            None => {
                label_names.push(label.to_string());
                label_names.len() - 1
            }
        };
        g.labels.push(l as u32);
        g.node_names.push(id.to_string());
    }
    let Some(columns) = columns else {
        bail!("{file}: the file is empty")
    };
    g.features.cols = columns - 2;
    // Classes in sorted order, as the PyTorch references number them.
    let mut order: Vec<usize> = (0..label_names.len()).collect();
    order.sort_by(|&a, &b| label_names[a].cmp(&label_names[b]));
    let mut new_of = vec![0u32; order.len()];
    for (new, &old) in order.iter().enumerate() {
        new_of[old] = new as u32;
    }
    for l in &mut g.labels {
        *l = new_of[*l as usize];
    }
    g.class_names = order.iter().map(|&o| label_names[o].clone()).collect();
    Ok(g)
}

/// Parses `cora.cites` into `g.edges`, checking every id against the papers in `g`.
pub fn parse_cites(reader: impl BufRead, file: &str, g: &mut Graph) -> anyhow::Result<()> {
    let index: HashMap<&str, u32> = g
        .node_names
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i as u32))
        .collect();
    let mut lines = Lines::new(reader, file);
    let mut raw = Vec::new();
    while let Some((no, line)) = lines.next_line()? {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != 2 {
            bail!(
                "{file} line {no}: expected 2 paper ids (cited, citing), found {} column(s)",
                fields.len()
            );
        }
        let mut pair = [0u32; 2];
        for (k, id) in fields.iter().enumerate() {
            pair[k] = *index.get(id).ok_or_else(|| {
                anyhow::anyhow!("{file} line {no}: paper id {id} is not in cora.content")
            })?;
        }
        raw.push((pair[0], pair[1]));
    }
    if raw.is_empty() {
        bail!("{file}: the file is empty");
    }
    let lines_read = raw.len();
    let (edges, duplicates, self_loops) = canonical_edges(raw);
    g.notes.push(format!(
        "{file}: {lines_read} citations -> {} undirected edges ({duplicates} duplicate or reversed pairs merged, {self_loops} self-citations dropped)",
        edges.len()
    ));
    g.edges = edges;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTENT: &str = "p1\t0\t1\t0\tA\np2\t1\t1\t0\tB\r\n\np3\t0\t0\t1\tA\n";

    fn content(s: &str) -> anyhow::Result<Graph> {
        parse_content(s.as_bytes(), "cora.content")
    }

    fn err(r: anyhow::Result<impl std::fmt::Debug>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    #[test]
    fn good_content_and_cites_parse_with_crlf_and_blank_lines() {
        let mut g = content(CONTENT).unwrap();
        assert_eq!(g.num_nodes(), 3);
        assert_eq!(g.features.cols, 3);
        assert_eq!(
            g.features.to_dense(),
            vec![0., 1., 0., 1., 1., 0., 0., 0., 1.]
        );
        assert_eq!(g.class_names, vec!["A", "B"]);
        assert_eq!(g.labels, vec![0, 1, 0]);
        parse_cites(
            "p1\tp2\np2\tp1\r\np3 p3\np3\tp1\n".as_bytes(),
            "cora.cites",
            &mut g,
        )
        .unwrap();
        assert_eq!(g.edges, vec![(0, 1), (0, 2)]);
        assert!(g.notes[0].contains("1 duplicate"), "{:?}", g.notes);
        assert!(g.notes[0].contains("1 self-citations"), "{:?}", g.notes);
        g.validate().unwrap();
    }

    #[test]
    fn classes_are_numbered_in_sorted_order() {
        let g = content("a\t1\tZeta\nb\t0\tAlpha\n").unwrap();
        assert_eq!(g.class_names, vec!["Alpha", "Zeta"]);
        assert_eq!(g.labels, vec![1, 0]);
    }

    #[test]
    fn wrong_column_count_names_file_and_line() {
        let e = err(content("p1\t0\t1\tA\np2\t0\tA\n"));
        assert!(
            e.contains("cora.content line 2") && e.contains("expected 4") && e.contains("found 3"),
            "{e}"
        );
    }

    #[test]
    fn too_few_columns_is_rejected() {
        let e = err(content("p1 0 1 A\n"));
        assert!(e.contains("line 1") && e.contains("found 1 column"), "{e}");
    }

    #[test]
    fn non_binary_feature_names_line_and_column() {
        let e = err(content("p1\t0\t1\tA\np2\t0\t0.5\tA\n"));
        assert!(
            e.contains("cora.content line 2 column 3") && e.contains("\"0.5\" is not 0 or 1"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_id_names_both_lines() {
        let e = err(content("p1\t0\tA\np2\t1\tA\np1\t1\tB\n"));
        assert!(
            e.contains("line 3")
                && e.contains("duplicate paper id p1")
                && e.contains("first on line 1"),
            "{e}"
        );
    }

    #[test]
    fn empty_content_file_is_rejected() {
        let e = err(content(""));
        assert!(e.contains("cora.content: the file is empty"), "{e}");
        let e = err(content("\n\r\n  \n"));
        assert!(e.contains("the file is empty"), "{e}");
    }

    #[test]
    fn empty_cites_file_is_rejected() {
        let mut g = content(CONTENT).unwrap();
        let e = err(parse_cites("".as_bytes(), "cora.cites", &mut g));
        assert!(e.contains("cora.cites: the file is empty"), "{e}");
    }

    #[test]
    fn unknown_paper_in_cites_names_the_id_and_line() {
        let mut g = content(CONTENT).unwrap();
        let e = err(parse_cites(
            "p1\tp2\np1\tp9\n".as_bytes(),
            "cora.cites",
            &mut g,
        ));
        assert!(
            e.contains("cora.cites line 2") && e.contains("paper id p9 is not in cora.content"),
            "{e}"
        );
    }

    #[test]
    fn cites_with_three_columns_is_rejected() {
        let mut g = content(CONTENT).unwrap();
        let e = err(parse_cites("p1\tp2\tp3\n".as_bytes(), "cora.cites", &mut g));
        assert!(
            e.contains("line 1") && e.contains("expected 2 paper ids"),
            "{e}"
        );
    }

    #[test]
    fn garbage_without_newlines_fails_fast_at_the_line_cap() {
        // A reader that would produce 1 GB of 'x': the loader must stop after ~1 MiB.
        struct Endless(usize);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                buf.fill(b'x');
                self.0 += buf.len();
                Ok(buf.len())
            }
        }
        let mut src = Endless(0);
        let e = err(parse_content(BufReader::new(&mut src), "cora.content"));
        assert!(e.contains("line 1") && e.contains("longer than"), "{e}");
        assert!(src.0 < 4 * MAX_LINE_BYTES, "read {} bytes", src.0);
    }

    #[test]
    fn garbage_lines_fail_at_the_first_bad_line() {
        let mut s = String::from("p1\t0\t1\tA\n");
        s.push_str(&"<html>garbage</html>\n".repeat(100_000));
        let e = err(content(&s));
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn binary_file_is_not_utf8() {
        let e = err(parse_content(
            &[0xff, 0xfe, 0x00, b'\n'][..],
            "cora.content",
        ));
        assert!(e.contains("line 1") && e.contains("not UTF-8"), "{e}");
    }

    #[test]
    fn missing_files_say_how_to_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let e = err(load_cora(dir.path()));
        assert!(
            e.contains("cora.content is missing") && e.contains("gradlab data fetch cora"),
            "{e}"
        );
    }

    fn real_cora() -> Option<PathBuf> {
        crate::core::test_util::data_dir_or_skip("cora")
    }

    #[test]
    fn real_cora_has_the_documented_shape() {
        let Some(dir) = real_cora() else { return };
        let g = load_cora(&dir).unwrap();
        g.validate().unwrap();
        assert_eq!(g.num_nodes(), 2708);
        assert_eq!(g.num_features(), 1433);
        assert_eq!(g.features.nnz(), 49216);
        assert_eq!(g.edges.len(), 5278);
        assert_eq!(g.num_classes(), 7);
        let mut counts = vec![0; 7];
        for &l in &g.labels {
            counts[l as usize] += 1;
        }
        assert_eq!(g.class_names[2], "Neural_Networks");
        assert_eq!(counts, vec![298, 418, 818, 426, 217, 180, 351]);
    }
}
