//! EXPAND's codebook and the second stage of its element pipeline.
//!
//! The expander writes the codebook one entry a cycle, then emits one
//! element a cycle: a zero, or entry `index`, whose read the RAM answers
//! the cycle after. In that second cycle an element at an even position
//! is held, and one at an odd position leaves with it as the pair the
//! banks store: the banks take whole pairs, so a region is expanded in
//! pairs and its start and length are even.

use rust_hdl::prelude::*;
use rust_hdl::widgets::ramrom::ram::RAM;
use srsa_spec::expand::{MAX_ENTRIES, MAX_INDEX_BITS};

#[derive(LogicBlock, Default)]
pub struct Codebook {
    pub clock: Signal<In, Clock>,
    /// Store `write_data` as entry `write_at`.
    pub write: Signal<In, Bit>,
    pub write_at: Signal<In, Bits<8>>,
    pub write_data: Signal<In, Bits<16>>,
    /// Emit the element at `at`: a zero, or entry `index`.
    pub emit: Signal<In, Bit>,
    pub zero: Signal<In, Bit>,
    pub index: Signal<In, Bits<8>>,
    pub at: Signal<In, Bits<24>>,
    /// A pair is complete: `pair_word` (the odd element high) belongs at
    /// `pair_elem`, the even element's position.
    pub pair_write: Signal<Out, Bit>,
    pub pair_elem: Signal<Out, Bits<24>>,
    pub pair_word: Signal<Out, Bits<32>>,

    book: RAM<Bits<16>, 8>,
    e_valid: DFF<Bit>,
    e_zero: DFF<Bit>,
    e_odd: DFF<Bit>,
    e_elem: DFF<Bits<24>>,
    lo: DFF<Bits<16>>,
    value: Signal<Local, Bits<16>>,
}

// The RAM has 2^8 entries.
const _: () = assert!(MAX_ENTRIES <= 256 && MAX_INDEX_BITS <= 8);

impl Logic for Codebook {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, e_valid, e_zero, e_odd, e_elem, lo);
        self.book.read_clock.next = self.clock.val();
        self.book.write_clock.next = self.clock.val();
        self.book.write_enable.next = self.write.val();
        self.book.write_address.next = self.write_at.val();
        self.book.write_data.next = self.write_data.val();
        self.book.read_address.next = self.index.val();

        self.value.next = self.book.read_data.val();
        if self.e_zero.q.val() {
            self.value.next = 0.into();
        }
        self.e_valid.d.next = false;
        if self.e_valid.q.val() & !self.e_odd.q.val() {
            self.lo.d.next = self.value.val();
        }
        self.pair_write.next = self.e_valid.q.val() & self.e_odd.q.val();
        self.pair_elem.next = self.e_elem.q.val() - 1;
        self.pair_word.next =
            (bit_cast::<32, 16>(self.value.val()) << 16) | bit_cast::<32, 16>(self.lo.q.val());
        if self.emit.val() {
            self.e_valid.d.next = true;
            self.e_zero.d.next = self.zero.val();
            self.e_odd.d.next = self.at.val().get_bit(0);
            self.e_elem.d.next = self.at.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbench::{run_plan, Clocked};
    use rand::{Rng, SeedableRng};

    impl Clocked for Codebook {
        fn clock_signal(&mut self) -> &mut Signal<In, Clock> {
            &mut self.clock
        }
        fn clock_high(&self) -> bool {
            self.clock.val().clk
        }
    }

    #[derive(Clone, Copy, Default)]
    struct Drive {
        write: Option<(u8, u16)>,
        emit: Option<(Option<u8>, u32)>,
    }

    /// A random codebook written entry by entry, then elements emitted
    /// at consecutive positions from an even start, with idle cycles
    /// between some: each odd element must leave with the even one
    /// before it, the pair's word and position as the spec's expand
    /// stores them.
    #[test]
    fn codebook_pairs_elements() {
        let seed = 0x5EED_0E02u64;
        println!("seed {seed:#x}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let entries = rng.gen_range(1..=MAX_ENTRIES as usize);
        let book: Vec<u16> = (0..entries).map(|_| rng.gen()).collect();
        let mut plan: Vec<Drive> = (0..entries)
            .map(|i| Drive {
                write: Some((i as u8, book[i])),
                emit: None,
            })
            .collect();
        let start = rng.gen_range(0..1000u32) * 2;
        let mut want = vec![];
        let mut even = 0;
        for p in 0..400u32 {
            while rng.gen_bool(0.2) {
                plan.push(Drive::default());
            }
            let index = (!rng.gen_bool(0.3)).then(|| rng.gen_range(0..entries) as u8);
            let value = index.map_or(0, |i| book[i as usize]);
            if p % 2 == 0 {
                even = value;
            } else {
                want.push((start + p - 1, (value as u32) << 16 | even as u32));
            }
            plan.push(Drive {
                write: None,
                emit: Some((index, start + p)),
            });
        }
        plan.push(Drive::default());
        let seen = run_plan(
            Codebook::default(),
            plan,
            |d, x| {
                let (write, (at, data)) = (d.write.is_some(), d.write.unwrap_or_default());
                x.write.next = write;
                x.write_at.next = (at as u64).into();
                x.write_data.next = (data as u64).into();
                let (emit, (index, at)) = (d.emit.is_some(), d.emit.unwrap_or((None, 0)));
                x.emit.next = emit;
                x.zero.next = index.is_none();
                x.index.next = (index.unwrap_or(0) as u64).into();
                x.at.next = (at as u64).into();
            },
            |x| {
                x.pair_write.val().then(|| {
                    (
                        x.pair_elem.val().to_u64() as u32,
                        x.pair_word.val().to_u64() as u32,
                    )
                })
            },
        );
        let got: Vec<(u32, u32)> = seen.into_iter().flatten().collect();
        if let Some(i) = (0..want.len().max(got.len())).find(|&i| want.get(i) != got.get(i)) {
            panic!(
                "pair {i} of {}: got {:x?}, want {:x?}",
                want.len(),
                got.get(i),
                want.get(i)
            );
        }
    }
}
