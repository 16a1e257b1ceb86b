//! Processing element: one exact 16x16 multiply and a 48-bit accumulator.
//!
//! Operands and the flags that travel with A move one PE right (A, flags) or
//! down (B) per cycle. On the last step of a tile the finished sum is
//! offered combinationally on `sum` with `done` high for that one cycle; the
//! column's output stage takes it then, so the accumulator can start the
//! next tile on the very next cycle without a drain phase.

use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct Pe {
    pub clock: Signal<In, Clock>,
    pub a_in: Signal<In, Bits<16>>,
    pub b_in: Signal<In, Bits<16>>,
    pub valid_in: Signal<In, Bit>,
    /// First step of a tile: the accumulator restarts from this product.
    pub first_in: Signal<In, Bit>,
    /// Last step of a tile: the sum is final.
    pub last_in: Signal<In, Bit>,
    pub a_out: Signal<Out, Bits<16>>,
    pub b_out: Signal<Out, Bits<16>>,
    pub valid_out: Signal<Out, Bit>,
    pub first_out: Signal<Out, Bit>,
    pub last_out: Signal<Out, Bit>,
    pub sum: Signal<Out, Bits<48>>,
    pub done: Signal<Out, Bit>,
    a: DFF<Bits<16>>,
    b: DFF<Bits<16>>,
    valid: DFF<Bit>,
    first: DFF<Bit>,
    last: DFF<Bit>,
    acc: DFF<Bits<48>>,
    raw: Signal<Local, Signed<32>>,
    product: Signal<Local, Bits<32>>,
    product48: Signal<Local, Bits<48>>,
    base: Signal<Local, Bits<48>>,
    zero: Constant<Bits<48>>,
    sign_fill: Constant<Bits<48>>,
}

impl Default for Pe {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            a_in: Default::default(),
            b_in: Default::default(),
            valid_in: Default::default(),
            first_in: Default::default(),
            last_in: Default::default(),
            a_out: Default::default(),
            b_out: Default::default(),
            valid_out: Default::default(),
            first_out: Default::default(),
            last_out: Default::default(),
            sum: Default::default(),
            done: Default::default(),
            a: Default::default(),
            b: Default::default(),
            valid: Default::default(),
            first: Default::default(),
            last: Default::default(),
            acc: Default::default(),
            raw: Default::default(),
            product: Default::default(),
            product48: Default::default(),
            base: Default::default(),
            zero: Constant::new(0u64.into()),
            sign_fill: Constant::new(0xFFFF_0000_0000u64.into()),
        }
    }
}

impl Logic for Pe {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, a, b, valid, first, last, acc);
        self.a.d.next = self.a_in.val();
        self.b.d.next = self.b_in.val();
        self.valid.d.next = self.valid_in.val();
        self.first.d.next = self.first_in.val();
        self.last.d.next = self.last_in.val();
        self.a_out.next = self.a.q.val();
        self.b_out.next = self.b.q.val();
        self.valid_out.next = self.valid.q.val();
        self.first_out.next = self.first.q.val();
        self.last_out.next = self.last.q.val();
        // A signed multiply throughout (both operands signed), so every
        // DSP block takes it in its signed mode instead of fixing the signs
        // up in logic afterwards.
        self.raw.next = signed_cast(self.a_in.val()) * signed_cast(self.b_in.val());
        self.product.next = unsigned_cast(self.raw.val());
        self.product48.next = bit_cast::<48, 32>(self.product.val());
        if self.product.val().get_bit(31) {
            self.product48.next = bit_cast::<48, 32>(self.product.val()) | self.sign_fill.val();
        }
        self.base.next = self.acc.q.val();
        if self.first_in.val() {
            self.base.next = self.zero.val();
        }
        self.sum.next = self.base.val() + self.product48.val();
        self.done.next = self.valid_in.val() & self.last_in.val();
        if self.valid_in.val() {
            self.acc.d.next = self.sum.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Feeds random tiles (random K, with bubbles) and checks every finished
    /// sum against exact i64 arithmetic, and that operands pass through.
    #[test]
    fn pe_accumulates_exactly() {
        let seed = 0x5EED_0002u64;
        println!("seed {seed:#x}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        // Steps: (a, b, valid, first, last).
        let mut steps = Vec::new();
        let mut sums = Vec::new();
        for t in 0..60 {
            let k = rng.gen_range(1..8);
            let mut s = 0i64;
            for i in 0..k {
                let (a, b): (i16, i16) = if t == 0 {
                    (i16::MIN, i16::MIN) // the largest product, 2^30
                } else {
                    (rng.gen(), rng.gen())
                };
                s += a as i64 * b as i64;
                steps.push((a, b, true, i == 0, i == k - 1));
                if rng.gen_bool(0.2) {
                    steps.push((rng.gen(), rng.gen(), false, false, false));
                }
            }
            sums.push(s);
        }
        let mut uut = Pe::default();
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Pe>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<Pe>| {
            let mut x = sim.init()?;
            let mut got = Vec::new();
            let mut prev: Option<(i16, i16)> = None;
            for &(a, b, valid, first, last) in &steps {
                x.a_in.next = (a as u16 as u64).into();
                x.b_in.next = (b as u16 as u64).into();
                x.valid_in.next = valid;
                x.first_in.next = first;
                x.last_in.next = last;
                x = sim.wait(1, x)?;
                if x.done.val() {
                    let raw = x.sum.val().to_u64();
                    got.push(((raw << 16) as i64) >> 16);
                }
                if let Some((pa, pb)) = prev {
                    sim_assert_eq!(sim, x.a_out.val().to_u64(), pa as u16 as u64, x);
                    sim_assert_eq!(sim, x.b_out.val().to_u64(), pb as u16 as u64, x);
                }
                wait_clock_true!(sim, clock, x);
                wait_clock_false!(sim, clock, x);
                prev = Some((a, b));
            }
            sim_assert_eq!(sim, got.len(), sums.len(), x);
            for (i, (g, w)) in got.iter().zip(&sums).enumerate() {
                if g != w {
                    panic!("tile {i}: rtl {g} exact {w}");
                }
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), 100_000).unwrap();
    }
}
