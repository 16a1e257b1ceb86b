//! The R x C output-stationary systolic array.
//!
//! Row r receives A (and the step flags) skewed by r cycles, column c
//! receives B skewed by c cycles; PE (r, c) then meets A[i][k] and B[k][j]
//! at cycle k + r + c. A tile's last step comes at least R cycles after the
//! previous tile's last step (the device keeps K fixed within a GEMM and
//! pads short tiles), so in each column at most one PE finishes per cycle
//! and a one-hot select replaces a drain chain. PEs are a flat `Vec` (index
//! r * C + c) because rust-hdl emits broken Verilog for nested block arrays.

use crate::pe::Pe;
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct Array<const R: usize, const C: usize> {
    pub clock: Signal<In, Clock>,
    pub a_in: [Signal<In, Bits<16>>; R],
    pub valid_in: [Signal<In, Bit>; R],
    pub first_in: [Signal<In, Bit>; R],
    pub last_in: [Signal<In, Bit>; R],
    pub b_in: [Signal<In, Bits<16>>; C],
    /// The finished sum of the PE in this column that completed this cycle
    /// (zero when none did; the device's drain chain knows when).
    pub col_sum: [Signal<Out, Bits<48>>; C],
    pub pe: Vec<Pe>,
    zero: Constant<Bits<48>>,
}

impl<const R: usize, const C: usize> Default for Array<R, C> {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            a_in: std::array::from_fn(|_| Default::default()),
            valid_in: std::array::from_fn(|_| Default::default()),
            first_in: std::array::from_fn(|_| Default::default()),
            last_in: std::array::from_fn(|_| Default::default()),
            b_in: std::array::from_fn(|_| Default::default()),
            col_sum: std::array::from_fn(|_| Default::default()),
            pe: (0..R * C).map(|_| Pe::default()).collect(),
            zero: Constant::new(0u64.into()),
        }
    }
}

