//! The rounding unit: one conversion of a 48-bit accumulator to a word of
//! WL_out <= 16 bits, held sign-extended in 16 (spec:
//! `srsa_spec::numerics::convert`). Purely combinational; the
//! column that owns it registers its inputs.

use rust_hdl::prelude::*;
use srsa_spec::numerics::{Rounding, WORD_MAX, WORD_MIN};

/// Only the 16 result bits are ever shifted out of the sum, and overflow is
/// read off the sum itself (a sign change at or above bit s + 15), so no
/// full-width arithmetic shift is built: on an iCE40 this halves the unit.
/// A narrower word then saturates the 16-bit result again: the two ranges
/// nest, so this is the one saturation the spec defines.
/// The unit's `sign_bits` for a `wl`-bit output: bits wl - 1..=15.
pub fn sign_bits(wl: u8) -> u16 {
    0xFFFF << (wl - 1)
}

#[derive(LogicBlock)]
pub struct RoundingUnit {
    /// The exact sum, C_in already aligned and added.
    pub value: Signal<In, Bits<48>>,
    /// Bits to drop: FL_a + FL_b - FL_out (0..=30).
    pub shift: Signal<In, Bits<5>>,
    /// 0 truncate, 1 nearest (ties down), 2 stochastic.
    pub mode: Signal<In, Bits<2>>,
    pub draw: Signal<In, Bits<32>>,
    pub relu: Signal<In, Bit>,
    /// Bits WL_out - 1..=15 set: where a WL_out-bit word repeats its sign
    /// (0x8000 at full width, where nothing more saturates).
    pub sign_bits: Signal<In, Bits<16>>,
    /// The conversion is wanted this cycle; `out` is zero in the others.
    pub enable: Signal<In, Bit>,
    pub out: Signal<Out, Bits<16>>,
    /// 2^s - 1: the dropped bits (s <= 30 fits 32 bits).
    mask: Signal<Local, Bits<32>>,
    offset: Signal<Local, Bits<32>>,
    sum: Signal<Local, Bits<48>>,
    /// Bit j: sum bits j + 15 and j + 16 differ.
    flips: Signal<Local, Bits<32>>,
    /// Bit j: j >= s, so bit j + 15 of the sum lies above the result.
    above: Signal<Local, Bits<32>>,
    /// The 16-bit saturated result, and its bits above WL_out - 2.
    word: Signal<Local, Bits<16>>,
    high: Signal<Local, Bits<16>>,
    ones: Constant<Bits<32>>,
    one: Constant<Bits<8>>,
    keep: Constant<Bits<8>>,
    zero: Constant<Bits<32>>,
    mode_nearest: Constant<Bits<2>>,
    mode_stochastic: Constant<Bits<2>>,
    word_max: Constant<Bits<16>>,
    word_min: Constant<Bits<16>>,
    word_zero: Constant<Bits<16>>,
}

impl Default for RoundingUnit {
    fn default() -> Self {
        Self {
            value: Default::default(),
            shift: Default::default(),
            mode: Default::default(),
            draw: Default::default(),
            relu: Default::default(),
            sign_bits: Default::default(),
            enable: Default::default(),
            out: Default::default(),
            mask: Default::default(),
            offset: Default::default(),
            sum: Default::default(),
            flips: Default::default(),
            above: Default::default(),
            word: Default::default(),
            high: Default::default(),
            ones: Constant::new(Bits::<32>::mask()),
            one: Constant::new(1u64.into()),
            keep: Constant::new(15u64.into()),
            zero: Constant::new(0u64.into()),
            mode_nearest: Constant::new((Rounding::Nearest.code() as u64).into()),
            mode_stochastic: Constant::new((Rounding::Stochastic.code() as u64).into()),
            word_max: Constant::new((WORD_MAX as u64).into()),
            word_min: Constant::new((WORD_MIN as u16 as u64).into()),
            word_zero: Constant::new(0u64.into()),
        }
    }
}

