//! Opening a device by name.

use anyhow::{Context, Result};
use srsa_host::driver::Driver;
use srsa_host::golden::GoldenDevice;
use srsa_sim::SimDevice;
use srsa_spec::protocol::{Link, LinkError};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The verilated RTL.
    Sim,
    /// The bit-exact software model.
    Golden,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Sim => "sim",
            Kind::Golden => "golden",
        })
    }
}

/// Either device behind one link type, so callers need not be generic.
pub enum AnyDevice {
    Sim(Box<SimDevice>),
    Golden(Box<GoldenDevice>),
}

impl Link for AnyDevice {
    fn send(&mut self, words: &[u32]) -> Result<(), LinkError> {
        match self {
            AnyDevice::Sim(d) => d.send(words),
            AnyDevice::Golden(d) => d.send(words),
        }
    }
    fn recv(&mut self, n: usize, max_cycles: u64) -> Result<Vec<u32>, LinkError> {
        match self {
            AnyDevice::Sim(d) => d.recv(n, max_cycles),
            AnyDevice::Golden(d) => d.recv(n, max_cycles),
        }
    }
    fn name(&self) -> String {
        match self {
            AnyDevice::Sim(d) => d.name(),
            AnyDevice::Golden(d) => d.name(),
        }
    }
}

/// The simulated RTL with an n x n array.
pub fn sim(n: usize) -> Result<SimDevice> {
    SimDevice::new(n).with_context(|| format!("cannot start the simulated {n}x{n} device"))
}

/// A golden model shaped like the simulated device of size n.
pub fn golden(n: usize) -> GoldenDevice {
    GoldenDevice::new(n, (n as u32) << srsa_hw::verilog::BANK_BITS)
}

pub fn open(kind: Kind, n: usize) -> Result<Driver<AnyDevice>> {
    let dev = match kind {
        Kind::Sim => AnyDevice::Sim(Box::new(sim(n)?)),
        Kind::Golden => AnyDevice::Golden(Box::new(golden(n))),
    };
    Driver::new(dev).context("device did not identify itself")
}
