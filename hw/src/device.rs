//! The whole device behind its host link: command decoder, GEMM sequencer,
//! the three banked buffers, the array and one output stage per column.
//! Protocol and layouts: `srsa_spec::protocol` and docs/PROTOCOL.md.
//!
//! Timing of a GEMM (R x C array): the sequencer emits one feed step per
//! cycle (k = 0..K of a tile, tile rows outer, tile columns inner). A step
//! enters address chain stage 0; row r's A bank and column c's B bank read
//! at stage r (resp. c), so operands reach the array already skewed. A
//! tile's last step also starts the drain generator, which names the
//! output row each column finishes; that name travels one column per cycle
//! beside the finished sums, so every output stage knows where to read
//! C_in and write its result. Tiles are spaced at least R cycles apart (a
//! gap when K < R) so each column finishes at most one sum per cycle.
//!
//! Buffer A has R banks (one per array row), B and C have C banks (one per
//! column); all three hold the same number of elements, so A's banks are
//! deeper when R < C.

use crate::array::Array;
use crate::output_stage::OutputStage;
use rust_hdl::prelude::*;
use rust_hdl::widgets::ramrom::ram::RAM;
use srsa_spec::lfsr::{column_state, POWER_UP_SEED};
use srsa_spec::numerics::MAX_SHIFT;
use srsa_spec::protocol::{op, Status, MAGIC, VERSION};

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum State {
    Idle,
    WrAddr,
    WrData,
    RdAddr,
    RdIssue,
    RdEmit,
    GemmArgs,
    GemmSize,
    GemmCheck,
    GemmRun,
    GemmGap,
    GemmFlush,
    SeedArgs,
    EmitStatus,
    EmitIdent,
    EmitCounters,
}

/// R x C: array rows and columns (powers of two, at least 2); DA and DC:
/// address bits of an A bank and of a B or C bank (R << DA == C << DC
/// elements per buffer).
#[derive(LogicBlock)]
pub struct Device<const R: usize, const C: usize, const DA: usize, const DC: usize> {
    pub clock: Signal<In, Clock>,
    /// Synchronous: back to Idle, any GEMM abandoned. Buffers, generator
    /// states and counters are kept.
    pub reset: Signal<In, Bit>,
    pub cmd_data: Signal<In, Bits<32>>,
    pub cmd_valid: Signal<In, Bit>,
    pub cmd_ready: Signal<Out, Bit>,
    pub rsp_data: Signal<Out, Bits<32>>,
    pub rsp_valid: Signal<Out, Bit>,
    pub rsp_ready: Signal<In, Bit>,

    pub array: Array<R, C>,
    pub a_bank: Vec<RAM<Bits<16>, DA>>,
    pub b_bank: Vec<RAM<Bits<16>, DC>>,
    pub c_bank: Vec<RAM<Bits<16>, DC>>,
    pub out: Vec<OutputStage<DC>>,
    /// Size products for the GEMM range checks, one multiplier for all:
    /// K * tile rows, K * tile columns, tile rows * tile columns, M * Ncol.
    /// The first three in bank rows, 20 bits (see `far`): `size_far` holds
    /// whether any reached 2^18.
    product: Vec<DFF<Bits<20>>>,
    size_far: DFF<Bit>,
    /// The GEMM's conversion settings, registered for the output stages:
    /// decoded from the argument words they would otherwise start every
    /// column's longest path (the words are stable long before a sum).
    out_shift: DFF<Bits<5>>,
    out_align: DFF<Bits<5>>,
    out_mode: DFF<Bits<2>>,
    out_relu: DFF<Bit>,
    out_acc_init: DFF<Bit>,
    /// M * Ncol: the MACs each step of this GEMM adds to the counter.
    mn: DFF<Bits<32>>,

    // Command decoder.
    state: DFF<State>,
    opcode: DFF<Bits<8>>,
    arg: DFF<Bits<24>>,
    status: DFF<Bits<8>>,
    count: DFF<Bits<24>>,
    elem: DFF<Bits<24>>,
    buffer: DFF<Bits<8>>,
    index: DFF<Bits<4>>,
    /// The first two SEED words; the third arrives as the load happens.
    seed_word: Vec<DFF<Bits<32>>>,
    gemm_arg: Vec<DFF<Bits<32>>>,

    // Sequencer.
    running: DFF<Bit>,
    k_step: DFF<Bits<16>>,
    tile_row: DFF<Bits<16>>,
    tile_col: DFF<Bits<16>>,
    a_addr: DFF<Bits<DA>>,
    b_addr: DFF<Bits<DC>>,
    cin_row: DFF<Bits<DC>>,
    out_row: DFF<Bits<DC>>,
    gap: DFF<Bits<16>>,
    flush: DFF<Bits<8>>,

    // Feed chains: stage s is the feed step delayed s cycles.
    a_chain: Vec<DFF<Bits<DA>>>,
    b_chain: Vec<DFF<Bits<DC>>>,
    /// Flags are one stage longer: they must meet the RAM's read data.
    valid_chain: Vec<DFF<Bit>>,
    first_chain: Vec<DFF<Bit>>,
    last_chain: Vec<DFF<Bit>>,

    // Drain generator and its per-column chain.
    drain_active: DFF<Bit>,
    drain_row: DFF<Bits<8>>,
    drain_cin: DFF<Bits<DC>>,
    drain_out: DFF<Bits<DC>>,
    d_valid: Vec<DFF<Bit>>,
    d_cin: Vec<DFF<Bits<DC>>>,
    d_out: Vec<DFF<Bits<DC>>>,

    // Counters.
    cycles: DFF<Bits<64>>,
    busy: DFF<Bits<64>>,
    macs: DFF<Bits<64>>,
    snapshot: DFF<Bits<64>>,
    macs_left: DFF<Bits<16>>,

