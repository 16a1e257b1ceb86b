//! The three banked buffers and their two sides: the host port (a pair of
//! elements per word, written and read by the decoder) and the array side
//! (one read per bank per cycle for the feed, and C_in reads and result
//! writes for the output stages) while a GEMM runs.
//!
//! Buffer A has R banks (one per array row), B and C have C banks (one per
//! column); all three hold the same number of elements, so A's banks are
//! deeper when R < C. Element e of a buffer with n banks lives in bank
//! e % n at row e / n (srsa_spec::protocol::Buffer).

use rust_hdl::prelude::*;
use rust_hdl::widgets::ramrom::ram::RAM;
use srsa_spec::protocol::Buffer;

#[derive(LogicBlock)]
pub struct Buffers<const R: usize, const C: usize, const DA: usize, const DC: usize> {
    pub clock: Signal<In, Clock>,
    /// The array side owns the banks' ports (else the host side does).
    pub running: Signal<In, Bit>,

    // Host side. `elem` is the (even) element of the pair being written,
    // or whose read data is on `read_word` this cycle; `rd_elem` is the
    // pair whose read is issued this cycle.
    pub host_write: Signal<In, Bit>,
    pub buffer: Signal<In, Bits<2>>,
    pub elem: Signal<In, Bits<24>>,
    pub write_word: Signal<In, Bits<32>>,
    pub rd_elem: Signal<In, Bits<24>>,
    pub read_word: Signal<Out, Bits<32>>,

    // Array side.
    pub a_addr: [Signal<In, Bits<DA>>; R],
    pub b_addr: [Signal<In, Bits<DC>>; C],
    pub cin_addr: [Signal<In, Bits<DC>>; C],
    pub out_enable: [Signal<In, Bit>; C],
    pub out_addr: [Signal<In, Bits<DC>>; C],
    pub out_data: [Signal<In, Bits<16>>; C],
    pub a_data: [Signal<Out, Bits<16>>; R],
    pub b_data: [Signal<Out, Bits<16>>; C],
    pub c_data: [Signal<Out, Bits<16>>; C],

    pub a_bank: Vec<RAM<Bits<16>, DA>>,
    pub b_bank: Vec<RAM<Bits<16>, DC>>,
    pub c_bank: Vec<RAM<Bits<16>, DC>>,

    /// Bank of `elem` and of `elem + 1` in buffer A, and in B or C. Pairs
    /// are even-addressed, so with at least two banks they sit in
    /// neighbouring banks of the same row.
    bank_a: Signal<Local, Bits<24>>,
    bank_a_hi: Signal<Local, Bits<24>>,
    bank_c: Signal<Local, Bits<24>>,
    bank_c_hi: Signal<Local, Bits<24>>,
    row_a: Signal<Local, Bits<DA>>,
    row_c: Signal<Local, Bits<DC>>,
    rd_row_a: Signal<Local, Bits<DA>>,
    rd_row_c: Signal<Local, Bits<DC>>,
    read_lo: Signal<Local, Bits<16>>,
    read_hi: Signal<Local, Bits<16>>,
    lo: Signal<Local, Bits<16>>,
    hi: Signal<Local, Bits<16>>,

