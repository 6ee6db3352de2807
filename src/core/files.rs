//! Writing user files safely: a file is either the whole new content or the old one, never half.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so an
/// interrupted write leaves the previous file intact.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    atomic_write_with(path, |tmp| {
        std::fs::write(tmp, bytes).with_context(|| format!("cannot write {}", path.display()))
    })
}

/// Like [`atomic_write`] for writers that only take a path (candle's safetensors): `write` fills
/// the temporary file at the path it is given, which is then fsynced and renamed to `path`.
pub fn atomic_write_with(
    path: &Path,
    write: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".gradlab-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "cannot write {}: cannot create a file in {}",
                path.display(),
                dir.display()
            )
        })?;
    write(tmp.path())?;
    // Temporary files are private (0600); the user's file gets the mode it had, or the one any
    // new file of theirs gets (0644 under umask 022).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode())
            .unwrap_or_else(|_| new_file_mode());
        let _ = std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode));
    }
    std::fs::File::open(tmp.path())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

/// The process's umask, read once. Linux reports it in /proc; elsewhere it is read by setting it
/// (restored at once), the only portable way.
#[cfg(unix)]
fn umask() -> u32 {
    static MASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *MASK.get_or_init(|| {
        let from_proc = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Umask:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            });
        from_proc.unwrap_or_else(|| {
            // SAFETY: umask only swaps the process's mask; the old value is put back at once.
            let old = unsafe { libc::umask(0o022) };
            // SAFETY: as above.
            unsafe { libc::umask(old) };
            old as u32
        })
    })
}

/// The mode a new file of the user's gets: 0666 less the umask (0644 under umask 022).
#[cfg(unix)]
pub fn new_file_mode() -> u32 {
    0o666 & !umask()
}

/// The mode a new folder of the user's gets: 0777 less the umask (0755 under umask 022).
#[cfg(unix)]
pub fn new_dir_mode() -> u32 {
    0o777 & !umask()
}

/// The marker gradlab leaves in a folder it wrote whole (a report, a model), so that writing
/// there again may replace it: a folder without it that holds anything is the user's.
pub const OWNED_MARKER: &str = ".gradlab-folder";

/// Why `out` may not be replaced, or `None` when it may: absent, empty, or written by gradlab
/// (it holds [`OWNED_MARKER`]).
pub fn foreign_folder(out: &Path) -> Option<String> {
    match std::fs::symlink_metadata(out) {
        Err(_) => None,
        Ok(m) if !m.is_dir() => Some(format!("{} exists and is not a folder", out.display())),
        Ok(_) => {
            if out.join(OWNED_MARKER).is_file() {
                return None;
            }
            let mut names: Vec<String> = match std::fs::read_dir(out) {
                Ok(it) => it
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect(),
                Err(e) => return Some(format!("cannot read {}: {e}", out.display())),
            };
            if names.is_empty() {
                return None;
            }
            names.sort();
            Some(format!(
                "{} already holds files that gradlab did not write ({}); choose a new or empty folder",
                out.display(),
                first_few(&names, 3)
            ))
        }
    }
}

/// "a, b, c and 4 more": the first `n` of `names`, for a message of one line.
pub fn first_few(names: &[String], n: usize) -> String {
    let mut s = names[..names.len().min(n)].join(", ");
    if names.len() > n {
        s.push_str(&format!(" and {} more", names.len() - n));
    }
    s
}

/// Where a GUI export of a whole folder goes when the user picked `picked` in a folder dialog
/// (which only offers folders that exist): `picked` itself when it may be replaced (see
/// [`foreign_folder`]), else a new `name`, `name-2`, ... inside it, so the user's files stay.
pub fn folder_for(picked: &Path, name: &str) -> PathBuf {
    if foreign_folder(picked).is_none() {
        return picked.to_path_buf();
    }
    (1..)
        .map(|k| {
            if k == 1 {
                picked.join(name)
            } else {
                picked.join(format!("{name}-{k}"))
            }
        })
        .find(|p| std::fs::symlink_metadata(p).is_err())
        .unwrap_or_else(|| picked.join(name))
}

/// Writes a whole folder: `fill` writes into a hidden staging folder beside `out`, which then
/// takes `out`'s place. `out` must be absent, empty, or a folder gradlab wrote before (then it
/// is replaced whole, stale files included); a folder of the user's is refused before anything
/// is written. `what` names the folder in errors ("the report", "the model").
pub fn replace_folder<T>(
    out: &Path,
    what: &str,
    fill: impl FnOnce(&Path) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    if let Some(why) = foreign_folder(out) {
        anyhow::bail!("cannot write {what}: {why}");
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot write {what}: cannot create {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".gradlab-staging-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot write {what}: {} is not writable", parent.display()))?;
    let value = fill(staging.path())
        .with_context(|| format!("cannot write {what} into {}", out.display()))?;
    std::fs::write(
        staging.path().join(OWNED_MARKER),
        "written by gradlab; writing there again replaces this whole folder\n",
    )
    .with_context(|| format!("cannot write {what} into {}", out.display()))?;
    sync_tree(staging.path())
        .with_context(|| format!("cannot write {what} into {}", out.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(
            staging.path(),
            std::fs::Permissions::from_mode(new_dir_mode()),
        );
    }
    // Checked again just before the swap: another process may have filled it meanwhile.
    if let Some(why) = foreign_folder(out) {
        anyhow::bail!("cannot write {what}: {why}");
    }
    let old = if out.exists() {
        let aside = parent.join(format!(
            ".gradlab-old-{}-{}",
            std::process::id(),
            out.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        std::fs::rename(out, &aside)
            .with_context(|| format!("cannot replace {}", out.display()))?;
        Some(aside)
    } else {
        None
    };
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, out) {
        // Put the previous folder back: the user keeps what they had.
        if let Some(a) = &old {
            let _ = std::fs::rename(a, out);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(anyhow::anyhow!("cannot write {}: {e}", out.display()));
    }
    if let Some(a) = old {
        let _ = std::fs::remove_dir_all(a);
    }
    if let Ok(d) = std::fs::File::open(&parent) {
        let _ = d.sync_all();
    }
    Ok(value)
}

/// fsyncs every file under `dir`.
pub fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            sync_tree(&p)?;
        } else {
            std::fs::File::open(&p)?.sync_all()?;
        }
    }
    Ok(())
}

/// Encodes an RGBA picture as PNG bytes.
pub fn png_bytes(img: &image::RgbaImage) -> anyhow::Result<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .context("PNG encoding failed")?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        atomic_write(&p, b"old").unwrap();
        atomic_write(&p, b"new content").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new content");
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o644
            );
        }
    }

    #[test]
    fn atomic_write_to_missing_folder_names_the_file() {
        let err = atomic_write(Path::new("/nonexistent-gradlab-dir/x.png"), b"x").unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent-gradlab-dir/x.png"),
            "{err:#}"
        );
    }
}
