//! The training loop: whole epochs, each followed by a test evaluation,
//! its figures and (when asked) a checkpoint, with per-step progress for a
//! display.

use super::backend::Backend;
use super::checkpoint;
use super::data::Data;
use super::trainer::{StepStats, TrainError, Trainer};
use std::path::Path;
use std::time::Instant;

/// One epoch's figures.
#[derive(Clone, Debug)]
pub struct Epoch {
    /// Epochs completed with this one.
    pub epoch: u32,
    pub train_loss: f64,
    pub train_error: f64,
    pub test_loss: f64,
    pub test_error: f64,
    /// Of the training steps alone (not the test evaluation).
    pub seconds: f64,
    pub samples_per_s: f64,
    /// Device cycles and useful MACs during the epoch's training steps (0
    /// without device counters).
    pub cycles: u64,
    pub macs: u64,
    pub macs_per_cycle: Option<u64>,
}

impl Epoch {
    /// Share of the device's cycles in which the whole array did useful MACs.
    pub fn utilisation(&self) -> Option<f64> {
        let peak = self.macs_per_cycle?;
        (self.cycles > 0).then(|| self.macs as f64 / (self.cycles * peak) as f64)
    }
}

/// Where a training step left its epoch.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// The epoch in progress, counting from 1.
    pub epoch: u32,
    /// Samples of it trained on so far, of `total`.
    pub done: usize,
    pub total: usize,
    /// What this step saw, and how long it took.
    pub step: StepStats,
    pub seconds: f64,
    /// Device cycles since the epoch (or this call's part of it) began.
    pub cycles: Option<u64>,
}

/// What [`Trainer::fit`] reports as it goes; every method may be left out.
pub trait Observer {
    /// `epoch` (counting from 1) begins, or goes on with `done` of its
    /// `total` samples already trained on.
    fn epoch_started(&mut self, _epoch: u32, _done: usize, _total: usize) {}
    fn step(&mut self, _p: &Progress) {}
    fn epoch_done(&mut self, _e: &Epoch) {}
    fn saved(&mut self, _checkpoint: &Path) {}
}

/// Watches nothing.
impl Observer for () {}

impl<B: Backend> Trainer<B> {
    /// Trains until `epochs` epochs are done (finishing one in progress
    /// first), tests after each and writes a checkpoint to `save` after
    /// each when given; returns the figures of the epochs it ran. The
    /// host's copy of the parameters is current when it returns.
    pub fn fit(
        &mut self,
        data: &Data,
        epochs: u32,
        save: Option<&Path>,
        observer: &mut dyn Observer,
    ) -> Result<Vec<Epoch>, TrainError> {
        let mut history = vec![];
        while self.epoch < epochs {
            let e = self.fit_epoch(data, observer)?;
            observer.epoch_done(&e);
            history.push(e);
            if let Some(path) = save {
                checkpoint::save(path, self)?;
                observer.saved(path);
            }
        }
        self.sync_params()?;
        Ok(history)
    }

    /// The rest of the current epoch (or a whole one), then the test.
    fn fit_epoch(&mut self, data: &Data, observer: &mut dyn Observer) -> Result<Epoch, TrainError> {
        let epoch = self.epoch + 1;
        let total = data.train.len();
        observer.epoch_started(epoch, self.samples_done(), total);
        let c0 = self.backend.counters()?;
        let start = Instant::now();
        let mut train = StepStats::default();
        loop {
            let t = Instant::now();
            let step = self.next_step(&data.train)?;
            let seconds = t.elapsed().as_secs_f64();
            train.add(&step);
            // The device's own count, read between steps (a few cycles a
            // read), so that a display can show it as it grows.
            let cycles = match (&c0, self.backend.counters()?) {
                (Some(a), Some(b)) => Some(b.cycles - a.cycles),
                _ => None,
            };
            let done = if self.in_epoch() {
                self.samples_done()
            } else {
                total
            };
            observer.step(&Progress {
                epoch,
                done,
                total,
                step,
                seconds,
                cycles,
            });
            if !self.in_epoch() {
                break;
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        let (cycles, macs) = match (c0, self.backend.counters()?) {
            (Some(a), Some(b)) => (b.cycles - a.cycles, b.macs - a.macs),
            _ => (0, 0),
        };
        let test = self.evaluate(&data.test)?;
        Ok(Epoch {
            epoch: self.epoch,
            train_loss: train.loss(),
            train_error: train.error_rate(),
            test_loss: test.loss(),
            test_error: test.error_rate(),
            seconds,
            samples_per_s: train.samples as f64 / seconds,
            cycles,
            macs,
            macs_per_cycle: self.backend.macs_per_cycle(),
        })
    }
}
