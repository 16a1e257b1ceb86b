//! The drain generator and its chain: when a tile's last feed step
//! enters the array, it names the R output rows of that tile, one a cycle,
//! and each name travels one column per cycle beside the finished sums,
//! so column c's output stage learns, with its sum, where to read C_in
//! and write the result. Rows of a tile are `stride` bank rows apart (the
//! tile columns of the output).

use crate::dffs;
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct Drain<const R: usize, const C: usize, const DC: usize> {
    pub clock: Signal<In, Clock>,
    /// Abandons a drain under way (the chain empties by itself).
    pub reset: Signal<In, Bit>,
    /// A tile's last feed step: its first row's C_in and output addresses.
    pub start: Signal<In, Bit>,
    pub cin_start: Signal<In, Bits<DC>>,
    pub out_start: Signal<In, Bits<DC>>,
    pub stride: Signal<In, Bits<16>>,
    /// Column c's output stage takes a sum this cycle, for these rows.
    pub take: [Signal<Out, Bit>; C],
    pub cin_addr: [Signal<Out, Bits<DC>>; C],
    pub out_addr: [Signal<Out, Bits<DC>>; C],

    active: DFF<Bit>,
    row: DFF<Bits<8>>,
    cin: DFF<Bits<DC>>,
    out: DFF<Bits<DC>>,
    d_valid: Vec<DFF<Bit>>,
    d_cin: Vec<DFF<Bits<DC>>>,
    d_out: Vec<DFF<Bits<DC>>>,
    last_row: Constant<Bits<8>>,
}

impl<const R: usize, const C: usize, const DC: usize> Default for Drain<R, C, DC> {
    fn default() -> Self {
        assert!(R <= 256, "a drain counts its rows in 8 bits");
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            cin_start: Default::default(),
            out_start: Default::default(),
            stride: Default::default(),
            take: std::array::from_fn(|_| Default::default()),
            cin_addr: std::array::from_fn(|_| Default::default()),
            out_addr: std::array::from_fn(|_| Default::default()),
            active: Default::default(),
            row: Default::default(),
            cin: Default::default(),
            out: Default::default(),
            d_valid: dffs(C),
            d_cin: dffs(C),
            d_out: dffs(C),
            last_row: Constant::new(((R - 1) as u64).into()),
        }
    }
}

impl<const R: usize, const C: usize, const DC: usize> Logic for Drain<R, C, DC> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, active, row, cin, out);
        for c in 0..C {
            self.d_valid[c].clock.next = self.clock.val();
            self.d_cin[c].clock.next = self.clock.val();
            self.d_out[c].clock.next = self.clock.val();
        }
        self.d_valid[0].d.next = self.active.q.val();
        self.d_cin[0].d.next = self.cin.q.val();
        self.d_out[0].d.next = self.out.q.val();
        for c in 1..C {
            self.d_valid[c].d.next = self.d_valid[c - 1].q.val();
            self.d_cin[c].d.next = self.d_cin[c - 1].q.val();
            self.d_out[c].d.next = self.d_out[c - 1].q.val();
        }
        for c in 0..C {
            self.take[c].next = self.d_valid[c].q.val();
            self.cin_addr[c].next = self.d_cin[c].q.val();
            self.out_addr[c].next = self.d_out[c].q.val();
        }
        if self.active.q.val() {
            self.row.d.next = self.row.q.val() + 1;
            self.cin.d.next = self.cin.q.val() + bit_cast::<DC, 16>(self.stride.val());
            self.out.d.next = self.out.q.val() + bit_cast::<DC, 16>(self.stride.val());
            if self.row.q.val() == self.last_row.val() {
                self.active.d.next = false;
            }
        }
        if self.start.val() {
            self.active.d.next = true;
            self.row.d.next = 0.into();
            self.cin.d.next = self.cin_start.val();
            self.out.d.next = self.out_start.val();
        }
        if self.reset.val() {
            self.active.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbench::{run_plan, Clocked};
    use rand::{Rng, SeedableRng};

    impl<const R: usize, const C: usize, const DC: usize> Clocked for Drain<R, C, DC> {
        fn clock_signal(&mut self) -> &mut Signal<In, Clock> {
            &mut self.clock
        }
        fn clock_high(&self) -> bool {
            self.clock.val().clk
        }
    }

    #[derive(Clone, Copy, Default)]
    struct Drive {
        start: bool,
        reset: bool,
        cin: u64,
        out: u64,
        stride: u64,
    }

    /// Tiles' drains started at least R cycles apart, as the sequencer
    /// spaces them, some cut short by a reset: column c must see row i of
    /// a drain started at cycle t in cycle t + 2 + c + i, with its
    /// addresses i strides on from the start's, and nothing else.
    fn drains_name_each_row<const R: usize, const C: usize, const DC: usize>(seed: u64) {
        println!("{R}x{C}: seed {seed:#x}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mask = (1u64 << DC) - 1;
        let mut plan = vec![];
        // want[t][c]: Some((cin, out)) when column c takes in cycle t.
        let mut want: Vec<Vec<Option<(u64, u64)>>> = vec![];
        while plan.len() < 400 {
            let t0 = plan.len();
            let (cin, out, stride) = (
                rng.gen::<u64>() & mask,
                rng.gen::<u64>() & mask,
                rng.gen_range(1..64u64),
            );
            let rows = match rng.gen_bool(0.2) {
                true => rng.gen_range(0..R),
                false => R,
            };
            let span = R + rng.gen_range(0..4);
            for t in 0..span {
                plan.push(Drive {
                    start: t == 0,
                    reset: rows < R && t == rows,
                    cin,
                    out,
                    stride,
                });
            }
            want.resize(t0 + span + R + C + 4, vec![None; C]);
            for i in 0..rows {
                let step = i as u64 * stride;
                for c in 0..C {
                    want[t0 + 2 + c + i][c] = Some(((cin + step) & mask, (out + step) & mask));
                }
            }
        }
        plan.resize(want.len(), Drive::default());
        let seen = run_plan(
            Drain::<R, C, DC>::default(),
            plan,
            |d, x| {
                x.start.next = d.start;
                x.reset.next = d.reset;
                x.cin_start.next = d.cin.into();
                x.out_start.next = d.out.into();
                x.stride.next = d.stride.into();
            },
            |x| {
                (0..C)
                    .map(|c| {
                        x.take[c]
                            .val()
                            .then(|| (x.cin_addr[c].val().to_u64(), x.out_addr[c].val().to_u64()))
                    })
                    .collect::<Vec<_>>()
            },
        );
        for (t, (got, want)) in seen.iter().zip(&want).enumerate() {
            if let Some(c) = (0..C).find(|&c| got[c] != want[c]) {
                panic!(
                    "{R}x{C}, cycle {t}, column {c}: got {:?}, want {:?}",
                    got[c], want[c]
                );
            }
        }
    }

    #[test]
    fn drains_name_each_row_to_each_column() {
        drains_name_each_row::<4, 4, 6>(0x5EED_0D01);
        drains_name_each_row::<2, 8, 5>(0x5EED_0D02);
    }
}
