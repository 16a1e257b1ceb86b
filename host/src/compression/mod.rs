//! Deep Compression (Han, Mao and Dally, ICLR 2016) of a model's
//! fixed-point weights: magnitude pruning, weight sharing through a
//! per-layer k-means codebook, sparse storage with relative indices, and
//! Huffman coding of both index streams. [`file`] writes and reads the
//! result; `docs/COMPRESSION.md` describes it.
//!
//! Everything here is on the device's words: a layer's weights are i16
//! words in its format, its codebook entries are words of the same format,
//! and decoding gives the words back exactly.

pub mod file;
pub mod finetune;
pub mod huffman;
pub mod kmeans;

use kmeans::Init;
use ndarray::Array2;
use srsa_spec::numerics::{word_max, word_min};

/// Codebook index 0 is the word 0: the pruned weights, and the filler
/// entry a gap too long for the index bits needs.
pub const ZERO: u32 = 0;

/// How one layer is compressed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Weights below `quality` times the layer's standard deviation in
    /// magnitude are pruned (0: none).
    pub quality: f64,
    /// Codebook index bits b: 2^b entries, the first of them zero.
    pub weight_bits: u8,
    /// Bits of a relative index (the gap to the previous kept weight).
    pub index_bits: u8,
}

/// One layer's compressed weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    pub weight_bits: u8,
    pub index_bits: u8,
    /// Words; entry [`ZERO`] is 0.
    pub codebook: Vec<i16>,
    /// (gap, codebook index) per stored entry, in row-major order: the
    /// entry sits `gap` positions after the previous one (the first after
    /// position -1). A filler is (2^index_bits - 1, ZERO).
    pub entries: Vec<(u32, u32)>,
    /// The bias, dense words.
    pub bias: Vec<i16>,
}

/// A layer's sizes in bits, as Han et al. tabulate them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sizes {
    pub weights: usize,
    pub kept: usize,
    /// Dense 32-bit float, weights and bias.
    pub dense32: usize,
    /// Dense 16-bit words.
    pub dense16: usize,
    /// Pruned: each stored entry a 16-bit word and its relative index.
    pub pruned: usize,
    /// Pruned and shared: each entry b + index bits, and the codebook.
    pub shared: usize,
    /// And Huffman-coded: the coded streams, and the code-length tables.
    pub coded: usize,
}

/// Compresses every parameterised layer of a model given as reals (per
/// layer weights then bias, as `checkpoint::load_real` gives them): each
/// tensor rounded to nearest into its layer's weight format, then
/// [`Layer::compress`] with `settings(name)`.
pub fn compress_model(
    cfg: &crate::train::TrainConfig,
    tensors: &[Array2<f32>],
    settings: impl Fn(&str) -> Settings,
    init: Init,
    seed: u64,
) -> Result<Vec<Layer>, String> {
    let names = cfg.arch.layer_names();
    let formats = cfg.plan.resolve(&cfg.arch).map_err(|e| e.to_string())?;
    if tensors.len() != 2 * names.len() {
        return Err(format!(
            "{} tensors for {} layers",
            tensors.len(),
            names.len()
        ));
    }
    Ok(names
        .iter()
        .zip(tensors.chunks(2))
        .zip(&formats)
        .map(|((name, wb), f)| {
            let fmt = f.weights;
            let words = |t: &Array2<f32>| t.mapv(|x| fmt.nearest(x as f64));
            let bias: Vec<i16> = words(&wb[1]).iter().copied().collect();
            Layer::compress(
                name,
                &words(&wb[0]),
                &bias,
                fmt.wl,
                settings(name),
                init,
                seed,
            )
        })
        .collect())
}

/// Han et al.'s default codebook bits: 8 for convolutions, 5 for dense
/// layers.
pub fn default_weight_bits(layer: &str) -> u8 {
    if layer.starts_with("conv") {
        8
    } else {
        5
    }
}

impl Layer {
    /// Compresses `w` (words in a format of `wl` bits) and keeps `bias`
    /// dense. K-means runs on the surviving words with 2^b - 1 clusters
    /// (index 0 is zero), from `init`, seeded by `seed` where it draws.
    pub fn compress(
        name: &str,
        w: &Array2<i16>,
        bias: &[i16],
        wl: u8,
        s: Settings,
        init: Init,
        seed: u64,
    ) -> Layer {
        let flat: Vec<f64> = w.iter().map(|&x| x as f64).collect();
        let threshold = s.quality * crate::train::prune::std_dev(flat.iter().copied());
        let kept: Vec<usize> = (0..flat.len())
            .filter(|&i| flat[i] != 0.0 && flat[i].abs() >= threshold)
            .collect();
        let survivors: Vec<f64> = kept.iter().map(|&i| flat[i]).collect();
        let k = (1usize << s.weight_bits) - 1;
        let (centroids, assign) = kmeans::cluster(&survivors, k, init, seed, 100);
        let (lo, hi) = (word_min(wl), word_max(wl));
        let mut codebook = vec![0i16];
        codebook.extend(
            centroids
                .iter()
                .map(|&c| (c.round() as i64).clamp(lo, hi) as i16),
        );
        let max_gap = (1u32 << s.index_bits) - 1;
        let mut entries = vec![];
        let mut last: i64 = -1;
        for (&i, &a) in kept.iter().zip(&assign) {
            let mut gap = (i as i64 - last - 1) as u32;
            while gap > max_gap {
                entries.push((max_gap, ZERO));
                gap -= max_gap + 1;
            }
            entries.push((gap, a as u32 + 1));
            last = i as i64;
        }
        Layer {
            name: name.to_string(),
            rows: w.nrows(),
            cols: w.ncols(),
            weight_bits: s.weight_bits,
            index_bits: s.index_bits,
            codebook,
            entries,
            bias: bias.to_vec(),
        }
    }

