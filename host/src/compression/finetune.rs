//! Trained quantization (Han et al., section 3.3): fine-tuning the shared
//! weights. Every weight of a layer is its codebook entry; after each
//! training step on the device, each centroid moves by the sum of its
//! members' updates, and the weights are set back to their centroids.
//!
//! The members' updates are the device's own: the step's update GEMM
//! (`W <- W + 2^-shift X^T G`, rounded per element in the run's rounding
//! mode, pruned weights masked) leaves W + ΔW, and ΔW is summed per
//! cluster on the host. On words this is exact integer arithmetic, the
//! new centroid saturating to the weight format; the f32 reference sums
//! the same way in f64. The bias is not shared: it trains as usual.

use super::{Layer, ZERO};
use crate::mnist::Dataset;
use crate::train::backend::HostRounding;
use crate::train::layers::Layer as NetLayer;
use crate::train::{Backend, StepStats, TrainError, Trainer};
use ndarray::Array2;

/// A layer's weights as codebook indices, and the codebook in reals.
#[derive(Clone, Debug, PartialEq)]
pub struct Shared {
    pub index: Array2<u32>,
    pub centroids: Vec<f64>,
}

impl Shared {
    /// From a compressed layer: its indices and its codebook's words in
    /// fractional length `fl`.
    pub fn of(l: &Layer, fl: u8) -> Result<Shared, String> {
        let mut index = Array2::from_elem((l.rows, l.cols), ZERO);
        let mut pos: i64 = -1;
        for &(gap, i) in &l.entries {
            pos += gap as i64 + 1;
            let (r, c) = (pos as usize / l.cols, pos as usize % l.cols);
            *index
                .get_mut((r, c))
                .ok_or_else(|| format!("{}: an entry past the weights", l.name))? = i;
        }
        let centroids = l
            .codebook
            .iter()
            .map(|&w| srsa_spec::numerics::value(w, fl))
            .collect();
        Ok(Shared { index, centroids })
    }

    /// The pruned weights: those at the zero entry.
    pub fn mask(&self) -> Array2<bool> {
        self.index.mapv(|i| i == ZERO)
    }
}

impl<B: Backend> Trainer<B> {
    /// Sets every parameterised layer's weights to its shared weights (one
    /// [`Shared`] per layer, in order) and prunes the zero entry's members.
    pub fn share(&mut self, shared: &[Shared]) -> Result<(), TrainError> {
        let masks: Vec<_> = shared.iter().map(|s| Some(s.mask())).collect();
        self.sync_params()?;
        self.set_shared_weights(shared)?;
        self.net.set_masks_host(&masks)?;
        self.upload_shared(shared)
    }

    /// Writes the resident layers' shared weights to the device in coded
    /// form ([`Backend::store_coded`]); the host's copy is current.
    fn upload_shared(&mut self, shared: &[Shared]) -> Result<(), TrainError> {
        let formats = self.formats.clone();
        let mut i = 0;
        for layer in &self.net.layers {
            let slot = match layer {
                NetLayer::Dense(d) => d.slot,
                NetLayer::Conv(_) => None,
                NetLayer::Pool(_) => continue,
            };
            let (s, f) = (&shared[i], formats[i]);
            i += 1;
            let (Some(slot), Some(p)) = (slot, layer.params()) else {
                continue;
            };
            let reals =
                Array2::from_shape_fn((1, s.centroids.len()), |(_, k)| s.centroids[k] as f32);
            let book = self
                .backend
                .encode(reals.view(), f.weights, HostRounding::Nearest);
            let book: Vec<B::E> = book.iter().copied().collect();
            self.backend.store_coded(slot, p, &book, s.index.view())?;
        }
        Ok(())
    }

    fn set_shared_weights(&mut self, shared: &[Shared]) -> Result<(), TrainError> {
        let formats = self.formats.clone();
        if shared.len() != formats.len() {
            return Err(TrainError::Config(format!(
                "{} shared layers for {} parameterised ones",
                shared.len(),
                formats.len()
            )));
        }
        for (i, (p, s)) in self.net.params_mut().into_iter().zip(shared).enumerate() {
            if s.index.dim() != p.w.dim() {
                return Err(TrainError::Config(format!(
                    "layer {i}: shared weights of {:?} for weights of {:?}",
                    s.index.dim(),
                    p.w.dim()
                )));
            }
            let real = s.index.mapv(|k| s.centroids[k as usize] as f32);
            p.w = self
                .backend
                .encode(real.view(), formats[i].weights, HostRounding::Nearest);
        }
        Ok(())
    }