impl<const R: usize, const C: usize> Logic for Array<R, C> {
    #[hdl_gen]
    fn update(&mut self) {
        // `w` brings C into scope for index arithmetic in generated Verilog.
        for w in C..(C + 1) {
            for r in 0..R {
                for c in 0..C {
                    self.pe[r * w + c].clock.next = self.clock.val();
                }
                self.pe[r * w].a_in.next = self.a_in[r].val();
                self.pe[r * w].valid_in.next = self.valid_in[r].val();
                self.pe[r * w].first_in.next = self.first_in[r].val();
                self.pe[r * w].last_in.next = self.last_in[r].val();
                for c in 1..C {
                    self.pe[r * w + c].a_in.next = self.pe[r * w + c - 1].a_out.val();
                    self.pe[r * w + c].valid_in.next = self.pe[r * w + c - 1].valid_out.val();
                    self.pe[r * w + c].first_in.next = self.pe[r * w + c - 1].first_out.val();
                    self.pe[r * w + c].last_in.next = self.pe[r * w + c - 1].last_out.val();
                }
            }
            for c in 0..C {
                self.pe[c].b_in.next = self.b_in[c].val();
                for r in 1..R {
                    self.pe[r * w + c].b_in.next = self.pe[(r - 1) * w + c].b_out.val();
                }
                self.col_sum[c].next = self.zero.val();
                for r in 0..R {
                    if self.pe[r * w + c].done.val() {
                        self.col_sum[c].next = self.pe[r * w + c].sum.val();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// What the testbench drives and expects in one cycle.
    #[derive(Clone)]
    struct Cycle<const R: usize, const C: usize> {
        /// Row r: (a, valid, first, last). With valid low the other fields
        /// are random garbage the array must ignore.
        row: [(u16, bool, bool, bool); R],
        /// Column c's B value (garbage when no step is in flight there).
        b: [u16; C],
        /// Column c's finished sum this cycle, if a PE of it finishes.
        want: [Option<i64>; C],
    }

    /// A schedule of random tiles, fed with the device's skew.
    ///
    /// Step k of a tile enters row r at t0 + k + r and column c at
    /// t0 + k + c, so PE (r, c) meets A[r][k] and B[k][c] at t0 + k + r + c
    /// and finishes at t_last + r + c (t_last = t0 + K - 1). Tiles with
    /// equal K spaced max(K, R) apart (the device's rule) are a special case
    /// of the rule used here for mixed K: a tile starts after the previous
    /// one's last step, and last steps are at least R cycles apart (so each
    /// column finishes at most one sum per cycle).
    fn schedule<const R: usize, const C: usize>(
        seed: u64,
        tiles: usize,
    ) -> (Vec<Cycle<R, C>>, usize) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut plan = Vec::new(); // (t0, K, A as R x K, B as K x C)
        let mut prev_last: Option<usize> = None;
        for i in 0..tiles {
            let k = rng.gen_range(1..=9usize);
            let mut t0 = match prev_last {
                None => 3,
                Some(p) => (p + 1).max(p + R + 1 - k),
            };
            if rng.gen_bool(0.2) {
                t0 += rng.gen_range(1..4);
            }
            let extreme = i == 0 || rng.gen_bool(0.05);
            let val = |rng: &mut rand::rngs::StdRng| -> i16 {
                if extreme {
                    i16::MIN // -32768 * -32768 = 2^30, the largest product
                } else if rng.gen_bool(0.05) {
                    [i16::MIN, i16::MAX, 0, -1][rng.gen_range(0..4)]
                } else {
                    rng.gen()
                }
            };
            let a: Vec<Vec<i16>> = (0..R)
                .map(|_| (0..k).map(|_| val(&mut rng)).collect())
                .collect();
            let b: Vec<Vec<i16>> = (0..k)
                .map(|_| (0..C).map(|_| val(&mut rng)).collect())
                .collect();
            plan.push((t0, k, a, b));
            prev_last = Some(t0 + k - 1);
        }
        let cycles = prev_last.unwrap() + R + C + 4;
        let mut v: Vec<Cycle<R, C>> = (0..cycles)
            .map(|_| Cycle {
                row: std::array::from_fn(|_| (rng.gen(), false, rng.gen(), rng.gen())),
                b: std::array::from_fn(|_| rng.gen()),
                want: [None; C],
            })
            .collect();
        let mut row_used = vec![[false; R]; cycles];
        let mut col_used = vec![[false; C]; cycles];
        let mut finished = 0;
        for (t0, k, a, b) in &plan {
            let t_last = t0 + k - 1;
            for s in 0..*k {
                for r in 0..R {
                    let t = t0 + s + r;
                    assert!(!row_used[t][r], "schedule overlaps in row {r}");
                    row_used[t][r] = true;
                    v[t].row[r] = (a[r][s] as u16, true, s == 0, s == k - 1);
                }
                for c in 0..C {
                    let t = t0 + s + c;
                    assert!(!col_used[t][c], "schedule overlaps in column {c}");
                    col_used[t][c] = true;
                    v[t].b[c] = b[s][c] as u16;
                }
            }
            for (r, a_row) in a.iter().enumerate() {
                for c in 0..C {
                    let exact: i64 = a_row
                        .iter()
                        .zip(b)
                        .map(|(&x, y)| x as i64 * y[c] as i64)
                        .sum();
                    let t = t_last + r + c;
                    assert!(v[t].want[c].is_none(), "two sums in column {c} at {t}");
                    v[t].want[c] = Some(exact);
                    finished += 1;
                }
            }
        }
        (v, finished)
    }

    fn check_array<const R: usize, const C: usize>(seed: u64, tiles: usize) {
        println!("Array<{R}, {C}> seed {seed:#x}");
        let (cycles, finished) = schedule::<R, C>(seed, tiles);
        let max_time = cycles.len() as u64 * 10 + 100;
        let mut uut = Array::<R, C>::default();
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Array<R, C>>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<Array<R, C>>| {
            let mut x = sim.init()?;
            let mut checked = 0usize;
            for (t, cy) in cycles.iter().enumerate() {
                for r in 0..R {
                    let (a, valid, first, last) = cy.row[r];
                    x.a_in[r].next = (a as u64).into();
                    x.valid_in[r].next = valid;
                    x.first_in[r].next = first;
                    x.last_in[r].next = last;
                }
                for c in 0..C {
                    x.b_in[c].next = (cy.b[c] as u64).into();
                }
                x = sim.wait(1, x)?;
                for c in 0..C {
                    let got = ((x.col_sum[c].val().to_u64() << 16) as i64) >> 16;
                    let want = cy.want[c].unwrap_or(0);
                    if got != want {
                        println!(
                            "cycle {t} column {c}: col_sum {got}, expected {want} ({})",
                            if cy.want[c].is_some() {
                                "a PE finishes"
                            } else {
                                "no PE finishes"
                            }
                        );
                        return sim.halt(x);
                    }
                    checked += cy.want[c].is_some() as usize;
                }
                wait_clock_true!(sim, clock, x);
                wait_clock_false!(sim, clock, x);
            }
            sim_assert_eq!(sim, checked, finished, x);
            sim.done(x)
        });
        sim.run(Box::new(uut), max_time).unwrap();
    }

    /// Random tiles (K = 1..=9, some K < N, back to back and with gaps)
    /// through a 4x4 array: every finished sum is exact, appears on its
    /// column at t_last + r + c, and col_sum is zero in every other cycle.
    #[test]
    fn array4_sums_exactly_with_skewed_feed() {
        check_array::<4, 4>(0x5EED_0004, 300);
    }

    #[test]
    fn array2_sums_exactly_with_skewed_feed() {
        check_array::<2, 2>(0x5EED_0005, 300);
    }

    /// Rectangular both ways: fewer rows than columns (the iCE40's 2 x 4)
    /// and more.
    #[test]
    fn rectangular_arrays_sum_exactly() {
        check_array::<2, 4>(0x5EED_0006, 200);
        check_array::<4, 2>(0x5EED_0007, 200);
    }
}
