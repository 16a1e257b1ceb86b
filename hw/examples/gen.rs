//! Prints the device Verilog: `gen ROWS [COLS [BANK_BITS [CLOCKS_PER_BIT]]]`;
//! with CLOCKS_PER_BIT, the UART board top around it.
fn main() {
    let arg = |i: usize| std::env::args().nth(i).map(|a| a.parse::<usize>().unwrap());
    let rows = arg(1).expect("usage: gen ROWS [COLS [BANK_BITS [CLOCKS_PER_BIT]]]");
    let shape = srsa_hw::Shape::new(
        rows,
        arg(2).unwrap_or(rows),
        arg(3).unwrap_or(srsa_hw::verilog::SIM_BANK_BITS),
    );
    let v = match arg(4) {
        Some(cpb) => srsa_hw::uart_top_verilog(shape, cpb as u16),
        None => srsa_hw::top_verilog(shape),
    };
    print!("{}", v.unwrap());
}
