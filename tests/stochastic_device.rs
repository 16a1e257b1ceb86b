//! Stochastic rounding measured on the simulated RTL, in lockstep with the
//! golden model (so every output is also checked bit for bit):
//! representable results never move, the mean of many roundings of a value
//! 0.3 LSB above a grid point is 0.3 LSB, and neither consecutive draws of
//! a column (rows i, i + lag of one column) nor neighbouring columns are
//! correlated.
//!
//! Bounds are 4 standard errors; the seed is fixed (SRSA_SEED picks
//! another), so a run is reproducible.

mod common;

use common::{divergence, open, rng, seed, Rig};
use ndarray::{Array2, ArrayView2};
use rand::Rng;
use srsa_host::driver::MatmulOpts;
use srsa_spec::numerics::{Formats, Rounding};

const N: usize = 8;

fn matmul(
    rig: &mut Rig,
    a: ArrayView2<i16>,
    b: ArrayView2<i16>,
    cin: Option<ArrayView2<i16>>,
    f: Formats,
    mode: Rounding,
    label: &str,
) -> Array2<i16> {
    match rig.matmul(a, b, cin, &MatmulOpts::new(f, mode)) {
        Ok(out) => out,
        Err(e) => panic!("{label} {mode}: {e}\n  {}", divergence(rig)),
    }
}

#[test]
fn representable_results_never_move() {
    let (mut rng, s) = rng("representable_results_never_move", 0x5EED_5001);
    let mut rig = open(N);
    rig.seed(s).unwrap();
    // Shift 8; A holds multiples of 2^8 and C_in aligns by 2^8, so every
    // accumulator is a multiple of 2^8 and no draw may change it.
    let f = Formats::new(6, 6, 4, 4);
    let (m, k, ncol) = (2 * N + 3, 9, 3 * N - 1);
    let a = Array2::from_shape_simple_fn((m, k), || rng.gen_range(-127i16..=127) * 256);
    let b = Array2::from_shape_simple_fn((k, ncol), || rng.gen_range(-300i16..=300));
    let cin = Array2::from_shape_simple_fn((m, ncol), || rng.gen::<i16>());
    let mut moved = 0;
    for cin in [None, Some(cin.view())] {
        let t = matmul(
            &mut rig,
            a.view(),
            b.view(),
            cin,
            f,
            Rounding::Truncate,
            "exact",
        );
        let nearest = matmul(
            &mut rig,
            a.view(),
            b.view(),
            cin,
            f,
            Rounding::Nearest,
            "exact",
        );
        assert_eq!(nearest, t, "nearest moved an exact result");
        for _ in 0..10 {
            let sr = matmul(
                &mut rig,
                a.view(),
                b.view(),
                cin,
                f,
                Rounding::Stochastic,
                "exact",
            );
            moved += sr.iter().zip(t.iter()).filter(|(x, y)| x != y).count();
        }
        // Not vacuous: the results vary and saturate somewhere.
        assert!(t.iter().any(|&v| v != t[[0, 0]]));
    }
    // Shift 0: nothing is dropped, whatever the operands.
    let f0 = Formats::uniform(0);
    let a = Array2::from_shape_simple_fn((m, k), || rng.gen::<i16>());
    let b = Array2::from_shape_simple_fn((k, ncol), || rng.gen::<i16>());
    let t = matmul(
        &mut rig,
        a.view(),
        b.view(),
        None,
        f0,
        Rounding::Truncate,
        "shift 0",
    );
    for _ in 0..5 {
        let sr = matmul(
            &mut rig,
            a.view(),
            b.view(),
            None,
            f0,
            Rounding::Stochastic,
            "shift 0",
        );
        moved += sr.iter().zip(t.iter()).filter(|(x, y)| x != y).count();
    }
    println!("representable results: {moved} moved by stochastic rounding");
    assert_eq!(moved, 0, "stochastic rounding moved representable results");
}

/// One value rounded many times: `a * b` at (fl_a, fl_b) plus C_in at FL 0,
/// to output FL 0, so x = a * b / 2^(fl_a + fl_b) + c.
#[derive(Clone, Copy, Debug)]
struct Value {
    a: i16,
    b: i16,
    c: i16,
    fl_a: u8,
    fl_b: u8,
}

impl Value {
    fn x(&self) -> f64 {
        self.a as f64 * self.b as f64 / (1u64 << (self.fl_a + self.fl_b)) as f64 + self.c as f64
    }
}

const ROWS: usize = 1024;
const GEMMS: usize = 8;

/// `GEMMS` stochastic GEMMs of ROWS x N outputs, each `v.x()`, K = 1, the
/// output one tile column wide so that row i + 1 of a column is the draw
/// after row i's. The LFSRs run on from one GEMM to the next.
fn round_many(rig: &mut Rig, v: Value) -> Vec<Array2<f64>> {
    let a = Array2::from_elem((ROWS, 1), v.a);
    let b = Array2::from_elem((1, N), v.b);
    let cin = Array2::from_elem((ROWS, N), v.c);
    let f = Formats::new(v.fl_a, v.fl_b, 0, 0);
    (0..GEMMS)
        .map(|_| {
            let out = matmul(
                rig,
                a.view(),
                b.view(),
                Some(cin.view()),
                f,
                Rounding::Stochastic,
                &format!("{v:?}"),
            );
            out.mapv(|o| o as f64)
        })
        .collect()
}

