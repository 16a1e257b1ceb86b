//! A column's output stage: takes the sum that the column finished, adds
//! the aligned C_in read from the column's C bank, rounds once with the
//! column's LFSR, and writes the word back.
//!
//! Cycle X: `take` with the sum and the output address (the C_in read is
//! issued by the device at the same cycle). Cycle X+1: C_in has arrived;
//! round, write, and advance the LFSR (once per output, in every mode).

use crate::lfsr::Lfsr;
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
    pub acc_init: Signal<In, Bit>,
    pub align: Signal<In, Bits<5>>,
    pub shift: Signal<In, Bits<5>>,
    pub mode: Signal<In, Bits<2>>,
    pub relu: Signal<In, Bit>,
    pub seed_load: Signal<In, Bit>,
    /// The generator's three component words (separate ports: rust-hdl
    /// cannot index a port array of an element of a block array).
    pub seed0: Signal<In, Bits<32>>,
    pub seed1: Signal<In, Bits<32>>,
    pub seed2: Signal<In, Bits<32>>,
    pub write_enable: Signal<Out, Bit>,
    pub write_address: Signal<Out, Bits<D>>,
    pub write_data: Signal<Out, Bits<16>>,
    lfsr: Lfsr,
    round: RoundingUnit,
    valid: DFF<Bit>,
    held_sum: DFF<Bits<48>>,
    held_addr: DFF<Bits<D>>,
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
            acc_init: Default::default(),
            align: Default::default(),
            shift: Default::default(),
            mode: Default::default(),
            relu: Default::default(),
            seed_load: Default::default(),
            seed0: Default::default(),
            seed1: Default::default(),
            seed2: Default::default(),
            write_enable: Default::default(),
            write_address: Default::default(),
            write_data: Default::default(),
            lfsr: Lfsr::new(COMPONENTS, lfsr_init),
            round: Default::default(),
            valid: Default::default(),
            held_sum: Default::default(),
            held_addr: Default::default(),
            cin_wide: Default::default(),
            sign_fill: Constant::new(0xFFFF_FFFF_0000u64.into()),
        }
    }
}

impl<const D: usize> Logic for OutputStage<D> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, valid, held_sum, held_addr);
        self.lfsr.clock.next = self.clock.val();
        self.valid.d.next = self.take.val();
        if self.take.val() {
            self.held_sum.d.next = self.sum.val();
            self.held_addr.d.next = self.out_addr.val();
        }
        // C_in sign-extended to 48 bits, then aligned to the product's FL.
        self.cin_wide.next = bit_cast::<48, 16>(self.cin.val());
        if self.cin.val().get_bit(15) {
            self.cin_wide.next = bit_cast::<48, 16>(self.cin.val()) | self.sign_fill.val();
        }
        self.round.value.next = self.held_sum.q.val();
        if self.acc_init.val() {
            self.round.value.next =
                self.held_sum.q.val() + (self.cin_wide.val() << self.align.val());
        }
        self.round.shift.next = self.shift.val();
        self.round.mode.next = self.mode.val();
        self.round.relu.next = self.relu.val();
        self.round.draw.next = self.lfsr.draw.val();
        self.lfsr.advance.next = self.valid.q.val();
        self.lfsr.load.next = self.seed_load.val();
        self.lfsr.seed[0].next = self.seed0.val();
        self.lfsr.seed[1].next = self.seed1.val();
        self.lfsr.seed[2].next = self.seed2.val();
        self.write_enable.next = self.valid.q.val();
        self.write_address.next = self.held_addr.q.val();
        self.write_data.next = self.round.out.val();
    }
}
