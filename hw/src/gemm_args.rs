//! A GEMM's argument words: held, decoded and checked.
//!
//! The decoder hands over the seven words one per cycle (`load` with the
//! word's `index`), then steps `index` 0..=3 with `sizing` high while the
//! one multiplier forms the size products the range checks need; `status`
//! is then the device's verdict (registered in the last size step), in
//! the priority order of `srsa_spec::protocol::decode_gemm`. What the
//! GEMM reads while it runs (the tile walk, K, B's path and the output
//! stages' conversion settings) is registered in the size steps and held
//! until the next GEMM's: decoded from the argument words the settings
//! would otherwise start every column's longest path, and a simulator
//! would decode them again in every cycle. All the arithmetic sits in the
//! size steps' branch.
//!
//! The optional features (`srsa_spec::protocol::feature`) a device is
//! built with are constants here: a feature it lacks is refused, and its
//! flag is a constant that synthesis follows into the sequencer, the
//! buffers and the output stages, so a device without a feature costs what
//! it did before the feature existed.

use crate::gemm_format::GemmFormat;
use crate::ports::{OutputSettings, TileWalk};
use crate::{constant, dffs};
use rust_hdl::prelude::*;
use srsa_spec::protocol::{Status, GEMM_ARGS};

/// R x C array; DA and DC address bits of an A bank and of a B or C bank.
#[derive(LogicBlock)]
pub struct GemmArgs<const R: usize, const C: usize, const DA: usize, const DC: usize> {
    pub clock: Signal<In, Clock>,
    /// `word` is argument word `index`.
    pub load: Signal<In, Bit>,
    pub word: Signal<In, Bits<32>>,
    /// Size product `index` (0..=3) is formed this cycle.
    pub sizing: Signal<In, Bit>,
    pub index: Signal<In, Bits<4>>,

    /// OK or why the GEMM is refused (valid after the four size steps).
    pub status: Signal<Out, Bits<8>>,
    pub k: Signal<Out, Bits<16>>,
    pub walk: TileWalk<DA, DC>,
    pub settings: OutputSettings,
    /// M * Ncol: the MACs each feed step of this GEMM adds to the counter.
    pub mn: Signal<Out, Bits<32>>,
    pub b_from_c: Signal<Out, Bit>,

    arg: Vec<DFF<Bits<32>>>,
    /// Words 0 to 2 decoded, and the checks that need no regions.
    format: GemmFormat,
    /// K * tile rows, K * tile columns, tile rows * tile columns, in bank
    /// rows, 20 bits (see `far`): `size_far` holds whether any reached 2^18.
    product: Vec<DFF<Bits<20>>>,
    size_far: DFF<Bit>,
    /// The verdict, formed in the size steps: the checks read nothing that
    /// changes after them, and a simulator evaluated them in every cycle of
    /// a GEMM while they sat outside a branch.
    verdict: DFF<Bits<8>>,
    out_shift: DFF<Bits<5>>,
    out_align: DFF<Bits<5>>,
    out_mode: DFF<Bits<2>>,
    out_relu: DFF<Bit>,
    out_sign: DFF<Bits<16>>,
    out_acc: DFF<Bit>,
    out_masked: DFF<Bit>,
    out_mn: DFF<Bits<32>>,
    /// The tile walk, K and B's path, registered in the size steps like
    /// the settings (if `registered`): formed combinationally from the
    /// argument words, a simulator forms them again in every cycle of a
    /// GEMM (docs/BENCHMARKS.md, "after protocol v6").
    registered: Constant<Bit>,
    w_k: DFF<Bits<16>>,
    w_k_last: DFF<Bits<16>>,
    w_idle: DFF<Bits<16>>,
    w_at: DFF<Bit>,
    w_bt: DFF<Bit>,
    w_bfc: DFF<Bit>,
    w_a_stride: DFF<Bits<16>>,
    w_b_stride: DFF<Bits<16>>,
    w_tile_rows: DFF<Bits<16>>,
    w_tile_cols: DFF<Bits<16>>,
    w_np: DFF<Bits<DC>>,
    w_a_base: DFF<Bits<DA>>,
    w_b_base: DFF<Bits<DC>>,
    w_cin_base: DFF<Bits<DC>>,
    w_out_base: DFF<Bits<DC>>,

