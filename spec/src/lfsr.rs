//! The random bits of stochastic rounding.
//!
//! Each output column of the array owns one generator: three LFSRs combined
//! by XOR (a maximally equidistributed combined Tausworthe generator,
//! L'Ecuyer 1996, "taus88"). Component i is a Fibonacci LFSR on the
//! primitive trinomial x^k + x^q + 1, held in the top k bits of a 32-bit
//! word, which leaps s steps per draw with two shifts and two XORs:
//!
//! | component | k  | q  | s  | period      |
//! |-----------|----|----|----|-------------|
//! | 0         | 31 | 13 | 12 | 2^31 - 1    |
//! | 1         | 29 | 2  | 4  | 2^29 - 1    |
//! | 2         | 28 | 3  | 17 | 2^28 - 1    |
//!
//! The periods are coprime, so the combined period is their product, about
//! 2^88. Why three and not one: a single LFSR's sequence obeys its sparse
//! recurrence, so draws a fixed distance apart are nearly linear functions
//! of each other (with one 63-bit trinomial LFSR leaping 32 steps, the
//! rounding decisions of draws 2 and 4 apart correlated at r = -0.01 and
//! -0.05). XOR of components with unrelated recurrences breaks that up.
//!
//! Spec of one draw: every component steps,
//! `x' = ((x & mask) << s) ^ (((x << q) ^ x) >> (k - s))` with `mask` the
//! top k bits, and the draw is `x0' ^ x1' ^ x2'` (the new states).
//!
//! When it advances: a column's generator draws exactly once for every
//! output word its rounding unit converts, in every rounding mode, padding
//! rows and columns of a tile included (see `protocol` for the order).
//!
//! Seeding: SEED loads the three component words of one column; the lowest
//! state bit of each component (bit 32 - k) is forced to one, so no
//! component can be in its all-zero state (its one fixed point).

/// One Tausworthe component: an LFSR on x^k + x^q + 1 leaping s steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Component {
    pub k: u32,
    pub q: u32,
    pub s: u32,
}

impl Component {
    /// The k state bits, at the top of the word.
    pub fn mask(&self) -> u32 {
        u32::MAX << (32 - self.k)
    }

    /// The state bit forced to one on every load.
    pub fn forced_bit(&self) -> u32 {
        1 << (32 - self.k)
    }

    /// One leap of s steps.
    pub fn step(&self, x: u32) -> u32 {
        let feedback = ((x << self.q) ^ x) >> (self.k - self.s);
        ((x & self.mask()) << self.s) ^ feedback
    }
}

/// The device's three components (taus88).
pub const COMPONENTS: [Component; 3] = [
    Component {
        k: 31,
        q: 13,
        s: 12,
    },
    Component { k: 29, q: 2, s: 4 },
    Component { k: 28, q: 3, s: 17 },
];

/// A generator state: one word per component (the SEED command's words).
pub type State = [u32; 3];

/// A column's generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lfsr {
    components: [Component; 3],
    state: State,
}

impl Lfsr {
    /// The device's generator in `state` (forced bits applied).
    pub fn new(state: State) -> Lfsr {
        Lfsr::with_components(COMPONENTS, state)
    }

    /// Any components with 0 < s < k - q (s <= k - q makes the leap valid;
    /// strictly less lets the bits below the state flush out, so the words
    /// repeat with the state) and gcd(s, 2^k - 1) = 1; small ones let tests
    /// walk a whole period.
    pub fn with_components(components: [Component; 3], state: State) -> Lfsr {
        for c in &components {
            assert!(c.s >= 1 && c.s + c.q < c.k && c.k <= 32 && c.q >= 1);
        }
        Lfsr {
            components,
            state: load_with(&components, state),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Advances every component one leap and returns the combined word.
    pub fn draw(&mut self) -> u32 {
        let mut out = 0;
        for (x, c) in self.state.iter_mut().zip(&self.components) {
            *x = c.step(*x);
            out ^= *x;
        }
        out
    }
}

fn load_with(components: &[Component; 3], words: State) -> State {
    std::array::from_fn(|i| words[i] | components[i].forced_bit())
}

/// The state a column holds after SEED with `words`.
pub fn load_state(words: State) -> State {
    load_with(&COMPONENTS, words)
}

/// The host's seeding rule: column `col` of a device seeded with `seed`
/// gets words from splitmix64(seed, col), so neighbouring columns start
/// from unrelated points of the sequence.
pub fn column_state(seed: u64, col: usize) -> State {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15u64.wrapping_mul(2 * col as u64 + 1));
    let mut next = || {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut x = z;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    };
    let (a, b) = (next(), next());
    load_state([a as u32, (a >> 32) as u32, b as u32])
}

/// The seed a device holds at power-up, before any SEED command.
pub const POWER_UP_SEED: u64 = 0x5352_5341; // "SRSA"

#[cfg(test)]
mod tests {
    use super::*;

