//! A shift-and-add multiplier, 16 x 16 -> 32 bits, one multiplier bit per
//! cycle.
//!
//! The GEMM command's range checks need four size products. Written as `*`
//! they would each become a DSP block (yosys maps every multiplier to one),
//! and the iCE40 UP5K has only eight: all of them belong to the array. The
//! products are needed once per GEMM, so a few cycles are cheap.

use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct SerialMul {
    pub clock: Signal<In, Clock>,
    /// Load `a` and `b` and start; `product` is valid once `busy` is low.
    pub start: Signal<In, Bit>,
    pub a: Signal<In, Bits<16>>,
    pub b: Signal<In, Bits<16>>,
    pub product: Signal<Out, Bits<32>>,
    /// High from the cycle after `start` while multiplier bits remain (at
    /// most 16 cycles; it ends early when the rest of `b` is zero).
    pub busy: Signal<Out, Bit>,
    acc: DFF<Bits<32>>,
    multiplicand: DFF<Bits<32>>,
    multiplier: DFF<Bits<16>>,
}

impl Logic for SerialMul {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, acc, multiplicand, multiplier);
        if self.multiplier.q.val().any() {
            if self.multiplier.q.val().get_bit(0) {
                self.acc.d.next = self.acc.q.val() + self.multiplicand.q.val();
            }
            self.multiplicand.d.next = self.multiplicand.q.val() << 1;
            self.multiplier.d.next = self.multiplier.q.val() >> 1;
        }
        if self.start.val() {
            self.acc.d.next = 0.into();
            self.multiplicand.d.next = bit_cast::<32, 16>(self.a.val());
            self.multiplier.d.next = self.b.val();
        }
        self.product.next = self.acc.q.val();
        self.busy.next = self.multiplier.q.val().any();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Products of random and extreme operands, each started right after
    /// the previous one finished, and one restarted while still busy.
    #[test]
    fn multiplies_exactly() {
        let seed = 0x5EED_0030u64;
        println!("SerialMul seed {seed:#x}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut cases: Vec<(u16, u16)> = vec![(0, 0), (0xFFFF, 0xFFFF), (1, 0), (0, 7), (3, 1)];
        cases.extend((0..60).map(|_| (rng.gen::<u16>(), rng.gen::<u16>() >> rng.gen_range(0..16))));
        let mut uut = SerialMul::default();
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<SerialMul>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<SerialMul>| {
            let mut x = sim.init()?;
            // A start that is overridden by the next one before it ends.
            x.start.next = true;
            x.a.next = 0x1234.into();
            x.b.next = 0xFFFF.into();
            wait_clock_cycle!(sim, clock, x);
            wait_clock_cycle!(sim, clock, x);
            for &(a, b) in &cases {
                x.start.next = true;
                x.a.next = (a as u64).into();
                x.b.next = (b as u64).into();
                wait_clock_cycle!(sim, clock, x);
                x.start.next = false;
                let mut cycles = 0;
                while x.busy.val() {
                    wait_clock_cycle!(sim, clock, x);
                    cycles += 1;
                    sim_assert!(sim, cycles <= 16, x);
                }
                sim_assert_eq!(sim, x.product.val().to_u64(), a as u64 * b as u64, x);
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 100_000).unwrap();
    }
}