    // Region arithmetic is 20 bits wide: a base or length with a bit at or
    // above 2^18 (`far`) is out of every buffer by itself, and below it the
    // sums are exact. 40-bit ends cost an iCE40 ~400 cells.
    base_rows: [Signal<Local, Bits<32>>; 4],
    a_start: Signal<Local, Bits<20>>,
    b_start: Signal<Local, Bits<20>>,
    cin_start: Signal<Local, Bits<20>>,
    out_start: Signal<Local, Bits<20>>,
    a_end: Signal<Local, Bits<20>>,
    b_end: Signal<Local, Bits<20>>,
    cin_end: Signal<Local, Bits<20>>,
    out_end: Signal<Local, Bits<20>>,
    /// Output rows (in bank rows): Mp x Np elements over C banks.
    out_len: Signal<Local, Bits<40>>,
    far: Signal<Local, Bit>,
    misaligned: Signal<Local, Bit>,
    mul_a: Signal<Local, Bits<16>>,
    mul_b: Signal<Local, Bits<16>>,
    mul_product: Signal<Local, Bits<32>>,
    mul_far: Signal<Local, Bit>,
    tile_rows: Signal<Local, Bits<16>>,
    tile_cols: Signal<Local, Bits<16>>,
    a_stride: Signal<Local, Bits<16>>,
    b_stride: Signal<Local, Bits<16>>,
    /// K as A's and B's regions count it (padded when transposed).
    k_a: Signal<Local, Bits<16>>,
    k_b: Signal<Local, Bits<16>>,
    k_min_r: Signal<Local, Bits<16>>,
    period_mask: Signal<Local, Bits<16>>,
    period: Signal<Local, Bits<16>>,

