//! Where a network's matrix products run: a fixed-point SRSA device behind
//! the driver (simulated RTL or golden model), or an f32 reference.
//!
//! The trainer is written once against [`Backend`]; a backend decides the
//! element type (raw 16-bit words or f32) and how each product is rounded.

use super::layers::Params;
use super::plan::{Format, LayerFormats};
use super::resident::Residency;
use crate::driver::{Driver, DriverError, MatmulOpts};
use ndarray::{Array2, ArrayView2, Zip};
use srsa_spec::lfsr::{column_state, Lfsr};
use srsa_spec::numerics::{quantize_with, value, word_max, word_min, Formats, Rounding, WL};
use srsa_spec::protocol::{Counters, Link};

/// What a tensor holds: a raw fixed-point word or a real number.
pub trait Element: Copy + Default + PartialOrd + Send + Sync + std::fmt::Debug + 'static {
    /// Its name in checkpoints.
    const NAME: &'static str;
    const BYTES: usize;
    fn put_le(self, out: &mut Vec<u8>);
    fn get_le(b: &[u8]) -> Self;
    /// +1 at the largest value of a `wl`-bit word, -1 at its smallest,
    /// else 0.
    fn saturation(self, _wl: u8) -> i8 {
        0
    }
}

impl Element for i16 {
    const NAME: &'static str = "i16";
    const BYTES: usize = 2;
    fn put_le(self, out: &mut Vec<u8>) {
        out.extend(self.to_le_bytes());
    }
    fn get_le(b: &[u8]) -> Self {
        i16::from_le_bytes([b[0], b[1]])
    }
    fn saturation(self, wl: u8) -> i8 {
        let v = self as i64;
        if v == word_max(wl) {
            1
        } else if v == word_min(wl) {
            -1
        } else {
            0
        }
    }
}

impl Element for f32 {
    const NAME: &'static str = "f32";
    const BYTES: usize = 4;
    fn put_le(self, out: &mut Vec<u8>) {
        out.extend(self.to_le_bytes());
    }
    fn get_le(b: &[u8]) -> Self {
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

/// One product `out = round(c_in + 2^-shift * a x b)`, with the fractional
/// lengths of each operand (ignored by the float backend, which computes the
/// same expression in f32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Product {
    pub fl_a: u8,
    pub fl_b: u8,
    pub fl_c: u8,
    pub fl_out: u8,
    /// The output saturates to this many bits.
    pub wl_out: u8,
    /// Extra right shift of the product: the learning rate as a power of two.
    pub shift: u8,
    pub relu: bool,
    /// The `a` given is A^T.
    pub a_transposed: bool,
    /// The `b` given is B^T.
    pub b_transposed: bool,
}

impl Product {
    pub fn new(fl_a: u8, fl_b: u8, fl_out: u8) -> Product {
        Product {
            fl_a,
            fl_b,
            fl_c: fl_out,
            fl_out,
            wl_out: WL as u8,
            shift: 0,
            relu: false,
            a_transposed: false,
            b_transposed: false,
        }
    }

    /// The device formats: the shift folds into B's fractional length
    /// (saturating, so an absurd sum fails validation instead of wrapping).
    pub fn formats(&self) -> Formats {
        Formats::new(
            self.fl_a,
            self.fl_b.saturating_add(self.shift),
            self.fl_c,
            self.fl_out,
        )
        .with_wl(self.wl_out)
    }
}

/// How the host turns a real number into an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostRounding {
    /// Round to nearest, for data (pixels).
    Nearest,
    /// The run's rounding mode, for values the host computes (the loss
    /// gradient), so that host and device round alike.
    RunMode,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("{0}")]
    Invalid(String),
}

