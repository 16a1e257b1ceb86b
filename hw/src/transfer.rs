//! WRITE and READ (srsa_spec::protocol): after the decoder has read the
//! header it hands the link to this block, which takes the address word
//! (checked by `transfer_check`) and then a WRITE's payload, a pair a
//! cycle into the buffers' host port, and reports `done`; the decoder
//! sends the status. After an OK READ's status the decoder hands it the
//! response link, and it sends the words read from the buffers.
//!
//! A packed word (an 8- or 4-bit `Width`) takes a cycle per pair: a
//! WRITE's first pair comes straight off the link, the rest from
//! `packing::Unpack`'s held word; a READ's pairs are gathered by
//! `packing::Pack`, which sends the word with its last pair. This block
//! only steers them (see `packing` for why they are blocks of their own).

use crate::constant;
use crate::packing::{Pack, Unpack};
use crate::ports::HostPort;
use crate::transfer_check::TransferCheck;
use rust_hdl::prelude::*;
use srsa_spec::protocol::{feature, Status, Width, PRUNE_BIT};

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum TransferState {
    Idle,
    Address,
    WriteData,
    ReadIssue,
    ReadEmit,
}

#[derive(LogicBlock)]
pub struct Transfer {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    /// The decoder has taken a WRITE or READ header.
    pub start: Signal<In, Bit>,
    /// The command is a WRITE, else a READ, and its payload words, from
    /// the header the decoder keeps (it answers with the opcode, and
    /// SEED's column is an arg too). `count` loads them with the address
    /// word: a copy of its own taken off the header cost the iCEBreaker
    /// about 50 LCs more (packing, not logic).
    pub write: Signal<In, Bit>,
    pub words: Signal<In, Bits<24>>,
    /// The status the decoder kept is Ok: a rejected WRITE's payload is
    /// consumed, to stay in step, and not written.
    pub ok: Signal<In, Bit>,
    /// An OK READ's status is sent: read its words.
    pub read: Signal<In, Bit>,
    pub cmd_data: Signal<In, Bits<32>>,
    pub cmd_valid: Signal<In, Bit>,
    pub cmd_ready: Signal<Out, Bit>,
    pub rsp_valid: Signal<Out, Bit>,
    pub rsp_ready: Signal<In, Bit>,
    /// The address word is taken this cycle; `status` is its verdict.
    pub checked: Signal<Out, Bit>,
    pub status: Signal<Out, Bits<8>>,
    /// The block's part of the command (or of the READ's response) is over
    /// this cycle.
    pub done: Signal<Out, Bit>,
    /// The decoder's response word, and the device's: a read word while
    /// one is sent, else `rsp_in`.
    pub rsp_in: Signal<In, Bits<32>>,
    pub rsp: Signal<Out, Bits<32>>,

    // The buffers' host port (see `buffers`): the pair written, and the
    // pair read the cycle before.
    pub host: HostPort,
    pub rd_elem: Signal<Out, Bits<24>>,
    pub read_word: Signal<In, Bits<32>>,

    check: TransferCheck,
    unpack: Unpack,
    pack: Pack,
    state: DFF<TransferState>,
    /// Payload words left.
    count: DFF<Bits<24>>,
    elem_at: DFF<Bits<24>>,
    buffer_id: DFF<Bits<2>>,
    /// The transfer's element width (`Width` code); 0 unless packed.
    width: DFF<Bits<2>>,
    prune_flag: DFF<Bit>,
    /// Pairs left of the word being unpacked or gathered.
    sub: DFF<Bits<2>>,
    /// The pairs a word of the width holds, less one.
    last_pair: Signal<Local, Bits<2>>,
    /// Between the pairs of a packed word.
    in_word: Signal<Local, Bit>,
    /// One adder each, shared by every state that steps them.
    elem_step: Signal<Local, Bits<24>>,
    count_step: Signal<Local, Bits<24>>,
    has_packed: Constant<Bit>,
    has_mask: Constant<Bit>,
    prune_bit: Constant<Bits<8>>,
    w8: Constant<Bits<2>>,
    w4: Constant<Bits<2>>,
    st_ok: Constant<Bits<8>>,
}