    // Decoded GEMM arguments and host addresses (combinational).
    g_m: Signal<Local, Bits<16>>,
    g_ncol: Signal<Local, Bits<16>>,
    g_k: Signal<Local, Bits<16>>,
    g_kmax: Signal<Local, Bits<16>>,
    g_mode: Signal<Local, Bits<2>>,
    g_relu: Signal<Local, Bit>,
    g_acc_init: Signal<Local, Bit>,
    fl_a: Signal<Local, Bits<16>>,
    fl_b: Signal<Local, Bits<16>>,
    fl_c: Signal<Local, Bits<16>>,
    fl_out: Signal<Local, Bits<16>>,
    fl_ab: Signal<Local, Bits<16>>,
    g_shift: Signal<Local, Bits<5>>,
    g_align: Signal<Local, Bits<5>>,
    /// Tile rows and tile columns.
    mpn: Signal<Local, Bits<16>>,
    npn: Signal<Local, Bits<16>>,
    /// C bank rows per tile row of the output.
    np: Signal<Local, Bits<DC>>,
    // Region arithmetic is NARROW bits wide: a base or length with a bit at
    // or above FAR_BIT (`far`) is out of every buffer by itself, and below
    // it the sums are exact. 40-bit ends cost an iCE40 ~400 cells.
    a_base: Signal<Local, Bits<20>>,
    b_base: Signal<Local, Bits<20>>,
    cin_base: Signal<Local, Bits<20>>,
    out_base: Signal<Local, Bits<20>>,
    a_end: Signal<Local, Bits<20>>,
    b_end: Signal<Local, Bits<20>>,
    cin_end: Signal<Local, Bits<20>>,
    out_end: Signal<Local, Bits<20>>,
    /// Output rows (in bank rows): Mp x Np elements over C banks.
    out_len: Signal<Local, Bits<40>>,
    far: Signal<Local, Bit>,
    /// The bases in bank rows, full width (for `far`).
    base_rows: [Signal<Local, Bits<32>>; 4],
    misaligned: Signal<Local, Bit>,
    gemm_status: Signal<Local, Bits<8>>,
    region_status: Signal<Local, Bits<8>>,
    region_end: Signal<Local, Bits<32>>,
    /// Bank of `elem` and of `elem + 1` in buffer A, and in B or C.
    elem_bank_a: Signal<Local, Bits<24>>,
    elem_bank_a_hi: Signal<Local, Bits<24>>,
    elem_bank_c: Signal<Local, Bits<24>>,
    elem_bank_c_hi: Signal<Local, Bits<24>>,
    elem_row_a: Signal<Local, Bits<DA>>,
    elem_row_c: Signal<Local, Bits<DC>>,
    /// The element a READ fetches this cycle: the next pair while the
    /// current one is being accepted, so READ streams a word per cycle.
    rd_elem: Signal<Local, Bits<24>>,
    /// One adder each, shared by every state that steps them.
    elem_step: Signal<Local, Bits<24>>,
    count_step: Signal<Local, Bits<24>>,
    busy_step: Signal<Local, Bits<64>>,
    rd_row_a: Signal<Local, Bits<DA>>,
    rd_row_c: Signal<Local, Bits<DC>>,
    mul_a: Signal<Local, Bits<16>>,
    mul_b: Signal<Local, Bits<16>>,
    mul_product: Signal<Local, Bits<32>>,
    mul_far: Signal<Local, Bit>,
    /// 18 - log2(R): where a product times R reaches 2^18.
    far_rows: Constant<Bits<32>>,
    read_lo: Signal<Local, Bits<16>>,
    read_hi: Signal<Local, Bits<16>>,
    host_write: Signal<Local, Bit>,

    // Constants (index and width arithmetic on const generics cannot appear
    // in generated Verilog, so they are computed here).
    log2r: Constant<Bits<8>>,
    log2c: Constant<Bits<8>>,
    r_minus_1: Constant<Bits<32>>,
    c_minus_1: Constant<Bits<32>>,
    r_bits16: Constant<Bits<16>>,
    depth_a: Constant<Bits<20>>,
    depth_c: Constant<Bits<20>>,
    capacity: Constant<Bits<32>>,
    flush_len: Constant<Bits<8>>,
    drain_last: Constant<Bits<8>>,
    ident: Vec<Constant<Bits<32>>>,
    st_ok: Constant<Bits<8>>,
    st_unknown_opcode: Constant<Bits<8>>,
    st_bad_buffer: Constant<Bits<8>>,
    st_bad_address: Constant<Bits<8>>,
    st_bad_size: Constant<Bits<8>>,
    st_bad_format: Constant<Bits<8>>,
    max_shift: Constant<Bits<16>>,
    st_bad_column: Constant<Bits<8>>,
    op_identify: Constant<Bits<8>>,
    op_write: Constant<Bits<8>>,
    op_read: Constant<Bits<8>>,
    op_gemm: Constant<Bits<8>>,
    op_seed: Constant<Bits<8>>,
    op_counters: Constant<Bits<8>>,
}

