//! Every number the device makes, defined once.
//!
//! A value is a signed two's-complement word of [`WL`] bits with FL fractional
//! bits (value = raw * 2^-FL). A GEMM may declare its output narrower, of
//! word length 2..=16 ([`MIN_WL`]): the output then saturates to that
//! width, and the narrow value is held sign-extended in a 16-bit word. Products are exact and accumulate in a
//! [`ACC_BITS`]-bit register; each output is converted exactly once, by
//! [`convert`].

use std::fmt;

/// Word length of every bank word: the widest operand and result.
pub const WL: u32 = 16;
/// Narrowest output word length a GEMM may declare.
pub const MIN_WL: u8 = 2;
/// Accumulator width (a DSP48's P register).
pub const ACC_BITS: u32 = 48;
/// Largest fractional length a format may have. A word with FL > 15 holds
/// only values below 1 in magnitude (a negative integer length), which is
/// what scaled gradients and learning-rate shifts need.
pub const MAX_FL: u8 = 31;
/// Largest right shift to the output, and largest left shift aligning C_in:
/// both stay within one LFSR draw and keep the 48-bit sum from wrapping.
pub const MAX_SHIFT: u32 = 30;
/// Width of one LFSR draw: covers every shift up to [`MAX_SHIFT`].
pub const DRAW_BITS: u32 = 32;

pub const WORD_MIN: i64 = word_min(WL as u8);
pub const WORD_MAX: i64 = word_max(WL as u8);

/// Smallest value of a `wl`-bit word.
pub const fn word_min(wl: u8) -> i64 {
    -(1 << (wl - 1))
}

/// Largest value of a `wl`-bit word.
pub const fn word_max(wl: u8) -> i64 {
    (1 << (wl - 1)) - 1
}

/// How an accumulator is brought to the output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// floor: drop the low bits.
    Truncate,
    /// Round to nearest; a tie rounds down (Gupta et al.'s definition).
    Nearest,
    /// Add a uniform draw on [0, 2^s), then floor.
    Stochastic,
}

impl Rounding {
    pub const ALL: [Rounding; 3] = [Rounding::Truncate, Rounding::Nearest, Rounding::Stochastic];

    /// The 2-bit code used on the wire and in the hardware.
    pub fn code(self) -> u32 {
        match self {
            Rounding::Truncate => 0,
            Rounding::Nearest => 1,
            Rounding::Stochastic => 2,
        }
    }

    pub fn from_code(code: u32) -> Option<Rounding> {
        match code {
            0 => Some(Rounding::Truncate),
            1 => Some(Rounding::Nearest),
            2 => Some(Rounding::Stochastic),
            _ => None,
        }
    }
}

impl fmt::Display for Rounding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rounding::Truncate => "truncate",
            Rounding::Nearest => "nearest",
            Rounding::Stochastic => "stochastic",
        })
    }
}

impl std::str::FromStr for Rounding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "truncate" | "trunc" => Ok(Rounding::Truncate),
            "nearest" => Ok(Rounding::Nearest),
            "stochastic" | "sr" => Ok(Rounding::Stochastic),
            _ => Err(format!(
                "unknown rounding mode '{s}' (expected truncate, nearest or stochastic)"
            )),
        }
    }
}

/// The formats of one GEMM `out = round(c_in aligned + a x b)`: the
/// fractional lengths of each operand and of the result, and the result's
/// word length (operands are whatever their 16-bit words hold).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Formats {
    pub fl_a: u8,
    pub fl_b: u8,
    pub fl_c: u8,
    pub fl_out: u8,
    /// The output saturates to `wl_out` bits ([`MIN_WL`]..=[`WL`]).
    pub wl_out: u8,
}

/// Why a set of formats cannot be computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatError {
    FlTooLarge(u8),
    /// The output word length lies outside [`MIN_WL`]..=[`WL`].
    WlOutOfRange(u8),
    /// FL_out > FL_a + FL_b would need a left shift of the product.
    NegativeShift {
        fl_ab: u8,
        fl_out: u8,
    },
    /// FL_c > FL_a + FL_b would lose bits of C_in before accumulation.
    CinFinerThanProduct {
        fl_ab: u8,
        fl_c: u8,
    },
    /// FL_a + FL_b - FL_out, or with C_in FL_a + FL_b - FL_c, exceeds
    /// [`MAX_SHIFT`].
    ShiftTooLarge {
        shift: u32,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::FlTooLarge(fl) => write!(f, "fractional length {fl} exceeds {MAX_FL}"),
            FormatError::WlOutOfRange(wl) => {
                write!(f, "word length {wl} is outside {MIN_WL}..={WL}")
            }
            FormatError::NegativeShift { fl_ab, fl_out } => write!(
                f,
                "output FL {fl_out} is finer than the product's FL {fl_ab}"
            ),
            FormatError::CinFinerThanProduct { fl_ab, fl_c } => write!(
                f,
                "accumulate-init FL {fl_c} is finer than the product's FL {fl_ab}"
            ),
            FormatError::ShiftTooLarge { shift } => {
                write!(f, "a shift of {shift} bits exceeds {MAX_SHIFT}")
            }
        }
    }
}

