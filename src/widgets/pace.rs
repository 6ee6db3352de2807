//! The measured pace of a configuration before it is trained, looked up in the run store on a
//! background thread (the UI thread never queries the database): what a tab's "about N s"
//! estimate comes from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::core::jobs::Waker;
use crate::core::runs::{Pace, RunStore, this_threads};

#[derive(Default)]
struct State {
    /// Per config key: the answer and the generation it was asked in.
    answers: HashMap<String, (Option<Pace>, u64)>,
    asking: HashMap<String, u64>,
}

/// Paces of config keys, kept per session; see [`PaceLookup::get`].
#[derive(Clone, Default)]
pub struct PaceLookup(Arc<Mutex<State>>);

impl PaceLookup {
    /// The pace of `config_key` in the store at `runs_dir` as last looked up: None until the
    /// lookup answered or when the store has no finished run of it. Looks again when
    /// `generation` changes (pass the number of finished jobs: a run just ended is counted).
    pub fn get(
        &self,
        runs_dir: Option<&Path>,
        config_key: &str,
        generation: u64,
        waker: &Waker,
    ) -> Option<Pace> {
        let dir = runs_dir?;
        let Ok(mut st) = self.0.lock() else {
            return None;
        };
        let known = st.answers.get(config_key).copied();
        let fresh = known.is_some_and(|(_, g)| g == generation);
        let asked = st.asking.get(config_key) == Some(&generation);
        if !fresh && !asked {
            st.asking.insert(config_key.to_string(), generation);
            let (state, dir, key, waker) = (
                self.0.clone(),
                PathBuf::from(dir),
                config_key.to_string(),
                waker.clone(),
            );
            std::thread::spawn(move || {
                // A store that cannot be opened has no pace: the estimate says "assumed".
                let pace = RunStore::open(&dir)
                    .ok()
                    .and_then(|s| s.pace(&key, this_threads(), None).ok().flatten());
                if let Ok(mut st) = state.lock() {
                    st.answers.insert(key.clone(), (pace, generation));
                    st.asking.remove(&key);
                }
                waker();
            });
        }
        known.and_then(|(p, _)| p)
    }
}