pub trait Backend {
    type E: Element;
    /// A short description for logs ("golden 8x8, stochastic").
    fn describe(&self) -> String;
    /// Takes the run's rounding from its configuration (`None`: none, the
    /// f32 reference); refuses one the backend cannot do.
    fn set_rounding(&mut self, mode: Option<Rounding>) -> Result<(), BackendError>;
    fn product(
        &mut self,
        a: ArrayView2<Self::E>,
        b: ArrayView2<Self::E>,
        cin: Option<ArrayView2<Self::E>>,
        p: &Product,
    ) -> Result<Array2<Self::E>, BackendError>;
    /// [`Backend::product`] with C_in, whose outputs are exactly 0 where
    /// `pruned` is set: a pruned weight's update (Han et al.'s mask).
    fn masked_product(
        &mut self,
        a: ArrayView2<Self::E>,
        b: ArrayView2<Self::E>,
        cin: ArrayView2<Self::E>,
        pruned: ArrayView2<bool>,
        p: &Product,
    ) -> Result<Array2<Self::E>, BackendError>;
    /// The element a masked layer's weight `w` is held as where it is not
    /// pruned: `w` itself, but for the device's nudge of a free zero
    /// ([`crate::driver::marked_word`]).
    fn held_free(&self, w: Self::E) -> Self::E {
        w
    }
    /// Rounds reals into words of format `f`, saturating to its WL.
    fn encode(&mut self, x: ArrayView2<f32>, f: Format, how: HostRounding) -> Array2<Self::E>;
    fn decode(&self, x: ArrayView2<Self::E>, fl: u8) -> Array2<f32>;
    /// The element holding exactly 1.0 in format `fl` (used with FL 0).
    fn one(&self) -> Self::E;
    /// The largest K one product may have.
    fn max_k(&self) -> usize;
    /// Restarts every random stream (device LFSRs and the host's) from
    /// `seed`, so a run can resume at an epoch boundary bit for bit.
    fn reseed(&mut self, seed: u64) -> Result<(), BackendError>;
    /// The device's counters, where there is a device.
    fn counters(&mut self) -> Result<Option<Counters>, BackendError>;
    /// MACs per cycle the device can do (rows x columns), where there is one.
    fn macs_per_cycle(&self) -> Option<u64>;

    /// Keeps a dense layer's parameters on the device from now on, for
    /// batches of up to `batch` rows (with `input_gradient`, its `g W^T`
    /// will be asked for), and returns its slot; or says why it
    /// cannot (the layer is then streamed: every product sends its
    /// operands). See `resident`.
    fn place(
        &mut self,
        _p: &Params<Self::E>,
        _batch: usize,
        _input_gradient: bool,
        _f: &LayerFormats,
    ) -> Result<Result<usize, String>, BackendError> {
        Ok(Err("this backend has no device to keep weights on".into()))
    }

    /// A resident layer's `x W + b` (ReLU if asked), for any number of rows.
    fn resident_forward(
        &mut self,
        _slot: usize,
        _x: ArrayView2<Self::E>,
        _relu: bool,
        _f: &LayerFormats,
    ) -> Result<Array2<Self::E>, BackendError> {
        Err(not_resident())
    }

    /// A resident layer's `g W^T`, for the batch of its last forward pass.
    fn resident_input_gradient(
        &mut self,
        _slot: usize,
        _g: ArrayView2<Self::E>,
        _f: &LayerFormats,
    ) -> Result<Array2<Self::E>, BackendError> {
        Err(not_resident())
    }

    /// A resident layer's update from the batch of its last forward pass.
    fn resident_update(
        &mut self,
        _slot: usize,
        _g: ArrayView2<Self::E>,
        _f: &LayerFormats,
        _shift: u8,
    ) -> Result<(), BackendError> {
        Err(not_resident())
    }

    /// Overwrites a resident layer's weights with shared ones, weight
    /// (r, c) being `book[index[(r, c)]]` (`p.w` holds the same, and `p.b`
    /// the bias), entry 0 the zero and pruned; a device loads them in
    /// coded form (EXPAND) where it can.
    fn store_coded(
        &mut self,
        slot: usize,
        p: &Params<Self::E>,
        _book: &[Self::E],
        index: ArrayView2<u32>,
    ) -> Result<(), BackendError> {
        let pruned = index.mapv(|k| k == 0);
        self.store_params(slot, p, Some(pruned.view()))
    }

    /// A resident layer's parameters, read from the device.
    fn resident_params(&mut self, _slot: usize) -> Result<Params<Self::E>, BackendError> {
        Err(not_resident())
    }

    /// Overwrites a resident layer's parameters on the device; with
    /// `pruned`, the weights it names are 0 and stay 0 through updates.
    fn store_params(
        &mut self,
        _slot: usize,
        _p: &Params<Self::E>,
        _pruned: Option<ArrayView2<bool>>,
    ) -> Result<(), BackendError> {
        Err(not_resident())
    }
}

fn not_resident() -> BackendError {
    BackendError::Invalid("no layer of this backend is resident".into())
}

/// A fixed-point SRSA device behind the driver. Its rounding is the run's,
/// set by the trainer from `TrainConfig::rounding`.
pub struct Fixed<L: Link> {
    driver: Driver<L>,
    mode: Rounding,
    host_rng: Lfsr,
    residency: Residency,
}

