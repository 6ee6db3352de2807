//! Process figures for benchmarks and load tests (Linux /proc; None elsewhere).

/// Peak resident memory of this process in MiB since start or the last [`reset_peak_rss`].
pub fn peak_rss_mib() -> Option<f64> {
    proc_status_kib("VmHWM:").map(|k| k / 1024.0)
}

/// Current resident memory in MiB.
pub fn rss_mib() -> Option<f64> {
    proc_status_kib("VmRSS:").map(|k| k / 1024.0)
}

/// Number of threads of this process.
pub fn thread_count() -> Option<usize> {
    proc_status_kib("Threads:").map(|t| t as usize)
}

/// Resets the peak so the next [`peak_rss_mib`] measures one section (Linux >= 4.0).
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn proc_status_kib(key: &str) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// CPU time used by the calling thread, in seconds.
pub fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; CLOCK_THREAD_CPUTIME_ID is valid on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Median and other order statistics of a sample (sorted copy).
pub fn percentile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i.min(v.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_small_sample() {
        let xs = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&xs, 50.0), 3.0);
        assert_eq!(percentile(&xs, 0.0), 1.0);
        assert_eq!(percentile(&xs, 100.0), 5.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn proc_figures_are_plausible() {
        let rss = rss_mib().unwrap();
        assert!(rss > 0.5 && rss < 100_000.0, "{rss}");
        assert!(peak_rss_mib().unwrap() >= rss * 0.5);
        assert!(thread_count().unwrap() >= 1);
        let t0 = thread_cpu_seconds();
        let mut x = 0u64;
        for i in 0..3_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        assert!(thread_cpu_seconds() > t0);
    }
}
