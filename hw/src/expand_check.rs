//! EXPAND's argument check (srsa_spec::expand::decode_expand): the fields
//! of the address, size and codebook words, and the command's verdict.
//!
//! Combinational, and evaluated only while `enable` is high (the one
//! cycle the expander registers the verdict): Verilator skips an untaken
//! branch, and the check is needed in no other cycle. The fields are
//! always valid, since the expander uses them throughout the command.

use crate::constant;
use rust_hdl::prelude::*;
use srsa_spec::expand::{ENTRIES_BITS, INDEX_BITS_FROM, MAX_ENTRIES, MAX_INDEX_BITS};
use srsa_spec::protocol::{feature, Buffer, Status, BUFFER_FROM, PRUNE_BIT, WIDTH_FROM};

#[derive(LogicBlock)]
pub struct ExpandCheck {
    pub enable: Signal<In, Bit>,
    pub address_word: Signal<In, Bits<32>>,
    pub size_word: Signal<In, Bits<32>>,
    pub book_word: Signal<In, Bits<32>>,
    /// The payload words (the header's argument).
    pub payload: Signal<In, Bits<24>>,
    pub verdict: Signal<Out, Bits<8>>,

    /// 8-bit pairs (else 16-bit), index bits, the region's elements, its
    /// first element, and the codebook's entries.
    pub pair8: Signal<Out, Bit>,
    pub index_bits: Signal<Out, Bits<16>>,
    pub elems: Signal<Out, Bits<24>>,
    pub base: Signal<Out, Bits<24>>,
    pub entries: Signal<Out, Bits<16>>,

    capacity: Constant<Bits<32>>,
    has_mask: Constant<Bit>,
    buf_c: Constant<Bits<4>>,
    max_buffer: Constant<Bits<4>>,
    max_entries: Constant<Bits<16>>,
    max_index_bits: Constant<Bits<16>>,
    buffer_from: Constant<Bits<8>>,
    width_from: Constant<Bits<8>>,
    prune_bit: Constant<Bits<8>>,
    index_from: Constant<Bits<8>>,
    size_reserved_from: Constant<Bits<8>>,
    entries_bits: Constant<Bits<8>>,
    st_ok: Constant<Bits<8>>,
    st_bad_buffer: Constant<Bits<8>>,
    st_bad_address: Constant<Bits<8>>,
    st_bad_size: Constant<Bits<8>>,
    st_bad_format: Constant<Bits<8>>,
}

impl ExpandCheck {
    /// For buffers of `capacity` elements on a device with `features` (the
    /// prune flag needs the mask).
    pub fn new(capacity: u32, features: u32) -> Self {
        Self {
            enable: Default::default(),
            address_word: Default::default(),
            size_word: Default::default(),
            book_word: Default::default(),
            payload: Default::default(),
            verdict: Default::default(),
            pair8: Default::default(),
            index_bits: Default::default(),
            elems: Default::default(),
            base: Default::default(),
            entries: Default::default(),
            capacity: constant(capacity as u64),
            has_mask: Constant::new(features & feature::MASK != 0),
            buf_c: constant(Buffer::C as u64),
            max_buffer: constant(Buffer::C as u64),
            max_entries: constant(MAX_ENTRIES as u64),
            max_index_bits: constant(MAX_INDEX_BITS as u64),
            buffer_from: constant(BUFFER_FROM as u64),
            width_from: constant(WIDTH_FROM as u64),
            prune_bit: constant(PRUNE_BIT as u64),
            index_from: constant(INDEX_BITS_FROM as u64),
            size_reserved_from: constant(INDEX_BITS_FROM as u64 + 4),
            entries_bits: constant(ENTRIES_BITS as u64),
            st_ok: constant(Status::Ok as u64),
            st_bad_buffer: constant(Status::BadBuffer as u64),
            st_bad_address: constant(Status::BadAddress as u64),
            st_bad_size: constant(Status::BadSize as u64),
            st_bad_format: constant(Status::BadFormat as u64),
        }
    }
}

// The entry count's 16 bits hold every count the codebook word can name.
const _: () = assert!(ENTRIES_BITS <= 16);

