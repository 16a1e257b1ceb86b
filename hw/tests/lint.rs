//! The generated Verilog of every supported size passes
//! `verilator --lint-only -Wall` and yosys's structural checks.

use std::path::Path;
use std::process::Command;

fn run(tool: &str, args: &[&str], dir: &Path) {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} ({e}): run `make deps` to install it"));
    assert!(
        out.status.success(),
        "{tool} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("%Warning") && !text.contains("Warning:"),
        "{tool} warned:\n{text}"
    );
}

#[test]
fn generated_verilog_is_lint_clean() {
    for shape in srsa_hw::SUPPORTED {
        let name = format!("{shape}-{}", shape.bank_bits);
        lint(&name, &srsa_hw::top_verilog(shape).unwrap());
    }
}

/// The bare array `srsa bench` measures the device against.
#[test]
fn bare_array_top_is_lint_clean() {
    for &(r, c) in srsa_hw::array_top::BARE_ARRAYS {
        lint(
            &format!("bare{r}x{c}"),
            &srsa_hw::array_top::array_top_verilog(r, c).unwrap(),
        );
    }
}

#[test]
fn uart_board_top_is_lint_clean() {
    // 104 clocks per bit: a 12 MHz board at 115200 baud.
    let shape = srsa_hw::Shape::square(4);
    lint("uart4", &srsa_hw::uart_top_verilog(shape, 104).unwrap());
    let e = srsa_hw::uart_top_verilog(shape, 3).unwrap_err();
    assert!(e.contains("at least 4"), "{e}");
}

fn lint(n: &str, v: &str) {
    {
        let dir = std::env::temp_dir().join(format!("srsa-lint-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Named after its top module, as DECLFILENAME expects.
        std::fs::write(dir.join("top.v"), v).unwrap();
        println!("n = {n}: verilator lint");
        run(
            "verilator",
            &["--lint-only", "-Wall", "--top-module", "top", "top.v"],
            &dir,
        );
        println!("n = {n}: yosys check");
        run(
            "yosys",
            &[
                "-q",
                "-p",
                "read_verilog top.v; hierarchy -check -top top; proc; check -assert",
            ],
            &dir,
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// The hand-written board wrappers with the iCEBreaker's UART top (every
/// board's `top` has the same ports). KC705's wrapper instantiates Xilinx
/// primitives, so yosys alone checks it, against its cell library.
#[test]
fn board_wrappers_are_lint_clean() {
    let ice = srsa_hw::boards::board("icebreaker").unwrap();
    let top = &ice.files().unwrap()[0].1;
    for b in &srsa_hw::boards::BOARDS {
        let files = b.files().unwrap();
        let wrapper = &files[1].1;
        let dir = std::env::temp_dir().join(format!("srsa-lint-{}-{}", std::process::id(), b.name));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("top.v"), top).unwrap();
        std::fs::write(dir.join("board_top.v"), wrapper).unwrap();
        if b.family == srsa_hw::boards::Family::Xilinx7 && wrapper.contains("MMCME2_BASE") {
            println!("{}: yosys check (Xilinx cells)", b.name);
            run(
                "yosys",
                &[
                    "-q",
                    "-p",
                    "read_verilog -lib +/xilinx/cells_sim.v +/xilinx/cells_xtra.v; read_verilog top.v board_top.v; \
                     hierarchy -check -top board_top; proc; check -assert",
                ],
                &dir,
            );
        } else {
            println!("{}: verilator lint", b.name);
            run(
                "verilator",
                &[
                    "--lint-only",
                    "-Wall",
                    "--top-module",
                    "board_top",
                    "top.v",
                    "board_top.v",
                ],
                &dir,
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn unsupported_size_is_an_error() {
    let shape = srsa_hw::Shape::new(5, 4, 14);
    let err = srsa_hw::top_verilog(shape).unwrap_err();
    assert!(err.contains("unsupported array shape 5x4"), "{err}");
    // A shape of the table at another bank depth is not one of its lines.
    let err = srsa_hw::top_verilog(srsa_hw::Shape::new(8, 16, 11)).unwrap_err();
    for s in srsa_hw::SUPPORTED {
        let line = format!("{s} (2^{}, paths {})", s.bank_bits, s.features);
        assert!(err.contains(&line), "{err} does not name {line}");
    }
}
