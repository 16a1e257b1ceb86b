//! `srsa fuzz`: random and malformed command streams on the simulated RTL
//! and the golden model in lockstep (`srsa_host::fuzz`), for long
//! campaigns; `make test` runs a short one (tests/fuzz.rs).

use crate::devices;
use anyhow::{bail, Result};
use rand::{rngs::StdRng, SeedableRng};
use srsa_host::fuzz::{campaign, Tally};
use srsa_host::lockstep::Lockstep;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Array size N of the simulated device.
    #[arg(long, default_value_t = 4, value_parser = crate::devices::parse_side)]
    n: usize,
    /// Streams to run; each is followed by a correct GEMM.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    streams: u64,
    /// Most commands in one stream.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    commands: u64,
    /// Seed (printed; a fresh one by default).
    #[arg(long)]
    seed: Option<u64>,
}

/// Streams per progress line.
const CHUNK: u64 = 1000;

pub fn run(args: &Args) -> Result<()> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let n = args.n;
    println!("srsa fuzz: {n}x{n} RTL against the golden model, seed {seed}");
    let mut pair = Lockstep::new(devices::sim(n)?, devices::golden(n)?);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut total = Tally::default();
    let start = Instant::now();
    while total.streams < args.streams {
        let streams = CHUNK.min(args.streams - total.streams);
        match campaign(pair, &mut rng, streams, args.commands as usize) {
            Ok((t, back)) => {
                pair = back;
                total.streams += t.streams;
                total.commands += t.commands;
                total.words += t.words;
                total.gemms_run += t.gemms_run;
            }
            Err(e) => bail!(
                "divergence after {} streams (seed {seed}): {e}",
                total.streams
            ),
        }
        let s = start.elapsed().as_secs_f64();
        println!(
            "{} streams, {} commands ({} GEMMs run), {} response words compared, 0 divergences ({:.0} commands/s)",
            total.streams,
            total.commands,
            total.gemms_run,
            total.words,
            total.commands as f64 / s
        );
    }
    Ok(())
}
