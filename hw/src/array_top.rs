//! The bare systolic array as a top of its own, for `srsa bench` only: it
//! is the yardstick the simulated device's speed is measured against (the
//! device should run at >= 0.70x the bare array's cycles per second). A
//! bare `Array<R, C>` cannot be the top: with its inputs on top-level ports
//! nothing would change them between cycles unless the simulator drove
//! every one, and that driving would be counted as the array's cost.
//!
//! What the wrapper feeds, every cycle:
//! - A and B operands from a 32-bit Galois LFSR (low half to the rows, high
//!   half to the columns), so every multiplier sees new data each cycle.
//!   Row r gets the LFSR's value of 2r cycles ago, column c of 2c: with one
//!   cycle per stage every PE would meet the same operand pairs as its
//!   neighbours, a cycle later, and sum the same tiles; with two each PE's
//!   pairs are its own.
//! - valid high always, first and last from a step counter that starts a
//!   tile every `TILE_K` cycles, row r r cycles late (the device's skew),
//!   so every PE accumulates every cycle and each column finishes one sum
//!   per cycle in R of every `TILE_K` cycles.
//!
//! Every column's `col_sum` is a top-level output (the simulator folds them
//! into a checksum), so none of the array's logic can be optimised away.

use crate::array::Array;
use crate::{constant, dffs};
use rust_hdl::prelude::*;

/// Steps per tile: at least the largest R built (one PE per column and
/// cycle finishes, as in the device), and short enough that the outputs
/// change often in a short run.
pub const TILE_K: u64 = 64;

/// Passes the list of bare arrays built for the bench to `$then`, after
/// `[$extra]`; each line is `rows x cols;`. It sits beside the shape table
/// but is not a line of it: these are yardsticks, not devices. Each costs
/// build time in srsa-sim (the 8x8 a few seconds).
macro_rules! bare_array_table {
    ($then:ident [$($extra:tt)*]) => {
        $then! {
            [$($extra)*]
            8 x 8;
        }
    };
}

macro_rules! bare_list {
    ([] $($r:literal x $c:literal;)*) => {
        /// Every bare array srsa-sim verilates, as (rows, cols).
        pub const BARE_ARRAYS: &[(usize, usize)] = &[$(($r, $c)),*];
    };
}
bare_array_table!(bare_list []);

