//! Magnitude pruning during training (Han et al., *Deep Compression*):
//! each round prunes, for good, every weight of a layer whose magnitude is
//! below a quality times the standard deviation of the layer's weights,
//! then training goes on with the pruned weights held at zero by the
//! device's mask ([`super::Network::set_masks`]).
//!
//! The schedule is iterative: round r of R (at the start of epoch
//! `(r - 1) * every + 1`) uses the fraction r / R of each layer's quality,
//! so that the last round reaches the full threshold. σ is taken over the
//! layer's weights as they are at the round, pruned ones counting as
//! zeros: a function of the network's state alone, so that a resumed run
//! prunes exactly as an uninterrupted one.

use super::backend::Backend;
use super::layers::Layer;
use super::trainer::{TrainError, Trainer};
use super::{Data, Epoch, Observer};
use ndarray::{Array2, Zip};
use std::path::Path;

/// The population standard deviation of `x` (0 for none).
pub fn std_dev(x: impl Iterator<Item = f64> + Clone) -> f64 {
    let n = x.clone().count().max(1) as f64;
    let mean = x.clone().sum::<f64>() / n;
    (x.map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// When pruning rounds happen.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Per parameterised layer, in the network's order (0: never pruned).
    pub quality: Vec<f64>,
    pub rounds: u32,
    /// Epochs between rounds (at least 1).
    pub every: u32,
}

impl Schedule {
    /// The round due before training epoch `done + 1`, if any: its number
    /// from 1.
    pub fn round_at(&self, done: u32) -> Option<u32> {
        let every = self.every.max(1);
        (done.is_multiple_of(every) && done / every < self.rounds).then_some(done / every + 1)
    }
}

/// What one round did to one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Pruned {
    pub layer: String,
    pub threshold: f64,
    pub kept: usize,
    pub weights: usize,
}

impl<B: Backend> Trainer<B> {
    /// Round `round` of `s`: prunes each layer below its share of the
    /// threshold (keeping what earlier rounds pruned) and holds the pruned
    /// weights at zero from now on.
    pub fn prune(&mut self, s: &Schedule, round: u32) -> Result<Vec<Pruned>, TrainError> {
        let names = self.cfg.arch.layer_names();
        if s.quality.len() != names.len() {
            return Err(TrainError::Config(format!(
                "{} pruning qualities for {} layers",
                s.quality.len(),
                names.len()
            )));
        }
        self.sync_params()?;
        let share = round.min(s.rounds) as f64 / s.rounds.max(1) as f64;
        let formats = self.formats.clone();
        let mut masks = self.net.masks();
        let mut report = vec![];
        let params: Vec<_> = self
            .net
            .layers
            .iter()
            .filter(|l: &&Layer<B::E>| l.params().is_some())
            .collect();
        for (i, layer) in params.into_iter().enumerate() {
            let w = &layer.params().expect("filtered").w;
            let real = self.backend.decode(w.view(), formats[i].weights.fl);
            let sigma = std_dev(real.iter().map(|&v| v as f64));
            let threshold = share * s.quality[i] * sigma;
            let old = masks[i]
                .take()
                .unwrap_or_else(|| Array2::from_elem(w.dim(), false));
            let mut mask = old;
            Zip::from(&mut mask).and(&real).for_each(|m, &v| {
                *m |= (v as f64).abs() < threshold;
            });
            let kept = mask.iter().filter(|&&m| !m).count();
            report.push(Pruned {
                layer: names[i].clone(),
                threshold,
                kept,
                weights: mask.len(),
            });
            masks[i] = mask.iter().any(|&m| m).then_some(mask);
        }
        self.net.set_masks(&mut self.backend, &masks)?;
        Ok(report)
    }
}

impl<B: Backend> Trainer<B> {
    /// [`Trainer::fit`] with the pruning rounds of `s` at the epochs it
    /// names: each round's figures go to `on_round` before its epoch.
    pub fn fit_pruned(
        &mut self,
        data: &Data,
        epochs: u32,
        s: &Schedule,
        save: Option<&Path>,
        observer: &mut dyn Observer,
        on_round: &mut dyn FnMut(u32, &[Pruned]),
    ) -> Result<Vec<Epoch>, TrainError> {
        let mut history = vec![];
        while self.epoch < epochs {
            if let Some(round) = s.round_at(self.epoch).filter(|_| !self.in_epoch()) {
                let report = self.prune(s, round)?;
                on_round(round, &report);
            }
            let next = self.epoch + 1;
            history.extend(self.fit(data, next, save, observer)?);
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_fall_every_few_epochs_and_stop() {
        let s = Schedule {
            quality: vec![1.0],
            rounds: 3,
            every: 2,
        };
        let due: Vec<_> = (0..10).map(|e| s.round_at(e)).collect();
        assert_eq!(
            due,
            [
                Some(1),
                None,
                Some(2),
                None,
                Some(3),
                None,
                None,
                None,
                None,
                None
            ]
        );
        assert_eq!(std_dev([1.0, 3.0].into_iter()), 1.0);
        assert_eq!(std_dev(std::iter::empty()), 0.0);
    }
}
