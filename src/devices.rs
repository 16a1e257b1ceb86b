//! Opening a device by name.

use anyhow::{Context, Result};
use srsa_host::driver::Driver;
use srsa_host::golden::GoldenDevice;
use srsa_host::serial::{parse_spec, SerialLink};
use srsa_sim::SimDevice;
use srsa_spec::protocol::{Link, LinkError};
use std::fmt;

/// A device by name: `sim`, `golden` or `serial:PATH[@BAUD]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The verilated RTL.
    Sim,
    /// The bit-exact software model.
    Golden,
    /// A board running the UART top, behind a serial port.
    Serial { path: String, baud: u32 },
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Kind, String> {
        match s {
            "sim" => Ok(Kind::Sim),
            "golden" => Ok(Kind::Golden),
            _ => match s.strip_prefix("serial:") {
                Some(spec) => {
                    let (path, baud) = parse_spec(spec)?;
                    Ok(Kind::Serial { path, baud })
                }
                None => Err(format!(
                    "unknown device '{s}' (expected sim, golden or serial:PATH[@BAUD])"
                )),
            },
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Sim => f.write_str("sim"),
            Kind::Golden => f.write_str("golden"),
            Kind::Serial { path, baud } => write!(f, "serial:{path}@{baud}"),
        }
    }
}

/// Either device behind one link type, so callers need not be generic.
pub enum AnyDevice {
    Sim(Box<SimDevice>),
    Golden(Box<GoldenDevice>),
    Serial(Box<SerialLink>),
}

impl Link for AnyDevice {
    fn send(&mut self, words: &[u32]) -> Result<(), LinkError> {
        match self {
            AnyDevice::Sim(d) => d.send(words),
            AnyDevice::Golden(d) => d.send(words),
            AnyDevice::Serial(d) => d.send(words),
        }
    }
    fn recv(&mut self, n: usize, max_cycles: u64) -> Result<Vec<u32>, LinkError> {
        match self {
            AnyDevice::Sim(d) => d.recv(n, max_cycles),
            AnyDevice::Golden(d) => d.recv(n, max_cycles),
            AnyDevice::Serial(d) => d.recv(n, max_cycles),
        }
    }
    fn name(&self) -> String {
        match self {
            AnyDevice::Sim(d) => d.name(),
            AnyDevice::Golden(d) => d.name(),
            AnyDevice::Serial(d) => d.name(),
        }
    }
}

/// The simulated RTL with an n x n array.
pub fn sim(n: usize) -> Result<SimDevice> {
    SimDevice::new(n).with_context(|| format!("cannot start the simulated {n}x{n} device"))
}

/// A golden model shaped like the simulated device of size n.
pub fn golden(n: usize) -> Result<GoldenDevice> {
    GoldenDevice::try_with_shape(n, n, srsa_hw::Shape::square(n).buffer_elems())
        .map_err(|e| anyhow::anyhow!("no golden {n}x{n} device: {e}"))
}

/// `--n`: an array side any device could have (the simulator builds fewer;
/// it says which when asked for another).
pub fn parse_side(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("'{s}' is not an array side (a whole number)"))?;
    srsa_spec::protocol::check_shape(n, n, n as u32).map(|()| n)
}

/// Opens a device; `n` sizes the sim and golden devices (a board reports
/// its own).
pub fn open(kind: Kind, n: usize) -> Result<Driver<AnyDevice>> {
    let dev = match kind {
        Kind::Sim => AnyDevice::Sim(Box::new(sim(n)?)),
        Kind::Golden => AnyDevice::Golden(Box::new(golden(n)?)),
        Kind::Serial { path, baud } => AnyDevice::Serial(Box::new(SerialLink::open(&path, baud)?)),
    };
    Driver::new(dev).context("device did not identify itself")
}
