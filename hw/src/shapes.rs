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

/// Passes the table to the macro `$then`, after `[$extra]`. Each line:
/// `rows x cols, bank bits: use`; an A bank's depth follows from the line
/// ([`a_bank_bits`]).
macro_rules! shape_table {
    ($then:ident [$($extra:tt)*]) => {
        $then! {
            [$($extra)*]
            4 x 4, 14: Sim;
            8 x 8, 14: Sim;
            16 x 16, 14: Sim;
            2 x 4, 14: Sim;
            8 x 16, 14: Sim; // the array the ULX3S places (boards.rs)
            2 x 2, 10: SimUart; // the iCEBreaker's
            8 x 8, 11: Board; // ULX3S, Arty
            16 x 32, 11: Board; // KC705
        }
    };
}
pub(crate) use shape_table;

macro_rules! entries {
    ([] $($r:literal x $c:literal, $b:literal: $u:ident;)*) => {
        /// Every generated shape with its use, in the table's order.
        pub const SHAPES: &[Entry] = &[$(Entry {
            shape: Shape::new($r, $c, $b),
            used: Use::$u,
        }),*];
    };
}
shape_table!(entries []);

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
