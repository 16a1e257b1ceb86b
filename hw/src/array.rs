//! The N x N output-stationary systolic array.
//!
//! Row r receives A (and the step flags) skewed by r cycles, column c
//! receives B skewed by c cycles; PE (r, c) then meets A[i][k] and B[k][j]
//! at cycle k + r + c. Tiles follow each other at least N cycles apart, so
//! in each column at most one PE finishes per cycle and a one-hot select
//! replaces a drain chain. PEs are a flat `Vec` (index r * N + c) because
//! rust-hdl emits broken Verilog for nested block arrays.

use crate::pe::Pe;
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct Array<const N: usize> {
    pub clock: Signal<In, Clock>,
    pub a_in: [Signal<In, Bits<16>>; N],
    pub valid_in: [Signal<In, Bit>; N],
    pub first_in: [Signal<In, Bit>; N],
    pub last_in: [Signal<In, Bit>; N],
    pub b_in: [Signal<In, Bits<16>>; N],
    /// The finished sum of the PE in this column that completed this cycle
    /// (zero when none did; the device's drain chain knows when).
    pub col_sum: [Signal<Out, Bits<48>>; N],
    pub pe: Vec<Pe>,
    zero: Constant<Bits<48>>,
}

impl<const N: usize> Default for Array<N> {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            a_in: std::array::from_fn(|_| Default::default()),
            valid_in: std::array::from_fn(|_| Default::default()),
            first_in: std::array::from_fn(|_| Default::default()),
            last_in: std::array::from_fn(|_| Default::default()),
            b_in: std::array::from_fn(|_| Default::default()),
            col_sum: std::array::from_fn(|_| Default::default()),
            pe: (0..N * N).map(|_| Pe::default()).collect(),
            zero: Constant::new(0u64.into()),
        }
    }
}

impl<const N: usize> Logic for Array<N> {
    #[hdl_gen]
    fn update(&mut self) {
        // `n` brings N into scope for index arithmetic in generated Verilog.
        for n in N..(N + 1) {
            for r in 0..N {
                for c in 0..N {
                    self.pe[r * n + c].clock.next = self.clock.val();
                }
                self.pe[r * n].a_in.next = self.a_in[r].val();
                self.pe[r * n].valid_in.next = self.valid_in[r].val();
                self.pe[r * n].first_in.next = self.first_in[r].val();
                self.pe[r * n].last_in.next = self.last_in[r].val();
                for c in 1..N {
                    self.pe[r * n + c].a_in.next = self.pe[r * n + c - 1].a_out.val();
                    self.pe[r * n + c].valid_in.next = self.pe[r * n + c - 1].valid_out.val();
                    self.pe[r * n + c].first_in.next = self.pe[r * n + c - 1].first_out.val();
                    self.pe[r * n + c].last_in.next = self.pe[r * n + c - 1].last_out.val();
                }
            }
            for c in 0..N {
                self.pe[c].b_in.next = self.b_in[c].val();
                for r in 1..N {
                    self.pe[r * n + c].b_in.next = self.pe[(r - 1) * n + c].b_out.val();
                }
                self.col_sum[c].next = self.zero.val();
                for r in 0..N {
                    if self.pe[r * n + c].done.val() {
                        self.col_sum[c].next = self.pe[r * n + c].sum.val();
                    }
                }
            }
        }
    }
}