    log2r: Constant<Bits<8>>,
    log2c: Constant<Bits<8>>,
    r_mask: Constant<Bits<24>>,
    c_mask: Constant<Bits<24>>,
    buf_a: Constant<Bits<2>>,
    buf_b: Constant<Bits<2>>,
    buf_c: Constant<Bits<2>>,
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> Default
    for Buffers<R, C, DA, DC>
{
    fn default() -> Self {
        Self {
            clock: Default::default(),
            running: Default::default(),
            host_write: Default::default(),
            buffer: Default::default(),
            elem: Default::default(),
            write_word: Default::default(),
            rd_elem: Default::default(),
            read_word: Default::default(),
            a_addr: std::array::from_fn(|_| Default::default()),
            b_addr: std::array::from_fn(|_| Default::default()),
            cin_addr: std::array::from_fn(|_| Default::default()),
            out_enable: std::array::from_fn(|_| Default::default()),
            out_addr: std::array::from_fn(|_| Default::default()),
            out_data: std::array::from_fn(|_| Default::default()),
            a_data: std::array::from_fn(|_| Default::default()),
            b_data: std::array::from_fn(|_| Default::default()),
            c_data: std::array::from_fn(|_| Default::default()),
            a_bank: (0..R).map(|_| RAM::default()).collect(),
            b_bank: (0..C).map(|_| RAM::default()).collect(),
            c_bank: (0..C).map(|_| RAM::default()).collect(),
            bank_a: Default::default(),
            bank_a_hi: Default::default(),
            bank_c: Default::default(),
            bank_c_hi: Default::default(),
            row_a: Default::default(),
            row_c: Default::default(),
            rd_row_a: Default::default(),
            rd_row_c: Default::default(),
            read_lo: Default::default(),
            read_hi: Default::default(),
            lo: Default::default(),
            hi: Default::default(),
            log2r: Constant::new((R.trailing_zeros() as u64).into()),
            log2c: Constant::new((C.trailing_zeros() as u64).into()),
            r_mask: Constant::new(((R - 1) as u64).into()),
            c_mask: Constant::new(((C - 1) as u64).into()),
            buf_a: Constant::new((Buffer::A as u64).into()),
            buf_b: Constant::new((Buffer::B as u64).into()),
            buf_c: Constant::new((Buffer::C as u64).into()),
        }
    }
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> Logic
    for Buffers<R, C, DA, DC>
{
    #[hdl_gen]
    fn update(&mut self) {
        self.bank_a.next = self.elem.val() & self.r_mask.val();
        self.bank_a_hi.next = self.bank_a.val() + 1;
        self.bank_c.next = self.elem.val() & self.c_mask.val();
        self.bank_c_hi.next = self.bank_c.val() + 1;
        self.row_a.next = bit_cast::<DA, 24>(self.elem.val() >> self.log2r.val());
        self.row_c.next = bit_cast::<DC, 24>(self.elem.val() >> self.log2c.val());
        self.rd_row_a.next = bit_cast::<DA, 24>(self.rd_elem.val() >> self.log2r.val());
        self.rd_row_c.next = bit_cast::<DC, 24>(self.rd_elem.val() >> self.log2c.val());
        self.lo.next = self.write_word.val().get_bits::<16>(0);
        self.hi.next = self.write_word.val().get_bits::<16>(16);

        // Host reads: the pair's two banks, of the buffer being read.
        self.read_lo.next = 0.into();
        self.read_hi.next = 0.into();
        for b in 0..R {
            self.a_bank[b].read_clock.next = self.clock.val();
            self.a_bank[b].write_clock.next = self.clock.val();
            if self.buffer.val() == self.buf_a.val() {
                if self.bank_a.val().index() == b {
                    self.read_lo.next = self.a_bank[b].read_data.val();
                }
                if self.bank_a_hi.val().index() == b {
                    self.read_hi.next = self.a_bank[b].read_data.val();
                }
            }
        }
        for b in 0..C {
            self.b_bank[b].read_clock.next = self.clock.val();
            self.b_bank[b].write_clock.next = self.clock.val();
            self.c_bank[b].read_clock.next = self.clock.val();
            self.c_bank[b].write_clock.next = self.clock.val();
            if self.bank_c.val().index() == b {
                if self.buffer.val() == self.buf_b.val() {
                    self.read_lo.next = self.b_bank[b].read_data.val();
                } else if self.buffer.val() == self.buf_c.val() {
                    self.read_lo.next = self.c_bank[b].read_data.val();
                }
            }
            if self.bank_c_hi.val().index() == b {
                if self.buffer.val() == self.buf_b.val() {
                    self.read_hi.next = self.b_bank[b].read_data.val();
                } else if self.buffer.val() == self.buf_c.val() {
                    self.read_hi.next = self.c_bank[b].read_data.val();
                }
            }
        }
        self.read_word.next =
            (bit_cast::<32, 16>(self.read_hi.val()) << 16) | bit_cast::<32, 16>(self.read_lo.val());

        // Host writes land on the pair of banks holding elem, elem + 1.
        for r in 0..R {
            self.a_bank[r].write_address.next = self.row_a.val();
            self.a_bank[r].write_data.next = self.lo.val();
            if self.bank_a_hi.val().index() == r {
                self.a_bank[r].write_data.next = self.hi.val();
            }
            self.a_bank[r].write_enable.next = self.host_write.val()
                & (self.buffer.val() == self.buf_a.val())
                & ((self.bank_a.val().index() == r) | (self.bank_a_hi.val().index() == r));
            self.a_bank[r].read_address.next = self.rd_row_a.val();
            if self.running.val() {
                self.a_bank[r].read_address.next = self.a_addr[r].val();
            }
            self.a_data[r].next = self.a_bank[r].read_data.val();
        }
        for c in 0..C {
            self.b_bank[c].write_address.next = self.row_c.val();
            self.b_bank[c].write_data.next = self.lo.val();
            if self.bank_c_hi.val().index() == c {
                self.b_bank[c].write_data.next = self.hi.val();
            }
            self.b_bank[c].write_enable.next = self.host_write.val()
                & (self.buffer.val() == self.buf_b.val())
                & ((self.bank_c.val().index() == c) | (self.bank_c_hi.val().index() == c));
            if self.running.val() {
                self.b_bank[c].read_address.next = self.b_addr[c].val();
                self.c_bank[c].read_address.next = self.cin_addr[c].val();
                self.c_bank[c].write_address.next = self.out_addr[c].val();
                self.c_bank[c].write_data.next = self.out_data[c].val();
                self.c_bank[c].write_enable.next = self.out_enable[c].val();
            } else {
                self.b_bank[c].read_address.next = self.rd_row_c.val();
                self.c_bank[c].read_address.next = self.rd_row_c.val();
                self.c_bank[c].write_address.next = self.row_c.val();
                self.c_bank[c].write_data.next = self.b_bank[c].write_data.val();
                self.c_bank[c].write_enable.next = self.host_write.val()
                    & (self.buffer.val() == self.buf_c.val())
                    & ((self.bank_c.val().index() == c) | (self.bank_c_hi.val().index() == c));
            }
            self.b_data[c].next = self.b_bank[c].read_data.val();
            self.c_data[c].next = self.c_bank[c].read_data.val();
        }
    }
}