impl Logic for RoundingUnit {
    #[hdl_gen]
    fn update(&mut self) {
        // An output stage converts one sum per output, rarely in a GEMM's
        // cycles: the work sits in a branch that a simulator skips in the
        // others.
        self.mask.next = 0.into();
        self.offset.next = 0.into();
        self.sum.next = 0.into();
        self.flips.next = 0.into();
        self.above.next = 0.into();
        self.word.next = 0.into();
        self.high.next = 0.into();
        self.out.next = self.word_zero.val();
        if self.enable.val() {
            self.mask.next = !(self.ones.val() << self.shift.val());
            self.offset.next = self.zero.val();
            if self.mode.val() == self.mode_nearest.val() {
                // 2^(s-1) - 1: a tie stays below (and s = 0 adds nothing).
                self.offset.next = self.mask.val() >> self.one.val();
            }
            if self.mode.val() == self.mode_stochastic.val() {
                self.offset.next = self.draw.val() & self.mask.val();
            }
            self.sum.next = self.value.val() + bit_cast::<48, 32>(self.offset.val());
            // The result fits in 16 bits iff sum bits 47..s+15 are all equal,
            // i.e. no neighbouring pair among them differs.
            self.flips.next = bit_cast::<32, 48>(
                (self.sum.val() ^ (self.sum.val() >> self.one.val())) >> self.keep.val(),
            );
            self.above.next = self.ones.val() << self.shift.val();
            self.word.next = bit_cast::<16, 48>(self.sum.val() >> self.shift.val());
            if (self.flips.val() & self.above.val()).any() {
                self.word.next = self.word_max.val();
                if self.sum.val().get_bit(47) {
                    self.word.next = self.word_min.val();
                }
            }
            // A WL_out-bit word fits iff its sign bits are all equal.
            self.high.next = self.word.val() & self.sign_bits.val();
            self.out.next = self.word.val();
            if self.high.val().any() & (self.high.val() != self.sign_bits.val()) {
                self.out.next = !self.sign_bits.val();
                if self.word.val().get_bit(15) {
                    self.out.next = self.sign_bits.val();
                }
            }
            if self.relu.val() & self.sum.val().get_bit(47) {
                self.out.next = self.word_zero.val();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use srsa_spec::numerics::{convert, Rounding, MIN_WL, WL};

    struct Case {
        value: i64,
        shift: u32,
        mode: Rounding,
        draw: u32,
        relu: bool,
        wl: u8,
    }

    fn cases(seed: u64) -> Vec<Case> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut v = Vec::new();
        let edges = [
            0i64,
            1,
            -1,
            32767,
            -32768,
            32768,
            -32769,
            (1 << 46) - 1,
            -(1 << 46),
        ];
        for &value in &edges {
            for shift in [0, 1, 2, 15, 30] {
                for mode in Rounding::ALL {
                    for draw in [0u32, u32::MAX, 0x5555_5555] {
                        for wl in [16, 2, 5, 15] {
                            v.push(Case {
                                value: value << (shift.min(16)),
                                shift,
                                mode,
                                draw,
                                relu: false,
                                wl,
                            });
                            v.push(Case {
                                value,
                                shift,
                                mode,
                                draw,
                                relu: true,
                                wl,
                            });
                        }
                    }
                }
            }
        }
        for _ in 0..20000 {
            let bits = rng.gen_range(1..47);
            let wl = if rng.gen_bool(0.5) {
                WL as u8
            } else {
                rng.gen_range(MIN_WL..=WL as u8)
            };
            v.push(Case {
                wl,
                value: rng.gen_range(-(1i64 << bits)..(1i64 << bits)),
                shift: rng.gen_range(0..=30),
                mode: Rounding::ALL[rng.gen_range(0..3)],
                draw: rng.gen(),
                relu: rng.gen_bool(0.2),
            });
        }
        v
    }

    #[test]
    fn rounding_unit_matches_spec() {
        let seed = 0x5EED_0001;
        println!("seed {seed:#x}");
        let cases = cases(seed);
        let mut uut = RoundingUnit::default();
        uut.connect_all();
        let mut sim = Simulation::new();
        let n = cases.len();
        sim.add_testbench(move |mut sim: Sim<RoundingUnit>| {
            let mut x = sim.init()?;
            for (i, c) in cases.iter().enumerate() {
                x.value.next = ((c.value as u64) & ((1 << 48) - 1)).into();
                x.shift.next = (c.shift as u64).into();
                x.mode.next = (c.mode.code() as u64).into();
                x.draw.next = (c.draw as u64).into();
                x.relu.next = c.relu;
                x.sign_bits.next = (sign_bits(c.wl) as u64).into();
                x.enable.next = i % 7 != 3;
                x = sim.wait(1, x)?;
                let want = match i % 7 != 3 {
                    true => convert(c.value, c.shift, c.wl, c.mode, c.draw, c.relu) as u16 as u64,
                    false => 0,
                };
                let got = x.out.val().to_u64();
                sim_assert_eq!(sim, got, want, x);
                if got != want {
                    panic!(
                        "case {i}: value {} shift {} wl {} {} draw {:#x} relu {}",
                        c.value, c.shift, c.wl, c.mode, c.draw, c.relu
                    );
                }
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), n as u64 + 10).unwrap();
    }
}
