//! The performance counters (srsa_spec::protocol::Counters): cycles since
//! power-up, busy cycles, useful MACs; and the word of them that the
//! COUNTERS response is sending.
//!
//! The MAC count grows by M * Ncol in each of the K cycles after a GEMM
//! starts (one adder, no multiplier: M * K * Ncol in all). The cycle count
//! is sampled when the COUNTERS header is accepted, busy and MACs when
//! their words are sent (no GEMM can run in between).

use rust_hdl::prelude::*;
use srsa_spec::protocol::COUNTER_WORDS;

#[derive(LogicBlock)]
pub struct Counters {
    pub clock: Signal<In, Clock>,
    /// Abandons a GEMM's remaining MAC steps.
    pub reset: Signal<In, Bit>,
    pub busy_cycle: Signal<In, Bit>,
    /// A GEMM starts: add `mn` for the next `k` cycles.
    pub start: Signal<In, Bit>,
    pub k: Signal<In, Bits<16>>,
    pub mn: Signal<In, Bits<32>>,
    /// Sample the cycle count.
    pub snap: Signal<In, Bit>,
    /// Which response word (0..6) is `word`.
    pub index: Signal<In, Bits<4>>,
    pub word: Signal<Out, Bits<32>>,

    cycles: DFF<Bits<64>>,
    busy: DFF<Bits<64>>,
    macs: DFF<Bits<64>>,
    snapshot: DFF<Bits<64>>,
    macs_left: DFF<Bits<16>>,
}

impl Default for Counters {
    fn default() -> Self {
        assert_eq!(COUNTER_WORDS, 6, "three 64-bit counters, two words each");
        Self {
            clock: Default::default(),
            reset: Default::default(),
            busy_cycle: Default::default(),
            start: Default::default(),
            k: Default::default(),
            mn: Default::default(),
            snap: Default::default(),
            index: Default::default(),
            word: Default::default(),
            cycles: Default::default(),
            busy: Default::default(),
            macs: Default::default(),
            snapshot: Default::default(),
            macs_left: Default::default(),
        }
    }
}

impl Logic for Counters {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, cycles, busy, macs, snapshot, macs_left);
        self.cycles.d.next = self.cycles.q.val() + 1;
        if self.busy_cycle.val() {
            self.busy.d.next = self.busy.q.val() + 1;
        }
        if self.macs_left.q.val().any() {
            self.macs.d.next = self.macs.q.val() + bit_cast::<64, 32>(self.mn.val());
            self.macs_left.d.next = self.macs_left.q.val() - 1;
        }
        if self.start.val() {
            self.macs_left.d.next = self.k.val();
        }
        if self.snap.val() {
            self.snapshot.d.next = self.cycles.q.val();
        }
        if self.reset.val() {
            self.macs_left.d.next = 0.into();
        }
        self.word.next = self.snapshot.q.val().get_bits::<32>(0);
        if self.index.val() == 1 {
            self.word.next = self.snapshot.q.val().get_bits::<32>(32);
        }
        if self.index.val() == 2 {
            self.word.next = self.busy.q.val().get_bits::<32>(0);
        }
        if self.index.val() == 3 {
            self.word.next = self.busy.q.val().get_bits::<32>(32);
        }
        if self.index.val() == 4 {
            self.word.next = self.macs.q.val().get_bits::<32>(0);
        }
        if self.index.val() == 5 {
            self.word.next = self.macs.q.val().get_bits::<32>(32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[derive(Clone, Copy, Default)]
    struct Drive {
        busy: bool,
        start: bool,
        k: u16,
        mn: u32,
        snap: bool,
        index: u8,
    }

    /// The counters' meaning (srsa_spec::protocol::Counters), cycle by
    /// cycle: the word `index` selects, as a COUNTERS response sends it.
    struct Reference {
        cycles: u64,
        busy: u64,
        macs: u64,
        snapshot: u64,
        /// MAC steps left of the running GEMM.
        pending: u16,
    }

    impl Reference {
        fn word(&self, index: u8) -> u32 {
            let v = [self.snapshot, self.busy, self.macs][index as usize / 2];
            (v >> (32 * (index % 2))) as u32
        }

        fn clock(&mut self, d: &Drive) {
            if d.snap {
                self.snapshot = self.cycles;
            }
            self.cycles += 1;
            self.busy += d.busy as u64;
            if self.pending > 0 {
                self.macs += d.mn as u64;
                self.pending -= 1;
            }
            if d.start {
                self.pending = d.k;
            }
        }
    }

    #[test]
    fn counters_count_cycles_busy_and_macs() {
        let seed = 0x5EED_0C01u64;
        println!("seed {seed:#x}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut drive = vec![];
        let mut t = 0;
        while drive.len() < 600 {
            // A GEMM: start, then at least K busy cycles; idle in between.
            let k = rng.gen_range(1..40u16);
            let mn = if rng.gen_bool(0.2) {
                u32::MAX
            } else {
                rng.gen()
            };
            drive.push(Drive {
                start: true,
                k,
                mn,
                ..Default::default()
            });
            // The device holds M * Ncol until the next GEMM's arguments.
            for _ in 0..k + rng.gen_range(0..10) {
                drive.push(Drive {
                    busy: true,
                    mn,
                    ..Default::default()
                });
            }
            for _ in 0..rng.gen_range(0..12) {
                drive.push(Drive {
                    snap: rng.gen_bool(0.3),
                    index: rng.gen_range(0..6),
                    mn,
                    ..Default::default()
                });
            }
            t += 1;
        }
        println!("{t} GEMMs in {} cycles", drive.len());
        let got = crate::testbench::run_plan(
            Counters::default(),
            drive.clone(),
            |d, x| {
                x.busy_cycle.next = d.busy;
                x.start.next = d.start;
                x.k.next = (d.k as u64).into();
                x.mn.next = (d.mn as u64).into();
                x.snap.next = d.snap;
                x.index.next = (d.index as u64).into();
            },
            |x| x.word.val().to_u64() as u32,
        );
        assert_eq!(got.len(), drive.len());
        let mut r = Reference {
            cycles: 0,
            busy: 0,
            macs: 0,
            snapshot: 0,
            pending: 0,
        };
        for (t, (d, &word)) in drive.iter().zip(&got).enumerate() {
            assert_eq!(word, r.word(d.index), "cycle {t}: counter word {}", d.index);
            r.clock(d);
        }
        assert!(r.macs > u32::MAX as u64, "the high MAC word is exercised");
    }
}
