//! The command decoder and response mux: reads each command's header and
//! argument words off the host link (srsa_spec::protocol), checks host
//! transfers, steers the payload to the buffers (a packed word's pairs one
//! a cycle, through `packing`'s blocks), the GEMM arguments to
//! their block and the seed words to a column, and sends exactly one
//! response per command: a status word, then any data words.

use crate::constant;
use rust_hdl::prelude::*;
use srsa_spec::numerics::{ACC_BITS, WL};
use srsa_spec::protocol::{
    arg_words, feature, op, Buffer, Status, Width, BUFFER_FROM, GEMM_ARGS, IDENTIFY_WORDS, MAGIC,
    PRUNE_BIT, SEED_ARGS, VERSION, WIDTH_FROM,
};

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum State {
    Idle,
    XferAddr,
    WrData,
    RdIssue,
    RdEmit,
    GemmArgs,
    GemmSize,
    GemmCheck,
    GemmRun,
    SeedArgs,
    Expanding,
    EmitStatus,
    EmitIdent,
    EmitCounters,
}

/// An R x C array's decoder.
#[derive(LogicBlock)]
pub struct Decoder<const R: usize, const C: usize> {
    pub clock: Signal<In, Clock>,
    /// Back to Idle, whatever the command.
    pub reset: Signal<In, Bit>,
    pub cmd_data: Signal<In, Bits<32>>,
    pub cmd_valid: Signal<In, Bit>,
    pub cmd_ready: Signal<Out, Bit>,
    pub rsp_data: Signal<Out, Bits<32>>,
    pub rsp_valid: Signal<Out, Bit>,
    pub rsp_ready: Signal<In, Bit>,

    // Host transfers (see `buffers`).
    pub host_write: Signal<Out, Bit>,
    pub buffer: Signal<Out, Bits<2>>,
    pub elem: Signal<Out, Bits<24>>,
    pub rd_elem: Signal<Out, Bits<24>>,
    /// For `packing`: the transfer's width code; whether a write's pair
    /// comes from the rest of a packed word (or a read's pair is one
    /// before its word's last, to be kept); whether the response word is
    /// the read word `packing::Pack` gathers.
    pub width_code: Signal<Out, Bits<2>>,
    pub from_held: Signal<Out, Bit>,
    pub capture: Signal<Out, Bit>,
    pub rsp_packed: Signal<Out, Bit>,
    /// A WRITE's prune flag (address word bit 31).
    pub prune: Signal<Out, Bit>,

    // EXPAND (see `expander`): started on its header, which then owns the
    // link until it is done (the device ORs its `cmd_ready` with this
    // block's, which is low meanwhile: read here, it would close a
    // combinational loop with `expand_start` through the two blocks).
    pub expand_start: Signal<Out, Bit>,
    pub expand_done: Signal<In, Bit>,
    pub expand_status: Signal<In, Bits<8>>,

    // GEMM (see `gemm_args` and `sequencer`).
    pub index: Signal<Out, Bits<4>>,
    pub arg_load: Signal<Out, Bit>,
    pub sizing: Signal<Out, Bit>,
    pub gemm_status: Signal<In, Bits<8>>,
    pub gemm_start: Signal<Out, Bit>,
    pub gemm_done: Signal<In, Bit>,

    // SEED: column c loads (seed0, seed1, cmd_data) when `seed_load[c]`.
    pub seed_load: [Signal<Out, Bit>; C],
    pub seed0: Signal<Out, Bits<32>>,
    pub seed1: Signal<Out, Bits<32>>,

    // COUNTERS (see `counters`).
    pub snap: Signal<Out, Bit>,
    pub counter_word: Signal<In, Bits<32>>,

    state: DFF<State>,
    opcode: DFF<Bits<8>>,
    arg: DFF<Bits<24>>,
    status: DFF<Bits<8>>,
    count: DFF<Bits<24>>,
    elem_at: DFF<Bits<24>>,
    buffer_id: DFF<Bits<2>>,
    word_index: DFF<Bits<4>>,
    /// The transfer's element width (`Width` code); 0 unless packed.
    width: DFF<Bits<2>>,
    prune_flag: DFF<Bit>,
    /// Pairs left of the word being unpacked or gathered.
    sub: DFF<Bits<2>>,
    /// The first two SEED words; the third arrives as the load happens.
    seed_word: Vec<DFF<Bits<32>>>,

