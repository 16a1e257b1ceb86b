//! The one list of generated shapes. Every line is a separate instance of
//! the hardware: `verilog` dispatches a runtime [`Shape`] to its
//! `Device<R, C, DA, DC>` through it, and srsa-sim's build script verilates
//! the simulated lines (each model costs seconds to minutes of build, so the
//! list holds only what is used). Adding a shape is adding a line.

use crate::verilog::Shape;

/// What a line of the table is generated for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Verilated by srsa-sim as a word-stream model (`SimDevice::with_shape`).
    Sim,
    /// Verilated by srsa-sim as the UART board top (`SimDevice::uart`), at
    /// the iCEBreaker's shape so that the simulated board top is the built one.
    SimUart,
    /// Generated for a board only (see `boards`).
    Board,
}

/// One line of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub shape: Shape,
    pub used: Use,
}

/// The features (operand paths, narrow outputs) a line can name
/// (`srsa_spec::protocol::feature`),
/// with NONE for a line built without any.
pub mod paths {
    pub use srsa_spec::protocol::feature::*;
    pub const NONE: u32 = 0;
    /// Everything the RTL implements so far: the pruning mask and EXPAND
    /// are in the spec and the golden model first.
    pub const BUILT: u32 = ALL;
}

/// Passes the table to the macro `$then`, after `[$extra]`. Each line:
/// `rows x cols, bank bits, features: use`; an A bank's depth follows
/// from the line ([`a_bank_bits`]). Simulated lines have every path (the
/// host's resident-weight and per-layer-width training use them); a board
/// line's features cost
/// LCs the boards do not have (docs/FPGA.md), so they have none.
macro_rules! shape_table {
    ($then:ident [$($extra:tt)*]) => {
        $then! {
            [$($extra)*]
            4 x 4, 14, BUILT: Sim;
            // One bank bit more: `make run`'s 784-256-10 network (784 x 256
            // weights and its activations) stays resident in 2^18 elements.
            8 x 8, 15, BUILT: Sim;
            16 x 16, 14, BUILT: Sim;
            2 x 4, 14, BUILT: Sim;
            8 x 16, 14, BUILT: Sim; // the array the ULX3S places (boards.rs)
            2 x 2, 10, NONE: SimUart; // the iCEBreaker's
            8 x 8, 11, NONE: Board; // ULX3S, Arty
            16 x 32, 11, NONE: Board; // KC705
        }
    };
}
pub(crate) use shape_table;

macro_rules! entries {
    ([] $($r:literal x $c:literal, $b:literal, $f:ident: $u:ident;)*) => {
        /// Every generated shape with its use, in the table's order.
        pub const SHAPES: &[Entry] = &[$(Entry {
            shape: Shape::new($r, $c, $b).with_features(paths::$f),
            used: Use::$u,
        }),*];
    };
}
shape_table!(entries []);

/// The line of an R x C array with 2^bank_bits rows per B or C bank, if
/// the table has one (with its operand paths).
pub fn find(rows: usize, cols: usize, bank_bits: usize) -> Option<Shape> {
    SHAPES
        .iter()
        .map(|e| e.shape)
        .find(|s| (s.rows, s.cols, s.bank_bits) == (rows, cols, bank_bits))
}

/// The simulated word-stream line of an R x C array, if there is one.
pub const fn simulated(rows: usize, cols: usize) -> Option<Shape> {
    let mut i = 0;
    while i < SHAPES.len() {
        let s = SHAPES[i].shape;
        if matches!(SHAPES[i].used, Use::Sim) && s.rows == rows && s.cols == cols {
            return Some(s);
        }
        i += 1;
    }
    None
}

/// Address bits of an A bank when B's and C's have `bank_bits`: A's tiles
/// are `rows` high where B's are `cols` wide, so all three buffers hold
/// `cols << bank_bits` elements. Evaluated at compile time for every line,
/// so a line whose sides are not powers of two does not build.
pub const fn a_bank_bits(rows: usize, cols: usize, bank_bits: usize) -> usize {
    assert!(rows.is_power_of_two() && cols.is_power_of_two());
    let bits = bank_bits + cols.trailing_zeros() as usize - rows.trailing_zeros() as usize;
    assert!(rows << bits == cols << bank_bits);
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_distinct_and_the_simulator_can_look_them_up() {
        for (i, a) in SHAPES.iter().enumerate() {
            for b in &SHAPES[i + 1..] {
                assert_ne!(a.shape, b.shape, "{:?} is in the table twice", a.shape);
                // SimDevice::with_shape picks a model by rows x cols alone.
                let both_sim = a.used == Use::Sim && b.used == Use::Sim;
                assert!(
                    !both_sim || (a.shape.rows, a.shape.cols) != (b.shape.rows, b.shape.cols),
                    "two simulated {} models",
                    a.shape
                );
            }
        }
        let uarts = SHAPES.iter().filter(|e| e.used == Use::SimUart).count();
        assert_eq!(uarts, 1, "SimDevice::uart is one model");
    }

    /// Simulated word-stream models have every operand path; what is
    /// built for a board (or simulated as a board top) has none, so that
    /// the iCEBreaker keeps its LCs.
    #[test]
    fn simulated_lines_have_every_path_and_boards_none() {
        for e in SHAPES {
            let want = if e.used == Use::Sim {
                paths::BUILT
            } else {
                paths::NONE
            };
            assert_eq!(e.shape.features, want, "{:?}", e);
        }
        let s = simulated(8, 8).unwrap();
        assert_eq!((s.bank_bits, s.buffer_elems()), (15, 1 << 18));
        assert_eq!(find(8, 8, 11).map(|s| s.features), Some(paths::NONE));
        assert_eq!(simulated(3, 3), None);
    }

    #[test]
    fn every_board_shape_is_a_line() {
        for b in &crate::boards::BOARDS {
            assert!(
                SHAPES
                    .iter()
                    .any(|e| e.shape == b.shape && e.used != Use::Sim),
                "{}: {} (2^{}) is not a board line",
                b.name,
                b.shape,
                b.shape.bank_bits
            );
        }
    }

    #[test]
    fn a_banks_hold_as_much_as_the_others() {
        assert_eq!(a_bank_bits(4, 4, 14), 14);
        assert_eq!(a_bank_bits(2, 4, 14), 15);
        assert_eq!(a_bank_bits(16, 32, 11), 12);
        assert_eq!(a_bank_bits(8, 2, 10), 8);
    }
}
