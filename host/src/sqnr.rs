//! Signal-to-quantization-noise analysis (Lin, Talathi and Annapureddy,
//! *Fixed Point Quantization of Deep Convolutional Networks*, ICML 2016).
//!
//! The predictions here are computed, not looked up: the noise of the
//! device's own quantizer (two's-complement words of WL bits, step 2^-FL,
//! saturating) on a Gaussian of the measured standard deviation is
//! integrated numerically. Max's optimal steps for a symmetric uniform
//! quantizer (the table Lin et al. start from) come out of the same
//! integral, which is how the figures quoted in DESIGN.md are checked.

use srsa_spec::numerics::{word_max, word_min, MAX_FL};
use std::fmt;

/// SQNR in dB of a signal of power `signal` against noise of power `noise`.
pub fn db(signal: f64, noise: f64) -> f64 {
    10.0 * (signal / noise).log10()
}

/// The SQNR in dB of `quantized` as a copy of `reference`: infinite when
/// they are equal, and NaN for an all-zero reference.
pub fn measured_db(reference: &[f64], quantized: &[f64]) -> f64 {
    assert_eq!(reference.len(), quantized.len());
    let signal: f64 = reference.iter().map(|x| x * x).sum();
    let noise: f64 = reference
        .iter()
        .zip(quantized)
        .map(|(x, q)| (x - q) * (x - q))
        .sum();
    db(signal, noise)
}

/// Lin et al.'s noise model: quantizers on a path add their noise
/// relative to the signal, 1/γ_out = Σ 1/γ_i (in linear power ratios).
pub fn combined_db(gammas_db: &[f64]) -> f64 {
    let inverse: f64 = gammas_db.iter().map(|g| 10f64.powf(-g / 10.0)).sum();
    -10.0 * inverse.log10()
}

/// Summary statistics of a tensor, as the analysis prints them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub count: usize,
    pub mean: f64,
    /// Root mean square about the mean.
    pub std: f64,
    pub max_abs: f64,
    /// E[(x - mean)^4] / std^4: 3 for a Gaussian, 6 for a Laplacian.
    pub kurtosis: f64,
    /// Root mean square about zero: the signal power a quantizer sees.
    pub rms: f64,
}

impl Stats {
    pub fn of(x: &[f64]) -> Stats {
        let n = x.len().max(1) as f64;
        let mean = x.iter().sum::<f64>() / n;
        let m2 = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let m4 = x.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n;
        Stats {
            count: x.len(),
            mean,
            std: m2.sqrt(),
            max_abs: x.iter().fold(0.0, |m, v| m.max(v.abs())),
            kurtosis: if m2 > 0.0 { m4 / (m2 * m2) } else { 0.0 },
            rms: (x.iter().map(|v| v * v).sum::<f64>() / n).sqrt(),
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "std {:.4} max|x| {:.4} kurtosis {:.2}",
            self.std, self.max_abs, self.kurtosis
        )
    }
}

/// Points per standard deviation of the integration grid, and how far out
/// it reaches: beyond 12 sigma a Gaussian holds under 1e-32 of its power.
const STEPS_PER_SIGMA: usize = 4000;
const REACH_SIGMAS: f64 = 12.0;

