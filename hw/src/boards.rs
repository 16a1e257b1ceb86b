//! The boards SRSA is built for. Each pairs a part and its clock with the
//! largest array that fits it, and names the files a build needs: the
//! generated UART top (`srsa.v`, module `top`), a hand-written wrapper
//! (`board_top.v`, module `board_top`: pins, clocking, button polarity,
//! LEDs) and the pin constraints, kept in `constraints/`.
//!
//! Array sides are powers of two (the banks are addressed by bit slices), so
//! a part's multipliers are used up to the largest R x C below its count.

use crate::verilog::{uart_top_verilog, Shape};

/// The tool flow a board's family takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Lattice iCE40: yosys `synth_ice40`, nextpnr-ice40, icepack.
    Ice40,
    /// Lattice ECP5: yosys `synth_ecp5`, nextpnr-ecp5, ecppack (YoWASP).
    Ecp5,
    /// Xilinx 7-series: a Vivado batch script, and a yosys estimate here.
    Xilinx7,
}

/// One target board.
#[derive(Debug)]
pub struct Board {
    /// What `--board` takes.
    pub name: &'static str,
    pub title: &'static str,
    pub family: Family,
    /// nextpnr's device option (`up5k`, `85k`) or Vivado's part name.
    pub part: &'static str,
    /// nextpnr's package (unused for Xilinx: the part names it).
    pub package: &'static str,
    /// The clock the design runs on (MHz), after the wrapper's clocking:
    /// nextpnr's timing target.
    pub clock_mhz: u32,
    pub shape: Shape,
    /// The serial line's rate; a multiple-free divisor of the clock.
    pub baud: u32,
    /// Multipliers (DSP slices) on the part, for the reports.
    pub multipliers: u32,
    /// File name of the constraints (also in `constraints/`).
    pub constraints_name: &'static str,
    constraints: &'static str,
    wrapper: &'static str,
}

/// 1 Mbaud: every board's USB-UART bridge runs it (FT2232H, FT231X,
/// CP2103), and it divides each board clock exactly.
const BAUD: u32 = 1_000_000;

pub const BOARDS: [Board; 4] = [
    Board {
        name: "icebreaker",
        title: "iCEBreaker (Lattice iCE40UP5K-SG48)",
        family: Family::Ice40,
        part: "up5k",
        package: "sg48",
        clock_mhz: 12,
        // The sequencer, four output columns and their rounding units
        // outgrow the 5280 LUTs before the 8 DSPs run out: docs/FPGA.md.
        shape: Shape::new(2, 2, 10),
        baud: BAUD,
        multipliers: 8,
        constraints_name: "icebreaker.pcf",
        constraints: include_str!("../../constraints/icebreaker.pcf"),
        wrapper: include_str!("../boards/icebreaker.v"),
    },
    Board {
        name: "ulx3s",
        title: "ULX3S (Lattice ECP5 LFE5U-85F-6BG381C)",
        family: Family::Ecp5,
        part: "85k",
        package: "CABGA381",
        clock_mhz: 25,
        // 8 x 16 also places (47% of the LUTs, 129 of 156 multipliers, at
        // 4a668fc), but YoWASP's nextpnr took over 40 minutes routing it
        // without finishing; 8 x 8 builds in under 10 (docs/FPGA.md).
        shape: Shape::new(8, 8, 11),
        baud: BAUD,
        multipliers: 156,
        constraints_name: "ulx3s.lpf",
        constraints: include_str!("../../constraints/ulx3s.lpf"),
        wrapper: include_str!("../boards/ulx3s.v"),
    },
    Board {
        name: "arty",
        title: "Arty A7-35T (Xilinx XC7A35T-1CSG324)",
        family: Family::Xilinx7,
        part: "xc7a35ticsg324-1L",
        package: "",
        clock_mhz: 100,
        shape: Shape::new(8, 8, 11),
        baud: BAUD,
        multipliers: 90,
        constraints_name: "arty.xdc",
        constraints: include_str!("../../constraints/arty.xdc"),
        wrapper: include_str!("../boards/arty.v"),
    },
    Board {
        name: "kc705",
        title: "KC705 (Xilinx XC7K325T-2FFG900C)",
        family: Family::Xilinx7,
        part: "xc7k325tffg900-2",
        package: "",
        clock_mhz: 100,
        // The paper's 28 x 28 is not a power of two: 16 x 32 is the largest
        // array here under the 840 DSP48E1s (512 of them).
        shape: Shape::new(16, 32, 11),
        baud: BAUD,
        multipliers: 840,
        constraints_name: "kc705.xdc",
        constraints: include_str!("../../constraints/kc705.xdc"),
        wrapper: include_str!("../boards/kc705.v"),
    },
];

/// The board called `name`, or an error listing the known ones.
pub fn board(name: &str) -> Result<&'static Board, String> {
    BOARDS.iter().find(|b| b.name == name).ok_or_else(|| {
        let names: Vec<&str> = BOARDS.iter().map(|b| b.name).collect();
        format!(
            "unknown board '{name}': known boards are {}",
            names.join(", ")
        )
    })
}

