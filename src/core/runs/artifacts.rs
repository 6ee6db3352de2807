//! Artifact files: `<runs_dir>/<run_id>/<name>`, written whole (temp + fsync + rename + folder
//! fsync) before the row that names them is inserted, so a row never points at a missing file
//! unless someone deletes it by hand, which [`check`] reports.

use std::path::{Component, Path, PathBuf};

use super::model::{ArtifactInfo, RunId};
use crate::core::digest::sha256_hex;

/// The folder of run `id`'s files.
pub fn run_folder(runs_dir: &Path, id: RunId) -> PathBuf {
    runs_dir.join(id.to_string())
}

/// Creates run `id`'s folder, exclusively: `Ok(false)` when it already exists (someone else's
/// files: a run never adopts a folder it did not create).
pub(super) fn create_run_folder(runs_dir: &Path, id: RunId) -> std::io::Result<bool> {
    std::fs::create_dir_all(runs_dir)?;
    match std::fs::create_dir(run_folder(runs_dir, id)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes the files run `id` recorded (`(path, sha256)`, paths relative to the runs folder)
/// when they still hold what was recorded, gradlab's own temporary files, then every folder
/// left empty. Returns what stays: files gradlab did not write, or that changed since.
pub(super) fn remove_run_files(
    runs_dir: &Path,
    id: RunId,
    files: &[(String, String)],
) -> Vec<PathBuf> {
    let folder = run_folder(runs_dir, id);
    for (rel, sha) in files {
        let p = runs_dir.join(rel);
        if p.starts_with(&folder) && std::fs::read(&p).is_ok_and(|b| sha256_hex(&b) == *sha) {
            let _ = std::fs::remove_file(&p);
        }
    }
    let mut kept = Vec::new();
    prune(&folder, &mut kept);
    kept
}

/// Removes gradlab's temporary files and empty folders under `dir` (deepest first), and lists
/// every other file.
fn prune(dir: &Path, kept: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        match e.file_type() {
            Ok(t) if t.is_dir() => prune(&p, kept),
            _ if name.starts_with(".gradlab-") && name.ends_with(".tmp") => {
                let _ = std::fs::remove_file(&p);
            }
            _ => kept.push(p),
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Where artifact `name` of run `id` lives.
pub fn artifact_path(runs_dir: &Path, id: RunId, name: &str) -> PathBuf {
    runs_dir.join(relative_path(id, name))
}

fn relative_path(id: RunId, name: &str) -> String {
    format!("{id}/{name}")
}

/// Names are relative paths inside the run's folder: no `..`, no root, not empty.
fn check_name(name: &str) -> anyhow::Result<()> {
    let p = Path::new(name);
    let ok = !name.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    anyhow::ensure!(
        ok,
        "bad artifact name {name:?}: use a relative path inside the run folder"
    );
    Ok(())
}

/// Writes the file durably and returns the row to insert.
pub(super) fn write(
    runs_dir: &Path,
    id: RunId,
    name: &str,
    bytes: &[u8],
) -> anyhow::Result<ArtifactInfo> {
    check_name(name)?;
    let path = artifact_path(runs_dir, id, name);
    let dir = path.parent().unwrap_or(runs_dir);
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    crate::core::files::atomic_write(&path, bytes)?;
    // The rename is durable only once the folder entry is.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(ArtifactInfo {
        name: name.to_string(),
        path: relative_path(id, name),
        sha256: sha256_hex(bytes),
        size: bytes.len() as u64,
        missing: None,
    })
}

/// Fills `missing` by looking at the file (size only: hashing every artifact on each listing
/// would be slow; `sha256` is there for a full verification).
pub(super) fn check(runs_dir: &Path, a: &mut ArtifactInfo) {
    let p = runs_dir.join(&a.path);
    a.missing = match std::fs::metadata(&p) {
        Err(_) => Some(format!("{} is missing", p.display())),
        Ok(m) if m.len() != a.size => Some(format!(
            "{} has {} bytes, {} were recorded",
            p.display(),
            m.len(),
            a.size
        )),
        Ok(_) => None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_artifacts_check_whole_and_missing_ones_say_so() {
        let t = tempfile::tempdir().unwrap();
        let mut a = write(t.path(), 3, "images/pred.png", b"abc").unwrap();
        assert_eq!(a.path, "3/images/pred.png");
        assert_eq!(a.size, 3);
        check(t.path(), &mut a);
        assert_eq!(a.missing, None);
        std::fs::remove_file(t.path().join("3/images/pred.png")).unwrap();
        check(t.path(), &mut a);
        assert!(a.missing.as_deref().unwrap().contains("pred.png"));
        assert!(write(t.path(), 3, "../escape", b"x").is_err());
        assert!(write(t.path(), 3, "/abs", b"x").is_err());
    }
}
