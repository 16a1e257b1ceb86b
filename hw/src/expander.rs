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
//! The argument check is `expand_check`'s, and the codebook with the
//! element pipeline's second stage is `codebook`'s.

use crate::codebook::Codebook;
use crate::constant;
use crate::expand_check::ExpandCheck;
use crate::ports::{HostPort, HostPortIn};
use rust_hdl::prelude::*;
use srsa_spec::protocol::{feature, Status, BUFFER_FROM, PRUNE_BIT};

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

    pub host_in: HostPortIn,
    pub host: HostPort,

    check: ExpandCheck,
    book: Codebook,
    state: DFF<ExpandState>,
    words_left: DFF<Bits<24>>,
    addr_word: DFF<Bits<32>>,
    size_word: DFF<Bits<32>>,
    book_word: DFF<Bits<32>>,
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
    one16: Constant<Bits<16>>,
    buffer_from: Constant<Bits<8>>,
    prune_bit: Constant<Bits<8>>,
    st_ok: Constant<Bits<8>>,
    st_bad_index: Constant<Bits<8>>,
    st_overrun: Constant<Bits<8>>,
    st_short: Constant<Bits<8>>,
}

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
            host_in: Default::default(),
            host: Default::default(),
            check: ExpandCheck::new(capacity, features),
            book: Default::default(),
            state: Default::default(),
            words_left: Default::default(),
            addr_word: Default::default(),
            size_word: Default::default(),
            book_word: Default::default(),
            verdict: Default::default(),
            book_at: Default::default(),
            book_hi: Default::default(),
            held: Default::default(),
            slots: Default::default(),
            in_run: Default::default(),
            gap_left: Default::default(),
            run_index: Default::default(),
            pos: Default::default(),
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
            one16: constant(1),
            buffer_from: constant(BUFFER_FROM as u64),
            prune_bit: constant(PRUNE_BIT as u64),
            st_ok: constant(Status::Ok as u64),
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
            self, clock, state, words_left, addr_word, size_word, book_word, verdict, book_at,
            book_hi, held, slots, in_run, gap_left, run_index, pos
        );
        self.check.enable.next = self.state.q.val() == ExpandState::Check;
        self.check.address_word.next = self.addr_word.q.val();
        self.check.size_word.next = self.size_word.q.val();
        self.check.book_word.next = self.book_word.q.val();
        self.check.payload.next = self.words_left.q.val();
        self.book.clock.next = self.clock.val();
        self.book.write.next = false;
        self.book.write_at.next = self.book_at.q.val().get_bits::<8>(0);
        self.book.write_data.next = self.cmd_data.val().get_bits::<16>(0);

        // ---- The next pair and its fields. ----
        self.from_link.next = !self.slots.q.val().any();
        self.pair.next = self.held.q.val().get_bits::<16>(0);
        if self.from_link.val() {
            self.pair.next = self.cmd_data.val().get_bits::<16>(0);
        }
        if self.check.pair8.val() {
            self.pair.next = bit_cast::<16, 8>(self.pair.val().get_bits::<8>(0));
        }
        self.pair_index.next =
            self.pair.val() & ((self.one16.val() << self.check.index_bits.val()) - 1);
        self.pair_gap.next = self.pair.val() >> self.check.index_bits.val();
        self.have_pair.next =
            !self.from_link.val() | (self.cmd_valid.val() & self.words_left.q.val().any());
        self.run_end.next =
            bit_cast::<32, 24>(self.pos.q.val()) + bit_cast::<32, 16>(self.pair_gap.val());

        self.host.write.next = self.host_in.write.val();
        self.host.buffer.next = self.host_in.buffer.val();
        self.host.elem.next = self.host_in.elem.val();
        self.host.word.next = self.host_in.word.val();
        self.host.prune.next = self.host_in.prune.val();
        self.running.next = self.has_expand.val() & (self.state.q.val() != ExpandState::Idle);
        if self.running.val() {
            self.host.write.next = self.book.pair_write.val();
            self.host.buffer.next =
                bit_cast::<2, 32>(self.addr_word.q.val() >> self.buffer_from.val());
            self.host.elem.next = self.book.pair_elem.val();
            self.host.word.next = self.book.pair_word.val();
            self.host.prune.next =
                bit_cast::<1, 32>(self.addr_word.q.val() >> self.prune_bit.val()).any();
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
                    self.addr_word.d.next = self.cmd_data.val();
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
                    self.book_word.d.next = self.cmd_data.val();
                    self.state.d.next = ExpandState::Check;
                }
            }
            ExpandState::Check => {
                self.verdict.d.next = self.check.verdict.val();
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
                    self.book.write.next = true;
                    self.book.write_data.next = self.held.q.val().get_bits::<16>(16);
                    self.book_at.d.next = self.book_at.q.val() + 1;
                    self.book_hi.d.next = false;
                    if self.book_at.q.val() + 1 == self.check.entries.val() {
                        self.state.d.next = ExpandState::Pairs;
                    }
                } else if self.cmd_valid.val() {
                    self.book.write.next = true;
                    self.held.d.next = self.cmd_data.val();
                    self.words_left.d.next = self.words_left.q.val() - 1;
                    self.book_at.d.next = self.book_at.q.val() + 1;
                    self.book_hi.d.next = true;
                    if self.book_at.q.val() + 1 == self.check.entries.val() {
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
                    if self.check.pair8.val() {
                        self.held.d.next = self.held.q.val() >> 8;
                    }
                    if self.from_link.val() {
                        self.words_left.d.next = self.words_left.q.val() - 1;
                        self.slots.d.next = 1.into();
                        self.held.d.next = self.cmd_data.val() >> 16;
                        if self.check.pair8.val() {
                            self.slots.d.next = 3.into();
                            self.held.d.next = self.cmd_data.val() >> 8;
                        }
                    }
                    if self.pos.q.val() == self.check.elems.val() {
                        // Padding after a full region.
                        if self.pair.val().any() {
                            self.verdict.d.next = self.st_overrun.val();
                            self.state.d.next = ExpandState::Skip;
                        }
                    } else if self.pair_index.val() >= self.check.entries.val() {
                        self.verdict.d.next = self.st_bad_index.val();
                        self.state.d.next = ExpandState::Skip;
                    } else if self.run_end.val() >= bit_cast::<32, 24>(self.check.elems.val()) {
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
                    if self.pos.q.val() != self.check.elems.val() {
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
        self.book.emit.next = self.emit.val();
        self.book.zero.next = self.emit_zero.val();
        self.book.index.next = self.emit_index.val();
        self.book.at.next = self.check.base.val() + self.pos.q.val();
        if self.emit.val() {
            self.pos.d.next = self.pos.q.val() + 1;
        }
        if self.reset.val() {
            self.state.d.next = ExpandState::Idle;
        }
    }
}
