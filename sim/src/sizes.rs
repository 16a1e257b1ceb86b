//! The verilated models. build.rs writes their lists (`SHAPES`, `SIZES`,
//! `UART`, `UART_CLOCKS_PER_BIT`) from srsa-hw's shape table, and
//! `BARE_ARRAYS` from srsa-hw's list of bare arrays.

use std::fmt;

/// One verilated model's array and buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SimShape {
    pub rows: usize,
    pub cols: usize,
    /// Address bits of a B or C bank.
    pub bank_bits: usize,
    /// Elements per buffer, as the device's IDENTIFY reports them: what a
    /// golden model shaped like it needs.
    pub buffer_elems: u32,
    /// The optional GEMM operand paths it has (IDENTIFY's last word).
    pub features: u32,
}

impl fmt::Display for SimShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.rows, self.cols)
    }
}

include!(concat!(env!("OUT_DIR"), "/models.rs"));

/// [`UART`] as (rows, cols, bank bits).
pub const UART_SHAPE: (usize, usize, usize) = (UART.rows, UART.cols, UART.bank_bits);

/// The word-stream model of a rows x cols array, if one was verilated.
pub fn shape(rows: usize, cols: usize) -> Option<SimShape> {
    SHAPES
        .into_iter()
        .find(|s| (s.rows, s.cols) == (rows, cols))
}
