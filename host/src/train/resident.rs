//! Dense layers whose parameters stay on the device between steps.
//!
//! A resident layer keeps, for good, its weights with the bias as one more
//! row (`W_ext`, (fan-in + 1) x outputs) in buffer C, and one region of
//! buffer A for the batch it last saw, stored row-major with a column of
//! ones appended (`x_ext`). With the operand paths of protocol v3
//! (docs/PROTOCOL.md) every product of a step then reads what is already
//! there:
//!
//! - forward, `y = x_ext W_ext`: A read transposed from `x_ext`, B read
//!   from C at `W_ext`, so the bias enters as the ones column times the
//!   bias row (the same sum as the streamed product's C_in);
//! - input gradient, `g W^T`: B read transposed from C at `W_ext`;
//! - update, `W_ext <- W_ext + 2^-shift x_ext^T g`: A read as stored,
//!   accumulating in place. The bias row is updated by the ones column, in
//!   the same GEMM as the weights.
//!
//! So only activations and gradients cross the link. Resident regions are
//! placed from the top of buffers A and C down; the driver's products
//! (streamed layers) and the resident layers' outputs use what is left
//! below ([`Driver::set_scratch`]).

use super::plan::Format;
use crate::driver::{marked_word, Driver, DriverError};
use ndarray::{s, Array2, ArrayView2};
use srsa_spec::numerics::{Formats, Rounding};
use srsa_spec::protocol::{feature, pad, Buffer, Gemm, Link, MAX_K};

/// What a device needs to keep dense layers resident.
pub const NEEDED: u32 = feature::A_TRANSPOSED | feature::B_TRANSPOSED | feature::B_FROM_C;

/// One resident layer: where its tensors live.
#[derive(Clone, Debug)]
pub struct Slot {
    fan_in: usize,
    outputs: usize,
    /// Rows a batch may have.
    batch: usize,
    /// Base of `x_ext` in A: `batch` padded to R rows of `stride` elements.
    x_base: u32,
    /// Row length of `x_ext` and rows of `W_ext`: fan-in + 1 padded to R.
    stride: usize,
    /// Base of `W_ext` in C: `w_rows` rows of `np` elements.
    w_base: u32,
    w_rows: usize,
    /// Outputs padded to C.
    np: usize,
    /// Rows of the batch last written to `x_ext`, awaiting its update.
    pending: Option<usize>,
    /// The weights were stored with a pruning mask: updates are masked.
    masked: bool,
}

/// The resident layers of one device and what is left for everything else.
#[derive(Debug, Default)]
pub struct Residency {
    pub slots: Vec<Slot>,
    /// Lowest element used by resident data in A and in C.
    a_floor: u32,
    c_floor: u32,
    /// Scratch each resident product needs below the floors (A, B, C).
    need: [u32; 3],
}

/// Elements of buffer A, B and C a step of this layer uses as scratch: the
/// gradient as A for `g W^T` (`dx`: only where the input gradient is
/// needed), the gradient as B for the update, and the outputs (forward and
/// input gradient) in C.
fn scratch_needs(
    r: usize,
    c: usize,
    fan_in: usize,
    outputs: usize,
    batch: usize,
    dx: bool,
) -> [u32; 3] {
    let mp = batch.next_multiple_of(r);
    let np = outputs.next_multiple_of(c);
    let widest = if dx {
        np.max(fan_in.next_multiple_of(c))
    } else {
        np
    };
    [
        if dx { (outputs * mp) as u32 } else { 0 },
        (batch * np) as u32,
        (mp * widest) as u32,
    ]
}

impl Residency {
    pub fn new<L: Link>(d: &Driver<L>) -> Residency {
        let top = d.identity().buffer_elems;
        Residency {
            slots: vec![],
            a_floor: top,
            c_floor: top,
            need: [0; 3],
        }
    }

