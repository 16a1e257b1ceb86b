fn main() {
    let n: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    print!("{}", srsa_hw::top_verilog(n).unwrap());
}
