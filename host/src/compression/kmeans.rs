//! One-dimensional k-means for weight sharing (Han et al.): the codebook
//! of a layer's surviving weights.
//!
//! Written here rather than taken from linfa: in one dimension Lloyd's
//! iterations over sorted values are a few lines, exact and reproducible
//! from a seed, and linfa's clustering crate builds on an older ndarray
//! than this workspace's.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// How the centroids start (Han et al. compare the three; linear wins,
/// because it keeps centroids on the rare large weights).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Evenly spaced over [min, max].
    Linear,
    /// k of the values, drawn at random.
    Forgy,
    /// Evenly spaced over the values' cumulative distribution.
    Density,
}

impl std::str::FromStr for Init {
    type Err = String;
    fn from_str(s: &str) -> Result<Init, String> {
        match s {
            "linear" => Ok(Init::Linear),
            "forgy" => Ok(Init::Forgy),
            "density" => Ok(Init::Density),
            _ => Err(format!(
                "unknown initialisation '{s}' (expected linear, forgy or density)"
            )),
        }
    }
}

/// Lloyd's iterations from `init`: the centroids (ascending) and each
/// value's centroid. At most `k` centroids; fewer if the values have fewer
/// distinct points. At most `max_iter` rounds.
pub fn cluster(
    values: &[f64],
    k: usize,
    init: Init,
    seed: u64,
    max_iter: usize,
) -> (Vec<f64>, Vec<usize>) {
    if values.is_empty() || k == 0 {
        return (vec![], vec![]);
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    let k = k.min(sorted.len());
    let (lo, hi) = (sorted[0], sorted[sorted.len() - 1]);
    let mut c: Vec<f64> = match init {
        Init::Linear if k == 1 => vec![(lo + hi) / 2.0],
        Init::Linear => (0..k)
            .map(|i| lo + (hi - lo) * i as f64 / (k - 1) as f64)
            .collect(),
        Init::Forgy => {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut pick: Vec<f64> = values.choose_multiple(&mut rng, k).copied().collect();
            pick.sort_by(f64::total_cmp);
            pick
        }
        Init::Density => {
            let mut all = values.to_vec();
            all.sort_by(f64::total_cmp);
            (0..k)
                .map(|i| all[((2 * i + 1) * all.len() / (2 * k)).min(all.len() - 1)])
                .collect()
        }
    };
    let mut assign = vec![0usize; values.len()];
    for _ in 0..max_iter.max(1) {
        let mut changed = false;
        for (a, &v) in assign.iter_mut().zip(values) {
            let best = nearest(&c, v);
            changed |= best != *a;
            *a = best;
        }
        let mut sum = vec![0f64; c.len()];
        let mut n = vec![0usize; c.len()];
        for (&a, &v) in assign.iter().zip(values) {
            sum[a] += v;
            n[a] += 1;
        }
        for j in 0..c.len() {
            if n[j] > 0 {
                c[j] = sum[j] / n[j] as f64;
            }
        }
        if !changed {
            break;
        }
    }
    // Drop empty clusters and renumber, keeping the centroids ascending.
    let mut used: Vec<usize> = assign.clone();
    used.sort_unstable();
    used.dedup();
    let mut order: Vec<usize> = used.clone();
    order.sort_by(|&a, &b| c[a].total_cmp(&c[b]));
    let mut renumber = vec![usize::MAX; c.len()];
    for (new, &old) in order.iter().enumerate() {
        renumber[old] = new;
    }
    let centroids = order.iter().map(|&j| c[j]).collect();
    (centroids, assign.iter().map(|&a| renumber[a]).collect())
}

/// The index of the centroid nearest to `v` (the first of equals).
pub fn nearest(c: &[f64], v: f64) -> usize {
    let mut best = 0;
    for (j, &x) in c.iter().enumerate() {
        if (x - v).abs() < (c[best] - v).abs() {
            best = j;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn clusters_separate_groups_and_every_init_is_reproducible() {
        let seed: u64 = rand::random();
        println!("seed {seed}");
        let mut rng = StdRng::seed_from_u64(seed);
        let centres = [-0.5, -0.1, 0.2, 0.6];
        let values: Vec<f64> = (0..2000)
            .map(|i| centres[i % 4] + rng.gen_range(-0.02..0.02))
            .collect();
        for init in [Init::Linear, Init::Forgy, Init::Density] {
            let (c, a) = cluster(&values, 4, init, seed, 100);
            assert_eq!(cluster(&values, 4, init, seed, 100), (c.clone(), a.clone()));
            assert!(c.windows(2).all(|w| w[0] < w[1]), "{init:?}: {c:?}");
            assert!(a.iter().all(|&j| j < c.len()));
            if init != Init::Forgy {
                // Well-separated groups are found exactly.
                for (got, want) in c.iter().zip(centres) {
                    assert!((got - want).abs() < 0.01, "{init:?}: {c:?}");
                }
            }
        }
        assert_eq!(
            cluster(&[1.0, 1.0], 8, Init::Linear, 0, 10),
            (vec![1.0], vec![0, 0])
        );
        assert_eq!(cluster(&[], 8, Init::Linear, 0, 10), (vec![], vec![]));
    }
}
