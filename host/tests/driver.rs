//! The driver over the golden device: transfers, errors, seeding, counters
//! and whole matrix products (transposed operands, chunking).

mod common;

use common::{rng, words, Reference};
use ndarray::{s, Array2, ArrayView2};
use rand::Rng;
use srsa_host::driver::{Driver, DriverError, MatmulOpts};
use srsa_host::golden::GoldenDevice;
use srsa_spec::lfsr::{column_state, Lfsr};
use srsa_spec::numerics::{cin_term, convert, Formats, Rounding};
use srsa_spec::protocol::{op, pad, status_word, Buffer, Gemm, Link, LinkError, Status};

fn driver(n: usize, elems: u32) -> Driver<GoldenDevice> {
    Driver::new(GoldenDevice::new(n, elems)).unwrap()
}

/// Array shapes the matmul tests run on: square and rectangular both ways.
const SHAPES: [(usize, usize); 5] = [(2, 2), (4, 4), (8, 8), (2, 4), (8, 2)];

fn random_matrix(rng: &mut rand::rngs::StdRng, rows: usize, cols: usize, amp: i32) -> Array2<i16> {
    Array2::from_shape_vec((rows, cols), words(rng, rows * cols, amp)).unwrap()
}

#[test]
fn new_identifies_the_device() {
    let d = driver(8, 1 << 12);
    assert_eq!((d.rows(), d.cols()), (8, 8));
    assert_eq!(d.identity().buffer_elems, 1 << 12);
}

#[test]
fn write_read_round_trip_with_odd_ends() {
    let (mut rng, _) = rng("write_read_round_trip_with_odd_ends", 0x5EED_0101);
    let mut d = driver(4, 256);
    let mut shadow = words(&mut rng, 256, 32767);
    d.write(Buffer::B, 0, &shadow).unwrap();
    for _ in 0..200 {
        let addr = rng.gen_range(0..256u32);
        let len = rng.gen_range(0..=(256 - addr) as usize);
        if rng.gen_bool(0.5) {
            let data = words(&mut rng, len, 32767);
            d.write(Buffer::B, addr, &data).unwrap();
            shadow[addr as usize..addr as usize + len].copy_from_slice(&data);
        }
        let got = d.read(Buffer::B, addr, len).unwrap();
        assert_eq!(
            got,
            &shadow[addr as usize..addr as usize + len],
            "{addr}+{len}"
        );
    }
    // The neighbours of every odd-ended write kept their values.
    assert_eq!(d.read(Buffer::B, 0, 256).unwrap(), shadow);
    assert_eq!(d.link_mut().buffer(Buffer::B), &shadow[..]);
}

