//! `srsa`: the command-line program. It is the only place that puts a
//! concrete device (Verilator RTL or golden model) under the driver.

mod bench;
mod check;
mod compress_cmd;
mod devices;
mod eval_cmd;
mod experiment;
mod fpga;
mod fuzz;
mod link_bench;
mod plot;
mod sqnr_cmd;
mod train_cmd;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "srsa",
    version,
    about = "Stochastic-rounding systolic array: hardware, simulation and host"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the device's synthesizable Verilog (module `top`) to DIR/top.v,
    /// or with --board a board's whole build: its UART top (srsa.v), wrapper
    /// (board_top.v), constraints, and for Xilinx the Vivado script.
    Verilog {
        /// Array size N (the array is N x N); ignored with --board.
        #[arg(long, default_value_t = 8)]
        n: usize,
        /// Target board: icebreaker, ulx3s, arty or kc705.
        #[arg(long)]
        board: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Build a board: bitstream for the Lattice boards (yosys, nextpnr,
    /// icepack/ecppack), Vivado script and yosys estimate for Xilinx;
    /// prints resources, Fmax and the critical path.
    Bitstream(fpga::Args),
    /// Ask a device what it is.
    Identify {
        #[arg(long, default_value = "sim")]
        device: devices::Kind,
        #[arg(long, default_value_t = 8, value_parser = devices::parse_side)]
        n: usize,
    },
    /// Random GEMMs on the simulated RTL and the golden model in lockstep;
    /// stops at the first differing response word.
    Check(check::Args),
    /// Random and malformed command streams on the simulated RTL and the
    /// golden model in lockstep; stops at the first differing word.
    Fuzz(fuzz::Args),
    /// Simulation speed (the device against the bare array, and
    /// instructions per cycle where valgrind is on PATH), array efficiency
    /// and golden-model throughput.
    Bench(bench::Args),
    /// `srsa bench`'s callgrind workload (run under valgrind by it).
    #[command(hide = true)]
    BenchWorkload(bench::WorkloadArgs),
    /// Train a network on MNIST on the simulated device, the golden model
    /// or the f32 reference.
    Train(train_cmd::Args),
    /// Lin et al.'s SQNR analysis of a checkpoint's weights: statistics,
    /// predicted and measured SQNR per layer, per-layer widths for a target
    /// SQNR or a bit budget, written as a format plan.
    Sqnr(sqnr_cmd::Args),
    /// Deep Compression of a checkpoint (Han et al.): prune, share weights,
    /// Huffman-code; writes a compressed-model file and the per-layer table.
    Compress(compress_cmd::Args),
    /// A checkpoint's (or compressed model's) test error on a device, and a digest of its
    /// predictions (equal on sim and golden).
    Eval(eval_cmd::Args),
    /// Reproduce a paper's experiment (on the golden model, re-checked on
    /// the simulated RTL).
    #[command(subcommand)]
    Experiment(experiment::Experiment),
}

fn main() {
    // Rust ignores SIGPIPE, so a reader that closes the pipe early (`srsa
    // ... | head`) would make the next print panic; end quietly instead,
    // as other command-line tools do.
    #[cfg(unix)]
    // SAFETY: called before any other thread exists, with a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Verilog {
            board: Some(name),
            out,
            ..
        } => {
            let (b, paths) = fpga::write_board(&name, &out)?;
            println!("{}: {} array, {} MHz", b.title, b.shape, b.clock_mhz);
            for p in paths {
                println!("wrote {}", p.display());
            }
            Ok(())
        }
        Command::Bitstream(args) => fpga::run(args),
        Command::Verilog { n, out, .. } => {
            let v = srsa_hw::top_verilog(srsa_hw::Shape::square(n)).map_err(anyhow::Error::msg)?;
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create output directory {}", out.display()))?;
            let path = out.join("top.v");
            std::fs::write(&path, &v)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!(
                "wrote {} ({} bytes, {n}x{n} array)",
                path.display(),
                v.len()
            );
            Ok(())
        }
        Command::Identify { device, n } => {
            let id = *devices::open(device.clone(), n)?.identity();
            println!(
                "{device}: protocol v{}, {}x{} array, {}-bit words, {}-bit accumulators, {} elements per buffer, features {:#x} of {:#x} (1, 2, 4: operand paths; 8: narrow outputs)",
                id.version,
                id.rows,
                id.cols,
                id.word_bits,
                id.acc_bits,
                id.buffer_elems,
                id.features,
                srsa_spec::protocol::feature::ALL
            );
            Ok(())
        }
        Command::Check(args) => check::run(&args),
        Command::Fuzz(args) => fuzz::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::BenchWorkload(args) => bench::workload(&args),
        Command::Train(args) => train_cmd::run(&args),
        Command::Sqnr(args) => sqnr_cmd::run(&args),
        Command::Eval(args) => eval_cmd::run(&args),
        Command::Compress(args) => compress_cmd::run(&args),
        Command::Experiment(e) => experiment::run(&e),
    }
}