impl Transfer {
    /// For buffers of `capacity` elements on a device with the operand
    /// paths `features`.
    pub fn new(capacity: u32, features: u32) -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            write: Default::default(),
            words: Default::default(),
            ok: Default::default(),
            read: Default::default(),
            cmd_data: Default::default(),
            cmd_valid: Default::default(),
            cmd_ready: Default::default(),
            rsp_valid: Default::default(),
            rsp_ready: Default::default(),
            checked: Default::default(),
            status: Default::default(),
            done: Default::default(),
            rsp_in: Default::default(),
            rsp: Default::default(),
            host: Default::default(),
            rd_elem: Default::default(),
            read_word: Default::default(),
            check: TransferCheck::new(capacity, features),
            unpack: Default::default(),
            pack: Default::default(),
            state: Default::default(),
            count: Default::default(),
            elem_at: Default::default(),
            buffer_id: Default::default(),
            width: Default::default(),
            prune_flag: Default::default(),
            sub: Default::default(),
            last_pair: Default::default(),
            in_word: Default::default(),
            elem_step: Default::default(),
            count_step: Default::default(),
            has_packed: Constant::new(features & feature::PACKED != 0),
            has_mask: Constant::new(features & feature::MASK != 0),
            prune_bit: constant(PRUNE_BIT as u64),
            w8: constant(Width::W8 as u64),
            w4: constant(Width::W4 as u64),
            st_ok: constant(Status::Ok as u64),
        }
    }
}

impl Logic for Transfer {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, state, count, elem_at, buffer_id, width, prune_flag, sub);
        self.check.enable.next = self.state.q.val() == TransferState::Address;
        self.check.word.next = self.cmd_data.val();
        self.check.words.next = self.words.val();
        self.check.write.next = self.write.val();
        self.status.next = self.check.status.val();

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
        self.elem_step.next = self.elem_at.q.val() + 2;
        self.count_step.next = self.count.q.val() - 1;
        self.host.elem.next = self.elem_at.q.val();
        self.host.buffer.next = self.buffer_id.q.val();
        self.host.prune.next = self.prune_flag.q.val();
        self.rd_elem.next = self.elem_at.q.val();
        if (self.state.q.val() == TransferState::ReadEmit)
            & (self.rsp_ready.val() | self.in_word.val())
        {
            self.rd_elem.next = self.elem_step.val();
        }

        self.cmd_ready.next = (self.state.q.val() == TransferState::Address)
            | ((self.state.q.val() == TransferState::WriteData) & !self.in_word.val());
        self.rsp_valid.next = (self.state.q.val() == TransferState::ReadEmit) & !self.in_word.val();
        self.host.write.next = (self.state.q.val() == TransferState::WriteData)
            & (self.in_word.val() | (self.cmd_valid.val() & self.ok.val()));
        // `checked` and `done` (the match's moves to Idle, without reset)
        // from registers and inputs alone, and read nowhere here: the
        // decoder reads them in the statement that drives `start` and
        // `read`, and Verilator, which splits a block only into statements
        // that share no variable, would otherwise see a combinational loop
        // (UNOPTFLAT) between the two blocks.
        self.checked.next = (self.state.q.val() == TransferState::Address) & self.cmd_valid.val();
        self.done.next = ((self.state.q.val() == TransferState::Address)
            & self.cmd_valid.val()
            & !(self.write.val() & self.words.val().any()))
            | ((self.state.q.val() == TransferState::WriteData)
                & ((self.has_packed.val() & (self.sub.q.val() == 1) & !self.count.q.val().any())
                    | (!(self.has_packed.val() & self.sub.q.val().any())
                        & self.cmd_valid.val()
                        & (self.count.q.val() == 1)
                        & (self.width.q.val() != self.w8.val())
                        & (self.width.q.val() != self.w4.val()))))
            | ((self.state.q.val() == TransferState::ReadEmit)
                & !(self.has_packed.val() & self.sub.q.val().any())
                & self.rsp_ready.val()
                & (self.count.q.val() == 1));

        match self.state.q.val() {
            TransferState::Idle => {
                self.sub.d.next = 0.into();
                if self.start.val() {
                    self.state.d.next = TransferState::Address;
                }
                if self.read.val() {
                    self.state.d.next = TransferState::ReadIssue;
                }
            }
            TransferState::Address => {
                if self.cmd_valid.val() {
                    self.buffer_id.d.next = self.cmd_data.val().get_bits::<2>(24);
                    self.elem_at.d.next = self.cmd_data.val().get_bits::<24>(0);
                    self.count.d.next = self.words.val();
                    self.width.d.next = 0.into();
                    self.prune_flag.d.next = self.has_mask.val()
                        & bit_cast::<1, 32>(self.cmd_data.val() >> self.prune_bit.val()).any();
                    if self.has_packed.val() & (self.check.status.val() == self.st_ok.val()) {
                        self.width.d.next = self.check.code.val();
                    }
                    self.state.d.next = TransferState::Idle;
                    if self.write.val() & self.words.val().any() {
                        self.state.d.next = TransferState::WriteData;
                    }
                }
            }
            TransferState::WriteData => {
                // A packed word's later pairs take a cycle each.
                if self.in_word.val() {
                    self.elem_at.d.next = self.elem_step.val();
                    self.sub.d.next = self.sub.q.val() - 1;
                    if (self.sub.q.val() == 1) & !self.count.q.val().any() {
                        self.state.d.next = TransferState::Idle;
                    }
                } else if self.cmd_valid.val() {
                    self.elem_at.d.next = self.elem_step.val();
                    self.count.d.next = self.count_step.val();
                    self.sub.d.next = self.last_pair.val();
                    if (self.count.q.val() == 1) & !self.last_pair.val().any() {
                        self.state.d.next = TransferState::Idle;
                    }
                }
            }
            TransferState::ReadIssue => {
                // The banks read elem's row this cycle; data is there next.
                self.sub.d.next = self.last_pair.val();
                self.state.d.next = TransferState::ReadEmit;
            }
            TransferState::ReadEmit => {
                // A packed word gathers `last_pair` + 1 pairs, one a cycle,
                // and goes out with its last. The banks are already reading
                // the next pair (rd_elem), so the next word follows without
                // a gap.
                if self.in_word.val() {
                    self.elem_at.d.next = self.elem_step.val();
                    self.sub.d.next = self.sub.q.val() - 1;
                } else if self.rsp_ready.val() {
                    self.elem_at.d.next = self.elem_step.val();
                    self.count.d.next = self.count_step.val();
                    self.sub.d.next = self.last_pair.val();
                    if self.count.q.val() == 1 {
                        self.state.d.next = TransferState::Idle;
                    }
                }
            }
        }
        // A reset abandons the transfer.
        if self.reset.val() {
            self.state.d.next = TransferState::Idle;
            self.cmd_ready.next = false;
            self.rsp_valid.next = false;
            self.host.write.next = false;
        }

        self.unpack.clock.next = self.clock.val();
        self.unpack.word.next = self.cmd_data.val();
        self.unpack.from_held.next = self.in_word.val();
        self.unpack.advance.next = self.host.write.val();
        self.unpack.width.next = self.width.q.val();
        self.host.word.next = self.unpack.pair.val();
        self.pack.clock.next = self.clock.val();
        self.pack.pair.next = self.read_word.val();
        self.pack.capture.next =
            (self.state.q.val() == TransferState::ReadEmit) & self.in_word.val();
        self.pack.width.next = self.width.q.val();
        self.pack.select.next = self.state.q.val() == TransferState::ReadEmit;
        self.pack.rsp_in.next = self.rsp_in.val();
        self.rsp.next = self.pack.rsp.val();
    }
}

