//! The run store: every run of every lab, recorded as it trains, in one SQLite database
//! (`runs.sqlite`, WAL mode) plus one artifact folder per run (`<runs_dir>/<run_id>/`).
//!
//! - [`RunStore`] opens the store (creating or migrating it, marking runs whose process is gone
//!   `interrupted`) and answers the read API: list with filters and sort, one run, metric
//!   series, runs grouped by configuration.
//! - [`Recorder`] is a sink adapter: it forwards every event to an inner sink and hands metric
//!   points, logs and images to a writer thread that inserts them in batches, so the training
//!   thread only sends on a channel.
//! - [`StoreReader`] runs queries on its own thread for a UI that must never block.
//! - [`load_latest_groups`] ([`latest_groups`] + [`load_run`]) reads a lab's latest runs back
//!   whole (on a job thread), so each lab reopens them after a restart.

mod artifacts;
mod liveness;
mod model;
mod pace;
mod provenance;
mod reader;
mod recorded;
mod recorder;
mod restore;
mod schema;
mod store;
mod sweeps;
mod writer;

pub use artifacts::artifact_path;
pub use liveness::process_start_time;
pub use model::{
    ArtifactInfo, ConfigGroup, Facets, NewRun, Point, Purged, RunDetail, RunFilter, RunId, RunRow,
    RunStatus, SeriesInfo, SortBy, config_key, count_text, figure_text, without_seed,
};
pub use pace::{Pace, RecordedRun, pace_key, pace_of, runs_text, this_threads};
pub use provenance::{GIT_COMMIT, command_line, machine, quote_args};
pub use reader::{Query, Reply, SeriesChunk, StoreReader};
pub use recorded::{RecordTo, open_for_job, recorded, recorded_stoppable};
pub use recorder::{Recorder, RecorderStats};
pub use restore::{
    LatestGroup, StoredRun, latest_groups, load_latest_groups, load_run, origin_text, seed_metrics,
};
pub use schema::SCHEMA_VERSION;
pub use store::{DB_FILE, RunStore, StoreError, default_runs_dir, group_rows};
pub use sweeps::{GridAxis, NewSweep, SweepId, SweepLink, SweepRow};
