//! A GEMM's shape and format words (words 0 to 2 of
//! srsa_spec::protocol::encode_gemm): their fields, the output stages'
//! conversion settings derived from them, and the checks that need no
//! region arithmetic, in decode_gemm's three groups.
//!
//! Combinational, and evaluated only while `enable` is high (the size
//! steps; every output is zero otherwise): `gemm_args` registers what it
//! needs from the fields and the verdict then, and a simulator skips an
//! untaken branch in every other cycle.

use crate::constant;
use rust_hdl::prelude::*;
use srsa_spec::numerics::{Rounding, MAX_FL, MAX_SHIFT, MIN_WL, WL};
use srsa_spec::protocol::{feature, MASK_FROM, MAX_K, PATHS_FROM, RESERVED_FROM, WL_FROM};

#[derive(LogicBlock)]
pub struct GemmFormat {
    pub enable: Signal<In, Bit>,
    pub word: [Signal<In, Bits<32>>; 3],

    pub m: Signal<Out, Bits<16>>,
    pub ncol: Signal<Out, Bits<16>>,
    pub k: Signal<Out, Bits<16>>,
    pub mode: Signal<Out, Bits<2>>,
    pub relu: Signal<Out, Bit>,
    pub acc_init: Signal<Out, Bit>,
    /// The mask bit and the operand paths asked for, each zero where the
    /// device lacks it (the check below refuses the GEMM then).
    pub masked: Signal<Out, Bit>,
    pub a_transposed: Signal<Out, Bit>,
    pub b_transposed: Signal<Out, Bit>,
    pub b_from_c: Signal<Out, Bit>,
    /// The output stages' right shift (FL_a + FL_b - FL_out), C_in's left
    /// alignment (FL_a + FL_b - FL_c), and the bits a WL_out-bit output's
    /// sign fills (all 16 on a device without narrow outputs).
    pub shift: Signal<Out, Bits<5>>,
    pub align: Signal<Out, Bits<5>>,
    pub sign_bits: Signal<Out, Bits<16>>,

    /// decode_gemm's groups, first to last: a bad mode, a reserved bit or a
    /// feature refused; a bad size; a bad format. Each only if `enable`.
    pub bad_request: Signal<Out, Bit>,
    pub bad_size: Signal<Out, Bit>,
    pub bad_format: Signal<Out, Bit>,

    fl_a: Signal<Local, Bits<16>>,
    fl_b: Signal<Local, Bits<16>>,
    fl_c: Signal<Local, Bits<16>>,
    fl_out: Signal<Local, Bits<16>>,
    fl_ab: Signal<Local, Bits<16>>,
    wl_out: Signal<Local, Bits<16>>,
    g_masked: Signal<Local, Bit>,
    /// Word 1's three path bits.
    asked: Signal<Local, Bits<3>>,

    has_at: Constant<Bit>,
    has_bt: Constant<Bit>,
    has_bc: Constant<Bit>,
    has_wl: Constant<Bit>,
    has_mask: Constant<Bit>,
    mask_from: Constant<Bits<8>>,
    path_from: Constant<Bits<8>>,
    reserved_from: Constant<Bits<8>>,
    wl_from: Constant<Bits<8>>,
    full_sign: Constant<Bits<16>>,
    ones16: Constant<Bits<16>>,
    min_wl: Constant<Bits<16>>,
    max_wl: Constant<Bits<16>>,
    max_fl: Constant<Bits<16>>,
    max_shift: Constant<Bits<16>>,
    max_k: Constant<Bits<16>>,
    mode_truncate: Constant<Bits<2>>,
    mode_nearest: Constant<Bits<2>>,
    mode_stochastic: Constant<Bits<2>>,
}

