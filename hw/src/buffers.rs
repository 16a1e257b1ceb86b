//! The three banked buffers and their two sides: the host port (a pair of
//! elements per word, written and read by `transfer`) and the array side
//! (one read per bank per cycle for the feed, and C_in reads and result
//! writes for the output stages) while a GEMM runs.
//!
//! Buffer A has R banks (one per array row), B and C have C banks (one per
//! column); all three hold the same number of elements, so A's banks are
//! deeper when R < C. Element e of a buffer with n banks lives in bank
//! e % n at row e / n (srsa_spec::protocol::Buffer).
//!
//! The operand paths (each built only if the device has it): with A read
//! transposed, row r's step k is in bank k % R, and the sequencer's
//! `feed_step` v (stage 0's step) puts row r on bank (v - r) mod R, so bank
//! b serves row (v - b) mod R: a rotator takes each row's read address to
//! its bank, and another brings each bank's read data, a cycle later, back
//! to its row. Both are rotations of the rows' order reversed (index -j),
//! by -v. The same on B's columns, for whichever banks feed B: B's, or C's
//! read ports when B is read from C (C_in is not read then).
//!
//! With the pruning mask (`feature::MASK`), each C bank has a one-bit
//! bank beside it, read and written with it: a host write marks the
//! zeros it stores when `prune` is set (and unmarks everything else), and
//! a result write stores the output stage's mark.

use crate::ports::HostPortIn;
use crate::rotator::{Rotator, SHIFT_BITS};
use rust_hdl::prelude::*;
use rust_hdl::widgets::ramrom::ram::RAM;
use srsa_spec::protocol::{feature, Buffer};

#[derive(LogicBlock)]
pub struct Buffers<const R: usize, const C: usize, const DA: usize, const DC: usize> {
    pub clock: Signal<In, Clock>,
    /// The array side owns the banks' ports (else the host side does).
    pub running: Signal<In, Bit>,

    // Host side (never written while running: the decoder is waiting for
    // the GEMM then). `elem` is the (even) element of the pair being
    // written, or whose read data is on `read_word` this cycle; `rd_elem`
    // is the pair whose read is issued this cycle. `read_word` is zero in
    // a cycle that writes or runs a GEMM: no read is answered then, and a
    // simulator skips the selection.
    pub host: HostPortIn,
    pub rd_elem: Signal<In, Bits<24>>,
    pub read_word: Signal<Out, Bits<32>>,

    // Array side.
    pub a_addr: [Signal<In, Bits<DA>>; R],
    pub b_addr: [Signal<In, Bits<DC>>; C],
    pub cin_addr: [Signal<In, Bits<DC>>; C],
    pub out_enable: [Signal<In, Bit>; C],
    pub out_addr: [Signal<In, Bits<DC>>; C],
    pub out_data: [Signal<In, Bits<16>>; C],
    pub out_pruned: [Signal<In, Bit>; C],
    pub a_data: [Signal<Out, Bits<16>>; R],
    pub b_data: [Signal<Out, Bits<16>>; C],
    pub c_data: [Signal<Out, Bits<16>>; C],
    /// The pruned mark read with `c_data`.
    pub c_pruned: [Signal<Out, Bit>; C],
    /// The GEMM's operand paths (held while running), and the sequencer's
    /// step count of the addresses on a_addr and b_addr.
    pub a_transposed: Signal<In, Bit>,
    pub b_transposed: Signal<In, Bit>,
    pub b_from_c: Signal<In, Bit>,
    pub feed_step: Signal<In, Bits<SHIFT_BITS>>,

    pub a_bank: Vec<RAM<Bits<16>, DA>>,
    pub b_bank: Vec<RAM<Bits<16>, DC>>,
    pub c_bank: Vec<RAM<Bits<16>, DC>>,
    pub m_bank: Vec<RAM<Bit, DC>>,

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

