//! Downloads against a tiny HTTP server on 127.0.0.1 that serves the shared dataset copies,
//! normally, cut off half way, or with a flipped byte. No test touches the internet.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

use gradlab::core::{Event, NullSink, Sink, StopFlag, VecSink};
use gradlab::data::catalog::{Catalog, Check, Dataset, DatasetState, FileState, check};
use gradlab::data::download::{FetchOptions, fetch};

fn shared_root() -> Option<PathBuf> {
    let root = std::env::var_os("GRADLAB_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"));
    if root.join("cora/cora.cites").exists() {
        Some(root)
    } else {
        // CI has the data: there a missing copy is a broken setup, not a reason to pass.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but there are no shared datasets at {}",
            root.display()
        );
        eprintln!("skipped: no shared datasets at {}", root.display());
        None
    }
}

/// Serves `<root>/<path>` at `/<mode>/<path>`. Modes: `ok`; `cut` (announces the full length,
/// sends half, closes); `corrupt` (one byte flipped). `cut-NAME` / `corrupt-NAME` spoil only the
/// file named NAME and serve the others intact.
struct Server {
    base: String,
}

impl Server {
    fn start(root: PathBuf) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let root = root.clone();
                std::thread::spawn(move || serve(stream, &root));
            }
        });
        Server { base }
    }

    fn mirror(&self, mode: &str) -> FetchOptions {
        FetchOptions {
            mirror: Some(format!("{}/{mode}", self.base)),
            ..FetchOptions::default()
        }
    }
}

