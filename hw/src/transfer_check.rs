//! The check of a WRITE's or READ's address word against its header's
//! payload words, in the order of srsa_spec::protocol::decode_transfer:
//! the status the command answers with, and the width code the transfer
//! takes. Combinational.

use crate::constant;
use rust_hdl::prelude::*;
use srsa_spec::protocol::{feature, Buffer, Status, Width, BUFFER_FROM, PRUNE_BIT, WIDTH_FROM};

#[derive(LogicBlock)]
pub struct TransferCheck {
    /// An address word can arrive this cycle. Otherwise the outputs are an
    /// inert Ok and code 0: the check is evaluated only while enabled
    /// (Verilator skips an untaken branch, and the check is needed nowhere
    /// else).
    pub enable: Signal<In, Bit>,
    pub word: Signal<In, Bits<32>>,
    /// The header's payload words.
    pub words: Signal<In, Bits<24>>,
    /// The command is a WRITE (else a READ).
    pub write: Signal<In, Bit>,
    /// The word's width code (srsa_spec::protocol::Width), meaningful
    /// when `status` is Ok.
    pub code: Signal<Out, Bits<2>>,
    pub status: Signal<Out, Bits<8>>,
    /// Elements the transfer's words cover, and where its region ends.
    span: Signal<Local, Bits<32>>,
    region_end: Signal<Local, Bits<32>>,
    capacity: Constant<Bits<32>>,
    max_buffer: Constant<Bits<4>>,
    has_packed: Constant<Bit>,
    has_mask: Constant<Bit>,
    prune_bit: Constant<Bits<8>>,
    buf_c: Constant<Bits<4>>,
    w8: Constant<Bits<2>>,
    w4: Constant<Bits<2>>,
    width_from: Constant<Bits<8>>,
    width_hi: Constant<Bits<8>>,
    buffer_from: Constant<Bits<8>>,
    st_ok: Constant<Bits<8>>,
    st_bad_format: Constant<Bits<8>>,
    st_bad_buffer: Constant<Bits<8>>,
    st_bad_address: Constant<Bits<8>>,
    st_bad_size: Constant<Bits<8>>,
}

impl TransferCheck {
    /// For buffers of `capacity` elements on a device with the operand
    /// paths `features` (packed widths and the prune flag are features).
    pub fn new(capacity: u32, features: u32) -> Self {
        Self {
            enable: Default::default(),
            word: Default::default(),
            words: Default::default(),
            write: Default::default(),
            code: Default::default(),
            status: Default::default(),
            span: Default::default(),
            region_end: Default::default(),
            capacity: constant(capacity as u64),
            max_buffer: constant(Buffer::C as u64),
            has_packed: Constant::new(features & feature::PACKED != 0),
            has_mask: Constant::new(features & feature::MASK != 0),
            prune_bit: constant(PRUNE_BIT as u64),
            buf_c: constant(Buffer::C as u64),
            w8: constant(Width::W8 as u64),
            w4: constant(Width::W4 as u64),
            width_from: constant(WIDTH_FROM as u64),
            width_hi: constant(WIDTH_FROM as u64 + 2),
            buffer_from: constant(BUFFER_FROM as u64),
            st_ok: constant(Status::Ok as u64),
            st_bad_format: constant(Status::BadFormat as u64),
            st_bad_buffer: constant(Status::BadBuffer as u64),
            st_bad_address: constant(Status::BadAddress as u64),
            st_bad_size: constant(Status::BadSize as u64),
        }
    }
}

