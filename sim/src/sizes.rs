/// Array sizes verilated into this crate, each as its own model (`Vtop<n>`).
/// Shared with build.rs, which builds exactly these; a new size also needs
/// its `SRSA_VARIANT` line in csrc/shim.cpp and `variant!` in src/ffi.rs.
pub const SIZES: [usize; 3] = [4, 8, 16];
