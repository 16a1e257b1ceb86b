//! The host side of SRSA: everything that knows the protocol but not how a
//! device is built.
//!
//! - [`golden`]: a bit-exact software device, the executable spec that the
//!   RTL is checked against word for word;
//! - [`driver`]: a device-independent driver over any
//!   [`Link`](srsa_spec::protocol::Link), up to whole matrix products;
//! - [`kernel`]: the exact int16 matrix product the golden model runs on;
//! - [`lockstep`]: two devices driven as one, compared word for word;
//! - [`cases`]: random GEMM cases for equivalence checks.

pub mod bit_allocation;
pub mod cases;
pub mod compression;
pub mod driver;
pub mod framed;
pub mod fuzz;
pub mod golden;
pub mod kernel;
pub mod lockstep;
pub mod mnist;
pub mod serial;
pub mod sqnr;
pub mod train;
