//! Lin et al.'s per-layer weight widths, from a trained model's reals: each
//! layer's statistics, the predicted SQNR of its best quantizer at every
//! width, the closed-form allocation β_i = C − (10/κ)·log10 ρ_i for a
//! target SQNR or a bit budget, and the plan that gives the chosen widths.
//! `srsa sqnr` prints it; `srsa experiment lin` sweeps it.

use crate::sqnr::{allocate, best_fl, combined_db, kappa, measured_db, Stats};
use crate::train::{Arch, Format, Plan};
use ndarray::Array2;
use srsa_spec::numerics::{MAX_FL, MIN_WL, WL};

/// One layer's weights (biases included: they share the weights' format).
pub struct WeightLayer {
    pub name: String,
    pub values: Vec<f64>,
    pub stats: Stats,
    /// Per width from [`MIN_WL`]: the best FL and its predicted SQNR,
    /// computed once (each is 32 numerical integrals).
    best: Vec<(u8, f64)>,
}

impl WeightLayer {
    /// The FL whose quantizer a Gaussian of these weights' RMS predicts
    /// best at `wl` bits, and that prediction in dB.
    pub fn best(&self, wl: u8) -> (u8, f64) {
        self.best[(wl - MIN_WL) as usize]
    }

    /// The SQNR of these weights rounded to nearest at `wl` bits with the
    /// best FL: the quantizer measured on the real values.
    pub fn measured(&self, wl: u8) -> f64 {
        let fl = self.best(wl).0;
        format_db(&self.values, Format { wl, fl })
    }
}

/// The SQNR of `values` rounded to nearest in format `f` (saturating).
pub fn format_db(values: &[f64], f: Format) -> f64 {
    let q: Vec<f64> = values.iter().map(|&x| f.held(x)).collect();
    measured_db(values, &q)
}

/// The `wl`-bit format whose FL a Gaussian of `values`' RMS predicts best.
pub fn best_format(wl: u8, values: &[f64]) -> Format {
    Format {
        wl,
        fl: best_fl(wl, Stats::of(values).rms, MAX_FL).0,
    }
}

/// The layers of `arch` and their reals, `tensors` being each layer's
/// weights then bias, as `checkpoint::load_real` reads them.
pub fn weight_layers(arch: &Arch, tensors: &[Array2<f32>]) -> Result<Vec<WeightLayer>, String> {
    let names = arch.layer_names();
    if tensors.len() != 2 * names.len() {
        return Err(format!(
            "{} tensors, but the network {arch} has {} layers",
            tensors.len(),
            names.len()
        ));
    }
    Ok(names
        .into_iter()
        .zip(tensors.chunks(2))
        .map(|(name, wb)| {
            let values: Vec<f64> = wb
                .iter()
                .flat_map(|t| t.iter().map(|&x| x as f64))
                .collect();
            let stats = Stats::of(&values);
            WeightLayer {
                best: (MIN_WL..=WL as u8)
                    .map(|wl| best_fl(wl, stats.rms, MAX_FL))
                    .collect(),
                stats,
                name,
                values,
            }
        })
        .collect())
}

/// Chooses per-layer weight widths for a network's layers.
pub struct Allocator<'a> {
    pub layers: &'a [WeightLayer],
    pub params: Vec<usize>,
    /// The dB a bit adds, of the device's quantizer on a Gaussian.
    pub kappa: f64,
}

impl<'a> Allocator<'a> {
    pub fn new(layers: &'a [WeightLayer]) -> Allocator<'a> {
        Allocator {
            params: layers.iter().map(|l| l.values.len()).collect(),
            layers,
            kappa: kappa(4, 12),
        }
    }

    /// Lin's constant C on a fine grid, low to high: rounding makes the
    /// widths a step function of it.
    fn candidates(&self) -> impl DoubleEndedIterator<Item = Vec<u8>> + '_ {
        (-400..=800)
            .map(move |i| allocate(i as f64 * 0.05, self.kappa, &self.params, MIN_WL, WL as u8))
    }

    /// The smallest widths whose predicted SQNR over all weight quantizers
    /// reaches `db`.
    pub fn for_target(&self, db: f64) -> Option<Vec<u8>> {
        self.candidates().find(|b| self.predicted(b) >= db)
    }

    /// The largest widths within an average of `bits` bits a weight.
    pub fn for_budget(&self, bits: f64) -> Option<Vec<u8>> {
        let cap = bits * self.params.iter().sum::<usize>() as f64;
        self.candidates()
            .rev()
            .find(|b| self.weight_bits(b) as f64 <= cap)
    }

    /// The predicted SQNR of all weight quantizers at `bits`, each with its
    /// best FL (1/γ = Σ 1/γ_i).
    pub fn predicted(&self, bits: &[u8]) -> f64 {
        let g: Vec<f64> = self
            .layers
            .iter()
            .zip(bits)
            .map(|(l, &b)| l.best(b).1)
            .collect();
        combined_db(&g)
    }

    pub fn weight_bits(&self, bits: &[u8]) -> usize {
        self.params
            .iter()
            .zip(bits)
            .map(|(&p, &b)| p * b as usize)
            .sum()
    }

    /// Average bits a weight.
    pub fn average(&self, bits: &[u8]) -> f64 {
        self.weight_bits(bits) as f64 / self.params.iter().sum::<usize>().max(1) as f64
    }

    /// `plan` with each layer's weights at its width in `bits` and the
    /// best FL for it.
    pub fn apply(&self, plan: &Plan, bits: &[u8]) -> Plan {
        let mut out = plan.clone();
        for (l, &wl) in self.layers.iter().zip(bits) {
            if let Some((_, lp)) = out.layers.iter_mut().find(|(n, _)| n == &l.name) {
                lp.weights = Format {
                    wl,
                    fl: l.best(wl).0,
                };
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{Plan, TensorFormats};
    use rand::{Rng, SeedableRng};

    fn layers(seed: u64) -> (Arch, Vec<WeightLayer>) {
        let arch = Arch::mlp(&[64, 16]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let shapes = [(784, 64), (1, 64), (64, 16), (1, 16), (16, 10), (1, 10)];
        let tensors: Vec<Array2<f32>> = shapes
            .iter()
            .map(|&(r, c)| Array2::from_shape_fn((r, c), |_| rng.gen_range(-0.2f32..0.2)))
            .collect();
        let l = weight_layers(&arch, &tensors).expect("layers");
        (arch, l)
    }

    #[test]
    fn a_budget_is_kept_and_the_big_layer_gets_the_fewest_bits() {
        let seed = rand::random();
        println!("seed {seed}");
        let (arch, l) = layers(seed);
        let a = Allocator::new(&l);
        for budget in [3.0, 4.5, 6.0, 8.0] {
            let b = a.for_budget(budget).expect("fits");
            assert!(a.average(&b) <= budget, "{b:?} over {budget}");
            assert!(b[0] <= b[1] && b[1] <= b[2], "{b:?}");
            let plan = a.apply(&Plan::uniform(&arch, TensorFormats::uniform(12)), &b);
            assert_eq!(plan.layers[0].1.weights.wl, b[0]);
        }
        let t = a.for_target(30.0).expect("reachable");
        assert!(a.predicted(&t) >= 30.0);
        // Four more bits buy about 24 dB on the real values too, give or
        // take what the power-of-two steps cost at each width.
        let gain = l[0].measured(8) - l[0].measured(4);
        assert!((12.0..32.0).contains(&gain), "{gain} dB");
        assert!(weight_layers(&arch, &[]).is_err());
    }
}
