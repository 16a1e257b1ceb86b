//! The random bits of stochastic rounding.
//!
//! Each output column of the array owns one Fibonacci LFSR of [`WIDTH`] = 63
//! bits on the primitive trinomial x^63 + x + 1 (recurrence
//! x_t = x_{t-62} ^ x_{t-63}). Because both taps lag by at least 62 steps,
//! 32 new bits can be computed in parallel from the current state: one draw
//! is a leap of [`crate::numerics::DRAW_BITS`] = 32 steps, a shift and one
//! XOR, no matrix. Consecutive draws are therefore disjoint blocks of one
//! m-sequence, not overlapping windows.
//!
//! Spec of the state (bit 0 newest): S' = (S << 32 | N) mod 2^63 with
//! N[i] = S[30 + i] ^ S[31 + i] for i in 0..32, and the draw is N.
//!
//! When it advances: a column's LFSR draws exactly once for every output
//! word its rounding unit converts, in every rounding mode, padding rows
//! and columns of a tile included (see `protocol` for the order).
//!
//! Seeding: a column state is loaded whole by the SEED command and bit 0 is
//! forced to one, so the all-zero state (the one fixed point) cannot occur.

/// State width of the hardware LFSR.
pub const WIDTH: u32 = 63;
/// Steps per draw.
pub const LEAP: u32 = 32;

/// A leap-forward Fibonacci LFSR on x^W + x + 1, generic so that small
/// instances can be tested for their full period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lfsr {
    width: u32,
    leap: u32,
    state: u64,
}

impl Lfsr {
    /// The hardware's generator, in `state` (bit 0 forced to one).
    pub fn new(state: u64) -> Lfsr {
        Lfsr::with_params(WIDTH, LEAP, state)
    }

    /// Any width W whose trinomial x^W + x + 1 is primitive, leap k < W.
    pub fn with_params(width: u32, leap: u32, state: u64) -> Lfsr {
        assert!(width <= 63 && leap < width && leap >= 1);
        Lfsr {
            width,
            leap,
            state: load_state_bits(state, width),
        }
    }

    pub fn state(&self) -> u64 {
        self.state
    }

    /// Returns the next `leap` bits of the sequence and advances.
    pub fn draw(&mut self) -> u32 {
        let (w, k) = (self.width, self.leap);
        let mask_k = (1u64 << k) - 1;
        let fresh = ((self.state >> (w - 1 - k)) ^ (self.state >> (w - k))) & mask_k;
        self.state = ((self.state << k) | fresh) & ((1u64 << w) - 1);
        fresh as u32
    }
}

fn load_state_bits(state: u64, width: u32) -> u64 {
    (state & ((1u64 << width) - 1)) | 1
}

/// The state a column holds after `SEED` with the words (lo, hi).
pub fn load_state(lo: u32, hi: u32) -> u64 {
    load_state_bits(((hi as u64) << 32) | lo as u64, WIDTH)
}

/// Splits a state into the two SEED words (lo, hi).
pub fn state_words(state: u64) -> (u32, u32) {
    (state as u32, (state >> 32) as u32)
}

/// The host's seeding rule: column `col` of a device seeded with `seed`
/// gets splitmix64(seed, col), so neighbouring columns start from unrelated
/// points of the sequence.
pub fn column_state(seed: u64, col: usize) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15u64.wrapping_mul(col as u64 + 1));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    load_state_bits(z, WIDTH)
}

/// The seed a device holds at power-up, before any SEED command.
pub const POWER_UP_SEED: u64 = 0x5352_5341; // "SRSA"

#[cfg(test)]
mod tests {
    use super::*;

    /// Multiplies polynomials over GF(2) modulo x^63 + x + 1.
    fn mulmod(a: u64, b: u64) -> u64 {
        let mut prod: u128 = 0;
        for i in 0..63 {
            if (b >> i) & 1 == 1 {
                prod ^= (a as u128) << i;
            }
        }
        for i in (63..126).rev() {
            if (prod >> i) & 1 == 1 {
                prod ^= (1u128 << i) | (1u128 << (i - 62)) | (1u128 << (i - 63));
            }
        }
        prod as u64
    }

    fn pow_x(mut e: u64) -> u64 {
        let (mut base, mut acc) = (2u64, 1u64);
        while e > 0 {
            if e & 1 == 1 {
                acc = mulmod(acc, base);
            }
            base = mulmod(base, base);
            e >>= 1;
        }
        acc
    }

    #[test]
    fn trinomial_63_is_primitive() {
        // The order of x must be exactly 2^63 - 1 = 7^2*73*127*337*92737*649657.
        let order = (1u64 << 63) - 1;
        let primes = [7u64, 73, 127, 337, 92737, 649657];
        assert_eq!(7 * 7 * 73 * 127 * 337 * 92737 * 649657u64, order);
        assert_eq!(pow_x(order), 1, "x^(2^63-1) != 1");
        for q in primes {
            assert_ne!(pow_x(order / q), 1, "order of x divides (2^63-1)/{q}");
        }
    }

    #[test]
    fn leap_equals_single_steps() {
        // A leap of 32 must equal 32 single steps of the same recurrence.
        let mut leap = Lfsr::new(0x1234_5678_9ABC_DEF1);
        let mut single = Lfsr::with_params(WIDTH, 1, 0x1234_5678_9ABC_DEF1);
        for _ in 0..100 {
            let d = leap.draw();
            let mut bits = 0u32;
            for _ in 0..32 {
                bits = (bits << 1) | single.draw();
            }
            assert_eq!(d, bits);
            assert_eq!(leap.state(), single.state());
        }
    }

    #[test]
    fn small_instance_has_full_period() {
        // x^15 + x + 1 is primitive: with a leap of 8 (coprime to 32767) the
        // state visits all 2^15 - 1 nonzero values before repeating.
        let mut l = Lfsr::with_params(15, 8, 1);
        let start = l.state();
        let mut seen = vec![false; 1 << 15];
        for i in 1..=32767u32 {
            l.draw();
            let s = l.state() as usize;
            assert_ne!(s, 0);
            assert!(!seen[s], "state repeated after {i} draws");
            seen[s] = true;
            if l.state() == start {
                assert_eq!(i, 32767);
            }
        }
        assert_eq!(l.state(), start);
    }

    #[test]
    fn zero_state_is_impossible() {
        assert_eq!(Lfsr::new(0).state(), 1);
        assert_eq!(load_state(0, 0), 1);
        assert_eq!(load_state(0, 0x8000_0000), 1); // bit 63 is not part of it
        for c in 0..64 {
            assert_ne!(column_state(0, c), 0);
        }
    }
}