/// E[(x - q(x))^2] for x ~ N(0, 1), by Simpson's rule. The grid is fine
/// enough that the kinks of q (one per level) cost under 1e-9 relative.
fn gaussian_noise(q: impl Fn(f64) -> f64) -> f64 {
    let n = 2 * (REACH_SIGMAS as usize) * STEPS_PER_SIGMA;
    let h = 2.0 * REACH_SIGMAS / n as f64;
    let norm = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
    let f = |x: f64| {
        let e = x - q(x);
        e * e * norm * (-0.5 * x * x).exp()
    };
    let mut sum = f(-REACH_SIGMAS) + f(REACH_SIGMAS);
    for i in 1..n {
        let x = -REACH_SIGMAS + i as f64 * h;
        sum += f(x) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    sum * h / 3.0
}

/// The device's quantizer on reals: round to nearest multiple of `step`,
/// saturate to the `wl`-bit words [-2^(wl-1), 2^(wl-1) - 1] steps.
pub fn device_quantizer(wl: u8, step: f64) -> impl Fn(f64) -> f64 {
    let (lo, hi) = (word_min(wl) as f64, word_max(wl) as f64);
    move |x| (x / step).round().clamp(lo, hi) * step
}

/// The predicted SQNR (dB) of the device's `wl`-bit quantizer with FL
/// `fl` on a zero-mean Gaussian of standard deviation `sigma`.
pub fn predicted_db(wl: u8, fl: u8, sigma: f64) -> f64 {
    let step = 2f64.powi(-(fl as i32)) / sigma;
    db(1.0, gaussian_noise(device_quantizer(wl, step)))
}

/// The FL whose power-of-two step gives the best predicted SQNR for a
/// Gaussian of standard deviation `sigma` at `wl` bits, and that SQNR:
/// Lin et al.'s optimal step forced to a power of two, choosing between
/// the powers by the prediction rather than by rounding the logarithm.
pub fn best_fl(wl: u8, sigma: f64, max_fl: u8) -> (u8, f64) {
    (0..=max_fl)
        .map(|fl| (fl, predicted_db(wl, fl, sigma)))
        .fold(
            (0, f64::NEG_INFINITY),
            |best, c| {
                if c.1 > best.1 {
                    c
                } else {
                    best
                }
            },
        )
}

/// Max's symmetric uniform quantizer with 2^bits levels at odd multiples
/// of step / 2 (no zero level), as in his 1960 table.
fn max_quantizer(bits: u32, step: f64) -> impl Fn(f64) -> f64 {
    let half = (1u64 << (bits - 1)) as f64;
    move |x| ((x / step).floor().clamp(-half, half - 1.0) + 0.5) * step
}

/// The step (in standard deviations) minimising the noise of Max's
/// `bits`-bit uniform quantizer on a Gaussian, by golden-section search.
pub fn max_optimal_step(bits: u32) -> f64 {
    let noise = |s: f64| gaussian_noise(max_quantizer(bits, s));
    let (mut a, mut b) = (1e-3, 4.0);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..60 {
        let c = b - g * (b - a);
        let d = a + g * (b - a);
        if noise(c) < noise(d) {
            b = d;
        } else {
            a = c;
        }
    }
    (a + b) / 2.0
}

/// Lin et al.'s bit allocation: β_i = c − (10/κ)·log10 ρ_i, with ρ_i each
/// layer's parameter count, rounded to whole bits and kept in `lo..=hi`.
pub fn allocate(c: f64, kappa: f64, params: &[usize], lo: u8, hi: u8) -> Vec<u8> {
    params
        .iter()
        .map(|&p| {
            let beta = c - 10.0 / kappa * (p.max(1) as f64).log10();
            beta.round().clamp(lo as f64, hi as f64) as u8
        })
        .collect()
}

/// κ, the dB each bit adds, of the device's quantizer on a Gaussian with
/// the best FL at each width: the slope between `lo` and `hi` bits.
pub fn kappa(lo: u8, hi: u8) -> f64 {
    let at = |wl| best_fl(wl, 1.0, MAX_FL).1;
    (at(hi) - at(lo)) / (hi - lo) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Max's optimal steps for 1..8 bits as DESIGN.md quotes them (Max
    /// 1960; Lin et al.'s Table 1 for 1..4 bits): computed here from the
    /// Gaussian itself, so the quoted figures are checked, not trusted.
    #[test]
    fn max_steps_match_the_quoted_table() {
        let quoted = [1.596, 0.996, 0.586, 0.335, 0.188, 0.104, 0.057, 0.031];
        for (bits, want) in (1..=8).zip(quoted) {
            let got = max_optimal_step(bits);
            println!("{bits} bits: optimal step {got:.4} sigma (quoted {want})");
            assert!(
                (got - want).abs() < 0.0015,
                "{bits} bits: step {got:.4}, quoted {want}"
            );
        }
    }

    #[test]
    fn sqnr_grows_about_six_db_a_bit_and_fl_tracks_sigma() {
        let k = kappa(4, 10);
        println!("kappa {k:.2} dB/bit");
        assert!((4.5..6.1).contains(&k), "kappa {k}");
        // Halving sigma moves the best FL up by one.
        let (fl1, g1) = best_fl(8, 0.1, 31);
        let (fl2, g2) = best_fl(8, 0.05, 31);
        assert_eq!(fl2, fl1 + 1);
        assert!((g1 - g2).abs() < 1e-6, "{g1} {g2}");
        // A uniform quantizer's 6.02 dB/bit is an upper bound on a Gaussian.
        assert!(best_fl(8, 1.0, 31).1 < 6.03 * 8.0);
    }

    #[test]
    fn prediction_matches_sampled_gaussians() {
        let seed = 0x5EED_5A12;
        println!("seed {seed:#x}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let sigma = 0.07;
        // Box-Muller: exact Gaussian samples without another crate.
        let x: Vec<f64> = (0..200_000)
            .map(|_| {
                let (u, v): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen());
                sigma * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
            })
            .collect();
        let s = Stats::of(&x);
        assert!((s.kurtosis - 3.0).abs() < 0.05, "{s}");
        for wl in [3u8, 5, 8] {
            for fl in [3u8, 5, 7] {
                let q = device_quantizer(wl, 2f64.powi(-(fl as i32)));
                let got = measured_db(&x, &x.iter().map(|&v| q(v)).collect::<Vec<_>>());
                let want = predicted_db(wl, fl, s.rms);
                assert!((got - want).abs() < 0.1, "wl {wl} fl {fl}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn noise_adds_as_lin_says() {
        // Two equal quantizers halve the SQNR: 3 dB less.
        assert!((combined_db(&[20.0, 20.0]) - (20.0 - 10.0 * 2f64.log10())).abs() < 1e-9);
        assert!((combined_db(&[30.0]) - 30.0).abs() < 1e-9);
        assert!(measured_db(&[1.0, 2.0], &[1.0, 2.0]).is_infinite());
    }

    #[test]
    fn four_times_the_parameters_one_bit_fewer() {
        let kappa = 10.0 * 4f64.log10(); // 6.02 dB a bit
        let bits = allocate(12.0, kappa, &[1000, 4000, 16000, 1], 2, 16);
        assert_eq!(bits[0] - bits[1], 1);
        assert_eq!(bits[1] - bits[2], 1);
        assert_eq!(bits[3], 12);
        assert_eq!(allocate(1.0, kappa, &[1 << 20], 2, 16), vec![2]);
    }
}
