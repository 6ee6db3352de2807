//! One function every front end uses to run a piece of training as a recorded run.

use std::io::IsTerminal;

use serde_json::Value;

use super::{NewRun, Recorder, RunId, RunStore, command_line};
use crate::core::{Sink, StopFlag};

/// Runs `train` as one recorded run when there is a store: creates the run before the first
/// step, prints its id on stderr, records every event, and ends it with the status of the
/// result. A recording failure (disk full, read-only) stops training and fails the command.
pub fn recorded<T>(
    store: Option<&RunStore>,
    run: NewRun,
    sink: &mut dyn Sink,
    train: impl FnOnce(&mut dyn Sink, &StopFlag) -> anyhow::Result<T>,
    summary: impl FnOnce(&T) -> anyhow::Result<Value>,
    files: impl FnOnce(&T) -> anyhow::Result<Vec<(String, Vec<u8>)>>,
) -> anyhow::Result<(T, Option<RunId>)> {
    recorded_stoppable(store, run, sink, &StopFlag::new(), train, summary, files)
}

/// [`recorded`] under a stop flag someone else holds (a GUI job's Stop button): training gets
/// `stop`, a recording failure raises it too, and a run that ends with it raised is `stopped`.
pub fn recorded_stoppable<T>(
    store: Option<&RunStore>,
    mut run: NewRun,
    sink: &mut dyn Sink,
    stop: &StopFlag,
    train: impl FnOnce(&mut dyn Sink, &StopFlag) -> anyhow::Result<T>,
    summary: impl FnOnce(&T) -> anyhow::Result<Value>,
    files: impl FnOnce(&T) -> anyhow::Result<Vec<(String, Vec<u8>)>>,
) -> anyhow::Result<(T, Option<RunId>)> {
    let Some(store) = store else {
        return Ok((train(sink, stop)?, None));
    };
    if run.command.is_empty() {
        run.command = command_line();
    }
    let mut rec = Recorder::start(store, &run, sink)?.stop_on_failure(stop.clone());
    let id = rec.run_id();
    rec.payload(Box::new(super::RecordedRun(id)));
    // How long this configuration took here before: a watcher can tell the time left from
    // the first second. A failed lookup only costs the estimate.
    let key = super::pace_key(&run.lab, run.dataset.as_deref(), &run.config);
    if let Ok(Some(pace)) = store.pace(&key, super::this_threads(), Some(id)) {
        rec.payload(Box::new(pace));
    }
    // For people watching a terminal; scripts read `run_ids` (stderr stays one line on error).
    if std::io::stderr().is_terminal() {
        eprintln!(
            "gradlab: recording run {id} ({}) in {}",
            run.name,
            store.dir().display()
        );
    }
    let out = train(&mut rec, stop);
    let (result, out) = match out {
        Ok(t) => {
            let files = files(&t);
            match files {
                Ok(fs) => {
                    for (name, bytes) in fs {
                        rec.save_file(&name, bytes);
                    }
                }
                Err(e) => rec.log(&format!("could not save the run's files: {e:#}")),
            }
            (summary(&t), Some(t))
        }
        Err(e) => (Err(e), None),
    };
    let finished = rec.finish(&result, stop.is_stopped());
    match (result, out) {
        (Err(e), _) => Err(e.context(format!("run {id}"))),
        (Ok(_), Some(t)) => {
            finished?;
            Ok((t, Some(id)))
        }
        (Ok(_), None) => unreachable!("a summary comes only from a result"),
    }
}

/// Where a job records its runs, and the command that reproduces them (empty: this process's
/// command line, right for the CLI; the GUI names the equivalent `gradlab` command).
#[derive(Clone, Copy, Default)]
pub struct RecordTo<'a> {
    pub store: Option<&'a RunStore>,
    pub command: &'a str,
}

impl RecordTo<'_> {
    /// Fills in the command of a run to be recorded.
    pub fn run(&self, mut run: NewRun) -> NewRun {
        if run.command.is_empty() {
            run.command = self.command.to_string();
        }
        run
    }
}

/// Opens the store for a GUI job, on the job's thread. A store that cannot be opened (not
/// SQLite, newer schema, read-only) does not stop the training: the job's log says the run is
/// not recorded and why, and the Runs tab shows the same reason.
pub fn open_for_job(dir: Option<&std::path::Path>, sink: &mut dyn Sink) -> Option<RunStore> {
    match RunStore::open(dir?) {
        Ok(s) => Some(s),
        Err(e) => {
            sink.log(&format!("this run is not recorded: {e}"));
            None
        }
    }
}
