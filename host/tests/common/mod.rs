//! Test support shared by the integration tests: seeds, a naive reference
//! device state, and raw protocol helpers.
#![allow(dead_code)] // each test binary uses its own subset

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use srsa_host::golden::GoldenDevice;
use srsa_spec::lfsr::{column_state, Lfsr, POWER_UP_SEED};
use srsa_spec::numerics::{cin_term, convert, wrap_acc};
use srsa_spec::protocol::{pad, Gemm, Link};

/// The seed of a randomised test: SRSA_SEED if set, else `default`. Printed
/// so that a failure can be replayed.
pub fn seed(test: &str, default: u64) -> u64 {
    let seed = match std::env::var("SRSA_SEED") {
        Ok(s) => s
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

/// A device state kept by the tests themselves and updated by plain loops
/// over the spec's functions: the reference the golden device must match.
#[derive(Clone)]
pub struct Reference {
    pub rows: usize,
    pub cols: usize,
    /// A, B, C.
    pub bufs: [Vec<i16>; 3],
    pub lfsrs: Vec<Lfsr>,
}

impl Reference {
    pub fn new(n: usize, elems: usize) -> Reference {
        Reference::with_shape(n, n, elems)
    }

    pub fn with_shape(rows: usize, cols: usize, elems: usize) -> Reference {
        Reference {
            rows,
            cols,
            bufs: [vec![0; elems], vec![0; elems], vec![0; elems]],
            lfsrs: (0..cols)
                .map(|c| Lfsr::new(column_state(POWER_UP_SEED, c)))
                .collect(),
        }
    }

    pub fn seed(&mut self, seed: u64) {
        for (c, l) in self.lfsrs.iter_mut().enumerate() {
            *l = Lfsr::new(column_state(seed, c));
        }
    }

    /// The GEMM exactly as protocol.rs words it: tiles row-major, rows in a
    /// tile in order, one draw per output from its column's LFSR, each
    /// output reading its C_in just before writing its result.
    pub fn gemm(&mut self, g: &Gemm) {
        let (rows, cols) = (self.rows, self.cols);
        let (mp, np) = (
            pad(g.m, rows as u32) as usize,
            pad(g.ncol, cols as u32) as usize,
        );
        let [a, b, c] = &mut self.bufs;
        for ti in (0..mp).step_by(rows) {
            for tj in (0..np).step_by(cols) {
                for r in 0..rows {
                    for col in 0..cols {
                        let (i, j) = (ti + r, tj + col);
                        let mut acc = if g.acc_init {
                            cin_term(c[g.cin_base as usize + i * np + j], &g.formats)
                        } else {
                            0
                        };
                        for kk in 0..g.k as usize {
                            let x = a[g.a_base as usize + kk * mp + i] as i64;
                            let y = b[g.b_base as usize + kk * np + j] as i64;
                            acc = wrap_acc(acc + x * y);
                        }
                        let draw = self.lfsrs[col].draw();
                        c[g.out_base as usize + i * np + j] = convert(
                            acc,
                            g.formats.shift(),
                            g.formats.wl_out,
                            g.mode,
                            draw,
                            g.relu,
                        );
                    }
                }
            }
        }
    }
}

/// Sends a command to the golden device and returns all it answered.
pub fn exchange(d: &mut GoldenDevice, cmd: &[u32]) -> Vec<u32> {
    d.send(cmd).unwrap();
    let n = d.pending_output();
    d.recv(n, 0).unwrap()
}

/// Random words mixing full-range values, small values and the extremes,
/// so that products saturate at both ends in some outputs and not others.
pub fn words(rng: &mut StdRng, len: usize, amplitude: i32) -> Vec<i16> {
    (0..len)
        .map(|_| match rng.gen_range(0..16) {
            0 => i16::MIN,
            1 => i16::MAX,
            _ => rng
                .gen_range(-amplitude..=amplitude)
                .clamp(i16::MIN as i32, i16::MAX as i32) as i16,
        })
        .collect()
}
