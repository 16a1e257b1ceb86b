//! Leap-forward LFSR: one draw of K fresh bits per advance (spec: `srsa_spec::lfsr`).
//!
//! Generic in the state width W and the leap K so that a small instance can
//! be simulated through its whole period; the device uses W = 63, K = 32.

use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct Lfsr<const W: usize, const K: usize> {
    pub clock: Signal<In, Clock>,
    /// Take the current draw and move to the next state.
    pub advance: Signal<In, Bit>,
    /// Load `seed | 1` (wins over advance).
    pub load: Signal<In, Bit>,
    pub seed: Signal<In, Bits<W>>,
    /// The K fresh bits of the next leap: valid in every cycle.
    pub draw: Signal<Out, Bits<K>>,
    state: DFFWithInit<Bits<W>>,
    /// Tap offsets W-1-K and W-K as constants: index arithmetic on const
    /// generics cannot appear in generated Verilog.
    tap_lo: Constant<Bits<8>>,
    tap_hi: Constant<Bits<8>>,
    leap: Constant<Bits<8>>,
    one: Constant<Bits<W>>,
    fresh: Signal<Local, Bits<W>>,
}

impl<const W: usize, const K: usize> Lfsr<W, K> {
    /// `init` is the power-up state (bit 0 is forced to one).
    pub fn new(init: u64) -> Self {
        assert!(K < W && W <= 63);
        Self {
            clock: Default::default(),
            advance: Default::default(),
            load: Default::default(),
            seed: Default::default(),
            draw: Default::default(),
            state: DFFWithInit::new(Bits::from(init | 1)),
            tap_lo: Constant::new(((W - 1 - K) as u64).into()),
            tap_hi: Constant::new(((W - K) as u64).into()),
            leap: Constant::new((K as u64).into()),
            one: Constant::new(1u64.into()),
            fresh: Default::default(),
        }
    }
}

impl<const W: usize, const K: usize> Logic for Lfsr<W, K> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, state);
        // Recurrence x_t = x_{t-(W-1)} ^ x_{t-W}: every tap lags by at least
        // W-1 > K steps, so K new bits come from the current state at once.
        self.fresh.next = ((self.state.q.val() >> self.tap_lo.val())
            ^ (self.state.q.val() >> self.tap_hi.val()))
            & ((self.one.val() << self.leap.val()) - self.one.val());
        self.draw.next = bit_cast::<K, W>(self.fresh.val());
        if self.load.val() {
            self.state.d.next = self.seed.val() | self.one.val();
        } else if self.advance.val() {
            self.state.d.next = (self.state.q.val() << self.leap.val()) | self.fresh.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use srsa_spec::lfsr::Lfsr as Spec;

    /// Steps the block through `draws` advances in rust-hdl's simulator and
    /// returns every draw.
    fn simulate<const W: usize, const K: usize>(init: u64, draws: usize) -> Vec<u64> {
        let mut uut = Lfsr::<W, K>::new(init);
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Lfsr<W, K>>| x.clock.next = !x.clock.val());
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = out.clone();
        sim.add_testbench(move |mut sim: Sim<Lfsr<W, K>>| {
            let mut x = sim.init()?;
            x.advance.next = true;
            // Sample each draw while the clock is low, before the edge that
            // consumes it.
            for _ in 0..draws {
                sink.lock().unwrap().push(x.draw.val().to_u64());
                wait_clock_true!(sim, clock, x);
                wait_clock_false!(sim, clock, x);
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), (draws as u64 + 4) * 10).unwrap();
        let v = out.lock().unwrap().clone();
        v
    }

    #[test]
    fn small_lfsr_matches_spec_over_full_period() {
        // x^15 + x + 1 with a leap of 8: 32767 draws before the state repeats.
        let got = simulate::<15, 8>(1, 32767 + 2);
        let mut spec = Spec::with_params(15, 8, 1);
        let want: Vec<u64> = (0..got.len()).map(|_| spec.draw() as u64).collect();
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "draw {i} differs: rtl {g:#x} spec {w:#x}");
        }
        // The draw sequence has period 32767 exactly.
        assert_eq!(got[0], got[32767]);
        let first_repeat = (1..32767).find(|&p| got[p] == got[0] && got[p + 1] == got[1]);
        assert_eq!(first_repeat, None);
    }

    #[test]
    fn device_lfsr_matches_spec() {
        let init = srsa_spec::lfsr::column_state(7, 3);
        let got = simulate::<63, 32>(init, 500);
        let mut spec = Spec::new(init);
        for (i, g) in got.iter().enumerate() {
            assert_eq!(*g, spec.draw() as u64, "draw {i} differs");
        }
    }
}
