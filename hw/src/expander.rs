//! EXPAND (srsa_spec::expand): the codebook decoder. After the decoder
//! has read an EXPAND header it hands the link to this block, which reads
//! the three argument words, checks them, loads the codebook (one entry a
//! cycle) and expands the pairs into the buffers' host write port at one
//! element a cycle, the next pair's word taken off the link while the last
//! element of the word before is stored. Errors found in the stream stop
//! the writes; the rest of the payload is consumed. It reports `done` with
//! the status, and the decoder sends it.
//!
//! Between commands the block passes `transfer`'s host write port
//! (`*_in`) through to the buffers; while it runs, the port is its own.
//!
//! Element pipeline: cycle t emits an element (a zero, or a codebook
//! entry whose read is issued at t); at t + 1 its value is known and an
//! even element is held, an odd one written with the even one before it
//! as a pair.

use crate::constant;
use rust_hdl::prelude::*;
use rust_hdl::widgets::ramrom::ram::RAM;
use srsa_spec::expand::{ENTRIES_BITS, INDEX_BITS_FROM, MAX_ENTRIES, MAX_INDEX_BITS};
use srsa_spec::protocol::{feature, Buffer, Status, BUFFER_FROM, PRUNE_BIT, WIDTH_FROM};

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum ExpandState {
    Idle,
    Address,
    Size,
    Entries,
    Check,
    Book,
    Pairs,
    Skip,
    Done,
}

#[derive(LogicBlock)]
pub struct Expander {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    /// The EXPAND header is on `cmd_data` (its arg: the payload words).
    pub start: Signal<In, Bit>,
    pub cmd_data: Signal<In, Bits<32>>,
    pub cmd_valid: Signal<In, Bit>,
    pub cmd_ready: Signal<Out, Bit>,
    /// The command is over this cycle; `status` is its status.
    pub done: Signal<Out, Bit>,
    pub status: Signal<Out, Bits<8>>,

    pub host_write_in: Signal<In, Bit>,
    pub buffer_in: Signal<In, Bits<2>>,
    pub elem_in: Signal<In, Bits<24>>,
    pub word_in: Signal<In, Bits<32>>,
    pub prune_in: Signal<In, Bit>,
    pub host_write: Signal<Out, Bit>,
    pub buffer: Signal<Out, Bits<2>>,
    pub elem: Signal<Out, Bits<24>>,
    pub word: Signal<Out, Bits<32>>,
    pub prune: Signal<Out, Bit>,

    book: RAM<Bits<16>, 8>,
    state: DFF<ExpandState>,
    words_left: DFF<Bits<24>>,
    address_word: DFF<Bits<32>>,
    size_word: DFF<Bits<32>>,
    entries: DFF<Bits<16>>,
    /// The codebook word has a bit set above the entry count.
    entries_reserved: DFF<Bit>,
    verdict: DFF<Bits<8>>,
    /// Codebook entries written, and whether the held word's high entry
    /// is still to be written.
    book_at: DFF<Bits<16>>,
    book_hi: DFF<Bit>,
    /// The payload word being expanded, shifted to its next pair, and the
    /// pairs left in it.
    held: DFF<Bits<32>>,
    slots: DFF<Bits<3>>,
    /// The pair being expanded: zeros still to store before its entry.
    in_run: DFF<Bit>,
    gap_left: DFF<Bits<16>>,
    run_index: DFF<Bits<8>>,
    /// Elements emitted so far.
    pos: DFF<Bits<24>>,
    /// The pipeline's second stage, and the even element it holds.
    e_valid: DFF<Bit>,
    e_zero: DFF<Bit>,
    e_odd: DFF<Bit>,
    e_elem: DFF<Bits<24>>,
    lo: DFF<Bits<16>>,
    value: Signal<Local, Bits<16>>,

