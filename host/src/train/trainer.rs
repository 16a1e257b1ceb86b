//! One trainer for every backend: mini-batch SGD with softmax cross-entropy.
//!
//! The learning rate never becomes a multiply on the host. With batch B and
//! rate lr, write lr / B = c * 2^-k with c in (1/2, 1]: the host scales the
//! loss gradient by c when it quantises it (it computes that gradient
//! anyway), and the device applies 2^-k inside the update product as a
//! format shift, before the one rounding into the weights. Updates smaller
//! than a weight's last bit therefore survive only with stochastic rounding,
//! which is the effect Gupta et al. measured.

use super::backend::{Backend, BackendError, Element, HostRounding};
use super::checkpoint::CheckpointError;
use super::layers::Layer;
use super::network::{Arch, Network, CLASSES};
use super::plan::{LayerFormats, Plan};
use crate::mnist::Dataset;
use ndarray::{Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use srsa_spec::numerics::Rounding;

#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    pub arch: Arch,
    /// Every tensor's <WL, FL>, per layer (`Plan::uniform` for the
    /// uniform flags).
    pub plan: Plan,
    /// The rounding of every device output and of the host's loss
    /// gradient; `None` for the f32 reference, which does not round.
    pub rounding: Option<Rounding>,
    pub lr: f32,
    pub batch: usize,
    pub seed: u64,
}

/// The learning rate split into a host scale and a device shift.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrSplit {
    pub scale: f32,
    pub shift: u8,
}

impl LrSplit {
    pub fn new(lr: f32, batch: usize) -> LrSplit {
        let r = lr as f64 / batch as f64;
        // Largest k with r * 2^k <= 1.
        let k = (-r.log2()).floor().max(0.0) as u8;
        LrSplit {
            scale: (r * (1u64 << k) as f64) as f32,
            shift: k,
        }
    }
}

/// What one training step saw.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepStats {
    pub samples: usize,
    pub loss_sum: f64,
    pub errors: usize,
}

impl StepStats {
    pub fn add(&mut self, o: &StepStats) {
        self.samples += o.samples;
        self.loss_sum += o.loss_sum;
        self.errors += o.errors;
    }

    pub fn loss(&self) -> f64 {
        self.loss_sum / self.samples.max(1) as f64
    }

    pub fn error_rate(&self) -> f64 {
        self.errors as f64 / self.samples.max(1) as f64
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("bad configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Two trainers meant to run in lockstep are not at the same point.
    #[error("the trainers cannot run in lockstep: {0}")]
    NotInStep(String),
}

/// The rounding's name in logs and checkpoints ("float" for none).
pub fn rounding_name(r: Option<Rounding>) -> String {
    r.map_or_else(|| "float".into(), |m| m.to_string())
}

pub struct Trainer<B: Backend> {
    pub backend: B,
    pub net: Network<B::E>,
    pub cfg: TrainConfig,
    /// Epochs completed.
    pub epoch: u32,
    lr: LrSplit,
    /// The plan resolved: one entry per parameterised layer, in order.
    pub(crate) formats: Vec<LayerFormats>,
    /// One line for each trainable layer whose weights cross the link at
    /// every step, saying why they cannot stay on the device.
    pub streamed: Vec<String>,
    /// The epoch in progress, from its first step to its last: a run can
    /// stop between any two steps (to re-check a batch on another device)
    /// and go on with the same order.
    pub(crate) position: Option<Position>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) order: Vec<usize>,
    /// Samples of `order` already trained on.
    pub(crate) done: usize,
}

/// Samples per product when only evaluating: large M keeps the array busy.
const EVAL_BATCH: usize = 500;

impl<B: Backend> Trainer<B> {
    pub fn new(mut backend: B, cfg: TrainConfig) -> Result<Self, TrainError> {
        if cfg.batch == 0 {
            return Err(TrainError::Config(
                "the batch size must be at least 1".into(),
            ));
        }
        if !(cfg.lr.is_finite() && cfg.lr > 0.0) {
            return Err(TrainError::Config(format!(
                "the learning rate must be positive, not {}",
                cfg.lr
            )));
        }
        backend.set_rounding(cfg.rounding)?;
        let lr = LrSplit::new(cfg.lr, cfg.batch);
        cfg.plan.check(&cfg.arch, lr.shift).map_err(|e| {
            TrainError::Config(format!(
                "format plan for {} with learning rate {} at batch {} (a shift of {} bits): {e}",
                cfg.arch, cfg.lr, cfg.batch, lr.shift
            ))
        })?;
        let formats = cfg
            .plan
            .resolve(&cfg.arch)
            .map_err(|e| TrainError::Config(e.to_string()))?;
        let mut net = Network::init(&cfg.arch, &mut backend, &formats, cfg.seed);
        let streamed = net.place(&mut backend, cfg.batch)?;
        Ok(Trainer {
            backend,
            net,
            cfg,
            epoch: 0,
            lr,
            formats,
            streamed,
            position: None,
        })
    }

