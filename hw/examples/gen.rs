//! Prints the device Verilog: `gen ROWS [COLS [BANK_BITS [CLOCKS_PER_BIT]]]`;
//! with CLOCKS_PER_BIT, the UART board top around it. The shape is the
//! shape table's line (with its operand paths); without BANK_BITS, the
//! simulated line of ROWS x COLS.
fn main() {
    let arg = |i: usize| std::env::args().nth(i).map(|a| a.parse::<usize>().unwrap());
    let rows = arg(1).expect("usage: gen ROWS [COLS [BANK_BITS [CLOCKS_PER_BIT]]]");
    let cols = arg(2).unwrap_or(rows);
    let line = match arg(3) {
        Some(bits) => srsa_hw::shapes::find(rows, cols, bits),
        None => srsa_hw::shapes::simulated(rows, cols),
    };
    let bits = arg(3).unwrap_or(srsa_hw::verilog::SIM_BANK_BITS);
    let shape = line.unwrap_or(srsa_hw::Shape::new(rows, cols, bits));
    let v = match arg(4) {
        Some(cpb) => srsa_hw::uart_top_verilog(shape, cpb as u16),
        None => srsa_hw::top_verilog(shape),
    };
    print!("{}", v.unwrap());
}
