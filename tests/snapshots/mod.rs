//! Layout snapshots: the real window of every lab at 1024 x 600 and 1366 x 768, taken by the app
//! itself under Xvfb (`GRADLAB_SCREENSHOT`, glow on Mesa's llvmpipe), compared with the
//! fingerprints checked in beside this file (`compare.rs` says how and with which tolerance).
//!
//! Two states, both free of clocks and machine-dependent numbers:
//! - `<lab>-start-<size>`: a fresh home, an empty data folder (the synthetic defaults) and an
//!   empty run store; the Theory tab once its start-up checks have finished.
//! - `<lab>-run-<size>` (Graphs, Segmentation, Runs): after short runs recorded by the CLI
//!   (GCN and GAT, 2 seeds x 30 epochs on the synthetic graph; a small U-Net with and without
//!   skips, 6 steps), which the labs reopen from the store; their dates and durations are set
//!   to fixed values in the store first.
//!
//! A snapshot that differs fails the test and leaves `<name>.actual.png` (the window) and
//! `<name>.diff.png` (the window with what differs from the reference in red) in
//! `target/snapshot-diffs/`. `UPDATE_SNAPSHOTS=1 cargo test --test binary snapshots` rewrites
//! the references instead; look at them before committing.

mod compare;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use compare::{compare, diff_image, fingerprint};

const SIZES: [(u32, u32); 2] = [(1024, 600), (1366, 768)];
/// The labs shot again after short runs.
const AFTER_RUNS: [&str; 3] = ["graphs", "segmentation", "runs"];
/// Screenshots taken at once: each is a gradlab process drawing with llvmpipe.
const WORKERS: usize = 6;
/// The longest one screenshot may take (the Theory checks on two busy cores take ~15 s).
const SHOT_LIMIT: Duration = Duration::from_secs(180);
/// Seconds from the window's start to its screenshot (and, for every lab, until its jobs have
/// ended): the synthetic graph, the checks of which files exist and the store's queries are
/// done in well under one second on an idle machine.
const WAIT: f64 = 2.5;
/// The wait of a second try, and of `UPDATE_SNAPSHOTS`: a snapshot that differs is taken again
/// before it fails, in case a loaded machine was merely slow.
const LONG_WAIT: f64 = 8.0;

#[derive(Clone, Copy, PartialEq)]
enum Store {
    /// A fresh start: nothing recorded.
    Empty,
    /// The short runs of [`prepare_store`].
    Trained,
}

struct Shot {
    name: String,
    title: &'static str,
    size: (u32, u32),
    store: Store,
}

fn shots() -> Vec<Shot> {
    let labs = gradlab::labs::labs();
    let mut out = Vec::new();
    for (store, state) in [(Store::Empty, "start"), (Store::Trained, "run")] {
        for lab in &labs {
            if store == Store::Trained && !AFTER_RUNS.contains(&lab.id()) {
                continue;
            }
            for size in SIZES {
                out.push(Shot {
                    name: format!("{}-{state}-{}x{}", lab.id(), size.0, size.1),
                    title: lab.title(),
                    size,
                    store,
                });
            }
        }
    }
    // The slowest first: the Theory tab runs its checks before it is shot.
    out.sort_by_key(|s| !s.name.starts_with("theory"));
    out
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

fn diff_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .join("snapshot-diffs")
}

/// A `gradlab` command with nothing of the caller's environment but `PATH`: no real home,
/// data or run folders, a fixed time zone.
fn gradlab_in(dir: &Path) -> Command {
    let mut cmd = Command::new(crate::gradlab_bin());
    cmd.current_dir(dir).env_clear().env("TZ", "UTC");
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd
}

