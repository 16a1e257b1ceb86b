//! Exact int16 matrix products, fast.
//!
//! The golden model needs every sum of products exactly (the device keeps
//! them in a 48-bit accumulator and rounds once), and it needs them fast
//! enough to check real training runs. Two implementations give the same
//! exact result:
//!
//! - on x86-64 with AVX2, an integer kernel built on `vpmaddwd`
//!   (two 16x16-bit products summed into 32 bits per lane);
//! - everywhere else, an f64 GEMM (ndarray / matrixmultiply). It is exact
//!   too: every product is an integer of magnitude at most 2^30 and every
//!   partial sum at most K * 2^30 < 2^45 (K <= `MAX_K` < 2^15), far inside
//!   the 53-bit mantissa, so no operation in any order rounds.
//!
//! Why `vpmaddwd` needs care: (-32768)^2 + (-32768)^2 = 2^31 does not fit
//! in i32, and even without that corner two lanes' sums cannot be added in
//! i32 for long. So B is split as b = 256 * bh + bl with bh = b >> 8 in
//! [-128, 127] and bl = b & 255 in [0, 255]. Then |a * bh| <= 2^22 and
//! |a * bl| < 2^23, and a block of `PAIRS_PER_BLOCK` = 64 k-pairs sums to
//! less than 2^6 * 2 * 2^23 = 2^30 in each of the two i32 accumulators. At the
//! end of a block they are widened to i64 and combined as hi * 256 + lo.

use ndarray::{linalg::general_mat_mul, ArrayView2, ArrayViewMut2};
#[cfg(test)]
use srsa_spec::protocol::MAX_K;

/// Returns the exact `mp x np` product (row-major) of A (given transposed,
/// `a_t` is `k x mp` row-major) and B (`k x np` row-major): the device's
/// buffer layouts, so buffer slices can be passed directly.
///
/// # Panics
/// If a slice is shorter than its shape, or `k` exceeds `MAX_K` (the
/// exactness argument of both paths depends on it).
pub fn gemm_i16(a_t: &[i16], b: &[i16], mp: usize, k: usize, np: usize) -> Vec<i64> {
    let mut ws = Workspace::new();
    ws.gemm_i16(a_t, b, mp, k, np);
    ws.out
}

/// Packing and output buffers kept between products: fresh allocations of
/// this size cost page faults comparable to the arithmetic itself.
#[derive(Default)]
pub struct Workspace {
    a: Vec<i16>,
    b_hi: Vec<i16>,
    b_lo: Vec<i16>,
    a_f64: Vec<f64>,
    b_f64: Vec<f64>,
    out_f64: Vec<f64>,
    out: Vec<i64>,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace::default()
    }

    /// As [`gemm_i16`], into this workspace; the result lives until the
    /// next call.
    pub fn gemm_i16(&mut self, a_t: &[i16], b: &[i16], mp: usize, k: usize, np: usize) -> &[i64] {
        check_args(a_t, b, mp, k, np);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            avx2::gemm(self, a_t, b, mp, k, np);
            return &self.out;
        }
        self.gemm_f64(a_t, b, mp, k, np)
    }

    /// The portable path: exact through f64 (see the module doc).
    pub(crate) fn gemm_f64(
        &mut self,
        a_t: &[i16],
        b: &[i16],
        mp: usize,
        k: usize,
        np: usize,
    ) -> &[i64] {
        check_args(a_t, b, mp, k, np);
        let to_f64 = |dst: &mut Vec<f64>, src: &[i16]| {
            dst.clear();
            dst.extend(src.iter().map(|&x| x as f64));
        };
        to_f64(&mut self.a_f64, &a_t[..k * mp]);
        to_f64(&mut self.b_f64, &b[..k * np]);
        zeroed(&mut self.out_f64, mp * np);
        let a_t = ArrayView2::from_shape((k, mp), &self.a_f64).expect("length checked");
        let b = ArrayView2::from_shape((k, np), &self.b_f64).expect("length checked");
        let mut c = ArrayViewMut2::from_shape((mp, np), &mut self.out_f64).expect("sized above");
        general_mat_mul(1.0, &a_t.t(), &b, 0.0, &mut c);
        self.out.clear();
        self.out.extend(self.out_f64.iter().map(|&x| x as i64));
        &self.out
    }
}