    /// One training step with shared weights: the device's step, then each
    /// centroid (but the zero entry) moved by its members' updates and the
    /// weights set back to the centroids on the device.
    pub fn shared_step(
        &mut self,
        data: &Dataset,
        shared: &mut [Shared],
    ) -> Result<StepStats, TrainError> {
        let formats = self.formats.clone();
        // What the device holds before the step: the centroids' words,
        // free zeros as the device keeps them.
        let before: Vec<Array2<f64>> = self
            .net
            .params()
            .iter()
            .zip(&formats)
            .map(|(p, f)| {
                let held = p.w.mapv(|w| self.backend.held_free(w));
                self.backend
                    .decode(held.view(), f.weights.fl)
                    .mapv(|x| x as f64)
            })
            .collect();
        let stats = self.next_step(data)?;
        self.sync_params()?;
        for ((s, p), (w0, f)) in shared
            .iter_mut()
            .zip(self.net.params())
            .zip(before.iter().zip(&formats))
        {
            let w1 = self.backend.decode(p.w.view(), f.weights.fl);
            let mut delta = vec![0.0f64; s.centroids.len()];
            for ((&k, &a), &b) in s.index.iter().zip(w0.iter()).zip(w1.iter()) {
                delta[k as usize] += b as f64 - a;
            }
            // Held as the backend holds a weight: a saturating word on a
            // device (exact: both terms are words), unrounded in f32.
            let moved = Array2::from_shape_fn((1, delta.len()), |(_, k)| {
                (s.centroids[k] + delta[k]) as f32
            });
            let words = self
                .backend
                .encode(moved.view(), f.weights, HostRounding::Nearest);
            let held = self.backend.decode(words.view(), f.weights.fl);
            for (k, c) in s.centroids.iter_mut().enumerate() {
                if k as u32 != ZERO {
                    *c = held[[0, k]] as f64;
                }
            }
        }
        self.set_shared_weights(shared)?;
        self.upload_shared(shared)?;
        Ok(stats)
    }
}

impl<B: Backend> Trainer<B> {
    /// Starts trained quantization: the model's reals (per layer weights
    /// then bias; `path` names them in errors) with every weight set to
    /// its centroid in `layers`; returns the shared weights to train.
    pub fn begin_sharing(
        &mut self,
        path: &std::path::Path,
        tensors: &[Array2<f32>],
        layers: &[Layer],
    ) -> Result<Vec<Shared>, TrainError> {
        let cfg = self.cfg.clone();
        self.start_from_reals(path, &cfg, tensors)
            .map_err(|e| TrainError::Config(e.to_string()))?;
        let shared = layers
            .iter()
            .zip(&self.formats)
            .map(|(l, f)| Shared::of(l, f.weights.fl))
            .collect::<Result<Vec<_>, String>>()
            .map_err(TrainError::Config)?;
        self.share(&shared)?;
        Ok(shared)
    }

    /// The rest of the current epoch (or a whole one) of shared steps.
    pub fn shared_epoch(
        &mut self,
        data: &Dataset,
        shared: &mut [Shared],
    ) -> Result<StepStats, TrainError> {
        let mut train = StepStats::default();
        loop {
            train.add(&self.shared_step(data, shared)?);
            if !self.in_epoch() {
                return Ok(train);
            }
        }
    }

    /// Ends trained quantization: each layer gets its centroids and the
    /// trained bias, rounded to nearest words of its weight format.
    pub fn end_sharing(
        &mut self,
        shared: &[Shared],
        layers: &mut [Layer],
    ) -> Result<(), TrainError> {
        self.sync_params()?;
        let formats = self.formats.clone();
        for ((l, s), (p, f)) in layers
            .iter_mut()
            .zip(shared)
            .zip(self.net.params().iter().zip(&formats))
        {
            let fmt = f.weights;
            for (k, w) in l.codebook.iter_mut().enumerate() {
                if k as u32 != ZERO {
                    *w = fmt.nearest(s.centroids[k]);
                }
            }
            let bias = self.backend.decode(p.b.view(), fmt.fl);
            l.bias = bias.iter().map(|&x| fmt.nearest(x as f64)).collect();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::{kmeans::Init, Settings};
    use crate::train::trainer::tests::small_trainer;

    /// After shared steps every weight is still its centroid, the pruned
    /// ones 0, and the centroids moved by their members' summed updates.
    #[test]
    fn centroids_move_and_weights_stay_shared() {
        let mut t = small_trainer();
        let data =
            crate::mnist::load_split(&crate::mnist::bundled_dir(), crate::mnist::Split::Train)
                .unwrap()
                .first(40);
        t.sync_params().unwrap();
        let fl: Vec<u8> = t.formats.iter().map(|f| f.weights.fl).collect();
        let mut shared: Vec<Shared> = t
            .net
            .params()
            .iter()
            .zip(&fl)
            .map(|(p, &fl)| {
                let s = Settings {
                    quality: 0.5,
                    weight_bits: 3,
                    index_bits: 4,
                };
                let l = Layer::compress("l", &p.w, &[], 16, s, Init::Linear, 1);
                Shared::of(&l, fl).unwrap()
            })
            .collect();
        t.share(&shared).unwrap();
        let start = shared.clone();
        for _ in 0..5 {
            t.shared_step(&data, &mut shared).unwrap();
        }
        assert_ne!(start, shared, "no centroid moved");
        t.sync_params().unwrap();
        for ((p, s), &fl) in t.net.params().iter().zip(&shared).zip(&fl) {
            for (&w, &k) in p.w.iter().zip(&s.index) {
                let want = if k == ZERO {
                    0
                } else {
                    crate::driver::marked_word(
                        crate::train::Format { wl: 16, fl }.nearest(s.centroids[k as usize]),
                        false,
                    )
                };
                assert_eq!(w, want, "centroid {k}");
            }
        }
    }
}