impl Formats {
    /// Every FL `fl`, a full-width output.
    pub fn uniform(fl: u8) -> Formats {
        Formats::new(fl, fl, fl, fl)
    }

    /// These FLs, a full-width output.
    pub const fn new(fl_a: u8, fl_b: u8, fl_c: u8, fl_out: u8) -> Formats {
        Formats {
            fl_a,
            fl_b,
            fl_c,
            fl_out,
            wl_out: WL as u8,
        }
    }

    /// The same FLs with an output of `wl_out` bits.
    pub const fn with_wl(self, wl_out: u8) -> Formats {
        Formats { wl_out, ..self }
    }

    /// Checks the formats; `with_cin` says whether C_in takes part.
    pub fn validate(&self, with_cin: bool) -> Result<(), FormatError> {
        if !(MIN_WL..=WL as u8).contains(&self.wl_out) {
            return Err(FormatError::WlOutOfRange(self.wl_out));
        }
        for fl in [self.fl_a, self.fl_b, self.fl_c, self.fl_out] {
            if fl > MAX_FL {
                return Err(FormatError::FlTooLarge(fl));
            }
        }
        let fl_ab = self.fl_a + self.fl_b;
        if self.fl_out > fl_ab {
            return Err(FormatError::NegativeShift {
                fl_ab,
                fl_out: self.fl_out,
            });
        }
        if with_cin && self.fl_c > fl_ab {
            return Err(FormatError::CinFinerThanProduct {
                fl_ab,
                fl_c: self.fl_c,
            });
        }
        let widest = if with_cin {
            self.shift().max(self.cin_align())
        } else {
            self.shift()
        };
        if widest > MAX_SHIFT {
            return Err(FormatError::ShiftTooLarge { shift: widest });
        }
        Ok(())
    }

    /// Right shift from the accumulator to the output: FL_a + FL_b - FL_out.
    pub fn shift(&self) -> u32 {
        (self.fl_a + self.fl_b - self.fl_out) as u32
    }

    /// Left shift that aligns C_in with the accumulator: FL_a + FL_b - FL_c.
    pub fn cin_align(&self) -> u32 {
        (self.fl_a + self.fl_b - self.fl_c) as u32
    }
}

/// Wraps to the accumulator's 48 bits, as the register does.
pub fn wrap_acc(x: i64) -> i64 {
    (x << (64 - ACC_BITS)) >> (64 - ACC_BITS)
}

/// The exact 48-bit accumulator start value for C_in (zero without it).
pub fn cin_term(c_in: i16, f: &Formats) -> i64 {
    wrap_acc((c_in as i64) << f.cin_align())
}

/// The one conversion of an accumulator to an output word.
///
/// `draw` is the column's LFSR draw for this output; only its low `shift`
/// bits are used, and only in stochastic mode. The result saturates to a
/// `wl`-bit word, and `relu` then clamps negative results to zero.
pub fn convert(acc: i64, shift: u32, wl: u8, mode: Rounding, draw: u32, relu: bool) -> i16 {
    debug_assert!((MIN_WL..=WL as u8).contains(&wl));
    debug_assert!(shift <= MAX_SHIFT);
    let offset: i64 = match mode {
        Rounding::Truncate => 0,
        // A tie (exactly half) stays below: round half down.
        Rounding::Nearest if shift > 0 => (1i64 << (shift - 1)) - 1,
        Rounding::Nearest => 0,
        Rounding::Stochastic => (draw as i64) & ((1i64 << shift) - 1),
    };
    // The hardware adds in 48 bits; |acc| < 2^47 - 2^31 by the K bound, so
    // the sum never wraps (see protocol::MAX_K).
    let shifted = wrap_acc(acc + offset) >> shift;
    let sat = shifted.clamp(word_min(wl), word_max(wl));
    let out = if relu && sat < 0 { 0 } else { sat };
    out as i16
}

