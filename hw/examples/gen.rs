fn main() {
    let n: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    print!("{}", srsa_hw::device_verilog(n).unwrap());
}
