//! The dataset catalog (`datasets/catalog.toml`, embedded in the binary) and the state of each
//! dataset on disk.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::core::digest::hex;
use crate::core::{Sink, StopFlag};

/// The catalog shipped with gradlab. Embedded so that the app works from any directory.
pub const BUILTIN_TOML: &str = include_str!("../../datasets/catalog.toml");

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    #[serde(rename = "dataset", default)]
    pub datasets: Vec<Dataset>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// The name used on the command line, and the folder under the data dir unless `folder`
    /// says otherwise.
    pub name: String,
    /// The folder under the data dir when several datasets share one (the Planetoid files of
    /// Cora, Citeseer and PubMed all live in `planetoid/`, as in their repository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    pub title: String,
    pub description: String,
    pub licence: String,
    pub citation: String,
    pub homepage: String,
    #[serde(rename = "file", default)]
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Where the file goes, relative to the dataset's folder (`/` separated).
    pub path: String,
    pub url: String,
    /// Lowercase hex.
    pub sha256: String,
    /// In bytes; 0 with `size_unknown`.
    pub size: u64,
    /// The size is not known (a file missing from the reference copy whose sha256 is known from
    /// elsewhere): the sha256 alone decides, and a download stops at [`MAX_UNKNOWN_SIZE`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub size_unknown: bool,
}

/// Most bytes fetched for a file of unknown size.
pub const MAX_UNKNOWN_SIZE: u64 = 256 << 20;

impl Catalog {
    /// The catalog embedded in the binary.
    pub fn builtin() -> Catalog {
        // A broken embedded catalog is a build defect, caught by the unit tests below.
        parse(BUILTIN_TOML, "datasets/catalog.toml")
            .expect("the embedded datasets/catalog.toml is valid")
    }

    pub fn get(&self, name: &str) -> Option<&Dataset> {
        self.datasets.iter().find(|d| d.name == name)
    }

    /// Like `get`, with an error listing the known names.
    pub fn find(&self, name: &str) -> anyhow::Result<&Dataset> {
        self.get(name).with_context(|| {
            let names: Vec<&str> = self.datasets.iter().map(|d| d.name.as_str()).collect();
            format!(
                "unknown dataset '{name}'; the catalog has: {}",
                names.join(", ")
            )
        })
    }
}

impl Dataset {
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The total size for people: "1.1 MB", or "1.1 MB + ?" when a file's size is not known.
    pub fn size_text(&self) -> String {
        let known = human_size(self.total_size());
        if self.files.iter().any(|f| f.size_unknown) {
            format!("{known} + ?")
        } else {
            known
        }
    }

    /// The folder name under the data dir.
    pub fn folder_name(&self) -> &str {
        self.folder.as_deref().unwrap_or(&self.name)
    }

    pub fn dir(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(self.folder_name())
    }

    /// Where `file` lives on disk.
    pub fn file_path(&self, data_dir: &Path, file: &FileEntry) -> PathBuf {
        let mut p = self.dir(data_dir);
        p.extend(file.path.split('/'));
        p
    }

    /// How a file is named in messages: `cora/cora.content`.
    pub fn display_path(&self, file: &FileEntry) -> String {
        format!("{}/{}", self.folder_name(), file.path)
    }
}

/// Parses and validates a catalog; `origin` names the source in error messages.
pub fn parse(text: &str, origin: &str) -> anyhow::Result<Catalog> {
    let catalog: Catalog = toml::from_str(text)
        .map_err(|e| anyhow::anyhow!("{origin}: {}", e.to_string().trim_end()))?;
    validate(&catalog).with_context(|| format!("{origin}: invalid catalog"))?;
    Ok(catalog)
}