macro_rules! bare_dispatch {
    ([$rows:expr, $cols:expr] $($r:literal x $c:literal;)*) => {
        match ($rows, $cols) {
            $(($r, $c) => crate::verilog::finish(ArrayTop::<$r, $c>::default()),)*
            (r, c) => Err(format!(
                "no bare {r}x{c} array: built are {}",
                BARE_ARRAYS
                    .iter()
                    .map(|(r, c)| format!("{r}x{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    };
}

/// Verilog of the bare rows x cols array behind its feed (module `top`:
/// `clock` in, `col_sum$c` out), one of [`BARE_ARRAYS`].
pub fn array_top_verilog(rows: usize, cols: usize) -> Result<String, String> {
    bare_array_table!(bare_dispatch[rows, cols])
}

#[derive(LogicBlock)]
pub struct ArrayTop<const R: usize, const C: usize> {
    pub clock: Signal<In, Clock>,
    pub col_sum: [Signal<Out, Bits<48>>; C],
    pub array: Array<R, C>,
    lfsr: DFFWithInit<Bits<32>>,
    step: DFF<Bits<16>>,
    /// Stage 2s feeds row s (A) or column s (B); stage s of the flags
    /// feeds row s.
    a_chain: Vec<DFF<Bits<16>>>,
    b_chain: Vec<DFF<Bits<16>>>,
    valid_chain: Vec<DFF<Bit>>,
    first_chain: Vec<DFF<Bit>>,
    last_chain: Vec<DFF<Bit>>,
    taps: Constant<Bits<32>>,
    last_step: Constant<Bits<16>>,
}

impl<const R: usize, const C: usize> Default for ArrayTop<R, C> {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            col_sum: std::array::from_fn(|_| Default::default()),
            array: Default::default(),
            // Any nonzero start: an LFSR at zero stays there.
            lfsr: DFFWithInit::new(0x1234_5678u64.into()),
            step: Default::default(),
            a_chain: dffs(2 * R - 1),
            b_chain: dffs(2 * C - 1),
            valid_chain: dffs(R),
            first_chain: dffs(R),
            last_chain: dffs(R),
            // x^32 + x^22 + x^2 + x + 1, maximal length.
            taps: constant(0x8020_0003),
            last_step: constant(TILE_K - 1),
        }
    }
}

impl<const R: usize, const C: usize> Logic for ArrayTop<R, C> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, lfsr, step);
        self.array.clock.next = self.clock.val();
        self.lfsr.d.next = self.lfsr.q.val() >> 1;
        if self.lfsr.q.val().get_bit(0) {
            self.lfsr.d.next = (self.lfsr.q.val() >> 1) ^ self.taps.val();
        }
        self.step.d.next = self.step.q.val() + 1;
        if self.step.q.val() == self.last_step.val() {
            self.step.d.next = 0.into();
        }

        for s in 0..(2 * R - 1) {
            self.a_chain[s].clock.next = self.clock.val();
        }
        for s in 0..(2 * C - 1) {
            self.b_chain[s].clock.next = self.clock.val();
        }
        for s in 0..R {
            self.valid_chain[s].clock.next = self.clock.val();
            self.first_chain[s].clock.next = self.clock.val();
            self.last_chain[s].clock.next = self.clock.val();
        }
        self.a_chain[0].d.next = self.lfsr.q.val().get_bits::<16>(0);
        self.b_chain[0].d.next = self.lfsr.q.val().get_bits::<16>(16);
        self.valid_chain[0].d.next = true;
        self.first_chain[0].d.next = self.step.q.val() == 0;
        self.last_chain[0].d.next = self.step.q.val() == self.last_step.val();
        for s in 1..(2 * R - 1) {
            self.a_chain[s].d.next = self.a_chain[s - 1].q.val();
        }
        for s in 1..(2 * C - 1) {
            self.b_chain[s].d.next = self.b_chain[s - 1].q.val();
        }
        for s in 1..R {
            self.valid_chain[s].d.next = self.valid_chain[s - 1].q.val();
            self.first_chain[s].d.next = self.first_chain[s - 1].q.val();
            self.last_chain[s].d.next = self.last_chain[s - 1].q.val();
        }

        for r in 0..R {
            self.array.a_in[r].next = self.a_chain[2 * r].q.val();
            self.array.valid_in[r].next = self.valid_chain[r].q.val();
            self.array.first_in[r].next = self.first_chain[r].q.val();
            self.array.last_in[r].next = self.last_chain[r].q.val();
        }
        for c in 0..C {
            self.array.b_in[c].next = self.b_chain[2 * c].q.val();
            self.col_sum[c].next = self.array.col_sum[c].val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bare_array_generates_verilog_with_its_ports() {
        for &(r, c) in BARE_ARRAYS {
            let v = array_top_verilog(r, c).unwrap();
            assert!(v.contains("module top"), "{r}x{c}");
            for col in 0..c {
                assert!(
                    v.contains(&format!("col_sum${col}")),
                    "{r}x{c}: column {col}"
                );
            }
        }
        let e = array_top_verilog(3, 3).unwrap_err();
        assert!(e.starts_with("no bare 3x3 array"), "{e}");
    }

    /// rust-hdl's own simulator: every column finishes sums, and they vary
    /// (the operands change every cycle).
    #[test]
    fn the_feed_makes_the_array_compute() {
        const R: usize = 2;
        const C: usize = 2;
        let mut uut = ArrayTop::<R, C>::default();
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<ArrayTop<R, C>>| {
            x.clock.next = !x.clock.val()
        });
        let cycles = 3 * TILE_K as usize + R + C;
        sim.add_testbench(move |mut sim: Sim<ArrayTop<R, C>>| {
            let mut x = sim.init()?;
            let mut seen: Vec<Vec<u64>> = vec![Vec::new(); C];
            for _ in 0..cycles {
                wait_clock_true!(sim, clock, x);
                wait_clock_false!(sim, clock, x);
                for (c, s) in seen.iter_mut().enumerate() {
                    let v = x.col_sum[c].val().to_u64();
                    if v != 0 {
                        s.push(v);
                    }
                }
            }
            for s in &seen {
                // R sums per tile, at least two tiles finished.
                sim_assert!(sim, s.len() >= 2 * R, x);
                let mut distinct = s.clone();
                distinct.sort();
                distinct.dedup();
                sim_assert!(sim, distinct.len() >= 2 * R, x);
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), (cycles as u64 + 4) * 10).unwrap();
    }
}