/// Records the short runs into `dir/runs` with the CLI, then sets their clocks to fixed values.
fn prepare_store(dir: &Path) -> Result<PathBuf, String> {
    let unet = [
        "seg", "--epochs", "2", "--steps", "3", "--size", "64", "--depth", "2", "--base", "4",
        "--seeds", "1", "--skips",
    ];
    let graph = [
        "graph",
        "--dataset",
        "synthetic",
        "--seeds",
        "2",
        "--epochs",
        "30",
        "--model",
    ];
    let commands: Vec<Vec<&str>> = vec![
        [&graph[..], &["gcn"]].concat(),
        [&graph[..], &["gat"]].concat(),
        [&unet[..], &["on"]].concat(),
        [&unet[..], &["off"]].concat(),
    ];
    std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
    for args in commands {
        let out = gradlab_in(dir)
            .args(&args)
            .args(["--runs-dir", "runs", "--data-dir", "data"])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "gradlab {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let runs = dir.join("runs");
    let store = gradlab::core::runs::RunStore::open(&runs).map_err(|e| e.to_string())?;
    let db = rusqlite::Connection::open(store.db_path()).map_err(|e| e.to_string())?;
    // 2026-01-01 12:00 UTC plus a minute per run; every duration the labs show is fixed.
    db.execute_batch(
        "UPDATE runs SET started_ms = 1767268800000 + id * 60000,
             ended_ms = 1767268800000 + id * 60000 + 5000, pid = 1, pid_start = NULL,
             machine = '{\"cpu\":\"test\",\"os\":\"linux\",\"threads\":2}',
             git_commit = NULL, gradlab_version = '0.0.0';
         UPDATE runs SET summary = json_set(summary, '$.ms_per_epoch_median', 10.0)
             WHERE json_type(summary, '$.ms_per_epoch_median') IS NOT NULL;
         UPDATE runs SET summary = json_set(summary, '$.ms_per_step_median', 20.0)
             WHERE json_type(summary, '$.ms_per_step_median') IS NOT NULL;
         UPDATE runs SET summary = json_set(summary, '$.seconds', 1.0)
             WHERE json_type(summary, '$.seconds') IS NOT NULL;
         UPDATE metrics SET wall = step * 0.05;
         UPDATE logs SET wall = 0;",
    )
    .map_err(|e| format!("fixing the clocks of the store: {e}"))?;
    drop(db);
    drop(store);
    Ok(runs)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Starts the app on `display` in a folder of its own and returns the screenshot it took.
fn take(
    display: &str,
    shot: &Shot,
    store: Option<&Path>,
    wait: f64,
) -> Result<image::RgbaImage, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let d = dir.path();
    for sub in ["home", "data", "runtime"] {
        std::fs::create_dir_all(d.join(sub)).map_err(|e| e.to_string())?;
    }
    std::fs::set_permissions(d.join("runtime"), std::fs::Permissions::from_mode(0o700))
        .map_err(|e| e.to_string())?;
    if let Some(store) = store {
        copy_dir(store, &d.join("runs")).map_err(|e| format!("copying the store: {e}"))?;
    }
    let png = d.join("shot.png");
    let log = std::fs::File::create(d.join("log.txt")).map_err(|e| e.to_string())?;
    let mut child = gradlab_in(d)
        .env("DISPLAY", display)
        .env("HOME", d.join("home"))
        .env("XDG_RUNTIME_DIR", d.join("runtime"))
        // Relative folders: the Datasets and Runs tabs print them.
        .env("GRADLAB_DATA", "data")
        .env("GRADLAB_RUNS", "runs")
        .env("GRADLAB_TAB", shot.title)
        .env("GRADLAB_WINDOW", format!("{}x{}", shot.size.0, shot.size.1))
        .env("GRADLAB_SCREENSHOT", &png)
        .env("GRADLAB_SCREENSHOT_AFTER", wait.to_string())
        .env("GRADLAB_SCREENSHOT_IDLE", "1")
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env("WINIT_X11_SCALE_FACTOR", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start gradlab: {e}"))?;
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if t.elapsed() > SHOT_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no screenshot within {} s", SHOT_LIMIT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(d.join("log.txt")).unwrap_or_default();
    if !status.success() {
        return Err(format!("gradlab exited with {status}: {stderr}"));
    }
    let img = image::open(&png)
        .map_err(|e| format!("no screenshot ({e}): {stderr}"))?
        .to_rgba8();
    if img.dimensions() != shot.size {
        return Err(format!(
            "the window is {:?}, not {:?} (a scale factor other than 1?)",
            img.dimensions(),
            shot.size
        ));
    }
    Ok(img)
}

/// Takes and checks one snapshot (with `update`: takes it, after the long wait, and makes it
/// the reference). A snapshot that differs is taken once more after [`LONG_WAIT`].
fn snapshot(display: &str, shot: &Shot, store: Option<&Path>, update: bool) -> Result<(), String> {
    let waits: &[f64] = if update {
        &[LONG_WAIT]
    } else {
        &[WAIT, LONG_WAIT]
    };
    let mut outcome = Ok(String::new());
    for (i, wait) in waits.iter().enumerate() {
        let t = Instant::now();
        let img = take(display, shot, store, *wait).map_err(|e| format!("{}: {e}", shot.name))?;
        outcome = check(&shot.name, &img, update);
        if let Ok(summary) = &outcome {
            eprintln!(
                "{}: {summary} (shot {} in {:.1} s)",
                shot.name,
                i + 1,
                t.elapsed().as_secs_f64()
            );
            break;
        }
    }
    outcome.map(|_| ())
}

/// Compares one screenshot with its reference (or, with `update`, makes it the reference).
/// `Ok` says how close it is; `Err` what differs and where the pictures are.
fn check(name: &str, shot: &image::RgbaImage, update: bool) -> Result<String, String> {
    let actual = fingerprint(shot);
    let reference = snapshot_dir().join(format!("{name}.png"));
    if update {
        return save_gray(&actual, &reference).map(|()| "written".to_string());
    }
    let diffs = diff_dir();
    let actual_path = diffs.join(format!("{name}.actual.png"));
    let diff_path = diffs.join(format!("{name}.diff.png"));
    let _ = std::fs::remove_file(&actual_path);
    let _ = std::fs::remove_file(&diff_path);
    let save_actual = || -> Result<(), String> {
        std::fs::create_dir_all(&diffs).map_err(|e| e.to_string())?;
        shot.save(&actual_path)
            .map_err(|e| format!("{}: {e}", actual_path.display()))
    };
    let expected = match image::open(&reference) {
        Ok(img) => img.to_luma8(),
        Err(e) => {
            save_actual()?;
            return Err(format!(
                "{name}: no reference {} ({e}); the window is in {}. \
                 UPDATE_SNAPSHOTS=1 writes the reference",
                reference.display(),
                actual_path.display()
            ));
        }
    };
    if expected.dimensions() != actual.dimensions() {
        save_actual()?;
        return Err(format!(
            "{name}: the reference is {:?}, the fingerprint {:?}; the window is in {}",
            expected.dimensions(),
            actual.dimensions(),
            actual_path.display()
        ));
    }
    let c = compare(&expected, &actual);
    if c.passes() {
        return Ok(c.summary());
    }
    save_actual()?;
    diff_image(shot, &c)
        .save(&diff_path)
        .map_err(|e| format!("{}: {e}", diff_path.display()))?;
    Err(format!(
        "{name}: {}; see {} and {}",
        c.summary(),
        actual_path.display(),
        diff_path.display()
    ))
}

/// A fingerprint as an 8-bit grey PNG, compressed hard (they are checked in); written beside
/// and renamed, so a test reading the reference never sees half a file.
fn save_gray(img: &image::GrayImage, path: &Path) -> Result<(), String> {
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let mut bytes = Vec::new();
    PngEncoder::new_with_quality(&mut bytes, CompressionType::Best, FilterType::Adaptive)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::L8,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let part = path.with_extension("png.part");
    std::fs::write(&part, bytes)
        .and_then(|()| std::fs::rename(&part, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// References no snapshot of [`shots`] uses (a lab renamed or removed); with `update` they are
/// deleted. `compare-sample.png` belongs to the comparator's tests.
fn orphans(names: &[String], update: bool) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(snapshot_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = file.strip_suffix(".png") else {
            continue;
        };
        if stem == "compare-sample" || names.iter().any(|n| n == stem) {
            continue;
        }
        if update {
            let _ = std::fs::remove_file(entry.path());
        } else {
            out.push(format!(
                "{file}: no snapshot of this name is taken any more; delete it (or run with \
                 UPDATE_SNAPSHOTS=1)"
            ));
        }
    }
    out
}

#[test]
fn every_lab_looks_as_recorded_at_both_sizes() {
    let Some((_xvfb, display)) = super::xvfb::xvfb_or_skip("3000x2000x24") else {
        return;
    };
    // The screen is larger than every window (placed at 0,0 without a window manager), so the
    // pointer, at the screen's centre, hovers over none of them.
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let started = Instant::now();
    let store_dir = tempfile::tempdir().unwrap();
    let store: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let all = shots();
    let count = all.len();
    let names: Vec<String> = all.iter().map(|s| s.name.clone()).collect();
    let queue = Mutex::new(all.into_iter().rev().collect::<Vec<_>>());
    let failures = Mutex::new(Vec::<String>::new());
    std::thread::scope(|s| {
        s.spawn(|| {
            let t = Instant::now();
            // Set even if it panics: the workers wait for it.
            let prepared = std::panic::catch_unwind(|| prepare_store(store_dir.path()))
                .unwrap_or_else(|_| Err("preparing it panicked".into()));
            let _ = store.set(prepared);
            eprintln!("short runs recorded in {:.1} s", t.elapsed().as_secs_f64());
        });
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let Some(shot) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let runs = match shot.store {
                        Store::Empty => None,
                        Store::Trained => loop {
                            if let Some(r) = store.get() {
                                break Some(r.as_deref());
                            }
                            std::thread::sleep(Duration::from_millis(50));
                        },
                    };
                    let result = match runs {
                        Some(Err(e)) => Err(format!("{}: the store: {e}", shot.name)),
                        Some(Ok(dir)) => snapshot(&display, &shot, Some(dir), update),
                        None => snapshot(&display, &shot, None, update),
                    };
                    if let Err(e) = result {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.extend(orphans(&names, update));
    eprintln!(
        "{count} snapshots in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} problems with the {} layout snapshots (UPDATE_SNAPSHOTS=1 rewrites them after a \
         deliberate change; look at them before committing):\n{}",
        failures.len(),
        count,
        failures.join("\n")
    );
    if update {
        eprintln!("snapshots written to {}", snapshot_dir().display());
    }
}
