/// Array sizes verilated into this crate, each as its own model (`Vtop<n>`).
/// Shared with build.rs, which builds exactly these; a new size also needs
/// its `SRSA_VARIANT` line in csrc/shim.cpp and `variant!` in src/ffi.rs.
pub const SIZES: [usize; 3] = [4, 8, 16];
/// Array size of the verilated UART board top (`Vuart<n>`).
pub const UART_SIZE: usize = 4;
/// Clock cycles per bit on its serial line: fast to simulate; a board uses
/// its clock over the baud rate (e.g. 12 MHz / 115200 = 104).
pub const UART_CLOCKS_PER_BIT: u16 = 4;