/// Converts a real number to the nearest word of format FL (saturating);
/// for preparing test data and host-side quantisation.
pub fn quantize(x: f64, fl: u8) -> i16 {
    let scaled = (x * (1u64 << fl) as f64).round();
    scaled.clamp(WORD_MIN as f64, WORD_MAX as f64) as i16
}

/// Converts a real number to a `wl`-bit word of format FL in `mode`, the host's
/// one rounding of a value it computes itself (the loss gradient): `draw`
/// is a whole [`DRAW_BITS`]-bit draw, stochastic rounding's offset.
///
/// Nearest is [`quantize`]. Truncate and stochastic follow [`convert`]'s
/// rule on the real number read as an accumulator with DRAW_BITS more
/// fractional bits than FL (convert itself stops at [`MAX_SHIFT`], and a
/// draw cut to 30 bits would change every rounded value). The reading is
/// exact: an f32 scaled by a power of two is exact in f64, and flooring it
/// first does not change the floor of its sum with the integer draw.
/// Clamping it to the saturated words, widened by the same bits, saturates
/// where `convert` would. NaN becomes 0.
pub fn quantize_with(x: f64, fl: u8, wl: u8, mode: Rounding, draw: u32) -> i16 {
    let (lo, hi) = (word_min(wl), word_max(wl));
    if mode == Rounding::Nearest {
        return (quantize(x, fl) as i64).clamp(lo, hi) as i16;
    }
    let widened = (x * (1u128 << (fl as u32 + DRAW_BITS)) as f64)
        .floor()
        .clamp((lo << DRAW_BITS) as f64, (hi << DRAW_BITS) as f64) as i64;
    let offset = match mode {
        Rounding::Stochastic => draw as i64,
        _ => 0,
    };
    ((widened + offset) >> DRAW_BITS) as i16
}

