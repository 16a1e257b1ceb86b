//! A real board behind a serial port (`--device serial:PATH[@BAUD]`): the
//! word-stream protocol as four bytes a word, least significant first, 8N1,
//! exactly what the UART board top (`hw/src/uart_top.rs`) speaks.

use crate::framed::ByteLine;
use serialport::SerialPort;
use srsa_spec::protocol::{Link, LinkError};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// The baud rate when `serial:PATH` names none.
pub const DEFAULT_BAUD: u32 = 1_000_000;

/// The clock the cycle bounds of [`Link::recv`] are converted with: the
/// slowest board clock we build for (iCEBreaker, 12 MHz), so a bound never
/// expires early on a faster board.
pub const SLOWEST_CLOCK_HZ: u64 = 12_000_000;

pub struct SerialLink {
    port: Box<dyn SerialPort>,
    path: String,
    baud: u32,
    /// Bytes read that do not yet make a whole word.
    partial: Vec<u8>,
}

/// Parses `PATH[@BAUD]`.
/// Rates a USB-UART bridge can run: from the slowest classic rate to the
/// FT2232H's 12 Mbaud.
pub const MIN_BAUD: u32 = 300;
pub const MAX_BAUD: u32 = 12_000_000;

pub fn parse_spec(spec: &str) -> Result<(String, u32), String> {
    let (path, baud) = match spec.rsplit_once('@') {
        Some((p, b)) => {
            let baud = b
                .parse::<u32>()
                .ok()
                .filter(|b| (MIN_BAUD..=MAX_BAUD).contains(b))
                .ok_or_else(|| {
                    format!("bad baud rate '{b}' in serial:{spec} (from {MIN_BAUD} to {MAX_BAUD})")
                })?;
            (p, baud)
        }
        None => (spec, DEFAULT_BAUD),
    };
    if path.is_empty() {
        return Err(format!(
            "serial:{spec} names no port (serial:/dev/ttyUSB1@1000000)"
        ));
    }
    Ok((path.to_string(), baud))
}

impl SerialLink {
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.port
            .write_all(bytes)
            .and_then(|_| self.port.flush())
            .map_err(|e| LinkError::Io(format!("write to {}: {e}", self.path)))
    }

    /// Bytes the port has for `buf` within its read timeout: 0 when none
    /// came (a timeout or an interrupted read is not an error here).
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, LinkError> {
        match self.port.read(buf) {
            Ok(k) => Ok(k),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                ) =>
            {
                Ok(0)
            }
            Err(e) => Err(LinkError::Io(format!("read from {}: {e}", self.path))),
        }
    }

    /// Opens `path` at `baud`, 8N1, no flow control, and drops whatever the
    /// port had buffered.
    pub fn open(path: &str, baud: u32) -> Result<SerialLink, LinkError> {
        let port = serialport::new(path, baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(serialport::FlowControl::None)
            .timeout(Duration::from_millis(50))
            .open()
            .map_err(|e| LinkError::Io(format!("cannot open serial port {path}: {e}")))?;
        let _ = port.clear(serialport::ClearBuffer::All);
        Ok(SerialLink {
            port,
            path: path.to_string(),
            baud,
            partial: Vec::new(),
        })
    }

    /// Wall time for `words` words on the line plus `cycles` device cycles,
    /// with a second of slack for the USB-UART's latency.
    fn budget(&self, words: usize, cycles: u64) -> Duration {
        let line = words as f64 * 40.0 / self.baud as f64;
        let work = cycles as f64 / SLOWEST_CLOCK_HZ as f64;
        Duration::from_secs_f64(line + work + 1.0)
    }
}

/// Serial layer 2 over the port: [`crate::framed::FramedLink`] wraps a
/// `SerialLink` for a board that frames its commands.
impl ByteLine for SerialLink {
    fn write(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.write_bytes(bytes)
    }

    fn read(&mut self, byte_times: u64) -> Result<Option<u8>, LinkError> {
        if !self.partial.is_empty() {
            return Ok(Some(self.partial.remove(0)));
        }
        let wait = Duration::from_secs_f64(byte_times as f64 * 10.0 / self.baud as f64);
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 256];
        loop {
            let k = self.read_some(&mut buf)?;
            if k > 0 {
                self.partial.extend_from_slice(&buf[1..k]);
                return Ok(Some(buf[0]));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    fn byte_times(&self, cycles: u64) -> u64 {
        (cycles as u128 * self.baud as u128 / (10 * SLOWEST_CLOCK_HZ as u128)) as u64 + 1
    }

    /// A USB-UART delivers in packets, up to tens of milliseconds late.
    fn latency(&self) -> u64 {
        (self.baud / 10 / 20) as u64
    }

    fn name(&self) -> String {
        Link::name(self)
    }
}

impl Link for SerialLink {
    fn send(&mut self, words: &[u32]) -> Result<(), LinkError> {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.write_bytes(&bytes)
    }

    fn recv(&mut self, n: usize, max_cycles: u64) -> Result<Vec<u32>, LinkError> {
        let deadline = Instant::now() + self.budget(n, max_cycles);
        let want = 4 * n;
        let mut buf = [0u8; 4096];
        while self.partial.len() < want {
            if Instant::now() >= deadline {
                return Err(LinkError::Timeout {
                    wanted: n,
                    got: self.partial.len() / 4,
                });
            }
            let room = (want - self.partial.len()).min(buf.len());
            let k = self.read_some(&mut buf[..room])?;
            self.partial.extend_from_slice(&buf[..k]);
        }
        let words = self.partial[..want]
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        self.partial.drain(..want);
        Ok(words)
    }

    fn name(&self) -> String {
        format!("serial:{}@{}", self.path, self.baud)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_or_name_the_fault() {
        assert_eq!(
            parse_spec("/dev/ttyUSB1").unwrap(),
            ("/dev/ttyUSB1".into(), DEFAULT_BAUD)
        );
        assert_eq!(
            parse_spec("/dev/ttyUSB1@3000000").unwrap(),
            ("/dev/ttyUSB1".into(), 3_000_000)
        );
        for bad in ["/dev/ttyUSB1@fast", "/dev/ttyUSB1@0", "@9600", ""] {
            assert!(parse_spec(bad).is_err(), "{bad}");
        }
        assert!(parse_spec("/dev/x@fast").unwrap_err().contains("fast"));
    }

    #[test]
    fn a_missing_port_is_named() {
        let e = SerialLink::open("/dev/srsa-no-such-port", 9600)
            .err()
            .expect("no such port")
            .to_string();
        assert!(e.contains("/dev/srsa-no-such-port"), "{e}");
    }
}
