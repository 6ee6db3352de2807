//! Whether a dataset file or folder is there, asked every frame but checked on a background
//! thread: a data folder on a network drive or a sleeping disk can take seconds to answer a
//! `stat`, and the UI thread must not wait for it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::core::jobs::Waker;

/// How long an answer is trusted before it is checked again (a download or a copy by hand
/// shows up within this).
const RECHECK: Duration = Duration::from_secs(1);

#[derive(Default)]
struct State {
    path: PathBuf,
    present: Option<bool>,
    checked: Option<Instant>,
    checking: bool,
}

/// The last known answer for one path; see [`Presence::get`].
#[derive(Clone, Default)]
pub struct Presence(Arc<Mutex<State>>);

impl Presence {
    /// Whether `path` exists: the last background check's answer, None until the first check
    /// of this path has answered. Starts a check when the answer is older than [`RECHECK`];
    /// `waker` is called when an answer changes.
    pub fn get(&self, path: &Path, waker: &Waker) -> Option<bool> {
        let Ok(mut st) = self.0.lock() else {
            return None;
        };
        if st.path != path {
            *st = State {
                path: path.to_path_buf(),
                ..State::default()
            };
        }
        let stale = st.checked.is_none_or(|t| t.elapsed() > RECHECK);
        if stale && !st.checking {
            st.checking = true;
            let (state, path, waker) = (self.0.clone(), path.to_path_buf(), waker.clone());
            std::thread::spawn(move || {
                let present = path.exists();
                let changed = match state.lock() {
                    // The path asked for may have changed meanwhile: then this answer is void.
                    Ok(mut st) if st.path == path => {
                        let changed = st.present != Some(present);
                        st.present = Some(present);
                        st.checked = Some(Instant::now());
                        st.checking = false;
                        changed
                    }
                    _ => false,
                };
                if changed {
                    waker();
                }
            });
        }
        st.present
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_for(p: &Presence, path: &Path, want: bool) {
        let waker: Waker = Arc::new(|| {});
        let t = Instant::now();
        while p.get(path, &waker) != Some(want) {
            assert!(t.elapsed() < Duration::from_secs(10), "never saw {want}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn unknown_first_then_the_answer_then_a_change_within_a_recheck() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cora.content");
        let p = Presence::default();
        let waker: Waker = Arc::new(|| {});
        assert_eq!(p.get(&file, &waker), None);
        wait_for(&p, &file, false);
        std::fs::write(&file, b"x").unwrap();
        wait_for(&p, &file, true);
        // Another path starts over: its first answer is unknown, not the old path's.
        assert_eq!(p.get(dir.path(), &waker), None);
        wait_for(&p, dir.path(), true);
    }
}