    pair8: Signal<Local, Bit>,
    index_bits: Signal<Local, Bits<16>>,
    elems: Signal<Local, Bits<24>>,
    base: Signal<Local, Bits<24>>,
    /// The next pair (from the held word, or the first of the word on
    /// the link), its fields, and whether there is one this cycle.
    pair: Signal<Local, Bits<16>>,
    pair_index: Signal<Local, Bits<16>>,
    pair_gap: Signal<Local, Bits<16>>,
    have_pair: Signal<Local, Bit>,
    from_link: Signal<Local, Bit>,
    run_end: Signal<Local, Bits<32>>,
    /// Emit an element this cycle: a zero, or entry `emit_index`.
    emit: Signal<Local, Bit>,
    emit_zero: Signal<Local, Bit>,
    emit_index: Signal<Local, Bits<8>>,
    /// Running a command; never on a device without EXPAND, so that
    /// synthesis keeps nothing of this block there but the pass-through.
    running: Signal<Local, Bit>,
    has_expand: Constant<Bit>,
    capacity: Constant<Bits<32>>,
    one16: Constant<Bits<16>>,
    has_mask: Constant<Bit>,
    buf_c: Constant<Bits<4>>,
    max_buffer: Constant<Bits<4>>,
    max_entries: Constant<Bits<16>>,
    max_index_bits: Constant<Bits<16>>,
    buffer_from: Constant<Bits<8>>,
    width_from: Constant<Bits<8>>,
    prune_bit: Constant<Bits<8>>,
    index_from: Constant<Bits<8>>,
    size_reserved_from: Constant<Bits<8>>,
    entries_bits: Constant<Bits<8>>,
    st_ok: Constant<Bits<8>>,
    st_bad_buffer: Constant<Bits<8>>,
    st_bad_address: Constant<Bits<8>>,
    st_bad_size: Constant<Bits<8>>,
    st_bad_format: Constant<Bits<8>>,
    st_bad_index: Constant<Bits<8>>,
    st_overrun: Constant<Bits<8>>,
    st_short: Constant<Bits<8>>,
}

// The codebook RAM has 2^8 entries.
const _: () = assert!(MAX_ENTRIES <= 256 && MAX_INDEX_BITS <= 8);

impl Expander {
    /// For buffers of `capacity` elements on a device with `features` (the
    /// prune flag needs the mask).
    pub fn new(capacity: u32, features: u32) -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            cmd_data: Default::default(),
            cmd_valid: Default::default(),
            cmd_ready: Default::default(),
            done: Default::default(),
            status: Default::default(),
            host_write_in: Default::default(),
            buffer_in: Default::default(),
            elem_in: Default::default(),
            word_in: Default::default(),
            prune_in: Default::default(),
            host_write: Default::default(),
            buffer: Default::default(),
            elem: Default::default(),
            word: Default::default(),
            prune: Default::default(),
            book: Default::default(),
            state: Default::default(),
            words_left: Default::default(),
            address_word: Default::default(),
            size_word: Default::default(),
            entries: Default::default(),
            entries_reserved: Default::default(),
            verdict: Default::default(),
            book_at: Default::default(),
            book_hi: Default::default(),
            held: Default::default(),
            slots: Default::default(),
            in_run: Default::default(),
            gap_left: Default::default(),
            run_index: Default::default(),
            pos: Default::default(),
            e_valid: Default::default(),
            e_zero: Default::default(),
            e_odd: Default::default(),
            e_elem: Default::default(),
            lo: Default::default(),
            value: Default::default(),
            pair8: Default::default(),
            index_bits: Default::default(),
            elems: Default::default(),
            base: Default::default(),
            pair: Default::default(),
            pair_index: Default::default(),
            pair_gap: Default::default(),
            have_pair: Default::default(),
            from_link: Default::default(),
            run_end: Default::default(),
            emit: Default::default(),
            emit_zero: Default::default(),
            emit_index: Default::default(),
            running: Default::default(),
            has_expand: Constant::new(features & feature::EXPAND != 0),
            capacity: constant(capacity as u64),
            one16: constant(1),
            has_mask: Constant::new(features & feature::MASK != 0),
            buf_c: constant(Buffer::C as u64),
            max_buffer: constant(Buffer::C as u64),
            max_entries: constant(MAX_ENTRIES as u64),
            max_index_bits: constant(MAX_INDEX_BITS as u64),
            buffer_from: constant(BUFFER_FROM as u64),
            width_from: constant(WIDTH_FROM as u64),
            prune_bit: constant(PRUNE_BIT as u64),
            index_from: constant(INDEX_BITS_FROM as u64),
            size_reserved_from: constant(INDEX_BITS_FROM as u64 + 4),
            entries_bits: constant(ENTRIES_BITS as u64),
            st_ok: constant(Status::Ok as u64),
            st_bad_buffer: constant(Status::BadBuffer as u64),
            st_bad_address: constant(Status::BadAddress as u64),
            st_bad_size: constant(Status::BadSize as u64),
            st_bad_format: constant(Status::BadFormat as u64),
            st_bad_index: constant(Status::BadIndex as u64),
            st_overrun: constant(Status::Overrun as u64),
            st_short: constant(Status::ShortStream as u64),
        }
    }
}