fn dffs<T: Synth>(n: usize) -> Vec<DFF<T>> {
    (0..n).map(|_| DFF::default()).collect()
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> Default
    for Device<R, C, DA, DC>
{
    fn default() -> Self {
        assert!(
            R.is_power_of_two() && R >= 2 && C.is_power_of_two() && C >= 2,
            "array rows and columns must be powers of two, at least 2"
        );
        assert_eq!(
            R << DA,
            C << DC,
            "buffers A and B/C must hold as many elements"
        );
        let ident = [
            MAGIC,
            VERSION,
            R as u32,
            C as u32,
            16,
            48,
            (C << DC) as u32,
            0,
        ];
        Self {
            clock: Default::default(),
            reset: Default::default(),
            cmd_data: Default::default(),
            cmd_valid: Default::default(),
            cmd_ready: Default::default(),
            rsp_data: Default::default(),
            rsp_valid: Default::default(),
            rsp_ready: Default::default(),
            array: Default::default(),
            a_bank: (0..R).map(|_| RAM::default()).collect(),
            b_bank: (0..C).map(|_| RAM::default()).collect(),
            c_bank: (0..C).map(|_| RAM::default()).collect(),
            out: (0..C)
                .map(|c| OutputStage::new(column_state(POWER_UP_SEED, c)))
                .collect(),
            product: dffs(3),
            size_far: Default::default(),
            out_shift: Default::default(),
            out_align: Default::default(),
            out_mode: Default::default(),
            out_relu: Default::default(),
            out_acc_init: Default::default(),
            mn: Default::default(),
            state: Default::default(),
            opcode: Default::default(),
            arg: Default::default(),
            status: Default::default(),
            count: Default::default(),
            elem: Default::default(),
            buffer: Default::default(),
            index: Default::default(),
            seed_word: dffs(2),
            gemm_arg: dffs(7),
            running: Default::default(),
            k_step: Default::default(),
            tile_row: Default::default(),
            tile_col: Default::default(),
            a_addr: Default::default(),
            b_addr: Default::default(),
            cin_row: Default::default(),
            out_row: Default::default(),
            gap: Default::default(),
            flush: Default::default(),
            a_chain: dffs(R),
            b_chain: dffs(C),
            valid_chain: dffs(R + 1),
            first_chain: dffs(R + 1),
            last_chain: dffs(R + 1),
            drain_active: Default::default(),
            drain_row: Default::default(),
            drain_cin: Default::default(),
            drain_out: Default::default(),
            d_valid: dffs(C),
            d_cin: dffs(C),
            d_out: dffs(C),
            cycles: Default::default(),
            busy: Default::default(),
            macs: Default::default(),
            snapshot: Default::default(),
            macs_left: Default::default(),
            g_m: Default::default(),
            g_ncol: Default::default(),
            g_k: Default::default(),
            g_kmax: Default::default(),
            g_mode: Default::default(),
            g_relu: Default::default(),
            g_acc_init: Default::default(),
            fl_a: Default::default(),
            fl_b: Default::default(),
            fl_c: Default::default(),
            fl_out: Default::default(),
            fl_ab: Default::default(),
            g_shift: Default::default(),
            g_align: Default::default(),
            mpn: Default::default(),
            npn: Default::default(),
            np: Default::default(),
            a_base: Default::default(),
            b_base: Default::default(),
            cin_base: Default::default(),
            out_base: Default::default(),
            a_end: Default::default(),
            b_end: Default::default(),
            cin_end: Default::default(),
            out_end: Default::default(),
            out_len: Default::default(),
            far: Default::default(),
            base_rows: Default::default(),
            misaligned: Default::default(),
            gemm_status: Default::default(),
            region_status: Default::default(),
            region_end: Default::default(),
            elem_bank_a: Default::default(),
            elem_bank_a_hi: Default::default(),
            elem_bank_c: Default::default(),
            elem_bank_c_hi: Default::default(),
            elem_row_a: Default::default(),
            elem_row_c: Default::default(),
            rd_elem: Default::default(),
            elem_step: Default::default(),
            count_step: Default::default(),
            busy_step: Default::default(),
            rd_row_a: Default::default(),
            rd_row_c: Default::default(),
            mul_a: Default::default(),
            mul_b: Default::default(),
            mul_product: Default::default(),
            mul_far: Default::default(),
            far_rows: Constant::new(((18 - R.trailing_zeros()) as u64).into()),
            read_lo: Default::default(),
            read_hi: Default::default(),
            host_write: Default::default(),
            log2r: Constant::new((R.trailing_zeros() as u64).into()),
            log2c: Constant::new((C.trailing_zeros() as u64).into()),
            r_minus_1: Constant::new(((R - 1) as u64).into()),
            c_minus_1: Constant::new(((C - 1) as u64).into()),
            r_bits16: Constant::new((R as u64).into()),
            depth_a: Constant::new(((1u64) << DA).into()),
            depth_c: Constant::new(((1u64) << DC).into()),
            capacity: Constant::new(((C as u64) << DC).into()),
            flush_len: Constant::new(((R + C + 3) as u64).into()),
            drain_last: Constant::new(((R - 1) as u64).into()),
            ident: ident
                .iter()
                .map(|&w| Constant::new((w as u64).into()))
                .collect(),
            st_ok: Constant::new((Status::Ok as u64).into()),
            st_unknown_opcode: Constant::new((Status::UnknownOpcode as u64).into()),
            st_bad_buffer: Constant::new((Status::BadBuffer as u64).into()),
            st_bad_address: Constant::new((Status::BadAddress as u64).into()),
            st_bad_size: Constant::new((Status::BadSize as u64).into()),
            st_bad_format: Constant::new((Status::BadFormat as u64).into()),
            max_shift: Constant::new((MAX_SHIFT as u64).into()),
            st_bad_column: Constant::new((Status::BadColumn as u64).into()),
            op_identify: Constant::new((op::IDENTIFY as u64).into()),
            op_write: Constant::new((op::WRITE as u64).into()),
            op_read: Constant::new((op::READ as u64).into()),
            op_gemm: Constant::new((op::GEMM as u64).into()),
            op_seed: Constant::new((op::SEED as u64).into()),
            op_counters: Constant::new((op::COUNTERS as u64).into()),
        }
    }
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> Logic
    for Device<R, C, DA, DC>
{
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            state,
            opcode,
            arg,
            status,
            count,
            elem,
            buffer,
            index,
            running,
            k_step,
            tile_row,
            tile_col,
            a_addr,
            b_addr,
            cin_row,
            out_row,
            gap,
            flush,
            drain_active,
            drain_row,
            drain_cin,
            drain_out,
            cycles,
            busy,
            macs,
            snapshot,
            macs_left,
            size_far,
            mn,
            out_shift,
            out_align,
            out_mode,
            out_relu,
            out_acc_init
        );
        self.array.clock.next = self.clock.val();
        for i in 0..3 {
            self.product[i].clock.next = self.clock.val();
            self.product[i].d.next = self.product[i].q.val();
        }
        for i in 0..2 {
            self.seed_word[i].clock.next = self.clock.val();
            self.seed_word[i].d.next = self.seed_word[i].q.val();
        }
        for i in 0..7 {
            self.gemm_arg[i].clock.next = self.clock.val();
            self.gemm_arg[i].d.next = self.gemm_arg[i].q.val();
        }

        // ---- Decoded GEMM arguments (stable while a GEMM runs). ----
        self.g_m.next = self.gemm_arg[0].q.val().get_bits::<16>(0);
        self.g_ncol.next = self.gemm_arg[0].q.val().get_bits::<16>(16);
        self.g_k.next = self.gemm_arg[1].q.val().get_bits::<16>(0);
        self.g_kmax.next = self.g_k.val() - 1;
        self.g_mode.next = self.gemm_arg[1].q.val().get_bits::<2>(16);
        self.g_relu.next = self.gemm_arg[1].q.val().get_bit(18);
        self.g_acc_init.next = self.gemm_arg[1].q.val().get_bit(19);
        self.fl_a.next = bit_cast::<16, 8>(self.gemm_arg[2].q.val().get_bits::<8>(0));
        self.fl_b.next = bit_cast::<16, 8>(self.gemm_arg[2].q.val().get_bits::<8>(8));
        self.fl_c.next = bit_cast::<16, 8>(self.gemm_arg[2].q.val().get_bits::<8>(16));
        self.fl_out.next = bit_cast::<16, 8>(self.gemm_arg[2].q.val().get_bits::<8>(24));
        self.fl_ab.next = self.fl_a.val() + self.fl_b.val();
        self.g_shift.next = bit_cast::<5, 16>(self.fl_ab.val() - self.fl_out.val());
        self.g_align.next = bit_cast::<5, 16>(self.fl_ab.val() - self.fl_c.val());
        self.out_shift.d.next = self.g_shift.val();
        self.out_align.d.next = self.g_align.val();
        self.out_mode.d.next = self.g_mode.val();
        self.out_relu.d.next = self.g_relu.val();
        self.out_acc_init.d.next = self.g_acc_init.val();
        self.mpn.next = bit_cast::<16, 32>(
            (bit_cast::<32, 16>(self.g_m.val()) + self.r_minus_1.val()) >> self.log2r.val(),
        );
        self.npn.next = bit_cast::<16, 32>(
            (bit_cast::<32, 16>(self.g_ncol.val()) + self.c_minus_1.val()) >> self.log2c.val(),
        );
        self.np.next = bit_cast::<DC, 16>(self.npn.val()) << self.log2r.val();
        self.base_rows[0].next = self.gemm_arg[3].q.val() >> self.log2r.val();
        self.base_rows[1].next = self.gemm_arg[4].q.val() >> self.log2c.val();
        self.base_rows[2].next = self.gemm_arg[5].q.val() >> self.log2c.val();
        self.base_rows[3].next = self.gemm_arg[6].q.val() >> self.log2c.val();
        self.a_base.next = bit_cast::<20, 32>(self.base_rows[0].val());
        self.b_base.next = bit_cast::<20, 32>(self.base_rows[1].val());
        self.cin_base.next = bit_cast::<20, 32>(self.base_rows[2].val());
        self.out_base.next = bit_cast::<20, 32>(self.base_rows[3].val());
        self.out_len.next = bit_cast::<40, 20>(self.product[2].q.val()) << self.log2r.val();
        // FAR_BIT = 18: every depth is at most 2^15 rows, and two values
        // under 2^18 add up exactly in 20 bits.
        self.far.next = self.base_rows[0].val().get_bits::<14>(18).any()
            | self.base_rows[1].val().get_bits::<14>(18).any()
            | self.base_rows[3].val().get_bits::<14>(18).any()
            | (self.g_acc_init.val() & self.base_rows[2].val().get_bits::<14>(18).any())
            | self.size_far.q.val();
        // Ends in bank rows: A has Mp / R rows per step, B Np / C, and the
        // output Mp x Np elements over C banks.
        self.a_end.next = self.a_base.val() + self.product[0].q.val();
        self.b_end.next = self.b_base.val() + self.product[1].q.val();
        self.out_end.next = self.out_base.val() + bit_cast::<20, 40>(self.out_len.val());
        self.cin_end.next = self.cin_base.val() + bit_cast::<20, 40>(self.out_len.val());
        self.misaligned.next = (self.gemm_arg[3].q.val() & self.r_minus_1.val()).any()
            | ((self.gemm_arg[4].q.val() | self.gemm_arg[6].q.val()) & self.c_minus_1.val()).any()
            | (self.g_acc_init.val() & (self.gemm_arg[5].q.val() & self.c_minus_1.val()).any());
        // Same priority as srsa_spec::protocol::decode_gemm.
        self.gemm_status.next = self.st_ok.val();
        if (self.misaligned.val()
            | self.far.val()
            | (self.a_end.val() > self.depth_a.val())
            | (self.b_end.val() > self.depth_c.val())
            | (self.out_end.val() > self.depth_c.val()))
            | (self.g_acc_init.val()
                & ((self.cin_end.val() > self.depth_c.val())
                    | ((self.cin_base.val() != self.out_base.val())
                        & (self.cin_base.val() < self.out_end.val())
                        & (self.out_base.val() < self.cin_end.val()))))
        {
            self.gemm_status.next = self.st_bad_address.val();
        }
        if (self.fl_a.val() > 31)
            | (self.fl_b.val() > 31)
            | (self.fl_c.val() > 31)
            | (self.fl_out.val() > 31)
            | (self.fl_out.val() > self.fl_ab.val())
            | (self.fl_ab.val() > self.fl_out.val() + self.max_shift.val())
            | (self.g_acc_init.val()
                & ((self.fl_c.val() > self.fl_ab.val())
                    | (self.fl_ab.val() > self.fl_c.val() + self.max_shift.val())))
        {
            self.gemm_status.next = self.st_bad_format.val();
        }
        if (self.g_m.val() == 0)
            | (self.g_ncol.val() == 0)
            | (self.g_k.val() == 0)
            | self.g_k.val().get_bit(15)
        {
            self.gemm_status.next = self.st_bad_size.val();
        }
        if (self.g_mode.val() == 3) | self.gemm_arg[1].q.val().get_bits::<12>(20).any() {
            self.gemm_status.next = self.st_bad_format.val();
        }

        // ---- Host access to the buffers. ----
        // Region check of a WRITE/READ address word against `arg` words.
        self.region_end.next = bit_cast::<32, 24>(self.cmd_data.val().get_bits::<24>(0))
            + (bit_cast::<32, 24>(self.arg.q.val()) << 1);
        self.region_status.next = self.st_ok.val();
        if self.cmd_data.val().get_bit(0) | (self.region_end.val() > self.capacity.val()) {
            self.region_status.next = self.st_bad_address.val();
        }
        if self.arg.q.val() == 0 {
            self.region_status.next = self.st_bad_size.val();
        }
        if self.cmd_data.val().get_bits::<8>(24) > 2 {
            self.region_status.next = self.st_bad_buffer.val();
        }
        // Elements are even-addressed pairs, so with at least two banks
        // `elem` and `elem + 1` sit in neighbouring banks of the same row.
        self.elem_bank_a.next = self.elem.q.val() & bit_cast::<24, 32>(self.r_minus_1.val());
        self.elem_bank_a_hi.next = self.elem_bank_a.val() + 1;
        self.elem_bank_c.next = self.elem.q.val() & bit_cast::<24, 32>(self.c_minus_1.val());
        self.elem_bank_c_hi.next = self.elem_bank_c.val() + 1;
        self.elem_row_a.next = bit_cast::<DA, 24>(self.elem.q.val() >> self.log2r.val());
        self.elem_row_c.next = bit_cast::<DC, 24>(self.elem.q.val() >> self.log2c.val());
        self.elem_step.next = self.elem.q.val() + 2;
        self.count_step.next = self.count.q.val() - 1;
        self.busy_step.next = self.busy.q.val() + 1;
        self.rd_elem.next = self.elem.q.val();
        if (self.state.q.val() == State::RdEmit) & self.rsp_ready.val() {
            self.rd_elem.next = self.elem_step.val();
        }
        self.rd_row_a.next = bit_cast::<DA, 24>(self.rd_elem.val() >> self.log2r.val());
        self.rd_row_c.next = bit_cast::<DC, 24>(self.rd_elem.val() >> self.log2c.val());
        self.read_lo.next = 0.into();
        self.read_hi.next = 0.into();
        for b in 0..R {
            self.a_bank[b].read_clock.next = self.clock.val();
            self.a_bank[b].write_clock.next = self.clock.val();
            if self.buffer.q.val() == 0 {
                if self.elem_bank_a.val().index() == b {
                    self.read_lo.next = self.a_bank[b].read_data.val();
                }
                if self.elem_bank_a_hi.val().index() == b {
                    self.read_hi.next = self.a_bank[b].read_data.val();
                }
            }
        }
        for b in 0..C {
            self.b_bank[b].read_clock.next = self.clock.val();
            self.b_bank[b].write_clock.next = self.clock.val();
            self.c_bank[b].read_clock.next = self.clock.val();
            self.c_bank[b].write_clock.next = self.clock.val();
            if self.elem_bank_c.val().index() == b {
                if self.buffer.q.val() == 1 {
                    self.read_lo.next = self.b_bank[b].read_data.val();
                } else if self.buffer.q.val() == 2 {
                    self.read_lo.next = self.c_bank[b].read_data.val();
                }
            }
            if self.elem_bank_c_hi.val().index() == b {
                if self.buffer.q.val() == 1 {
                    self.read_hi.next = self.b_bank[b].read_data.val();
                } else if self.buffer.q.val() == 2 {
                    self.read_hi.next = self.c_bank[b].read_data.val();
                }
            }
        }

        // ---- Counters. ----
        self.cycles.d.next = self.cycles.q.val() + 1;
        if self.macs_left.q.val().any() {
            // M x Ncol, held from GemmSize until the next GEMM's.
            self.macs.d.next = self.macs.q.val() + bit_cast::<64, 32>(self.mn.q.val());
            self.macs_left.d.next = self.macs_left.q.val() - 1;
        }

        // ---- Feed chains (stage 0 is written by the sequencer below). ----
        for s in 0..R {
            self.a_chain[s].clock.next = self.clock.val();
        }
        for s in 0..C {
            self.b_chain[s].clock.next = self.clock.val();
            self.d_valid[s].clock.next = self.clock.val();
            self.d_cin[s].clock.next = self.clock.val();
            self.d_out[s].clock.next = self.clock.val();
        }
        for s in 0..(R + 1) {
            self.valid_chain[s].clock.next = self.clock.val();
            self.first_chain[s].clock.next = self.clock.val();
            self.last_chain[s].clock.next = self.clock.val();
        }
        self.a_chain[0].d.next = self.a_addr.q.val();
        self.b_chain[0].d.next = self.b_addr.q.val();
        self.valid_chain[0].d.next = false;
        self.first_chain[0].d.next = false;
        self.last_chain[0].d.next = false;
        for s in 1..R {
            self.a_chain[s].d.next = self.a_chain[s - 1].q.val();
        }
        for s in 1..C {
            self.b_chain[s].d.next = self.b_chain[s - 1].q.val();
        }
        for s in 1..(R + 1) {
            self.valid_chain[s].d.next = self.valid_chain[s - 1].q.val();
            self.first_chain[s].d.next = self.first_chain[s - 1].q.val();
            self.last_chain[s].d.next = self.last_chain[s - 1].q.val();
        }
        for r in 0..R {
            self.array.a_in[r].next = self.a_bank[r].read_data.val();
            self.array.valid_in[r].next = self.valid_chain[r + 1].q.val();
            self.array.first_in[r].next = self.first_chain[r + 1].q.val();
            self.array.last_in[r].next = self.last_chain[r + 1].q.val();
        }
        for c in 0..C {
            self.array.b_in[c].next = self.b_bank[c].read_data.val();
        }

        // ---- Drain generator: names rows 0..R of a finished tile. ----
        self.d_valid[0].d.next = self.drain_active.q.val();
        self.d_cin[0].d.next = self.drain_cin.q.val();
        self.d_out[0].d.next = self.drain_out.q.val();
        for c in 1..C {
            self.d_valid[c].d.next = self.d_valid[c - 1].q.val();
            self.d_cin[c].d.next = self.d_cin[c - 1].q.val();
            self.d_out[c].d.next = self.d_out[c - 1].q.val();
        }
        if self.drain_active.q.val() {
            self.drain_row.d.next = self.drain_row.q.val() + 1;
            self.drain_cin.d.next = self.drain_cin.q.val() + bit_cast::<DC, 16>(self.npn.val());
            self.drain_out.d.next = self.drain_out.q.val() + bit_cast::<DC, 16>(self.npn.val());
            if self.drain_row.q.val() == self.drain_last.val() {
                self.drain_active.d.next = false;
            }
        }

        // ---- Command decoder and sequencer. ----
        self.host_write.next = false;
        for c in 0..C {
            self.out[c].seed_load.next = false;
        }
        self.mul_a.next = self.g_k.val();
        self.mul_b.next = self.mpn.val();
        if self.index.q.val() == 1 {
            self.mul_b.next = self.npn.val();
        }
        if self.index.q.val() == 2 {
            self.mul_a.next = self.npn.val();
        }
        if self.index.q.val() == 3 {
            self.mul_a.next = self.g_m.val();
            self.mul_b.next = self.g_ncol.val();
        }
        self.mul_product.next = self.mul_a.val() * self.mul_b.val();
        // The output length is the third product times R.
        self.mul_far.next = self.mul_product.val().get_bits::<14>(18).any();
        if self.index.q.val() == 2 {
            self.mul_far.next = (self.mul_product.val() >> self.far_rows.val()).any();
        }
        self.cmd_ready.next = false;
        self.rsp_valid.next = false;
        self.rsp_data.next = 0.into();
        match self.state.q.val() {
            State::Idle => {
                self.cmd_ready.next = true;
                if self.cmd_valid.val() {
                    self.opcode.d.next = self.cmd_data.val().get_bits::<8>(24);
                    self.arg.d.next = self.cmd_data.val().get_bits::<24>(0);
                    self.status.d.next = self.st_ok.val();
                    self.index.d.next = 0.into();
                    self.state.d.next = State::EmitStatus;
                    if self.cmd_data.val().get_bits::<8>(24) == self.op_write.val() {
                        self.state.d.next = State::WrAddr;
                    } else if self.cmd_data.val().get_bits::<8>(24) == self.op_read.val() {
                        self.state.d.next = State::RdAddr;
                    } else if self.cmd_data.val().get_bits::<8>(24) == self.op_gemm.val() {
                        self.state.d.next = State::GemmArgs;
                    } else if self.cmd_data.val().get_bits::<8>(24) == self.op_seed.val() {
                        self.state.d.next = State::SeedArgs;
                    } else if self.cmd_data.val().get_bits::<8>(24) == self.op_counters.val() {
                        self.snapshot.d.next = self.cycles.q.val();
                    } else if self.cmd_data.val().get_bits::<8>(24) != self.op_identify.val() {
                        self.status.d.next = self.st_unknown_opcode.val();
                    }
                }
            }
            State::WrAddr => {
                self.cmd_ready.next = true;
                if self.cmd_valid.val() {
                    self.buffer.d.next = self.cmd_data.val().get_bits::<8>(24);
                    self.elem.d.next = self.cmd_data.val().get_bits::<24>(0);
                    self.count.d.next = self.arg.q.val();
                    self.status.d.next = self.region_status.val();
                    self.state.d.next = State::WrData;
                    if self.arg.q.val() == 0 {
                        self.state.d.next = State::EmitStatus;
                    }
                }
            }
            State::WrData => {
                // A rejected payload is still consumed, to stay in step.
                self.cmd_ready.next = true;
                if self.cmd_valid.val() {
                    self.host_write.next = self.status.q.val() == self.st_ok.val();
                    self.elem.d.next = self.elem_step.val();
                    self.count.d.next = self.count_step.val();
                    if self.count.q.val() == 1 {
                        self.state.d.next = State::EmitStatus;
                    }
                }
            }
            State::RdAddr => {
                self.cmd_ready.next = true;
                if self.cmd_valid.val() {
                    self.buffer.d.next = self.cmd_data.val().get_bits::<8>(24);
                    self.elem.d.next = self.cmd_data.val().get_bits::<24>(0);
                    self.count.d.next = self.arg.q.val();
                    self.status.d.next = self.region_status.val();
                    self.state.d.next = State::EmitStatus;
                }
            }
            State::RdIssue => {
                // The banks read elem's row this cycle; data is there next.
                self.state.d.next = State::RdEmit;
            }
            State::RdEmit => {
                self.rsp_valid.next = true;
                self.rsp_data.next = (bit_cast::<32, 16>(self.read_hi.val()) << 16)
                    | bit_cast::<32, 16>(self.read_lo.val());
                // The banks are already reading the next pair (rd_elem), so
                // the next word follows without a gap.
                if self.rsp_ready.val() {
                    self.elem.d.next = self.elem_step.val();
                    self.count.d.next = self.count_step.val();
                    if self.count.q.val() == 1 {
                        self.state.d.next = State::Idle;
                    }
                }
            }
            State::GemmArgs => {
                self.cmd_ready.next = true;
                if self.cmd_valid.val() {
                    for i in 0..7 {
                        if self.index.q.val().index() == i {
                            self.gemm_arg[i].d.next = self.cmd_data.val();
                        }
                    }
                    self.index.d.next = self.index.q.val() + 1;
                    if self.index.q.val() == 6 {
                        self.index.d.next = 0.into();
                        self.state.d.next = State::GemmSize;
                    }
                }
            }
            State::GemmSize => {
                // The four size products, one a cycle through one multiplier.
                for i in 0..3 {
                    if self.index.q.val().index() == i {
                        self.product[i].d.next = bit_cast::<20, 32>(self.mul_product.val());
                    }
                }
                if self.index.q.val() == 0 {
                    self.size_far.d.next = self.mul_far.val();
                } else {
                    self.size_far.d.next = self.size_far.q.val() | self.mul_far.val();
                }
                if self.index.q.val() == 3 {
                    self.size_far.d.next = self.size_far.q.val();
                    self.mn.d.next = self.mul_product.val();
                }
                self.index.d.next = self.index.q.val() + 1;
                if self.index.q.val() == 3 {
                    self.state.d.next = State::GemmCheck;
                }
            }
            State::GemmCheck => {
                self.status.d.next = self.gemm_status.val();
                self.state.d.next = State::EmitStatus;
                if self.gemm_status.val() == self.st_ok.val() {
                    self.running.d.next = true;
                    self.k_step.d.next = 0.into();
                    self.tile_row.d.next = 0.into();
                    self.tile_col.d.next = 0.into();
                    self.a_addr.d.next = bit_cast::<DA, 20>(self.a_base.val());
                    self.b_addr.d.next = bit_cast::<DC, 20>(self.b_base.val());
                    self.cin_row.d.next = bit_cast::<DC, 20>(self.cin_base.val());
                    self.out_row.d.next = bit_cast::<DC, 20>(self.out_base.val());
                    self.macs_left.d.next = self.g_k.val();
                    self.state.d.next = State::GemmRun;
                }
            }
            State::GemmRun => {
                self.busy.d.next = self.busy_step.val();
                self.valid_chain[0].d.next = true;
                self.first_chain[0].d.next = self.k_step.q.val() == 0;
                self.last_chain[0].d.next = self.k_step.q.val() == self.g_kmax.val();
                if self.k_step.q.val() == self.g_kmax.val() {
                    // Last step of this tile: start its drain, move on.
                    self.drain_active.d.next = true;
                    self.drain_row.d.next = 0.into();
                    self.drain_cin.d.next =
                        self.cin_row.q.val() + bit_cast::<DC, 16>(self.tile_col.q.val());
                    self.drain_out.d.next =
                        self.out_row.q.val() + bit_cast::<DC, 16>(self.tile_col.q.val());
                    self.k_step.d.next = 0.into();
                    if self.g_k.val() < self.r_bits16.val() {
                        self.gap.d.next = self.r_bits16.val() - self.g_k.val();
                        self.state.d.next = State::GemmGap;
                    }
                    if self.tile_col.q.val() + 1 == self.npn.val() {
                        self.tile_col.d.next = 0.into();
                        self.tile_row.d.next = self.tile_row.q.val() + 1;
                        self.cin_row.d.next = self.cin_row.q.val() + self.np.val();
                        self.out_row.d.next = self.out_row.q.val() + self.np.val();
                        self.a_addr.d.next = bit_cast::<DA, 20>(self.a_base.val())
                            + bit_cast::<DA, 16>(self.tile_row.q.val() + 1);
                        self.b_addr.d.next = bit_cast::<DC, 20>(self.b_base.val());
                        if self.tile_row.q.val() + 1 == self.mpn.val() {
                            self.flush.d.next = self.flush_len.val();
                            self.state.d.next = State::GemmFlush;
                        }
                    } else {
                        self.tile_col.d.next = self.tile_col.q.val() + 1;
                        self.a_addr.d.next = bit_cast::<DA, 20>(self.a_base.val())
                            + bit_cast::<DA, 16>(self.tile_row.q.val());
                        self.b_addr.d.next = bit_cast::<DC, 20>(self.b_base.val())
                            + bit_cast::<DC, 16>(self.tile_col.q.val() + 1);
                    }
                } else {
                    self.k_step.d.next = self.k_step.q.val() + 1;
                    self.a_addr.d.next = self.a_addr.q.val() + bit_cast::<DA, 16>(self.mpn.val());
                    self.b_addr.d.next = self.b_addr.q.val() + bit_cast::<DC, 16>(self.npn.val());
                }
            }
            State::GemmGap => {
                // Keeps tiles R cycles apart: one finished sum per column.
                self.busy.d.next = self.busy_step.val();
                self.gap.d.next = self.gap.q.val() - 1;
                if self.gap.q.val() == 1 {
                    self.state.d.next = State::GemmRun;
                }
            }
            State::GemmFlush => {
                // The last tile's outputs are still on their way to C.
                self.busy.d.next = self.busy_step.val();
                self.flush.d.next = self.flush.q.val() - 1;
                if self.flush.q.val() == 1 {
                    self.running.d.next = false;
                    self.state.d.next = State::EmitStatus;
                }
            }
            State::SeedArgs => {
                self.cmd_ready.next = true;
                if self.cmd_valid.val() {
                    for i in 0..2 {
                        if self.index.q.val().index() == i {
                            self.seed_word[i].d.next = self.cmd_data.val();
                        }
                    }
                    self.index.d.next = self.index.q.val() + 1;
                    if self.index.q.val() == 2 {
                        self.status.d.next = self.st_bad_column.val();
                        for c in 0..C {
                            if self.arg.q.val().index() == c {
                                self.out[c].seed_load.next = true;
                                self.status.d.next = self.st_ok.val();
                            }
                        }
                        self.state.d.next = State::EmitStatus;
                    }
                }
            }
            State::EmitStatus => {
                self.rsp_valid.next = true;
                self.rsp_data.next = (bit_cast::<32, 8>(self.opcode.q.val()) << 24)
                    | (bit_cast::<32, 8>(self.status.q.val()) << 16);
                if self.rsp_ready.val() {
                    self.state.d.next = State::Idle;
                    if self.status.q.val() == self.st_ok.val() {
                        if self.opcode.q.val() == self.op_read.val() {
                            self.state.d.next = State::RdIssue;
                        }
                        if self.opcode.q.val() == self.op_identify.val() {
                            self.state.d.next = State::EmitIdent;
                        }
                        if self.opcode.q.val() == self.op_counters.val() {
                            self.state.d.next = State::EmitCounters;
                        }
                    }
                }
            }
            State::EmitIdent => {
                self.rsp_valid.next = true;
                for i in 0..8 {
                    if self.index.q.val().index() == i {
                        self.rsp_data.next = self.ident[i].val();
                    }
                }
                if self.rsp_ready.val() {
                    self.index.d.next = self.index.q.val() + 1;
                    if self.index.q.val() == 7 {
                        self.state.d.next = State::Idle;
                    }
                }
            }
            State::EmitCounters => {
                self.rsp_valid.next = true;
                self.rsp_data.next = self.snapshot.q.val().get_bits::<32>(0);
                if self.index.q.val() == 1 {
                    self.rsp_data.next = self.snapshot.q.val().get_bits::<32>(32);
                }
                if self.index.q.val() == 2 {
                    self.rsp_data.next = self.busy.q.val().get_bits::<32>(0);
                }
                if self.index.q.val() == 3 {
                    self.rsp_data.next = self.busy.q.val().get_bits::<32>(32);
                }
                if self.index.q.val() == 4 {
                    self.rsp_data.next = self.macs.q.val().get_bits::<32>(0);
                }
                if self.index.q.val() == 5 {
                    self.rsp_data.next = self.macs.q.val().get_bits::<32>(32);
                }
                if self.rsp_ready.val() {
                    self.index.d.next = self.index.q.val() + 1;
                    if self.index.q.val() == 5 {
                        self.state.d.next = State::Idle;
                    }
                }
            }
        }
        // A reset abandons whatever the FSM was doing; the buffers, the
        // generators and the counters keep their state.
        if self.reset.val() {
            self.state.d.next = State::Idle;
            self.running.d.next = false;
            self.drain_active.d.next = false;
            self.macs_left.d.next = 0.into();
            self.cmd_ready.next = false;
            self.rsp_valid.next = false;
            self.host_write.next = false;
            for c in 0..C {
                self.out[c].seed_load.next = false;
            }
        }
        // ---- Banks and output stages (after the FSM: they read its
        // decisions, and a combinational block must not read a value
        // before it is assigned). ----
        for r in 0..R {
            self.a_bank[r].write_address.next = self.elem_row_a.val();
            self.a_bank[r].write_data.next = self.cmd_data.val().get_bits::<16>(0);
            if self.elem_bank_a_hi.val().index() == r {
                self.a_bank[r].write_data.next = self.cmd_data.val().get_bits::<16>(16);
            }
            self.a_bank[r].write_enable.next = self.host_write.val()
                & (self.buffer.q.val() == 0)
                & ((self.elem_bank_a.val().index() == r)
                    | (self.elem_bank_a_hi.val().index() == r));
            self.a_bank[r].read_address.next = self.rd_row_a.val();
            if self.running.q.val() {
                self.a_bank[r].read_address.next = self.a_chain[r].q.val();
            }
        }
        for c in 0..C {
            self.out[c].clock.next = self.clock.val();
            self.out[c].take.next = self.d_valid[c].q.val();
            self.out[c].sum.next = self.array.col_sum[c].val();
            self.out[c].out_addr.next = self.d_out[c].q.val();
            self.out[c].cin.next = self.c_bank[c].read_data.val();
            self.out[c].acc_init.next = self.out_acc_init.q.val();
            self.out[c].align.next = self.out_align.q.val();
            self.out[c].shift.next = self.out_shift.q.val();
            self.out[c].mode.next = self.out_mode.q.val();
            self.out[c].relu.next = self.out_relu.q.val();
            self.out[c].seed0.next = self.seed_word[0].q.val();
            self.out[c].seed1.next = self.seed_word[1].q.val();
            self.out[c].seed2.next = self.cmd_data.val();
            // Host writes land on the pair of banks holding elem, elem + 1.
            self.b_bank[c].write_address.next = self.elem_row_c.val();
            self.b_bank[c].write_data.next = self.cmd_data.val().get_bits::<16>(0);
            if self.elem_bank_c_hi.val().index() == c {
                self.b_bank[c].write_data.next = self.cmd_data.val().get_bits::<16>(16);
            }
            self.b_bank[c].write_enable.next = self.host_write.val()
                & (self.buffer.q.val() == 1)
                & ((self.elem_bank_c.val().index() == c)
                    | (self.elem_bank_c_hi.val().index() == c));
            if self.running.q.val() {
                self.b_bank[c].read_address.next = self.b_chain[c].q.val();
                self.c_bank[c].read_address.next = self.d_cin[c].q.val();
                self.c_bank[c].write_address.next = self.out[c].write_address.val();
                self.c_bank[c].write_data.next = self.out[c].write_data.val();
                self.c_bank[c].write_enable.next = self.out[c].write_enable.val();
            } else {
                self.b_bank[c].read_address.next = self.rd_row_c.val();
                self.c_bank[c].read_address.next = self.rd_row_c.val();
                self.c_bank[c].write_address.next = self.elem_row_c.val();
                self.c_bank[c].write_data.next = self.b_bank[c].write_data.val();
                self.c_bank[c].write_enable.next = self.host_write.val()
                    & (self.buffer.q.val() == 2)
                    & ((self.elem_bank_c.val().index() == c)
                        | (self.elem_bank_c_hi.val().index() == c));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use srsa_spec::numerics::{convert, Formats, Rounding};
    use srsa_spec::protocol::{
        address_word, encode_gemm, gemm_busy_cycles, header, status_word, Counters, Gemm,
    };
    use std::sync::{Arc, Mutex};

    /// Sends `words` through the link in rust-hdl's simulator and returns
    /// the first `want` response words.
    fn exchange(words: Vec<u32>, want: usize, max_cycles: u64) -> Vec<u32> {
        exchange_on::<4, 4, 6, 6>(words, want, max_cycles, |_| true)
    }

    /// As [`exchange`], with the host ready for a response word only in the
    /// cycles where `ready(cycle)` holds.
    fn exchange_with(
        words: Vec<u32>,
        want: usize,
        max_cycles: u64,
        ready: fn(u64) -> bool,
    ) -> Vec<u32> {
        exchange_on::<4, 4, 6, 6>(words, want, max_cycles, ready)
    }

    /// As [`exchange_with`], on an R x C device.
    fn exchange_on<const R: usize, const C: usize, const DA: usize, const DC: usize>(
        words: Vec<u32>,
        want: usize,
        max_cycles: u64,
        ready: fn(u64) -> bool,
    ) -> Vec<u32> {
        type Dut<const R: usize, const C: usize, const DA: usize, const DC: usize> =
            Device<R, C, DA, DC>;
        let mut uut = Dut::<R, C, DA, DC>::default();
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Dut<R, C, DA, DC>>| {
            x.clock.next = !x.clock.val()
        });
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        sim.add_testbench(move |mut sim: Sim<Dut<R, C, DA, DC>>| {
            let mut x = sim.init()?;
            let mut next = 0;
            for cycle in 0..max_cycles {
                x.cmd_valid.next = next < words.len();
                x.cmd_data.next = (*words.get(next).unwrap_or(&0) as u64).into();
                x.rsp_ready.next = ready(cycle);
                x = sim.wait(1, x)?;
                if x.cmd_valid.val() && x.cmd_ready.val() {
                    next += 1;
                }
                if x.rsp_valid.val() && x.rsp_ready.val() {
                    sink.lock().unwrap().push(x.rsp_data.val().to_u64() as u32);
                }
                if sink.lock().unwrap().len() >= want {
                    break;
                }
                wait_clock_true!(sim, clock, x);
                wait_clock_false!(sim, clock, x);
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), max_cycles * 10 + 100).unwrap();
        let v = got.lock().unwrap().clone();
        v
    }

    #[test]
    fn identifies_and_round_trips_a_buffer() {
        let mut cmd = vec![header(op::IDENTIFY, 0)];
        cmd.push(header(op::WRITE, 3));
        cmd.push(address_word(2, 6));
        cmd.extend([0x0002_0001, 0x0004_0003, 0x8000_7FFF]);
        cmd.push(header(op::READ, 4));
        cmd.push(address_word(2, 4));
        let got = exchange(cmd, 9 + 1 + 5, 200);
        assert_eq!(got[0], status_word(op::IDENTIFY, Status::Ok));
        assert_eq!(&got[1..9], &[MAGIC, VERSION, 4, 4, 16, 48, 4 << 6, 0]);
        assert_eq!(got[9], status_word(op::WRITE, Status::Ok));
        assert_eq!(got[10], status_word(op::READ, Status::Ok));
        // Elements 4 and 5 were never written.
        assert_eq!(&got[11..], &[0, 0x0002_0001, 0x0004_0003, 0x8000_7FFF]);
    }

    #[test]
    fn read_streams_and_holds_under_backpressure() {
        let data: Vec<u32> = (0..24u32).map(|i| i * 0x0003_0001 + 0x0100_0200).collect();
        let mut cmd = vec![header(op::WRITE, 24), address_word(1, 8)];
        cmd.extend(&data);
        cmd.push(header(op::READ, 24));
        cmd.push(address_word(1, 8));
        let mut expect = vec![
            status_word(op::WRITE, Status::Ok),
            status_word(op::READ, Status::Ok),
        ];
        expect.extend(&data);
        // Always ready, ready one cycle in three, and in bursts.
        let patterns: [fn(u64) -> bool; 3] = [|_| true, |c| c % 3 == 0, |c| (c / 5) % 2 == 0];
        for (i, ready) in patterns.into_iter().enumerate() {
            let got = exchange_with(cmd.clone(), expect.len(), 600, ready);
            assert_eq!(got, expect, "ready pattern {i}");
        }
    }

    #[test]
    fn rejects_bad_commands_and_stays_usable() {
        let cmd = vec![
            header(0x7F, 0),
            header(op::WRITE, 2),
            address_word(3, 0), // no such buffer; payload still consumed
            0xDEAD_BEEF,
            0xDEAD_BEEF,
            header(op::READ, 1),
            address_word(0, 1), // odd address
            header(op::READ, 200),
            address_word(0, 0), // beyond the buffer
            header(op::SEED, 4),
            1,
            2,
            3,
            header(op::IDENTIFY, 0),
        ];
        let got = exchange(cmd, 6, 200);
        assert_eq!(
            got,
            vec![
                status_word(0x7F, Status::UnknownOpcode),
                status_word(op::WRITE, Status::BadBuffer),
                status_word(op::READ, Status::BadAddress),
                status_word(op::READ, Status::BadAddress),
                status_word(op::SEED, Status::BadColumn),
                status_word(op::IDENTIFY, Status::Ok),
            ]
        );
    }

    #[test]
    fn small_gemm_truncates_exactly() {
        // 5 x 3 by 3 x 6 (not multiples of 4): two tile rows, two tile
        // columns, K < R so the sequencer inserts gaps.
        small_gemm::<4, 4, 6, 6>(3);
    }

    /// The same product on rectangular arrays: 2 x 4 (three tile rows, K
    /// above R: no gaps) and 4 x 2 (three tile columns).
    #[test]
    fn small_gemm_on_rectangular_arrays() {
        small_gemm::<2, 4, 7, 6>(3);
        small_gemm::<4, 2, 6, 7>(3);
        small_gemm::<2, 4, 7, 6>(1);
    }

    fn small_gemm<const R: usize, const C: usize, const DA: usize, const DC: usize>(k: usize) {
        println!("{R} x {C} array, K = {k}");
        let (m, ncol) = (5usize, 6usize);
        let (mp, np) = (m.next_multiple_of(R), ncol.next_multiple_of(C));
        let a: Vec<i16> = (0..m * k).map(|i| (i as i16 * 37 - 200) * 50).collect();
        let b: Vec<i16> = (0..k * ncol).map(|i| 1000 - i as i16 * 111).collect();
        let mut abuf = vec![0i16; k * mp];
        for i in 0..m {
            for kk in 0..k {
                abuf[kk * mp + i] = a[i * k + kk];
            }
        }
        let mut bbuf = vec![0i16; k * np];
        for kk in 0..k {
            for j in 0..ncol {
                bbuf[kk * np + j] = b[kk * ncol + j];
            }
        }
        let pack = |v: &[i16]| -> Vec<u32> {
            v.chunks(2)
                .map(|p| p[0] as u16 as u32 | (p[1] as u16 as u32) << 16)
                .collect()
        };
        let formats = Formats {
            fl_a: 6,
            fl_b: 8,
            fl_c: 0,
            fl_out: 7,
        };
        let g = Gemm {
            m: m as u32,
            k: k as u32,
            ncol: ncol as u32,
            mode: Rounding::Truncate,
            relu: false,
            acc_init: false,
            formats,
            a_base: 0,
            b_base: 0,
            cin_base: 0,
            out_base: 0,
        };
        let mut cmd = vec![header(op::WRITE, (k * mp / 2) as u32), address_word(0, 0)];
        cmd.extend(pack(&abuf));
        cmd.extend([header(op::WRITE, (k * np / 2) as u32), address_word(1, 0)]);
        cmd.extend(pack(&bbuf));
        cmd.push(header(op::GEMM, 0));
        cmd.extend(encode_gemm(&g));
        cmd.extend([header(op::READ, (mp * np / 2) as u32), address_word(2, 0)]);
        cmd.push(header(op::COUNTERS, 0));
        let got = exchange_on::<R, C, DA, DC>(cmd, 4 + mp * np / 2 + 7, 2000, |_| true);
        let counters = Counters::decode(&got[got.len() - 6..]);
        assert_eq!(counters.busy, gemm_busy_cycles(R as u32, C as u32, &g));
        assert_eq!(counters.macs, (m * k * ncol) as u64);
        assert!(counters.cycles > counters.busy);
        assert_eq!(got[2], status_word(op::GEMM, Status::Ok), "{got:x?}");
        for i in 0..m {
            for j in 0..ncol {
                let acc: i64 = (0..k)
                    .map(|kk| a[i * k + kk] as i64 * b[kk * ncol + j] as i64)
                    .sum();
                let want = convert(acc, formats.shift(), Rounding::Truncate, 0, false);
                let e = i * np + j;
                let word = got[4 + e / 2];
                let have = (word >> (16 * (e % 2))) as u16 as i16;
                assert_eq!(have, want, "output ({i}, {j})");
            }
        }
    }
}