impl GemmFormat {
    /// The format check of a device with `features`.
    pub fn new(features: u32) -> Self {
        let has = |f: u32| Constant::new(features & f != 0);
        Self {
            enable: Default::default(),
            word: Default::default(),
            m: Default::default(),
            ncol: Default::default(),
            k: Default::default(),
            mode: Default::default(),
            relu: Default::default(),
            acc_init: Default::default(),
            masked: Default::default(),
            a_transposed: Default::default(),
            b_transposed: Default::default(),
            b_from_c: Default::default(),
            shift: Default::default(),
            align: Default::default(),
            sign_bits: Default::default(),
            bad_request: Default::default(),
            bad_size: Default::default(),
            bad_format: Default::default(),
            fl_a: Default::default(),
            fl_b: Default::default(),
            fl_c: Default::default(),
            fl_out: Default::default(),
            fl_ab: Default::default(),
            wl_out: Default::default(),
            g_masked: Default::default(),
            asked: Default::default(),
            has_at: has(feature::A_TRANSPOSED),
            has_bt: has(feature::B_TRANSPOSED),
            has_bc: has(feature::B_FROM_C),
            has_wl: has(feature::WORD_LENGTH),
            has_mask: has(feature::MASK),
            mask_from: constant(MASK_FROM as u64),
            path_from: constant(PATHS_FROM as u64),
            reserved_from: constant(RESERVED_FROM as u64),
            wl_from: constant(WL_FROM as u64),
            full_sign: constant(crate::rounding::sign_bits(WL as u8) as u64),
            ones16: constant(0xFFFF),
            min_wl: constant(MIN_WL as u64),
            max_wl: constant(WL as u64),
            max_fl: constant(MAX_FL as u64),
            max_shift: constant(MAX_SHIFT as u64),
            max_k: constant(MAX_K as u64),
            mode_truncate: constant(Rounding::Truncate.code() as u64),
            mode_nearest: constant(Rounding::Nearest.code() as u64),
            mode_stochastic: constant(Rounding::Stochastic.code() as u64),
        }
    }
}