/// The host's own random stream sits at a column index no device has.
const HOST_STREAM: usize = 1 << 20;

impl<L: Link> Fixed<L> {
    pub fn new(driver: Driver<L>) -> Fixed<L> {
        Fixed {
            residency: Residency::new(&driver),
            driver,
            // Until the trainer sets the run's: the mode data is read in.
            mode: Rounding::Nearest,
            host_rng: Lfsr::new(column_state(0, HOST_STREAM)),
        }
    }

    pub fn driver_mut(&mut self) -> &mut Driver<L> {
        &mut self.driver
    }

    pub fn into_driver(self) -> Driver<L> {
        self.driver
    }
}

impl<L: Link> Backend for Fixed<L> {
    type E = i16;

    fn describe(&self) -> String {
        let id = self.driver.identity();
        format!(
            "{} {}x{}, {}",
            self.driver.link_name(),
            id.rows,
            id.cols,
            self.mode
        )
    }

    fn set_rounding(&mut self, mode: Option<Rounding>) -> Result<(), BackendError> {
        self.mode = mode.ok_or_else(|| {
            BackendError::Invalid("a fixed-point device rounds every output: choose a mode".into())
        })?;
        Ok(())
    }

    fn product(
        &mut self,
        a: ArrayView2<i16>,
        b: ArrayView2<i16>,
        cin: Option<ArrayView2<i16>>,
        p: &Product,
    ) -> Result<Array2<i16>, BackendError> {
        let opts = MatmulOpts {
            formats: p.formats(),
            mode: self.mode,
            relu: p.relu,
            a_transposed: p.a_transposed,
            b_transposed: p.b_transposed,
        };
        Ok(self.driver.matmul(a, b, cin, &opts)?)
    }

    fn masked_product(
        &mut self,
        a: ArrayView2<i16>,
        b: ArrayView2<i16>,
        cin: ArrayView2<i16>,
        pruned: ArrayView2<bool>,
        p: &Product,
    ) -> Result<Array2<i16>, BackendError> {
        let opts = MatmulOpts {
            formats: p.formats(),
            mode: self.mode,
            relu: p.relu,
            a_transposed: p.a_transposed,
            b_transposed: p.b_transposed,
        };
        Ok(self.driver.matmul_masked(a, b, cin, pruned, &opts)?)
    }

    fn held_free(&self, w: i16) -> i16 {
        crate::driver::marked_word(w, false)
    }

    fn encode(&mut self, x: ArrayView2<f32>, f: Format, how: HostRounding) -> Array2<i16> {
        let mode = match how {
            HostRounding::Nearest => Rounding::Nearest,
            HostRounding::RunMode => self.mode,
        };
        x.map(|&v| {
            // Only stochastic rounding draws, so the host stream advances
            // exactly as often as it did when each mode was written out.
            let draw = if mode == Rounding::Stochastic {
                self.host_rng.draw()
            } else {
                0
            };
            quantize_with(v as f64, f.fl, f.wl, mode, draw)
        })
    }

    fn decode(&self, x: ArrayView2<i16>, fl: u8) -> Array2<f32> {
        x.map(|&r| value(r, fl) as f32)
    }

    fn one(&self) -> i16 {
        1
    }

    fn max_k(&self) -> usize {
        self.driver.max_k()
    }

    fn reseed(&mut self, seed: u64) -> Result<(), BackendError> {
        self.driver.seed(seed)?;
        self.host_rng = Lfsr::new(column_state(seed, HOST_STREAM));
        Ok(())
    }

    fn counters(&mut self) -> Result<Option<Counters>, BackendError> {
        Ok(Some(self.driver.counters()?))
    }

    fn macs_per_cycle(&self) -> Option<u64> {
        let id = self.driver.identity();
        Some(id.rows as u64 * id.cols as u64)
    }

    fn place(
        &mut self,
        p: &Params<i16>,
        batch: usize,
        input_gradient: bool,
        f: &LayerFormats,
    ) -> Result<Result<usize, String>, BackendError> {
        let (fan_in, outputs) = p.w.dim();
        let placed = self.residency.place(
            &mut self.driver,
            fan_in,
            outputs,
            batch,
            input_gradient,
            f.input,
        );
        if let Ok(slot) = placed {
            self.store_params(slot, p, None)?;
        }
        Ok(placed)
    }

