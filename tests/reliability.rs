//! Faults and load: interrupted writes, many jobs started and stopped.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gradlab::core::files::atomic_write;
use gradlab::core::jobs::Jobs;
use gradlab::core::sysinfo::{rss_mib, thread_count};

const WRITER_ENV: &str = "GRADLAB_TEST_WRITER_TARGET";

/// RSS and thread counts are per process: the tests that measure them run one at a time.
static MEASURE: Mutex<()> = Mutex::new(());

fn measuring() -> MutexGuard<'static, ()> {
    MEASURE.lock().unwrap_or_else(|p| p.into_inner())
}

fn payload(tag: u8) -> Vec<u8> {
    vec![tag; 8 << 20]
}

/// Child side of the kill test: rewrites the target forever with 8 MiB files of one byte value.
#[test]
#[ignore = "helper process for killing_a_writer_leaves_a_whole_file"]
fn writer_child() {
    let Some(target) = std::env::var_os(WRITER_ENV) else {
        return;
    };
    let target = PathBuf::from(target);
    for i in 0u64.. {
        atomic_write(&target, &payload((i % 200) as u8 + 1)).unwrap();
    }
}

fn first_byte(path: &std::path::Path) -> Option<u8> {
    use std::io::Read;
    let mut b = [0u8; 1];
    std::fs::File::open(path).ok()?.read_exact(&mut b).ok()?;
    Some(b[0])
}

/// Temporary files `atomic_write` left behind: a write that a kill interrupted.
fn take_leftovers(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with(".gradlab-") {
            std::fs::remove_file(e.path()).unwrap();
            n += 1;
        }
    }
    n
}

#[test]
fn killing_a_writer_leaves_a_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("checkpoint.bin");
    atomic_write(&target, &payload(0)).unwrap();
    let mut interrupted = 0;
    let mut rounds = 0;
    // At least 5 kills, and more (up to 40) until 2 of them landed inside a write.
    for round in 0..40u64 {
        if round >= 5 && interrupted >= 2 {
            break;
        }
        rounds += 1;
        let before = first_byte(&target).unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "writer_child", "--ignored", "--nocapture"])
            .env(WRITER_ENV, &target)
            .spawn()
            .unwrap();
        // Kill only once the child has replaced the file: it is then in its write loop, and
        // with 8 MiB + fsync per write a kill almost always lands inside a write.
        let t = Instant::now();
        while first_byte(&target) == Some(before) {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "round {round}: the writer never wrote"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(3 + 7 * (round % 5)));
        child.kill().unwrap();
        child.wait().unwrap();
        let bytes = std::fs::read(&target).unwrap();
        assert_eq!(
            bytes.len(),
            8 << 20,
            "round {round}: file has a partial length"
        );
        assert!(
            bytes.iter().all(|b| *b == bytes[0]),
            "round {round}: file mixes two writes"
        );
        interrupted += usize::from(take_leftovers(dir.path()) > 0);
    }
    // A leftover temporary file is the proof that a kill landed mid-write; without one the
    // rounds above checked nothing.
    assert!(interrupted >= 1, "no kill of {rounds} interrupted a write");
    eprintln!("{interrupted} of {rounds} kills interrupted a write");
}

#[test]
fn two_hundred_jobs_started_and_stopped_leak_no_threads() {
    let _serial = measuring();
    let base_threads = thread_count().unwrap();
    let base_rss = rss_mib().unwrap();
    let mut jobs = Jobs::default();
    for i in 0..200 {
        let id = jobs.spawn(
            "load",
            &format!("job {i}"),
            Arc::new(|| {}),
            |sink, stop| {
                // Real tensor work so a stop lands in the middle of compute, not in a sleep.
                let a = candle_core::Tensor::randn(0f32, 1.0, (64, 64), &candle_core::Device::Cpu)?;
                let mut step = 0;
                while !stop.is_stopped() {
                    let s = a.matmul(&a)?.sum_all()?.to_scalar::<f32>()?;
                    sink.metric("s", step as f64, s as f64);
                    step += 1;
                }
                Ok(serde_json::json!({ "steps": step }))
            },
        );
        if i % 3 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        jobs.stop(id);
        jobs.poll();
    }
    let t = Instant::now();
    while jobs.any_running() || jobs.live_threads() > 0 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "jobs did not wind down: deadlock?"
        );
        jobs.poll();
        std::thread::sleep(Duration::from_millis(5));
    }
    jobs.clear_finished("load");
    assert_eq!(jobs.iter().count(), 0);
    drop(jobs);
    // Give exiting threads a moment to be reaped by the OS.
    let t = Instant::now();
    while thread_count().unwrap() > base_threads + 2 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let threads = thread_count().unwrap();
    // candle's rayon pool starts once (one thread per core) and stays: allow for it.
    let pool = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    assert!(
        threads <= base_threads + pool + 1,
        "threads {base_threads} -> {threads}: job threads leaked"
    );
    let rss = rss_mib().unwrap();
    assert!(
        rss < base_rss + 200.0,
        "RSS {base_rss:.0} -> {rss:.0} MiB after 200 jobs"
    );
    eprintln!("200 jobs: threads {base_threads} -> {threads}, RSS {base_rss:.1} -> {rss:.1} MiB");
}