    header_op: Signal<Local, Bits<8>>,
    region_status: Signal<Local, Bits<8>>,
    /// Elements the transfer's words cover, and where its region ends.
    span: Signal<Local, Bits<32>>,
    region_end: Signal<Local, Bits<32>>,
    /// The address word's width code, and the pairs a word of it holds,
    /// less one.
    xfer_code: Signal<Local, Bits<2>>,
    last_pair: Signal<Local, Bits<2>>,
    /// Between the pairs of a packed word.
    in_word: Signal<Local, Bit>,
    /// One adder each, shared by every state that steps them.
    elem_step: Signal<Local, Bits<24>>,
    count_step: Signal<Local, Bits<24>>,
    ident: Vec<Constant<Bits<32>>>,
    capacity: Constant<Bits<32>>,
    last_gemm_arg: Constant<Bits<4>>,
    last_seed_arg: Constant<Bits<4>>,
    last_ident: Constant<Bits<4>>,
    last_counter: Constant<Bits<4>>,
    last_size: Constant<Bits<4>>,
    max_buffer: Constant<Bits<4>>,
    has_packed: Constant<Bit>,
    has_mask: Constant<Bit>,
    has_expand: Constant<Bit>,
    prune_bit: Constant<Bits<8>>,
    buf_c: Constant<Bits<4>>,
    w8: Constant<Bits<2>>,
    w4: Constant<Bits<2>>,
    width_from: Constant<Bits<8>>,
    width_hi: Constant<Bits<8>>,
    buffer_from: Constant<Bits<8>>,
    st_bad_format: Constant<Bits<8>>,
    st_ok: Constant<Bits<8>>,
    st_unknown_opcode: Constant<Bits<8>>,
    st_bad_buffer: Constant<Bits<8>>,
    st_bad_address: Constant<Bits<8>>,
    st_bad_size: Constant<Bits<8>>,
    st_bad_column: Constant<Bits<8>>,
    op_identify: Constant<Bits<8>>,
    op_write: Constant<Bits<8>>,
    op_read: Constant<Bits<8>>,
    op_gemm: Constant<Bits<8>>,
    op_seed: Constant<Bits<8>>,
    op_counters: Constant<Bits<8>>,
    op_expand: Constant<Bits<8>>,
}

impl<const R: usize, const C: usize> Decoder<R, C> {
    /// A decoder for buffers of `capacity` elements, on a device with the
    /// operand paths `features` (IDENTIFY's last word).
    pub fn new(capacity: u32, features: u32) -> Self {
        assert_eq!(arg_words(op::GEMM), GEMM_ARGS);
        assert_eq!(arg_words(op::SEED), SEED_ARGS);
        let ident = [
            MAGIC, VERSION, R as u32, C as u32, WL, ACC_BITS, capacity, features,
        ];
        assert_eq!(ident.len(), IDENTIFY_WORDS);
        Self {
            clock: Default::default(),
            reset: Default::default(),
            cmd_data: Default::default(),
            cmd_valid: Default::default(),
            cmd_ready: Default::default(),
            rsp_data: Default::default(),
            rsp_valid: Default::default(),
            rsp_ready: Default::default(),
            host_write: Default::default(),
            buffer: Default::default(),
            elem: Default::default(),
            rd_elem: Default::default(),
            width_code: Default::default(),
            from_held: Default::default(),
            capture: Default::default(),
            rsp_packed: Default::default(),
            prune: Default::default(),
            expand_start: Default::default(),
            expand_done: Default::default(),
            expand_status: Default::default(),
            index: Default::default(),
            arg_load: Default::default(),
            sizing: Default::default(),
            gemm_status: Default::default(),
            gemm_start: Default::default(),
            gemm_done: Default::default(),
            seed_load: std::array::from_fn(|_| Default::default()),
            seed0: Default::default(),
            seed1: Default::default(),
            snap: Default::default(),
            counter_word: Default::default(),
            state: Default::default(),
            opcode: Default::default(),
            arg: Default::default(),
            status: Default::default(),
            count: Default::default(),
            elem_at: Default::default(),
            buffer_id: Default::default(),
            word_index: Default::default(),
            width: Default::default(),
            prune_flag: Default::default(),
            sub: Default::default(),
            seed_word: (0..SEED_ARGS - 1).map(|_| DFF::default()).collect(),
            header_op: Default::default(),
            region_status: Default::default(),
            span: Default::default(),
            region_end: Default::default(),
            xfer_code: Default::default(),
            last_pair: Default::default(),
            in_word: Default::default(),
            elem_step: Default::default(),
            count_step: Default::default(),
            ident: ident.iter().map(|&w| constant(w as u64)).collect(),
            capacity: constant(capacity as u64),
            last_gemm_arg: constant(GEMM_ARGS as u64 - 1),
            last_seed_arg: constant(SEED_ARGS as u64 - 1),
            last_ident: constant(IDENTIFY_WORDS as u64 - 1),
            last_counter: constant(srsa_spec::protocol::COUNTER_WORDS as u64 - 1),
            last_size: constant(3),
            max_buffer: constant(2),
            has_packed: Constant::new(features & feature::PACKED != 0),
            has_mask: Constant::new(features & feature::MASK != 0),
            has_expand: Constant::new(features & feature::EXPAND != 0),
            prune_bit: constant(PRUNE_BIT as u64),
            buf_c: constant(Buffer::C as u64),
            w8: constant(Width::W8 as u64),
            w4: constant(Width::W4 as u64),
            width_from: constant(WIDTH_FROM as u64),
            width_hi: constant(WIDTH_FROM as u64 + 2),
            buffer_from: constant(BUFFER_FROM as u64),
            st_bad_format: constant(Status::BadFormat as u64),
            st_ok: constant(Status::Ok as u64),
            st_unknown_opcode: constant(Status::UnknownOpcode as u64),
            st_bad_buffer: constant(Status::BadBuffer as u64),
            st_bad_address: constant(Status::BadAddress as u64),
            st_bad_size: constant(Status::BadSize as u64),
            st_bad_column: constant(Status::BadColumn as u64),
            op_identify: constant(op::IDENTIFY as u64),
            op_write: constant(op::WRITE as u64),
            op_read: constant(op::READ as u64),
            op_gemm: constant(op::GEMM as u64),
            op_seed: constant(op::SEED as u64),
            op_counters: constant(op::COUNTERS as u64),
            op_expand: constant(op::EXPAND as u64),
        }
    }
}

