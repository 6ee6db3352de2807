//! Wall time per U-Net op, collected only when `GRADLAB_OP_TIMERS` is set (then `gradlab bench
//! --only seg` lists the top ops): the ops run one after another on the training thread, each
//! parallel inside, so their wall times add up to the step.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

static TABLE: Mutex<BTreeMap<&'static str, (f64, u64)>> = Mutex::new(BTreeMap::new());

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("GRADLAB_OP_TIMERS").is_some())
}

/// Runs `f`, adding its wall time to `name` when timers are on.
pub fn timed<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    if !enabled() {
        return f();
    }
    let t = Instant::now();
    let r = f();
    let ms = t.elapsed().as_secs_f64() * 1e3;
    if let Ok(mut m) = TABLE.lock() {
        let e = m.entry(name).or_insert((0.0, 0));
        e.0 += ms;
        e.1 += 1;
    }
    r
}

/// Adds the wall time since `start` to `name` when timers are on (for a stretch of code that is
/// not one closure).
pub fn since(name: &'static str, start: Instant) {
    if !enabled() {
        return;
    }
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if let Ok(mut m) = TABLE.lock() {
        let e = m.entry(name).or_insert((0.0, 0));
        e.0 += ms;
        e.1 += 1;
    }
}

/// Clears the table (timers on or off).
pub fn reset() {
    if let Ok(mut m) = TABLE.lock() {
        m.clear();
    }
}

/// (name, total ms, calls), largest first; empty when timers are off.
pub fn take() -> Vec<(&'static str, f64, u64)> {
    let mut v: Vec<_> = TABLE
        .lock()
        .map(|mut m| std::mem::take(&mut *m))
        .unwrap_or_default()
        .into_iter()
        .map(|(k, (ms, n))| (k, ms, n))
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v
}
