//! A column's output stage: takes the sum that the column finished, adds
//! the aligned C_in read from the column's C bank, rounds once with the
//! column's LFSR, and writes the word back.
//!
//! Cycle X: `take` with the sum and the output address (the C_in read is
//! issued by the device at the same cycle). Cycle X+1: C_in has arrived and
//! is aligned and added. Cycle X+2: round, write, and advance the LFSR (once
//! per output, in every mode). The add and the rounding are a register
//! apart: in one cycle their two 48-bit carry chains were the design's
//! longest path.
//!
//! With `masked`, an output whose C_in is marked pruned (`cin_pruned`,
//! read beside C_in) is written as 0 and stays marked; it still draws, so
//! the draw order is the mask's alone to ignore.
//!
//! `acc_init`, `masked` and `align` are sampled at X+1, `shift`, `mode`, `relu` and
//! `sign_bits` at X+2; the device holds them for a whole GEMM.

use crate::lfsr::Lfsr;
use crate::ports::OutputSettingsIn;
use crate::rounding::RoundingUnit;
use rust_hdl::prelude::*;
use srsa_spec::lfsr::{State, COMPONENTS};

#[derive(LogicBlock)]
pub struct OutputStage<const D: usize> {
    pub clock: Signal<In, Clock>,
    pub take: Signal<In, Bit>,
    pub sum: Signal<In, Bits<48>>,
    pub out_addr: Signal<In, Bits<D>>,
    /// The C bank's read data: C_in of the output taken last cycle.
    pub cin: Signal<In, Bits<16>>,
    /// C_in's pruned mark (read with it).
    pub cin_pruned: Signal<In, Bit>,
    pub settings: OutputSettingsIn,
    pub seed_load: Signal<In, Bit>,
    /// The generator's three component words (separate ports: rust-hdl
    /// cannot index a port array of an element of a block array).
    pub seed0: Signal<In, Bits<32>>,
    pub seed1: Signal<In, Bits<32>>,
    pub seed2: Signal<In, Bits<32>>,
    pub write_enable: Signal<Out, Bit>,
    pub write_address: Signal<Out, Bits<D>>,
    pub write_data: Signal<Out, Bits<16>>,
    /// The mark written with the output.
    pub write_pruned: Signal<Out, Bit>,
    lfsr: Lfsr,
    round: RoundingUnit,
    valid: DFF<Bit>,
    held_sum: DFF<Bits<48>>,
    held_addr: DFF<Bits<D>>,
    /// The second stage: the sum with C_in added, and where it goes.
    value: DFF<Bits<48>>,
    value_addr: DFF<Bits<D>>,
    value_valid: DFF<Bit>,
    value_pruned: DFF<Bit>,
    cin_wide: Signal<Local, Bits<48>>,
    sign_fill: Constant<Bits<48>>,
}

impl<const D: usize> OutputStage<D> {
    /// `lfsr_init`: the column's power-up generator state.
    pub fn new(lfsr_init: State) -> Self {
        Self {
            clock: Default::default(),
            take: Default::default(),
            sum: Default::default(),
            out_addr: Default::default(),
            cin: Default::default(),
            cin_pruned: Default::default(),
            settings: Default::default(),
            seed_load: Default::default(),
            seed0: Default::default(),
            seed1: Default::default(),
            seed2: Default::default(),
            write_enable: Default::default(),
            write_address: Default::default(),
            write_data: Default::default(),
            write_pruned: Default::default(),
            lfsr: Lfsr::new(COMPONENTS, lfsr_init),
            round: Default::default(),
            valid: Default::default(),
            held_sum: Default::default(),
            held_addr: Default::default(),
            value: Default::default(),
            value_addr: Default::default(),
            value_valid: Default::default(),
            value_pruned: Default::default(),
            cin_wide: Default::default(),
            sign_fill: Constant::new(0xFFFF_FFFF_0000u64.into()),
        }
    }
}

