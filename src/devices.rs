//! Opening a device by name.

use anyhow::{Context, Result};
use srsa_host::driver::Driver;
use srsa_host::golden::GoldenDevice;
use srsa_host::serial::{parse_spec, SerialLink};
use srsa_sim::SimDevice;
use srsa_spec::protocol::{check_shape, feature, Link, LinkError};
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
    sim_shape(n, n)
}

/// The simulated RTL with a rows x cols array.
pub fn sim_shape(rows: usize, cols: usize) -> Result<SimDevice> {
    SimDevice::with_shape(rows, cols)
        .with_context(|| format!("cannot start the simulated {rows}x{cols} device"))
}

/// A golden model shaped like the simulated device of size n.
pub fn golden(n: usize) -> Result<GoldenDevice> {
    golden_shape(n, n)
}

/// A golden model shaped like the simulated rows x cols device: its
/// buffers are the shape table's (`srsa_sim::SHAPES`), so that the two
/// identify alike. The golden model also takes shapes no model was built
/// for (`--device golden --n 32`); those get the word-stream models' banks.
pub fn golden_shape(rows: usize, cols: usize) -> Result<GoldenDevice> {
    let (elems, features) = match srsa_sim::shape(rows, cols) {
        Some(s) => (s.buffer_elems, s.features),
        None => (
            srsa_hw::Shape::new(rows, cols, srsa_hw::verilog::SIM_BANK_BITS).buffer_elems(),
            feature::ALL,
        ),
    };
    GoldenDevice::try_with_shape(rows, cols, elems)
        .map(|d| d.with_features(features))
        .map_err(|e| anyhow::anyhow!("no golden {rows}x{cols} device: {e}"))
}

fn whole(s: &str) -> Result<usize, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not an array side (a whole number)"))
}

/// `--n`: an array side any device could have (the simulator builds fewer;
/// it says which when asked for another).
pub fn parse_side(s: &str) -> Result<usize, String> {
    let n = whole(s)?;
    check_shape(n, n, n as u32).map(|()| n)
}

/// `--shape ROWSxCOLS`: an array any device could have, as (rows, cols).
pub fn parse_shape(s: &str) -> Result<(usize, usize), String> {
    let (r, c) = s
        .split_once('x')
        .ok_or_else(|| format!("'{s}' is not a shape ROWSxCOLS (e.g. 8x16)"))?;
    let (rows, cols) = (whole(r)?, whole(c)?);
    check_shape(rows, cols, rows.max(cols) as u32).map(|()| (rows, cols))
}

/// The simulated word-stream shapes, for help texts.
pub fn sim_shapes() -> String {
    let names: Vec<String> = srsa_sim::SHAPES.iter().map(|s| s.to_string()).collect();
    names.join(", ")
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

#[cfg(test)]
mod tests {
    use super::*;
    use srsa_spec::protocol::Identity;

    #[test]
    fn shapes_parse_and_bad_ones_name_the_culprit() {
        assert_eq!(parse_shape("8x16"), Ok((8, 16)));
        assert_eq!(parse_shape("16x2"), Ok((16, 2)));
        for (bad, named) in [
            ("8", "'8'"),
            ("8x", "''"),
            ("x4", "''"),
            ("ax4", "'a'"),
            ("3x4", "3"),
            ("4x64", "64"),
        ] {
            let e = parse_shape(bad).unwrap_err();
            assert!(e.contains(named), "{bad}: {e}");
        }
    }

    fn identity(d: GoldenDevice) -> Identity {
        *Driver::new(d).unwrap().identity()
    }

    /// The golden model takes the simulated device's buffers from the
    /// table, for every model, rectangular ones included.
    #[test]
    fn golden_models_are_shaped_like_the_simulated_ones() {
        for s in srsa_sim::SHAPES {
            let id = identity(golden_shape(s.rows, s.cols).unwrap());
            assert_eq!(
                (id.rows, id.cols, id.buffer_elems),
                (s.rows as u32, s.cols as u32, s.buffer_elems),
                "{s}"
            );
        }
        let id = identity(golden(32).unwrap());
        assert_eq!((id.rows, id.cols, id.buffer_elems), (32, 32, 32 << 14));
        let e = sim_shape(4, 2).unwrap_err().to_string();
        assert!(e.contains("4x2"), "{e}");
    }
}
