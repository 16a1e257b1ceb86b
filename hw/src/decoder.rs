//! The command decoder: reads each command's header and argument words
//! off the host link (srsa_spec::protocol), hands WRITE and READ to
//! `transfer` and EXPAND to `expander`, steers the GEMM arguments to their
//! block and the seed words to a column, and sends exactly one response
//! per command: a status word, then any data words (a READ's are
//! `transfer`'s).

use crate::constant;
use rust_hdl::prelude::*;
use srsa_spec::numerics::{ACC_BITS, WL};
use srsa_spec::protocol::{
    arg_words, feature, op, Status, GEMM_ARGS, IDENTIFY_WORDS, MAGIC, SEED_ARGS, VERSION,
};

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum State {
    Idle,
    /// WRITE or READ: the address word and any payload (`transfer`'s).
    Transferring,
    /// An OK READ's data words (`transfer`'s).
    Reading,
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

    // WRITE and READ (see `transfer`): started on the header, then handed
    // the link until `transfer_done`, and again after an OK READ's status
    // (`transfer_read`).
    pub transfer_start: Signal<Out, Bit>,
    pub transfer_write: Signal<Out, Bit>,
    pub transfer_words: Signal<Out, Bits<24>>,
    pub transfer_ok: Signal<Out, Bit>,
    pub transfer_read: Signal<Out, Bit>,
    pub transfer_checked: Signal<In, Bit>,
    pub transfer_status: Signal<In, Bits<8>>,
    pub transfer_done: Signal<In, Bit>,

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
    word_index: DFF<Bits<4>>,
    /// The first two SEED words; the third arrives as the load happens.
    seed_word: Vec<DFF<Bits<32>>>,

    header_op: Signal<Local, Bits<8>>,
    ident: Vec<Constant<Bits<32>>>,
    last_gemm_arg: Constant<Bits<4>>,
    last_seed_arg: Constant<Bits<4>>,
    last_ident: Constant<Bits<4>>,
    last_counter: Constant<Bits<4>>,
    last_size: Constant<Bits<4>>,
    has_expand: Constant<Bit>,
    st_ok: Constant<Bits<8>>,
    st_unknown_opcode: Constant<Bits<8>>,
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
            transfer_start: Default::default(),
            transfer_write: Default::default(),
            transfer_words: Default::default(),
            transfer_ok: Default::default(),
            transfer_read: Default::default(),
            transfer_checked: Default::default(),
            transfer_status: Default::default(),
            transfer_done: Default::default(),
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
            word_index: Default::default(),
            seed_word: (0..SEED_ARGS - 1).map(|_| DFF::default()).collect(),
            header_op: Default::default(),
            ident: ident.iter().map(|&w| constant(w as u64)).collect(),
            last_gemm_arg: constant(GEMM_ARGS as u64 - 1),
            last_seed_arg: constant(SEED_ARGS as u64 - 1),
            last_ident: constant(IDENTIFY_WORDS as u64 - 1),
            last_counter: constant(srsa_spec::protocol::COUNTER_WORDS as u64 - 1),
            last_size: constant(3),
            has_expand: Constant::new(features & feature::EXPAND != 0),
            st_ok: constant(Status::Ok as u64),
            st_unknown_opcode: constant(Status::UnknownOpcode as u64),
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
        dff_setup!(self, clock, state, opcode, arg, status, word_index);
        for i in 0..(SEED_ARGS - 1) {
            self.seed_word[i].clock.next = self.clock.val();
            self.seed_word[i].d.next = self.seed_word[i].q.val();
        }
        self.header_op.next = self.cmd_data.val().get_bits::<8>(24);
        self.transfer_write.next = self.opcode.q.val() == self.op_write.val();
        self.transfer_words.next = self.arg.q.val();
        self.transfer_ok.next = self.status.q.val() == self.st_ok.val();
        self.index.next = self.word_index.q.val();
        self.seed0.next = self.seed_word[0].q.val();
        self.seed1.next = self.seed_word[1].q.val();

        self.transfer_start.next = false;
        self.transfer_read.next = false;
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
                if self.cmd_valid.val() {
                    self.opcode.d.next = self.header_op.val();
                    self.arg.d.next = self.cmd_data.val().get_bits::<24>(0);
                    self.status.d.next = self.st_ok.val();
                    self.word_index.d.next = 0.into();
                    self.state.d.next = State::EmitStatus;
                    if (self.header_op.val() == self.op_write.val())
                        | (self.header_op.val() == self.op_read.val())
                    {
                        self.transfer_start.next = true;
                        self.state.d.next = State::Transferring;
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
            State::Transferring => {
                // The address word's verdict is the command's status.
                if self.transfer_checked.val() {
                    self.status.d.next = self.transfer_status.val();
                }
                if self.transfer_done.val() {
                    self.state.d.next = State::EmitStatus;
                }
            }
            State::Reading => {
                if self.transfer_done.val() {
                    self.state.d.next = State::Idle;
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
                            self.transfer_read.next = true;
                            self.state.d.next = State::Reading;
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
            self.transfer_start.next = false;
            self.transfer_read.next = false;
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
    use crate::transfer::tests::{memory, random_transfer, Link, CAP};
    use crate::transfer::Transfer;
    use rand::{Rng, SeedableRng};
    use srsa_spec::protocol::{header, status_word, COUNTER_WORDS};

    /// IDENTIFY's last word: the device's operand paths, here all of them.
    // Every feature but EXPAND, whose words the expander reads.
    const PATHS: u32 = srsa_spec::protocol::feature::ALL & !srsa_spec::protocol::feature::EXPAND;

    fn counter(i: u64) -> u32 {
        0xC0DE_0000 | i as u32
    }

    /// A command stream and everything it must cause: the response words
    /// and buffer writes, the GEMM argument words, the seed loads (column,
    /// three words).
    #[derive(Default)]
    struct Expect {
        link: Link,
        args: Vec<u32>,
        seeds: Vec<(usize, [u32; 3])>,
    }

    fn random_stream(rng: &mut impl Rng, commands: usize) -> Expect {
        let mut e = Expect::default();
        for _ in 0..commands {
            match rng.gen_range(0..8) {
                0 => {
                    e.link
                        .words
                        .push(header(op::IDENTIFY, rng.gen_range(0..1 << 24)));
                    e.link.responses.push(status_word(op::IDENTIFY, Status::Ok));
                    e.link
                        .responses
                        .extend([MAGIC, VERSION, 4, 4, WL, ACC_BITS, CAP, PATHS]);
                }
                1 | 2 => random_transfer(rng, PATHS, &mut e.link),
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
                    e.link.words.push(header(op::GEMM, 0));
                    e.link.words.extend(&w);
                    e.args.extend(&w);
                    e.link.responses.push((op::GEMM << 24) | status << 16);
                }
                4 => {
                    let column = if rng.gen_bool(0.2) {
                        rng.gen_range(4..1 << 24)
                    } else {
                        rng.gen_range(0..4)
                    };
                    let s: [u32; 3] = rng.gen();
                    e.link.words.push(header(op::SEED, column));
                    e.link.words.extend(s);
                    if column < 4 {
                        e.seeds.push((column as usize, s));
                        e.link.responses.push(status_word(op::SEED, Status::Ok));
                    } else {
                        e.link
                            .responses
                            .push(status_word(op::SEED, Status::BadColumn));
                    }
                }
                5 => {
                    e.link.words.push(header(op::COUNTERS, 0));
                    e.link.responses.push(status_word(op::COUNTERS, Status::Ok));
                    e.link
                        .responses
                        .extend((0..COUNTER_WORDS as u64).map(counter));
                }
                _ => {
                    let opc = [0x00, 0x07, 0x7F, 0xFF][rng.gen_range(0..4)];
                    e.link.words.push(header(opc, rng.gen_range(0..1 << 24)));
                    e.link
                        .responses
                        .push(status_word(opc, Status::UnknownOpcode));
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

    /// The decoder with the transfer block wired as the device wires them,
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
        cmd_ready: Signal<Out, Bit>,
        rsp_valid: Signal<Out, Bit>,
        rsp_data: Signal<Out, Bits<32>>,
        decoder: Decoder<4, 4>,
        transfer: Transfer,
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
                cmd_ready: Default::default(),
                rsp_valid: Default::default(),
                rsp_data: Default::default(),
                decoder: Decoder::new(CAP, PATHS),
                transfer: Transfer::new(CAP, PATHS),
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
            self.transfer.clock.next = self.clock.val();
            self.transfer.reset.next = self.reset.val();
            self.transfer.start.next = self.decoder.transfer_start.val();
            self.transfer.write.next = self.decoder.transfer_write.val();
            self.transfer.words.next = self.decoder.transfer_words.val();
            self.transfer.ok.next = self.decoder.transfer_ok.val();
            self.transfer.read.next = self.decoder.transfer_read.val();
            self.transfer.cmd_data.next = self.cmd_data.val();
            self.transfer.cmd_valid.next = self.cmd_valid.val();
            self.transfer.rsp_ready.next = self.rsp_ready.val();
            self.transfer.rsp_in.next = self.decoder.rsp_data.val();
            self.transfer.read_word.next = self.read_word.val();
            self.decoder.transfer_checked.next = self.transfer.checked.val();
            self.decoder.transfer_status.next = self.transfer.status.val();
            self.decoder.transfer_done.next = self.transfer.done.val();
            self.cmd_ready.next = self.decoder.cmd_ready.val() | self.transfer.cmd_ready.val();
            self.rsp_valid.next = self.decoder.rsp_valid.val() | self.transfer.rsp_valid.val();
            self.rsp_data.next = self.transfer.rsp.val();
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
        if t.cmd_valid.val() && t.cmd_ready.val() {
            e.next += 1;
        }
        if t.rsp_valid.val() && t.rsp_ready.val() {
            g.responses.push(t.rsp_data.val().to_u64() as u32);
        }
        if t.transfer.host.write.val() {
            g.writes.push((
                t.transfer.host.buffer.val().to_u64(),
                t.transfer.host.elem.val().to_u64(),
                t.transfer.host.word.val().to_u64() as u32,
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
            t.transfer.host.buffer.val().to_u64(),
            t.transfer.rd_elem.val().to_u64(),
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
            words: e.link.words.clone(),
            next: 0,
            want: e.link.responses.len(),
            read_data: 0,
            run_left: None,
            first_arg: 0,
            got: Got::default(),
        };
        let max_cycles = 40 * e.link.words.len() as u64 + 1000;
        let env = crate::testbench::run(Dut::new(), max_cycles, env, drive, observe);
        let g = env.got;
        let first_diff = g
            .responses
            .iter()
            .zip(&e.link.responses)
            .position(|(a, b)| a != b);
        assert_eq!(first_diff, None, "first differing response word");
        assert_eq!(g.responses.len(), e.link.responses.len(), "response words");
        assert_eq!(g.writes, e.link.writes, "buffer writes");
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