impl Logic for Expander {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            state,
            words_left,
            address_word,
            size_word,
            entries,
            entries_reserved,
            verdict,
            book_at,
            book_hi,
            held,
            slots,
            in_run,
            gap_left,
            run_index,
            pos,
            e_valid,
            e_zero,
            e_odd,
            e_elem,
            lo
        );
        self.book.read_clock.next = self.clock.val();
        self.book.write_clock.next = self.clock.val();
        self.book.write_enable.next = false;
        self.book.write_address.next = self.book_at.q.val().get_bits::<8>(0);
        self.book.write_data.next = self.cmd_data.val().get_bits::<16>(0);

        // ---- Fields of the argument words (srsa_spec::expand::Expand). ----
        self.pair8.next =
            bit_cast::<1, 32>(self.address_word.q.val() >> self.width_from.val()).any();
        self.index_bits.next = bit_cast::<16, 4>(bit_cast::<4, 32>(
            self.size_word.q.val() >> self.index_from.val(),
        ));
        self.elems.next = self.size_word.q.val().get_bits::<24>(0);
        self.base.next = self.address_word.q.val().get_bits::<24>(0);

        // ---- The next pair and its fields. ----
        self.from_link.next = !self.slots.q.val().any();
        self.pair.next = self.held.q.val().get_bits::<16>(0);
        if self.from_link.val() {
            self.pair.next = self.cmd_data.val().get_bits::<16>(0);
        }
        if self.pair8.val() {
            self.pair.next = bit_cast::<16, 8>(self.pair.val().get_bits::<8>(0));
        }
        self.pair_index.next = self.pair.val() & ((self.one16.val() << self.index_bits.val()) - 1);
        self.pair_gap.next = self.pair.val() >> self.index_bits.val();
        self.have_pair.next =
            !self.from_link.val() | (self.cmd_valid.val() & self.words_left.q.val().any());
        self.run_end.next =
            bit_cast::<32, 24>(self.pos.q.val()) + bit_cast::<32, 16>(self.pair_gap.val());

        // ---- Second stage: the value, held (even) or written (odd). ----
        self.value.next = self.book.read_data.val();
        if self.e_zero.q.val() {
            self.value.next = 0.into();
        }
        self.e_valid.d.next = false;
        if self.e_valid.q.val() & !self.e_odd.q.val() {
            self.lo.d.next = self.value.val();
        }
        self.host_write.next = self.host_write_in.val();
        self.buffer.next = self.buffer_in.val();
        self.elem.next = self.elem_in.val();
        self.word.next = self.word_in.val();
        self.prune.next = self.prune_in.val();
        self.running.next = self.has_expand.val() & (self.state.q.val() != ExpandState::Idle);
        if self.running.val() {
            self.host_write.next = self.e_valid.q.val() & self.e_odd.q.val();
            self.buffer.next =
                bit_cast::<2, 32>(self.address_word.q.val() >> self.buffer_from.val());
            self.elem.next = self.e_elem.q.val() - 1;
            self.word.next =
                (bit_cast::<32, 16>(self.value.val()) << 16) | bit_cast::<32, 16>(self.lo.q.val());
            self.prune.next =
                bit_cast::<1, 32>(self.address_word.q.val() >> self.prune_bit.val()).any();
        }

        // ---- The command. ----
        self.emit.next = false;
        self.emit_zero.next = true;
        self.emit_index.next = self.run_index.q.val();
        // Ready and done from registers alone, outside the state match:
        // the decoder reads them in the block that drives `start`, and a
        // simulator that saw them in one statement with `start` would find
        // a combinational loop (UNOPTFLAT) between the two blocks.
        self.cmd_ready.next = self.has_expand.val()
            & ((self.state.q.val() == ExpandState::Address)
                | (self.state.q.val() == ExpandState::Size)
                | (self.state.q.val() == ExpandState::Entries)
                | ((self.state.q.val() == ExpandState::Book)
                    & (self.verdict.q.val() == self.st_ok.val())
                    & !self.book_hi.q.val())
                | ((self.state.q.val() == ExpandState::Pairs)
                    & !self.in_run.q.val()
                    & self.from_link.val()
                    & self.words_left.q.val().any())
                | ((self.state.q.val() == ExpandState::Skip) & self.words_left.q.val().any()));
        self.done.next = self.has_expand.val() & (self.state.q.val() == ExpandState::Done);
        self.status.next = self.verdict.q.val();
        match self.state.q.val() {
            ExpandState::Idle => {
                if self.start.val() & self.has_expand.val() {
                    self.words_left.d.next = self.cmd_data.val().get_bits::<24>(0);
                    self.state.d.next = ExpandState::Address;
                }
            }
            ExpandState::Address => {
                if self.cmd_valid.val() {
                    self.address_word.d.next = self.cmd_data.val();
                    self.state.d.next = ExpandState::Size;
                }
            }
            ExpandState::Size => {
                if self.cmd_valid.val() {
                    self.size_word.d.next = self.cmd_data.val();
                    self.state.d.next = ExpandState::Entries;
                }
            }
            ExpandState::Entries => {
                if self.cmd_valid.val() {
                    self.entries.d.next = bit_cast::<16, 32>(self.cmd_data.val());
                    self.entries_reserved.d.next =
                        (self.cmd_data.val() >> self.entries_bits.val()).any();
                    self.state.d.next = ExpandState::Check;
                }
            }
            ExpandState::Check => {
                // In srsa_spec::expand::decode_expand's order: the last
                // assignment that applies wins.
                self.verdict.d.next = self.st_ok.val();
                if self.base.val().get_bit(0)
                    | self.elems.val().get_bit(0)
                    | (bit_cast::<32, 24>(self.base.val()) + bit_cast::<32, 24>(self.elems.val())
                        > self.capacity.val())
                {
                    self.verdict.d.next = self.st_bad_address.val();
                }
                if !self.words_left.q.val().any()
                    | !self.elems.val().any()
                    | !self.entries.q.val().any()
                    | (self.entries.q.val() > self.max_entries.val())
                    | (bit_cast::<24, 16>((self.entries.q.val() + 1) >> 1)
                        >= self.words_left.q.val())
                {
                    self.verdict.d.next = self.st_bad_size.val();
                }
                if (bit_cast::<3, 32>(self.address_word.q.val() >> self.width_from.val()) > 1)
                    | bit_cast::<1, 32>(self.address_word.q.val() >> self.prune_bit.val()).any()
                        & (!self.has_mask.val()
                            | (bit_cast::<4, 32>(
                                self.address_word.q.val() >> self.buffer_from.val(),
                            ) != self.buf_c.val()))
                    | (self.size_word.q.val() >> self.size_reserved_from.val()).any()
                    | self.entries_reserved.q.val()
                    | !self.index_bits.val().any()
                    | (self.index_bits.val() > self.max_index_bits.val())
                    | (self.pair8.val() & (self.index_bits.val() == self.max_index_bits.val()))
                {
                    self.verdict.d.next = self.st_bad_format.val();
                }
                if bit_cast::<4, 32>(self.address_word.q.val() >> self.buffer_from.val())
                    > self.max_buffer.val()
                {
                    self.verdict.d.next = self.st_bad_buffer.val();
                }
                self.book_at.d.next = 0.into();
                self.book_hi.d.next = false;
                self.slots.d.next = 0.into();
                self.in_run.d.next = false;
                self.pos.d.next = 0.into();
                self.state.d.next = ExpandState::Book;
            }
            ExpandState::Book => {
                if self.verdict.q.val() != self.st_ok.val() {
                    self.state.d.next = ExpandState::Skip;
                } else if self.book_hi.q.val() {
                    self.book.write_enable.next = true;
                    self.book.write_data.next = self.held.q.val().get_bits::<16>(16);
                    self.book_at.d.next = self.book_at.q.val() + 1;
                    self.book_hi.d.next = false;
                    if self.book_at.q.val() + 1 == self.entries.q.val() {
                        self.state.d.next = ExpandState::Pairs;
                    }
                } else if self.cmd_valid.val() {
                    self.book.write_enable.next = true;
                    self.held.d.next = self.cmd_data.val();
                    self.words_left.d.next = self.words_left.q.val() - 1;
                    self.book_at.d.next = self.book_at.q.val() + 1;
                    self.book_hi.d.next = true;
                    if self.book_at.q.val() + 1 == self.entries.q.val() {
                        self.book_hi.d.next = false;
                        self.state.d.next = ExpandState::Pairs;
                    }
                }
            }
            ExpandState::Pairs => {
                if self.in_run.q.val() {
                    // A run's zeros, then its entry.
                    self.emit.next = true;
                    self.gap_left.d.next = self.gap_left.q.val() - 1;
                    if !self.gap_left.q.val().any() {
                        self.emit_zero.next = false;
                        self.in_run.d.next = false;
                    }
                } else if self.have_pair.val() {
                    self.slots.d.next = self.slots.q.val() - 1;
                    self.held.d.next = self.held.q.val() >> 16;
                    if self.pair8.val() {
                        self.held.d.next = self.held.q.val() >> 8;
                    }
                    if self.from_link.val() {
                        self.words_left.d.next = self.words_left.q.val() - 1;
                        self.slots.d.next = 1.into();
                        self.held.d.next = self.cmd_data.val() >> 16;
                        if self.pair8.val() {
                            self.slots.d.next = 3.into();
                            self.held.d.next = self.cmd_data.val() >> 8;
                        }
                    }
                    if self.pos.q.val() == self.elems.val() {
                        // Padding after a full region.
                        if self.pair.val().any() {
                            self.verdict.d.next = self.st_overrun.val();
                            self.state.d.next = ExpandState::Skip;
                        }
                    } else if self.pair_index.val() >= self.entries.q.val() {
                        self.verdict.d.next = self.st_bad_index.val();
                        self.state.d.next = ExpandState::Skip;
                    } else if self.run_end.val() >= bit_cast::<32, 24>(self.elems.val()) {
                        self.verdict.d.next = self.st_overrun.val();
                        self.state.d.next = ExpandState::Skip;
                    } else {
                        self.emit.next = true;
                        self.run_index.d.next = self.pair_index.val().get_bits::<8>(0);
                        self.emit_index.next = self.pair_index.val().get_bits::<8>(0);
                        if self.pair_gap.val().any() {
                            self.in_run.d.next = true;
                            self.gap_left.d.next = self.pair_gap.val() - 1;
                        } else {
                            self.emit_zero.next = false;
                        }
                    }
                } else if !self.words_left.q.val().any() {
                    if self.pos.q.val() != self.elems.val() {
                        self.verdict.d.next = self.st_short.val();
                    }
                    self.state.d.next = ExpandState::Done;
                }
            }
            ExpandState::Skip => {
                if self.cmd_valid.val() & self.words_left.q.val().any() {
                    self.words_left.d.next = self.words_left.q.val() - 1;
                }
                if !self.words_left.q.val().any() {
                    self.state.d.next = ExpandState::Done;
                }
            }
            ExpandState::Done => {
                self.state.d.next = ExpandState::Idle;
            }
        }
        self.book.read_address.next = self.emit_index.val();
        if self.emit.val() {
            self.e_valid.d.next = true;
            self.e_zero.d.next = self.emit_zero.val();
            self.e_odd.d.next = self.pos.q.val().get_bit(0);
            self.e_elem.d.next = self.base.val() + self.pos.q.val();
            self.pos.d.next = self.pos.q.val() + 1;
        }
        if self.reset.val() {
            self.state.d.next = ExpandState::Idle;
        }
    }
}
