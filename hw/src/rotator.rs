//! A rotation ("barrel") crossbar: N words of W bits, output i taking input
//! (i + shift) mod N, for a shift that changes every cycle.
//!
//! The transposed operand paths need one between the bank ports and the
//! array's rows (or columns): with a transposed read every row reads bank
//! k % R at its step k, so which bank serves which row turns by one each
//! cycle (`buffers`). log2(N) stages of 2:1 multiplexers cost N log2(N)
//! muxes where a full N:1 selection per output costs N (N - 1). A stage
//! rotates by a fixed distance, which rust-hdl can only name in an index
//! through a loop variable: each stage is its own block with the distance as
//! a const generic. N is at most `srsa_spec::protocol::MAX_SIDE` (32), so
//! five stages (1, 2, 4, 8, 16) always suffice; a stage whose distance is a
//! multiple of N is the identity and synthesis removes it.

use rust_hdl::prelude::*;
use srsa_spec::protocol::MAX_SIDE;

/// Bits of the shift: enough for any side up to `MAX_SIDE`.
pub const SHIFT_BITS: usize = 5;
const _: () = assert!(1 << SHIFT_BITS == MAX_SIDE);

/// One stage: output i is input (i + D) mod N when `sel`, else input i.
#[derive(LogicBlock)]
pub struct RotStage<const N: usize, const W: usize, const D: usize> {
    /// As the rotator's `enable`.
    pub enable: Signal<In, Bit>,
    pub sel: Signal<In, Bit>,
    pub x: [Signal<In, Bits<W>>; N],
    pub y: [Signal<Out, Bits<W>>; N],
    /// D < N: the stage rotates at all. A constant, so that Verilator and
    /// synthesis drop the identity stages (a simulated 8 x 8 evaluates the
    /// rotators every cycle).
    active: Constant<Bit>,
}

impl<const N: usize, const W: usize, const D: usize> Default for RotStage<N, W, D> {
    fn default() -> Self {
        Self {
            active: Constant::new(D < N),
            enable: Default::default(),
            sel: Default::default(),
            x: std::array::from_fn(|_| Default::default()),
            y: std::array::from_fn(|_| Default::default()),
        }
    }
}

impl<const N: usize, const W: usize, const D: usize> Logic for RotStage<N, W, D> {
    #[hdl_gen]
    fn update(&mut self) {
        // An identity stage stays a wire; the others are zero unless
        // enabled (stage 1 is never the identity, so neither is the whole).
        for i in 0..N {
            self.y[i].next = self.x[i].val();
            if self.active.val() {
                self.y[i].next = 0.into();
            }
        }
        if self.enable.val() & self.active.val() {
            // One-pass loops bring D and N into the index expressions.
            for i in 0..N {
                for d in D..(D + 1) {
                    for n in N..(N + 1) {
                        self.y[i].next = self.x[i].val();
                        if self.sel.val() & self.active.val() {
                            self.y[i].next = self.x[(i + d) % n].val();
                        }
                    }
                }
            }
        }
    }
}

/// N words rotated by `shift` (taken mod N): `y[i] = x[(i + shift) % N]`,
/// when enabled.
#[derive(LogicBlock)]
pub struct Rotator<const N: usize, const W: usize> {
    /// Rotate at all: `y` is zero otherwise. The device rotates only for
    /// a transposed read, and a simulator skips a disabled rotator's
    /// stages (it evaluated them in every cycle of every GEMM).
    pub enable: Signal<In, Bit>,
    pub shift: Signal<In, Bits<SHIFT_BITS>>,
    pub x: [Signal<In, Bits<W>>; N],
    pub y: [Signal<Out, Bits<W>>; N],
    s1: RotStage<N, W, 1>,
    s2: RotStage<N, W, 2>,
    s4: RotStage<N, W, 4>,
    s8: RotStage<N, W, 8>,
    s16: RotStage<N, W, 16>,
}

impl<const N: usize, const W: usize> Default for Rotator<N, W> {
    fn default() -> Self {
        assert!(N.is_power_of_two() && N <= MAX_SIDE, "rotator of {N} words");
        Self {
            enable: Default::default(),
            shift: Default::default(),
            x: std::array::from_fn(|_| Default::default()),
            y: std::array::from_fn(|_| Default::default()),
            s1: Default::default(),
            s2: Default::default(),
            s4: Default::default(),
            s8: Default::default(),
            s16: Default::default(),
        }
    }
}

