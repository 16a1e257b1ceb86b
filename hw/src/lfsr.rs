//! A column's random source: three leap-forward LFSRs combined by XOR
//! (spec and reasons: `srsa_spec::lfsr`). Each component is a block of its
//! own; the combination is one XOR.

use rust_hdl::prelude::*;
use srsa_spec::lfsr::Component;

/// One Tausworthe component: an LFSR on x^k + x^q + 1 in the top k bits of a
/// 32-bit word, leaping s steps per advance.
#[derive(LogicBlock)]
pub struct TausComponent {
    pub clock: Signal<In, Clock>,
    pub advance: Signal<In, Bit>,
    pub load: Signal<In, Bit>,
    pub seed: Signal<In, Bits<32>>,
    /// The state after the next leap (what a draw returns), in a cycle
    /// that advances; zero in the others.
    pub ahead: Signal<Out, Bits<32>>,
    /// The state XOR its power-up value (`init`), in a plain register that
    /// starts at zero: rust-hdl's DFFWithInit applies that XOR on both of
    /// its sides in every cycle, here it sits in the branches that read or
    /// write the state.
    held: DFF<Bits<32>>,
    init: Constant<Bits<32>>,
    mask: Constant<Bits<32>>,
    forced: Constant<Bits<32>>,
    q: Constant<Bits<8>>,
    s: Constant<Bits<8>>,
    k_minus_s: Constant<Bits<8>>,
}

impl TausComponent {
    pub fn new(c: Component, init: u32) -> Self {
        Self {
            clock: Default::default(),
            advance: Default::default(),
            load: Default::default(),
            seed: Default::default(),
            ahead: Default::default(),
            held: Default::default(),
            init: Constant::new(((init | c.forced_bit()) as u64).into()),
            mask: Constant::new((c.mask() as u64).into()),
            forced: Constant::new((c.forced_bit() as u64).into()),
            q: Constant::new((c.q as u64).into()),
            s: Constant::new((c.s as u64).into()),
            k_minus_s: Constant::new(((c.k - c.s) as u64).into()),
        }
    }
}

impl Logic for TausComponent {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, held);
        // The leap only in a cycle that takes a draw: an output stage
        // advances once per output, and a simulator skips the untaken branch
        // in all the others.
        self.ahead.next = 0.into();
        if self.advance.val() {
            self.ahead.next = (((self.held.q.val() ^ self.init.val()) & self.mask.val())
                << self.s.val())
                ^ ((((self.held.q.val() ^ self.init.val()) << self.q.val())
                    ^ (self.held.q.val() ^ self.init.val()))
                    >> self.k_minus_s.val());
            self.held.d.next = self.ahead.val() ^ self.init.val();
        }
        // A load wins over an advance (whose draw is still the old state's).
        if self.load.val() {
            self.held.d.next = (self.seed.val() | self.forced.val()) ^ self.init.val();
        }
    }
}

#[derive(LogicBlock)]
pub struct Lfsr {
    pub clock: Signal<In, Clock>,
    /// Take the current draw and move every component one leap on.
    pub advance: Signal<In, Bit>,
    /// Load `seed` (wins over advance).
    pub load: Signal<In, Bit>,
    pub seed: [Signal<In, Bits<32>>; 3],
    /// The draw this cycle's advance takes (zero in a cycle without one).
    pub draw: Signal<Out, Bits<32>>,
    part: Vec<TausComponent>,
}

impl Lfsr {
    /// `components` and their power-up `init` words.
    pub fn new(components: [Component; 3], init: [u32; 3]) -> Self {
        Self {
            clock: Default::default(),
            advance: Default::default(),
            load: Default::default(),
            seed: Default::default(),
            draw: Default::default(),
            part: (0..3)
                .map(|i| TausComponent::new(components[i], init[i]))
                .collect(),
        }
    }
}

impl Logic for Lfsr {
    #[hdl_gen]
    fn update(&mut self) {
        for i in 0..3 {
            self.part[i].clock.next = self.clock.val();
            self.part[i].advance.next = self.advance.val();
            self.part[i].load.next = self.load.val();
            self.part[i].seed.next = self.seed[i].val();
        }
        self.draw.next =
            self.part[0].ahead.val() ^ self.part[1].ahead.val() ^ self.part[2].ahead.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use srsa_spec::lfsr::{column_state, Lfsr as Spec, COMPONENTS};

    /// Steps the block through `draws` advances in rust-hdl's simulator and
    /// returns every draw.
    fn simulate(components: [Component; 3], init: [u32; 3], draws: usize) -> Vec<u32> {
        let mut uut = Lfsr::new(components, init);
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Lfsr>| x.clock.next = !x.clock.val());
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = out.clone();
        sim.add_testbench(move |mut sim: Sim<Lfsr>| {
            let mut x = sim.init()?;
            x.advance.next = true;
            // A draw is there only once the advance is (before the first edge).
            x = sim.wait(1, x)?;
            // Sample each draw while the clock is low, before the edge that
            // consumes it.
            for _ in 0..draws {
                sink.lock().unwrap().push(x.draw.val().to_u64() as u32);
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
    fn small_generator_matches_spec_over_full_period() {
        // Components with periods 127, 31, 7: the combined period is 27559.
        let small = [
            Component { k: 7, q: 1, s: 5 },
            Component { k: 5, q: 2, s: 2 },
            Component { k: 3, q: 1, s: 1 },
        ];
        let period = 127 * 31 * 7;
        // A word's low bits (below the k state bits) only become functions
        // of the state once the initial ones have shifted out (up to 29 leaps
        // here): compare from draw 64 on.
        let got = simulate(small, [0, 0, 0], period + 66);
        let mut spec = Spec::with_components(small, [0, 0, 0]);
        for (i, g) in got.iter().enumerate() {
            let w = spec.draw();
            assert_eq!(*g, w, "draw {i} differs: rtl {g:#010x} spec {w:#010x}");
        }
        // The draw sequence repeats with exactly that period, not before.
        assert_eq!(got[64..66], got[period + 64..period + 66]);
        let early = (65..period + 64).find(|&p| got[p..p + 2] == got[64..66]);
        assert_eq!(early, None, "draws repeat early");
    }

    #[test]
    fn device_generator_matches_spec() {
        let init = column_state(7, 3);
        let got = simulate(COMPONENTS, init, 2000);
        let mut spec = Spec::new(init);
        for (i, g) in got.iter().enumerate() {
            assert_eq!(*g, spec.draw(), "draw {i} differs");
        }
    }
}
