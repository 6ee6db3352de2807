//! Timing for the complexity claims: the minimum over repeats, because on a shared machine
//! interference only ever adds time.

use std::hint::black_box;
use std::time::Instant;

/// Seconds of one call of `f`: the fastest of at least `min_reps` calls, repeating until
/// `min_total_s` have been spent.
pub fn time_min<T>(min_reps: usize, min_total_s: f64, mut f: impl FnMut() -> T) -> f64 {
    let start = Instant::now();
    let mut best = f64::INFINITY;
    let mut reps = 0;
    while reps < min_reps || start.elapsed().as_secs_f64() < min_total_s {
        let t = Instant::now();
        black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
        reps += 1;
        if reps > 10_000 {
            break;
        }
    }
    best
}

/// n values from `lo` to `hi` doubling (both included when powers of two apart).
pub fn doublings(lo: usize, hi: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut n = lo.max(1);
    while n <= hi {
        v.push(n);
        n *= 2;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doublings_cover_the_range() {
        assert_eq!(doublings(256, 2048), [256, 512, 1024, 2048]);
        assert_eq!(doublings(3, 2), Vec::<usize>::new());
    }

    #[test]
    fn time_min_runs_at_least_min_reps() {
        let mut calls = 0;
        let t = time_min(3, 0.0, || calls += 1);
        assert!(calls >= 3 && t >= 0.0);
    }
}
