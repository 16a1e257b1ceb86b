//! The contract of SRSA: the numerics every output obeys, the LFSRs that
//! drive stochastic rounding, and the word-stream protocol every device
//! speaks. The hardware, the golden model and the tests all take their rules
//! from here; nothing here knows about any of them.

pub mod expand;
pub mod lfsr;
pub mod numerics;
pub mod protocol;
pub mod serial;