    /// The weights back, as words; or what is wrong with the entries.
    pub fn weights(&self) -> Result<Array2<i16>, String> {
        let len = self.rows * self.cols;
        let mut w = vec![0i16; len];
        let mut pos: i64 = -1;
        for (e, &(gap, idx)) in self.entries.iter().enumerate() {
            pos += gap as i64 + 1;
            let Some(slot) = w.get_mut(pos as usize) else {
                return Err(format!(
                    "{}: entry {e} lands at position {pos}, past the {len} weights",
                    self.name
                ));
            };
            let Some(&v) = self.codebook.get(idx as usize) else {
                return Err(format!(
                    "{}: entry {e} names codebook entry {idx}, past its {}",
                    self.name,
                    self.codebook.len()
                ));
            };
            *slot = v;
        }
        Array2::from_shape_vec((self.rows, self.cols), w).map_err(|e| e.to_string())
    }

    /// The frequencies of the gaps and of the codebook indices.
    pub fn counts(&self) -> (Vec<u64>, Vec<u64>) {
        // Sized to what the entries name, so that a layer whose entries
        // and codebook disagree is still written (and refused on reading).
        let top = |f: fn(&(u32, u32)) -> u32| {
            self.entries
                .iter()
                .map(f)
                .max()
                .map_or(0, |m| m as usize + 1)
        };
        let mut gaps = vec![0u64; (1usize << self.index_bits).max(top(|e| e.0))];
        let mut idx = vec![0u64; self.codebook.len().max(top(|e| e.1))];
        for &(g, i) in &self.entries {
            gaps[g as usize] += 1;
            idx[i as usize] += 1;
        }
        (gaps, idx)
    }

    pub fn sizes(&self) -> Sizes {
        let weights = self.rows * self.cols;
        let all = weights + self.bias.len();
        let stored = self.entries.len();
        let bias = 16 * self.bias.len();
        let (gaps, idx) = self.counts();
        let coded_bits = |counts: &[u64]| -> usize {
            let lengths = huffman::code_lengths(counts);
            counts
                .iter()
                .zip(&lengths)
                .map(|(&c, &l)| c as usize * l as usize)
                .sum::<usize>()
                // The table: a byte of code length per symbol.
                + 8 * counts.len()
        };
        Sizes {
            weights,
            kept: self.entries.iter().filter(|e| e.1 != ZERO).count(),
            dense32: 32 * all,
            dense16: 16 * all,
            pruned: stored * (16 + self.index_bits as usize) + bias,
            shared: stored * (self.weight_bits + self.index_bits) as usize
                + 16 * self.codebook.len()
                + bias,
            coded: coded_bits(&gaps) + coded_bits(&idx) + 16 * self.codebook.len() + bias,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random_layer(seed: u64) -> (Array2<i16>, Vec<i16>) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let w = Array2::from_shape_fn((300, 100), |_| {
            (rng.gen::<f64>() - 0.5).powi(3) as f32 * 8000.0
        })
        .mapv(|x| x as i16);
        let b = (0..100).map(|_| rng.gen_range(-100..100)).collect();
        (w, b)
    }

    #[test]
    fn pruning_and_sharing_decode_to_the_codebook_words() {
        let seed: u64 = rand::random();
        println!("seed {seed}");
        let (w, b) = random_layer(seed);
        let s = Settings {
            quality: 1.0,
            weight_bits: 5,
            index_bits: 3,
        };
        for init in [Init::Linear, Init::Forgy, Init::Density] {
            let l = Layer::compress("fc1", &w, &b, 16, s, init, seed);
            assert!(l.codebook.len() <= 32 && l.codebook[0] == 0);
            let back = l.weights().unwrap();
            let std = {
                let f: Vec<f64> = w.iter().map(|&x| x as f64).collect();
                let m = f.iter().sum::<f64>() / f.len() as f64;
                (f.iter().map(|x| (x - m).powi(2)).sum::<f64>() / f.len() as f64).sqrt()
            };
            for (&orig, &got) in w.iter().zip(back.iter()) {
                if (orig as f64).abs() < std {
                    assert_eq!(got, 0, "{init:?}: a pruned weight came back");
                } else {
                    assert!(l.codebook.contains(&got));
                    // The nearest centroid is close to the weight (the
                    // clusters of 31 over this spread are narrow).
                    assert!(
                        ((orig - got) as f64).abs() < std,
                        "{init:?}: {orig} -> {got}"
                    );
                }
            }
            // A gap of 7 is the most a 3-bit index says: fillers appear.
            assert!(l.entries.contains(&(7, ZERO)));
            let z = l.sizes();
            assert!(z.coded < z.shared && z.shared < z.pruned && z.pruned < z.dense16);
            assert_eq!(z.dense32, 2 * z.dense16);
        }
    }

    #[test]
    fn bad_entries_are_named() {
        let (w, b) = random_layer(1);
        let s = Settings {
            quality: 0.5,
            weight_bits: 4,
            index_bits: 4,
        };
        let mut l = Layer::compress("fc2", &w, &b, 16, s, Init::Linear, 1);
        l.entries.insert(0, (0, 99));
        assert!(l.weights().unwrap_err().contains("codebook entry 99"));
        l.entries.remove(0);
        l.entries.push((15, 1));
        l.entries.extend(std::iter::repeat_n((15, 1), 3000));
        assert!(l.weights().unwrap_err().contains("past the 30000 weights"));
    }
}