impl<const D: usize> Logic for OutputStage<D> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            valid,
            held_sum,
            held_addr,
            value,
            value_addr,
            value_valid,
            value_pruned
        );
        self.lfsr.clock.next = self.clock.val();
        self.valid.d.next = self.take.val();
        if self.take.val() {
            self.held_sum.d.next = self.sum.val();
            self.held_addr.d.next = self.out_addr.val();
        }
        // C_in sign-extended to 48 bits, then aligned to the product's FL;
        // only in the cycle after a take (the stage is idle in nearly all of
        // a GEMM's cycles, and a simulator skips the untaken branch).
        self.cin_wide.next = 0.into();
        if self.valid.q.val() {
            self.cin_wide.next = bit_cast::<48, 16>(self.cin.val());
            if self.cin.val().get_bit(15) {
                self.cin_wide.next = bit_cast::<48, 16>(self.cin.val()) | self.sign_fill.val();
            }
            self.value.d.next = self.held_sum.q.val();
            if self.settings.acc_init.val() {
                self.value.d.next =
                    self.held_sum.q.val() + (self.cin_wide.val() << self.settings.align.val());
            }
        }
        self.value_addr.d.next = self.held_addr.q.val();
        self.value_valid.d.next = self.valid.q.val();
        self.value_pruned.d.next =
            self.valid.q.val() & self.settings.masked.val() & self.cin_pruned.val();
        self.round.value.next = self.value.q.val();
        self.round.shift.next = self.settings.shift.val();
        self.round.mode.next = self.settings.mode.val();
        self.round.relu.next = self.settings.relu.val();
        self.round.sign_bits.next = self.settings.sign_bits.val();
        self.round.draw.next = self.lfsr.draw.val();
        self.round.enable.next = self.value_valid.q.val();
        self.lfsr.advance.next = self.value_valid.q.val();
        self.lfsr.load.next = self.seed_load.val();
        self.lfsr.seed[0].next = self.seed0.val();
        self.lfsr.seed[1].next = self.seed1.val();
        self.lfsr.seed[2].next = self.seed2.val();
        self.write_enable.next = self.value_valid.q.val();
        self.write_address.next = self.value_addr.q.val();
        self.write_data.next = self.round.out.val();
        if self.value_pruned.q.val() {
            self.write_data.next = 0.into();
        }
        self.write_pruned.next = self.value_pruned.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use srsa_spec::lfsr::{column_state, load_state, Lfsr as SpecLfsr};
    use srsa_spec::numerics::{cin_term, convert, Formats, Rounding, MIN_WL, WL};

    /// One run's settings (constant from a segment's first take to its last
    /// write, as the device holds them for a whole GEMM).
    #[derive(Clone, Copy)]
    struct Config {
        formats: Formats,
        acc_init: bool,
        mode: Rounding,
        relu: bool,
        masked: bool,
    }

    /// What the testbench drives and expects in one cycle.
    #[derive(Clone)]
    struct Cycle {
        take: bool,
        sum: i64,
        addr: u64,
        /// C_in of the output taken last cycle (garbage otherwise), and
        /// its pruned mark.
        cin: i16,
        cin_pruned: bool,
        cfg: Config,
        seed_load: bool,
        seed: [u32; 3],
        /// (write_address, write_data, write_pruned) if a write is due
        /// this cycle.
        want: Option<(u64, u16, bool)>,
    }

    fn random_config(rng: &mut rand::rngs::StdRng, segment: usize) -> Config {
        let formats = match segment % 8 {
            1 => Formats::new(15, 15, 0, 0), // shift 30, align 30
            2 => Formats::uniform(0),        // shift 0, align 0
            _ => {
                let fl_a = rng.gen_range(0..=15u8);
                let fl_b = rng.gen_range(0..=15u8);
                let top = (fl_a + fl_b).min(15);
                Formats::new(fl_a, fl_b, rng.gen_range(0..=top), rng.gen_range(0..=top))
                    .with_wl(rng.gen_range(MIN_WL..=WL as u8))
            }
        };
        formats.validate(true).unwrap();
        let acc_init = rng.gen_bool(0.6);
        Config {
            formats,
            acc_init,
            masked: acc_init && rng.gen_bool(0.4),
            mode: Rounding::ALL[rng.gen_range(0..3)],
            relu: rng.gen_bool(0.25),
        }
    }

    /// Random segments of takes (back to back and with gaps), random seed
    /// loads, and the expected writes from the spec: one draw of the
    /// column's generator per taken output, in every mode; a SEED load
    /// restarts the generator (and wins over an advance in the same cycle,
    /// whose write still uses the old draw).
    fn schedule(seed: u64, segments: usize) -> (Vec<Cycle>, [usize; 3]) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut v: Vec<Cycle> = Vec::new();
        let garbage = |rng: &mut rand::rngs::StdRng, cfg: Config| Cycle {
            take: false,
            sum: rng.gen_range(-(1i64 << 47)..(1i64 << 47)),
            addr: rng.gen_range(0..64),
            cin: rng.gen(),
            cin_pruned: rng.gen(),
            cfg,
            seed_load: false,
            seed: rng.gen(),
            want: None,
        };
        for seg in 0..segments {
            let cfg = random_config(&mut rng, seg);
            let takes = rng.gen_range(1..=40);
            for i in 0..takes {
                let gap = if rng.gen_bool(0.6) {
                    0
                } else {
                    rng.gen_range(1..4)
                };
                for _ in 0..(if i == 0 { 1 } else { gap }) {
                    let g = garbage(&mut rng, cfg);
                    v.push(g);
                }
                let shift = cfg.formats.shift();
                let bits = if rng.gen_bool(0.5) {
                    (shift + rng.gen_range(0..=17)).min(46)
                } else {
                    rng.gen_range(0..=46)
                };
                let mut c = garbage(&mut rng, cfg);
                c.take = true;
                c.sum = rng.gen_range(1 - (1i64 << bits)..(1i64 << bits));
                v.push(c);
            }
            // The last take's add and write cycles, still under this config.
            for _ in 0..2 {
                let g = garbage(&mut rng, cfg);
                v.push(g);
            }
        }
        let g = garbage(&mut rng, v[0].cfg);
        v.push(g);
        // C_in arrives the cycle after its take.
        for t in 1..v.len() {
            if v[t - 1].take {
                v[t].cin = match rng.gen_range(0..10) {
                    0 => i16::MIN,
                    1 => i16::MAX,
                    2 => -1,
                    _ => rng.gen(),
                };
            }
        }
        // Seed loads anywhere: idle cycles, take cycles, write cycles.
        for c in v.iter_mut() {
            c.seed_load = rng.gen_bool(0.015);
        }
        // Reference.
        let mut lfsr = SpecLfsr::new(column_state(seed, 0));
        let mut counts = [0usize; 3]; // writes, seed loads, loads during a write
        for t in 1..v.len() {
            if t >= 2 && v[t - 2].take {
                let (p, c) = (&v[t - 2], &v[t - 1]);
                let cfg = c.cfg;
                let value = p.sum
                    + if cfg.acc_init {
                        cin_term(c.cin, &cfg.formats)
                    } else {
                        0
                    };
                let out = convert(
                    value,
                    cfg.formats.shift(),
                    cfg.formats.wl_out,
                    cfg.mode,
                    lfsr.draw(),
                    cfg.relu,
                );
                // A pruned output draws all the same.
                let pruned = cfg.masked && c.cin_pruned;
                let out = if pruned { 0 } else { out };
                v[t].want = Some((p.addr, out as u16, pruned));
                counts[0] += 1;
            }
            if v[t].seed_load {
                lfsr = SpecLfsr::new(load_state(v[t].seed));
                counts[1] += 1;
                counts[2] += v[t].want.is_some() as usize;
            }
        }
        (v, counts)
    }

    #[test]
    fn output_stage_matches_spec() {
        let seed = 0x5EED_0006u64;
        println!("seed {seed:#x}");
        let (cycles, counts) = schedule(seed, 120);
        println!(
            "{} cycles, {} writes, {} seed loads ({} in a write cycle)",
            cycles.len(),
            counts[0],
            counts[1],
            counts[2]
        );
        assert!(counts[1] >= 20 && counts[2] >= 5, "too few seed loads");
        let max_time = cycles.len() as u64 * 10 + 100;
        let mut uut = OutputStage::<6>::new(column_state(seed, 0));
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<OutputStage<6>>| {
            x.clock.next = !x.clock.val()
        });
        sim.add_testbench(move |mut sim: Sim<OutputStage<6>>| {
            let mut x = sim.init()?;
            let mut writes = 0usize;
            for (t, cy) in cycles.iter().enumerate() {
                let cfg = cy.cfg;
                x.take.next = cy.take;
                x.sum.next = ((cy.sum as u64) & ((1 << 48) - 1)).into();
                x.out_addr.next = cy.addr.into();
                x.cin.next = (cy.cin as u16 as u64).into();
                x.settings.acc_init.next = cfg.acc_init;
                x.cin_pruned.next = cy.cin_pruned;
                x.settings.masked.next = cfg.masked;
                x.settings.align.next = (cfg.formats.cin_align() as u64).into();
                x.settings.shift.next = (cfg.formats.shift() as u64).into();
                x.settings.mode.next = (cfg.mode.code() as u64).into();
                x.settings.relu.next = cfg.relu;
                x.settings.sign_bits.next = (crate::rounding::sign_bits(cfg.formats.wl_out) as u64).into();
                x.seed_load.next = cy.seed_load;
                x.seed0.next = (cy.seed[0] as u64).into();
                x.seed1.next = (cy.seed[1] as u64).into();
                x.seed2.next = (cy.seed[2] as u64).into();
                x = sim.wait(1, x)?;
                let we = x.write_enable.val();
                let got = (
                    x.write_address.val().to_u64(),
                    x.write_data.val().to_u64() as u16,
                    x.write_pruned.val(),
                );
                let ok = match cy.want {
                    None => !we,
                    Some(w) => we && got == w,
                };
                if !ok {
                    println!(
                        "cycle {t}: write_enable {we} address {} data {:#06x} pruned {}; expected {:?} \
                         (formats {:?} acc_init {} {} relu {} cin {} seed_load {})",
                        got.0,
                        got.1,
                        got.2,
                        cy.want.map(|(a, d, p)| (a, format!("{d:#06x}"), p)),
                        cfg.formats,
                        cfg.acc_init,
                        cfg.mode,
                        cfg.relu,
                        cy.cin,
                        cy.seed_load
                    );
                    return sim.halt(x);
                }
                writes += we as usize;
                wait_clock_true!(sim, clock, x);
                wait_clock_false!(sim, clock, x);
            }
            sim_assert_eq!(sim, writes, counts[0], x);
            sim.done(x)
        });
        sim.run(Box::new(uut), max_time).unwrap();
    }
}