/// Checks every field a download relies on, so a bad entry fails on load with its name and field
/// instead of half-way through a download.
pub fn validate(catalog: &Catalog) -> anyhow::Result<()> {
    if catalog.datasets.is_empty() {
        bail!("no [[dataset]] entries");
    }
    let mut names = HashSet::new();
    for (i, ds) in catalog.datasets.iter().enumerate() {
        let label = if ds.name.is_empty() {
            format!("dataset #{}", i + 1)
        } else {
            format!("dataset '{}'", ds.name)
        };
        if ds.name.is_empty() {
            bail!("{label}: field 'name' is empty");
        }
        if !ds
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        {
            bail!(
                "{label}: field 'name' must use only a-z, 0-9, '_' and '-' (it becomes a folder name)"
            );
        }
        if !names.insert(ds.name.as_str()) {
            bail!("{label}: field 'name' is used by another dataset too");
        }
        if let Some(folder) = &ds.folder
            && (folder.is_empty()
                || !folder
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'))
        {
            bail!("{label}: field 'folder' must be a non-empty name of a-z, 0-9, '_' and '-'");
        }
        for (field, value) in [
            ("title", &ds.title),
            ("description", &ds.description),
            ("licence", &ds.licence),
            ("citation", &ds.citation),
            ("homepage", &ds.homepage),
        ] {
            if value.trim().is_empty() {
                bail!("{label}: field '{field}' is empty");
            }
        }
        if ds.files.is_empty() {
            bail!("{label}: has no [[dataset.file]] entries");
        }
        let mut paths = HashSet::new();
        for (j, f) in ds.files.iter().enumerate() {
            let flabel = format!(
                "{label}, file #{} ({})",
                j + 1,
                if f.path.is_empty() {
                    "no path"
                } else {
                    &f.path
                }
            );
            check_rel_path(&f.path).with_context(|| format!("{flabel}: field 'path'"))?;
            if !paths.insert(f.path.as_str()) {
                bail!("{flabel}: field 'path' is listed twice");
            }
            if !(f.url.starts_with("https://") || f.url.starts_with("http://"))
                || f.url.len() <= "https://".len()
            {
                bail!(
                    "{flabel}: field 'url' must be an http:// or https:// address, got '{}'",
                    f.url
                );
            }
            if f.size == 0 && !f.size_unknown {
                bail!("{flabel}: field 'size' must be more than 0 bytes");
            }
            if f.size != 0 && f.size_unknown {
                bail!("{flabel}: field 'size' must be 0 when 'size_unknown' is set");
            }
            if f.sha256.len() != 64
                || !f
                    .sha256
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
            {
                bail!(
                    "{flabel}: field 'sha256' must be 64 lowercase hex digits, got '{}'",
                    f.sha256
                );
            }
        }
    }
    Ok(())
}

/// A relative, normalised path that stays inside the dataset folder.
fn check_rel_path(p: &str) -> anyhow::Result<()> {
    if p.is_empty() {
        bail!("is empty");
    }
    if p.contains('\\') {
        bail!("'{p}' must use '/' as separator");
    }
    if p.ends_with(".part") {
        bail!("'{p}' must not end in .part (that suffix marks unfinished downloads)");
    }
    for part in p.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            bail!(
                "'{p}' must be a relative path inside the dataset folder (no empty, '.' or '..' parts)"
            );
        }
    }
    if Path::new(p)
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        bail!("'{p}' must be a relative path inside the dataset folder");
    }
    Ok(())
}

/// Where an unfinished download of `dest` is written.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// sha256 (lowercase hex) and length of a file, read in chunks. `on_chunk` gets the bytes read so
/// far after each chunk and may return false to give up (the result is then `Ok(None)`).
pub fn sha256_file(
    path: &Path,
    mut on_chunk: impl FnMut(u64) -> bool,
) -> io::Result<Option<(String, u64)>> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n_total = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        n_total += n as u64;
        if !on_chunk(n_total) {
            return Ok(None);
        }
    }
    Ok(Some((hex(&hasher.finalize()), n_total)))
}

/// Bytes as people read them: `7.5 MB`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} kB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum FileState {
    Present,
    Missing,
    /// Only an unfinished `.part` download is there.
    Partial,
    Corrupt {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileStatus {
    /// Relative to the data dir, e.g. `cora/cora.content`.
    pub path: String,
    #[serde(flatten)]
    pub state: FileState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetState {
    /// Every file is there with the right size (and sha256 when hashed).
    Present,
    /// No file and no unfinished download.
    Missing,
    /// Some files are there, others missing or unfinished.
    Partial,
    /// At least one file has the wrong size or sha256, or cannot be read.
    Corrupt,
}

impl DatasetState {
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetState::Present => "present",
            DatasetState::Missing => "missing",
            DatasetState::Partial => "partial",
            DatasetState::Corrupt => "corrupt",
        }
    }
}