impl Logic for ExpandCheck {
    #[hdl_gen]
    fn update(&mut self) {
        self.pair8.next = bit_cast::<1, 32>(self.address_word.val() >> self.width_from.val()).any();
        self.index_bits.next = bit_cast::<16, 4>(bit_cast::<4, 32>(
            self.size_word.val() >> self.index_from.val(),
        ));
        self.elems.next = self.size_word.val().get_bits::<24>(0);
        self.base.next = self.address_word.val().get_bits::<24>(0);
        self.entries.next = self.book_word.val().get_bits::<16>(0);

        // In decode_expand's order, reversed: the last assignment that
        // applies wins.
        self.verdict.next = self.st_ok.val();
        if self.enable.val() {
            if self.base.val().get_bit(0)
                | self.elems.val().get_bit(0)
                | (bit_cast::<32, 24>(self.base.val()) + bit_cast::<32, 24>(self.elems.val())
                    > self.capacity.val())
            {
                self.verdict.next = self.st_bad_address.val();
            }
            if !self.payload.val().any()
                | !self.elems.val().any()
                | !self.entries.val().any()
                | (self.entries.val() > self.max_entries.val())
                | (bit_cast::<24, 16>((self.entries.val() + 1) >> 1) >= self.payload.val())
            {
                self.verdict.next = self.st_bad_size.val();
            }
            if (bit_cast::<3, 32>(self.address_word.val() >> self.width_from.val()) > 1)
                | bit_cast::<1, 32>(self.address_word.val() >> self.prune_bit.val()).any()
                    & (!self.has_mask.val()
                        | (bit_cast::<4, 32>(self.address_word.val() >> self.buffer_from.val())
                            != self.buf_c.val()))
                | (self.size_word.val() >> self.size_reserved_from.val()).any()
                | (self.book_word.val() >> self.entries_bits.val()).any()
                | !self.index_bits.val().any()
                | (self.index_bits.val() > self.max_index_bits.val())
                | (self.pair8.val() & (self.index_bits.val() == self.max_index_bits.val()))
            {
                self.verdict.next = self.st_bad_format.val();
            }
            if bit_cast::<4, 32>(self.address_word.val() >> self.buffer_from.val())
                > self.max_buffer.val()
            {
                self.verdict.next = self.st_bad_buffer.val();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use srsa_spec::expand::decode_expand;
    use srsa_spec::protocol::EXPAND_ARGS;

    /// Argument words near every boundary decode_expand checks: widths,
    /// index bits, entry counts, odd and overflowing regions, reserved
    /// bits, the prune flag on each buffer, and payloads around the
    /// codebook's size.
    fn words(rng: &mut impl Rng, capacity: u32) -> ([u32; EXPAND_ARGS], u32) {
        let buffer = rng.gen_range(0..6u32);
        let width = if rng.gen_bool(0.9) {
            rng.gen_range(0..2u32)
        } else {
            rng.gen_range(2..8)
        };
        let prune = rng.gen_bool(0.3) as u32;
        let address = match rng.gen_range(0..4) {
            0 => rng.gen_range(0..capacity + 4),
            1 => capacity - 2,
            _ => rng.gen_range(0..capacity / 2) & !1,
        };
        let elems = match rng.gen_range(0..4) {
            0 => rng.gen_range(0..capacity + 4),
            1 => capacity - address.min(capacity),
            _ => (rng.gen_range(1..capacity / 2) & !1).max(2),
        };
        let index_bits = rng.gen_range(0..11u32);
        let entries = match rng.gen_range(0..5) {
            0 => rng.gen_range(0..600u32),
            1 => MAX_ENTRIES,
            2 => MAX_ENTRIES + 1,
            _ => rng.gen_range(1..40),
        };
        let mut w = [
            prune << PRUNE_BIT | buffer << BUFFER_FROM | width << WIDTH_FROM | address & 0xFF_FFFF,
            index_bits << INDEX_BITS_FROM | elems & 0xFF_FFFF,
            entries,
        ];
        if rng.gen_bool(0.05) {
            w[1] |= 1 << rng.gen_range(INDEX_BITS_FROM + 4..32);
        }
        if rng.gen_bool(0.05) {
            w[2] |= 1 << rng.gen_range(ENTRIES_BITS..32);
        }
        let book = entries.div_ceil(2);
        let payload = match rng.gen_range(0..4) {
            0 => 0,
            1 => book,
            2 => book + 1,
            _ => rng.gen_range(0..2000),
        };
        (w, payload & 0xFF_FFFF)
    }

    #[test]
    fn expand_check_matches_decode_expand() {
        let seed = 0x5EED_0E01u64;
        println!("seed {seed:#x}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let capacity = 1 << 12;
        for features in [feature::ALL, feature::ALL & !feature::MASK] {
            let cases: Vec<_> = (0..3000).map(|_| words(&mut rng, capacity)).collect();
            let mut uut = ExpandCheck::new(capacity, features);
            uut.connect_all();
            let mut sim = Simulation::new();
            let n = cases.len();
            sim.add_testbench(move |mut sim: Sim<ExpandCheck>| {
                let mut x = sim.init()?;
                for (i, (w, payload)) in cases.iter().enumerate() {
                    let enable = i % 5 != 4;
                    x.enable.next = enable;
                    x.address_word.next = (w[0] as u64).into();
                    x.size_word.next = (w[1] as u64).into();
                    x.book_word.next = (w[2] as u64).into();
                    x.payload.next = (*payload as u64).into();
                    x = sim.wait(1, x)?;
                    let want = match decode_expand(w, *payload, capacity, features) {
                        _ if !enable => Status::Ok,
                        Ok(_) => Status::Ok,
                        Err(s) => s,
                    } as u64;
                    let got = x.verdict.val().to_u64();
                    let fields = (
                        x.pair8.val(),
                        x.index_bits.val().to_u64(),
                        x.elems.val().to_u64(),
                        x.base.val().to_u64(),
                        x.entries.val().to_u64(),
                    );
                    let want_fields = (
                        w[0] >> WIDTH_FROM & 1 == 1,
                        (w[1] >> INDEX_BITS_FROM & 0xF) as u64,
                        (w[1] & 0xFF_FFFF) as u64,
                        (w[0] & 0xFF_FFFF) as u64,
                        (w[2] & 0xFFFF) as u64,
                    );
                    if got != want || fields != want_fields {
                        panic!(
                            "case {i} (features {features:#x}): words {w:#010x?}, payload \
                             {payload}: verdict {got}, fields {fields:?}; the spec says \
                             {want}, {want_fields:?}"
                        );
                    }
                }
                sim.done(x)
            });
            sim.run(Box::new(uut), n as u64 + 10).unwrap();
        }
    }
}
