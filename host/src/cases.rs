//! Random GEMM cases for equivalence checks: shapes with their edge cases,
//! formats, modes, accumulate-init, transposes and saturating values, and,
//! on a device with operand paths (protocol v3), GEMMs that read A or B
//! transposed or B from buffer C, with operands wherever they fit.

use crate::driver::{Driver, DriverError, MatmulOpts};
use ndarray::{s, Array2, ArrayView2};
use rand::Rng;
use srsa_spec::numerics::{Formats, Rounding, MAX_FL, MAX_SHIFT, MIN_WL, WL};
use srsa_spec::protocol::{
    a_layout, b_layout, feature, operand_lengths, pad, Buffer, Gemm, Identity, Link,
};

/// A GEMM run on the device's own operand paths: the operands are laid
/// out as the paths read them, at these bases, and one GEMM command runs
/// (the driver's `matmul` always uses the default layouts at base 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resident {
    pub a_transposed: bool,
    pub b_transposed: bool,
    /// B is written into buffer C, at `b_base`, apart from the output.
    pub b_from_c: bool,
    pub a_base: u32,
    pub b_base: u32,
    /// The output region, and C_in's (in place) when there is one.
    pub out_base: u32,
}

/// One GEMM to run on a device.
#[derive(Clone, Debug)]
pub struct Case {
    /// The operands as handed to the driver: A^T when `a_transposed`.
    pub a: Array2<i16>,
    pub b: Array2<i16>,
    pub cin: Option<Array2<i16>>,
    pub opts: MatmulOpts,
    pub seed: u64,
    /// Run through the device's operand paths rather than `matmul`.
    pub resident: Option<Resident>,
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