/// Resizes `v` to `len` zeros, reusing its allocation.
fn zeroed<T: Copy + Default>(v: &mut Vec<T>, len: usize) {
    v.clear();
    v.resize(len, T::default());
}

fn check_args(a_t: &[i16], b: &[i16], mp: usize, k: usize, np: usize) {
    assert!(
        k <= srsa_spec::protocol::MAX_K as usize,
        "k = {k} exceeds MAX_K"
    );
    assert!(a_t.len() >= k * mp, "A^T slice shorter than {k} x {mp}");
    assert!(b.len() >= k * np, "B slice shorter than {k} x {np}");
}

/// k-pairs summed in i32 before widening; see the module doc for the bound.
const PAIRS_PER_BLOCK: usize = 64;

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! A BLIS-style blocked GEMM: B is packed into panels of [`NR`] columns
    //! and A into panels of [`MR`] rows, both with k interleaved in pairs
    //! (the operand layout of `vpmaddwd`); an MR x NR register tile runs
    //! over a [`KC`]-long slice of k at a time so that its B panel stays in
    //! L1 and the A block ([`MC`] rows) in L2.

    use super::{zeroed, Workspace, PAIRS_PER_BLOCK};
    use std::arch::x86_64::*;

    const MR: usize = 6;
    /// One ymm register of i32 lanes.
    const NR: usize = 8;
    /// k per cache block (even, so blocks split on pair boundaries).
    const KC: usize = 512;
    const MC: usize = 20 * MR;
    const NC: usize = 64 * NR;

    /// Packs B (k x np) into panels of `NR` columns, split into high and
    /// low bytes, laid out per panel, per k-pair, per column as [k, k+1].
    fn pack_b(hi: &mut Vec<i16>, lo: &mut Vec<i16>, b: &[i16], k: usize, np: usize) {
        let pairs = k.div_ceil(2);
        let len = np.div_ceil(NR) * pairs * NR * 2;
        zeroed(hi, len);
        zeroed(lo, len);
        // Pair-major, so that B is read row by row (sequentially) and each
        // panel's pair is written as one contiguous run.
        for q in 0..pairs {
            let r0 = &b[2 * q * np..][..np];
            let r1 = (2 * q + 1 < k).then(|| &b[(2 * q + 1) * np..][..np]);
            for (p, c0) in (0..np).step_by(NR).enumerate() {
                let base = (p * pairs + q) * NR * 2;
                let cols = (np - c0).min(NR);
                let (h, l) = (&mut hi[base..][..2 * cols], &mut lo[base..][..2 * cols]);
                if let (NR, Some(r1)) = (cols, r1) {
                    // SAFETY: unaligned 16-byte loads and stores within
                    // slices of NR = 8 and 2 NR elements (asserted), and
                    // SSE2 is part of x86-64.
                    unsafe {
                        let (x0, x1) = (&r0[c0..][..NR], &r1[c0..][..NR]);
                        let x0 = _mm_loadu_si128(x0.as_ptr() as *const __m128i);
                        let x1 = _mm_loadu_si128(x1.as_ptr() as *const __m128i);
                        let pairs = [_mm_unpacklo_epi16(x0, x1), _mm_unpackhi_epi16(x0, x1)];
                        let (h, l) = (&mut h[..2 * NR], &mut l[..2 * NR]);
                        for (half, v) in pairs.into_iter().enumerate() {
                            let hv = _mm_srai_epi16::<8>(v);
                            let lv = _mm_and_si128(v, _mm_set1_epi16(0xFF));
                            _mm_storeu_si128(h[half * NR..].as_mut_ptr() as *mut __m128i, hv);
                            _mm_storeu_si128(l[half * NR..].as_mut_ptr() as *mut __m128i, lv);
                        }
                    }
                    continue;
                }
                for c in 0..cols {
                    let (v0, v1) = (r0[c0 + c], r1.map_or(0, |r| r[c0 + c]));
                    (h[2 * c], h[2 * c + 1]) = (v0 >> 8, v1 >> 8);
                    (l[2 * c], l[2 * c + 1]) = (v0 & 0xFF, v1 & 0xFF);
                }
            }
        }
    }

    /// Packs A (given as A^T, k x mp) into panels of `MR` rows, per k-pair,
    /// per row as [k, k+1], so that one i32 load broadcasts a row's pair.
    fn pack_a(a: &mut Vec<i16>, a_t: &[i16], k: usize, mp: usize) {
        let pairs = k.div_ceil(2);
        zeroed(a, mp.div_ceil(MR) * pairs * MR * 2);
        for q in 0..pairs {
            let r0 = &a_t[2 * q * mp..][..mp];
            let r1 = (2 * q + 1 < k).then(|| &a_t[(2 * q + 1) * mp..][..mp]);
            for (p, i0) in (0..mp).step_by(MR).enumerate() {
                let base = (p * pairs + q) * MR * 2;
                let rows = (mp - i0).min(MR);
                let dst = &mut a[base..][..2 * rows];
                for r in 0..rows {
                    (dst[2 * r], dst[2 * r + 1]) = (r0[i0 + r], r1.map_or(0, |x| x[i0 + r]));
                }
            }
        }
    }

    /// Leaves the product in `ws.out`.
    pub(super) fn gemm(ws: &mut Workspace, a_t: &[i16], b: &[i16], mp: usize, k: usize, np: usize) {
        assert!(std::arch::is_x86_feature_detected!("avx2"));
        pack_b(&mut ws.b_hi, &mut ws.b_lo, b, k, np);
        pack_a(&mut ws.a, a_t, k, mp);
        let pairs = k.div_ceil(2);
        let (pa, out) = (&ws.a, &mut ws.out);
        zeroed(out, mp * np);
        let mut tile = [[0i64; NR]; MR];
        for j0 in (0..np).step_by(NC) {
            let j1 = (j0 + NC).min(np);
            for p0 in (0..pairs).step_by(KC / 2) {
                let pn = (KC / 2).min(pairs - p0);
                for i0 in (0..mp).step_by(MC) {
                    let i1 = (i0 + MC).min(mp);
                    for p in (j0 / NR)..j1.div_ceil(NR) {
                        let off = (p * pairs + p0) * NR * 2;
                        let bh = &ws.b_hi[off..][..pn * NR * 2];
                        let bl = &ws.b_lo[off..][..pn * NR * 2];
                        for q in (i0 / MR)..i1.div_ceil(MR) {
                            let a = &pa[(q * pairs + p0) * MR * 2..][..pn * MR * 2];
                            // SAFETY: AVX2 is present (asserted above) and
                            // `micro` checks its slice lengths itself.
                            unsafe { micro(a, bh, bl, &mut tile) };
                            add_tile(out, &tile, q * MR, p * NR, mp, np);
                        }
                    }
                }
            }
        }
    }

    fn add_tile(
        out: &mut [i64],
        tile: &[[i64; NR]; MR],
        i0: usize,
        j0: usize,
        mp: usize,
        np: usize,
    ) {
        let cols = (np - j0).min(NR);
        for (r, row) in tile.iter().enumerate().take((mp - i0).min(MR)) {
            let o = &mut out[(i0 + r) * np + j0..][..cols];
            for (x, &t) in o.iter_mut().zip(row) {
                *x += t;
            }
        }
    }

    /// One MR x NR tile over the k-pairs given: `a` holds MR i32 pair words
    /// per pair, `bh`/`bl` NR pair words each.
    #[target_feature(enable = "avx2")]
    unsafe fn micro(a: &[i16], bh: &[i16], bl: &[i16], tile: &mut [[i64; NR]; MR]) {
        let pairs = a.len() / (MR * 2);
        assert!(a.len() == pairs * MR * 2);
        assert!(bh.len() == pairs * NR * 2 && bl.len() == pairs * NR * 2);
        let mut total = [[_mm256_setzero_si256(); 2]; MR];
        let mut p = 0;
        while p < pairs {
            let end = (p + PAIRS_PER_BLOCK).min(pairs);
            let mut hi = [_mm256_setzero_si256(); MR];
            let mut lo = [_mm256_setzero_si256(); MR];
            for pp in p..end {
                // In bounds: pp < pairs and the lengths were asserted.
                let vh = _mm256_loadu_si256(bh.as_ptr().add(pp * NR * 2) as *const __m256i);
                let vl = _mm256_loadu_si256(bl.as_ptr().add(pp * NR * 2) as *const __m256i);
                let ar = a.as_ptr().add(pp * MR * 2) as *const i32;
                for r in 0..MR {
                    let av = _mm256_set1_epi32(ar.add(r).read_unaligned());
                    hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(av, vh));
                    lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(av, vl));
                }
            }
            // Widen both halves to i64 and add hi * 256 + lo to the total.
            // (No closures here: they would not inherit `target_feature`.)
            for r in 0..MR {
                let h = [
                    _mm256_castsi256_si128(hi[r]),
                    _mm256_extracti128_si256::<1>(hi[r]),
                ];
                let l = [
                    _mm256_castsi256_si128(lo[r]),
                    _mm256_extracti128_si256::<1>(lo[r]),
                ];
                for half in 0..2 {
                    let h64 = _mm256_cvtepi32_epi64(h[half]);
                    let l64 = _mm256_cvtepi32_epi64(l[half]);
                    let sum = _mm256_add_epi64(_mm256_slli_epi64::<8>(h64), l64);
                    total[r][half] = _mm256_add_epi64(total[r][half], sum);
                }
            }
            p = end;
        }
        for r in 0..MR {
            let dst = tile[r].as_mut_ptr() as *mut __m256i;
            _mm256_storeu_si256(dst, total[r][0]);
            _mm256_storeu_si256(dst.add(1), total[r][1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a_t: &[i16], b: &[i16], mp: usize, k: usize, np: usize) -> Vec<i64> {
        let mut out = vec![0i64; mp * np];
        for i in 0..mp {
            for j in 0..np {
                out[i * np + j] = (0..k)
                    .map(|kk| a_t[kk * mp + i] as i64 * b[kk * np + j] as i64)
                    .sum();
            }
        }
        out
    }

    /// A cheap deterministic generator (no dependency for unit tests).
    fn fill(len: usize, mut s: u64) -> Vec<i16> {
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as i16
            })
            .collect()
    }

    fn both_paths(a_t: &[i16], b: &[i16], mp: usize, k: usize, np: usize) {
        let want = naive(a_t, b, mp, k, np);
        assert_eq!(gemm_i16(a_t, b, mp, k, np), want, "{mp}x{k}x{np}");
        assert_eq!(
            Workspace::new().gemm_f64(a_t, b, mp, k, np),
            want,
            "f64 {mp}x{k}x{np}"
        );
    }

    #[test]
    fn random_shapes_match_naive() {
        // Odd k, edges of every block size, one past them.
        for (i, &(mp, k, np)) in [
            (1, 1, 1),
            (2, 3, 2),
            (6, 128, 8),
            (7, 129, 9),
            (13, 257, 17),
            (121, 513, 66),
            (8, 1100, 520),
        ]
        .iter()
        .enumerate()
        {
            let a = fill(mp * k, 1 + i as u64);
            let b = fill(k * np, 1000 + i as u64);
            both_paths(&a, &b, mp, k, np);
        }
    }

    #[test]
    fn extremes_at_max_k_are_exact() {
        // All -32768: every pair is the 2^31 corner of vpmaddwd, and the sum
        // (2^30 * MAX_K) is the largest the device can see.
        let (mp, k, np) = (7, MAX_K as usize, 9);
        let a = vec![i16::MIN; mp * k];
        let b = vec![i16::MIN; k * np];
        let got = gemm_i16(&a, &b, mp, k, np);
        assert!(got.iter().all(|&x| x == (1i64 << 30) * k as i64));
        both_paths(&a, &b, mp, k, np);
        // Mixed extremes: min x max, and b = -1 (low byte 255, the largest
        // low-byte partial sums).
        for v in [i16::MAX, -1] {
            both_paths(&a, &vec![v; k * np], mp, k, np);
        }
        let a: Vec<i16> = (0..mp * k)
            .map(|i| if i % 3 == 0 { i16::MIN } else { i16::MAX })
            .collect();
        let b: Vec<i16> = (0..k * np)
            .map(|i| if i % 5 == 0 { i16::MAX } else { i16::MIN })
            .collect();
        both_paths(&a, &b, mp, k, np);
    }

    #[test]
    fn zero_k_gives_zeros() {
        assert_eq!(gemm_i16(&[], &[], 3, 0, 2), vec![0; 6]);
    }
}