    fn resident_forward(
        &mut self,
        slot: usize,
        x: ArrayView2<i16>,
        relu: bool,
        f: &LayerFormats,
    ) -> Result<Array2<i16>, BackendError> {
        let s = self.slot(slot)?;
        let (batch, outputs) = (s.batch(), s.shape().1);
        let formats = f.forward(false).formats();
        // `place` kept the layer only where 1.0 is an input word.
        let one = 1i16 << f.input.fl;
        let mut y = Array2::zeros((x.nrows(), outputs));
        // More rows than a training batch (evaluation): a product per batch.
        for r0 in (0..x.nrows()).step_by(batch) {
            let r1 = (r0 + batch).min(x.nrows());
            let part = self.residency.slots[slot].forward(
                &mut self.driver,
                x.slice(ndarray::s![r0..r1, ..]),
                one,
                relu,
                self.mode,
                formats,
            )?;
            y.slice_mut(ndarray::s![r0..r1, ..]).assign(&part);
        }
        Ok(y)
    }

    fn resident_input_gradient(
        &mut self,
        slot: usize,
        g: ArrayView2<i16>,
        f: &LayerFormats,
    ) -> Result<Array2<i16>, BackendError> {
        let formats = f
            .input_gradient()
            .ok_or_else(|| BackendError::Invalid("the first layer has no input gradient".into()))?
            .formats();
        let s = self.slot(slot)?;
        Ok(s.input_gradient(&mut self.driver, g, self.mode, formats)?)
    }

    fn resident_update(
        &mut self,
        slot: usize,
        g: ArrayView2<i16>,
        f: &LayerFormats,
        shift: u8,
    ) -> Result<(), BackendError> {
        let formats = f.update(shift).formats();
        self.slot(slot)?;
        Ok(self.residency.slots[slot].update(&mut self.driver, g, self.mode, formats)?)
    }

    fn store_coded(
        &mut self,
        slot: usize,
        p: &Params<i16>,
        book: &[i16],
        index: ArrayView2<u32>,
    ) -> Result<(), BackendError> {
        self.slot(slot)?;
        if self.driver.features() & srsa_spec::protocol::feature::EXPAND == 0 || book.len() > 256 {
            let pruned = index.mapv(|k| k == 0);
            return self.store_params(slot, p, Some(pruned.view()));
        }
        Ok(self.residency.slots[slot].store_coded(&mut self.driver, book, index, p.b.view())?)
    }

    fn resident_params(&mut self, slot: usize) -> Result<Params<i16>, BackendError> {
        let s = self.slot(slot)?;
        let (w, b) = s.fetch(&mut self.driver)?;
        Ok(Params { w, b })
    }

    fn store_params(
        &mut self,
        slot: usize,
        p: &Params<i16>,
        pruned: Option<ArrayView2<bool>>,
    ) -> Result<(), BackendError> {
        let s = self.slot(slot)?;
        if p.w.dim() != s.shape() || p.b.dim() != (1, s.shape().1) {
            return Err(BackendError::Invalid(format!(
                "parameters {:?} and {:?} for a resident {:?} layer",
                p.w.dim(),
                p.b.dim(),
                s.shape()
            )));
        }
        if pruned.is_some_and(|m| m.dim() != s.shape()) {
            return Err(BackendError::Invalid(format!(
                "a pruning mask of {:?} for a resident {:?} layer",
                pruned.map(|m| m.dim()),
                s.shape()
            )));
        }
        Ok(self.residency.slots[slot].store(&mut self.driver, p.w.view(), p.b.view(), pruned)?)
    }
}

impl<L: Link> Fixed<L> {
    fn slot(&self, slot: usize) -> Result<crate::train::resident::Slot, BackendError> {
        self.residency
            .slots
            .get(slot)
            .cloned()
            .ok_or_else(|| BackendError::Invalid(format!("no resident slot {slot}")))
    }
}

/// The f32 reference: the same products, unrounded.
#[derive(Default)]
pub struct Float;

impl Backend for Float {
    type E = f32;

    fn describe(&self) -> String {
        "float (f32 reference)".into()
    }

    fn set_rounding(&mut self, mode: Option<Rounding>) -> Result<(), BackendError> {
        match mode {
            None => Ok(()),
            Some(m) => Err(BackendError::Invalid(format!(
                "the f32 reference does not round, so it cannot train with {m} rounding"
            ))),
        }
    }