impl Logic for TransferCheck {
    #[hdl_gen]
    fn update(&mut self) {
        // The last verdict that applies wins: the spec's first check is
        // assigned last.
        self.code.next = 0.into();
        self.span.next = 0.into();
        self.region_end.next = 0.into();
        self.status.next = self.st_ok.val();
        if self.enable.val() {
            self.code.next = bit_cast::<2, 32>(self.word.val() >> self.width_from.val());
            self.span.next = bit_cast::<32, 24>(self.words.val()) << 1;
            if self.word.val().get_bit(0) {
                self.status.next = self.st_bad_address.val();
            }
            // (Behind `has_packed`: a board without packing builds neither.)
            if self.has_packed.val() & (self.code.val() == self.w8.val()) {
                self.span.next = bit_cast::<32, 24>(self.words.val()) << 2;
                if self.word.val().get_bits::<2>(0).any() {
                    self.status.next = self.st_bad_address.val();
                }
            }
            if self.has_packed.val() & (self.code.val() == self.w4.val()) {
                self.span.next = bit_cast::<32, 24>(self.words.val()) << 3;
                if self.word.val().get_bits::<3>(0).any() {
                    self.status.next = self.st_bad_address.val();
                }
            }
            self.region_end.next =
                bit_cast::<32, 24>(self.word.val().get_bits::<24>(0)) + self.span.val();
            if self.region_end.val() > self.capacity.val() {
                self.status.next = self.st_bad_address.val();
            }
            if self.words.val() == 0 {
                self.status.next = self.st_bad_size.val();
            }
            if bit_cast::<1, 32>(self.word.val() >> self.width_hi.val()).any()
                | (bit_cast::<1, 32>(self.word.val() >> self.prune_bit.val()).any()
                    & (!self.has_mask.val()
                        | !self.write.val()
                        | (bit_cast::<4, 32>(self.word.val() >> self.buffer_from.val())
                            != self.buf_c.val())))
                | self.code.val().all()
                | (!self.has_packed.val() & self.code.val().any())
            {
                self.status.next = self.st_bad_format.val();
            }
            if bit_cast::<4, 32>(self.word.val() >> self.buffer_from.val()) > self.max_buffer.val()
            {
                self.status.next = self.st_bad_buffer.val();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use srsa_spec::protocol::{address_word, decode_transfer, op};

    const CAP: u32 = 256;

    struct Case {
        write: bool,
        word: u32,
        words: u32,
        enable: bool,
    }

    /// Edge cases (every width code, every buffer code, odd and unaligned
    /// addresses, regions that end at and past the capacity, size 0, the
    /// prune bit on every buffer and both opcodes, each reserved bit), then
    /// random words; now and then a cycle with the check disabled.
    fn cases(seed: u64) -> Vec<Case> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut v = vec![];
        for write in [true, false] {
            for code in 0..8u32 {
                for buffer in [0, 1, 2, 3, 15] {
                    for address in [0, 1, 2, 3, 4, 6, 7, 8, CAP - 8, CAP - 2, CAP, 0xFF_FFFF] {
                        for words in [0, 1, 2, 3, 31, 32, CAP / 2, 0xFF_FFFF] {
                            for prune in [0, 1u32 << PRUNE_BIT] {
                                let word =
                                    prune | code << WIDTH_FROM | address_word(buffer, address);
                                v.push(Case {
                                    write,
                                    word,
                                    words,
                                    enable: true,
                                });
                            }
                        }
                    }
                }
            }
        }
        for _ in 0..20000 {
            let word = match rng.gen_range(0..3) {
                0 => rng.gen(),
                // A valid-looking word: small buffer and width codes, an
                // address within reach of the capacity.
                _ => {
                    rng.gen_range(0..4) << WIDTH_FROM
                        | address_word(rng.gen_range(0..4), rng.gen_range(0..CAP + 16))
                        | (rng.gen_bool(0.2) as u32) << PRUNE_BIT
                }
            };
            let words = match rng.gen_range(0..4) {
                0 => rng.gen_range(0..1 << 24),
                _ => rng.gen_range(0..CAP / 2 + 4),
            };
            v.push(Case {
                write: rng.gen_bool(0.5),
                word,
                words,
                enable: rng.gen_range(0..10) != 0,
            });
        }
        v
    }

    fn check_matches_spec(features: u32, seed: u64) {
        println!("features {features:#x}, seed {seed:#x}");
        let cases = cases(seed);
        let n = cases.len() as u64;
        let mut uut = TransferCheck::new(CAP, features);
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_testbench(move |mut sim: Sim<TransferCheck>| {
            let mut x = sim.init()?;
            for (i, c) in cases.iter().enumerate() {
                x.enable.next = c.enable;
                x.word.next = (c.word as u64).into();
                x.words.next = (c.words as u64).into();
                x.write.next = c.write;
                x = sim.wait(1, x)?;
                let opcode = if c.write { op::WRITE } else { op::READ };
                let (status, code) = match c.enable {
                    true => match decode_transfer(opcode, c.word, c.words, CAP, features) {
                        Ok(t) => (Status::Ok as u64, Some(t.width as u64)),
                        Err(e) => (e as u64, None),
                    },
                    false => (Status::Ok as u64, Some(0)),
                };
                let got = (x.status.val().to_u64(), x.code.val().to_u64());
                if got.0 != status || code.is_some_and(|c| c != got.1) {
                    panic!(
                        "case {i}: {} word {:#010x}, {} words, enabled {}: \
                         status {:#x} code {}, want {status:#x} code {code:?}",
                        if c.write { "WRITE" } else { "READ" },
                        c.word,
                        c.words,
                        c.enable,
                        got.0,
                        got.1
                    );
                }
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), n + 10).unwrap();
    }

    #[test]
    fn transfer_check_matches_spec_with_every_path() {
        check_matches_spec(feature::ALL, 0x5EED_0C01);
    }

    #[test]
    fn transfer_check_matches_spec_without_packing_or_mask() {
        check_matches_spec(0, 0x5EED_0C02);
        check_matches_spec(feature::PACKED, 0x5EED_0C03);
        check_matches_spec(feature::MASK, 0x5EED_0C04);
    }
}
