//! The one download job of the app: the Datasets tab and the "Download ..." offers in other labs
//! start it here, so all of them show the same job under the same name.

use std::path::Path;

use crate::core::jobs::{JobId, Jobs, Waker};
use crate::data::catalog::Dataset;
use crate::data::download::{FetchOptions, fetch};

/// Job kind of the dataset jobs (downloads and verifies).
pub const KIND: &str = "datasets";

/// The job name of `dataset`'s download, by which every tab finds it.
pub fn job_name(dataset: &str) -> String {
    format!("download {dataset}")
}

/// Downloads `ds` into `data_dir` on a worker thread (to `.part` files, sha256-checked, renamed).
pub fn spawn_download(
    jobs: &mut Jobs,
    waker: Waker,
    ds: &Dataset,
    data_dir: &Path,
    opts: FetchOptions,
) -> JobId {
    let ds2 = ds.clone();
    let dir = data_dir.to_path_buf();
    jobs.spawn(KIND, &job_name(&ds.name), waker, move |sink, stop| {
        Ok(fetch(&ds2, &dir, &opts, sink, stop)?.to_json())
    })
}

/// The running download of `dataset`, whichever tab started it.
pub fn running_download(jobs: &Jobs, dataset: &str) -> Option<JobId> {
    let name = job_name(dataset);
    jobs.iter()
        .find(|j| j.kind == KIND && j.name == name && j.state.is_running())
        .map(|j| j.id)
}
