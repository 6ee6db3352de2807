//! Downloads a catalog dataset: each file streams into `<dest>.part` while it is hashed, and only
//! when every file of the dataset has the right size and sha256 are they renamed into place. A
//! cut-off, corrupted or cancelled download removes its `.part` files (and folders it created),
//! so no half dataset is ever left for a lab to read; running it again starts cleanly.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::catalog::{Check, Dataset, FileEntry, FileState, check, human_size, part_path};
use crate::core::digest::hex;
use crate::core::{NullSink, Sink, StopFlag};

/// Env var naming a mirror that replaces the catalog's URLs (tests, offline installs).
pub const MIRROR_ENV: &str = "GRADLAB_MIRROR";

#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// When set, file `p` of dataset `d` is fetched from `<mirror>/<d>/<p>` instead of its URL.
    pub mirror: Option<String>,
    pub connect_timeout: Duration,
    /// A server silent for this long counts as gone, so a stalled download ends with an error.
    pub read_timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            mirror: None,
            connect_timeout: Duration::from_secs(20),
            read_timeout: Duration::from_secs(30),
        }
    }
}

impl FetchOptions {
    /// Defaults, with the mirror taken from `GRADLAB_MIRROR` when it is set and not empty.
    pub fn from_env() -> Self {
        let mirror = std::env::var(MIRROR_ENV)
            .ok()
            .filter(|m| !m.trim().is_empty());
        Self {
            mirror,
            ..Self::default()
        }
    }
}