    // Constants (index and width arithmetic on const generics cannot appear
    // in generated Verilog, so they are computed here).
    log2r: Constant<Bits<8>>,
    log2c: Constant<Bits<8>>,
    r_minus_1: Constant<Bits<32>>,
    c_minus_1: Constant<Bits<32>>,
    /// 18 - log2(R): where a product times R reaches 2^18.
    far_rows: Constant<Bits<32>>,
    depth_a: Constant<Bits<20>>,
    depth_c: Constant<Bits<20>>,
    rows16: Constant<Bits<16>>,
    r_mask16: Constant<Bits<16>>,
    c_mask16: Constant<Bits<16>>,
    st_ok: Constant<Bits<8>>,
    st_bad_address: Constant<Bits<8>>,
    st_bad_size: Constant<Bits<8>>,
    st_bad_format: Constant<Bits<8>>,
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> GemmArgs<R, C, DA, DC> {
    /// The arguments of a device with the operand paths `features`.
    pub fn new(features: u32) -> Self {
        Self {
            clock: Default::default(),
            load: Default::default(),
            word: Default::default(),
            sizing: Default::default(),
            index: Default::default(),
            status: Default::default(),
            k: Default::default(),
            walk: Default::default(),
            settings: Default::default(),
            mn: Default::default(),
            arg: dffs(GEMM_ARGS),
            format: GemmFormat::new(features),
            product: dffs(3),
            size_far: Default::default(),
            verdict: Default::default(),
            out_shift: Default::default(),
            out_align: Default::default(),
            out_mode: Default::default(),
            out_relu: Default::default(),
            out_sign: Default::default(),
            out_acc: Default::default(),
            out_masked: Default::default(),
            out_mn: Default::default(),
            // Only lines with optional features are simulated lines; the
            // board lines have none, and no cells for the flip-flops (the
            // iCEBreaker needed 5407 of its 5280 LCs with them).
            registered: Constant::new(features != 0),
            w_k: Default::default(),
            w_k_last: Default::default(),
            w_idle: Default::default(),
            w_at: Default::default(),
            w_bt: Default::default(),
            w_bfc: Default::default(),
            w_a_stride: Default::default(),
            w_b_stride: Default::default(),
            w_tile_rows: Default::default(),
            w_tile_cols: Default::default(),
            w_np: Default::default(),
            w_a_base: Default::default(),
            w_b_base: Default::default(),
            w_cin_base: Default::default(),
            w_out_base: Default::default(),
            tile_rows: Default::default(),
            tile_cols: Default::default(),
            a_stride: Default::default(),
            b_stride: Default::default(),
            base_rows: Default::default(),
            a_start: Default::default(),
            b_start: Default::default(),
            cin_start: Default::default(),
            out_start: Default::default(),
            a_end: Default::default(),
            b_end: Default::default(),
            cin_end: Default::default(),
            out_end: Default::default(),
            out_len: Default::default(),
            far: Default::default(),
            misaligned: Default::default(),
            mul_a: Default::default(),
            mul_b: Default::default(),
            mul_product: Default::default(),
            mul_far: Default::default(),
            b_from_c: Default::default(),
            k_a: Default::default(),
            k_b: Default::default(),
            k_min_r: Default::default(),
            period_mask: Default::default(),
            period: Default::default(),
            rows16: constant(R as u64),
            r_mask16: constant((R - 1) as u64),
            c_mask16: constant((C - 1) as u64),
            log2r: constant(R.trailing_zeros() as u64),
            log2c: constant(C.trailing_zeros() as u64),
            r_minus_1: constant((R - 1) as u64),
            c_minus_1: constant((C - 1) as u64),
            far_rows: constant((18 - R.trailing_zeros()) as u64),
            depth_a: constant(1 << DA),
            depth_c: constant(1 << DC),
            st_ok: constant(Status::Ok as u64),
            st_bad_address: constant(Status::BadAddress as u64),
            st_bad_size: constant(Status::BadSize as u64),
            st_bad_format: constant(Status::BadFormat as u64),
        }
    }
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> Logic
    for GemmArgs<R, C, DA, DC>
{
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            size_far,
            verdict,
            out_shift,
            out_align,
            out_mode,
            out_relu,
            out_sign,
            out_acc,
            out_masked,
            out_mn,
            w_k,
            w_k_last,
            w_idle,
            w_at,
            w_bt,
            w_bfc,
            w_a_stride,
            w_b_stride,
            w_tile_rows,
            w_tile_cols,
            w_np,
            w_a_base,
            w_b_base,
            w_cin_base,
            w_out_base
        );
        for i in 0..3 {
            self.product[i].clock.next = self.clock.val();
            self.product[i].d.next = self.product[i].q.val();
        }
        for i in 0..GEMM_ARGS {
            self.arg[i].clock.next = self.clock.val();
            self.arg[i].d.next = self.arg[i].q.val();
            if self.load.val() & (self.index.val().index() == i) {
                self.arg[i].d.next = self.word.val();
            }
        }
        for i in 0..3 {
            self.format.word[i].next = self.arg[i].q.val();
        }

        // ---- What the GEMM reads while it runs. ----
        self.format.enable.next = self.sizing.val() | !self.registered.val();
        self.k.next = self.w_k.q.val();
        self.b_from_c.next = self.w_bfc.q.val();
        self.walk.k_last.next = self.w_k_last.q.val();
        self.walk.idle_steps.next = self.w_idle.q.val();
        self.walk.a_transposed.next = self.w_at.q.val();
        self.walk.b_transposed.next = self.w_bt.q.val();
        self.walk.a_stride.next = self.w_a_stride.q.val();
        self.walk.b_stride.next = self.w_b_stride.q.val();
        self.walk.tile_rows.next = self.w_tile_rows.q.val();
        self.walk.tile_cols.next = self.w_tile_cols.q.val();
        self.walk.np.next = self.w_np.q.val();
        self.walk.a_base.next = self.w_a_base.q.val();
        self.walk.b_base.next = self.w_b_base.q.val();
        self.walk.cin_base.next = self.w_cin_base.q.val();
        self.walk.out_base.next = self.w_out_base.q.val();
        self.settings.masked.next = self.out_masked.q.val();
        self.settings.shift.next = self.out_shift.q.val();
        self.settings.align.next = self.out_align.q.val();
        self.settings.mode.next = self.out_mode.q.val();
        self.settings.relu.next = self.out_relu.q.val();
        self.settings.sign_bits.next = self.out_sign.q.val();
        self.settings.acc_init.next = self.out_acc.q.val();
        self.mn.next = self.out_mn.q.val();

        // Everything below is evaluated only in the size steps (zero
        // otherwise) when the walk is registered: a simulator skips an
        // untaken branch, and nothing it computes changes later. Every
        // step registers the same fields.
        self.tile_rows.next = 0.into();
        self.tile_cols.next = 0.into();
        self.a_stride.next = 0.into();
        self.b_stride.next = 0.into();
        self.k_a.next = 0.into();
        self.k_b.next = 0.into();
        self.k_min_r.next = 0.into();
        self.period_mask.next = 0.into();
        self.period.next = 0.into();
        for i in 0..4 {
            self.base_rows[i].next = 0.into();
        }
        self.a_start.next = 0.into();
        self.b_start.next = 0.into();
        self.cin_start.next = 0.into();
        self.out_start.next = 0.into();
        self.mul_a.next = 0.into();
        self.mul_b.next = 0.into();
        self.mul_product.next = 0.into();
        self.mul_far.next = false;
        self.out_len.next = 0.into();
        self.far.next = false;
        self.a_end.next = 0.into();
        self.b_end.next = 0.into();
        self.out_end.next = 0.into();
        self.cin_end.next = 0.into();
        self.misaligned.next = false;
        if self.sizing.val() | !self.registered.val() {
            // ---- The walk's fields. ----
            self.w_k.d.next = self.format.k.val();
            self.w_k_last.d.next = self.format.k.val() - 1;
            self.tile_rows.next = bit_cast::<16, 32>(
                (bit_cast::<32, 16>(self.format.m.val()) + self.r_minus_1.val())
                    >> self.log2r.val(),
            );
            self.tile_cols.next = bit_cast::<16, 32>(
                (bit_cast::<32, 16>(self.format.ncol.val()) + self.c_minus_1.val())
                    >> self.log2c.val(),
            );
            self.w_tile_rows.d.next = self.tile_rows.val();
            self.w_tile_cols.d.next = self.tile_cols.val();
            self.w_np.d.next = bit_cast::<DC, 16>(self.tile_cols.val()) << self.log2r.val();
            // ---- Operand paths, and the tile period they ask for. ----
            self.w_at.d.next = self.format.a_transposed.val();
            self.w_bt.d.next = self.format.b_transposed.val();
            self.w_bfc.d.next = self.format.b_from_c.val();
            self.a_stride.next = (self.format.k.val() + self.r_mask16.val()) >> self.log2r.val();
            self.b_stride.next = (self.format.k.val() + self.c_mask16.val()) >> self.log2c.val();
            self.w_a_stride.d.next = self.a_stride.val();
            self.w_b_stride.d.next = self.b_stride.val();
            self.k_a.next = self.format.k.val();
            if self.format.a_transposed.val() {
                self.k_a.next = self.a_stride.val() << self.log2r.val();
            }
            self.k_b.next = self.format.k.val();
            if self.format.b_transposed.val() {
                self.k_b.next = self.b_stride.val() << self.log2c.val();
            }
            // max(K, R), padded to R if A is transposed and to C if B is:
            // the sides are powers of two, so the larger mask pads to both.
            self.k_min_r.next = self.format.k.val();
            if self.format.k.val() < self.rows16.val() {
                self.k_min_r.next = self.rows16.val();
            }
            if self.format.a_transposed.val() {
                self.period_mask.next = self.r_mask16.val();
            }
            if self.format.b_transposed.val() {
                self.period_mask.next = self.period_mask.val() | self.c_mask16.val();
            }
            self.period.next =
                (self.k_min_r.val() + self.period_mask.val()) & !self.period_mask.val();
            self.w_idle.d.next = self.period.val() - self.format.k.val();

            self.base_rows[0].next = self.arg[3].q.val() >> self.log2r.val();
            self.base_rows[1].next = self.arg[4].q.val() >> self.log2c.val();
            self.base_rows[2].next = self.arg[5].q.val() >> self.log2c.val();
            self.base_rows[3].next = self.arg[6].q.val() >> self.log2c.val();
            self.a_start.next = bit_cast::<20, 32>(self.base_rows[0].val());
            self.b_start.next = bit_cast::<20, 32>(self.base_rows[1].val());
            self.cin_start.next = bit_cast::<20, 32>(self.base_rows[2].val());
            self.out_start.next = bit_cast::<20, 32>(self.base_rows[3].val());
            self.w_a_base.d.next = bit_cast::<DA, 20>(self.a_start.val());
            self.w_b_base.d.next = bit_cast::<DC, 20>(self.b_start.val());
            self.w_cin_base.d.next = bit_cast::<DC, 20>(self.cin_start.val());
            self.w_out_base.d.next = bit_cast::<DC, 20>(self.out_start.val());
        }
        if !self.registered.val() {
            // The registers' inputs, formed in every cycle (the registers
            // are then unread, and synthesis drops them).
            self.k.next = self.w_k.d.val();
            self.b_from_c.next = self.w_bfc.d.val();
            self.walk.k_last.next = self.w_k_last.d.val();
            self.walk.idle_steps.next = self.w_idle.d.val();
            self.walk.a_transposed.next = self.w_at.d.val();
            self.walk.b_transposed.next = self.w_bt.d.val();
            self.walk.a_stride.next = self.w_a_stride.d.val();
            self.walk.b_stride.next = self.w_b_stride.d.val();
            self.walk.tile_rows.next = self.w_tile_rows.d.val();
            self.walk.tile_cols.next = self.w_tile_cols.d.val();
            self.walk.np.next = self.w_np.d.val();
            self.walk.a_base.next = self.w_a_base.d.val();
            self.walk.b_base.next = self.w_b_base.d.val();
            self.walk.cin_base.next = self.w_cin_base.d.val();
            self.walk.out_base.next = self.w_out_base.d.val();
        }
        if self.sizing.val() {
            // ---- The output stages' settings. ----
            self.out_shift.d.next = self.format.shift.val();
            self.out_align.d.next = self.format.align.val();
            self.out_mode.d.next = self.format.mode.val();
            self.out_relu.d.next = self.format.relu.val();
            self.out_sign.d.next = self.format.sign_bits.val();
            self.out_acc.d.next = self.format.acc_init.val();
            self.out_masked.d.next = self.format.masked.val();

            // ---- The size products, one a cycle through one multiplier. ----
            self.mul_a.next = self.k_a.val();
            self.mul_b.next = self.tile_rows.val();
            if self.index.val() == 1 {
                self.mul_a.next = self.k_b.val();
                self.mul_b.next = self.tile_cols.val();
            }
            if self.index.val() == 2 {
                self.mul_a.next = self.tile_cols.val();
            }
            if self.index.val() == 3 {
                self.mul_a.next = self.format.m.val();
                self.mul_b.next = self.format.ncol.val();
            }
            self.mul_product.next = self.mul_a.val() * self.mul_b.val();
            // The output length is the third product times R.
            self.mul_far.next = self.mul_product.val().get_bits::<14>(18).any();
            if self.index.val() == 2 {
                self.mul_far.next = (self.mul_product.val() >> self.far_rows.val()).any();
            }
            for i in 0..3 {
                if self.index.val().index() == i {
                    self.product[i].d.next = bit_cast::<20, 32>(self.mul_product.val());
                }
            }
            if self.index.val() == 0 {
                self.size_far.d.next = self.mul_far.val();
            } else if self.index.val() == 3 {
                self.out_mn.d.next = self.mul_product.val();
            } else {
                self.size_far.d.next = self.size_far.q.val() | self.mul_far.val();
            }

            // ---- Regions: final in the last size step, as the products
            // and `size_far` are by then. ----
            self.out_len.next = bit_cast::<40, 20>(self.product[2].q.val()) << self.log2r.val();
            // Every depth is at most 2^15 rows, and two values under 2^18 add
            // up exactly in 20 bits.
            self.far.next = self.base_rows[0].val().get_bits::<14>(18).any()
                | self.base_rows[1].val().get_bits::<14>(18).any()
                | self.base_rows[3].val().get_bits::<14>(18).any()
                | (self.format.acc_init.val() & self.base_rows[2].val().get_bits::<14>(18).any())
                | self.size_far.q.val();
            // Ends in bank rows: A has Mp / R rows per step, B Np / C (per step
            // of K padded, when transposed), and the output Mp x Np elements
            // over C banks.
            self.a_end.next = self.a_start.val() + self.product[0].q.val();
            self.b_end.next = self.b_start.val() + self.product[1].q.val();
            self.out_end.next = self.out_start.val() + bit_cast::<20, 40>(self.out_len.val());
            self.cin_end.next = self.cin_start.val() + bit_cast::<20, 40>(self.out_len.val());
            self.misaligned.next = (self.arg[3].q.val() & self.r_minus_1.val()).any()
                | ((self.arg[4].q.val() | self.arg[6].q.val()) & self.c_minus_1.val()).any()
                | (self.format.acc_init.val() & (self.arg[5].q.val() & self.c_minus_1.val()).any());
            // Same priority as srsa_spec::protocol::decode_gemm: the last
            // assignment that applies wins.
            self.verdict.d.next = self.st_ok.val();
            if (self.misaligned.val()
                | self.far.val()
                | (self.a_end.val() > self.depth_a.val())
                | (self.b_end.val() > self.depth_c.val())
                | (self.out_end.val() > self.depth_c.val()))
                | (self.format.acc_init.val()
                    & ((self.cin_end.val() > self.depth_c.val())
                        | ((self.cin_start.val() != self.out_start.val())
                            & (self.cin_start.val() < self.out_end.val())
                            & (self.out_start.val() < self.cin_end.val()))))
                // B read from C must not be overwritten by the GEMM's outputs.
                | (self.format.b_from_c.val()
                    & (self.b_start.val() < self.out_end.val())
                    & (self.out_start.val() < self.b_end.val()))
            {
                self.verdict.d.next = self.st_bad_address.val();
            }
            if self.format.bad_format.val() {
                self.verdict.d.next = self.st_bad_format.val();
            }
            if self.format.bad_size.val() {
                self.verdict.d.next = self.st_bad_size.val();
            }
            if self.format.bad_request.val() {
                self.verdict.d.next = self.st_bad_format.val();
            }
        }
        self.status.next = self.verdict.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use srsa_spec::protocol::{
        decode_gemm, encode_gemm, feature, pad, tile_period, Gemm, MASK_FROM, PATHS_FROM,
    };

    const FIELDS: usize = 23;

    /// What the block says of one set of argument words.
    #[derive(Clone, Debug, PartialEq)]
    struct Verdict {
        status: u8,
        /// For an accepted GEMM: k, k_last, tile rows and columns, np, the
        /// four bases in bank rows, shift, align, mode, relu, sign bits,
        /// acc_init, mn,
        /// the three path flags, idle steps, A's and B's row strides, masked.
        fields: Option<[u64; FIELDS]>,
    }

    /// The spec's verdict: `decode_gemm`, and the fields the sequencer
    /// and output stages need, derived from the decoded GEMM.
    fn reference(
        w: &[u32; GEMM_ARGS],
        rows: usize,
        cols: usize,
        elems: u32,
        features: u32,
    ) -> Verdict {
        match decode_gemm(w, rows as u32, cols as u32, elems, features) {
            Err(s) => Verdict {
                status: s as u8,
                fields: None,
            },
            Ok(g) => {
                let (r, c) = (rows as u64, cols as u64);
                let tile_cols = pad(g.ncol, cols as u32) as u64 / c;
                Verdict {
                    status: Status::Ok as u8,
                    fields: Some([
                        g.k as u64,
                        g.k as u64 - 1,
                        pad(g.m, rows as u32) as u64 / r,
                        tile_cols,
                        tile_cols * r,
                        g.a_base as u64 / r,
                        g.b_base as u64 / c,
                        if g.acc_init { g.cin_base as u64 / c } else { 0 },
                        g.out_base as u64 / c,
                        g.formats.shift() as u64,
                        if g.acc_init {
                            g.formats.cin_align() as u64
                        } else {
                            0
                        },
                        g.mode.code() as u64,
                        g.relu as u64,
                        crate::rounding::sign_bits(g.formats.wl_out) as u64,
                        g.acc_init as u64,
                        g.m as u64 * g.ncol as u64,
                        g.a_transposed as u64,
                        g.b_transposed as u64,
                        g.b_from_c as u64,
                        (tile_period(rows as u32, cols as u32, &g) - g.k) as u64,
                        pad(g.k, rows as u32) as u64 / r,
                        pad(g.k, cols as u32) as u64 / c,
                        g.masked as u64,
                    ]),
                }
            }
        }
    }

    /// Argument words near the edges of every check: mostly a legal GEMM,
    /// with one or two fields pushed out of range or to their limits.
    fn random_words(
        rng: &mut impl Rng,
        rows: u32,
        cols: u32,
        elems: u32,
        features: u32,
    ) -> [u32; GEMM_ARGS] {
        // Narrow outputs mostly on a device that has them, rarely (to be
        // refused) on one that does not.
        let narrow = if features & feature::WORD_LENGTH != 0 {
            5
        } else {
            9
        };
        let small = |rng: &mut dyn rand::RngCore, n: u32| rng.gen_range(1..=n);
        let fl_a = rng.gen_range(0..=16u8);
        let fl_b = rng.gen_range(0..=16u8);
        let g = Gemm {
            m: small(rng, 3 * rows),
            k: small(rng, 12),
            ncol: small(rng, 3 * cols),
            mode: srsa_spec::numerics::Rounding::ALL[rng.gen_range(0..3)],
            relu: rng.gen(),
            acc_init: rng.gen(),
            a_transposed: false,
            b_transposed: false,
            b_from_c: false,
            masked: false,
            formats: srsa_spec::numerics::Formats::new(
                fl_a,
                fl_b,
                rng.gen_range(0..=fl_a + fl_b),
                rng.gen_range(0..=fl_a + fl_b),
            )
            .with_wl(match rng.gen_range(0..10) {
                i if i < narrow => 16,
                9 => rng.gen_range(0..32),
                _ => rng.gen_range(2..16),
            }),
            a_base: rows * rng.gen_range(0..4),
            b_base: cols * rng.gen_range(0..4),
            cin_base: cols * rng.gen_range(0..8),
            out_base: cols * rng.gen_range(0..8),
        };
        let mut w = encode_gemm(&g);
        // The operand paths, often, with B in C placed before, on or
        // after the output.
        if rng.gen_bool(0.5) {
            w[1] |= rng.gen_range(1..8) << PATHS_FROM;
            if w[1] >> (PATHS_FROM + 2) & 1 == 1 {
                if rng.gen_bool(0.8) {
                    w[1] &= !(1 << 19); // no C_in beside B from C
                }
                let out_len = pad(g.m, rows) * pad(g.ncol, cols);
                w[4] = match rng.gen_range(0..4) {
                    0 => w[6] + out_len,
                    1 => w[6] + out_len - cols,
                    2 => w[6],
                    _ => w[6].saturating_sub(cols * rng.gen_range(1..40)),
                };
            }
        }
        for _ in 0..rng.gen_range(0..3) {
            match rng.gen_range(0..15) {
                0 => w[0] &= 0xFFFF_0000 * rng.gen_range(0..2), // M or both 0
                1 => w[0] |= 0xFFFF << (16 * rng.gen_range(0..2)),
                2 => w[1] = (w[1] & !0xFFFF) | [0, 32767, 32768, 0xFFFF][rng.gen_range(0..4)],
                3 => w[1] |= 3 << 16,                            // no mode 3
                4 => w[1] |= 1 << rng.gen_range(PATHS_FROM..32), // a path, WL_out or reserved bit
                5 => w[2] = rng.gen(),                           // any FLs
                6 => w[2] = (w[2] & !0xFF) | rng.gen_range(31..=40),
                7 => w[rng.gen_range(3..7)] += 1, // misaligned
                8 => w[rng.gen_range(3..7)] = rng.gen(), // anywhere
                9 => w[rng.gen_range(3..7)] = elems - cols, // the end
                10 => w[5] = w[6] + cols,         // overlap
                11 => w[5] = w[6],                // in place
                12 => w[1] = (w[1] & !0xFFFF) | rng.gen_range(1..200),
                13 => w[1] |= 1 << MASK_FROM, // masked, with or without C_in
                _ => w[0] = rng.gen_range(1..64) | rng.gen_range(1..64) << 16,
            }
        }
        w
    }

    fn args_match_spec<const R: usize, const C: usize, const DA: usize, const DC: usize>(
        features: u32,
        seed: u64,
        cases: usize,
    ) {
        println!("{R} x {C}, paths {features}, seed {seed:#x}");
        let elems = (C << DC) as u32;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let words: Vec<[u32; GEMM_ARGS]> = (0..cases)
            .map(|_| random_words(&mut rng, R as u32, C as u32, elems, features))
            .collect();
        // Per case: seven words, four size steps, one cycle to read the
        // verdict (and the registered settings).
        let plan: Vec<(u32, bool, bool, u64)> = words
            .iter()
            .flat_map(|w| {
                (0..GEMM_ARGS + 5).map(move |cycle| {
                    let loading = cycle < GEMM_ARGS;
                    let index = if loading { cycle } else { cycle - GEMM_ARGS };
                    let word = *w.get(cycle).unwrap_or(&0xDEAD_BEEF);
                    (word, loading, !loading && index < 4, index as u64)
                })
            })
            .collect();
        let seen = crate::testbench::run_plan(
            GemmArgs::<R, C, DA, DC>::new(features),
            plan,
            |&(word, load, sizing, index), x| {
                x.load.next = load;
                x.word.next = (word as u64).into();
                x.sizing.next = sizing;
                x.index.next = index.into();
            },
            |x| {
                let fields = [
                    x.k.val().to_u64(),
                    x.walk.k_last.val().to_u64(),
                    x.walk.tile_rows.val().to_u64(),
                    x.walk.tile_cols.val().to_u64(),
                    x.walk.np.val().to_u64(),
                    x.walk.a_base.val().to_u64(),
                    x.walk.b_base.val().to_u64(),
                    x.walk.cin_base.val().to_u64(),
                    x.walk.out_base.val().to_u64(),
                    x.settings.shift.val().to_u64(),
                    x.settings.align.val().to_u64(),
                    x.settings.mode.val().to_u64(),
                    x.settings.relu.val() as u64,
                    x.settings.sign_bits.val().to_u64(),
                    x.settings.acc_init.val() as u64,
                    x.mn.val().to_u64(),
                    x.walk.a_transposed.val() as u64,
                    x.walk.b_transposed.val() as u64,
                    x.b_from_c.val() as u64,
                    x.walk.idle_steps.val().to_u64(),
                    x.walk.a_stride.val().to_u64(),
                    x.walk.b_stride.val().to_u64(),
                    x.settings.masked.val() as u64,
                ];
                (x.status.val().to_u64() as u8, fields)
            },
        );
        let got: Vec<(u8, [u64; FIELDS])> = seen
            .into_iter()
            .skip(GEMM_ARGS + 4)
            .step_by(GEMM_ARGS + 5)
            .collect();
        assert_eq!(got.len(), cases);
        let mut seen = std::collections::BTreeMap::new();
        for (i, (w, &(status, mut fields))) in words.iter().zip(&got).enumerate() {
            let want = reference(w, R, C, elems, features);
            if want.fields.is_some() && w[1] >> 19 & 1 == 0 {
                // Without accumulate-init, C_in's base and alignment are
                // don't-cares that the output stages never use.
                fields[7] = 0;
                fields[10] = 0;
            }
            let have = Verdict {
                status,
                fields: want.fields.map(|_| fields),
            };
            assert_eq!(have, want, "case {i}: words {w:08x?}");
            *seen.entry(status).or_insert(0) += 1;
        }
        println!("verdicts by status: {seen:?}");
        for s in [
            Status::Ok,
            Status::BadAddress,
            Status::BadSize,
            Status::BadFormat,
        ] {
            assert!(
                seen.get(&(s as u8)).copied().unwrap_or(0) >= 10,
                "too few {s:?}"
            );
        }
    }

    #[test]
    fn square_args_match_spec() {
        args_match_spec::<4, 4, 6, 6>(feature::ALL, 0x5EED_0A01, 600);
        args_match_spec::<4, 4, 6, 6>(0, 0x5EED_0A03, 400);
    }

    #[test]
    fn rectangular_args_match_spec() {
        args_match_spec::<2, 4, 7, 6>(feature::ALL, 0x5EED_0A02, 400);
        args_match_spec::<4, 2, 6, 7>(feature::ALL, 0x5EED_0A04, 400);
        args_match_spec::<2, 4, 7, 6>(0, 0x5EED_0A05, 300);
    }
}