    /// Places a `fan_in x outputs` dense layer for batches of up to `batch`
    /// rows of `input`'s format (`dx`: its input gradient is wanted), or
    /// says why it cannot stay on this device.
    #[allow(clippy::too_many_arguments)]
    pub fn place<L: Link>(
        &mut self,
        d: &mut Driver<L>,
        fan_in: usize,
        outputs: usize,
        batch: usize,
        dx: bool,
        input: Format,
    ) -> Result<usize, String> {
        if d.features() & NEEDED != NEEDED {
            return Err(format!(
                "the device lacks the operand paths (features {:#x} of {NEEDED:#x})",
                d.features()
            ));
        }
        // The ones column is part of the input tensor, so it must be one
        // of that tensor's words, not merely of a 16-bit one: a transfer
        // sized to the input's WL carries it too.
        if !input.holds_one() {
            return Err(format!(
                "the bias needs 1.0 as an input word, which {} (WL, FL) cannot hold",
                input
            ));
        }
        if fan_in + 1 > MAX_K as usize || batch > MAX_K as usize {
            return Err(format!(
                "fan-in {fan_in} + 1 or batch {batch} exceeds the largest K, {MAX_K}"
            ));
        }
        let (rows, cols) = (d.rows(), d.cols());
        let (r, c) = (rows as usize, cols as usize);
        let stride = (fan_in + 1).next_multiple_of(r);
        let np = outputs.next_multiple_of(c);
        // g W^T reads Ncol = fan-in columns of W^T: rows of W_ext up to
        // fan-in padded to C.
        let w_rows = stride.max(fan_in.next_multiple_of(c));
        let x_len = (batch.next_multiple_of(r) * stride) as u64;
        let w_len = (w_rows * np) as u64;
        let need = scratch_needs(r, c, fan_in, outputs, batch, dx);
        let need = [0, 1, 2].map(|i| need[i].max(self.need[i]));
        let a_floor = self.a_floor as u64;
        let c_floor = self.c_floor as u64;
        let fits = x_len + need[0] as u64 <= a_floor
            && need[1] as u64 <= d.identity().buffer_elems as u64
            && w_len + need[2] as u64 <= c_floor;
        if !fits {
            return Err(format!(
                "its {} + {} elements of A and C do not fit beside the other resident layers \
                 ({} and {} of {} left)",
                x_len,
                w_len,
                a_floor.saturating_sub(need[0] as u64),
                c_floor.saturating_sub(need[2] as u64),
                d.identity().buffer_elems
            ));
        }
        // Bases stay aligned: every length is a multiple of R (A) or C (C).
        let x_base = (a_floor - x_len) as u32;
        let w_base = (c_floor - w_len) as u32;
        self.a_floor = x_base;
        self.c_floor = w_base;
        self.need = need;
        let floor = self.a_floor.min(self.c_floor);
        d.set_scratch(floor / (r.max(c) as u32) * r.max(c) as u32)
            .map_err(|e| e.to_string())?;
        self.slots.push(Slot {
            fan_in,
            outputs,
            batch,
            x_base,
            stride,
            w_base,
            w_rows,
            np,
            pending: None,
            masked: false,
        });
        Ok(self.slots.len() - 1)
    }
}

fn gemm(m: usize, k: usize, ncol: usize, mode: Rounding, formats: Formats) -> Gemm {
    Gemm::plain(m as u32, k as u32, ncol as u32, mode, formats)
}

fn contiguous(a: &Array2<i16>) -> &[i16] {
    a.as_slice().expect("fresh arrays are contiguous")
}

fn contiguous_marks(a: &Array2<bool>) -> &[bool] {
    a.as_slice().expect("fresh arrays are contiguous")
}

impl Slot {
    /// (fan-in, outputs).
    pub fn shape(&self) -> (usize, usize) {
        (self.fan_in, self.outputs)
    }

