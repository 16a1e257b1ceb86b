//! Packed transfers (srsa_spec::protocol::Width): a WRITE's word of 8- or
//! 4-bit elements goes to the buffers one sign-extended pair a cycle, and a
//! READ gathers pairs, each element saturated to the width, into a word.
//!
//! Two blocks, apart from `transfer`'s FSM on purpose, each holding its
//! own partial word: the buffers compute their read data from what
//! `transfer` sends them, and Verilator orders a whole `always` block as
//! one unit, so an FSM that read anything derived from the read data would
//! close a combinational loop (UNOPTFLAT) through the buffers. `transfer`
//! only steers: `Pack` also muxes the response word.

use crate::constant;
use rust_hdl::prelude::*;
use srsa_spec::protocol::Width;

/// The pair a host write stores: `word`'s own at 16 bits, else the low two
/// elements of `word` (the first pair of a payload word, off the link) or
/// of the rest of that word held here, sign-extended.
#[derive(LogicBlock)]
pub struct Unpack {
    pub clock: Signal<In, Clock>,
    pub word: Signal<In, Bits<32>>,
    /// Take the pair from the held rest of the word.
    pub from_held: Signal<In, Bit>,
    /// The pair is written this cycle: hold what is left of its word.
    pub advance: Signal<In, Bit>,
    /// The width's code.
    pub width: Signal<In, Bits<2>>,
    pub pair: Signal<Out, Bits<32>>,
    held: DFF<Bits<32>>,
    src: Signal<Local, Bits<32>>,
    lo: Signal<Local, Bits<16>>,
    hi: Signal<Local, Bits<16>>,
    w8: Constant<Bits<2>>,
    w4: Constant<Bits<2>>,
    ext8: Constant<Bits<16>>,
    ext4: Constant<Bits<16>>,
}

impl Default for Unpack {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            word: Default::default(),
            from_held: Default::default(),
            advance: Default::default(),
            width: Default::default(),
            pair: Default::default(),
            held: Default::default(),
            src: Default::default(),
            lo: Default::default(),
            hi: Default::default(),
            w8: constant(Width::W8 as u64),
            w4: constant(Width::W4 as u64),
            ext8: constant(0xFF00),
            ext4: constant(0xFFF0),
        }
    }
}

impl Logic for Unpack {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, held);
        self.src.next = self.word.val();
        if self.from_held.val() {
            self.src.next = self.held.q.val();
        }
        self.lo.next = self.src.val().get_bits::<16>(0);
        self.hi.next = self.src.val().get_bits::<16>(16);
        if self.width.val() == self.w8.val() {
            self.lo.next = bit_cast::<16, 8>(self.src.val().get_bits::<8>(0));
            if self.src.val().get_bit(7) {
                self.lo.next = bit_cast::<16, 8>(self.src.val().get_bits::<8>(0)) | self.ext8.val();
            }
            self.hi.next = bit_cast::<16, 8>(self.src.val().get_bits::<8>(8));
            if self.src.val().get_bit(15) {
                self.hi.next = bit_cast::<16, 8>(self.src.val().get_bits::<8>(8)) | self.ext8.val();
            }
        }
        if self.width.val() == self.w4.val() {
            self.lo.next = bit_cast::<16, 4>(self.src.val().get_bits::<4>(0));
            if self.src.val().get_bit(3) {
                self.lo.next = bit_cast::<16, 4>(self.src.val().get_bits::<4>(0)) | self.ext4.val();
            }
            self.hi.next = bit_cast::<16, 4>(self.src.val().get_bits::<4>(4));
            if self.src.val().get_bit(7) {
                self.hi.next = bit_cast::<16, 4>(self.src.val().get_bits::<4>(4)) | self.ext4.val();
            }
        }
        self.pair.next =
            (bit_cast::<32, 16>(self.hi.val()) << 16) | bit_cast::<32, 16>(self.lo.val());
        if self.advance.val() {
            if self.width.val() == self.w8.val() {
                self.held.d.next = self.src.val() >> 16;
            } else {
                self.held.d.next = self.src.val() >> 8;
            }
        }
    }
}

