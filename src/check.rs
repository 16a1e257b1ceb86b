//! `srsa check`: the simulated RTL against the golden model, word for word.

use crate::devices;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{rngs::StdRng, SeedableRng};
use srsa_host::cases::{random_case, run_case};
use srsa_host::driver::Driver;
use srsa_host::lockstep::Lockstep;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Array size N of the simulated device: an N x N array.
    #[arg(long, default_value_t = 8, value_parser = crate::devices::parse_side)]
    n: usize,
    /// A ROWSxCOLS array instead of N x N.
    #[arg(long, conflicts_with = "n", value_parser = crate::devices::parse_shape,
          long_help = format!("A ROWSxCOLS array instead of N x N. Simulated: {}", crate::devices::sim_shapes()))]
    shape: Option<(usize, usize)>,
    /// Number of random GEMMs.
    #[arg(long, default_value_t = 200)]
    trials: u32,
    /// Seed of the random cases (printed; a fresh one by default).
    #[arg(long)]
    seed: Option<u64>,
    /// Write a VCD trace of the RTL to this file.
    #[arg(long)]
    vcd: Option<PathBuf>,
    /// Cycles to trace, START:END (only with --vcd).
    #[arg(long, default_value = "0:20000", value_parser = parse_window)]
    vcd_window: (u64, u64),
}

fn parse_window(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}' is not START:END"))?;
    let start: u64 = a.parse().map_err(|_| format!("bad start cycle '{a}'"))?;
    let end: u64 = b.parse().map_err(|_| format!("bad end cycle '{b}'"))?;
    if end <= start {
        return Err(format!("empty window {start}:{end}"));
    }
    Ok((start, end))
}

pub fn run(args: &Args) -> Result<()> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let (rows, cols) = args.shape.unwrap_or((args.n, args.n));
    println!("srsa check: {rows}x{cols} RTL (Verilator) against the golden model, seed {seed}");
    let mut sim = devices::sim_shape(rows, cols)?;
    if let Some(path) = &args.vcd {
        let (start, end) = args.vcd_window;
        sim.trace(path, start, end)
            .with_context(|| format!("cannot open VCD file {}", path.display()))?;
        println!("tracing cycles {start}..{end} to {}", path.display());
    }
    let mut driver = Driver::new(Lockstep::new(sim, devices::golden_shape(rows, cols)?))
        .context("the devices disagree on IDENTIFY")?;
    let mut rng = StdRng::seed_from_u64(seed);
    let bar = ProgressBar::new(args.trials as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} GEMMs {msg}").expect("static template"),
    );
    let mut passed = 0;
    for trial in 0..args.trials {
        let case = random_case(&mut rng, driver.identity());
        bar.set_message(case.describe());
        if let Err(e) = run_case(&mut driver, &case) {
            bar.abandon();
            eprintln!("trial {trial}: {}", case.describe());
            eprintln!("{e}");
            break;
        }
        passed += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let lockstep = driver.link_mut();
    println!(
        "{} response words compared, {} simulated cycles",
        lockstep.words_compared(),
        lockstep.left.cycles()
    );
    println!("bit-exact: {passed}/{}", args.trials);
    if passed < args.trials {
        bail!("the RTL and the golden model diverged (seed {seed})");
    }
    Ok(())
}
