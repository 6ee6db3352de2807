//! Reopening a lab's latest runs from the run store, once per session, on a job thread: the
//! state machine both Graphs and Segmentation use on their first frame.

use std::path::{Path, PathBuf};

use crate::core::jobs::{JobHandle, JobOutput};
use crate::widgets::TabCx;

const KIND: &str = "reopen";

/// Not tried yet, loading, or done (loaded, failed, or nothing to reopen).
#[derive(Default)]
pub enum Reopen<T> {
    #[default]
    NotTried,
    Loading(JobHandle<T>),
    Done,
}

impl<T: JobOutput> Reopen<T> {
    /// Call every frame. On the first call, starts `load(runs dir)` as a job named `what` when
    /// the session records runs and `wanted` (the lab has nothing of its own yet); returns the
    /// outcome once, on the frame it arrives.
    pub fn poll(
        &mut self,
        cx: &mut TabCx<'_>,
        wanted: bool,
        what: &str,
        load: impl FnOnce(&Path) -> anyhow::Result<T> + Send + 'static,
    ) -> Option<Result<T, String>> {
        match self {
            Reopen::NotTried => {
                *self = match cx.runs_dir() {
                    Some(dir) if wanted => {
                        let dir: PathBuf = dir.to_path_buf();
                        Reopen::Loading(cx.jobs.spawn_typed(
                            KIND,
                            what,
                            cx.waker.clone(),
                            move |_, _| load(&dir),
                        ))
                    }
                    _ => Reopen::Done,
                };
                None
            }
            Reopen::Loading(h) => {
                let outcome = cx.jobs.take(*h)?;
                cx.jobs.clear_finished(KIND);
                *self = Reopen::Done;
                Some(outcome)
            }
            Reopen::Done => None,
        }
    }

    pub fn is_loading(&self) -> bool {
        matches!(self, Reopen::Loading(_))
    }
}