    /// Most rows one forward pass takes.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Writes the parameters: `w` (fan-in x outputs) and the bias row.
    /// With `pruned`, the weights it names are marked (stored as 0) and
    /// every later update is a masked GEMM, so they stay 0 on the device;
    /// the bias and the padding are never marked.
    pub fn store<L: Link>(
        &mut self,
        d: &mut Driver<L>,
        w: ArrayView2<i16>,
        b: ArrayView2<i16>,
        pruned: Option<ArrayView2<bool>>,
    ) -> Result<(), DriverError> {
        let mut ext = Array2::<i16>::zeros((self.w_rows, self.np));
        ext.slice_mut(s![..self.fan_in, ..self.outputs]).assign(&w);
        ext.slice_mut(s![self.fan_in..=self.fan_in, ..self.outputs])
            .assign(&b);
        self.masked = pruned.is_some();
        let Some(pruned) = pruned else {
            return d.write(Buffer::C, self.w_base, contiguous(&ext));
        };
        // The weight rows with their marks, then the rest unmarked: np is
        // a multiple of the (even) column count, so both are whole words.
        let mut marks = Array2::from_elem((self.fan_in, self.np), false);
        marks.slice_mut(s![.., ..self.outputs]).assign(&pruned);
        let split = self.fan_in * self.np;
        let ext = contiguous(&ext);
        d.write_marked(self.w_base, &ext[..split], contiguous_marks(&marks))?;
        d.write(Buffer::C, self.w_base + split as u32, &ext[split..])
    }

    /// Writes the parameters in shared form: weight (r, c) is
    /// `book[index[(r, c)]]`, loaded by EXPAND (pairs of codebook indices
    /// and zero runs, [`Driver::load_coded`]) with entry 0 (the zero)
    /// marked pruned, then the bias row as [`Slot::store`] writes it. A
    /// free entry that is the word 0 is loaded as the smallest positive
    /// word, as [`Driver::write_marked`] stores a free zero.
    pub fn store_coded<L: Link>(
        &mut self,
        d: &mut Driver<L>,
        book: &[i16],
        index: ArrayView2<u32>,
        b: ArrayView2<i16>,
    ) -> Result<(), DriverError> {
        if index.dim() != (self.fan_in, self.outputs) || book.is_empty() || book[0] != 0 {
            return Err(DriverError::InvalidArgument(format!(
                "a coded load of {:?} with a codebook of {} entries (entry 0 must be 0) for a {} x {} layer",
                index.dim(),
                book.len(),
                self.fan_in,
                self.outputs
            )));
        }
        let mut ext = Array2::<u32>::zeros((self.fan_in, self.np));
        ext.slice_mut(s![.., ..self.outputs]).assign(&index);
        let mut held: Vec<i16> = book.iter().map(|&w| marked_word(w, false)).collect();
        held[0] = 0;
        let bits = (u32::BITS - (book.len() as u32 - 1).leading_zeros()).max(1);
        let idx = ext.as_slice().expect("fresh arrays are contiguous");
        d.load_coded(Buffer::C, self.w_base, true, &held, idx, bits)?;
        self.masked = true;
        let mut rest = Array2::<i16>::zeros((self.w_rows - self.fan_in, self.np));
        rest.slice_mut(s![..1, ..self.outputs]).assign(&b);
        let split = (self.fan_in * self.np) as u32;
        d.write(Buffer::C, self.w_base + split, contiguous(&rest))
    }

    /// Reads the parameters back: (weights, bias row).
    pub fn fetch<L: Link>(
        &self,
        d: &mut Driver<L>,
    ) -> Result<(Array2<i16>, Array2<i16>), DriverError> {
        let rows = self.fan_in + 1;
        let raw = d.read(Buffer::C, self.w_base, rows * self.np)?;
        let ext = Array2::from_shape_vec((rows, self.np), raw).expect("read length");
        Ok((
            ext.slice(s![..self.fan_in, ..self.outputs]).to_owned(),
            ext.slice(s![self.fan_in.., ..self.outputs]).to_owned(),
        ))
    }

