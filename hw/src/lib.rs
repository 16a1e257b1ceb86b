//! The rust-hdl description of SRSA: one file per hardware block.
//!
//! - [`lfsr`]: leap-forward LFSR (one per output column)
//! - [`rounding`]: the rounding unit (truncate / nearest / stochastic, saturation, ReLU)
//! - [`pe`]: multiply-accumulate processing element
//! - [`array`]: the R x C systolic array
//! - [`output_stage`]: a column's C_in add, rounding and write-back
//! - [`device`]: command decoder, GEMM sequencer, buffers: the host-link top
//! - [`uart`]: serial receiver and transmitter (8N1)
//! - [`uart_top`]: the board top: the device behind a UART
//! - [`verilog`]: Verilog generation
//! - [`boards`]: the target boards: part, clock, array shape, wrapper, constraints

pub mod array;
pub mod boards;
pub mod device;
pub mod lfsr;
pub mod output_stage;
pub mod pe;
pub mod rounding;
pub mod uart;
pub mod uart_top;
pub mod verilog;

pub use verilog::{top_verilog, uart_top_verilog, Shape, SUPPORTED};
