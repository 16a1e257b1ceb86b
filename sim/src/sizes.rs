/// Square array sizes verilated into this crate, each as its own model
/// (`Vtop<n>`). Shared with build.rs, which builds exactly these; a new
/// model also needs its `SRSA_VARIANT` line in csrc/shim.cpp and `variant!`
/// in src/ffi.rs.
pub const SIZES: [usize; 3] = [4, 8, 16];
/// Rectangular arrays (rows, cols) verilated as word-stream models
/// (`Vtop<r>x<c>`), with the same buffer depth as the square ones.
pub const RECT_SHAPES: [(usize, usize); 1] = [(2, 4)];
/// The verilated UART board top (`Vuart<r>x<c>`): the iCEBreaker's device,
/// a 2 x 2 array whose banks have 2^10 rows (2048-element buffers).
pub const UART_SHAPE: (usize, usize, usize) = (2, 2, 10);
/// Clock cycles per bit on its serial line: fast to simulate; a board uses
/// its clock over the baud rate (e.g. 12 MHz / 1 Mbaud = 12).
pub const UART_CLOCKS_PER_BIT: u16 = 4;