    /// `x W + b` (ReLU if asked) for `x` of up to `batch` rows; the batch
    /// stays in A for [`Slot::update`].
    #[allow(clippy::too_many_arguments)]
    pub fn forward<L: Link>(
        &mut self,
        d: &mut Driver<L>,
        x: ArrayView2<i16>,
        one: i16,
        relu: bool,
        mode: Rounding,
        formats: Formats,
    ) -> Result<Array2<i16>, DriverError> {
        let rows = x.nrows();
        if rows == 0 || rows > self.batch || x.ncols() != self.fan_in {
            return Err(DriverError::InvalidArgument(format!(
                "a resident {} -> {} layer takes up to {} rows of {}, not {:?}",
                self.fan_in,
                self.outputs,
                self.batch,
                self.fan_in,
                x.dim()
            )));
        }
        let mut ext = Array2::<i16>::zeros((rows, self.stride));
        ext.slice_mut(s![.., ..self.fan_in]).assign(&x);
        ext.column_mut(self.fan_in).fill(one);
        d.write(Buffer::A, self.x_base, contiguous(&ext))?;
        self.pending = Some(rows);
        let g = Gemm {
            relu,
            a_transposed: true,
            b_from_c: true,
            masked: false,
            a_base: self.x_base,
            b_base: self.w_base,
            ..gemm(rows, self.fan_in + 1, self.outputs, mode, formats)
        };
        d.gemm(&g)?;
        self.read_output(d, rows, self.np, self.outputs, formats.wl_out)
    }

    /// `g W^T` from the resident weights, for `g` of the pending batch.
    pub fn input_gradient<L: Link>(
        &self,
        d: &mut Driver<L>,
        g: ArrayView2<i16>,
        mode: Rounding,
        formats: Formats,
    ) -> Result<Array2<i16>, DriverError> {
        let rows = self.check_gradient(g)?;
        // A is the gradient, K = outputs: stored transposed, rows padded.
        let mp = rows.next_multiple_of(d.rows() as usize);
        let mut gt = Array2::<i16>::zeros((self.outputs, mp));
        gt.slice_mut(s![.., ..rows]).assign(&g.t());
        d.write(Buffer::A, 0, contiguous(&gt))?;
        let gm = Gemm {
            b_transposed: true,
            b_from_c: true,
            masked: false,
            b_base: self.w_base,
            ..gemm(rows, self.outputs, self.fan_in, mode, formats)
        };
        d.gemm(&gm)?;
        let np = pad(self.fan_in as u32, d.cols()) as usize;
        self.read_output(d, rows, np, self.fan_in, formats.wl_out)
    }

    /// `W_ext <- W_ext + 2^-shift x_ext^T g` in place, with the batch the
    /// last forward pass left in A (`formats` carries the shift).
    pub fn update<L: Link>(
        &mut self,
        d: &mut Driver<L>,
        g: ArrayView2<i16>,
        mode: Rounding,
        formats: Formats,
    ) -> Result<(), DriverError> {
        let rows = self.check_gradient(g)?;
        let mut gb = Array2::<i16>::zeros((rows, self.np));
        gb.slice_mut(s![.., ..self.outputs]).assign(&g);
        d.write(Buffer::B, 0, contiguous(&gb))?;
        let gm = Gemm {
            acc_init: true,
            masked: self.masked,
            a_base: self.x_base,
            cin_base: self.w_base,
            out_base: self.w_base,
            ..gemm(self.fan_in + 1, rows, self.outputs, mode, formats)
        };
        d.gemm(&gm)?;
        self.pending = None;
        Ok(())
    }

    fn check_gradient(&self, g: ArrayView2<i16>) -> Result<usize, DriverError> {
        match self.pending {
            Some(rows) if g.dim() == (rows, self.outputs) => Ok(rows),
            _ => Err(DriverError::InvalidArgument(format!(
                "a gradient of {:?} for a resident layer whose last batch was {:?} x {}",
                g.dim(),
                self.pending,
                self.outputs
            ))),
        }
    }

    /// The first `rows` x `cols` of the output the last GEMM wrote at C's
    /// base, `np` elements a row, each of `wl` bits.
    fn read_output<L: Link>(
        &self,
        d: &mut Driver<L>,
        rows: usize,
        np: usize,
        cols: usize,
        wl: u8,
    ) -> Result<Array2<i16>, DriverError> {
        let raw = d.read_wl(Buffer::C, 0, rows * np, wl)?;
        let all = Array2::from_shape_vec((rows, np), raw).expect("read length");
        Ok(all.slice(s![.., ..cols]).to_owned())
    }
}
