//! The blocks `make formal` proves (hw/formal/*.sby), each generated as a
//! Verilog module of its own so that a proof harness can instantiate it.

use crate::rounding::RoundingUnit;
use crate::uart::UartRx;
use rust_hdl::prelude::*;

/// Verilog of `uut` with its top module renamed `name`.
fn standalone<U: Block>(mut uut: U, name: &str) -> Result<String, String> {
    uut.connect_all();
    check_all(&uut).map_err(|e| format!("design check failed: {e:?}"))?;
    let v = generate_verilog(&uut);
    if !v.contains("module top(") {
        return Err("rust-hdl no longer names its top module `top`".into());
    }
    Ok(v.replacen("module top(", &format!("module {name}("), 1))
}

/// Adds output ports `probe_<name>` to the top module of `v`, driven by its
/// registers' outputs `<name>$q` (width bits each): yosys reads no
/// hierarchical references, so a harness sees internal state only so.
fn with_probes(v: &str, name: &str, probes: &[(&str, usize)]) -> Result<String, String> {
    let header = format!("module {name}(");
    let at = v.find(&header).ok_or("no top module")? + header.len();
    let close = at + v[at..].find(')').ok_or("no port list")?;
    let end = v.find("endmodule").ok_or("no endmodule")?;
    let mut out = String::with_capacity(v.len() + 512);
    out.push_str(&v[..close]);
    for (p, _) in probes {
        out.push_str(&format!(",probe_{p}"));
    }
    out.push_str(&v[close..end]);
    for (p, w) in probes {
        if !v.contains(&format!("{p}$q;")) {
            return Err(format!("{name} has no register {p}"));
        }
        out.push_str(&format!(
            "    output wire [{}:0] probe_{p};\n    assign probe_{p} = {p}$q;\n",
            w - 1
        ));
    }
    out.push_str(&v[end..]);
    Ok(out)
}

/// Clocks per bit of the proved receiver: the smallest the UART allows,
/// which keeps the proof's bounds short (the logic is the same at any).
pub const PROOF_CLOCKS_PER_BIT: u16 = 4;

/// The UART receiver (`uart.rs`) as module `uart_rx`, with its state,
/// bit-time counter and bit count as probes.
pub fn uart_rx_verilog() -> Result<String, String> {
    let v = standalone(UartRx::new(PROOF_CLOCKS_PER_BIT), "uart_rx")?;
    with_probes(&v, "uart_rx", &[("state", 2), ("count", 16), ("bits", 4)])
}

/// The rounding unit (`rounding.rs`) as module `rounding_unit`.
pub fn rounding_verilog() -> Result<String, String> {
    standalone(RoundingUnit::default(), "rounding_unit")
}

/// Every block with a proof: (file name, Verilog).
pub fn blocks() -> Result<Vec<(&'static str, String)>, String> {
    Ok(vec![
        ("rounding_unit.v", rounding_verilog()?),
        ("uart_rx.v", uart_rx_verilog()?),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_proved_blocks_generate() {
        let blocks = super::blocks().unwrap();
        assert!(blocks[0].1.contains("module rounding_unit("));
    }
}
