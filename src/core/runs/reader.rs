//! The store for a UI: a thread that owns a [`RunStore`] and answers queries over channels.
//! `send` and `poll` never block, so the UI thread never waits on the database. When another
//! connection commits (a CLI run, a recorder of this app) the thread notices within
//! [`WATCH_EVERY`], answers [`Reply::Changed`] and re-runs the last list query, so lists and
//! curves grow live.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use super::model::{ConfigGroup, Facets, Point, Purged, RunDetail, RunFilter, RunId, RunRow};
use super::store::RunStore;
use super::sweeps::{SweepId, SweepLink, SweepRow};

/// How often the reader looks for commits of other connections.
pub const WATCH_EVERY: Duration = Duration::from_millis(300);

#[derive(Clone, Debug)]
pub enum Query {
    List(RunFilter),
    Groups(RunFilter),
    /// What the runs (of this lab, if given) can be filtered and sorted by.
    Facets(Option<String>),
    Run(RunId),
    /// Points of these series of a run recorded after `cursor` (0: all); the reply carries the
    /// next cursor per series.
    Series {
        run: RunId,
        keys: Vec<String>,
        cursors: Vec<i64>,
    },
    SetName(RunId, String),
    SetNotes(RunId, String),
    AddTag(RunId, String),
    RemoveTag(RunId, String),
    Delete(RunId),
    Restore(RunId),
    Purge,
    /// Every sweep, newest first.
    Sweeps,
    /// One sweep with its finished runs (their figure read by the sweep's metric).
    Sweep(SweepId),
}

#[derive(Debug)]
pub enum Reply {
    /// The store could not be opened (or broke): the UI shows the reason and goes on without
    /// runs. Every later query gets this answer too.
    Unavailable(String),
    List(Vec<RunRow>),
    Groups(Vec<ConfigGroup>),
    Facets(Facets),
    Run(RunId, Option<Box<RunDetail>>),
    Series {
        run: RunId,
        series: Vec<SeriesChunk>,
    },
    /// A change (rename, tag, delete, restore) was made.
    Done(Query),
    /// The trash was purged; the files gradlab did not write were left in place.
    Purged(Purged),
    /// A query failed; the store stays usable.
    Error(String),
    /// Another connection committed: refresh what is shown.
    Changed,
    Sweeps(Vec<SweepRow>),
    /// The sweep (None: no sweep with that id) and its links.
    Sweep(SweepId, Option<Box<SweepRow>>, Vec<SweepLink>),
}

/// The points of one series recorded after `from`, and the cursor to read on from. A reader of
/// a growing series applies a chunk only when `from` is its own cursor: two queries in flight
/// for the same points would otherwise add them twice.
#[derive(Debug)]
pub struct SeriesChunk {
    pub key: String,
    pub from: i64,
    pub points: Vec<Point>,
    pub next: i64,
}

pub struct StoreReader {
    tx: Sender<Query>,
    rx: Receiver<Reply>,
}

impl StoreReader {
    /// Starts the thread; it opens the store (which marks interrupted runs) off the caller's
    /// thread. `wake` is called after each reply (the GUI passes `ctx.request_repaint()`).
    pub fn spawn(dir: PathBuf, wake: impl Fn() + Send + 'static) -> StoreReader {
        let (tx, qrx) = channel::<Query>();
        let (rtx, rx) = channel::<Reply>();
        let spawned = std::thread::Builder::new()
            .name("run-store-reader".into())
            .spawn(move || serve(dir, qrx, rtx, wake));
        if let Err(e) = spawned {
            let (etx, erx) = channel();
            let _ = etx.send(Reply::Unavailable(format!(
                "cannot start the run store thread: {e}"
            )));
            return StoreReader { tx, rx: erx };
        }
        StoreReader { tx, rx }
    }

    /// Queues a query; never blocks.
    pub fn send(&self, q: Query) {
        let _ = self.tx.send(q);
    }

    /// Every reply that has arrived; never blocks.
    pub fn poll(&self) -> Vec<Reply> {
        self.rx.try_iter().collect()
    }

    /// Waits up to `timeout` for one reply (tests and the CLI; never on a UI thread).
    pub fn wait(&self, timeout: Duration) -> Option<Reply> {
        self.rx.recv_timeout(timeout).ok()
    }
}

fn serve(dir: PathBuf, rx: Receiver<Query>, tx: Sender<Reply>, wake: impl Fn()) {
    let reply = |r: Reply| {
        let ok = tx.send(r).is_ok();
        wake();
        ok
    };
    let mut store = match RunStore::open(&dir) {
        Ok(s) => s,
        Err(e) => {
            let why = e.to_string();
            reply(Reply::Unavailable(why.clone()));
            while rx.recv().is_ok() {
                if !reply(Reply::Unavailable(why.clone())) {
                    return;
                }
            }
            return;
        }
    };
    let mut version = store.data_version().unwrap_or(0);
    let mut last_list: Option<RunFilter> = None;
    loop {
        let q = match rx.recv_timeout(WATCH_EVERY) {
            Ok(q) => q,
            Err(RecvTimeoutError::Timeout) => {
                let v = store.data_version().unwrap_or(version);
                if v != version {
                    version = v;
                    if !reply(Reply::Changed) {
                        return;
                    }
                    if let Some(f) = &last_list {
                        let r = store.list(f).map(Reply::List);
                        if !reply(r.unwrap_or_else(|e| Reply::Error(e.to_string()))) {
                            return;
                        }
                    }
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if let Query::List(f) = &q {
            last_list = Some(f.clone());
        }
        let r = answer(&mut store, q);
        if !reply(r.unwrap_or_else(|e| Reply::Error(e.to_string()))) {
            return;
        }
    }
}

fn answer(store: &mut RunStore, q: Query) -> Result<Reply, super::StoreError> {
    Ok(match q {
        Query::List(f) => Reply::List(store.list(&f)?),
        Query::Groups(f) => Reply::Groups(store.groups(&f)?),
        Query::Facets(lab) => Reply::Facets(store.facets(lab.as_deref())?),
        Query::Run(id) => Reply::Run(id, store.get(id)?.map(Box::new)),
        Query::Series { run, keys, cursors } => {
            let mut series = Vec::with_capacity(keys.len());
            for (i, key) in keys.into_iter().enumerate() {
                let from = cursors.get(i).copied().unwrap_or(0);
                let (points, next) = store.series_after(run, &key, from)?;
                series.push(SeriesChunk {
                    key,
                    from,
                    points,
                    next,
                });
            }
            Reply::Series { run, series }
        }
        Query::Purge => Reply::Purged(store.purge()?),
        Query::Sweeps => Reply::Sweeps(store.sweeps()?),
        Query::Sweep(id) => match store.sweep(id)? {
            Some(row) => {
                let links = store.sweep_links(id, &row.metric)?;
                Reply::Sweep(id, Some(Box::new(row)), links)
            }
            None => Reply::Sweep(id, None, Vec::new()),
        },
        ref change => {
            match change {
                Query::SetName(id, s) => store.set_name(*id, s)?,
                Query::SetNotes(id, s) => store.set_notes(*id, s)?,
                Query::AddTag(id, s) => store.add_tag(*id, s)?,
                Query::RemoveTag(id, s) => store.remove_tag(*id, s)?,
                Query::Delete(id) => store.delete(*id)?,
                Query::Restore(id) => store.restore(*id)?,
                _ => unreachable!("reads and purges are answered above"),
            }
            Reply::Done(q)
        }
    })
}