    a_addr_rot: Rotator<R, DA>,
    a_data_rot: Rotator<R, 16>,
    b_addr_rot: Rotator<C, DC>,
    b_data_rot: Rotator<C, 16>,
    /// `feed_step` of the reads whose data the banks deliver this cycle.
    data_step: DFF<Bits<SHIFT_BITS>>,
    at: Signal<Local, Bit>,
    bt: Signal<Local, Bit>,
    bc: Signal<Local, Bit>,
    /// Each B bank's (or, from C, C bank's) read address.
    b_read: [Signal<Local, Bits<DC>>; C],
    has_at: Constant<Bit>,
    has_bt: Constant<Bit>,
    has_bc: Constant<Bit>,
    has_mask: Constant<Bit>,
    /// The host write's marks of its low and high element.
    mark_lo: Signal<Local, Bit>,
    mark_hi: Signal<Local, Bit>,

    log2r: Constant<Bits<8>>,
    log2c: Constant<Bits<8>>,
    r_mask: Constant<Bits<24>>,
    c_mask: Constant<Bits<24>>,
    buf_a: Constant<Bits<2>>,
    buf_b: Constant<Bits<2>>,
    buf_c: Constant<Bits<2>>,
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> Buffers<R, C, DA, DC> {
    /// The buffers of a device with the operand paths `features`.
    pub fn new(features: u32) -> Self {
        let has = |f: u32| Constant::new(features & f != 0);
        Self {
            clock: Default::default(),
            running: Default::default(),
            host: Default::default(),
            rd_elem: Default::default(),
            read_word: Default::default(),
            a_addr: std::array::from_fn(|_| Default::default()),
            b_addr: std::array::from_fn(|_| Default::default()),
            cin_addr: std::array::from_fn(|_| Default::default()),
            out_enable: std::array::from_fn(|_| Default::default()),
            out_addr: std::array::from_fn(|_| Default::default()),
            out_data: std::array::from_fn(|_| Default::default()),
            out_pruned: std::array::from_fn(|_| Default::default()),
            a_data: std::array::from_fn(|_| Default::default()),
            b_data: std::array::from_fn(|_| Default::default()),
            c_data: std::array::from_fn(|_| Default::default()),
            c_pruned: std::array::from_fn(|_| Default::default()),
            a_transposed: Default::default(),
            b_transposed: Default::default(),
            b_from_c: Default::default(),
            feed_step: Default::default(),
            a_addr_rot: Default::default(),
            a_data_rot: Default::default(),
            b_addr_rot: Default::default(),
            b_data_rot: Default::default(),
            data_step: Default::default(),
            at: Default::default(),
            bt: Default::default(),
            bc: Default::default(),
            b_read: std::array::from_fn(|_| Default::default()),
            has_at: has(feature::A_TRANSPOSED),
            has_bt: has(feature::B_TRANSPOSED),
            has_bc: has(feature::B_FROM_C),
            has_mask: has(feature::MASK),
            mark_lo: Default::default(),
            mark_hi: Default::default(),
            a_bank: (0..R).map(|_| RAM::default()).collect(),
            b_bank: (0..C).map(|_| RAM::default()).collect(),
            c_bank: (0..C).map(|_| RAM::default()).collect(),
            m_bank: (0..C).map(|_| RAM::default()).collect(),
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
        dff_setup!(self, clock, data_step);
        self.at.next = self.a_transposed.val() & self.has_at.val();
        self.bt.next = self.b_transposed.val() & self.has_bt.val();
        self.bc.next = self.b_from_c.val() & self.has_bc.val();
        // The rotators: inputs in reversed order (index -j mod n), shifted
        // by minus the step (mod 2^SHIFT_BITS, hence mod n).
        self.data_step.d.next = self.feed_step.val();
        // (Enabled straight from the inputs: see the B feed below.)
        self.a_addr_rot.enable.next = self.a_transposed.val() & self.has_at.val();
        self.a_data_rot.enable.next = self.a_transposed.val() & self.has_at.val();
        self.b_addr_rot.enable.next = self.b_transposed.val() & self.has_bt.val();
        self.b_data_rot.enable.next = self.b_transposed.val() & self.has_bt.val();
        self.a_addr_rot.shift.next = !self.feed_step.val() + 1;
        self.b_addr_rot.shift.next = !self.feed_step.val() + 1;
        self.a_data_rot.shift.next = !self.data_step.q.val() + 1;
        self.b_data_rot.shift.next = !self.data_step.q.val() + 1;
        for j in 0..R {
            for n in R..(R + 1) {
                self.a_addr_rot.x[j].next = self.a_addr[(n - j) % n].val();
                self.a_data_rot.x[j].next = self.a_bank[(n - j) % n].read_data.val();
            }
        }
        for j in 0..C {
            for n in C..(C + 1) {
                self.b_addr_rot.x[j].next = self.b_addr[(n - j) % n].val();
            }
        }
        self.bank_a.next = self.host.elem.val() & self.r_mask.val();
        self.bank_a_hi.next = self.bank_a.val() + 1;
        self.bank_c.next = self.host.elem.val() & self.c_mask.val();
        self.bank_c_hi.next = self.bank_c.val() + 1;
        self.row_a.next = bit_cast::<DA, 24>(self.host.elem.val() >> self.log2r.val());
        self.row_c.next = bit_cast::<DC, 24>(self.host.elem.val() >> self.log2c.val());
        self.rd_row_a.next = bit_cast::<DA, 24>(self.rd_elem.val() >> self.log2r.val());
        self.rd_row_c.next = bit_cast::<DC, 24>(self.rd_elem.val() >> self.log2c.val());
        self.lo.next = self.host.word.val().get_bits::<16>(0);
        self.hi.next = self.host.word.val().get_bits::<16>(16);
        self.mark_lo.next = self.host.prune.val() & !self.lo.val().any();
        self.mark_hi.next = self.host.prune.val() & !self.hi.val().any();

        // Host reads: the pair's two banks, of the buffer being read. Only
        // in cycles that can carry one (`transfer` reads `read_word` only
        // then), so that a simulator skips the selection while a GEMM runs.
        self.read_lo.next = 0.into();
        self.read_hi.next = 0.into();
        for b in 0..R {
            self.a_bank[b].read_clock.next = self.clock.val();
            self.a_bank[b].write_clock.next = self.clock.val();
        }
        for b in 0..C {
            self.b_bank[b].read_clock.next = self.clock.val();
            self.b_bank[b].write_clock.next = self.clock.val();
            self.c_bank[b].read_clock.next = self.clock.val();
            self.c_bank[b].write_clock.next = self.clock.val();
            self.m_bank[b].read_clock.next = self.clock.val();
            self.m_bank[b].write_clock.next = self.clock.val();
        }
        if !self.running.val() & !self.host.write.val() {
            for b in 0..R {
                if self.host.buffer.val() == self.buf_a.val() {
                    if self.bank_a.val().index() == b {
                        self.read_lo.next = self.a_bank[b].read_data.val();
                    }
                    if self.bank_a_hi.val().index() == b {
                        self.read_hi.next = self.a_bank[b].read_data.val();
                    }
                }
            }
            for b in 0..C {
                if self.bank_c.val().index() == b {
                    if self.host.buffer.val() == self.buf_b.val() {
                        self.read_lo.next = self.b_bank[b].read_data.val();
                    } else if self.host.buffer.val() == self.buf_c.val() {
                        self.read_lo.next = self.c_bank[b].read_data.val();
                    }
                }
                if self.bank_c_hi.val().index() == b {
                    if self.host.buffer.val() == self.buf_b.val() {
                        self.read_hi.next = self.b_bank[b].read_data.val();
                    } else if self.host.buffer.val() == self.buf_c.val() {
                        self.read_hi.next = self.c_bank[b].read_data.val();
                    }
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
            // Tested only in a host write's cycles (as the read selection).
            self.a_bank[r].write_enable.next = false;
            if self.host.write.val() {
                self.a_bank[r].write_enable.next = (self.host.buffer.val() == self.buf_a.val())
                    & ((self.bank_a.val().index() == r) | (self.bank_a_hi.val().index() == r));
            }
            self.a_bank[r].read_address.next = self.rd_row_a.val();
            if self.running.val() {
                self.a_bank[r].read_address.next = self.a_addr[r].val();
                if self.at.val() {
                    self.a_bank[r].read_address.next = self.a_addr_rot.y[r].val();
                }
            }
            self.a_data[r].next = self.a_bank[r].read_data.val();
            if self.at.val() {
                self.a_data[r].next = self.a_data_rot.y[r].val();
            }
        }
        for c in 0..C {
            self.b_bank[c].write_address.next = self.row_c.val();
            self.b_bank[c].write_data.next = self.lo.val();
            if self.bank_c_hi.val().index() == c {
                self.b_bank[c].write_data.next = self.hi.val();
            }
            self.b_bank[c].write_enable.next = false;
            if self.host.write.val() {
                self.b_bank[c].write_enable.next = (self.host.buffer.val() == self.buf_b.val())
                    & ((self.bank_c.val().index() == c) | (self.bank_c_hi.val().index() == c));
            }
            self.b_read[c].next = self.b_addr[c].val();
            if self.bt.val() {
                self.b_read[c].next = self.b_addr_rot.y[c].val();
            }
            if self.running.val() {
                self.b_bank[c].read_address.next = self.b_read[c].val();
                self.c_bank[c].read_address.next = self.cin_addr[c].val();
                if self.bc.val() {
                    self.c_bank[c].read_address.next = self.b_read[c].val();
                }
                self.c_bank[c].write_address.next = self.out_addr[c].val();
                self.c_bank[c].write_data.next = self.out_data[c].val();
                self.c_bank[c].write_enable.next = self.out_enable[c].val();
            } else {
                self.b_bank[c].read_address.next = self.rd_row_c.val();
                self.c_bank[c].read_address.next = self.rd_row_c.val();
                self.c_bank[c].write_address.next = self.row_c.val();
                self.c_bank[c].write_data.next = self.b_bank[c].write_data.val();
                self.c_bank[c].write_enable.next = false;
                if self.host.write.val() {
                    self.c_bank[c].write_enable.next = (self.host.buffer.val() == self.buf_c.val())
                        & ((self.bank_c.val().index() == c) | (self.bank_c_hi.val().index() == c));
                }
            }
            self.c_data[c].next = self.c_bank[c].read_data.val();
            // The mark bank follows its C bank's ports (a board without the
            // mask never writes it, and synthesis drops it).
            self.m_bank[c].read_address.next = self.c_bank[c].read_address.val();
            self.m_bank[c].write_address.next = self.c_bank[c].write_address.val();
            self.m_bank[c].write_enable.next =
                self.c_bank[c].write_enable.val() & self.has_mask.val();
            self.m_bank[c].write_data.next = self.out_pruned[c].val();
            if !self.running.val() {
                self.m_bank[c].write_data.next = self.mark_lo.val();
                if self.bank_c_hi.val().index() == c {
                    self.m_bank[c].write_data.next = self.mark_hi.val();
                }
            }
            self.c_pruned[c].next = self.m_bank[c].read_data.val() & self.has_mask.val();
        }
        // The B feed's source, written out at each use and tested on the
        // input itself: through a local of this block (b_src, or `bc`),
        // Verilator no longer splits the block around the rotator, sees a
        // combinational loop through it (UNOPTFLAT) and iterates the whole
        // block to settle.
        for j in 0..C {
            for n in C..(C + 1) {
                self.b_data_rot.x[j].next = self.b_bank[(n - j) % n].read_data.val();
                if self.b_from_c.val() & self.has_bc.val() {
                    self.b_data_rot.x[j].next = self.c_bank[(n - j) % n].read_data.val();
                }
            }
        }
        for c in 0..C {
            self.b_data[c].next = self.b_bank[c].read_data.val();
            if self.bc.val() {
                self.b_data[c].next = self.c_bank[c].read_data.val();
            }
            if self.bt.val() {
                self.b_data[c].next = self.b_data_rot.y[c].val();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// One cycle's inputs.
    #[derive(Clone, Debug, Default)]
    struct Drive {
        running: bool,
        host_write: bool,
        buffer: u8,
        elem: u32,
        word: u32,
        rd_elem: u32,
        a_addr: Vec<u64>,
        b_addr: Vec<u64>,
        cin_addr: Vec<u64>,
        /// Per column: a result write (row, data).
        out: Vec<Option<(u64, u16)>>,
        feed_step: u64,
    }

    /// A run's operand paths: (A transposed, B transposed, B from C).
    type Paths = (bool, bool, bool);

    /// What came out in one cycle: the host word, then A, B, C read data.
    type Seen = (u32, Vec<u16>, Vec<u16>, Vec<u16>);

    /// The bank row that bank `bank` of n reads for `addr` (one per row or
    /// column), with the rotation of a transposed read at step `step`.
    fn bank_row(addr: &[u64], bank: usize, step: u64, transposed: bool) -> u64 {
        let n = addr.len() as u64;
        if transposed {
            addr[((step + 32 - bank as u64) % n) as usize]
        } else {
            addr[bank]
        }
    }

    fn random_drives<const R: usize, const C: usize, const DA: usize, const DC: usize>(
        rng: &mut impl Rng,
        n: usize,
        paths: Paths,
    ) -> Vec<Drive> {
        let cap = (C << DC) as u32;
        let mut v = vec![];
        for _ in 0..n {
            let mut d = Drive {
                a_addr: (0..R).map(|_| rng.gen_range(0..1 << DA)).collect(),
                b_addr: (0..C).map(|_| rng.gen_range(0..1 << DC)).collect(),
                cin_addr: (0..C).map(|_| rng.gen_range(0..1 << DC)).collect(),
                out: vec![None; C],
                buffer: rng.gen_range(0..3),
                elem: 2 * rng.gen_range(0..cap / 2),
                rd_elem: 2 * rng.gen_range(0..cap / 2),
                word: rng.gen(),
                feed_step: rng.gen_range(0..32),
                ..Default::default()
            };
            match rng.gen_range(0..3) {
                0 => d.host_write = true,
                1 => {}
                _ => {
                    d.running = true;
                    for (c, o) in d.out.iter_mut().enumerate() {
                        // A result row never read (as C_in, or B from C)
                        // in the same cycle.
                        let read = if paths.2 {
                            bank_row(&d.b_addr, c, d.feed_step, paths.1)
                        } else {
                            d.cin_addr[c]
                        };
                        let row = rng.gen_range(0..1u64 << DC);
                        if rng.gen_bool(0.5) && row != read {
                            *o = Some((row, rng.gen()));
                        }
                    }
                }
            }
            v.push(d);
        }
        v
    }

    /// Host pairs and array-side reads against flat element arrays, with
    /// the operand paths `asked` held for the whole run on a device with
    /// `features` (a path it lacks is ignored: the normal reads).
    fn buffers_match_layouts<const R: usize, const C: usize, const DA: usize, const DC: usize>(
        features: u32,
        asked: Paths,
        seed: u64,
        cycles: usize,
    ) {
        println!("{R} x {C}, paths {features}, asked {asked:?}, seed {seed:#x}");
        let has = |f: u32| features & f != 0;
        let paths = (
            asked.0 && has(feature::A_TRANSPOSED),
            asked.1 && has(feature::B_TRANSPOSED),
            asked.2 && has(feature::B_FROM_C),
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut drives = random_drives::<R, C, DA, DC>(&mut rng, cycles, paths);
        // A read's data comes the cycle after; `elem` then names its pair.
        for t in 1..drives.len() {
            if !drives[t - 1].running && !drives[t - 1].host_write {
                drives[t].elem = drives[t - 1].rd_elem;
                drives[t].buffer = drives[t - 1].buffer;
            }
        }
        let plan: Vec<(Drive, Paths)> = drives.iter().map(|d| (d.clone(), asked)).collect();
        let got: Vec<Seen> = crate::testbench::run_plan(
            Buffers::<R, C, DA, DC>::new(features),
            plan,
            |(d, asked), x| {
                x.a_transposed.next = asked.0;
                x.b_transposed.next = asked.1;
                x.b_from_c.next = asked.2;
                x.feed_step.next = d.feed_step.into();
                x.running.next = d.running;
                x.host.write.next = d.host_write;
                x.host.buffer.next = (d.buffer as u64).into();
                x.host.elem.next = (d.elem as u64).into();
                x.host.word.next = (d.word as u64).into();
                x.rd_elem.next = (d.rd_elem as u64).into();
                for r in 0..R {
                    x.a_addr[r].next = d.a_addr[r].into();
                }
                for c in 0..C {
                    x.b_addr[c].next = d.b_addr[c].into();
                    x.cin_addr[c].next = d.cin_addr[c].into();
                    let (row, data) = d.out[c].unwrap_or((0, 0));
                    x.out_enable[c].next = d.out[c].is_some();
                    x.out_addr[c].next = row.into();
                    x.out_data[c].next = (data as u64).into();
                }
            },
            |x| {
                (
                    x.read_word.val().to_u64() as u32,
                    (0..R).map(|r| x.a_data[r].val().to_u64() as u16).collect(),
                    (0..C).map(|c| x.b_data[c].val().to_u64() as u16).collect(),
                    (0..C).map(|c| x.c_data[c].val().to_u64() as u16).collect(),
                )
            },
        );

        // The reference: buffers as flat element arrays, element e of a
        // buffer with n banks in bank e % n at row e / n.
        let cap = C << DC;
        let mut buf = [vec![0u16; cap], vec![0u16; cap], vec![0u16; cap]];
        let banks = [R, C, C];
        let at = |b: usize, bank: usize, row: u64| row as usize * banks[b] + bank;
        let (mut host_reads, mut array_reads) = (0, 0);
        for t in 0..drives.len() {
            let d = &drives[t];
            let (word, a, b, c) = &got[t];
            // Reads issued last cycle deliver now.
            let p = match t.checked_sub(1) {
                Some(prev) => &drives[prev],
                None => &Drive {
                    host_write: true,
                    ..Default::default()
                },
            };
            if p.running {
                // Row r (column k) reads the row it names, in its own bank
                // or, transposed, in bank (feed_step - r) mod R.
                let bank = |i: usize, n: usize, transposed: bool| {
                    if transposed {
                        ((p.feed_step + 32 - i as u64) % n as u64) as usize
                    } else {
                        i
                    }
                };
                for (r, (&got, &row)) in a.iter().zip(&p.a_addr).enumerate() {
                    let e = at(0, bank(r, R, paths.0), row);
                    assert_eq!(got, buf[0][e], "cycle {t}: A row {r}");
                }
                let b_buf = if paths.2 { 2 } else { 1 };
                for k in 0..C {
                    let e = at(b_buf, bank(k, C, paths.1), p.b_addr[k]);
                    assert_eq!(b[k], buf[b_buf][e], "cycle {t}: B column {k}");
                    if !paths.2 {
                        assert_eq!(
                            c[k],
                            buf[2][at(2, k, p.cin_addr[k])],
                            "cycle {t}: C bank {k}"
                        );
                    }
                }
                array_reads += 1;
            } else if !p.host_write && !d.host_write && !d.running {
                // (`read_word` answers only in a cycle without a write or a GEMM.)
                let e = d.elem as usize;
                let b = &buf[d.buffer as usize];
                let want = b[e] as u32 | (b[e + 1] as u32) << 16;
                assert_eq!(*word, want, "cycle {t}: host read of {} at {e}", d.buffer);
                host_reads += 1;
            }
            // This cycle's writes, after its reads were checked.
            if d.running {
                for (k, o) in d.out.iter().enumerate() {
                    if let Some((row, data)) = *o {
                        buf[2][at(2, k, row)] = data;
                    }
                }
            } else if d.host_write {
                let e = d.elem as usize;
                buf[d.buffer as usize][e] = d.word as u16;
                buf[d.buffer as usize][e + 1] = (d.word >> 16) as u16;
            }
        }
        println!("{host_reads} host reads, {array_reads} array-side reads checked");
        assert!(host_reads > cycles / 20 && array_reads > cycles / 10);
    }

    /// Every combination of the three paths, on a device that has them.
    fn every_path<const R: usize, const C: usize, const DA: usize, const DC: usize>(seed: u64) {
        for p in 0..8u64 {
            let asked = (p & 1 != 0, p & 2 != 0, p & 4 != 0);
            buffers_match_layouts::<R, C, DA, DC>(feature::ALL, asked, seed + p, 600);
        }
    }

    #[test]
    fn square_buffers_match_layouts() {
        buffers_match_layouts::<4, 4, 5, 5>(0, (false, false, false), 0x5EED_0B01, 3000);
        // A device without the paths ignores them.
        buffers_match_layouts::<4, 4, 5, 5>(0, (true, true, true), 0x5EED_0B04, 600);
        every_path::<4, 4, 5, 5>(0x5EED_0B10);
    }

    #[test]
    fn rectangular_buffers_match_layouts() {
        buffers_match_layouts::<2, 4, 6, 5>(0, (false, false, false), 0x5EED_0B02, 3000);
        buffers_match_layouts::<4, 2, 5, 6>(0, (false, false, false), 0x5EED_0B03, 3000);
        every_path::<2, 4, 6, 5>(0x5EED_0B20);
        every_path::<4, 2, 5, 6>(0x5EED_0B30);
    }
}
