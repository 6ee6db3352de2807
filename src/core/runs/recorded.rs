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
    mut run: NewRun,
    sink: &mut dyn Sink,
    train: impl FnOnce(&mut dyn Sink, &StopFlag) -> anyhow::Result<T>,
    summary: impl FnOnce(&T) -> anyhow::Result<Value>,
    files: impl FnOnce(&T) -> anyhow::Result<Vec<(String, Vec<u8>)>>,
) -> anyhow::Result<(T, Option<RunId>)> {
    let stop = StopFlag::new();
    let Some(store) = store else {
        return Ok((train(sink, &stop)?, None));
    };
    if run.command.is_empty() {
        run.command = command_line();
    }
    let mut rec = Recorder::start(store, &run, sink)?.stop_on_failure(stop.clone());
    let id = rec.run_id();
    // For people watching a terminal; scripts read `run_ids` (stderr stays one line on error).
    if std::io::stderr().is_terminal() {
        eprintln!(
            "gradlab: recording run {id} ({}) in {}",
            run.name,
            store.dir().display()
        );
    }
    let out = train(&mut rec, &stop);
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
    let finished = rec.finish(&result, false);
    match (result, out) {
        (Err(e), _) => Err(e.context(format!("run {id}"))),
        (Ok(_), Some(t)) => {
            finished?;
            Ok((t, Some(id)))
        }
        (Ok(_), None) => unreachable!("a summary comes only from a result"),
    }
}