/// Shared with the decoder's test, which speaks the whole protocol.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use srsa_spec::protocol::{
        address_word, decode_transfer, header, op, pack_as, status_word, unpack_as, WIDTH_FROM,
    };

    pub(crate) const CAP: u32 = 256;

    /// What the buffers would answer for the pair at `elem` of `buffer`.
    /// Elements of every magnitude, so that packed reads both pass values
    /// through and saturate them.
    pub(crate) fn memory(buffer: u64, elem: u64) -> u32 {
        let h = (0x9E37_79B9u64.wrapping_mul(elem * 4 + buffer + 1) >> 7) as u32;
        let lo = (h as u16 as i16) >> (h >> 28);
        let hi = ((h >> 16) as u16 as i16) >> (h >> 24 & 15);
        lo as u16 as u32 | (hi as u16 as u32) << 16
    }

    /// Commands on the link and what they must cause: the response words
    /// and the buffer writes (buffer, element, pair).
    #[derive(Default)]
    pub(crate) struct Link {
        pub words: Vec<u32>,
        pub responses: Vec<u32>,
        pub writes: Vec<(u64, u64, u32)>,
    }

    /// A random WRITE or READ on a device with `features`: mostly a width
    /// the protocol has, sometimes a code or reserved bit it lacks, now and
    /// then a bad size, buffer or address.
    pub(crate) fn random_transfer(rng: &mut impl Rng, features: u32, e: &mut Link) {
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
        let t = decode_transfer(opc, aw, words, CAP, features);
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
                    .flat_map(|j| unpack_as(memory(buffer as u64, elem + 2 * j), Width::W16))
                    .collect();
                e.responses.extend(pack_as(&elems, t.width));
            }
        }
    }

    /// Where the decoder is in a command, as this test plays it.
    #[derive(PartialEq)]
    enum Phase {
        Idle,
        Transferring,
        Status,
        Reading,
    }

    /// The block's surroundings: the host offering `words` (when `offer`
    /// draws true) and taking responses (when `accept` does), the buffers
    /// answering reads a cycle later, and the decoder: it starts the block
    /// on each header, keeps the address word's verdict, sends the status
    /// word (through the block's response mux) when the block is done, and
    /// then hands it an OK READ's response.
    struct Env {
        rng: rand::rngs::StdRng,
        offer: f64,
        accept: f64,
        words: Vec<u32>,
        next: usize,
        want: usize,
        phase: Phase,
        opcode: u32,
        words_arg: u32,
        status: u32,
        offered: bool,
        ready: bool,
        read_data: u32,
        got: Link,
        /// Ready or valid while the link is the decoder's.
        stray: Vec<u64>,
    }

    impl Env {
        fn reads_on(&self) -> bool {
            self.opcode == op::READ && self.status == Status::Ok as u32
        }
    }

    fn drive(e: &mut Env, _: u64, t: &mut Transfer) {
        e.offered = e.next < e.words.len() && e.rng.gen_bool(e.offer);
        e.ready = e.rng.gen_bool(e.accept);
        t.cmd_valid.next = e.offered;
        t.cmd_data.next = (*e.words.get(e.next).unwrap_or(&0) as u64).into();
        t.rsp_ready.next = e.ready;
        t.start.next = e.phase == Phase::Idle && e.offered;
        t.write.next = e.opcode == op::WRITE;
        t.words.next = (e.words_arg as u64).into();
        t.ok.next = e.status == Status::Ok as u32;
        t.read.next = e.phase == Phase::Status && e.ready && e.reads_on();
        t.rsp_in.next = (status_word(e.opcode, Status::from_code(e.status).unwrap()) as u64).into();
        t.read_word.next = (e.read_data as u64).into();
    }

    fn observe(e: &mut Env, cycle: u64, t: &Transfer) -> bool {
        let owned = matches!(e.phase, Phase::Transferring | Phase::Reading);
        if !owned && (t.cmd_ready.val() || t.rsp_valid.val()) {
            e.stray.push(cycle);
        }
        match e.phase {
            Phase::Idle => {
                if e.offered {
                    e.opcode = e.words[e.next] >> 24;
                    e.words_arg = e.words[e.next] & 0xFF_FFFF;
                    e.next += 1;
                    e.phase = Phase::Transferring;
                }
            }
            Phase::Transferring => {
                if e.offered && t.cmd_ready.val() {
                    e.next += 1;
                }
                if t.checked.val() {
                    e.status = t.status.val().to_u64() as u32;
                }
                if t.done.val() {
                    e.phase = Phase::Status;
                }
            }
            Phase::Status => {
                if e.ready {
                    e.got.responses.push(t.rsp.val().to_u64() as u32);
                    e.phase = if e.reads_on() {
                        Phase::Reading
                    } else {
                        Phase::Idle
                    };
                }
            }
            Phase::Reading => {
                if t.rsp_valid.val() && e.ready {
                    e.got.responses.push(t.rsp.val().to_u64() as u32);
                }
                if t.done.val() {
                    e.phase = Phase::Idle;
                }
            }
        }
        if t.host.write.val() {
            e.got.writes.push((
                t.host.buffer.val().to_u64(),
                t.host.elem.val().to_u64(),
                t.host.word.val().to_u64() as u32,
            ));
        }
        // The banks answer the read issued this cycle next cycle.
        e.read_data = memory(t.host.buffer.val().to_u64(), t.rd_elem.val().to_u64());
        e.got.responses.len() < e.want || e.next < e.words.len()
    }

    fn transfers_match_spec(features: u32, seed: u64, offer: f64, accept: f64) {
        println!("features {features:#x}, seed {seed:#x}, offered {offer}, accepted {accept}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut want = Link::default();
        for _ in 0..150 {
            random_transfer(&mut rng, features, &mut want);
        }
        let env = Env {
            rng: rand::rngs::StdRng::seed_from_u64(seed ^ 1),
            offer,
            accept,
            words: want.words.clone(),
            next: 0,
            want: want.responses.len(),
            phase: Phase::Idle,
            opcode: 0,
            words_arg: 0,
            status: 0,
            offered: false,
            ready: false,
            read_data: 0,
            got: Link::default(),
            stray: vec![],
        };
        let max_cycles = 40 * want.words.len() as u64 + 1000;
        let env = crate::testbench::run(
            Transfer::new(CAP, features),
            max_cycles,
            env,
            drive,
            observe,
        );
        let got = env.got;
        let first_diff = got
            .responses
            .iter()
            .zip(&want.responses)
            .position(|(a, b)| a != b);
        assert_eq!(first_diff, None, "first differing response word");
        assert_eq!(got.responses.len(), want.responses.len(), "response words");
        assert_eq!(got.writes, want.writes, "buffer writes");
        assert_eq!(
            env.stray.first(),
            None,
            "cycles with the link not the block's"
        );
        println!(
            "{} response words, {} writes",
            got.responses.len(),
            got.writes.len()
        );
    }

    #[test]
    fn transfers_match_spec_with_packing() {
        transfers_match_spec(feature::ALL, 0x5EED_0E01, 1.0, 1.0);
        transfers_match_spec(feature::ALL, 0x5EED_0E02, 0.6, 0.3);
    }

    #[test]
    fn transfers_match_spec_without_packing() {
        transfers_match_spec(0, 0x5EED_0E03, 0.7, 0.5);
    }
}
