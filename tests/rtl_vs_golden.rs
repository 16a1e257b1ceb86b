//! The simulated RTL against the golden model, bit for bit: every response
//! word of every command goes through a `Lockstep`, which stops at the first
//! differing word. Random cases at N = 4, 8 and 16 and on the rectangles 2x4
//! and 8x16, then targeted ones:
//! rounding modes, mixed and extreme formats, saturation at both ends,
//! K = 1 and the largest K, ragged shapes, accumulate-init with and without
//! ReLU, transposed operands, and in-place updates through raw GEMMs.
//!
//! In the deterministic modes (truncate, nearest) every result is also
//! checked against the numerics spec computed here with plain sums, so the
//! two devices cannot pass by being wrong the same way.

mod common;

use common::{case, check_case, divergence, expected, open, open_shape, rng, Rig};
use ndarray::{Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::Rng;
use srsa_host::cases::{random_case, Case};
use srsa_host::driver::DriverError;
use srsa_spec::numerics::{convert, Formats, Rounding};
use srsa_spec::protocol::{feature, gemm_busy_cycles, pad, Buffer, Gemm, Status, Width};

fn mat(rng: &mut StdRng, rows: usize, cols: usize, lo: i16, hi: i16) -> Array2<i16> {
    Array2::from_shape_simple_fn((rows, cols), || rng.gen_range(lo..=hi))
}

fn full(rng: &mut StdRng, rows: usize, cols: usize) -> Array2<i16> {
    mat(rng, rows, cols, i16::MIN, i16::MAX)
}

fn formats(fl_a: u8, fl_b: u8, fl_c: u8, fl_out: u8) -> Formats {
    Formats::new(fl_a, fl_b, fl_c, fl_out)
}

// ---------------------------------------------------------------- random

fn random_cases(n: usize, trials: usize, test: &str, default_seed: u64) {
    random_cases_on(n, n, trials, test, default_seed)
}

fn random_cases_on(rows: usize, cols: usize, trials: usize, test: &str, default_seed: u64) {
    let (mut rng, s) = rng(test, default_seed);
    let mut rig = open_shape(rows, cols);
    let id = *rig.identity();
    let mut per_mode = [0usize; 3];
    let mut with_cin = 0;
    // Cases on the device's operand paths: A transposed, B transposed, B
    // from C, any of them.
    let mut paths = [0usize; 4];
    for t in 0..trials {
        let c = random_case(&mut rng, &id);
        check_case(&mut rig, &c, &format!("{test} trial {t} (seed {s})"));
        per_mode[c.opts.mode.code() as usize] += 1;
        with_cin += c.cin.is_some() as usize;
        if let Some(r) = c.resident {
            paths[0] += r.a_transposed as usize;
            paths[1] += r.b_transposed as usize;
            paths[2] += r.b_from_c as usize;
            paths[3] += 1;
        }
    }
    let compared = rig.link_mut().words_compared();
    println!(
        "{test}: {trials} cases bit-exact (truncate {}, nearest {}, stochastic {}; {with_cin} with \
         C_in; {} on the device's paths: {} A transposed, {} B transposed, {} B from C), \
         {compared} response words compared, {} RTL cycles",
        per_mode[0],
        per_mode[1],
        per_mode[2],
        paths[3],
        paths[0],
        paths[1],
        paths[2],
        rig.link_mut().left.cycles()
    );
    assert!(compared > 10 * trials as u64);
    if id.features & feature::PATHS == feature::PATHS {
        assert!(
            paths[..3].iter().all(|&n| n >= trials / 10),
            "too few cases on the paths: {paths:?}"
        );
    }
    assert!(rig.link_mut().divergence().is_none());
}

#[test]
fn random_cases_n4() {
    random_cases(4, 1000, "random_cases_n4", 0x5EED_0401);
}

#[test]
fn random_cases_n8() {
    random_cases(8, 400, "random_cases_n8", 0x5EED_0801);
}

#[test]
fn random_cases_n16() {
    random_cases(16, 60, "random_cases_n16", 0x5EED_1601);
}

/// A rectangular array: A's tiles are 2 rows high, B's and C's 4 columns
/// wide, so alignment, padding and busy time differ by operand.
#[test]
fn random_cases_2x4() {
    random_cases_on(2, 4, 600, "random_cases_2x4", 0x5EED_2401);
}

/// The array the ULX3S places (see srsa-hw's boards): unlike 2x4, both
/// sides span several tiles of ordinary cases, and A's banks are twice as
/// deep as B's and C's.
#[test]
fn random_cases_8x16() {
    random_cases_on(8, 16, 150, "random_cases_8x16", 0x5EED_0816);
}

// ---------------------------------------------------------------- modes and formats

#[test]
fn every_rounding_mode() {
    let (mut rng, s) = rng("every_rounding_mode", 0x5EED_0001);
    for n in [4, 8, 16] {
        let mut rig = open(n);
        // Shift 13: every output drops bits, none saturates.
        let f = formats(10, 9, 7, 6);
        let (m, k, ncol) = (n + 1, 7, 2 * n - 1);
        let a = mat(&mut rng, m, k, -3000, 3000);
        let b = mat(&mut rng, k, ncol, -3000, 3000);
        for cin in [None, Some(mat(&mut rng, m, ncol, -2000, 2000))] {
            let run = |rig: &mut Rig, mode| {
                let c = case(a.clone(), b.clone(), cin.clone(), f, mode, false, s);
                check_case(rig, &c, &format!("n={n} {mode}"))
            };
            let t = run(&mut rig, Rounding::Truncate);
            let nearest = run(&mut rig, Rounding::Nearest);
            let sr = run(&mut rig, Rounding::Stochastic);
            for ((ix, &t), (&r, &q)) in t.indexed_iter().zip(nearest.iter().zip(sr.iter())) {
                assert!(r == t || r == t + 1, "n={n} {ix:?}: nearest {r}, floor {t}");
                assert!(
                    q == t || q == t + 1,
                    "n={n} {ix:?}: stochastic {q}, floor {t}"
                );
            }
            // Not vacuous: each mode differs from truncation somewhere, and
            // stochastic rounding goes both ways.
            assert!(nearest != t, "n={n}: nearest never rounded up");
            assert!(sr.iter().zip(t.iter()).any(|(q, t)| q > t), "n={n}");
            assert!(sr.iter().zip(t.iter()).any(|(q, t)| q == t), "n={n}");
        }
    }
}

#[test]
fn mixed_and_extreme_formats() {
    let (mut rng, s) = rng("mixed_and_extreme_formats", 0x5EED_0002);
    let list = [
        formats(12, 9, 5, 7),
        // shift 30, the widest: 30 draw bits.
        formats(15, 15, 0, 0),
        // shift 0: nothing is dropped.
        formats(0, 0, 0, 0),
        formats(15, 15, 15, 15),
        // C_in as fine as the product.
        formats(8, 7, 15, 15),
        formats(3, 0, 3, 0),
        formats(0, 15, 8, 15),
        formats(15, 0, 0, 1),
    ];
    for n in [4, 8] {
        let mut rig = open(n);
        for (i, f) in list.iter().enumerate() {
            let (m, k, ncol) = (n + 1 + i % 3, 1 + 3 * i, n - 1 + i % 2);
            for mode in Rounding::ALL {
                let small = i % 2 == 0;
                let (a, b) = if small {
                    (
                        mat(&mut rng, m, k, -300, 300),
                        mat(&mut rng, k, ncol, -300, 300),
                    )
                } else {
                    (full(&mut rng, m, k), full(&mut rng, k, ncol))
                };
                let cin = (mode != Rounding::Nearest).then(|| full(&mut rng, m, ncol));
                let c = case(a, b, cin, *f, mode, false, s ^ i as u64);
                check_case(&mut rig, &c, &format!("n={n} formats #{i}"));
            }
        }
    }
}

// ---------------------------------------------------------------- saturation

#[test]
fn saturation_at_both_ends() {
    let s = common::seed("saturation_at_both_ends", 0x5EED_0003);
    let (max, min) = (i16::MAX, i16::MIN);
    for n in [4, 8] {
        let mut rig = open(n);
        for k in [1, 3, n + 1] {
            let (m, ncol) = (n + 1, n - 1);
            // (a, b, expected): the exact sums are far beyond the word.
            for (av, bv, want) in [
                (max, max, max),
                (min, min, max),
                (max, min, min),
                (min, max, min),
            ] {
                for mode in Rounding::ALL {
                    for relu in [false, true] {
                        let f = formats(2, 3, 0, 1);
                        let c = case(
                            Array2::from_elem((m, k), av),
                            Array2::from_elem((k, ncol), bv),
                            None,
                            f,
                            mode,
                            relu,
                            s,
                        );
                        let label = format!("n={n} K={k} {av}*{bv} {mode} relu {relu}");
                        let out = check_case(&mut rig, &c, &label);
                        let want = if relu { want.max(0) } else { want };
                        assert!(
                            out.iter().all(|&v| v == want),
                            "{label}: expected every output {want}, got {out}"
                        );
                    }
                }
            }
        }
        // The edges themselves, K = 1, C_in adding one more: exactly
        // representable sums stay, one beyond saturates, in every mode.
        // (a * b + C_in, output FL 0, shift 0) and (.., shift 1).
        for (av, bv, cv, shift_one, want) in [
            (1, max, 0, false, max),
            (1, max, 1, false, max), // 32768
            (-1, max, -1, false, min),
            (-1, max, -2, false, min), // -32769
            (min, 1, 0, false, min),
            (2, max, 1, true, max),  // 65535 / 2 = 32767.5
            (2, min, -1, true, min), // -65537 / 2 = -32768.5
            (2, min, 0, true, min),  // exactly -32768
        ] {
            for mode in Rounding::ALL {
                let f = if shift_one {
                    formats(1, 0, 1, 0)
                } else {
                    formats(0, 0, 0, 0)
                };
                let c = case(
                    Array2::from_elem((n, 1), av),
                    Array2::from_elem((1, n + 1), bv),
                    Some(Array2::from_elem((n, n + 1), cv)),
                    f,
                    mode,
                    false,
                    s,
                );
                let label = format!("n={n} edge {av}*{bv}+{cv} shift {} {mode}", f.shift());
                let out = check_case(&mut rig, &c, &label);
                assert!(
                    out.iter().all(|&v| v == want),
                    "{label}: expected every output {want}, got {out}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------- shapes

#[test]
fn k_equals_one() {
    let (mut rng, s) = rng("k_equals_one", 0x5EED_0004);
    for n in [4, 8, 16] {
        let mut rig = open(n);
        for (i, (m, ncol)) in [(1, 1), (n, n), (n + 1, 2 * n + 3), (2 * n + 3, n - 1)]
            .into_iter()
            .enumerate()
        {
            for mode in Rounding::ALL {
                let a = full(&mut rng, m, 1);
                let b = full(&mut rng, 1, ncol);
                let cin = (i % 2 == 1).then(|| full(&mut rng, m, ncol));
                let c = case(a, b, cin, formats(9, 11, 4, 6), mode, i == 3, s + i as u64);
                check_case(&mut rig, &c, &format!("n={n} K=1 #{i}"));
            }
        }
    }
}

#[test]
fn ragged_shapes() {
    let (mut rng, s) = rng("ragged_shapes", 0x5EED_0005);
    for n in [4, 8] {
        let mut rig = open(n);
        let dims = [1, n - 1, n + 1, 2 * n + 3];
        let ks = [1, 2, n + 3, 3 * n - 1];
        let mut i = 0;
        for m in dims {
            for ncol in dims {
                let k = ks[i % ks.len()];
                let mode = Rounding::ALL[i % 3];
                let a = mat(&mut rng, m, k, -5000, 5000);
                let b = mat(&mut rng, k, ncol, -5000, 5000);
                let cin = (i % 2 == 0).then(|| full(&mut rng, m, ncol));
                let c = case(a, b, cin, formats(11, 10, 9, 8), mode, false, s + i as u64);
                check_case(&mut rig, &c, &format!("n={n} ragged #{i}"));
                i += 1;
            }
        }
    }
}

/// K = 16384 at N = 4: operand A fills buffer A exactly, and the 48-bit
/// accumulator holds sums of 2^44 and C_in terms of 2^45.
#[test]
fn largest_k() {
    let (mut rng, s) = rng("largest_k", 0x5EED_0006);
    let n = 4;
    let k = common::buffer_elems(n, n) as usize / n;
    assert_eq!(k, 16384);
    let mut rig = open(n);
    let (m, ncol) = (3, 4);
    let (max, min) = (i16::MAX, i16::MIN);
    let f = formats(15, 15, 0, 0);
    // (a, b, C_in, expected truncated result)
    let exact = [
        // 2^44 - 2^45 = -2^44 -> -16384
        (min, min, Some(min), Some(-16384)),
        // 2^44 + (2^15 - 1) 2^30 saturates.
        (min, min, Some(max), Some(max)),
        // -2^44 + 2^29 + 2^45 - 2^30 = 2^44 - 2^29 -> 16383.5, floor 16383
        (min, max, Some(max), Some(16383)),
        // -2^44 + 2^29 -> -16383.5, floor -16384 (not saturated)
        (max, min, None, Some(-16384)),
        // 2^44 -> 16384 exactly
        (min, min, None, Some(16384)),
        // -2^44 + 2^29 - 2^45 saturates.
        (max, min, Some(min), Some(min)),
    ];
    for (i, (av, bv, cv, want)) in exact.into_iter().enumerate() {
        for mode in Rounding::ALL {
            let c = case(
                Array2::from_elem((m, k), av),
                Array2::from_elem((k, ncol), bv),
                cv.map(|v| Array2::from_elem((m, ncol), v)),
                f,
                mode,
                false,
                s,
            );
            let label = format!("K={k} extreme #{i}");
            let out = check_case(&mut rig, &c, &label);
            if let (Some(w), Rounding::Truncate | Rounding::Nearest) = (want, mode) {
                assert!(out.iter().all(|&v| v == w), "{label} {mode}: {out}");
            }
        }
    }
    for mode in Rounding::ALL {
        let c = case(
            full(&mut rng, m, k),
            full(&mut rng, k, ncol),
            Some(full(&mut rng, m, ncol)),
            formats(15, 15, 12, 0),
            mode,
            false,
            s,
        );
        check_case(&mut rig, &c, &format!("K={k} random {mode}"));
    }
}

// ---------------------------------------------------------------- C_in, ReLU, transposes

#[test]
fn accumulate_init_with_and_without_relu() {
    let (mut rng, s) = rng("accumulate_init_with_and_without_relu", 0x5EED_0007);
    for n in [4, 8] {
        let mut rig = open(n);
        let (m, k, ncol) = (2 * n - 1, n + 2, n + 3);
        for (i, f) in [
            formats(8, 8, 8, 8),
            formats(12, 9, 5, 7),
            formats(4, 4, 8, 2),
        ]
        .into_iter()
        .enumerate()
        {
            let a = mat(&mut rng, m, k, -2000, 2000);
            let b = mat(&mut rng, k, ncol, -2000, 2000);
            let cin = full(&mut rng, m, ncol);
            for mode in Rounding::ALL {
                let mut outs = vec![];
                for relu in [false, true] {
                    let c = case(a.clone(), b.clone(), Some(cin.clone()), f, mode, relu, s);
                    let label = format!("n={n} C_in #{i} {mode} relu {relu}");
                    outs.push(check_case(&mut rig, &c, &label));
                }
                let (plain, relu) = (&outs[0], &outs[1]);
                assert!(plain.iter().any(|&v| v < 0), "n={n} #{i}: no negative");
                assert!(plain.iter().any(|&v| v > 0), "n={n} #{i}: no positive");
                // Same seed, same draws: ReLU only clamps.
                assert_eq!(relu, &plain.mapv(|v| v.max(0)), "n={n} #{i} {mode}");
            }
        }
    }
}

#[test]
fn transposed_operands() {
    let (mut rng, s) = rng("transposed_operands", 0x5EED_0008);
    for n in [4, 8] {
        let mut rig = open(n);
        let (m, k, ncol) = (n + 1, 2 * n + 1, 2 * n + 3);
        let a = mat(&mut rng, m, k, -4000, 4000);
        let b = mat(&mut rng, k, ncol, -4000, 4000);
        let cin = full(&mut rng, m, ncol);
        for mode in Rounding::ALL {
            let f = formats(9, 10, 6, 5);
            let base = case(a.clone(), b.clone(), Some(cin.clone()), f, mode, false, s);
            let want = check_case(&mut rig, &base, &format!("n={n} untransposed"));
            for (at, bt) in [(true, false), (false, true), (true, true)] {
                let mut c: Case = base.clone();
                c.opts.a_transposed = at;
                c.opts.b_transposed = bt;
                if at {
                    c.a = a.t().to_owned();
                }
                if bt {
                    c.b = b.t().to_owned();
                }
                let label = format!("n={n} A^T {at} B^T {bt}");
                let out = check_case(&mut rig, &c, &label);
                // The device sees the same words: even the draws agree.
                assert_eq!(out, want, "{label} {mode}: {}", c.describe());
            }
        }
    }
}

// ---------------------------------------------------------------- raw GEMMs on shared buffers

/// The first elements of each buffer, as the test believes the devices
/// hold them.
struct Shadow {
    rows: usize,
    cols: usize,
    bufs: [Vec<i16>; 3],
}

impl Shadow {
    /// Fills the first `len` elements of every buffer with random words,
    /// on the devices and here.
    fn fill(rig: &mut Rig, rng: &mut StdRng, len: usize) -> Shadow {
        let mut bufs: [Vec<i16>; 3] = Default::default();
        for (buf, v) in Buffer::ALL.into_iter().zip(bufs.iter_mut()) {
            *v = (0..len)
                .map(|_| rng.gen_range(-3000..=3000) * if rng.gen_bool(0.1) { 10 } else { 1 })
                .collect();
            rig.write(buf, 0, v)
                .unwrap_or_else(|e| panic!("write {buf:?}: {e}"));
        }
        Shadow {
            rows: rig.rows() as usize,
            cols: rig.cols() as usize,
            bufs,
        }
    }

    /// The GEMM in the protocol's order: tile rows, tile columns, rows of a
    /// tile; each output reads its C_in, then writes its result.
    fn gemm(&mut self, g: &Gemm) {
        assert_ne!(g.mode, Rounding::Stochastic);
        let (r, cl) = (self.rows, self.cols);
        let (mp, np) = (pad(g.m, r as u32) as usize, pad(g.ncol, cl as u32) as usize);
        let f = &g.formats;
        let [a, b, c] = &mut self.bufs;
        let (ab, bb, cb, ob) = (
            g.a_base as usize,
            g.b_base as usize,
            g.cin_base as usize,
            g.out_base as usize,
        );
        for ti in (0..mp).step_by(r) {
            for tj in (0..np).step_by(cl) {
                for i in ti..ti + r {
                    for j in tj..tj + cl {
                        let mut acc: i64 = (0..g.k as usize)
                            .map(|kk| a[ab + kk * mp + i] as i64 * b[bb + kk * np + j] as i64)
                            .sum();
                        if g.acc_init {
                            acc += (c[cb + i * np + j] as i64) << f.cin_align();
                        }
                        c[ob + i * np + j] = convert(acc, f.shift(), f.wl_out, g.mode, 0, g.relu);
                    }
                }
            }
        }
    }

    /// Runs `g` on the devices and here, then compares every shadowed
    /// element of buffer C (so nothing outside the output may change).
    fn run(&mut self, rig: &mut Rig, g: &Gemm, label: &str) {
        if let Err(e) = self.try_run(rig, g) {
            panic!("{label}: {e}");
        }
    }

    fn try_run(&mut self, rig: &mut Rig, g: &Gemm) -> Result<(), String> {
        if let Err(e) = rig.gemm(g) {
            return Err(format!("{g:?}\n  error: {e}\n  {}", divergence(rig)));
        }
        let len = self.bufs[2].len();
        let got = match rig.read(Buffer::C, 0, len) {
            Ok(got) => got,
            Err(e) => return Err(format!("{g:?}\n  read: {e}\n  {}", divergence(rig))),
        };
        if g.mode == Rounding::Stochastic {
            self.bufs[2] = got;
            return Ok(());
        }
        self.gemm(g);
        match (0..len).find(|&e| got[e] != self.bufs[2][e]) {
            Some(e) => Err(format!(
                "{g:?}\n  RTL and golden agree, but C[{e}] is {} where the protocol's \
                 order gives {}",
                got[e], self.bufs[2][e]
            )),
            None => Ok(()),
        }
    }
}

fn raw_gemm(n: usize, mode: Rounding, relu: bool, cin_base: u32, out_base: u32) -> Gemm {
    Gemm {
        m: 2 * n as u32 + 3,
        k: 5,
        ncol: n as u32 + 1,
        mode,
        relu,
        acc_init: true,
        a_transposed: false,
        b_transposed: false,
        b_from_c: false,
        masked: false,
        formats: formats(10, 9, 8, 8),
        a_base: 2 * n as u32,
        b_base: n as u32,
        cin_base,
        out_base,
    }
}

/// C = C + A x B in place (cin_base == out_base), repeatedly, with operands
/// at non-zero bases.
#[test]
fn in_place_update() {
    let (mut rng, s) = rng("in_place_update", 0x5EED_0009);
    for n in [4, 8] {
        let mut rig = open(n);
        rig.seed(s).unwrap();
        let mut shadow = Shadow::fill(&mut rig, &mut rng, 1024);
        let base = 8 * n as u32;
        let steps = [
            (Rounding::Truncate, false),
            (Rounding::Truncate, false),
            (Rounding::Nearest, true),
            (Rounding::Stochastic, false),
            (Rounding::Truncate, false),
            (Rounding::Stochastic, true),
            (Rounding::Nearest, false),
        ];
        for (i, (mode, relu)) in steps.into_iter().enumerate() {
            let g = raw_gemm(n, mode, relu, base, base);
            shadow.run(&mut rig, &g, &format!("n={n} in-place step {i} {mode}"));
        }
        assert!(
            shadow.bufs[2]
                .iter()
                .any(|&v| v == i16::MAX || v == i16::MIN),
            "n={n}: never saturated"
        );
    }
}

/// C_in and the output must be the same region or disjoint: a partial
/// overlap would let outputs read C_in that the same GEMM already
/// overwrote. Both devices reject it with the same status, and stay usable.
#[test]
fn partially_overlapping_cin_and_output_are_rejected() {
    let (mut rng, s) = rng(
        "partially_overlapping_cin_and_output_are_rejected",
        0x5EED_000A,
    );
    for n in [4, 8] {
        let np = pad(n as u32 + 1, n as u32);
        let cin_base = 16 * n as u32;
        let offsets: [i64; 6] = [
            np as i64,              // one row down
            -(np as i64),           // one row up
            n as i64,               // one tile column right
            -(n as i64),            // one tile column left
            (n as u32 * np) as i64, // one tile row down
            2 * np as i64,
        ];
        let mut rig = open(n);
        rig.seed(s).unwrap();
        let mut shadow = Shadow::fill(&mut rig, &mut rng, 1024);
        for off in offsets {
            for mode in Rounding::ALL {
                let out_base = (cin_base as i64 + off) as u32;
                let g = raw_gemm(n, mode, false, cin_base, out_base);
                match rig.gemm(&g) {
                    Err(DriverError::Device {
                        status: Status::BadAddress,
                        ..
                    }) => {}
                    other => panic!(
                        "n={n} out = C_in {off:+} {mode}: expected BadAddress, got {other:?}\n  {}",
                        divergence(&mut rig)
                    ),
                }
            }
        }
        // Still usable: an in-place GEMM right after matches the reference.
        let g = raw_gemm(n, Rounding::Stochastic, false, cin_base, cin_base);
        shadow
            .try_run(&mut rig, &g)
            .unwrap_or_else(|e| panic!("n={n}: in-place GEMM after rejections: {e}"));
    }
}

#[test]
fn counters_agree_and_count_the_work() {
    let (mut rng, s) = rng("counters_agree_and_count_the_work", 0x5EED_000B);
    let n = 8;
    let mut rig = open(n);
    let id = *rig.identity();
    let (mut macs, mut busy) = (0u64, 0u64);
    for t in 0..10 {
        let c = random_case(&mut rng, &id);
        check_case(&mut rig, &c, &format!("counters trial {t} (seed {s})"));
        // The driver splits nothing at these sizes: one GEMM per case (on
        // the device's operand paths or not).
        let g = c.gemm();
        macs += (c.m() * c.k() * c.ncol()) as u64;
        busy += gemm_busy_cycles(n as u32, n as u32, &g);
    }
    // Lockstep compares busy and MACs; cycles are the RTL's.
    let cnt = rig
        .counters()
        .unwrap_or_else(|e| panic!("counters: {e}\n  {}", divergence(&mut rig)));
    println!("counters: {cnt:?}, expected busy {busy}, macs {macs}");
    assert_eq!(cnt.macs, macs);
    assert_eq!(cnt.busy, busy);
    assert!(cnt.busy < cnt.cycles);
    assert!(cnt.cycles <= rig.link_mut().left.cycles());
}

/// The reference itself, on a hand-computed case, so that a wrong
/// reference cannot hide behind agreeing devices.
#[test]
fn reference_is_right_by_hand() {
    let a = Array2::from_shape_vec((1, 2), vec![3i16, -5]).unwrap();
    let b = Array2::from_shape_vec((2, 1), vec![7i16, 1]).unwrap();
    let cin = Array2::from_elem((1, 1), -1i16);
    let f = formats(1, 1, 1, 0); // acc = 21 - 5 - 2 = 14 quarters = 3.5
    let e = |mode, cin: Option<ArrayView2<i16>>| expected(a.view(), b.view(), cin, &f, mode, false);
    assert_eq!(e(Rounding::Truncate, Some(cin.view()))[[0, 0]], 3);
    assert_eq!(e(Rounding::Nearest, Some(cin.view()))[[0, 0]], 3); // tie down
    assert_eq!(e(Rounding::Truncate, None)[[0, 0]], 4); // 16 / 4
    let f = formats(0, 0, 0, 0);
    let neg = expected(a.view(), b.view(), None, &f, Rounding::Truncate, true);
    assert_eq!(neg[[0, 0]], 16);
}

/// Packed WRITEs and READs of every width, at odd starts and lengths, RTL
/// and golden in lockstep (every response word compared), against a flat
/// model of the buffers: values that fit a width survive it, values that
/// do not come back saturated, neighbours outside a region keep theirs,
/// and a packed transfer costs its share of link words.
#[test]
fn packed_transfers_match_golden() {
    let (mut rng, _) = rng("packed_transfers_match_golden", 0x5EED_7A01);
    for n in [4, 8] {
        let mut rig = open(n);
        assert_ne!(rig.features() & feature::PACKED, 0, "sim lines pack");
        let cap = rig.identity().buffer_elems as usize;
        let span = 600.min(cap);
        let mut model = vec![vec![0i16; span]; 3];
        for buf in Buffer::ALL {
            rig.write_as(buf, 0, &model[buf as usize], Width::W16)
                .unwrap();
        }
        for trial in 0..60 {
            let buf = Buffer::ALL[rng.gen_range(0..3)];
            let width = Width::ALL[rng.gen_range(0..3)];
            let start = rng.gen_range(0..span - 1);
            let len = rng.gen_range(1..=(span - start).min(200));
            let bits = width.bits();
            let lo = -(1i32 << (bits - 1)) as i16;
            let hi = ((1i32 << (bits - 1)) - 1) as i16;
            let label = format!("N={n} trial {trial}: {buf:?} {width:?} [{start}, +{len})");
            if rng.gen_bool(0.6) {
                let data: Vec<i16> = (0..len).map(|_| rng.gen_range(lo..=hi)).collect();
                let before = rig.traffic().sent;
                rig.write_as(buf, start as u32, &data, width)
                    .unwrap_or_else(|e| panic!("{label}: {e}; {}", divergence(&mut rig)));
                let sent = rig.traffic().sent - before;
                // Payload at n elements a word, plus two 16-bit ends of
                // under n elements (each up to four commands with its
                // read-modify-writes) and the body's header.
                let per = width.per_word() as u64;
                let payload = len as u64 / per;
                assert!(
                    sent <= payload + 2 + 2 * (10 + per / 2),
                    "{label}: {sent} words sent"
                );
                model[buf as usize][start..start + len].copy_from_slice(&data);
            } else {
                let got = rig
                    .read_as(buf, start as u32, len, width)
                    .unwrap_or_else(|e| panic!("{label}: {e}; {}", divergence(&mut rig)));
                // An independent reference: the middle saturates, the
                // unaligned ends travel at 16 bits.
                let per = width.per_word() as usize;
                let (b0, b1) = (start.next_multiple_of(per), (start + len) / per * per);
                let want: Vec<i16> = (start..start + len)
                    .map(|e| {
                        let x = model[buf as usize][e];
                        if e >= b0 && e < b1 {
                            x.clamp(lo, hi)
                        } else {
                            x
                        }
                    })
                    .collect();
                let first = got.iter().zip(&want).position(|(a, b)| a != b);
                assert_eq!(
                    first, None,
                    "{label}: first differing element (got vs model)"
                );
            }
        }
        // Values of every magnitude, stored at 16 bits and read packed:
        // what does not fit saturates.
        let wide: Vec<i16> = (0..64)
            .map(|i| ((i * 977) as i16).wrapping_mul(37))
            .collect();
        rig.write_as(Buffer::B, 0, &wide, Width::W16).unwrap();
        for width in [Width::W8, Width::W4] {
            let b = width.bits();
            let (lo, hi) = (-(1i32 << (b - 1)) as i16, ((1i32 << (b - 1)) - 1) as i16);
            let got = rig.read_as(Buffer::B, 0, 64, width).unwrap();
            let want: Vec<i16> = wide.iter().map(|x| x.clamp(&lo, &hi)).copied().collect();
            assert_eq!(got, want, "N={n}: {width:?} read of wide values");
        }
        println!(
            "N={n}: 60 packed transfers bit-exact, {} words sent, {} received",
            rig.traffic().sent,
            rig.traffic().received
        );
    }
}
