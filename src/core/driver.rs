//! One training driver for every lab's loop, in the spirit of burn-train's learner but small:
//! the lab says what one epoch (and one step) does; the driver owns the rest: the stop flag,
//! finite checks of every recorded value, progress, early stopping with patience, timing and
//! recording the curves.

use std::time::Instant;

use super::events::ensure_finite;
use super::stats::median;
use super::{Sink, StopFlag};

/// How long to train.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub epochs: usize,
    /// Optimiser steps per epoch, run through [`EpochCx::steps`]; 1 for a lab whose epoch is
    /// one full-batch step (it need not call `steps`).
    pub steps_per_epoch: usize,
    /// Stop after this many epochs without progress; 0: train every epoch.
    pub patience: usize,
}

/// What one epoch reported.
#[derive(Debug, Default)]
pub struct Epoch {
    /// Curve points of the epoch, recorded at x = epoch in this order.
    pub points: Vec<(String, f64)>,
    /// The epoch is the best so far: the reported model becomes this one.
    pub best: bool,
    /// The epoch made progress (patience starts again); a best epoch always does.
    pub progress: bool,
}

impl Epoch {
    pub fn new(points: impl IntoIterator<Item = (impl Into<String>, f64)>) -> Self {
        Self {
            points: points.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            ..Self::default()
        }
    }
}

/// What an epoch sees: the sink, the epoch number and its steps.
pub struct EpochCx<'a> {
    pub sink: &'a mut dyn Sink,
    stop: &'a StopFlag,
    plan: Plan,
    epoch: usize,
    /// Steps done over the whole run.
    step: &'a mut usize,
    step_ms: &'a mut Vec<f64>,
    /// Time measured with [`EpochCx::timed`] in this epoch, if any.
    timed_ms: Option<f64>,
    /// Epochs in a row without progress before this one.
    since_progress: usize,
}

impl EpochCx<'_> {
    /// The epoch, from 1.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Whether this epoch ends the run if it reports `progress` (the plan's last epoch, or
    /// patience running out): a lab draws its final snapshots then.
    pub fn is_last(&self, progress: bool) -> bool {
        let since = if progress { 0 } else { self.since_progress + 1 };
        self.epoch == self.plan.epochs || (self.plan.patience > 0 && since >= self.plan.patience)
    }

    /// Runs this epoch's steps until they are done or the user stops. Each step returns its
    /// curve points, checked for finiteness and recorded at x = the step count over the run;
    /// progress follows the steps. Returns how many steps ran.
    pub fn steps(
        &mut self,
        mut step: impl FnMut(&mut dyn Sink, usize) -> anyhow::Result<Vec<(&'static str, f64)>>,
    ) -> anyhow::Result<usize> {
        let total = self.total();
        for i in 0..self.plan.steps_per_epoch {
            if self.stop.is_stopped() {
                return Ok(i);
            }
            let t = Instant::now();
            let points = step(self.sink, *self.step)?;
            self.step_ms.push(t.elapsed().as_secs_f64() * 1e3);
            *self.step += 1;
            for (key, v) in points {
                let v = ensure_finite(key, v, *self.step)?;
                self.sink.metric(key, *self.step as f64, v);
            }
            self.sink.progress(*self.step as u64, total);
        }
        Ok(self.plan.steps_per_epoch)
    }

    /// Runs `f` and counts its time as the epoch's time (what the epoch-time median reports),
    /// instead of the whole epoch's (which includes snapshots and pictures).
    pub fn timed<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        *self.timed_ms.get_or_insert(0.0) += t.elapsed().as_secs_f64() * 1e3;
        out
    }

    fn total(&self) -> u64 {
        (self.plan.epochs * self.plan.steps_per_epoch.max(1)) as u64
    }
}

/// What the driver measured over the run.
#[derive(Clone, Debug, Default)]
pub struct Driven {
    pub epochs_run: usize,
    /// The last epoch reported as best (0: none was).
    pub best_epoch: usize,
    /// The user stopped the run before its plan was done.
    pub stopped: bool,
    /// Early stopping ended the run.
    pub early_stopped: bool,
    pub epoch_ms: Vec<f64>,
    pub step_ms: Vec<f64>,
}

impl Driven {
    pub fn epoch_ms_median(&self) -> f64 {
        median(&mut self.epoch_ms.clone())
    }
    pub fn step_ms_median(&self) -> f64 {
        median(&mut self.step_ms.clone())
    }
}