impl<const N: usize, const W: usize> Logic for Rotator<N, W> {
    #[hdl_gen]
    fn update(&mut self) {
        // Bits of the shift at or above log2(N) select multiples of N: the
        // identity, whatever they are.
        self.s1.enable.next = self.enable.val();
        self.s2.enable.next = self.enable.val();
        self.s4.enable.next = self.enable.val();
        self.s8.enable.next = self.enable.val();
        self.s16.enable.next = self.enable.val();
        self.s1.sel.next = self.shift.val().get_bit(0);
        self.s2.sel.next = self.shift.val().get_bit(1);
        self.s4.sel.next = self.shift.val().get_bit(2);
        self.s8.sel.next = self.shift.val().get_bit(3);
        self.s16.sel.next = self.shift.val().get_bit(4);
        for i in 0..N {
            self.s1.x[i].next = self.x[i].val();
            self.s2.x[i].next = self.s1.y[i].val();
            self.s4.x[i].next = self.s2.y[i].val();
            self.s8.x[i].next = self.s4.y[i].val();
            self.s16.x[i].next = self.s8.y[i].val();
            self.y[i].next = self.s16.y[i].val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// rust-hdl's simulator needs a clock to step; the rotator is
    /// combinational, so a wrapper gives it one.
    #[derive(LogicBlock)]
    struct Bench<const N: usize, const W: usize> {
        clock: Signal<In, Clock>,
        enable: Signal<In, Bit>,
        shift: Signal<In, Bits<SHIFT_BITS>>,
        x: [Signal<In, Bits<W>>; N],
        y: [Signal<Out, Bits<W>>; N],
        rot: Rotator<N, W>,
    }

    impl<const N: usize, const W: usize> Default for Bench<N, W> {
        fn default() -> Self {
            Self {
                clock: Default::default(),
                enable: Default::default(),
                shift: Default::default(),
                x: std::array::from_fn(|_| Default::default()),
                y: std::array::from_fn(|_| Default::default()),
                rot: Default::default(),
            }
        }
    }

    impl<const N: usize, const W: usize> Logic for Bench<N, W> {
        #[hdl_gen]
        fn update(&mut self) {
            self.rot.enable.next = self.enable.val();
            self.rot.shift.next = self.shift.val();
            for i in 0..N {
                self.rot.x[i].next = self.x[i].val();
                self.y[i].next = self.rot.y[i].val();
            }
        }
    }

    impl<const N: usize, const W: usize> crate::testbench::Clocked for Bench<N, W> {
        fn clock_signal(&mut self) -> &mut Signal<In, Clock> {
            &mut self.clock
        }
        fn clock_high(&self) -> bool {
            self.clock.val().clk
        }
    }

    /// The pure-Rust rotation the block must compute.
    fn reference(x: &[u64], shift: usize) -> Vec<u64> {
        let n = x.len();
        (0..n).map(|i| x[(i + shift) % n]).collect()
    }

    fn rotator_matches_reference<const N: usize, const W: usize>(seed: u64) {
        println!("{N} words of {W} bits, seed {seed:#x}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        // Every shift (all 32 values, the ones beyond N too), random words,
        // and now and then a disabled cycle.
        let plan: Vec<(bool, usize, Vec<u64>)> = (0..400)
            .map(|t| {
                let shift = if t < 1 << SHIFT_BITS {
                    t
                } else {
                    rng.gen_range(0..1 << SHIFT_BITS)
                };
                let words = (0..N).map(|_| rng.gen_range(0..1u64 << W)).collect();
                (t < 1 << SHIFT_BITS || rng.gen_bool(0.9), shift, words)
            })
            .collect();
        let got = crate::testbench::run_plan(
            Bench::<N, W>::default(),
            plan.clone(),
            |(enable, shift, x), b| {
                b.enable.next = *enable;
                b.shift.next = (*shift as u64).into();
                for (port, &word) in b.x.iter_mut().zip(x) {
                    port.next = word.into();
                }
            },
            |b| (0..N).map(|i| b.y[i].val().to_u64()).collect::<Vec<u64>>(),
        );
        for (t, ((enable, shift, x), y)) in plan.iter().zip(&got).enumerate() {
            let want = match enable {
                true => reference(x, *shift),
                false => vec![0; N],
            };
            assert_eq!(
                *y, want,
                "cycle {t}: enable {enable}, shift {shift}, x {x:?}"
            );
        }
    }

    #[test]
    fn rotators_match_reference() {
        rotator_matches_reference::<2, 16>(0x5EED_0F01);
        rotator_matches_reference::<4, 7>(0x5EED_0F02);
        rotator_matches_reference::<8, 16>(0x5EED_0F03);
        rotator_matches_reference::<32, 5>(0x5EED_0F04);
    }

    /// The generated Verilog names only existing inputs: every stage's
    /// index expressions evaluate at generation time.
    #[test]
    fn rotator_generates_verilog() {
        let mut uut = Bench::<8, 4>::default();
        uut.connect_all();
        check_all(&uut).unwrap();
        let v = generate_verilog(&uut);
        assert!(v.contains("module top"), "{v}");
    }
}