    /// Brings the host's copy of every parameter up to date: resident
    /// layers are read back from the device. Call before reading
    /// `net.params()`.
    pub fn sync_params(&mut self) -> Result<(), TrainError> {
        Ok(self.net.sync_params(&mut self.backend)?)
    }

    /// Sends the host's copy of resident layers' parameters to the device:
    /// call after assigning to `net.params_mut()`.
    pub fn upload_params(&mut self) -> Result<(), TrainError> {
        Ok(self.net.upload_params(&mut self.backend)?)
    }

    pub fn lr_split(&self) -> LrSplit {
        self.lr
    }

    /// The formats of the network's first and last parameterised layers:
    /// the pixels go in as the first's input, the logits come out in the
    /// last's activations and the loss gradient goes back in its gradients.
    fn ends(&self) -> (LayerFormats, LayerFormats) {
        let first = *self.formats.first().expect("every network has a layer");
        let last = *self.formats.last().expect("every network has a layer");
        (first, last)
    }

    /// The random streams and sample order of an epoch depend only on the
    /// seed and the epoch, so a run resumed from a checkpoint continues
    /// exactly as it would have.
    fn epoch_order(&mut self, n: usize) -> Result<Vec<usize>, TrainError> {
        let epoch_seed = mix(self.cfg.seed, self.epoch as u64 + 1);
        self.backend.reseed(epoch_seed)?;
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut StdRng::seed_from_u64(epoch_seed));
        Ok(order)
    }

    /// Starts the next epoch over `n` samples unless one is in progress.
    pub(crate) fn begin_epoch(&mut self, n: usize) -> Result<&Position, TrainError> {
        if self.position.is_none() {
            let order = self.epoch_order(n)?;
            self.position = Some(Position { order, done: 0 });
        }
        Ok(self.position.as_ref().expect("just set"))
    }

    /// Whether an epoch has begun and not yet ended.
    pub fn in_epoch(&self) -> bool {
        self.position.is_some()
    }

    /// Samples of the epoch in progress already trained on (0 between
    /// epochs).
    pub fn samples_done(&self) -> usize {
        self.position.as_ref().map_or(0, |p| p.done)
    }

    /// One SGD step on a batch (pixels in [0, 1], one sample per row).
    pub fn step(
        &mut self,
        pixels: ArrayView2<f32>,
        labels: &[u8],
    ) -> Result<StepStats, TrainError> {
        let (first, last) = self.ends();
        let x = self
            .backend
            .encode(pixels, first.input, HostRounding::Nearest);
        let logits = self.net.forward(&mut self.backend, x, true)?;
        let z = self.backend.decode(logits.view(), last.activations.fl);
        let (stats, grad) = softmax_xent(z.view(), labels, self.lr.scale);
        let g = self
            .backend
            .encode(grad.view(), last.gradients, HostRounding::RunMode);
        self.net.backward(&mut self.backend, g, self.lr.shift)?;
        Ok(stats)
    }

    /// The next batch of the epoch in progress (starting one if none is),
    /// in the epoch's order; the epoch counts as done after its last batch.
    pub fn next_step(&mut self, data: &Dataset) -> Result<StepStats, TrainError> {
        let batch = self.cfg.batch;
        let pos = self.begin_epoch(data.len())?;
        let idx = pos.order[pos.done..(pos.done + batch).min(pos.order.len())].to_vec();
        let stats = if idx.is_empty() {
            StepStats::default()
        } else {
            let labels: Vec<u8> = idx.iter().map(|&i| data.labels[i]).collect();
            self.step(data.pixels_f32(&idx).view(), &labels)?
        };
        let pos = self.position.as_mut().expect("begun above");
        pos.done += idx.len();
        if pos.done == pos.order.len() {
            self.position = None;
            self.epoch += 1;
        }
        Ok(stats)
    }

    /// The real outputs of every parameterised layer for `pixels` (one
    /// sample a row), forward passes only, on the backend: each decoded
    /// in its layer's activation format; the logits come last.
    pub fn layer_outputs(
        &mut self,
        pixels: ArrayView2<f32>,
    ) -> Result<Vec<Array2<f32>>, TrainError> {
        let (first, _) = self.ends();
        let mut x = self
            .backend
            .encode(pixels, first.input, HostRounding::Nearest);
        let mut out = vec![];
        for layer in &mut self.net.layers {
            x = layer.forward(&mut self.backend, x, false)?;
            let fl = match layer {
                Layer::Dense(d) => Some(d.formats.activations.fl),
                Layer::Conv(c) => Some(c.formats.activations.fl),
                Layer::Pool(_) => None,
            };
            if let Some(fl) = fl {
                out.push(self.backend.decode(x.view(), fl));
            }
        }
        Ok(out)
    }