    /// A as M x K, whatever orientation the case hands it over in.
    pub fn logical_a(&self) -> ArrayView2<'_, i16> {
        if self.opts.a_transposed {
            self.a.t()
        } else {
            self.a.view()
        }
    }

    /// B as K x Ncol.
    pub fn logical_b(&self) -> ArrayView2<'_, i16> {
        if self.opts.b_transposed {
            self.b.t()
        } else {
            self.b.view()
        }
    }

    /// The GEMM command the case comes to when the device runs it as one
    /// (cases small enough for `matmul` not to split, or resident ones).
    pub fn gemm(&self) -> Gemm {
        let r = self.resident.unwrap_or_default();
        Gemm {
            m: self.m() as u32,
            k: self.k() as u32,
            ncol: self.ncol() as u32,
            mode: self.opts.mode,
            relu: self.opts.relu,
            acc_init: self.cin.is_some(),
            a_transposed: r.a_transposed,
            b_transposed: r.b_transposed,
            b_from_c: r.b_from_c,
            masked: false,
            formats: self.opts.formats,
            a_base: r.a_base,
            b_base: r.b_base,
            cin_base: r.out_base,
            out_base: r.out_base,
        }
    }

    pub fn describe(&self) -> String {
        let f = &self.opts.formats;
        let paths = match self.resident {
            None => String::new(),
            Some(r) => format!(
                " on the device's paths{}{}{} (A at {}, B at {}, out at {})",
                if r.a_transposed { " A-rows" } else { "" },
                if r.b_transposed { " B-columns" } else { "" },
                if r.b_from_c { " B-from-C" } else { "" },
                r.a_base,
                r.b_base,
                r.out_base
            ),
        };
        format!(
            "{}x{} by {}x{} {} FL a{} b{} c{} out{}{}{}{}{}{paths}",
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

/// An output word length: full width half the time (the common case, and
/// the one that exercises 16-bit saturation), any other the rest on a
/// device that has narrow outputs.
fn random_wl(rng: &mut impl Rng, id: &Identity) -> u8 {
    if id.features & feature::WORD_LENGTH == 0 || rng.gen_bool(0.5) {
        WL as u8
    } else {
        rng.gen_range(MIN_WL..WL as u8)
    }
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
        formats: Formats::new(fl_a, fl_b, fl_c, fl_out).with_wl(random_wl(rng, id)),
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
    let mut cin = rng.gen_bool(0.4).then(|| values(rng, m, ncol));
    let resident = if id.features != 0 && rng.gen_bool(0.5) {
        random_resident(rng, id, m as u32, k as u32, ncol as u32)
    } else {
        None
    };
    if resident.is_some_and(|r| r.b_from_c) {
        cin = None; // C's read port feeds B
    }
    Case {
        a,
        b,
        cin,
        opts,
        seed: rng.gen(),
        resident,
    }
}

/// Paths (at least one, of those the device has) and bases for an M x K by
/// K x Ncol GEMM: A and B wherever their padded regions fit, the output
/// before or after B (a few tiles apart or adjacent) when both are in
/// buffer C. None if the regions do not fit the buffers.
fn random_resident(
    rng: &mut impl Rng,
    id: &Identity,
    m: u32,
    k: u32,
    ncol: u32,
) -> Option<Resident> {
    let has = |f: u32| id.features & f != 0;
    let mut r = Resident::default();
    while !(r.a_transposed || r.b_transposed || r.b_from_c) {
        r.a_transposed = has(feature::A_TRANSPOSED) && rng.gen_bool(0.5);
        r.b_transposed = has(feature::B_TRANSPOSED) && rng.gen_bool(0.5);
        r.b_from_c = has(feature::B_FROM_C) && rng.gen_bool(0.4);
    }
    let (rows, cols, cap) = (id.rows, id.cols, id.buffer_elems as u64);
    let g = Gemm {
        a_transposed: r.a_transposed,
        b_transposed: r.b_transposed,
        ..blank_gemm(m, k, ncol)
    };
    let (a_len, b_len) = operand_lengths(&g, rows, cols);
    let out_len = (pad(m, rows) * pad(ncol, cols)) as u64;
    let out_first = r.b_from_c && rng.gen_bool(0.5);
    // A few units of `align` in front of a region, if there is room.
    let mut skip = |align: u32, room: u64| -> u32 {
        let most = (room / align as u64).min(8) as u32;
        align * rng.gen_range(0..=most)
    };
    r.a_base = skip(rows, cap.checked_sub(a_len)?);
    if r.b_from_c {
        // Both in buffer C: one region, then (adjacent or a few tiles on)
        // the other.
        let room = cap.checked_sub(b_len + out_len)?;
        let (first, second) = if out_first {
            (out_len, b_len)
        } else {
            (b_len, out_len)
        };
        let start = skip(cols, room / 2);
        let next = pad(start + first as u32, cols) + skip(cols, room / 2);
        debug_assert!(next as u64 + second <= cap);
        (r.b_base, r.out_base) = if out_first {
            (next, start)
        } else {
            (start, next)
        };
    } else {
        r.b_base = skip(cols, cap.checked_sub(b_len)?);
        r.out_base = skip(cols, cap.checked_sub(out_len)?);
    }
    Some(r)
}

fn blank_gemm(m: u32, k: u32, ncol: u32) -> Gemm {
    Gemm::plain(m, k, ncol, Rounding::Truncate, Formats::uniform(0))
}

/// Runs a case: seeds the LFSRs, multiplies, and also reads back the whole
/// padded output region, so that padding rows and columns are compared too.
pub fn run_case<L: Link>(driver: &mut Driver<L>, case: &Case) -> Result<Array2<i16>, DriverError> {
    driver.seed(case.seed)?;
    if let Some(r) = case.resident {
        return run_resident(driver, case, &r);
    }
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

/// One GEMM on the device's operand paths: A and B written in the layouts
/// of `srsa_spec::protocol::a_layout`/`b_layout` (zero padding) at the
/// case's bases, B into buffer C when it is read from there, C_in in place
/// at the output; the whole padded output region read back.
fn run_resident<L: Link>(
    driver: &mut Driver<L>,
    case: &Case,
    r: &Resident,
) -> Result<Array2<i16>, DriverError> {
    let (rows, cols) = (driver.rows(), driver.cols());
    let g = case.gemm();
    let (m, k, ncol) = (case.m(), case.k(), case.ncol());
    let (mp, np) = (pad(g.m, rows) as usize, pad(g.ncol, cols) as usize);
    let (a_len, b_len) = operand_lengths(&g, rows, cols);
    let (a, b) = (case.logical_a(), case.logical_b());
    let (at, bt) = (a_layout(&g, rows), b_layout(&g, cols));
    let mut abuf = vec![0i16; a_len as usize];
    let mut bbuf = vec![0i16; b_len as usize];
    for kk in 0..k {
        for i in 0..m {
            abuf[at(i as u32, kk as u32) as usize] = a[[i, kk]];
        }
        for j in 0..ncol {
            bbuf[bt(kk as u32, j as u32) as usize] = b[[kk, j]];
        }
    }
    driver.write(Buffer::A, r.a_base, &abuf)?;
    let b_buffer = if r.b_from_c { Buffer::C } else { Buffer::B };
    driver.write(b_buffer, r.b_base, &bbuf)?;
    if let Some(c) = &case.cin {
        let mut cbuf = Array2::<i16>::zeros((mp, np));
        cbuf.slice_mut(s![..m, ..ncol]).assign(c);
        driver.write(
            Buffer::C,
            r.out_base,
            cbuf.as_slice().expect("fresh arrays are contiguous"),
        )?;
    }
    driver.gemm(&g)?;
    let res = driver.read(Buffer::C, r.out_base, mp * np)?;
    let res = ArrayView2::from_shape((mp, np), &res).expect("read length");
    Ok(res.slice(s![..m, ..ncol]).to_owned())
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
            assert_eq!(c.resident, None, "case {i}: no paths on this device");
        }
    }

    /// On a device with the operand paths, about half the cases use them,
    /// every path and K below and above the sides occur, and every such
    /// GEMM is one the device accepts (on a small buffer too).
    #[test]
    fn resident_cases_use_every_path_and_are_accepted() {
        use srsa_spec::protocol::{decode_gemm, encode_gemm};
        let seed = 2;
        println!("seed {seed}");
        let mut rng = StdRng::seed_from_u64(seed);
        for (rows, cols, elems) in [(4, 4, 4 << 14), (2, 4, 4 << 14), (8, 16, 1 << 12)] {
            let id = Identity {
                version: VERSION,
                rows,
                cols,
                word_bits: 16,
                acc_bits: 48,
                buffer_elems: elems,
                features: feature::ALL,
            };
            let mut seen = [0usize; 6];
            for i in 0..5_000 {
                let c = random_case(&mut rng, &id);
                let Some(r) = c.resident else { continue };
                let g = c.gemm();
                let w = encode_gemm(&g);
                assert_eq!(
                    decode_gemm(&w, rows, cols, elems, feature::ALL),
                    Ok(g),
                    "case {i} on {rows}x{cols}: {}",
                    c.describe()
                );
                assert!(!(r.b_from_c && c.cin.is_some()));
                for (n, hit) in [
                    r.a_transposed,
                    r.b_transposed,
                    r.b_from_c,
                    g.k < rows,
                    g.k % rows.max(cols) != 0,
                    r.b_from_c && r.out_base < r.b_base,
                ]
                .into_iter()
                .enumerate()
                {
                    seen[n] += hit as usize;
                }
            }
            println!("{rows}x{cols}: {seen:?}");
            assert!(seen.iter().all(|&n| n > 100), "{rows}x{cols}: {seen:?}");
        }
    }
}