    /// x^e mod the trinomial x^k + x^q + 1 over GF(2), as a bit mask.
    fn pow_x(k: u32, q: u32, mut e: u64) -> u64 {
        let mulmod = |a: u64, b: u64| -> u64 {
            let mut prod: u128 = 0;
            for i in 0..k {
                if (b >> i) & 1 == 1 {
                    prod ^= (a as u128) << i;
                }
            }
            for i in (k..2 * k).rev() {
                if (prod >> i) & 1 == 1 {
                    let d = i - k;
                    prod ^= (1u128 << i) | (1u128 << (d + q)) | (1u128 << d);
                }
            }
            prod as u64
        };
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

    fn assert_primitive(k: u32, q: u32, primes: &[u64]) {
        let order = (1u64 << k) - 1;
        let mut rest = order;
        for p in primes {
            while rest.is_multiple_of(*p) {
                rest /= p;
            }
        }
        assert_eq!(rest, 1, "prime factors of 2^{k}-1 incomplete");
        assert_eq!(pow_x(k, q, order), 1, "x^(2^{k}-1) != 1");
        for p in primes {
            assert_ne!(
                pow_x(k, q, order / p),
                1,
                "order of x divides (2^{k}-1)/{p}"
            );
        }
    }

    #[test]
    fn component_trinomials_are_primitive() {
        assert_primitive(31, 13, &[2147483647]);
        assert_primitive(29, 2, &[233, 1103, 2089]);
        assert_primitive(28, 3, &[3, 5, 29, 43, 113, 127]);
        // The small instance used to walk a whole period.
        assert_primitive(7, 1, &[127]);
        assert_primitive(5, 2, &[31]);
        assert_primitive(3, 1, &[7]);
    }

    #[test]
    fn a_leap_equals_single_steps() {
        for c in COMPONENTS {
            let one = Component { s: 1, ..c };
            let mut x = 0x9E37_79B9 | c.forced_bit();
            for _ in 0..1000 {
                let mut y = x;
                for _ in 0..c.s {
                    y = one.step(y);
                }
                x = c.step(x);
                assert_eq!(x & c.mask(), y & c.mask(), "component {c:?}");
            }
        }
    }

    #[test]
    fn taus88_reference_values() {
        // Cross-check against a direct transcription of L'Ecuyer's taus88.
        let (mut s1, mut s2, mut s3) = (12345u32 | 2, 67890u32 | 8, 13579u32 | 16);
        let mut g = Lfsr::new([12345, 67890, 13579]);
        for _ in 0..1000 {
            let b = ((s1 << 13) ^ s1) >> 19;
            s1 = ((s1 & 0xFFFF_FFFE) << 12) ^ b;
            let b = ((s2 << 2) ^ s2) >> 25;
            s2 = ((s2 & 0xFFFF_FFF8) << 4) ^ b;
            let b = ((s3 << 3) ^ s3) >> 11;
            s3 = ((s3 & 0xFFFF_FFF0) << 17) ^ b;
            assert_eq!(g.draw(), s1 ^ s2 ^ s3);
        }
    }

    /// Components with periods 127, 31 and 7: combined period 27559.
    pub const SMALL: [Component; 3] = [
        Component { k: 7, q: 1, s: 5 },
        Component { k: 5, q: 2, s: 2 },
        Component { k: 3, q: 1, s: 1 },
    ];

    #[test]
    fn small_instance_has_full_period() {
        // The true state is each word's top k bits (the rest are output
        // bits derived from them).
        let state = |g: &Lfsr| -> State { std::array::from_fn(|i| g.state()[i] & SMALL[i].mask()) };
        let mut g = Lfsr::with_components(SMALL, [0, 0, 0]);
        let start = state(&g);
        let period = 127 * 31 * 7;
        for i in 1..=period {
            g.draw();
            if state(&g) == start {
                assert_eq!(i, period, "state repeated after {i} draws");
            }
        }
        assert_eq!(state(&g), start);
    }

    #[test]
    fn zero_state_is_impossible() {
        for (x, c) in load_state([0, 0, 0]).iter().zip(COMPONENTS) {
            assert_ne!(x & c.mask(), 0);
        }
        for col in 0..64 {
            for (x, c) in column_state(0, col).iter().zip(COMPONENTS) {
                assert_ne!(x & c.mask(), 0);
            }
        }
    }
}