impl Board {
    /// Clock cycles per serial bit.
    pub fn clocks_per_bit(&self) -> u16 {
        (self.clock_mhz * 1_000_000 / self.baud) as u16
    }

    /// Every file of the board's build: (file name, contents).
    pub fn files(&self) -> Result<Vec<(String, String)>, String> {
        let mut files = vec![
            (
                "srsa.v".to_string(),
                uart_top_verilog(self.shape, self.clocks_per_bit())?,
            ),
            ("board_top.v".to_string(), self.wrapper.to_string()),
            (
                self.constraints_name.to_string(),
                self.constraints.to_string(),
            ),
        ];
        if self.family == Family::Xilinx7 {
            files.push(("vivado.tcl".to_string(), self.vivado_script()));
            files.push(("estimate.ys".to_string(), self.yosys_estimate_script()));
        }
        Ok(files)
    }

    /// A Vivado non-project batch build, run as
    /// `vivado -mode batch -source vivado.tcl` from any directory: it reads
    /// the files beside it and writes into `vivado/` there.
    pub fn vivado_script(&self) -> String {
        format!(
            "# SRSA on the {title}: {shape} array at {mhz} MHz, UART at {baud} baud.\n\
             # Generated by `srsa verilog --board {name}`. Run with\n\
             #   vivado -mode batch -source vivado.tcl\n\
             set here [file dirname [file normalize [info script]]]\n\
             set out [file join $here vivado]\n\
             file mkdir $out\n\
             read_verilog [list [file join $here srsa.v] [file join $here board_top.v]]\n\
             read_xdc [file join $here {xdc}]\n\
             synth_design -top board_top -part {part}\n\
             report_utilization -hierarchical -file [file join $out utilization_synth.rpt]\n\
             opt_design\n\
             place_design\n\
             phys_opt_design\n\
             route_design\n\
             report_utilization -file [file join $out utilization.rpt]\n\
             report_timing_summary -max_paths 10 -file [file join $out timing.rpt]\n\
             write_bitstream -force [file join $out srsa_{name}.bit]\n",
            title = self.title,
            shape = self.shape,
            mhz = self.clock_mhz,
            baud = self.baud,
            name = self.name,
            xdc = self.constraints_name,
            part = self.part,
        )
    }

    /// The resource estimate run here with yosys (no timing: that needs
    /// Vivado).
    pub fn yosys_estimate_script(&self) -> String {
        format!(
            "# Resource estimate for the {title} with yosys (no place and route).\n\
             read_verilog srsa.v board_top.v\n\
             synth_xilinx -flatten -family xc7 -top board_top\n\
             tee -o estimate.txt stat -tech xilinx\n",
            title = self.title
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_board_generates_and_divides_its_clock_exactly() {
        for b in &BOARDS {
            let cpb = b.clocks_per_bit() as u32;
            assert_eq!(cpb * b.baud, b.clock_mhz * 1_000_000, "{}", b.name);
            assert!(
                (b.shape.rows * b.shape.cols) as u32 <= b.multipliers,
                "{}",
                b.name
            );
            let files = b.files().unwrap();
            let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
            assert!(names.contains(&b.constraints_name), "{names:?}");
            let top = &files[0].1;
            assert!(top.contains("module top("), "{}", b.name);
            assert!(files[1].1.contains("module board_top"), "{}", b.name);
            assert_eq!(
                names.contains(&"vivado.tcl"),
                b.family == Family::Xilinx7,
                "{}",
                b.name
            );
        }
    }

    #[test]
    fn wrapper_ports_are_all_constrained() {
        for b in &BOARDS {
            let ports = wrapper_ports(b.wrapper);
            assert!(ports.len() >= 6, "{}: {ports:?}", b.name);
            for p in ports {
                let mut tokens = b
                    .constraints
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
                assert!(
                    tokens.any(|t| t == p),
                    "{}: port {p} has no pin in {}",
                    b.name,
                    b.constraints_name
                );
            }
        }
    }

    /// The names declared in a wrapper's port list.
    fn wrapper_ports(v: &str) -> Vec<&str> {
        let head = &v[v.find("module board_top").unwrap()..v.find(");").unwrap()];
        head.lines()
            .filter_map(|l| {
                let l = l.trim();
                let decl = l.strip_prefix("input")?.trim_start();
                Some(decl.strip_prefix("wire")?.trim())
            })
            .chain(head.lines().filter_map(|l| {
                l.trim()
                    .strip_prefix("output")?
                    .trim_start()
                    .strip_prefix("wire")
            }))
            .map(|rest| rest.trim().trim_end_matches([',', ' ']))
            .map(|rest| rest.split([',', ' ']).next().unwrap())
            .collect()
    }

    #[test]
    fn unknown_boards_are_named_in_the_error() {
        let e = board("de10").unwrap_err();
        assert!(
            e.contains("'de10'") && e.contains("icebreaker, ulx3s, arty, kc705"),
            "{e}"
        );
        assert_eq!(board("ulx3s").unwrap().part, "85k");
    }
}
