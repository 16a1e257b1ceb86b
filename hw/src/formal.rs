//! The blocks `make formal` proves (hw/formal/*.sby), each generated as a
//! Verilog module of its own so that a proof harness can instantiate it.

use crate::rounding::RoundingUnit;
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

/// The rounding unit (`rounding.rs`) as module `rounding_unit`.
pub fn rounding_verilog() -> Result<String, String> {
    standalone(RoundingUnit::default(), "rounding_unit")
}

/// Every block with a proof: (file name, Verilog).
pub fn blocks() -> Result<Vec<(&'static str, String)>, String> {
    Ok(vec![("rounding_unit.v", rounding_verilog()?)])
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_proved_blocks_generate() {
        let blocks = super::blocks().unwrap();
        assert!(blocks[0].1.contains("module rounding_unit("));
    }
}
