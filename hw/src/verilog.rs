//! Verilog generation for the device (module `top`).

use crate::device::Device;
use rust_hdl::prelude::*;

/// Array sizes the generator supports (each a separate const instance).
pub const SIZES: [usize; 3] = [4, 8, 16];
/// Address bits of one buffer bank: each buffer holds N * 2^14 elements.
pub const BANK_BITS: usize = 14;

fn generate<const N: usize>() -> Result<String, String> {
    let mut uut = Device::<N, BANK_BITS>::default();
    uut.connect_all();
    // generate_verilog panics on an unconnected input: check first.
    check_all(&uut).map_err(|e| format!("design check failed: {e:?}"))?;
    Ok(generate_verilog(&uut))
}

/// Verilog of the whole device with an n x n array, top module `top`.
pub fn device_verilog(n: usize) -> Result<String, String> {
    match n {
        4 => generate::<4>(),
        8 => generate::<8>(),
        16 => generate::<16>(),
        _ => Err(format!(
            "unsupported array size {n}: choose one of {SIZES:?}"
        )),
    }
}
