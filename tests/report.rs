//! `gradlab report` end to end: runs recorded by the CLI become report.html (self-contained,
//! rendered by headless Chromium), report.md and figures/; bad input exits 1 and leaves nothing.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{gradlab, json_of};

/// GCN and MLP on the synthetic graph, 2 seeds each (fast), and one theory check.
fn record_runs(runs: &Path) {
    for model in ["gcn", "mlp"] {
        json_of(&gradlab(
            runs,
            &[
                "graph",
                "--dataset",
                "synthetic",
                "--model",
                model,
                "--seeds",
                "2",
                "--epochs",
                "15",
                "--json",
            ],
        ));
    }
    json_of(&gradlab(
        runs,
        &["theory", "--check", "attention_conv1d", "--json"],
    ));
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn report_of_recorded_runs_is_self_contained_and_renders() {
    let t = tempfile::tempdir().unwrap();
    let runs = t.path().join("runs");
    record_runs(&runs);
    let out = t.path().join("report");
    let started = Instant::now();
    let j = json_of(&gradlab(
        &runs,
        &[
            "report",
            "--last",
            "10",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    ));
    eprintln!(
        "report of 5 runs in {:.2} s (wall, with process start)",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(j["runs"].as_array().unwrap().len(), 5);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    // Self-contained: no script, nothing fetched from elsewhere.
    assert!(!html.contains("<script"), "no JavaScript");
    for bad in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(bad), "external reference {bad}");
    }
    // The seed groups, the table with mean ± std (n), the verdicts and the commands are there.
    assert!(html.contains("GCN synthetic"), "group label");
    assert!(html.contains("(mean ± std, n = 2)"), "band legend");
    assert!(html.contains(" (2)</"), "table cell with n");
    assert!(
        html.contains("attention_conv1d") && html.contains("fails"),
        "verdicts"
    );
    assert!(
        html.contains("gradlab graph --dataset synthetic --model gcn"),
        "reproduce block"
    );
    assert!(
        html.contains("Kipf &amp; Welling"),
        "published figures beside ours"
    );
    // Markdown links only to files that exist.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let mut linked = 0;
    for part in md.split("](figures/").skip(1) {
        let name = &part[..part.find(')').unwrap()];
        assert!(out.join("figures").join(name).is_file(), "{name} missing");
        linked += 1;
    }
    assert!(linked >= 2, "{linked} figures linked");
    // Every SVG is well-formed and has its labels.
    for e in std::fs::read_dir(out.join("figures")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "svg") {
            let text = std::fs::read_to_string(&p).unwrap();
            let doc = roxmltree::Document::parse(&text).unwrap();
            assert!(
                doc.descendants()
                    .any(|n| n.attribute("class") == Some("xlabel")),
                "{} has no x label",
                p.display()
            );
        }
    }
    // Nothing half-written is left behind.
    let stray: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".gradlab"))
        .filter(|e| e.file_name() != gradlab::core::files::OWNED_MARKER)
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    // ... and the marker that lets a later report replace this folder whole is there.
    assert!(out.join(gradlab::core::files::OWNED_MARKER).is_file());

    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install chromium (.ci/run) for the report rendering test"
        );
        eprintln!("skipped the rendering check: no chromium on this machine");
        return;
    };
    let shot = t.path().join("report.png");
    let profile = t.path().join("chromium-profile");
    let log = t.path().join("chromium.log");
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            // Nothing to fetch: without these it keeps trying the (closed) network.
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1280,8000")
        .arg(format!("file://{}", out.join("report.html").display()))
        .stdout(Stdio::null())
        // A file, not a pipe: a chatty browser cannot fill it and block.
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_at_most(o, Duration::from_secs(180), &log);
    assert!(
        shot.is_file(),
        "no screenshot: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let img = image::open(&shot).unwrap().to_rgb8();
    let ink_rows: Vec<u32> = (0..img.height())
        .filter(|&y| (0..img.width()).any(|x| img.get_pixel(x, y).0.iter().any(|&c| c < 200)))
        .collect();
    let last = *ink_rows.last().expect("the rendered report is blank");
    // A title, two tables, at least three figures and the commands: several screens tall, and
    // the page ends before the window does.
    assert!((1500..7900).contains(&last), "content ends at {last} px");
    assert!(
        ink_rows.len() > 600,
        "only {} rows have ink",
        ink_rows.len()
    );
}

#[test]
fn bad_run_id_and_unwritable_folder_exit_1_with_one_line() {
    let t = tempfile::tempdir().unwrap();
    let runs = t.path().join("runs");
    record_runs(&runs);
    let out = t.path().join("r");
    let o = gradlab(
        &runs,
        &["report", "--runs", "1,999", "--out", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("999"), "{err}");
    assert!(!out.exists(), "a bad id writes nothing");
    let o = gradlab(
        &runs,
        &["report", "--runs", "1,x", "--out", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("'x'"));
    // A file where the folder should be.
    let blocked = t.path().join("file");
    std::fs::write(&blocked, b"x").unwrap();
    let o = gradlab(
        &runs,
        &["report", "--out", blocked.join("sub").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("file") && err.trim().lines().count() == 1,
        "{err}"
    );
}

/// Waits for the browser; one that hangs is killed and fails the test with its log.
fn wait_at_most(mut child: Child, limit: Duration, log: &Path) {
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish in {} s: {}",
                limit.as_secs(),
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