impl std::fmt::Display for DatasetState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetStatus {
    pub name: String,
    pub state: DatasetState,
    /// Whether contents were hashed (`Check::Full`) or only sizes compared.
    pub hashed: bool,
    pub files: Vec<FileStatus>,
}

impl DatasetStatus {
    /// Files that are not present, with their state: what a message about this dataset names.
    pub fn problems(&self) -> impl Iterator<Item = &FileStatus> {
        self.files.iter().filter(|f| f.state != FileState::Present)
    }

    /// One line per problem, e.g. `cora/cora.cites: sha256 ..., expected ...`.
    pub fn problem_lines(&self) -> Vec<String> {
        self.problems()
            .map(|f| match &f.state {
                FileState::Corrupt { reason } => format!("{}: {reason}", f.path),
                FileState::Missing => format!("{}: missing", f.path),
                FileState::Partial => format!("{}: unfinished download (.part)", f.path),
                FileState::Present => unreachable!("filtered out"),
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Existence and size only: cheap enough to run often.
    Quick,
    /// Also recompute each file's sha256.
    Full,
}

/// The state of one dataset on disk. Progress (bytes hashed of the dataset's total) goes to
/// `sink`; when `stop` is set the remaining files are reported as not checked (`None`).
pub fn check(
    ds: &Dataset,
    data_dir: &Path,
    how: Check,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> Option<DatasetStatus> {
    let total = ds.total_size();
    let mut done = 0u64;
    let mut files = Vec::with_capacity(ds.files.len());
    for f in &ds.files {
        if stop.is_stopped() {
            return None;
        }
        let path = ds.file_path(data_dir, f);
        let state = check_file(f, &path, how, |n| {
            sink.progress(done + n.min(f.size), total);
            !stop.is_stopped()
        })?;
        done += f.size;
        sink.progress(done, total);
        files.push(FileStatus {
            path: ds.display_path(f),
            state,
        });
    }
    let count = |s: &dyn Fn(&FileState) -> bool| files.iter().filter(|f| s(&f.state)).count();
    let present = count(&|s| *s == FileState::Present);
    let partial = count(&|s| *s == FileState::Partial);
    let corrupt = count(&|s| matches!(s, FileState::Corrupt { .. }));
    let state = if corrupt > 0 {
        DatasetState::Corrupt
    } else if present == files.len() {
        DatasetState::Present
    } else if present == 0 && partial == 0 {
        DatasetState::Missing
    } else {
        DatasetState::Partial
    };
    Some(DatasetStatus {
        name: ds.name.clone(),
        state,
        hashed: how == Check::Full,
        files,
    })
}

fn check_file(
    f: &FileEntry,
    path: &Path,
    how: Check,
    on_chunk: impl FnMut(u64) -> bool,
) -> Option<FileState> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Some(if part_path(path).exists() {
                FileState::Partial
            } else {
                FileState::Missing
            });
        }
        Err(e) => {
            return Some(FileState::Corrupt {
                reason: format!("cannot read: {e}"),
            });
        }
    };
    if !meta.is_file() {
        return Some(FileState::Corrupt {
            reason: "is not a regular file".into(),
        });
    }
    if !f.size_unknown && meta.len() != f.size {
        return Some(FileState::Corrupt {
            reason: format!("size {} bytes, expected {}", meta.len(), f.size),
        });
    }
    if how == Check::Quick {
        return Some(FileState::Present);
    }
    match sha256_file(path, on_chunk) {
        Ok(None) => None,
        Ok(Some((got, _))) if got == f.sha256 => Some(FileState::Present),
        Ok(Some((got, _))) => Some(FileState::Corrupt {
            reason: format!("sha256 {got}, expected {}", f.sha256),
        }),
        Err(e) => Some(FileState::Corrupt {
            reason: format!("cannot read: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{NullSink, VecSink};

    const GOOD: &str = r#"
[[dataset]]
name = "tiny"
title = "Tiny"
description = "two files"
licence = "CC0"
citation = "nobody (2026)"
homepage = "https://example.org"

[[dataset.file]]
path = "a.txt"
url = "https://example.org/a.txt"
sha256 = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
size = 1

[[dataset.file]]
path = "sub/b.txt"
url = "http://example.org/b.txt"
sha256 = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
size = 1
"#;

    fn bad(from: &str, to: &str) -> String {
        assert!(
            GOOD.contains(from),
            "test edits a line that is not there: {from}"
        );
        let text = GOOD.replacen(from, to, 1);
        format!("{:#}", parse(&text, "test.toml").unwrap_err())
    }

    fn write_tiny(dir: &Path, a: &[u8], b: &[u8]) {
        std::fs::create_dir_all(dir.join("tiny/sub")).unwrap();
        std::fs::write(dir.join("tiny/a.txt"), a).unwrap();
        std::fs::write(dir.join("tiny/sub/b.txt"), b).unwrap();
    }

    #[test]
    fn builtin_catalog_has_cora_and_isbi_with_the_layout_the_labs_read() {
        let c = Catalog::builtin();
        let cora = c.find("cora").unwrap();
        let paths: Vec<&str> = cora.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["cora.content", "cora.cites"]);
        assert!(cora.files.iter().all(|f| {
            f.url
                .starts_with("https://raw.githubusercontent.com/tkipf/pygcn/master/data/cora/")
        }));
        let isbi = c.find("isbi2012_em").unwrap();
        assert_eq!(isbi.files.len(), 60);
        for i in 0..30 {
            let img = isbi
                .files
                .iter()
                .find(|f| f.path == format!("images/{i}.png"))
                .unwrap();
            assert!(
                img.url
                    .ends_with(&format!("/data/membrane/train/image/{i}.png")),
                "{}",
                img.url
            );
            let mask = isbi
                .files
                .iter()
                .find(|f| f.path == format!("masks/{i}.png"))
                .unwrap();
            assert!(
                mask.url
                    .ends_with(&format!("/data/membrane/train/label/{i}.png")),
                "{}",
                mask.url
            );
        }
        assert!(isbi.licence.to_lowercase().contains("non-commercial"));
        assert!(isbi.citation.contains("Cardona"));
    }

    #[test]
    fn unknown_dataset_lists_the_known_ones() {
        let e = Catalog::builtin().find("mnist").unwrap_err().to_string();
        assert!(
            e.contains("mnist") && e.contains("cora") && e.contains("isbi2012_em"),
            "{e}"
        );
    }

    #[test]
    fn good_catalog_parses() {
        let c = parse(GOOD, "test.toml").unwrap();
        assert_eq!(c.datasets.len(), 1);
        assert_eq!(c.datasets[0].total_size(), 2);
        let p = c.datasets[0].file_path(Path::new("/d"), &c.datasets[0].files[1]);
        assert_eq!(p, Path::new("/d/tiny/sub/b.txt"));
    }

    #[test]
    fn toml_syntax_error_names_origin_and_line() {
        let e = format!(
            "{:#}",
            parse("[[dataset]]\nname = \"x\ntitle = 1\n", "cat.toml").unwrap_err()
        );
        assert!(e.starts_with("cat.toml"), "{e}");
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn missing_field_is_named() {
        let e = bad("citation = \"nobody (2026)\"\n", "");
        assert!(e.contains("citation"), "{e}");
    }

    #[test]
    fn unknown_field_is_rejected() {
        let e = bad("size = 1\n", "size = 1\nsha1 = \"x\"\n");
        assert!(e.contains("sha1"), "{e}");
    }

    #[test]
    fn empty_catalog_is_rejected() {
        let e = format!("{:#}", parse("", "x.toml").unwrap_err());
        assert!(e.contains("no [[dataset]]"), "{e}");
    }

    #[test]
    fn bad_name_is_rejected() {
        let e = bad("name = \"tiny\"", "name = \"../tiny\"");
        assert!(e.contains("'name'"), "{e}");
    }

    #[test]
    fn duplicate_dataset_name_is_rejected() {
        let text = format!("{GOOD}\n{}", &GOOD[GOOD.find("[[dataset]]").unwrap()..]);
        let e = format!("{:#}", parse(&text, "t.toml").unwrap_err());
        assert!(
            e.contains("dataset 'tiny'") && e.contains("another dataset"),
            "{e}"
        );
    }

    #[test]
    fn empty_licence_is_rejected() {
        let e = bad("licence = \"CC0\"", "licence = \" \"");
        assert!(
            e.contains("dataset 'tiny'") && e.contains("'licence'"),
            "{e}"
        );
    }

    #[test]
    fn bad_sha256_names_entry_and_field() {
        let e = bad(
            "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
            "CA978112",
        );
        assert!(
            e.contains("dataset 'tiny'") && e.contains("a.txt") && e.contains("'sha256'"),
            "{e}"
        );
    }

    #[test]
    fn escaping_path_is_rejected() {
        let e = bad("path = \"sub/b.txt\"", "path = \"../b.txt\"");
        assert!(e.contains("'path'") && e.contains("../b.txt"), "{e}");
        let e = bad("path = \"sub/b.txt\"", "path = \"/etc/passwd\"");
        assert!(e.contains("'path'"), "{e}");
    }

    #[test]
    fn duplicate_path_is_rejected() {
        let e = bad("path = \"sub/b.txt\"", "path = \"a.txt\"");
        assert!(e.contains("listed twice"), "{e}");
    }

    #[test]
    fn bad_url_is_rejected() {
        let e = bad(
            "url = \"http://example.org/b.txt\"",
            "url = \"ftp://example.org/b.txt\"",
        );
        assert!(e.contains("sub/b.txt") && e.contains("'url'"), "{e}");
    }

    #[test]
    fn zero_size_is_rejected() {
        let e = bad(
            "size = 1\n\n[[dataset.file]]",
            "size = 0\n\n[[dataset.file]]",
        );
        assert!(e.contains("a.txt") && e.contains("'size'"), "{e}");
    }

    #[test]
    fn an_unknown_size_is_checked_by_sha256_alone() {
        let e = bad(
            "size = 1\n\n[[dataset.file]]",
            "size = 1\nsize_unknown = true\n\n[[dataset.file]]",
        );
        assert!(e.contains("'size' must be 0 when 'size_unknown'"), "{e}");
        let text = GOOD.replacen(
            "size = 1\n\n[[dataset.file]]",
            "size = 0\nsize_unknown = true\n\n[[dataset.file]]",
            1,
        );
        let c = parse(&text, "t.toml").unwrap();
        let ds = &c.datasets[0];
        assert_eq!(ds.size_text(), "1 B + ?");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tiny/sub")).unwrap();
        std::fs::write(dir.path().join("tiny/a.txt"), b"a").unwrap();
        std::fs::write(dir.path().join("tiny/sub/b.txt"), b"b").unwrap();
        let st = check(ds, dir.path(), Check::Full, &mut NullSink, &StopFlag::new()).unwrap();
        assert_eq!(st.state, DatasetState::Present, "{:?}", st.problem_lines());
        std::fs::write(dir.path().join("tiny/a.txt"), b"ab").unwrap();
        let st = check(ds, dir.path(), Check::Full, &mut NullSink, &StopFlag::new()).unwrap();
        assert_eq!(st.state, DatasetState::Corrupt);
    }

    #[test]
    fn dataset_without_files_is_rejected() {
        let cut = &GOOD[..GOOD.find("[[dataset.file]]").unwrap()];
        let e = format!("{:#}", parse(cut, "t.toml").unwrap_err());
        assert!(
            e.contains("dataset 'tiny'") && e.contains("no [[dataset.file]]"),
            "{e}"
        );
    }

    #[test]
    fn status_present_missing_partial_corrupt() {
        let c = parse(GOOD, "t").unwrap();
        let ds = &c.datasets[0];
        let dir = tempfile::tempdir().unwrap();
        let st = |how| check(ds, dir.path(), how, &mut NullSink, &StopFlag::new()).unwrap();

        assert_eq!(st(Check::Full).state, DatasetState::Missing);

        write_tiny(dir.path(), b"a", b"b");
        let full = st(Check::Full);
        assert_eq!(full.state, DatasetState::Present, "{full:?}");
        assert!(full.hashed);

        std::fs::remove_file(dir.path().join("tiny/sub/b.txt")).unwrap();
        assert_eq!(st(Check::Quick).state, DatasetState::Partial);
        std::fs::write(dir.path().join("tiny/sub/b.txt.part"), b"").unwrap();
        let s = st(Check::Quick);
        assert_eq!(s.files[1].state, FileState::Partial);
        assert_eq!(s.state, DatasetState::Partial);

        // Same size, different bytes: only hashing sees it.
        std::fs::write(dir.path().join("tiny/sub/b.txt"), b"x").unwrap();
        assert_eq!(st(Check::Quick).state, DatasetState::Present);
        let s = st(Check::Full);
        assert_eq!(s.state, DatasetState::Corrupt);
        let lines = s.problem_lines();
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with("tiny/sub/b.txt: sha256 ")
                && lines[0].contains("expected 3e23e816"),
            "{lines:?}"
        );

        // Wrong size is seen without hashing.
        std::fs::write(dir.path().join("tiny/a.txt"), b"aa").unwrap();
        let s = st(Check::Quick);
        assert_eq!(s.state, DatasetState::Corrupt);
        assert!(
            s.problem_lines()[0].contains("size 2 bytes, expected 1"),
            "{:?}",
            s.problem_lines()
        );
    }

    #[test]
    fn check_reports_byte_progress_and_honours_stop() {
        let c = parse(GOOD, "t").unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_tiny(dir.path(), b"a", b"b");
        let mut sink = VecSink::default();
        check(
            &c.datasets[0],
            dir.path(),
            Check::Full,
            &mut sink,
            &StopFlag::new(),
        )
        .unwrap();
        let last = sink.events.iter().rev().find_map(|e| match e {
            crate::core::Event::Progress { done, total } => Some((*done, *total)),
            _ => None,
        });
        assert_eq!(last, Some((2, 2)));
        let stop = StopFlag::new();
        stop.stop();
        assert!(
            check(
                &c.datasets[0],
                dir.path(),
                Check::Full,
                &mut NullSink,
                &stop
            )
            .is_none()
        );
    }

    #[test]
    fn sizes_are_readable() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(69928), "68.3 kB");
        assert_eq!(human_size(7823427), "7.5 MB");
    }

    #[test]
    fn sha256_of_known_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        let (h, n) = sha256_file(&p, |_| true).unwrap().unwrap();
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(n, 3);
    }

    /// The catalog's sha256 values are those of the shared reference copies the labs are tested on.
    #[test]
    fn builtin_hashes_match_the_shared_copies() {
        let Some(root) = crate::core::test_util::data_dir_or_skip("cora")
            .and_then(|d| d.parent().map(PathBuf::from))
        else {
            return;
        };
        for ds in &Catalog::builtin().datasets {
            // Not in the shared copy (PubMed shares the planetoid folder but is not there).
            if !ds.file_path(&root, &ds.files[0]).exists() {
                continue;
            }
            let s = check(ds, &root, Check::Full, &mut NullSink, &StopFlag::new()).unwrap();
            assert_eq!(
                s.state,
                DatasetState::Present,
                "{}: {:?}",
                ds.name,
                s.problem_lines()
            );
        }
    }

    mod fuzz {
        use proptest::prelude::*;

        use super::super::parse;
        use super::GOOD;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            /// Any text: an Ok or an error message, never a panic.
            #[test]
            fn parse_never_panics_on_any_text(text in "\\PC{0,400}") {
                let _ = parse(&text, "fuzz.toml");
            }

            /// The good catalog with a few bytes overwritten: near-valid input reaches validation.
            #[test]
            fn parse_never_panics_on_a_damaged_catalog(edits in prop::collection::vec((0usize..super::GOOD.len(), 0u8..128), 1..6)) {
                let mut bytes = GOOD.as_bytes().to_vec();
                for (at, b) in edits {
                    bytes[at] = b;
                }
                let text = String::from_utf8_lossy(&bytes);
                if let Err(e) = parse(&text, "fuzz.toml") {
                    let msg = format!("{:#}", e);
                    prop_assert!(msg.starts_with("fuzz.toml"), "{}", msg);
                }
            }
        }
    }
}
