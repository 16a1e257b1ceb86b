//! Writes the Verilog of the blocks `make formal` proves into DIR:
//! `formal_blocks DIR`.
fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| {
        eprintln!("usage: formal_blocks DIR");
        std::process::exit(2)
    });
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    for (name, v) in srsa_hw::formal::blocks().unwrap_or_else(|e| panic!("{e}")) {
        let path = std::path::Path::new(&dir).join(name);
        std::fs::write(&path, v).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        println!("wrote {}", path.display());
    }
}