fn mean(x: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = x.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    s / n as f64
}

fn pearson(pairs: &[(f64, f64)]) -> f64 {
    let mx = mean(pairs.iter().map(|p| p.0));
    let my = mean(pairs.iter().map(|p| p.1));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for &(x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    assert!(sxx > 0.0 && syy > 0.0, "constant samples");
    sxy / (sxx * syy).sqrt()
}

const VALUES: [Value; 4] = [
    // 0.300009 LSB: shift 30, all 30 low draw bits decide.
    Value {
        a: 32767,
        b: 9831,
        c: 0,
        fl_a: 15,
        fl_b: 15,
    },
    // -0.699991 = -1 + 0.300009: rounds to -1 or 0.
    Value {
        a: -32767,
        b: 22938,
        c: 0,
        fl_a: 15,
        fl_b: 15,
    },
    // 7.2998 with C_in: shift 10.
    Value {
        a: 307,
        b: 1,
        c: 7,
        fl_a: 10,
        fl_b: 0,
    },
    // -4.7002 = -5 + 0.2998: shift 10 from the other side.
    Value {
        a: -4813,
        b: 1,
        c: 0,
        fl_a: 10,
        fl_b: 0,
    },
];

#[test]
fn mean_of_rounding_0_3_lsb_is_0_3_lsb() {
    let s = seed("mean_of_rounding_0_3_lsb_is_0_3_lsb", 0x5EED_5002);
    let mut rig = open(N);
    rig.seed(s).unwrap();
    for v in VALUES {
        let outs = round_many(&mut rig, v);
        let x = v.x();
        let (lo, p) = (x.floor(), x - x.floor());
        let samples = (GEMMS * ROWS * N) as f64;
        let m = mean(outs.iter().flat_map(|o| o.iter().copied()));
        let se = (p * (1.0 - p) / samples).sqrt();
        println!(
            "x = {x:.6} LSB: mean of {samples} roundings {m:.6}, error {:+.6} = {:+.2} SE",
            m - x,
            (m - x) / se
        );
        // Only the two grid points around x occur.
        assert!(
            outs.iter()
                .flat_map(|o| o.iter())
                .all(|&o| o == lo || o == lo + 1.0),
            "{v:?}: a result other than {lo} or {}",
            lo + 1.0
        );
        assert!((p - 0.3).abs() < 0.001, "{v:?}: fraction {p}, not 0.3");
        assert!(
            (m - x).abs() < 4.0 * se,
            "{v:?}: mean {m} vs exact {x} ({:.2} SE)",
            (m - x) / se
        );
        // Every column on its own, at 5 SE (8 columns per value).
        for c in 0..N {
            let mc = mean(outs.iter().flat_map(|o| o.column(c).to_vec()));
            let se_c = (p * (1.0 - p) / (GEMMS * ROWS) as f64).sqrt();
            assert!(
                (mc - x).abs() < 5.0 * se_c,
                "{v:?} column {c}: mean {mc} vs {x} ({:.2} SE)",
                (mc - x) / se_c
            );
        }
    }
}

#[test]
fn neighbouring_outputs_are_uncorrelated() {
    let s = seed("neighbouring_outputs_are_uncorrelated", 0x5EED_5003);
    let mut rig = open(N);
    rig.seed(s).unwrap();
    for v in [VALUES[0], VALUES[2]] {
        let outs = round_many(&mut rig, v);
        // Rows i and i + lag of one column: draws `lag` apart of that
        // column's generator (lag 1: neighbours).
        for lag in 1..=8 {
            let pairs: Vec<(f64, f64)> = outs
                .iter()
                .flat_map(|o| {
                    (0..ROWS - lag)
                        .flat_map(move |i| (0..N).map(move |j| (o[[i, j]], o[[i + lag, j]])))
                })
                .collect();
            let r = pearson(&pairs);
            let bound = 4.0 / (pairs.len() as f64).sqrt();
            println!(
                "x = {:.4}: rows i, i+{lag}: r = {r:+.5} over {} pairs (bound {bound:.5})",
                v.x(),
                pairs.len()
            );
            assert!(r.abs() < bound, "{v:?}: lag {lag} rows correlate: r = {r}");
        }
        // Columns j and j + 1 of one row: the same draw of two generators.
        let pairs: Vec<(f64, f64)> = outs
            .iter()
            .flat_map(|o| {
                (0..ROWS).flat_map(move |i| (0..N - 1).map(move |j| (o[[i, j]], o[[i, j + 1]])))
            })
            .collect();
        let r = pearson(&pairs);
        let bound = 4.0 / (pairs.len() as f64).sqrt();
        println!(
            "x = {:.4}: columns j, j+1: r = {r:+.5} over {} pairs (bound {bound:.5})",
            v.x(),
            pairs.len()
        );
        assert!(
            r.abs() < bound,
            "{v:?}: neighbouring columns correlate: r = {r}"
        );
    }
}