fn serve(mut stream: TcpStream, root: &Path) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let target = request.split_whitespace().nth(1).unwrap_or("/");
    let mut parts = target.trim_start_matches('/').splitn(2, '/');
    let mode = parts.next().unwrap_or("");
    let rel = parts.next().unwrap_or("");
    let (kind, only) = mode
        .split_once('-')
        .map_or((mode, None), |(k, n)| (k, Some(n)));
    let applies = only.is_none_or(|n| rel.rsplit('/').next() == Some(n));
    let Ok(mut body) = std::fs::read(root.join(rel))
        .map_err(|_| ())
        .and_then(|b| if rel.contains("..") { Err(()) } else { Ok(b) })
    else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let len = body.len();
    match kind {
        "corrupt" if applies => body[len / 2] ^= 0x5a,
        "cut" if applies => body.truncate(len / 2),
        _ => {}
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn cora() -> Dataset {
    Catalog::builtin().find("cora").unwrap().clone()
}

/// Every file under `dir`, relative, sorted.
/// A fetch that must fail; its whole error chain as text.
fn fetch_err(ds: &Dataset, dir: &Path, mirror: &FetchOptions) -> String {
    format!(
        "{:#}",
        fetch(ds, dir, mirror, &mut NullSink, &StopFlag::new()).unwrap_err()
    )
}

fn assert_nothing_left(dir: &Path) {
    assert!(
        files_under(dir).is_empty(),
        "left behind: {:?}",
        files_under(dir)
    );
}

fn files_under(dir: &Path) -> Vec<String> {
    fn walk(d: &Path, base: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, base, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn last_progress(sink: &VecSink) -> Option<(u64, u64)> {
    sink.events.iter().rev().find_map(|e| match e {
        Event::Progress { done, total } => Some((*done, *total)),
        _ => None,
    })
}

#[test]
fn fetch_cora_verifies_and_a_second_fetch_skips() {
    let Some(root) = shared_root() else { return };
    let server = Server::start(root.clone());
    let dir = tempfile::tempdir().unwrap();
    let ds = cora();
    // A leftover of a run that was killed: it is overwritten, not trusted or kept.
    std::fs::create_dir(dir.path().join("cora")).unwrap();
    std::fs::write(dir.path().join("cora/cora.cites.part"), b"stale").unwrap();
    let before = check(
        &ds,
        dir.path(),
        Check::Quick,
        &mut NullSink,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(before.state, DatasetState::Partial);

    let mut sink = VecSink::default();
    let report = fetch(
        &ds,
        dir.path(),
        &server.mirror("ok"),
        &mut sink,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(report.downloaded, ["cora/cora.content", "cora/cora.cites"]);
    assert_eq!(report.bytes_downloaded, ds.total_size());
    assert_eq!(
        last_progress(&sink),
        Some((ds.total_size(), ds.total_size()))
    );
    assert_eq!(
        files_under(dir.path()),
        ["cora/cora.cites", "cora/cora.content"]
    );
    for f in ["cora.content", "cora.cites"] {
        assert_eq!(
            std::fs::read(dir.path().join("cora").join(f)).unwrap(),
            std::fs::read(root.join("cora").join(f)).unwrap()
        );
    }
    let st = check(
        &ds,
        dir.path(),
        Check::Full,
        &mut NullSink,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(st.state, DatasetState::Present);

    // Nothing is fetched again; the server is not even needed.
    let gone = FetchOptions {
        mirror: Some("http://127.0.0.1:9".into()),
        ..FetchOptions::default()
    };
    let again = fetch(&ds, dir.path(), &gone, &mut NullSink, &StopFlag::new()).unwrap();
    assert!(again.downloaded.is_empty());
    assert_eq!(again.skipped.len(), 2);
}

#[test]
fn cut_off_download_leaves_nothing_and_retry_works() {
    let Some(root) = shared_root() else { return };
    let server = Server::start(root);
    let dir = tempfile::tempdir().unwrap();
    let ds = cora();

    let e = fetch_err(&ds, dir.path(), &server.mirror("cut"));
    assert!(
        e.contains("cora/cora.content") && e.contains("cut off"),
        "{e}"
    );
    assert_nothing_left(dir.path());
    assert!(
        !dir.path().join("cora").exists(),
        "an empty dataset folder was left"
    );

    // The first file arrives intact, the second is cut: the first must not stay either.
    let e = fetch_err(&ds, dir.path(), &server.mirror("cut-cora.cites"));
    assert!(
        e.contains("cora/cora.cites") && e.contains("cut off"),
        "{e}"
    );
    assert_nothing_left(dir.path());

    let report = fetch(
        &ds,
        dir.path(),
        &server.mirror("ok"),
        &mut NullSink,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(report.downloaded.len(), 2);
    let st = check(
        &ds,
        dir.path(),
        Check::Full,
        &mut NullSink,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(st.state, DatasetState::Present);
}

#[test]
fn corrupted_download_is_rejected_naming_the_file_and_hashes() {
    let Some(root) = shared_root() else { return };
    let server = Server::start(root);
    let dir = tempfile::tempdir().unwrap();
    let ds = cora();
    let cites = ds
        .files
        .iter()
        .find(|f| f.path == "cora.cites")
        .unwrap()
        .clone();

    let e = fetch_err(&ds, dir.path(), &server.mirror("corrupt-cora.cites"));
    assert!(
        e.contains("cora/cora.cites") && e.contains("sha256 mismatch"),
        "{e}"
    );
    assert!(e.contains(&format!("expected {}", cites.sha256)), "{e}");
    assert_nothing_left(dir.path());

    // An intact dataset with one damaged file: only that file is fetched again, and a failed
    // repair keeps the damaged one rather than deleting data.
    fetch(
        &ds,
        dir.path(),
        &server.mirror("ok"),
        &mut NullSink,
        &StopFlag::new(),
    )
    .unwrap();
    let cites_path = dir.path().join("cora/cora.cites");
    let mut bytes = std::fs::read(&cites_path).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&cites_path, &bytes).unwrap();
    assert!(
        fetch(
            &ds,
            dir.path(),
            &server.mirror("corrupt"),
            &mut NullSink,
            &StopFlag::new()
        )
        .is_err()
    );
    assert_eq!(
        files_under(dir.path()),
        ["cora/cora.cites", "cora/cora.content"]
    );
    let report = fetch(
        &ds,
        dir.path(),
        &server.mirror("ok"),
        &mut NullSink,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(report.downloaded, ["cora/cora.cites"]);
    assert_eq!(report.skipped, ["cora/cora.content"]);
}

#[test]
fn cancel_removes_the_partial_file() {
    let Some(root) = shared_root() else { return };
    let server = Server::start(root);
    let dir = tempfile::tempdir().unwrap();
    let ds = cora();

    /// Presses Stop once the first bytes of a download have arrived.
    struct StopAfterBytes(StopFlag);
    impl Sink for StopAfterBytes {
        fn event(&mut self, e: Event) {
            if let Event::Progress { done, .. } = e
                && done > 0
            {
                self.0.stop();
            }
        }
    }
    let stop = StopFlag::new();
    let report = fetch(
        &ds,
        dir.path(),
        &server.mirror("ok"),
        &mut StopAfterBytes(stop.clone()),
        &stop,
    )
    .unwrap();
    assert!(report.cancelled);
    assert!(report.downloaded.is_empty());
    assert_nothing_left(dir.path());
}

#[test]
fn missing_file_on_server_names_file_and_status() {
    let Some(root) = shared_root() else { return };
    let server = Server::start(root.join("nowhere"));
    let dir = tempfile::tempdir().unwrap();
    let e = format!(
        "{:#}",
        fetch(
            &cora(),
            dir.path(),
            &server.mirror("ok"),
            &mut NullSink,
            &StopFlag::new()
        )
        .unwrap_err()
    );
    assert!(
        e.contains("cora/cora.content") && e.contains("HTTP 404"),
        "{e}"
    );
    assert!(files_under(dir.path()).is_empty());
}

#[test]
fn isbi_files_land_in_images_and_masks() {
    let Some(root) = shared_root() else { return };
    if !root.join("isbi2012_em/images/0.png").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but ISBI is missing"
        );
        eprintln!("skipped: no ISBI copy");
        return;
    }
    let server = Server::start(root.clone());
    let dir = tempfile::tempdir().unwrap();
    // Three pairs are enough to check the layout and keep the test fast.
    let mut ds = Catalog::builtin().find("isbi2012_em").unwrap().clone();
    ds.files.retain(|f| {
        [
            "images/0.png",
            "masks/0.png",
            "images/29.png",
            "masks/29.png",
        ]
        .contains(&f.path.as_str())
    });
    assert_eq!(ds.files.len(), 4);
    let report = fetch(
        &ds,
        dir.path(),
        &server.mirror("ok"),
        &mut NullSink,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(report.downloaded.len(), 4);
    assert_eq!(
        files_under(&dir.path().join("isbi2012_em")),
        [
            "images/0.png",
            "images/29.png",
            "masks/0.png",
            "masks/29.png"
        ]
        .map(|p| p.replace('/', std::path::MAIN_SEPARATOR_STR))
    );
    assert_eq!(
        std::fs::read(dir.path().join("isbi2012_em/masks/29.png")).unwrap(),
        std::fs::read(root.join("isbi2012_em/masks/29.png")).unwrap()
    );
}

#[test]
fn verify_detects_a_corrupted_file() {
    let Some(root) = shared_root() else { return };
    let server = Server::start(root);
    let dir = tempfile::tempdir().unwrap();
    let ds = cora();
    fetch(
        &ds,
        dir.path(),
        &server.mirror("ok"),
        &mut NullSink,
        &StopFlag::new(),
    )
    .unwrap();
    let p = dir.path().join("cora/cora.content");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[5000] ^= 1;
    std::fs::write(&p, &bytes).unwrap();
    let st = check(
        &ds,
        dir.path(),
        Check::Full,
        &mut NullSink,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(st.state, DatasetState::Corrupt);
    assert!(
        matches!(&st.files[0].state, FileState::Corrupt { reason } if reason.contains("sha256")),
        "{:?}",
        st.files[0]
    );
    assert_eq!(st.files[1].state, FileState::Present);
}

/// The command line end to end: fetch through GRADLAB_MIRROR, list, and verify's exit code.
#[test]
fn cli_fetch_list_verify() {
    let Some(root) = shared_root() else { return };
    let server = Server::start(root);
    let dir = tempfile::tempdir().unwrap();
    let gradlab = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gradlab"))
            .args(args)
            .env("GRADLAB_DATA", dir.path())
            .env("GRADLAB_MIRROR", format!("{}/ok", server.base))
            .output()
            .unwrap()
    };
    let out = gradlab(&["data", "fetch", "cora", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["downloaded"].as_array().unwrap().len(), 2);

    let out = gradlab(&["data", "list", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cora = j["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "cora")
        .unwrap();
    assert_eq!(cora["status"], "present");
    assert_eq!(
        j["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == "isbi2012_em")
            .unwrap()["status"],
        "missing"
    );

    assert!(gradlab(&["data", "verify", "cora"]).status.success());
    let p = dir.path().join("cora/cora.cites");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&p, &bytes).unwrap();
    let out = gradlab(&["data", "verify", "cora"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cora/cora.cites") && err.contains("sha256"),
        "{err}"
    );

    let out = gradlab(&["data", "fetch", "mnist"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown dataset 'mnist'"));
}
