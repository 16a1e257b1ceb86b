//! Shared support of the end-to-end tests: seeds, opening the simulated RTL
//! and the golden model in lockstep, and an independent reference for the
//! deterministic rounding modes.
#![allow(dead_code)] // each test binary uses its own subset

use ndarray::{Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::SeedableRng;
use srsa_host::cases::{run_case, Case};
use srsa_host::driver::{Driver, MatmulOpts};
use srsa_host::golden::GoldenDevice;
use srsa_host::lockstep::Lockstep;
use srsa_sim::SimDevice;
use srsa_spec::numerics::{convert, Formats, Rounding};

/// The RTL (left) and the golden model (right), every response word compared.
pub type Pair = Lockstep<SimDevice, GoldenDevice>;
pub type Rig = Driver<Pair>;

/// The seed of a randomised test: SRSA_SEED if set, else `default`. Always
/// printed, so that a failure can be replayed.
pub fn seed(test: &str, default: u64) -> u64 {
    let seed = match std::env::var("SRSA_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("SRSA_SEED={s:?} is not a u64")),
        Err(_) => default,
    };
    println!("{test}: seed {seed} (set SRSA_SEED to override)");
    seed
}

pub fn rng(test: &str, default: u64) -> (StdRng, u64) {
    let s = seed(test, default);
    (StdRng::seed_from_u64(s), s)
}

/// Elements per buffer of the simulated device with a rows x cols array:
/// the shape table's.
pub fn buffer_elems(rows: usize, cols: usize) -> u32 {
    srsa_sim::shape(rows, cols)
        .unwrap_or_else(|| panic!("no simulated {rows}x{cols} device in srsa_sim::SHAPES"))
        .buffer_elems
}

/// A golden model shaped like the simulated rows x cols device: the same
/// buffers and the same operand paths.
pub fn golden_like_sim(rows: usize, cols: usize) -> GoldenDevice {
    let s = srsa_sim::shape(rows, cols)
        .unwrap_or_else(|| panic!("no simulated {rows}x{cols} device in srsa_sim::SHAPES"));
    GoldenDevice::with_shape(rows, cols, s.buffer_elems).with_features(s.features)
}

/// The simulated RTL and a golden model of the same shape, in lockstep.
pub fn pair(rows: usize, cols: usize) -> Pair {
    let sim = SimDevice::with_shape(rows, cols)
        .unwrap_or_else(|e| panic!("cannot open the {rows}x{cols} RTL: {e}"));
    Lockstep::new(sim, golden_like_sim(rows, cols))
}

/// A driver over [`pair`] of an n x n array; the devices have already
/// agreed on IDENTIFY.
pub fn open(n: usize) -> Rig {
    open_shape(n, n)
}

/// A driver over [`pair`] of a rows x cols array.
pub fn open_shape(rows: usize, cols: usize) -> Rig {
    let d = Driver::new(pair(rows, cols))
        .unwrap_or_else(|e| panic!("{rows}x{cols}: IDENTIFY failed: {e}"));
    assert_eq!((d.rows() as usize, d.cols() as usize), (rows, cols));
    assert_eq!(d.identity().buffer_elems, buffer_elems(rows, cols));
    d
}

/// Where the lockstep stands, for failure messages.
pub fn divergence(rig: &mut Rig) -> String {
    match rig.link_mut().divergence() {
        Some(d) => format!("divergence: {d}"),
        None => "no divergence recorded".into(),
    }
}

pub fn case(
    a: Array2<i16>,
    b: Array2<i16>,
    cin: Option<Array2<i16>>,
    formats: Formats,
    mode: Rounding,
    relu: bool,
    seed: u64,
) -> Case {
    Case {
        a,
        b,
        cin,
        opts: MatmulOpts {
            formats,
            mode,
            relu,
            a_transposed: false,
            b_transposed: false,
        },
        seed,
        resident: None,
    }
}

/// A as M x K, whatever orientation the case hands it over in.
pub fn logical_a(c: &Case) -> Array2<i16> {
    if c.opts.a_transposed {
        c.a.t().to_owned()
    } else {
        c.a.clone()
    }
}

/// B as K x Ncol.
pub fn logical_b(c: &Case) -> Array2<i16> {
    if c.opts.b_transposed {
        c.b.t().to_owned()
    } else {
        c.b.clone()
    }
}

/// `convert(C_in aligned + A x B)` element by element, with plain i64 sums:
/// the expected result of a deterministic rounding mode, computed without
/// the golden model.
pub fn expected(
    a: ArrayView2<i16>,
    b: ArrayView2<i16>,
    cin: Option<ArrayView2<i16>>,
    f: &Formats,
    mode: Rounding,
    relu: bool,
) -> Array2<i16> {
    assert_ne!(mode, Rounding::Stochastic, "no independent reference");
    let (m, k) = a.dim();
    let ncol = b.ncols();
    assert_eq!(b.nrows(), k);
    let shift = (f.fl_a + f.fl_b - f.fl_out) as u32;
    let align = (f.fl_a + f.fl_b) as i64 - f.fl_c as i64;
    Array2::from_shape_fn((m, ncol), |(i, j)| {
        let mut acc: i64 = (0..k).map(|kk| a[[i, kk]] as i64 * b[[kk, j]] as i64).sum();
        if let Some(c) = cin {
            acc += (c[[i, j]] as i64) << align;
        }
        // The draw is ignored in the deterministic modes.
        convert(acc, shift, f.wl_out, mode, 0, relu)
    })
}

/// The expected result of a case in a deterministic mode (None in
/// stochastic mode).
pub fn expected_case(c: &Case) -> Option<Array2<i16>> {
    (c.opts.mode != Rounding::Stochastic).then(|| {
        expected(
            logical_a(c).view(),
            logical_b(c).view(),
            c.cin.as_ref().map(|x| x.view()),
            &c.opts.formats,
            c.opts.mode,
            c.opts.relu,
        )
    })
}

/// Runs a case on both devices in lockstep (seed, matmul, read of the whole
/// padded output region) and, in the deterministic modes, checks the result
/// against [`expected`]. Panics with the case's description on any failure.
pub fn check_case(rig: &mut Rig, c: &Case, label: &str) -> Array2<i16> {
    let out = match run_case(rig, c) {
        Ok(out) => out,
        Err(e) => panic!(
            "{label}: {}\n  error: {e}\n  {}",
            c.describe(),
            divergence(rig)
        ),
    };
    assert_eq!(out.dim(), (c.m(), c.ncol()), "{label}: {}", c.describe());
    if let Some(want) = expected_case(c) {
        if let Some(((i, j), _)) = out.indexed_iter().find(|&(ix, v)| *v != want[ix]) {
            panic!(
                "{label}: {}\n  RTL and golden agree, but output ({i}, {j}) is {} where \
                 the numerics spec gives {}",
                c.describe(),
                out[[i, j]],
                want[[i, j]]
            );
        }
    }
    out
}

/// A fresh directory under the system's temporary one, named after the
/// test and this process, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("srsa-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
