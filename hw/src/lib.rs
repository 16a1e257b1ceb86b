//! The rust-hdl description of SRSA: one file per hardware block.
//!
//! - [`lfsr`]: leap-forward LFSR (one per output column)
//! - [`rounding`]: the rounding unit (truncate / nearest / stochastic, saturation, ReLU)
//! - [`pe`]: multiply-accumulate processing element
//! - [`array`]: the R x C systolic array
//! - [`array_top`]: the bare array behind a test feed, `srsa bench`'s yardstick
//! - [`output_stage`]: a column's C_in add, rounding and write-back
//! - [`decoder`]: command decoder: headers, argument words, responses
//! - [`transfer`]: WRITE and READ: the address word, the payload to the buffers, the read words
//! - [`transfer_check`]: a WRITE's or READ's address word, checked
//! - [`gemm_args`]: a GEMM's argument words, its regions and their checks
//! - [`gemm_format`]: a GEMM's shape and format words, decoded and checked
//! - [`sequencer`]: tile sequencer with its feed chains
//! - [`drain`]: the drain, naming each finished output row to its column
//! - [`buffers`]: the banked A, B and C buffers, host port and array side
//! - [`rotator`]: a barrel crossbar between bank ports and rows or columns
//! - [`counters`]: cycle, busy and MAC counters
//! - [`expander`]: EXPAND, a codebook and coded pairs expanded into a buffer
//! - [`expand_check`]: EXPAND's argument words, decoded and checked
//! - [`codebook`]: EXPAND's codebook, and its elements paired for the banks
//! - [`ports`]: the bundles between blocks: the buffers' host port, a GEMM's tile walk, the output stages' settings
//! - [`device`]: the host-link top, composed of the blocks above
//! - [`skid`]: a two-word skid buffer, registering a word stream
//! - [`stream_top`]: the word-stream top: the device behind a skid buffer each way
//! - [`uart`]: serial receiver and transmitter (8N1)
//! - [`frame`]: serial layer 2, receiving: frames checked by CRC-32 before their words reach the device
//! - [`uart_top`]: the board top: the device behind a UART
//! - [`shapes`]: the shape table: every generated array shape and its use
//! - [`verilog`]: Verilog generation
//! - [`boards`]: the target boards: part, clock, array shape, wrapper, constraints

pub mod array;
pub mod array_top;
pub mod boards;
pub mod buffers;
pub mod codebook;
pub mod counters;
pub mod decoder;
pub mod device;
pub mod drain;
pub mod expand_check;
pub mod expander;
pub mod formal;
pub mod frame;
pub mod gemm_args;
pub mod gemm_format;
pub mod lfsr;
pub mod output_stage;
pub mod packing;
pub mod pe;
pub mod ports;
pub mod rotator;
pub mod rounding;
pub mod sequencer;
pub mod shapes;
pub mod skid;
pub mod stream_top;
#[cfg(test)]
mod testbench;
pub mod transfer;
pub mod transfer_check;
pub mod uart;
pub mod uart_top;
pub mod verilog;

/// A constant of a block, from a number the spec (or a const generic)
/// gives: rust-hdl cannot compute it inside generated Verilog.
pub(crate) fn constant<const N: usize>(
    x: u64,
) -> rust_hdl::prelude::Constant<rust_hdl::prelude::Bits<N>> {
    rust_hdl::prelude::Constant::new(x.into())
}

/// A chain of `n` registers.
pub(crate) fn dffs<T: rust_hdl::prelude::Synth>(n: usize) -> Vec<rust_hdl::prelude::DFF<T>> {
    (0..n).map(|_| Default::default()).collect()
}

pub use array_top::{array_top_verilog, BARE_ARRAYS};
pub use verilog::{top_verilog, uart_top_verilog, Shape, SUPPORTED};