fn small_seg_config(epochs: usize, steps: usize) -> gradlab::labs::segmentation::SegConfig {
    use gradlab::data::seg::{DatasetSpec, shapes::ShapesConfig};
    use gradlab::labs::segmentation::{SegConfig, UNetConfig};
    SegConfig {
        dataset: DatasetSpec::Shapes(ShapesConfig {
            size: 48,
            count: 6,
            cell: 14.0,
            ..Default::default()
        }),
        unet: UNetConfig {
            depth: 3,
            base: 8,
            skips: true,
        },
        epochs,
        steps_per_epoch: steps,
        crop: 32,
        batch: 4,
        gallery: 1,
        ..Default::default()
    }
}

/// A GAT run and a U-Net run, back to back, ten times: what one run allocates (tensors, graph
/// preparation, images, the model) must be freed, so RSS after run 10 stays near RSS after run 2
/// (run 1 pays for one-off pools and caches).
#[test]
fn ten_consecutive_training_runs_do_not_grow_memory() {
    use gradlab::core::{StopFlag, VecSink};
    use gradlab::data::graph::{SyntheticSpec, synthetic_graph};
    use gradlab::labs::graphs::{GraphConfig, ModelKind, Preset, train_one};
    let _serial = measuring();
    let graph = synthetic_graph(&SyntheticSpec::default()).unwrap();
    let gat = GraphConfig {
        epochs: 8,
        patience: 0,
        snapshot_every: 4,
        ..GraphConfig::preset(ModelKind::Gat, Preset::Paper)
    };
    let seg = small_seg_config(1, 3);
    let t0 = Instant::now();
    let mut rss = Vec::new();
    for run in 1..=10 {
        // VecSink keeps every event (snapshots, images, the model): dropped at the end of a run.
        let mut sink = VecSink::default();
        let r = train_one(&gat, &graph, &mut sink, &StopFlag::new()).unwrap();
        assert_eq!(r.epochs_run, 8);
        let out = gradlab::labs::segmentation::train(&seg, &mut sink, &StopFlag::new()).unwrap();
        assert_eq!(out.summary["epochs"], 1);
        drop((sink, out));
        rss.push(rss_mib().unwrap());
        eprintln!("run {run}: RSS {:.1} MiB", rss[run - 1]);
    }
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "10 runs (GAT 8 epochs + U-Net 3 steps) in {secs:.1} s: RSS after run 2 {:.1} MiB, after run 10 {:.1} MiB",
        rss[1], rss[9]
    );
    assert!(
        rss[9] < rss[1] + 30.0,
        "RSS grew from {:.1} MiB (run 2) to {:.1} MiB (run 10): {rss:?}",
        rss[1],
        rss[9]
    );
}

/// Three real experiments (GCN, GAT, U-Net) training at once through the job runner: all report
/// progress, all stop when asked, within a second or so, and no thread is left behind.
#[test]
fn three_jobs_at_once_all_report_and_all_stop() {
    use gradlab::core::jobs::JobState;
    use gradlab::data::graph::{SyntheticSpec, synthetic_graph};
    use gradlab::labs::graphs::{GraphConfig, ModelKind, Preset};
    let _serial = measuring();
    let base_threads = thread_count().unwrap();
    let graph = Arc::new(synthetic_graph(&SyntheticSpec::default()).unwrap());
    let mut jobs = Jobs::default();
    let mut ids = Vec::new();
    for model in [ModelKind::Gcn, ModelKind::Gat] {
        let g = graph.clone();
        let cfg = GraphConfig {
            epochs: 100_000,
            patience: 0,
            ..GraphConfig::preset(model, Preset::Paper)
        };
        ids.push(
            jobs.spawn("load", model.label(), Arc::new(|| {}), move |sink, stop| {
                gradlab::labs::graphs::run(&cfg, &g, sink, stop)
            }),
        );
    }
    let seg = small_seg_config(10_000, 4);
    ids.push(
        jobs.spawn("load", "U-Net", Arc::new(|| {}), move |sink, stop| {
            gradlab::labs::segmentation::run(&seg, sink, stop)
        }),
    );
    // Wait until every job has sent at least one finished epoch.
    let t = Instant::now();
    loop {
        jobs.poll();
        let reported = ids
            .iter()
            .filter(|&&id| {
                let j = jobs.get(id).unwrap();
                assert!(j.state.is_running(), "{}: {:?}", j.name, j.state);
                j.progress.0 > 0 && !j.metrics.is_empty()
            })
            .count();
        if reported == ids.len() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "not every job reported within 30 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let running_for = t.elapsed();
    for &id in &ids {
        jobs.stop(id);
    }
    let t = Instant::now();
    while jobs.any_running() || jobs.live_threads() > 0 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "jobs did not stop within 10 s"
        );
        jobs.poll();
        std::thread::sleep(Duration::from_millis(5));
    }
    let stop_secs = t.elapsed().as_secs_f64();
    for &id in &ids {
        let j = jobs.get(id).unwrap();
        assert_eq!(j.state, JobState::Stopped, "{}", j.name);
        for (name, pts) in j.metrics.iter() {
            assert!(!pts.is_empty());
            assert!(
                pts.iter().all(|p| p[0].is_finite() && p[1].is_finite()),
                "{}: {name} has a non-finite point",
                j.name
            );
        }
    }
    eprintln!(
        "3 jobs ran together for {:.2} s; all stopped {stop_secs:.2} s after the request",
        running_for.as_secs_f64()
    );
    drop(jobs);
    let t = Instant::now();
    while thread_count().unwrap() > base_threads + 2 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let pool = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let threads = thread_count().unwrap();
    assert!(
        threads <= base_threads + pool + 1,
        "threads {base_threads} -> {threads}: job threads leaked"
    );
}