/// The address `file` is fetched from.
pub fn url_for(ds: &Dataset, file: &FileEntry, mirror: Option<&str>) -> String {
    match mirror {
        Some(m) => format!("{}/{}/{}", m.trim_end_matches('/'), ds.name, file.path),
        None => file.url.clone(),
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FetchReport {
    pub dataset: String,
    /// Files (as `name/path`) that were downloaded.
    pub downloaded: Vec<String>,
    /// Files already present with the right sha256.
    pub skipped: Vec<String>,
    pub bytes_downloaded: u64,
    /// Stopped by the user: nothing new was kept.
    pub cancelled: bool,
}

impl FetchReport {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Fetches every missing or damaged file of `ds` into `<data_dir>/<name>/`. Progress is bytes of
/// the whole dataset (present files count as done).
pub fn fetch(
    ds: &Dataset,
    data_dir: &Path,
    opts: &FetchOptions,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<FetchReport> {
    let mut report = FetchReport {
        dataset: ds.name.clone(),
        ..Default::default()
    };
    let total = ds.total_size();

    // Files already there and intact are kept; only the rest is downloaded.
    let Some(status) = check(ds, data_dir, Check::Full, &mut NullSink, stop) else {
        report.cancelled = true;
        return Ok(report);
    };
    let mut done = 0u64;
    let mut todo = Vec::new();
    for (f, st) in ds.files.iter().zip(&status.files) {
        let dest = ds.file_path(data_dir, f);
        if st.state == FileState::Present {
            // A leftover from an interrupted run; the file itself is fine.
            let _ = fs::remove_file(part_path(&dest));
            done += f.size;
            report.skipped.push(ds.display_path(f));
        } else {
            todo.push((f, dest));
        }
    }
    sink.progress(done, total);
    if todo.is_empty() {
        sink.log(&format!(
            "{}: all {} files present and verified",
            ds.name,
            ds.files.len()
        ));
        return Ok(report);
    }

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(opts.connect_timeout))
        .timeout_per_read(Some(opts.read_timeout))
        .user_agent(concat!("gradlab/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();

    let mut staging = Staging::default();
    let todo_bytes: u64 = todo.iter().map(|(f, _)| f.size).sum();
    let source = opts.mirror.as_deref().unwrap_or("the catalog's URLs");
    sink.log(&format!(
        "downloading {} of {} files ({}) from {source}",
        todo.len(),
        ds.files.len(),
        human_size(todo_bytes)
    ));
    for (f, dest) in &todo {
        let url = url_for(ds, f, opts.mirror.as_deref());
        let shown = ds.display_path(f);
        let result = staging.prepare_dirs(dest).and_then(|()| {
            let part = part_path(dest);
            staging.parts.push(part.clone());
            download_one(&agent, &url, &shown, f, &part, &mut done, total, sink, stop)
        });
        match result {
            Ok(true) => {
                report.downloaded.push(shown);
                report.bytes_downloaded += f.size;
            }
            Ok(false) => {
                staging.discard();
                sink.log(&format!(
                    "{}: download cancelled; nothing new was kept",
                    ds.name
                ));
                report.downloaded.clear();
                report.bytes_downloaded = 0;
                report.cancelled = true;
                return Ok(report);
            }
            Err(e) if e.is::<Unreachable>() => {
                // Already the whole story, in plain words, with the fix.
                staging.discard();
                return Err(e);
            }
            Err(e) => {
                staging.discard();
                return Err(e.context(format!(
                    "{}: download failed; nothing new was kept, run the fetch again to retry",
                    ds.name
                )));
            }
        }
    }

    // Every file verified: now they replace whatever was there.
    for (f, dest) in &todo {
        let part = part_path(dest);
        if let Err(e) = fs::rename(&part, dest) {
            staging.discard();
            bail!(
                "{}: cannot move the downloaded file into place ({} -> {}): {e}",
                ds.display_path(f),
                part.display(),
                dest.display()
            );
        }
    }
    sync_dir(&ds.dir(data_dir));
    sink.log(&format!(
        "{}: {} files downloaded, {} already present",
        ds.name,
        report.downloaded.len(),
        report.skipped.len()
    ));
    Ok(report)
}

/// What one fetch created, so that a failure can remove it again.
#[derive(Default)]
struct Staging {
    parts: Vec<PathBuf>,
    /// Folders this run created, outermost first.
    dirs: Vec<PathBuf>,
}

impl Staging {
    fn prepare_dirs(&mut self, dest: &Path) -> anyhow::Result<()> {
        let parent = dest.parent().context("a download target has no folder")?;
        let mut missing: Vec<&Path> = parent
            .ancestors()
            .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
            .collect();
        missing.reverse();
        for d in missing {
            fs::create_dir(d)
                .with_context(|| format!("cannot create the folder {}", d.display()))?;
            self.dirs.push(d.to_path_buf());
        }
        Ok(())
    }

    fn discard(&mut self) {
        for p in self.parts.drain(..) {
            let _ = fs::remove_file(p);
        }
        // Innermost first; remove_dir only removes empty folders, so nothing else is lost.
        for d in self.dirs.drain(..).rev() {
            let _ = fs::remove_dir(d);
        }
    }
}

/// A download that could not reach its server (no internet, a closed port), with what to do
/// by hand, in words: the whole message a user needs, so it is shown without the error chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

/// Why a request never reached its server: `Some("No internet connection")` when the name could
/// not be looked up, `Some("Cannot reach the server")` when it did not answer; None for any
/// other failure (an HTTP error, a broken transfer).
fn unreachable(e: &ureq::Error) -> Option<&'static str> {
    match e {
        ureq::Error::HostNotFound => Some("No internet connection"),
        ureq::Error::ConnectionFailed | ureq::Error::Timeout(_) => Some("Cannot reach the server"),
        ureq::Error::Io(io) => {
            let text = io.to_string();
            if text.contains("lookup address") || text.contains("Name or service not known") {
                Some("No internet connection")
            } else if matches!(
                io.kind(),
                io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::NetworkUnreachable
                    | io::ErrorKind::HostUnreachable
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::NetworkDown
            ) {
                Some("Cannot reach the server")
            } else {
                None
            }
        }
        _ => None,
    }
}

/// "No internet connection: download cora.content by hand from URL and put it in FOLDER (the
/// Datasets tab's Open folder opens it)."
fn by_hand_text(why: &str, url: &str, shown: &str, part: &Path) -> String {
    let name = shown.rsplit('/').next().unwrap_or(shown);
    let folder = part
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    format!(
        "{why} (downloading {shown}). Download {name} by hand from {url} and put it in {folder} \
         (\"Open folder\" in the Datasets tab opens the data folder); or connect and try again."
    )
}

/// Streams `url` into `part`, hashing as it goes. Ok(false) when cancelled (the caller removes the
/// part file). `done` counts bytes of the dataset so far.
#[allow(clippy::too_many_arguments)]
fn download_one(
    agent: &ureq::Agent,
    url: &str,
    shown: &str,
    f: &FileEntry,
    part: &Path,
    done: &mut u64,
    total: u64,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> anyhow::Result<bool> {
    let response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::StatusCode(code) => {
            anyhow::anyhow!("{shown}: the server answered HTTP {code} for {url}")
        }
        e => match unreachable(&e) {
            Some(why) => anyhow::Error::new(Unreachable(by_hand_text(why, url, shown, part))),
            None => anyhow::anyhow!("{shown}: cannot download {url}: {e}"),
        },
    })?;
    let mut reader = response.into_body().into_reader();
    let mut out =
        File::create(part).with_context(|| format!("{shown}: cannot write {}", part.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0u64;
    let start = *done;
    let mut last_report = 0u64;
    loop {
        if stop.is_stopped() {
            return Ok(false);
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => bail!(
                "{shown}: download cut off after {got} of {} bytes ({e})",
                f.size
            ),
        };
        got += n as u64;
        let most = if f.size_unknown {
            crate::data::catalog::MAX_UNKNOWN_SIZE
        } else {
            f.size
        };
        if got > most {
            bail!(
                "{shown}: the server sent more than the expected {most} bytes; not the catalog's file"
            );
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .with_context(|| format!("{shown}: cannot write {}", part.display()))?;
        *done = start + got;
        if got - last_report >= 1 << 18 || got == f.size {
            last_report = got;
            sink.progress(*done, total);
        }
    }
    if got < f.size {
        bail!(
            "{shown}: download cut off after {got} of {} bytes (the connection closed early)",
            f.size
        );
    }
    let sha = hex(&hasher.finalize());
    if sha != f.sha256 {
        bail!(
            "{shown}: sha256 mismatch: expected {}, got {sha} (from {url}); the file was discarded",
            f.sha256
        );
    }
    out.sync_all()
        .with_context(|| format!("{shown}: cannot write {}", part.display()))?;
    Ok(true)
}

/// Makes the renames durable; best effort (not every platform can open a folder).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::catalog::Catalog;

    #[test]
    fn mirror_replaces_url_by_name_and_path() {
        let c = Catalog::builtin();
        let isbi = c.find("isbi2012_em").unwrap();
        let mask = isbi.files.iter().find(|f| f.path == "masks/3.png").unwrap();
        assert_eq!(url_for(isbi, mask, None), mask.url);
        assert_eq!(
            url_for(isbi, mask, Some("http://127.0.0.1:8/m/")),
            "http://127.0.0.1:8/m/isbi2012_em/masks/3.png"
        );
    }

    #[test]
    fn unreachable_server_names_the_file_and_leaves_nothing() {
        // Port 9 on localhost is closed: the connection is refused at once, no internet needed.
        let cat = Catalog::builtin();
        let cora = cat.find("cora").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let opts = FetchOptions {
            mirror: Some("http://127.0.0.1:9".into()),
            ..Default::default()
        };
        let e = format!(
            "{:#}",
            fetch(cora, dir.path(), &opts, &mut NullSink, &StopFlag::new()).unwrap_err()
        );
        assert!(e.contains("cora/cora.content"), "{e}");
        assert!(e.starts_with("Cannot reach the server"), "{e}");
        assert!(
            e.contains("by hand from http://127.0.0.1:9/cora/cora.content"),
            "{e}"
        );
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "left files behind"
        );
    }

    #[test]
    fn no_internet_is_said_in_plain_words_with_the_file_the_url_and_the_folder() {
        let dns = ureq::Error::Io(io::Error::other(
            "failed to lookup address information: Name or service not known",
        ));
        let why = unreachable(&dns).unwrap();
        assert_eq!(why, "No internet connection");
        let text = by_hand_text(
            why,
            "https://example.org/cora.tgz",
            "cora/cora.content",
            Path::new("/data/cora/cora.content.part"),
        );
        assert!(
            text.starts_with("No internet connection (downloading cora/cora.content). Download cora.content by hand from https://example.org/cora.tgz and put it in /data/cora"),
            "{text}"
        );
        assert!(!text.contains("lookup address"), "no jargon: {text}");
        assert_eq!(unreachable(&ureq::Error::StatusCode(404)), None);
    }
}
