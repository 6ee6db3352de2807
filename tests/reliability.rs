//! Faults and load: interrupted writes, many jobs started and stopped.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gradlab::files::atomic_write;
use gradlab::jobs::Jobs;
use gradlab::sysinfo::{rss_mib, thread_count};

const WRITER_ENV: &str = "GRADLAB_TEST_WRITER_TARGET";

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

#[test]
fn killing_a_writer_leaves_a_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("checkpoint.bin");
    atomic_write(&target, &payload(0)).unwrap();
    for round in 0..5 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "writer_child", "--ignored", "--nocapture"])
            .env(WRITER_ENV, &target)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + 70 * round));
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
    }
}

#[test]
fn two_hundred_jobs_started_and_stopped_leak_no_threads() {
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