    fn product(
        &mut self,
        a: ArrayView2<f32>,
        b: ArrayView2<f32>,
        cin: Option<ArrayView2<f32>>,
        p: &Product,
    ) -> Result<Array2<f32>, BackendError> {
        let a = if p.a_transposed { a.reversed_axes() } else { a };
        let b = if p.b_transposed { b.reversed_axes() } else { b };
        if a.ncols() != b.nrows() {
            return Err(BackendError::Invalid(format!(
                "A is {:?} but B is {:?}",
                a.dim(),
                b.dim()
            )));
        }
        let mut out = a.dot(&b);
        let scale = 1.0 / (1u64 << p.shift) as f32;
        if p.shift > 0 {
            out.mapv_inplace(|v| v * scale);
        }
        if let Some(c) = cin {
            if c.dim() != out.dim() {
                return Err(BackendError::Invalid(format!(
                    "C_in is {:?}, the product is {:?}",
                    c.dim(),
                    out.dim()
                )));
            }
            out += &c;
        }
        if p.relu {
            out.mapv_inplace(|v| v.max(0.0));
        }
        Ok(out)
    }

    fn masked_product(
        &mut self,
        a: ArrayView2<f32>,
        b: ArrayView2<f32>,
        cin: ArrayView2<f32>,
        pruned: ArrayView2<bool>,
        p: &Product,
    ) -> Result<Array2<f32>, BackendError> {
        let mut out = self.product(a, b, Some(cin), p)?;
        if pruned.dim() != out.dim() {
            return Err(BackendError::Invalid(format!(
                "a mask of {:?} for a product of {:?}",
                pruned.dim(),
                out.dim()
            )));
        }
        Zip::from(&mut out).and(pruned).for_each(|o, &p| {
            if p {
                *o = 0.0;
            }
        });
        Ok(out)
    }

    fn encode(&mut self, x: ArrayView2<f32>, _f: Format, _how: HostRounding) -> Array2<f32> {
        x.to_owned()
    }

    fn decode(&self, x: ArrayView2<f32>, _fl: u8) -> Array2<f32> {
        x.to_owned()
    }

    fn one(&self) -> f32 {
        1.0
    }

    fn max_k(&self) -> usize {
        usize::MAX
    }

    fn reseed(&mut self, _seed: u64) -> Result<(), BackendError> {
        Ok(())
    }

    fn counters(&mut self) -> Result<Option<Counters>, BackendError> {
        Ok(None)
    }

    fn macs_per_cycle(&self) -> Option<u64> {
        None
    }
}

/// The derivative of a layer's output function, applied on the host (the
/// device has no mask) to `g`, the descent direction at the output `y`:
/// zero where ReLU clipped (`y <= 0`), and at a saturated output zero for
/// the part that would push further out of range (the clamp is flat there)
/// while a push back into range passes.
/// `wl` is the WL `y` saturated to.
pub fn output_mask<E: Element>(g: &mut Array2<E>, y: ArrayView2<E>, relu: bool, wl: u8) {
    let zero = E::default();
    Zip::from(g).and(y).for_each(|g, &y| {
        let out_of_range = match y.saturation(wl) {
            1 => *g > zero,
            -1 => *g < zero,
            _ => false,
        };
        if (relu && y <= zero) || out_of_range {
            *g = zero;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use srsa_spec::numerics::{WORD_MAX, WORD_MIN};

    /// The host's rounding before it called the spec: f64 arithmetic, which
    /// agrees except within 2^-54 below a word under the largest draw.
    #[test]
    fn round_real_matches_the_former_float_rounding() {
        let seed = std::env::var("SRSA_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(11);
        println!("seed {seed} (set SRSA_SEED to override)");
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..200_000 {
            let fl = rng.gen_range(0..=31u8);
            let v = rng.gen_range(-4.0f32..4.0) * 2f32.powi(rng.gen_range(-40..8));
            let draw: u32 = rng.gen();
            let scaled = v as f64 * (1u64 << fl) as f64;
            let sat = |x: f64| x.clamp(WORD_MIN as f64, WORD_MAX as f64) as i16;
            let stochastic = sat((scaled + draw as f64 / 4294967296.0).floor());
            let truncate = sat(scaled.floor());
            assert_eq!(
                quantize_with(v as f64, fl, WL as u8, Rounding::Stochastic, draw),
                stochastic,
                "seed {seed}: {v} FL {fl} draw {draw}"
            );
            assert_eq!(
                quantize_with(v as f64, fl, WL as u8, Rounding::Truncate, draw),
                truncate,
                "seed {seed}: {v} FL {fl}"
            );
        }
    }
}