/// Trains `plan.epochs` epochs of `epoch`, stopping when the user stops, when patience runs out
/// or when a value is not finite (a [`super::events::Diverged`] error).
pub fn drive(
    plan: Plan,
    sink: &mut dyn Sink,
    stop: &StopFlag,
    mut epoch: impl FnMut(&mut EpochCx<'_>) -> anyhow::Result<Epoch>,
) -> anyhow::Result<Driven> {
    let mut out = Driven::default();
    let mut step = 0usize;
    let mut since_progress = 0usize;
    let per_epoch = plan.steps_per_epoch.max(1);
    let total = (plan.epochs * per_epoch) as u64;
    sink.progress(0, total);
    for e in 1..=plan.epochs {
        if stop.is_stopped() {
            out.stopped = true;
            break;
        }
        let t = Instant::now();
        let mut cx = EpochCx {
            sink: &mut *sink,
            stop,
            plan,
            epoch: e,
            step: &mut step,
            step_ms: &mut out.step_ms,
            timed_ms: None,
            since_progress,
        };
        let report = epoch(&mut cx)?;
        let ms = cx
            .timed_ms
            .unwrap_or_else(|| t.elapsed().as_secs_f64() * 1e3);
        out.epoch_ms.push(ms);
        // All of an epoch's points or none: a diverged epoch leaves no half of itself behind.
        for (key, v) in &report.points {
            ensure_finite(key, *v, e)?;
        }
        for (key, v) in &report.points {
            sink.metric(key, e as f64, *v);
        }
        if stop.is_stopped() && step < e * plan.steps_per_epoch {
            // Stopped inside the epoch: its figures cover part of it and are kept as they are.
            out.stopped = true;
            out.epochs_run = e;
            break;
        }
        out.epochs_run = e;
        if report.best {
            out.best_epoch = e;
        }
        if report.best || report.progress {
            since_progress = 0;
        } else {
            since_progress += 1;
        }
        sink.progress((e * per_epoch) as u64, total);
        if plan.patience > 0 && since_progress >= plan.patience {
            out.early_stopped = true;
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Event, VecSink};

    fn plan(epochs: usize, steps: usize, patience: usize) -> Plan {
        Plan {
            epochs,
            steps_per_epoch: steps,
            patience,
        }
    }

    #[test]
    fn records_every_point_with_progress_to_the_end() {
        let mut sink = VecSink::default();
        let d = drive(plan(3, 2, 0), &mut sink, &StopFlag::new(), |cx| {
            cx.steps(|_, i| Ok(vec![("loss_step", 1.0 / (i + 1) as f64)]))?;
            Ok(Epoch::new([("val", cx.epoch() as f64)]))
        })
        .unwrap();
        assert_eq!(
            (d.epochs_run, d.stopped, d.early_stopped),
            (3, false, false)
        );
        assert_eq!(d.step_ms.len(), 6);
        assert_eq!(d.epoch_ms.len(), 3);
        assert_eq!(sink.series("loss_step").len(), 6);
        let val: Vec<f64> = sink.series("val").iter().map(|p| p.1).collect();
        assert_eq!(val, [1.0, 2.0, 3.0]);
        let last = sink.events.iter().rev().find_map(|e| match e {
            Event::Progress { done, total } => Some((*done, *total)),
            _ => None,
        });
        assert_eq!(last, Some((6, 6)));
    }

    #[test]
    fn patience_stops_after_epochs_without_progress_and_keeps_the_best() {
        let mut sink = VecSink::default();
        // Improves at 1 and 2, then never again: patience 3 ends it after epoch 5.
        let mut last = Vec::new();
        let d = drive(plan(50, 1, 3), &mut sink, &StopFlag::new(), |cx| {
            let best = cx.epoch() <= 2;
            if cx.is_last(best) {
                last.push(cx.epoch());
            }
            Ok(Epoch {
                best,
                ..Epoch::default()
            })
        })
        .unwrap();
        assert_eq!((d.epochs_run, d.best_epoch, d.early_stopped), (5, 2, true));
        assert_eq!(last, [5], "the epoch that ends the run knows it");
        // Progress without a new best still resets patience.
        let d = drive(plan(10, 1, 2), &mut sink, &StopFlag::new(), |cx| {
            Ok(Epoch {
                best: cx.epoch() == 1,
                progress: cx.epoch() % 2 == 0,
                ..Epoch::default()
            })
        })
        .unwrap();
        assert_eq!(
            (d.epochs_run, d.best_epoch, d.early_stopped),
            (10, 1, false)
        );
    }

    #[test]
    fn a_value_that_is_not_finite_is_a_divergence_naming_it() {
        let mut sink = VecSink::default();
        let e = drive(plan(5, 1, 0), &mut sink, &StopFlag::new(), |cx| {
            let v = if cx.epoch() == 3 { f64::NAN } else { 1.0 };
            Ok(Epoch::new([("val_loss", v)]))
        })
        .unwrap_err();
        let d = e.downcast_ref::<crate::core::events::Diverged>().unwrap();
        assert_eq!((d.step, d.what.as_str()), (3, "val_loss"));
        assert_eq!(
            sink.series("val_loss").len(),
            2,
            "nothing after the divergence"
        );
        let e = drive(plan(2, 3, 0), &mut sink, &StopFlag::new(), |cx| {
            cx.steps(|_, i| Ok(vec![("loss", if i == 4 { f64::INFINITY } else { 0.5 })]))?;
            Ok(Epoch::default())
        })
        .unwrap_err();
        assert!(format!("{e:#}").contains("diverged"), "{e:#}");
    }

    #[test]
    fn a_stop_ends_the_run_inside_an_epoch() {
        let stop = StopFlag::new();
        let mut sink = VecSink::default();
        let d = drive(plan(4, 10, 0), &mut sink, &stop, |cx| {
            let s = stop.clone();
            cx.steps(|_, i| {
                if i == 13 {
                    s.stop();
                }
                Ok(vec![])
            })?;
            Ok(Epoch::default())
        })
        .unwrap();
        assert!(d.stopped);
        assert_eq!((d.epochs_run, d.step_ms.len()), (2, 14));
    }
}
