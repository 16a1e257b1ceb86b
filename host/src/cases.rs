//! Random GEMM cases for equivalence checks: shapes with their edge cases,
//! formats, modes, accumulate-init, transposes and saturating values.

use crate::driver::{Driver, DriverError, MatmulOpts};
use ndarray::Array2;
use rand::Rng;
use srsa_spec::numerics::{Formats, Rounding, MAX_FL, MAX_SHIFT};
use srsa_spec::protocol::{pad, Buffer, Identity, Link};

/// One GEMM to run on a device.
#[derive(Clone, Debug)]
pub struct Case {
    /// The operands as handed to the driver: A^T when `a_transposed`.
    pub a: Array2<i16>,
    pub b: Array2<i16>,
    pub cin: Option<Array2<i16>>,
    pub opts: MatmulOpts,
    pub seed: u64,
}

impl Case {
    pub fn m(&self) -> usize {
        if self.opts.a_transposed {
            self.a.ncols()
        } else {
            self.a.nrows()
        }
    }

    pub fn k(&self) -> usize {
        if self.opts.a_transposed {
            self.a.nrows()
        } else {
            self.a.ncols()
        }
    }

    pub fn ncol(&self) -> usize {
        if self.opts.b_transposed {
            self.b.nrows()
        } else {
            self.b.ncols()
        }
    }

    pub fn describe(&self) -> String {
        let f = &self.opts.formats;
        format!(
            "{}x{} by {}x{} {} FL a{} b{} c{} out{}{}{}{}{}",
            self.m(),
            self.k(),
            self.k(),
            self.ncol(),
            self.opts.mode,
            f.fl_a,
            f.fl_b,
            f.fl_c,
            f.fl_out,
            if self.cin.is_some() { " +C_in" } else { "" },
            if self.opts.relu { " relu" } else { "" },
            if self.opts.a_transposed { " A^T" } else { "" },
            if self.opts.b_transposed { " B^T" } else { "" },
        )
    }
}

/// A dimension: mostly small, with the edges (1, N - 1, N, N + 1) often.
fn dim(rng: &mut impl Rng, n: usize, max: usize) -> usize {
    let d = match rng.gen_range(0..6) {
        0 => 1,
        1 => n,
        2 => n + 1,
        3 => n.saturating_sub(1).max(1),
        _ => rng.gen_range(1..=max),
    };
    d.min(max)
}

/// Operand values of one of several kinds, so that both saturation ends,
/// tiny values (where rounding decides everything) and full-range words
/// all occur.
fn values(rng: &mut impl Rng, rows: usize, cols: usize) -> Array2<i16> {
    let kind = rng.gen_range(0..5);
    Array2::from_shape_simple_fn((rows, cols), || match kind {
        0 => rng.gen(),
        1 => rng.gen_range(-64..64),
        2 => rng.gen_range(16000..=i16::MAX),
        3 => rng.gen_range(i16::MIN..=-16000),
        _ => rng.gen_range(-3000..3000),
    })
}

/// A random case that fits a device with identity `id`.
pub fn random_case(rng: &mut impl Rng, id: &Identity) -> Case {
    let n = id.rows as usize;
    let cap = id.buffer_elems as usize;
    let m = dim(rng, n, 3 * n);
    let ncol = dim(rng, n, 3 * n);
    let kmax = (cap / pad(m as u32, n as u32) as usize)
        .min(cap / pad(ncol as u32, n as u32) as usize)
        .min(96);
    let k = if rng.gen_bool(0.2) {
        1
    } else {
        rng.gen_range(1..=kmax)
    };
    // Mostly the classic <IL, FL> range, sometimes the wide formats
    // (FL > 15) that scaled gradients and learning-rate shifts use.
    let top = if rng.gen_bool(0.3) { MAX_FL } else { 15 };
    let fl_a = rng.gen_range(0..=top);
    // FL_a + FL_b may exceed `top` by at most MAX_SHIFT, or no output FL
    // in 0..=top is reachable by a legal shift.
    let fl_b = rng.gen_range(0..=top.min(top + MAX_SHIFT as u8 - fl_a));
    let fl_ab = fl_a + fl_b;
    let lowest = fl_ab.saturating_sub(MAX_SHIFT as u8);
    let fl_out = rng.gen_range(lowest..=fl_ab.min(top));
    let fl_c = rng.gen_range(lowest..=fl_ab.min(top));
    let opts = MatmulOpts {
        formats: Formats {
            fl_a,
            fl_b,
            fl_c,
            fl_out,
        },
        mode: Rounding::ALL[rng.gen_range(0..3)],
        relu: rng.gen_bool(0.2),
        a_transposed: rng.gen_bool(0.3),
        b_transposed: rng.gen_bool(0.3),
    };
    let a = if opts.a_transposed {
        values(rng, k, m)
    } else {
        values(rng, m, k)
    };
    let b = if opts.b_transposed {
        values(rng, ncol, k)
    } else {
        values(rng, k, ncol)
    };
    let cin = rng.gen_bool(0.4).then(|| values(rng, m, ncol));
    Case {
        a,
        b,
        cin,
        opts,
        seed: rng.gen(),
    }
}

/// Runs a case: seeds the LFSRs, multiplies, and also reads back the whole
/// padded output region, so that padding rows and columns are compared too.
pub fn run_case<L: Link>(driver: &mut Driver<L>, case: &Case) -> Result<Array2<i16>, DriverError> {
    driver.seed(case.seed)?;
    let out = driver.matmul(
        case.a.view(),
        case.b.view(),
        case.cin.as_ref().map(|c| c.view()),
        &case.opts,
    )?;
    let n = driver.identity().rows;
    let region = pad(case.m() as u32, n) * pad(case.ncol() as u32, n);
    driver.read(Buffer::C, 0, region as usize)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use srsa_spec::protocol::VERSION;

    /// Every generated case has formats the device accepts, including the
    /// wide corners (FL_a = FL_b = 31) that once drew from an empty range.
    #[test]
    fn random_cases_are_well_formed() {
        let seed = 1;
        println!("seed {seed}");
        let mut rng = StdRng::seed_from_u64(seed);
        let id = Identity {
            version: VERSION,
            rows: 4,
            cols: 4,
            word_bits: 16,
            acc_bits: 48,
            buffer_elems: 4 << 14,
            features: 0,
        };
        for i in 0..20_000 {
            let c = random_case(&mut rng, &id);
            assert!(
                c.opts.formats.validate(c.cin.is_some()).is_ok(),
                "case {i}: {}",
                c.describe()
            );
        }
    }
}