impl<const R: usize, const C: usize> Logic for Decoder<R, C> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, state, opcode, arg, status, count, elem_at, buffer_id, word_index, width,
            prune_flag, sub
        );
        for i in 0..(SEED_ARGS - 1) {
            self.seed_word[i].clock.next = self.clock.val();
            self.seed_word[i].d.next = self.seed_word[i].q.val();
        }
        self.header_op.next = self.cmd_data.val().get_bits::<8>(24);

        // Check of a WRITE/READ address word against `arg` words, in the
        // order of srsa_spec::protocol::decode_transfer; evaluated only
        // while an address word can arrive (Verilator skips an untaken
        // branch, and the check is needed nowhere else).
        self.xfer_code.next = 0.into();
        self.span.next = 0.into();
        self.region_end.next = 0.into();
        self.region_status.next = self.st_ok.val();
        if self.state.q.val() == State::XferAddr {
            self.xfer_code.next = bit_cast::<2, 32>(self.cmd_data.val() >> self.width_from.val());
            self.span.next = bit_cast::<32, 24>(self.arg.q.val()) << 1;
            if self.cmd_data.val().get_bit(0) {
                self.region_status.next = self.st_bad_address.val();
            }
            // (Behind `has_packed`: a board without packing builds neither.)
            if self.has_packed.val() & (self.xfer_code.val() == self.w8.val()) {
                self.span.next = bit_cast::<32, 24>(self.arg.q.val()) << 2;
                if self.cmd_data.val().get_bits::<2>(0).any() {
                    self.region_status.next = self.st_bad_address.val();
                }
            }
            if self.has_packed.val() & (self.xfer_code.val() == self.w4.val()) {
                self.span.next = bit_cast::<32, 24>(self.arg.q.val()) << 3;
                if self.cmd_data.val().get_bits::<3>(0).any() {
                    self.region_status.next = self.st_bad_address.val();
                }
            }
            self.region_end.next =
                bit_cast::<32, 24>(self.cmd_data.val().get_bits::<24>(0)) + self.span.val();
            if self.region_end.val() > self.capacity.val() {
                self.region_status.next = self.st_bad_address.val();
            }
            if self.arg.q.val() == 0 {
                self.region_status.next = self.st_bad_size.val();
            }
            if bit_cast::<1, 32>(self.cmd_data.val() >> self.width_hi.val()).any()
                | (bit_cast::<1, 32>(self.cmd_data.val() >> self.prune_bit.val()).any()
                    & (!self.has_mask.val()
                        | (self.opcode.q.val() != self.op_write.val())
                        | (bit_cast::<4, 32>(self.cmd_data.val() >> self.buffer_from.val())
                            != self.buf_c.val())))
                | self.xfer_code.val().all()
                | (!self.has_packed.val() & self.xfer_code.val().any())
            {
                self.region_status.next = self.st_bad_format.val();
            }
            if bit_cast::<4, 32>(self.cmd_data.val() >> self.buffer_from.val())
                > self.max_buffer.val()
            {
                self.region_status.next = self.st_bad_buffer.val();
            }
        }

        // A packed word's pairs after its first: a WRITE's first pair comes
        // straight off the link, the rest from `packing::Unpack`'s held word.
        self.last_pair.next = 0.into();
        if self.width.q.val() == self.w8.val() {
            self.last_pair.next = 1.into();
        }
        if self.width.q.val() == self.w4.val() {
            self.last_pair.next = 3.into();
        }
        // (Tested through `has_packed`, so that a device without packing
        // builds no `sub` and no packing logic at all.)
        self.in_word.next = self.has_packed.val() & self.sub.q.val().any();
        self.width_code.next = self.width.q.val();
        self.from_held.next = self.in_word.val();
        self.capture.next = (self.state.q.val() == State::RdEmit) & self.in_word.val();
        self.rsp_packed.next = self.state.q.val() == State::RdEmit;
        self.prune.next = self.prune_flag.q.val();

        self.elem_step.next = self.elem_at.q.val() + 2;
        self.count_step.next = self.count.q.val() - 1;
        self.rd_elem.next = self.elem_at.q.val();
        if (self.state.q.val() == State::RdEmit) & (self.rsp_ready.val() | self.in_word.val()) {
            self.rd_elem.next = self.elem_step.val();
        }
        self.elem.next = self.elem_at.q.val();
        self.buffer.next = self.buffer_id.q.val();
        self.index.next = self.word_index.q.val();
        self.seed0.next = self.seed_word[0].q.val();
        self.seed1.next = self.seed_word[1].q.val();

        self.host_write.next = false;
        self.arg_load.next = false;
        self.sizing.next = false;
        self.gemm_start.next = false;
        self.expand_start.next = false;
        for c in 0..C {
            self.seed_load[c].next = false;
        }
        self.snap.next = false;
        self.cmd_ready.next = false;
        self.rsp_valid.next = false;
        self.rsp_data.next = 0.into();
        match self.state.q.val() {
            State::Idle => {
                self.cmd_ready.next = true;
                self.sub.d.next = 0.into();
                if self.cmd_valid.val() {
                    self.opcode.d.next = self.header_op.val();
                    self.arg.d.next = self.cmd_data.val().get_bits::<24>(0);
                    self.status.d.next = self.st_ok.val();
                    self.word_index.d.next = 0.into();
                    self.state.d.next = State::EmitStatus;
                    if (self.header_op.val() == self.op_write.val())
                        | (self.header_op.val() == self.op_read.val())
                    {
                        self.state.d.next = State::XferAddr;
                    } else if self.header_op.val() == self.op_gemm.val() {
                        self.state.d.next = State::GemmArgs;
                    } else if self.header_op.val() == self.op_seed.val() {
                        self.state.d.next = State::SeedArgs;
                    } else if self.header_op.val() == self.op_counters.val() {
                        self.snap.next = true;
                    } else if self.has_expand.val() & (self.header_op.val() == self.op_expand.val())
                    {
                        self.expand_start.next = true;
                        self.state.d.next = State::Expanding;
                    } else if self.header_op.val() != self.op_identify.val() {
                        self.status.d.next = self.st_unknown_opcode.val();
                    }
                }
            }
            State::XferAddr => {
                // WRITE and READ: the address word, checked.
                self.cmd_ready.next = true;
                if self.cmd_valid.val() {
                    self.buffer_id.d.next = self.cmd_data.val().get_bits::<2>(24);
                    self.elem_at.d.next = self.cmd_data.val().get_bits::<24>(0);
                    self.count.d.next = self.arg.q.val();
                    self.status.d.next = self.region_status.val();
                    self.width.d.next = 0.into();
                    self.prune_flag.d.next = self.has_mask.val()
                        & bit_cast::<1, 32>(self.cmd_data.val() >> self.prune_bit.val()).any();
                    if self.has_packed.val() & (self.region_status.val() == self.st_ok.val()) {
                        self.width.d.next = self.xfer_code.val();
                    }
                    self.state.d.next = State::EmitStatus;
                    if (self.opcode.q.val() == self.op_write.val()) & self.arg.q.val().any() {
                        self.state.d.next = State::WrData;
                    }
                }
            }
            State::WrData => {
                // A rejected payload is still consumed, to stay in step;
                // a packed word's later pairs take a cycle each.
                if self.in_word.val() {
                    self.host_write.next = true;
                    self.elem_at.d.next = self.elem_step.val();
                    self.sub.d.next = self.sub.q.val() - 1;
                    if (self.sub.q.val() == 1) & !self.count.q.val().any() {
                        self.state.d.next = State::EmitStatus;
                    }
                } else {
                    self.cmd_ready.next = true;
                    if self.cmd_valid.val() {
                        self.host_write.next = self.status.q.val() == self.st_ok.val();
                        self.elem_at.d.next = self.elem_step.val();
                        self.count.d.next = self.count_step.val();
                        self.sub.d.next = self.last_pair.val();
                        if (self.count.q.val() == 1) & !self.last_pair.val().any() {
                            self.state.d.next = State::EmitStatus;
                        }
                    }
                }
            }
            State::RdIssue => {
                // The banks read elem's row this cycle; data is there next.
                self.sub.d.next = self.last_pair.val();
                self.state.d.next = State::RdEmit;
            }
            State::RdEmit => {
                // A packed word gathers `last_pair` + 1 pairs, one a cycle
                // (in `packing::Pack`, which also sends the word), and goes
                // out with its last. The banks are already reading
                // the next pair (rd_elem), so the next word follows without
                // a gap.
                if self.in_word.val() {
                    self.elem_at.d.next = self.elem_step.val();
                    self.sub.d.next = self.sub.q.val() - 1;
                } else {
                    self.rsp_valid.next = true;
                    if self.rsp_ready.val() {
                        self.elem_at.d.next = self.elem_step.val();
                        self.count.d.next = self.count_step.val();
                        self.sub.d.next = self.last_pair.val();
                        if self.count.q.val() == 1 {
                            self.state.d.next = State::Idle;
                        }
                    }
                }
            }
            State::GemmArgs => {
                self.cmd_ready.next = true;
                if self.cmd_valid.val() {
                    self.arg_load.next = true;
                    self.word_index.d.next = self.word_index.q.val() + 1;
                    if self.word_index.q.val() == self.last_gemm_arg.val() {
                        self.word_index.d.next = 0.into();
                        self.state.d.next = State::GemmSize;
                    }
                }
            }
            State::GemmSize => {
                self.sizing.next = true;
                self.word_index.d.next = self.word_index.q.val() + 1;
                if self.word_index.q.val() == self.last_size.val() {
                    self.state.d.next = State::GemmCheck;
                }
            }
            State::GemmCheck => {
                self.status.d.next = self.gemm_status.val();
                self.state.d.next = State::EmitStatus;
                if self.gemm_status.val() == self.st_ok.val() {
                    self.gemm_start.next = true;
                    self.state.d.next = State::GemmRun;
                }
            }
            State::GemmRun => {
                if self.gemm_done.val() {
                    self.state.d.next = State::EmitStatus;
                }
            }
            State::SeedArgs => {
                self.cmd_ready.next = true;
                if self.cmd_valid.val() {
                    for i in 0..(SEED_ARGS - 1) {
                        if self.word_index.q.val().index() == i {
                            self.seed_word[i].d.next = self.cmd_data.val();
                        }
                    }
                    self.word_index.d.next = self.word_index.q.val() + 1;
                    if self.word_index.q.val() == self.last_seed_arg.val() {
                        self.status.d.next = self.st_bad_column.val();
                        for c in 0..C {
                            if self.arg.q.val().index() == c {
                                self.seed_load[c].next = true;
                                self.status.d.next = self.st_ok.val();
                            }
                        }
                        self.state.d.next = State::EmitStatus;
                    }
                }
            }
            State::Expanding => {
                if self.expand_done.val() {
                    self.status.d.next = self.expand_status.val();
                    self.state.d.next = State::EmitStatus;
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
                for i in 0..IDENTIFY_WORDS {
                    if self.word_index.q.val().index() == i {
                        self.rsp_data.next = self.ident[i].val();
                    }
                }
                if self.rsp_ready.val() {
                    self.word_index.d.next = self.word_index.q.val() + 1;
                    if self.word_index.q.val() == self.last_ident.val() {
                        self.state.d.next = State::Idle;
                    }
                }
            }
            State::EmitCounters => {
                self.rsp_valid.next = true;
                self.rsp_data.next = self.counter_word.val();
                if self.rsp_ready.val() {
                    self.word_index.d.next = self.word_index.q.val() + 1;
                    if self.word_index.q.val() == self.last_counter.val() {
                        self.state.d.next = State::Idle;
                    }
                }
            }
        }
        // A reset abandons whatever the decoder was doing.
        if self.reset.val() {
            self.state.d.next = State::Idle;
            self.cmd_ready.next = false;
            self.rsp_valid.next = false;
            self.host_write.next = false;
            for c in 0..C {
                self.seed_load[c].next = false;
            }
            self.arg_load.next = false;
            self.sizing.next = false;
            self.gemm_start.next = false;
            self.expand_start.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use srsa_spec::protocol::{
        address_word, decode_transfer, header, pack_as, status_word, unpack_as, COUNTER_WORDS,
    };

    const CAP: u32 = 256;

    /// IDENTIFY's last word: the device's operand paths, here all of them.
    // Every feature but EXPAND, whose words the expander reads.
    const PATHS: u32 = srsa_spec::protocol::feature::ALL & !srsa_spec::protocol::feature::EXPAND;

    /// What the buffers would answer for the pair at `elem` of `buffer`.
    /// Elements of every magnitude, so that packed reads both pass values
    /// through and saturate them.
    fn memory(buffer: u64, elem: u64) -> u32 {
        let h = (0x9E37_79B9u64.wrapping_mul(elem * 4 + buffer + 1) >> 7) as u32;
        let lo = (h as u16 as i16) >> (h >> 28);
        let hi = ((h >> 16) as u16 as i16) >> (h >> 24 & 15);
        lo as u16 as u32 | (hi as u16 as u32) << 16
    }

    fn counter(i: u64) -> u32 {
        0xC0DE_0000 | i as u32
    }

    /// A command stream and everything it must cause: the response words,
    /// the buffer writes (buffer, element, word), the GEMM argument words,
    /// the seed loads (column, three words).
    #[derive(Default)]
    struct Expect {
        words: Vec<u32>,
        responses: Vec<u32>,
        writes: Vec<(u64, u64, u32)>,
        args: Vec<u32>,
        seeds: Vec<(usize, [u32; 3])>,
    }

    fn random_stream(rng: &mut impl Rng, commands: usize) -> Expect {
        let mut e = Expect::default();
        for _ in 0..commands {
            match rng.gen_range(0..8) {
                0 => {
                    e.words
                        .push(header(op::IDENTIFY, rng.gen_range(0..1 << 24)));
                    e.responses.push(status_word(op::IDENTIFY, Status::Ok));
                    e.responses
                        .extend([MAGIC, VERSION, 4, 4, WL, ACC_BITS, CAP, PATHS]);
                }
                1 | 2 => {
                    let write = rng.gen_bool(0.5);
                    let opc = if write { op::WRITE } else { op::READ };
                    let words = if rng.gen_bool(0.1) {
                        0
                    } else {
                        rng.gen_range(1..6)
                    };
                    let buffer = if rng.gen_bool(0.1) {
                        rng.gen_range(3..16)
                    } else {
                        rng.gen_range(0..3)
                    };
                    // Mostly a width the protocol has, sometimes a code or
                    // reserved bit it lacks.
                    let code = match rng.gen_range(0..20) {
                        0 => rng.gen_range(3..16),
                        1..=6 => 0,
                        7..=13 => 1,
                        _ => 2,
                    };
                    let per_word = 2 << (code & 7).min(2);
                    let addr = if rng.gen_bool(0.1) {
                        rng.gen_range(0..300)
                    } else {
                        per_word * rng.gen_range(0..(CAP - 48) / per_word)
                    };
                    let aw = code << WIDTH_FROM | address_word(buffer, addr);
                    e.words.push(header(opc, words));
                    e.words.push(aw);
                    let t = decode_transfer(opc, aw, words, CAP, PATHS);
                    let st = t.err();
                    e.responses.push(status_word(opc, st.unwrap_or(Status::Ok)));
                    for i in 0..words as u64 {
                        let elem = addr as u64 + per_word as u64 * i;
                        if write {
                            let w: u32 = rng.gen();
                            e.words.push(w);
                            if let Ok(t) = t {
                                // Each pair as the buffers are given it.
                                let elems: Vec<i16> = unpack_as(w, t.width).collect();
                                for (j, pair) in pack_as(&elems, Width::W16).iter().enumerate() {
                                    e.writes.push((buffer as u64, elem + 2 * j as u64, *pair));
                                }
                            }
                        } else if let Ok(t) = t {
                            let elems: Vec<i16> = (0..per_word as u64 / 2)
                                .flat_map(|j| {
                                    unpack_as(memory(buffer as u64, elem + 2 * j), Width::W16)
                                })
                                .collect();
                            e.responses.extend(pack_as(&elems, t.width));
                        }
                    }
                }
                3 => {
                    // The block's verdict is the first word's low bits here,
                    // and the run takes its second word's low bits cycles.
                    let status = [0, 3, 4, 5][rng.gen_range(0..4)];
                    let w: Vec<u32> = (0..GEMM_ARGS)
                        .map(|i| match i {
                            0 => status | rng.gen::<u32>() & !0xFF,
                            1 => rng.gen_range(1..40),
                            _ => rng.gen(),
                        })
                        .collect();
                    e.words.push(header(op::GEMM, 0));
                    e.words.extend(&w);
                    e.args.extend(&w);
                    e.responses.push((op::GEMM << 24) | status << 16);
                }
                4 => {
                    let column = if rng.gen_bool(0.2) {
                        rng.gen_range(4..1 << 24)
                    } else {
                        rng.gen_range(0..4)
                    };
                    let s: [u32; 3] = rng.gen();
                    e.words.push(header(op::SEED, column));
                    e.words.extend(s);
                    if column < 4 {
                        e.seeds.push((column as usize, s));
                        e.responses.push(status_word(op::SEED, Status::Ok));
                    } else {
                        e.responses.push(status_word(op::SEED, Status::BadColumn));
                    }
                }
                5 => {
                    e.words.push(header(op::COUNTERS, 0));
                    e.responses.push(status_word(op::COUNTERS, Status::Ok));
                    e.responses.extend((0..COUNTER_WORDS as u64).map(counter));
                }
                _ => {
                    let opc = [0x00, 0x07, 0x7F, 0xFF][rng.gen_range(0..4)];
                    e.words.push(header(opc, rng.gen_range(0..1 << 24)));
                    e.responses.push(status_word(opc, Status::UnknownOpcode));
                }
            }
        }
        e
    }

    #[derive(Default)]
    struct Got {
        responses: Vec<u32>,
        writes: Vec<(u64, u64, u32)>,
        args: Vec<u32>,
        seeds: Vec<(usize, [u32; 3])>,
    }

    /// The decoder's surroundings: the host offering `words` (when `offer`
    /// draws true) and taking responses (when `accept` does), the buffers
    /// answering reads a cycle later, the GEMM blocks giving the verdict
    /// the first argument word names and running for as many cycles as
    /// the second one's low byte.
    struct Env {
        rng: rand::rngs::StdRng,
        offer: f64,
        accept: f64,
        words: Vec<u32>,
        next: usize,
        want: usize,
        read_data: u32,
        run_left: Option<u32>,
        first_arg: u32,
        got: Got,
    }

    /// The decoder with the packing blocks wired as the device wires them,
    /// so that the test sees the pairs the buffers are given and gives the
    /// read pairs the buffers return.
    #[derive(LogicBlock)]
    struct Dut {
        clock: Signal<In, Clock>,
        reset: Signal<In, Bit>,
        cmd_data: Signal<In, Bits<32>>,
        cmd_valid: Signal<In, Bit>,
        rsp_ready: Signal<In, Bit>,
        gemm_status: Signal<In, Bits<8>>,
        gemm_done: Signal<In, Bit>,
        counter_word: Signal<In, Bits<32>>,
        read_word: Signal<In, Bits<32>>,
        write_word: Signal<Out, Bits<32>>,
        rsp_data: Signal<Out, Bits<32>>,
        decoder: Decoder<4, 4>,
        unpack: crate::packing::Unpack,
        pack: crate::packing::Pack,
    }

    impl Dut {
        fn new() -> Self {
            Self {
                clock: Default::default(),
                reset: Default::default(),
                cmd_data: Default::default(),
                cmd_valid: Default::default(),
                rsp_ready: Default::default(),
                gemm_status: Default::default(),
                gemm_done: Default::default(),
                counter_word: Default::default(),
                read_word: Default::default(),
                write_word: Default::default(),
                rsp_data: Default::default(),
                decoder: Decoder::new(CAP, PATHS),
                unpack: Default::default(),
                pack: Default::default(),
            }
        }
    }

    impl Logic for Dut {
        #[hdl_gen]
        fn update(&mut self) {
            self.decoder.clock.next = self.clock.val();
            self.decoder.reset.next = self.reset.val();
            self.decoder.cmd_data.next = self.cmd_data.val();
            self.decoder.cmd_valid.next = self.cmd_valid.val();
            self.decoder.rsp_ready.next = self.rsp_ready.val();
            self.decoder.gemm_status.next = self.gemm_status.val();
            self.decoder.gemm_done.next = self.gemm_done.val();
            self.decoder.counter_word.next = self.counter_word.val();
            // EXPAND is the expander's (tested with the device).
            self.decoder.expand_done.next = false;
            self.decoder.expand_status.next = 0.into();
            self.unpack.clock.next = self.clock.val();
            self.unpack.word.next = self.cmd_data.val();
            self.unpack.from_held.next = self.decoder.from_held.val();
            self.unpack.advance.next = self.decoder.host_write.val();
            self.unpack.width.next = self.decoder.width_code.val();
            self.write_word.next = self.unpack.pair.val();
            self.pack.clock.next = self.clock.val();
            self.pack.pair.next = self.read_word.val();
            self.pack.capture.next = self.decoder.capture.val();
            self.pack.width.next = self.decoder.width_code.val();
            self.pack.select.next = self.decoder.rsp_packed.val();
            self.pack.rsp_in.next = self.decoder.rsp_data.val();
            self.rsp_data.next = self.pack.rsp.val();
        }
    }

    impl crate::testbench::Clocked for Dut {
        fn clock_signal(&mut self) -> &mut Signal<In, Clock> {
            &mut self.clock
        }
        fn clock_high(&self) -> bool {
            self.clock.val().clk
        }
    }

    fn drive(e: &mut Env, _: u64, t: &mut Dut) {
        t.cmd_valid.next = e.next < e.words.len() && e.rng.gen_bool(e.offer);
        t.cmd_data.next = (*e.words.get(e.next).unwrap_or(&0) as u64).into();
        t.rsp_ready.next = e.rng.gen_bool(e.accept);
        t.read_word.next = (e.read_data as u64).into();
        t.gemm_status.next = ((e.first_arg & 0xFF) as u64).into();
        t.gemm_done.next = e.run_left == Some(0);
        t.counter_word.next = (counter(t.decoder.index.val().to_u64()) as u64).into();
    }

    fn observe(e: &mut Env, _: u64, t: &Dut) -> bool {
        let g = &mut e.got;
        let word = t.decoder.cmd_data.val().to_u64() as u32;
        if t.decoder.cmd_valid.val() && t.decoder.cmd_ready.val() {
            e.next += 1;
        }
        if t.decoder.rsp_valid.val() && t.decoder.rsp_ready.val() {
            g.responses.push(t.rsp_data.val().to_u64() as u32);
        }
        if t.decoder.host_write.val() {
            g.writes.push((
                t.decoder.buffer.val().to_u64(),
                t.decoder.elem.val().to_u64(),
                t.write_word.val().to_u64() as u32,
            ));
        }
        if t.decoder.arg_load.val() {
            if t.decoder.index.val().to_u64() == 0 {
                e.first_arg = word;
            }
            g.args.push(word);
        }
        for c in 0..4 {
            if t.decoder.seed_load[c].val() {
                let s = [
                    t.decoder.seed0.val().to_u64() as u32,
                    t.decoder.seed1.val().to_u64() as u32,
                    word,
                ];
                g.seeds.push((c, s));
            }
        }
        e.run_left = match e.run_left {
            Some(0) => None,
            Some(n) => Some(n - 1),
            None if t.decoder.gemm_start.val() => Some(g.args[g.args.len() - 6] & 0xFF),
            None => None,
        };
        // The banks answer the read issued this cycle next cycle.
        e.read_data = memory(
            t.decoder.buffer.val().to_u64(),
            t.decoder.rd_elem.val().to_u64(),
        );
        g.responses.len() < e.want || e.next < e.words.len()
    }

    fn decoder_speaks_the_protocol(seed: u64, offer: f64, accept: f64) {
        println!("seed {seed:#x}, offered {offer}, accepted {accept}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let e = random_stream(&mut rng, 300);
        let env = Env {
            rng: rand::rngs::StdRng::seed_from_u64(seed ^ 1),
            offer,
            accept,
            words: e.words.clone(),
            next: 0,
            want: e.responses.len(),
            read_data: 0,
            run_left: None,
            first_arg: 0,
            got: Got::default(),
        };
        let max_cycles = 40 * e.words.len() as u64 + 1000;
        let env = crate::testbench::run(Dut::new(), max_cycles, env, drive, observe);
        let g = env.got;
        let first_diff = g
            .responses
            .iter()
            .zip(&e.responses)
            .position(|(a, b)| a != b);
        assert_eq!(first_diff, None, "first differing response word");
        assert_eq!(g.responses.len(), e.responses.len(), "response words");
        assert_eq!(g.writes, e.writes, "buffer writes");
        assert_eq!(g.args, e.args, "GEMM argument words");
        assert_eq!(g.seeds, e.seeds, "seed loads");
        println!(
            "{} response words, {} writes, {} GEMMs, {} seed loads",
            g.responses.len(),
            g.writes.len(),
            g.args.len() / GEMM_ARGS,
            g.seeds.len()
        );
    }

    #[test]
    fn decoder_speaks_the_protocol_without_stalls() {
        decoder_speaks_the_protocol(0x5EED_0D01, 1.0, 1.0);
    }

    #[test]
    fn decoder_speaks_the_protocol_under_back_pressure() {
        decoder_speaks_the_protocol(0x5EED_0D02, 0.6, 0.3);
    }
}