#[test]
fn device_errors_become_clear_driver_errors_and_the_device_stays_usable() {
    let mut d = driver(4, 256);
    let err = d.write(Buffer::C, 250, &[1; 8]).unwrap_err();
    assert!(
        matches!(
            err,
            DriverError::Device {
                op: "WRITE",
                status: Status::BadAddress
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "device rejected WRITE: address misaligned or out of range"
    );
    let err = d.read(Buffer::A, 0, 300).unwrap_err();
    assert!(matches!(
        err,
        DriverError::Device {
            op: "READ",
            status: Status::BadAddress
        }
    ));
    let g = Gemm {
        m: 4,
        k: 4,
        ncol: 4,
        mode: Rounding::Nearest,
        relu: false,
        acc_init: false,
        a_transposed: false,
        b_transposed: false,
        b_from_c: false,
        masked: false,
        formats: Formats::new(2, 2, 0, 5),
        a_base: 0,
        b_base: 0,
        cin_base: 0,
        out_base: 0,
    };
    let err = d.gemm(&g).unwrap_err();
    assert!(matches!(
        err,
        DriverError::Device {
            op: "GEMM",
            status: Status::BadFormat
        }
    ));
    d.gemm(&Gemm {
        formats: Formats::uniform(2),
        ..g
    })
    .unwrap();
    d.write(Buffer::A, 0, &[7, 8]).unwrap();
    assert_eq!(d.read(Buffer::A, 0, 2).unwrap(), [7, 8]);
}

/// A link that garbles or withholds responses, to see the driver refuse them.
struct Faulty {
    inner: GoldenDevice,
    fault: fn(Vec<u32>) -> Vec<u32>,
}

impl Link for Faulty {
    fn send(&mut self, words: &[u32]) -> Result<(), LinkError> {
        self.inner.send(words)
    }
    fn recv(&mut self, n: usize, max_cycles: u64) -> Result<Vec<u32>, LinkError> {
        let w = self.inner.recv(n, max_cycles)?;
        Ok((self.fault)(w))
    }
    fn name(&self) -> String {
        "faulty".into()
    }
}

#[test]
fn protocol_violations_are_errors_not_panics() {
    let mut d = driver(4, 256);
    // The device answers COUNTERS where the driver expects a READ status.
    d.link_mut()
        .send(&[srsa_spec::protocol::header(op::COUNTERS, 0)])
        .unwrap();
    let err = d.read(Buffer::A, 0, 2).unwrap_err();
    match err {
        DriverError::Protocol {
            expected_op,
            got_word,
        } => {
            assert_eq!(expected_op, op::READ);
            assert_eq!(got_word, status_word(op::COUNTERS, Status::Ok));
        }
        e => panic!("{e}"),
    }

    // A status word with an unknown code or stray low bits.
    for fault in [
        (|mut w: Vec<u32>| {
            w[0] |= 0x42 << 16;
            w
        }) as fn(Vec<u32>) -> Vec<u32>,
        |mut w| {
            w[0] |= 1;
            w
        },
    ] {
        let err = Driver::new(Faulty {
            inner: GoldenDevice::new(4, 256),
            fault,
        })
        .err()
        .unwrap();
        assert!(
            matches!(
                err,
                DriverError::Protocol {
                    expected_op: op::IDENTIFY,
                    ..
                }
            ),
            "{err}"
        );
    }
    // A peer that echoes what it receives (a loopback, a terminal) is
    // named as such, not taken for a device answering OK.
    struct Echo(Vec<u32>);
    impl Link for Echo {
        fn send(&mut self, words: &[u32]) -> Result<(), LinkError> {
            self.0.extend(words);
            Ok(())
        }
        fn recv(&mut self, n: usize, _max: u64) -> Result<Vec<u32>, LinkError> {
            let n = n.min(self.0.len());
            Ok(self.0.drain(..n).collect())
        }
        fn name(&self) -> String {
            "echo".into()
        }
    }
    let err = Driver::new(Echo(vec![])).err().unwrap();
    assert!(
        matches!(err, DriverError::Unsupported(_)) && err.to_string().contains("echoes"),
        "{err}"
    );
    // A link that returns fewer words than asked.
    let err = Driver::new(Faulty {
        inner: GoldenDevice::new(4, 256),
        fault: |w| w[..0].to_vec(),
    })
    .err()
    .unwrap();
    assert!(matches!(err, DriverError::Link(LinkError::Io(_))), "{err}");
    // A device that never answers: a timeout surfaces as an error.
    let mut d = driver(4, 256);
    let err = d.link_mut().recv(1, 10).unwrap_err();
    assert!(matches!(err, LinkError::Timeout { wanted: 1, got: 0 }));
}

#[test]
fn seed_sets_every_column_by_the_host_rule() {
    let mut d = driver(8, 256);
    d.seed(42).unwrap();
    let want: Vec<Lfsr> = (0..8).map(|c| Lfsr::new(column_state(42, c))).collect();
    assert_eq!(d.link_mut().lfsrs(), &want[..]);
}

#[test]
fn counters_count_useful_macs() {
    let mut d = driver(4, 4096);
    let a = Array2::<i16>::ones((5, 7));
    let b = Array2::<i16>::ones((7, 3));
    d.matmul(
        a.view(),
        b.view(),
        None,
        &MatmulOpts::new(Formats::uniform(0), Rounding::Truncate),
    )
    .unwrap();
    let c = d.counters().unwrap();
    assert_eq!(c.macs, 5 * 7 * 3);
    assert!(c.busy > 0);
}

/// The device's layouts built by hand, then the reference GEMM: what one
/// unchunked `matmul` must return, draw for draw.
fn reference_matmul(
    (rows, cols): (usize, usize),
    seed: u64,
    a: ArrayView2<i16>,
    b: ArrayView2<i16>,
    cin: Option<ArrayView2<i16>>,
    opts: &MatmulOpts,
) -> Array2<i16> {
    let ((m, k), ncol) = (a.dim(), b.ncols());
    let (mp, np) = (
        pad(m as u32, rows as u32) as usize,
        pad(ncol as u32, cols as u32) as usize,
    );
    let elems = (k * mp).max(k * np).max(mp * np);
    let mut r = Reference::with_shape(rows, cols, elems);
    r.seed(seed);
    for i in 0..m {
        for kk in 0..k {
            r.bufs[0][kk * mp + i] = a[[i, kk]];
        }
    }
    for kk in 0..k {
        for j in 0..ncol {
            r.bufs[1][kk * np + j] = b[[kk, j]];
        }
    }
    if let Some(c) = cin {
        for i in 0..m {
            for j in 0..ncol {
                r.bufs[2][i * np + j] = c[[i, j]];
            }
        }
    }
    r.gemm(&Gemm {
        m: m as u32,
        k: k as u32,
        ncol: ncol as u32,
        mode: opts.mode,
        relu: opts.relu,
        acc_init: cin.is_some(),
        a_transposed: false,
        b_transposed: false,
        b_from_c: false,
        masked: false,
        formats: opts.formats,
        a_base: 0,
        b_base: 0,
        cin_base: 0,
        out_base: 0,
    });
    Array2::from_shape_fn((m, ncol), |(i, j)| r.bufs[2][i * np + j])
}

#[test]
fn matmul_with_transposes_matches_the_reference_bit_for_bit() {
    let (mut rng, seed) = rng("matmul_with_transposes_matches_the_reference", 0x5EED_0102);
    for case in 0..30 {
        let shape = SHAPES[case % SHAPES.len()];
        let (m, k, ncol) = (
            rng.gen_range(1..30),
            rng.gen_range(1..60),
            rng.gen_range(1..30),
        );
        let amp = [32767, 500][case % 2];
        let a = random_matrix(&mut rng, m, k, amp);
        let b = random_matrix(&mut rng, k, ncol, amp);
        let cin = random_matrix(&mut rng, m, ncol, amp);
        let fl_ab = rng.gen_range(0..=15u8);
        let opts = MatmulOpts {
            formats: Formats::new(
                fl_ab,
                15 - fl_ab,
                rng.gen_range(0..=15),
                rng.gen_range(0..=15),
            ),
            mode: Rounding::ALL[case % 3],
            relu: case % 5 == 0,
            a_transposed: case % 4 >= 2,
            b_transposed: case % 2 == 1,
        };
        let with_cin = case % 3 != 1;
        let cin_view = with_cin.then(|| cin.view());
        let want = reference_matmul(shape, seed, a.view(), b.view(), cin_view, &opts);
        let mut d = Driver::new(GoldenDevice::with_shape(shape.0, shape.1, 1 << 14)).unwrap();
        d.seed(seed).unwrap();
        let (a_in, b_in) = (
            if opts.a_transposed {
                a.t().to_owned()
            } else {
                a.clone()
            },
            if opts.b_transposed {
                b.t().to_owned()
            } else {
                b.clone()
            },
        );
        let got = d.matmul(a_in.view(), b_in.view(), cin_view, &opts).unwrap();
        assert_eq!(got, want, "case {case}: {shape:?} {m}x{k}x{ncol} {opts:?}");
    }
}

/// Exact real-valued rounding bounds of one output: (floor, ceil) in output
/// LSBs, saturated; truncate and nearest determined exactly.
fn exact_outputs(
    a: ArrayView2<i16>,
    b: ArrayView2<i16>,
    cin: Option<ArrayView2<i16>>,
    opts: &MatmulOpts,
) -> [Array2<i16>; 3] {
    let (m, ncol) = (a.nrows(), b.ncols());
    let acc = |i: usize, j: usize| -> i64 {
        let c = cin.map_or(0, |c| cin_term(c[[i, j]], &opts.formats));
        c + (0..a.ncols())
            .map(|kk| a[[i, kk]] as i64 * b[[kk, j]] as i64)
            .sum::<i64>()
    };
    let sh = opts.formats.shift();
    let f = |mode, draw| {
        Array2::from_shape_fn((m, ncol), |(i, j)| {
            convert(acc(i, j), sh, opts.formats.wl_out, mode, draw, opts.relu)
        })
    };
    // A draw of all ones rounds every inexact value up: the ceiling.
    [
        f(Rounding::Truncate, 0),
        f(Rounding::Nearest, 0),
        f(Rounding::Stochastic, u32::MAX),
    ]
}

#[test]
fn chunked_matmul_is_exact_where_rounding_is_deterministic() {
    let (mut rng, seed) = rng("chunked_matmul", 0x5EED_0103);
    // 512 elements: with K = 20 an A chunk holds at most 24 rows (n = 4).
    let mut d = driver(4, 512);
    let (m, k, ncol) = (37, 20, 29);
    assert!(
        40 * k > 512 && 32 * k > 512,
        "the operands must not fit whole"
    );
    let a = random_matrix(&mut rng, m, k, 3000);
    let b = random_matrix(&mut rng, k, ncol, 3000);
    let cin = random_matrix(&mut rng, m, ncol, 3000);
    let formats = Formats::new(6, 7, 4, 5);
    for (with_cin, relu) in [(false, false), (true, true), (true, false)] {
        let c = with_cin.then(|| cin.view());
        let base = MatmulOpts {
            relu,
            ..MatmulOpts::new(formats, Rounding::Truncate)
        };
        let [trunc, near, ceil] = exact_outputs(a.view(), b.view(), c, &base);
        for (a_t, b_t) in [(false, false), (true, true)] {
            let a_in = if a_t { a.t().to_owned() } else { a.clone() };
            let b_in = if b_t { b.t().to_owned() } else { b.clone() };
            let opts = MatmulOpts {
                a_transposed: a_t,
                b_transposed: b_t,
                ..base
            };
            let run = |d: &mut Driver<GoldenDevice>, mode| {
                d.matmul(a_in.view(), b_in.view(), c, &MatmulOpts { mode, ..opts })
                    .unwrap()
            };
            assert_eq!(run(&mut d, Rounding::Truncate), trunc);
            assert_eq!(run(&mut d, Rounding::Nearest), near);
            // Stochastic: between floor and ceiling, and reproducible.
            d.seed(seed).unwrap();
            let s1 = run(&mut d, Rounding::Stochastic);
            d.seed(seed).unwrap();
            let s2 = run(&mut d, Rounding::Stochastic);
            assert_eq!(s1, s2, "same seed, same result");
            d.seed(seed ^ 1).unwrap();
            let s3 = run(&mut d, Rounding::Stochastic);
            assert_ne!(s1, s3, "another seed changes some roundings");
            for ((&x, &lo), &hi) in s1.iter().zip(&trunc).zip(&ceil) {
                assert!(lo <= x && x <= hi, "{lo} <= {x} <= {hi}");
            }
            assert!(s1.iter().zip(&trunc).any(|(x, t)| x != t));
        }
    }
    // Chunking adds no work: the MACs are those of the 30 products.
    let c = d.counters().unwrap();
    assert_eq!(c.macs, 30 * (m * k * ncol) as u64);
}

#[test]
fn chunks_never_exceed_the_buffers() {
    // Shapes at the edges of the plan: K = 1 (buffer C bounds the chunk),
    // K at the limit (one n-row slice per chunk), a long thin B.
    let (mut rng, _) = rng("chunks_never_exceed_the_buffers", 0x5EED_0104);
    for ((r, c), elems, m, k, ncol) in [
        ((2, 2), 64, 30, 1, 40),
        ((4, 4), 256, 9, 64, 7),
        ((2, 2), 128, 5, 3, 70),
        ((2, 4), 128, 30, 1, 40),
        ((2, 4), 256, 9, 64, 7),
        ((8, 2), 128, 5, 16, 70),
    ] {
        let mut d = Driver::new(GoldenDevice::with_shape(r, c, elems)).unwrap();
        let a = random_matrix(&mut rng, m, k, 100);
        let b = random_matrix(&mut rng, k, ncol, 100);
        let opts = MatmulOpts::new(Formats::uniform(0), Rounding::Truncate);
        let got = d.matmul(a.view(), b.view(), None, &opts).unwrap();
        let [trunc, _, _] = exact_outputs(a.view(), b.view(), None, &opts);
        assert_eq!(got, trunc, "{r}x{c} elems={elems} {m}x{k}x{ncol}");
    }
}

#[test]
fn too_large_and_invalid_products_are_refused() {
    let mut d = driver(4, 256);
    let opts = MatmulOpts::new(Formats::uniform(4), Rounding::Nearest);
    let a = Array2::<i16>::zeros((4, 65));
    let b = Array2::<i16>::zeros((65, 4));
    let err = d.matmul(a.view(), b.view(), None, &opts).unwrap_err();
    assert!(matches!(err, DriverError::TooLarge(_)), "{err}");
    assert!(err.to_string().contains("max K = 64"), "{err}");
    // K = 64 just fits.
    let ok = d
        .matmul(a.slice(s![.., ..64]), b.slice(s![..64, ..]), None, &opts)
        .unwrap();
    assert_eq!(ok.dim(), (4, 4));
    let err = d.matmul(a.view(), b.t(), None, &opts).unwrap_err();
    assert!(matches!(err, DriverError::InvalidArgument(_)), "{err}");
    let bad = MatmulOpts::new(
        Formats {
            fl_out: 9,
            ..Formats::uniform(4)
        },
        Rounding::Nearest,
    );
    let err = d.matmul(a.view(), b.view(), None, &bad).unwrap_err();
    assert!(err.to_string().contains("formats"), "{err}");
    let empty = d
        .matmul(a.slice(s![..0, ..]), b.view(), None, &opts)
        .unwrap();
    assert_eq!(empty.dim(), (0, 4));
}