    /// Loss and error rate on `data`, forward passes only (on the backend).
    pub fn evaluate(&mut self, data: &Dataset) -> Result<StepStats, TrainError> {
        Ok(self.predict(data)?.0)
    }

    /// [`Trainer::evaluate`], with the class each sample is given (the
    /// first of the largest logits).
    pub fn predict(&mut self, data: &Dataset) -> Result<(StepStats, Vec<u8>), TrainError> {
        let (first, last) = self.ends();
        let all: Vec<usize> = (0..data.len()).collect();
        let mut total = StepStats::default();
        let mut predicted = Vec::with_capacity(data.len());
        for idx in all.chunks(EVAL_BATCH) {
            let x = self.backend.encode(
                data.pixels_f32(idx).view(),
                first.input,
                HostRounding::Nearest,
            );
            let logits = self.net.forward(&mut self.backend, x, false)?;
            let z = self.backend.decode(logits.view(), last.activations.fl);
            let labels: Vec<u8> = idx.iter().map(|&i| data.labels[i]).collect();
            total.add(&softmax_xent(z.view(), &labels, 0.0).0);
            predicted.extend(z.rows().into_iter().map(|r| {
                let best = r.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                r.iter().position(|&v| v == best).unwrap_or(0) as u8
            }));
        }
        Ok((total, predicted))
    }
}

/// splitmix64 of (seed, stream): independent seeds per epoch.
fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Softmax cross-entropy on real logits: the statistics and
/// `scale * (onehot - softmax)`, the descent direction, scaled. Computed in
/// f64 with a fixed order, so every backend gets the same bits from the
/// same logits.
pub fn softmax_xent(z: ArrayView2<f32>, labels: &[u8], scale: f32) -> (StepStats, Array2<f32>) {
    let mut g = Array2::zeros(z.dim());
    let mut stats = StepStats {
        samples: labels.len(),
        ..Default::default()
    };
    for (i, row) in z.outer_iter().enumerate() {
        let y = labels[i] as usize;
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let e: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        stats.loss_sum += sum.ln() - (row[y] as f64 - max);
        // First maximum wins, so saturated ties count against the net.
        let mut best = 0;
        for (j, &v) in row.iter().enumerate() {
            if v > row[best] {
                best = j;
            }
        }
        if best != y {
            stats.errors += 1;
        }
        for j in 0..CLASSES.min(row.len()) {
            let onehot = if j == y { 1.0 } else { 0.0 };
            g[[i, j]] = (scale as f64 * (onehot - e[j] / sum)) as f32;
        }
    }
    (stats, g)
}

/// Elements of the parameters, for tests and checkpoints.
pub fn flat_params<E: Element>(net: &Network<E>) -> Vec<E> {
    let mut v = vec![];
    for p in net.params() {
        v.extend(p.w.iter().copied());
        v.extend(p.b.iter().copied());
    }
    v
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::driver::Driver;
    use crate::golden::GoldenDevice;
    use crate::train::Fixed;

    /// A 784-6-10 trainer on a 4 x 4 golden device with every operand
    /// path, so its layers are resident.
    pub(crate) fn small_trainer() -> Trainer<Fixed<GoldenDevice>> {
        let arch = Arch::mlp(&[6]);
        let cfg = TrainConfig {
            plan: Plan::uniform(&arch, crate::train::TensorFormats::uniform(12)),
            arch,
            rounding: Some(Rounding::Stochastic),
            lr: 0.1,
            batch: 4,
            seed: 3,
        };
        let dev = Driver::new(GoldenDevice::new(4, 1 << 16)).expect("golden identifies");
        Trainer::new(Fixed::new(dev), cfg).expect("valid configuration")
    }

    #[test]
    fn lr_split_is_exact() {
        for (lr, b) in [(0.1f32, 100usize), (0.01, 32), (0.5, 1), (3.0, 4), (1.0, 1)] {
            let s = LrSplit::new(lr, b);
            assert!(s.scale > 0.5 && s.scale <= 1.0, "{lr} {b}: {s:?}");
            let back = s.scale as f64 / (1u64 << s.shift) as f64;
            assert!((back - lr as f64 / b as f64).abs() < 1e-9, "{lr} {b}");
        }
        assert_eq!(LrSplit::new(0.1, 100).shift, 9);
        // More than one unit per sample: no shift, the scale carries it.
        let s = LrSplit::new(8.0, 2);
        assert_eq!((s.shift, s.scale), (0, 4.0));
    }

    #[test]
    fn softmax_gradient_sums_to_zero_and_points_at_the_label() {
        let z = ndarray::array![[1.0f32, 2.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]];
        let (s, g) = softmax_xent(z.view(), &[0], 0.5);
        assert_eq!(s.errors, 1);
        assert!(g.sum().abs() < 1e-6);
        assert!(g[[0, 0]] > 0.0 && g[[0, 1]] < 0.0);
        assert!(s.loss_sum > 0.0);
    }
}