impl Logic for GemmFormat {
    #[hdl_gen]
    fn update(&mut self) {
        // Zero outside the size steps: nothing reads the fields then, and a
        // simulator skips the untaken branch in every cycle of a GEMM.
        self.m.next = 0.into();
        self.ncol.next = 0.into();
        self.k.next = 0.into();
        self.mode.next = 0.into();
        self.relu.next = false;
        self.acc_init.next = false;
        self.fl_a.next = 0.into();
        self.fl_b.next = 0.into();
        self.fl_c.next = 0.into();
        self.fl_out.next = 0.into();
        self.fl_ab.next = 0.into();
        self.shift.next = 0.into();
        self.align.next = 0.into();
        self.wl_out.next = 0.into();
        self.sign_bits.next = 0.into();
        self.g_masked.next = false;
        self.masked.next = false;
        self.asked.next = 0.into();
        self.a_transposed.next = false;
        self.b_transposed.next = false;
        self.b_from_c.next = false;
        self.bad_request.next = false;
        self.bad_size.next = false;
        self.bad_format.next = false;
        if self.enable.val() {
            self.m.next = self.word[0].val().get_bits::<16>(0);
            self.ncol.next = self.word[0].val().get_bits::<16>(16);
            self.k.next = self.word[1].val().get_bits::<16>(0);
            self.mode.next = self.word[1].val().get_bits::<2>(16);
            self.relu.next = self.word[1].val().get_bit(18);
            self.acc_init.next = self.word[1].val().get_bit(19);
            self.fl_a.next = bit_cast::<16, 8>(self.word[2].val().get_bits::<8>(0));
            self.fl_b.next = bit_cast::<16, 8>(self.word[2].val().get_bits::<8>(8));
            self.fl_c.next = bit_cast::<16, 8>(self.word[2].val().get_bits::<8>(16));
            self.fl_out.next = bit_cast::<16, 8>(self.word[2].val().get_bits::<8>(24));
            self.fl_ab.next = self.fl_a.val() + self.fl_b.val();
            self.shift.next = bit_cast::<5, 16>(self.fl_ab.val() - self.fl_out.val());
            self.align.next = bit_cast::<5, 16>(self.fl_ab.val() - self.fl_c.val());
            self.wl_out.next =
                bit_cast::<16, 5>(bit_cast::<5, 32>(self.word[1].val() >> self.wl_from.val()));
            // An out-of-range WL is refused below, so its mask is a don't-care.
            self.sign_bits.next = self.ones16.val() << (self.wl_out.val() - 1);
            if !self.has_wl.val() {
                self.sign_bits.next = self.full_sign.val();
            }
            self.g_masked.next =
                bit_cast::<1, 32>(self.word[1].val() >> self.mask_from.val()).any();
            self.masked.next = self.g_masked.val() & self.has_mask.val();
            // (Bit positions as shifts by constants: generated Verilog cannot
            // name a Rust constant in an index.)
            self.asked.next = bit_cast::<3, 32>(self.word[1].val() >> self.path_from.val());
            self.a_transposed.next = self.asked.val().get_bit(0) & self.has_at.val();
            self.b_transposed.next = self.asked.val().get_bit(1) & self.has_bt.val();
            self.b_from_c.next = self.asked.val().get_bit(2) & self.has_bc.val();
            self.bad_request.next = ((self.mode.val() != self.mode_truncate.val())
                & (self.mode.val() != self.mode_nearest.val())
                & (self.mode.val() != self.mode_stochastic.val()))
                | (self.word[1].val() >> self.reserved_from.val()).any()
                | (self.asked.val().get_bit(0) & !self.has_at.val())
                | (self.asked.val().get_bit(1) & !self.has_bt.val())
                | (self.asked.val().get_bit(2) & !self.has_bc.val())
                | ((self.wl_out.val() != self.max_wl.val()) & !self.has_wl.val())
                // C's read port cannot serve both B and C_in.
                | (self.asked.val().get_bit(2) & self.acc_init.val())
                // The mask is C_in's.
                | (self.g_masked.val() & !(self.has_mask.val() & self.acc_init.val()));
            self.bad_size.next = (self.m.val() == 0)
                | (self.ncol.val() == 0)
                | (self.k.val() == 0)
                | (self.k.val() > self.max_k.val());
            self.bad_format.next = (self.wl_out.val() < self.min_wl.val())
                | (self.wl_out.val() > self.max_wl.val())
                | (self.fl_a.val() > self.max_fl.val())
                | (self.fl_b.val() > self.max_fl.val())
                | (self.fl_c.val() > self.max_fl.val())
                | (self.fl_out.val() > self.max_fl.val())
                | (self.fl_out.val() > self.fl_ab.val())
                | (self.fl_ab.val() > self.fl_out.val() + self.max_shift.val())
                | (self.acc_init.val()
                    & ((self.fl_c.val() > self.fl_ab.val())
                        | (self.fl_ab.val() > self.fl_c.val() + self.max_shift.val())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use srsa_spec::numerics::Formats;
    use srsa_spec::protocol::{decode_gemm, encode_gemm, Gemm, Status, GEMM_ARGS};

    /// Words 0 to 2 of random GEMMs, a third of them with random bits
    /// flipped, and bases 0: decode_gemm's verdict (an address error aside,
    /// which needs the regions) must be the first group the block flags,
    /// and a GEMM it accepts must have the block's fields.
    #[test]
    fn gemm_format_matches_decode_gemm() {
        let seed = 0x5EED_0F01u64;
        println!("seed {seed:#x}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for features in [feature::ALL, 0, feature::PATHS, feature::MASK] {
            let mut cases = vec![];
            for _ in 0..4000 {
                let fl = |rng: &mut rand::rngs::StdRng| rng.gen_range(0..20u8);
                let formats = Formats {
                    fl_a: fl(&mut rng),
                    fl_b: fl(&mut rng),
                    fl_c: fl(&mut rng),
                    fl_out: fl(&mut rng),
                    wl_out: if rng.gen_bool(0.5) {
                        16
                    } else {
                        rng.gen_range(0..20)
                    },
                };
                let dim = |rng: &mut rand::rngs::StdRng| match rng.gen_range(0..8) {
                    0 => 0,
                    1 => 0xFFFF,
                    _ => rng.gen_range(1..300),
                };
                let mut g = Gemm::plain(
                    dim(&mut rng),
                    dim(&mut rng),
                    dim(&mut rng),
                    Rounding::ALL[rng.gen_range(0..3)],
                    formats,
                );
                g.relu = rng.gen();
                g.acc_init = rng.gen();
                g.masked = rng.gen_bool(0.2);
                g.a_transposed = rng.gen_bool(0.2);
                g.b_transposed = rng.gen_bool(0.2);
                g.b_from_c = rng.gen_bool(0.2);
                let mut w: [u32; GEMM_ARGS] = encode_gemm(&g);
                if rng.gen_bool(0.3) {
                    w[rng.gen_range(0..3)] ^= 1 << rng.gen_range(0..32);
                }
                cases.push(w);
            }
            let mut uut = GemmFormat::new(features);
            uut.connect_all();
            let mut sim = Simulation::new();
            let n = cases.len();
            sim.add_testbench(move |mut sim: Sim<GemmFormat>| {
                let mut x = sim.init()?;
                for (i, w) in cases.iter().enumerate() {
                    let enable = i % 5 != 4;
                    x.enable.next = enable;
                    for (port, &word) in x.word.iter_mut().zip(w.iter()) {
                        port.next = (word as u64).into();
                    }
                    x = sim.wait(1, x)?;
                    let got = if x.bad_request.val() {
                        Status::BadFormat
                    } else if x.bad_size.val() {
                        Status::BadSize
                    } else if x.bad_format.val() {
                        Status::BadFormat
                    } else {
                        Status::Ok
                    };
                    let decoded = decode_gemm(w, 4, 4, 1 << 30, features);
                    let want = match &decoded {
                        _ if !enable => Status::Ok,
                        Err(s) if *s != Status::BadAddress => *s,
                        _ => Status::Ok,
                    };
                    if got != want {
                        panic!("case {i} (features {features:#x}), words {w:#010x?}: {got:?}, the spec says {want:?}");
                    }
                    if !enable {
                        let idle = (x.m.val().any(), x.k.val().any(), x.shift.val().any(), x.sign_bits.val().any(), x.a_transposed.val());
                        assert_eq!(idle, (false, false, false, false, false), "case {i}: fields outside the size steps");
                    } else if let Ok(g) = decoded {
                        let f = g.formats;
                        let sign = if features & feature::WORD_LENGTH != 0 {
                            0xFFFFu64 << (f.wl_out - 1) & 0xFFFF
                        } else {
                            crate::rounding::sign_bits(WL as u8) as u64
                        };
                        let fields = (
                            x.m.val().to_u64(),
                            x.ncol.val().to_u64(),
                            x.k.val().to_u64(),
                            x.mode.val().to_u64(),
                            (x.relu.val(), x.acc_init.val(), x.masked.val()),
                            (x.a_transposed.val(), x.b_transposed.val(), x.b_from_c.val()),
                            (x.shift.val().to_u64(), x.align.val().to_u64()),
                            x.sign_bits.val().to_u64(),
                        );
                        let shift = |fl: u8| ((f.fl_a + f.fl_b).wrapping_sub(fl) & 31) as u64;
                        let spec = (
                            g.m as u64,
                            g.ncol as u64,
                            g.k as u64,
                            g.mode.code() as u64,
                            (g.relu, g.acc_init, g.masked),
                            (g.a_transposed, g.b_transposed, g.b_from_c),
                            (shift(f.fl_out), shift(f.fl_c)),
                            sign,
                        );
                        if fields != spec {
                            panic!("case {i} (features {features:#x}), words {w:#010x?}: fields {fields:?}, the spec's {spec:?}");
                        }
                    }
                }
                sim.done(x)
            });
            sim.run(Box::new(uut), n as u64 + 10).unwrap();
        }
    }
}