/// A READ word being gathered: the pairs so far (held here, in the high
/// bits) shifted down, and the pair `pair` read from the buffers, saturated
/// to the width, placed on top. At 16 bits the word is `pair` itself.
/// `rsp` is the device's response word: this word while `select`, else
/// the decoder's `rsp_in`.
#[derive(LogicBlock)]
pub struct Pack {
    pub clock: Signal<In, Clock>,
    pub pair: Signal<In, Bits<32>>,
    /// Keep the word gathered so far (a pair before the word's last).
    pub capture: Signal<In, Bit>,
    pub width: Signal<In, Bits<2>>,
    pub select: Signal<In, Bit>,
    pub rsp_in: Signal<In, Bits<32>>,
    pub rsp: Signal<Out, Bits<32>>,
    held: DFF<Bits<32>>,
    word: Signal<Local, Bits<32>>,
    sat8_lo: Signal<Local, Bits<8>>,
    sat8_hi: Signal<Local, Bits<8>>,
    sat4_lo: Signal<Local, Bits<4>>,
    sat4_hi: Signal<Local, Bits<4>>,
    w8: Constant<Bits<2>>,
    w4: Constant<Bits<2>>,
    max8: Constant<Bits<8>>,
    min8: Constant<Bits<8>>,
    max4: Constant<Bits<4>>,
    min4: Constant<Bits<4>>,
}

impl Default for Pack {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            pair: Default::default(),
            capture: Default::default(),
            width: Default::default(),
            select: Default::default(),
            rsp_in: Default::default(),
            rsp: Default::default(),
            held: Default::default(),
            word: Default::default(),
            sat8_lo: Default::default(),
            sat8_hi: Default::default(),
            sat4_lo: Default::default(),
            sat4_hi: Default::default(),
            w8: constant(Width::W8 as u64),
            w4: constant(Width::W4 as u64),
            max8: constant(0x7F),
            min8: constant(0x80),
            max4: constant(0x7),
            min4: constant(0x8),
        }
    }
}