/// The real value of a word of format FL.
pub fn value(raw: i16, fl: u8) -> f64 {
    raw as f64 / (1u64 << fl) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_floors_negative_values() {
        // -1.5 at shift 1 (raw -3) floors to -2.
        assert_eq!(convert(-3, 1, 16, Rounding::Truncate, 0, false), -2);
        assert_eq!(convert(3, 1, 16, Rounding::Truncate, 0, false), 1);
    }

    #[test]
    fn nearest_rounds_ties_down() {
        assert_eq!(convert(3, 1, 16, Rounding::Nearest, 0, false), 1); // 1.5 -> 1
        assert_eq!(convert(7, 2, 16, Rounding::Nearest, 0, false), 2); // 1.75 -> 2
        assert_eq!(convert(-3, 1, 16, Rounding::Nearest, 0, false), -2); // -1.5 -> -2
        assert_eq!(convert(-5, 2, 16, Rounding::Nearest, 0, false), -1); // -1.25 -> -1
    }

    #[test]
    fn stochastic_uses_only_dropped_bits() {
        // 1.25 at shift 2: rounds up iff draw's low 2 bits >= 3.
        assert_eq!(convert(5, 2, 16, Rounding::Stochastic, 0b10, false), 1);
        assert_eq!(convert(5, 2, 16, Rounding::Stochastic, 0b11, false), 2);
        assert_eq!(
            convert(5, 2, 16, Rounding::Stochastic, 0xFFFF_FFFC, false),
            1
        );
        // shift 0: nothing is dropped, the draw is ignored.
        assert_eq!(
            convert(5, 0, 16, Rounding::Stochastic, 0xFFFF_FFFF, false),
            5
        );
    }

    #[test]
    fn saturates_both_ends_and_relu() {
        assert_eq!(
            convert(1 << 40, 4, 16, Rounding::Truncate, 0, false),
            i16::MAX
        );
        assert_eq!(
            convert(-(1 << 40), 4, 16, Rounding::Truncate, 0, false),
            i16::MIN
        );
        assert_eq!(convert(-(1 << 40), 4, 16, Rounding::Truncate, 0, true), 0);
        assert_eq!(convert(-16, 4, 16, Rounding::Truncate, 0, true), 0);
        assert_eq!(convert(16, 4, 16, Rounding::Truncate, 0, true), 1);
    }

    #[test]
    fn narrow_words_saturate_in_every_mode() {
        for mode in Rounding::ALL {
            assert_eq!(convert(100 << 2, 2, 4, mode, u32::MAX, false), 7);
            assert_eq!(convert(-100 << 2, 2, 4, mode, 0, false), -8);
            assert_eq!(convert(-100 << 2, 2, 4, mode, 0, true), 0);
            assert_eq!(convert(1, 0, 2, mode, 0, false), 1);
            assert_eq!(convert(2, 0, 2, mode, 0, false), 1);
            assert_eq!(convert(-3, 0, 2, mode, 0, false), -2);
        }
        // 6.75 at 4 bits rounds to 7 in range; 7.75 stochastically up saturates.
        assert_eq!(convert(27, 2, 4, Rounding::Nearest, 0, false), 7);
        assert_eq!(convert(31, 2, 4, Rounding::Stochastic, 3, false), 7);
        assert_eq!(word_min(16), WORD_MIN);
        assert_eq!(word_max(2), 1);
    }

    #[test]
    fn formats_validate() {
        for wl in [0, 1, 17, 255] {
            assert_eq!(
                Formats::uniform(8).with_wl(wl).validate(false),
                Err(FormatError::WlOutOfRange(wl))
            );
        }
        assert!(Formats::uniform(8).with_wl(2).validate(true).is_ok());
        assert!(Formats::uniform(15).validate(true).is_ok());
        let f = Formats::new(2, 2, 5, 4);
        assert_eq!(
            f.validate(true),
            Err(FormatError::CinFinerThanProduct { fl_ab: 4, fl_c: 5 })
        );
        assert!(f.validate(false).is_ok());
        let f = Formats::new(1, 1, 0, 3);
        assert!(matches!(
            f.validate(false),
            Err(FormatError::NegativeShift { .. })
        ));
        assert!(Formats::uniform(30).validate(true).is_ok());
        assert!(Formats::uniform(31).validate(false).is_err());
        assert!(Formats::uniform(32).validate(false).is_err());
        // A learning-rate shift: FL_b 24 is fine while every shift fits.
        let f = Formats::new(14, 24, 14, 14);
        assert!(f.validate(true).is_ok());
        let f = Formats::new(16, 15, 15, 0);
        assert_eq!(
            f.validate(false),
            Err(FormatError::ShiftTooLarge { shift: 31 })
        );
        let f = Formats::new(16, 15, 0, 15);
        assert!(f.validate(false).is_ok());
        assert_eq!(
            f.validate(true),
            Err(FormatError::ShiftTooLarge { shift: 31 })
        );
    }

    #[test]
    fn cin_aligns_exactly() {
        let f = Formats::new(8, 8, 4, 8);
        assert_eq!(cin_term(-3, &f), -3 << 12);
    }

    #[test]
    fn quantize_with_floors_offsets_and_saturates() {
        use Rounding::*;
        assert_eq!(quantize_with(-1.5, 0, 16, Truncate, u32::MAX), -2);
        assert_eq!(quantize_with(0.25, 2, 16, Stochastic, 0), 1);
        assert_eq!(quantize_with(0.3, 2, 16, Stochastic, 0), 1);
        assert_eq!(quantize_with(0.3, 2, 16, Stochastic, u32::MAX), 2);
        assert_eq!(quantize_with(-0.3, 2, 16, Stochastic, u32::MAX), -1);
        assert_eq!(quantize_with(-0.3, 2, 16, Stochastic, 0), -2);
        assert_eq!(quantize_with(1e9, 14, 16, Stochastic, u32::MAX), i16::MAX);
        assert_eq!(quantize_with(-1e9, 14, 16, Truncate, 0), i16::MIN);
        assert_eq!(
            quantize_with(f64::INFINITY, 31, 16, Stochastic, 7),
            i16::MAX
        );
        assert_eq!(quantize_with(f64::NAN, 14, 16, Truncate, 0), 0);
        // Where f64 addition of the draw would round up to the next word.
        let tiny = (2f64.powi(-32) - 2f64.powi(-56)) * 2f64.powi(-14);
        assert_eq!(quantize_with(tiny, 14, 16, Stochastic, u32::MAX), 0);
        assert_eq!(quantize_with(1.25, 1, 16, Nearest, 0), quantize(1.25, 1));
        assert_eq!(quantize_with(100.0, 1, 4, Nearest, 0), 7);
        assert_eq!(quantize_with(-100.0, 1, 4, Stochastic, u32::MAX), -8);
        assert_eq!(quantize_with(3.7, 0, 4, Stochastic, u32::MAX), 4);
    }
}