impl Logic for Pack {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, held);
        // An element fits b bits when its bits from b - 1 up all copy its
        // sign; else it saturates towards that sign. Each width's work sits
        // in its own branch: Verilator evaluates only the branch taken, and
        // a 16-bit READ (every board, and most of a simulation) takes none.
        self.sat8_lo.next = 0.into();
        self.sat8_hi.next = 0.into();
        self.sat4_lo.next = 0.into();
        self.sat4_hi.next = 0.into();
        self.word.next = self.pair.val();
        if self.width.val() == self.w8.val() {
            self.sat8_lo.next = self.pair.val().get_bits::<8>(0);
            if !(self.pair.val().get_bits::<9>(7).all() | !self.pair.val().get_bits::<9>(7).any()) {
                self.sat8_lo.next = self.max8.val();
                if self.pair.val().get_bit(15) {
                    self.sat8_lo.next = self.min8.val();
                }
            }
            self.sat8_hi.next = self.pair.val().get_bits::<8>(16);
            if !(self.pair.val().get_bits::<9>(23).all() | !self.pair.val().get_bits::<9>(23).any())
            {
                self.sat8_hi.next = self.max8.val();
                if self.pair.val().get_bit(31) {
                    self.sat8_hi.next = self.min8.val();
                }
            }
            self.word.next = (self.held.q.val() >> 16)
                | (bit_cast::<32, 8>(self.sat8_hi.val()) << 24)
                | (bit_cast::<32, 8>(self.sat8_lo.val()) << 16);
        }
        if self.width.val() == self.w4.val() {
            self.sat4_lo.next = self.pair.val().get_bits::<4>(0);
            if !(self.pair.val().get_bits::<13>(3).all() | !self.pair.val().get_bits::<13>(3).any())
            {
                self.sat4_lo.next = self.max4.val();
                if self.pair.val().get_bit(15) {
                    self.sat4_lo.next = self.min4.val();
                }
            }
            self.sat4_hi.next = self.pair.val().get_bits::<4>(16);
            if !(self.pair.val().get_bits::<13>(19).all()
                | !self.pair.val().get_bits::<13>(19).any())
            {
                self.sat4_hi.next = self.max4.val();
                if self.pair.val().get_bit(31) {
                    self.sat4_hi.next = self.min4.val();
                }
            }
            self.word.next = (self.held.q.val() >> 8)
                | (bit_cast::<32, 4>(self.sat4_hi.val()) << 28)
                | (bit_cast::<32, 4>(self.sat4_lo.val()) << 24);
        }
        if self.capture.val() {
            self.held.d.next = self.word.val();
        }
        self.rsp.next = self.rsp_in.val();
        if self.select.val() {
            self.rsp.next = self.word.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbench::{run, Clocked};
    use rand::{Rng, SeedableRng};
    use srsa_spec::protocol::{pack_as, unpack_as};

    impl Clocked for Unpack {
        fn clock_signal(&mut self) -> &mut Signal<In, Clock> {
            &mut self.clock
        }
        fn clock_high(&self) -> bool {
            self.clock.val().clk
        }
    }

    impl Clocked for Pack {
        fn clock_signal(&mut self) -> &mut Signal<In, Clock> {
            &mut self.clock
        }
        fn clock_high(&self) -> bool {
            self.clock.val().clk
        }
    }

    /// Elements of every magnitude, so that both saturation and pass-through
    /// are exercised at every width.
    fn element(rng: &mut impl Rng) -> i16 {
        rng.gen::<i16>() >> rng.gen_range(0..16)
    }

    /// One cycle of a test: the inputs, and the pair or word it must give.
    struct Step {
        width: Width,
        word: u32,
        first: bool,
        last: bool,
        want: u32,
    }

    struct Bench {
        steps: Vec<Step>,
        failures: Vec<String>,
    }

    /// Random payload words of every width, unpacked pair by pair as
    /// `transfer` steers them (the first pair off the link, the rest from
    /// the held word while the link shows junk), against the spec's
    /// `unpack_as`.
    #[test]
    fn unpack_matches_spec() {
        let seed = 0x5EED_0B01;
        println!("seed {seed:#x}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut steps = vec![];
        for _ in 0..2000 {
            let width = Width::ALL[rng.gen_range(0..3)];
            let word: u32 = rng.gen();
            let elems: Vec<i16> = unpack_as(word, width).collect();
            let pairs = pack_as(&elems, Width::W16);
            for (p, &want) in pairs.iter().enumerate() {
                steps.push(Step {
                    width,
                    word: if p == 0 { word } else { rng.gen() },
                    first: p == 0,
                    last: p + 1 == pairs.len(),
                    want,
                });
            }
        }
        let n = steps.len() as u64;
        let b = run(
            Unpack::default(),
            n,
            Bench {
                steps,
                failures: vec![],
            },
            |b, t, x| {
                let s = &b.steps[t as usize];
                x.word.next = (s.word as u64).into();
                x.from_held.next = !s.first;
                x.advance.next = true;
                x.width.next = (s.width as u64).into();
            },
            |b, t, x| {
                let s = &b.steps[t as usize];
                let got = x.pair.val().to_u64() as u32;
                if got != s.want {
                    b.failures.push(format!(
                        "cycle {t}, {:?}: pair {got:#010x}, spec {:#010x}",
                        s.width, s.want
                    ));
                }
                t + 1 < b.steps.len() as u64
            },
        );
        assert_eq!(
            b.failures.first(),
            None,
            "{} pairs differ",
            b.failures.len()
        );
    }

    /// Random elements of every magnitude gathered into words pair by pair
    /// (`transfer` captures every pair but a word's last), against the
    /// spec's `pack_as`, which saturates; and the response mux.
    #[test]
    fn pack_matches_spec() {
        let seed = 0x5EED_0B02;
        println!("seed {seed:#x}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut steps = vec![];
        for _ in 0..2000 {
            let width = Width::ALL[rng.gen_range(0..3)];
            let elems: Vec<i16> = (0..width.per_word()).map(|_| element(&mut rng)).collect();
            let want = pack_as(&elems, width)[0];
            let pairs = pack_as(&elems, Width::W16);
            for (p, &pair) in pairs.iter().enumerate() {
                steps.push(Step {
                    width,
                    word: pair,
                    first: p == 0,
                    last: p + 1 == pairs.len(),
                    want,
                });
            }
        }
        let n = steps.len() as u64;
        let b = run(
            Pack::default(),
            n,
            Bench {
                steps,
                failures: vec![],
            },
            |b, t, x| {
                let s = &b.steps[t as usize];
                x.pair.next = (s.word as u64).into();
                x.width.next = (s.width as u64).into();
                x.capture.next = !s.last;
                // Only the word's last cycle selects it; the others must
                // pass the decoder's word through.
                x.select.next = s.last;
                x.rsp_in.next = (t ^ 0xA5A5).into();
            },
            |b, t, x| {
                let s = &b.steps[t as usize];
                let got = x.rsp.val().to_u64() as u32;
                let want = if s.last { s.want } else { t as u32 ^ 0xA5A5 };
                if got != want {
                    b.failures.push(format!(
                        "cycle {t}, {:?} (first {}, last {}): {got:#010x}, want {want:#010x}",
                        s.width, s.first, s.last
                    ));
                }
                t + 1 < b.steps.len() as u64
            },
        );
        assert_eq!(
            b.failures.first(),
            None,
            "{} words differ",
            b.failures.len()
        );
    }
}
