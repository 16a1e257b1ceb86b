//! The SRSA hardware (crate `srsa-hw`'s `top`) verilated and driven as a
//! [`Link`].
//!
//! Words given to [`Link::send`] wait in a queue and are offered to the
//! device (`cmd_valid`) only while [`Link::recv`] clocks it, in order, each
//! until the device accepts it (`cmd_ready`). `rsp_ready` is high only while
//! a `recv` still wants words, so the device never loses a response: words
//! it has not been asked for stay in the device.
//!
//! On [`LinkError::Timeout`] the words received so far are kept, not
//! dropped: the next `recv` returns them first. A caller that gives up on a
//! response can still resynchronise by reading what did come.

mod ffi;
mod sizes;

pub use sizes::{
    shape, SimShape, BARE_ARRAYS, SHAPES, SIZES, UART, UART_CLOCKS_PER_BIT, UART_SHAPE,
};

use srsa_spec::protocol::{Link, LinkError};
use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};

/// Cycles per crossing into C++: large enough that the crossing costs
/// nothing, small enough that a long `recv` checks for `$finish` often.
const BATCH_CYCLES: u64 = 1 << 20;
/// Most response words collected per crossing.
const CHUNK_WORDS: usize = 1 << 16;

/// Why the simulator could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    /// No model of this array shape (rows, cols) was built.
    UnsupportedSize(usize, usize),
    /// A trace window that records nothing (`end <= start`).
    EmptyTraceWindow { start: u64, end: u64 },
    /// The trace file could not be created (or the path holds a NUL byte).
    TraceOpen(PathBuf),
    /// The models were verilated without `--trace`.
    TraceUnsupported,
    /// No bare array of this shape (rows, cols) was built.
    NoBareArray(usize, usize),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::UnsupportedSize(r, c) => {
                write!(f, "no simulator for a {r}x{c} array: supported shapes are ")?;
                let names: Vec<String> = SHAPES.iter().map(SimShape::to_string).collect();
                f.write_str(&names.join(", "))
            }
            SimError::EmptyTraceWindow { start, end } => {
                write!(f, "trace window [{start}, {end}) holds no cycle")
            }
            SimError::TraceOpen(p) => write!(f, "cannot create trace file {}", p.display()),
            SimError::TraceUnsupported => f.write_str("simulator built without trace support"),
            SimError::NoBareArray(r, c) => {
                write!(f, "no bare {r}x{c} array was built: built are ")?;
                let names: Vec<String> = BARE_ARRAYS
                    .iter()
                    .map(|(r, c)| format!("{r}x{c}"))
                    .collect();
                f.write_str(&names.join(", "))
            }
        }
    }
}

impl std::error::Error for SimError {}

/// One verilated device with a rows x cols array, at power-up state.
pub struct SimDevice {
    rows: usize,
    cols: usize,
    model: ffi::Model,
    /// Clock cycles per bit when the device sits behind the UART.
    serial: Option<u16>,
    /// Sent, not yet accepted by the device.
    pending: VecDeque<u32>,
    /// Accepted from the device, not yet returned by `recv`.
    received: VecDeque<u32>,
}

impl SimDevice {
    /// A device with an n x n array; n must be one of [`SIZES`].
    pub fn new(n: usize) -> Result<SimDevice, SimError> {
        SimDevice::with_shape(n, n)
    }

    /// A device with a rows x cols array, one of [`SHAPES`].
    pub fn with_shape(rows: usize, cols: usize) -> Result<SimDevice, SimError> {
        let model = ffi::Model::new(rows, cols).ok_or(SimError::UnsupportedSize(rows, cols))?;
        Ok(SimDevice {
            rows,
            cols,
            model,
            serial: None,
            pending: VecDeque::new(),
            received: VecDeque::new(),
        })
    }

    /// The board top: the same device (the [`UART`] array) behind
    /// its UART, driven bit by bit over a simulated serial line at
    /// [`UART_CLOCKS_PER_BIT`] clocks per bit.
    pub fn uart() -> SimDevice {
        SimDevice {
            rows: UART.rows,
            cols: UART.cols,
            model: ffi::Model::uart(),
            serial: Some(UART_CLOCKS_PER_BIT),
            pending: VecDeque::new(),
            received: VecDeque::new(),
        }
    }

    /// The array's (rows, cols).
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Clock cycles run since power-up.
    pub fn cycles(&self) -> u64 {
        self.model.cycles()
    }

    /// Sent words the device has not accepted yet.
    pub fn pending_words(&self) -> usize {
        self.pending.len()
    }

    /// Received words not yet returned by `recv` (left by a timeout).
    pub fn buffered_words(&self) -> usize {
        self.received.len()
    }

    /// Runs `cycles` clock cycles offering no word and accepting none
    /// (queued words stay queued).
    pub fn idle(&mut self, cycles: u64) {
        self.model.idle(cycles);
    }

    /// Records cycles `start..end` (absolute, as counted by [`cycles`]) to
    /// a VCD file at `path`, replacing any open trace. Cycles already past
    /// are not recorded. The file is complete once cycle `end` has run, or
    /// after [`close_trace`] or drop. Each cycle is two time steps: inputs
    /// change with the clock low at `10 * cycle`, the rising edge is at
    /// `10 * cycle + 5`.
    ///
    /// [`cycles`]: SimDevice::cycles
    /// [`close_trace`]: SimDevice::close_trace
    pub fn trace(&mut self, path: impl AsRef<Path>, start: u64, end: u64) -> Result<(), SimError> {
        let path = path.as_ref();
        if end <= start {
            return Err(SimError::EmptyTraceWindow { start, end });
        }
        self.model
            .trace_open(path.as_os_str().as_encoded_bytes(), start, end)
            .map_err(|e| match e {
                ffi::TraceOpenError::Unsupported => SimError::TraceUnsupported,
                _ => SimError::TraceOpen(path.to_path_buf()),
            })
    }

    /// Flushes and closes the trace file, if one is open.
    pub fn close_trace(&mut self) {
        self.model.trace_close();
    }

    fn finished_error() -> LinkError {
        LinkError::Io("the simulation executed $finish".into())
    }
}

/// The bare systolic array of a rows x cols device, verilated with the same
/// flags, behind a feed in the hardware (srsa-hw's `array_top`) that gives
/// it new operands every cycle: the yardstick `srsa bench` measures the
/// device's simulation speed against. Its outputs are folded into
/// [`checksum`](BareArray::checksum) every cycle.
pub struct BareArray {
    rows: usize,
    cols: usize,
    model: ffi::Bare,
}

impl BareArray {
    /// One of [`BARE_ARRAYS`], at power-up (cycle 0).
    pub fn new(rows: usize, cols: usize) -> Result<BareArray, SimError> {
        let model = ffi::Bare::new(rows, cols).ok_or(SimError::NoBareArray(rows, cols))?;
        Ok(BareArray { rows, cols, model })
    }

    /// The array's (rows, cols).
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Runs `cycles` clock cycles.
    pub fn tick(&mut self, cycles: u64) {
        self.model.tick(cycles);
    }

    /// Clock cycles run since power-up.
    pub fn cycles(&self) -> u64 {
        self.model.cycles()
    }

    /// Every column's output at every cycle so far, folded into one word
    /// (zero before the first cycle).
    pub fn checksum(&self) -> u64 {
        self.model.checksum()
    }
}

impl fmt::Debug for BareArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BareArray")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("cycles", &self.cycles())
            .finish()
    }
}

impl Link for SimDevice {
    fn send(&mut self, words: &[u32]) -> Result<(), LinkError> {
        if self.model.finished() {
            return Err(Self::finished_error());
        }
        self.pending.extend(words);
        Ok(())
    }

    fn recv(&mut self, n: usize, max_cycles: u64) -> Result<Vec<u32>, LinkError> {
        // Over the serial line every word in flight also costs its 40 bits.
        let max_cycles = match self.serial {
            Some(cpb) => {
                let words = (self.pending.len() + n + 1) as u64;
                max_cycles.saturating_add(words * 40 * cpb as u64)
            }
            None => max_cycles,
        };
        // Bounded, so that an absurd `n` times out instead of aborting on
        // allocation.
        let mut chunk = vec![0u32; n.saturating_sub(self.received.len()).min(CHUNK_WORDS)];
        let mut ran = 0u64;
        while self.received.len() < n && ran < max_cycles {
            if self.model.finished() {
                return Err(Self::finished_error());
            }
            let want = (n - self.received.len()).min(chunk.len());
            let batch = (max_cycles - ran).min(BATCH_CYCLES);
            let r = self
                .model
                .run(self.pending.make_contiguous(), &mut chunk[..want], batch);
            // Both counts are bounded by the slices' lengths (usize).
            self.pending.drain(..r.consumed as usize);
            self.received.extend(&chunk[..r.produced as usize]);
            ran += r.cycles;
        }
        if self.received.len() < n {
            return Err(LinkError::Timeout {
                wanted: n,
                got: self.received.len(),
            });
        }
        Ok(self.received.drain(..n).collect())
    }

    fn name(&self) -> String {
        match self.serial {
            Some(_) => "sim-uart".into(),
            None => "sim".into(),
        }
    }
}

impl fmt::Debug for SimDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimDevice")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("cycles", &self.cycles())
            .field("pending", &self.pending.len())
            .field("received", &self.received.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use srsa_spec::protocol::{header, op, status_word, Identity, Status, IDENTIFY_WORDS};

    fn assert_send<T: Send>() {}

    #[test]
    fn device_is_send() {
        assert_send::<SimDevice>();
    }

    /// What the device says of itself over the word stream.
    fn identify(d: &mut SimDevice) -> Identity {
        d.send(&[header(op::IDENTIFY, 0)]).unwrap();
        let w = d.recv(1 + IDENTIFY_WORDS, 10_000).unwrap();
        assert_eq!(w[0], status_word(op::IDENTIFY, Status::Ok), "{w:x?}");
        Identity::decode(&w[1..]).unwrap()
    }

    /// The table's figures are the RTL's: a golden model built from them is
    /// shaped like the device.
    #[test]
    fn every_model_builds_and_identifies_as_its_table_line() {
        for s in SHAPES {
            let mut d = SimDevice::with_shape(s.rows, s.cols).unwrap();
            assert_eq!(
                (d.shape(), d.cycles(), d.name()),
                ((s.rows, s.cols), 0, "sim".into())
            );
            let id = identify(&mut d);
            assert_eq!(
                (id.rows, id.cols, id.buffer_elems),
                (s.rows as u32, s.cols as u32, s.buffer_elems),
                "{s}"
            );
            assert_eq!(shape(s.rows, s.cols), Some(s));
        }
        for n in SIZES {
            assert_eq!(SimDevice::new(n).unwrap().shape(), (n, n));
        }
        let mut d = SimDevice::uart();
        assert_eq!(
            (d.shape(), d.name()),
            ((UART.rows, UART.cols), "sim-uart".into())
        );
        let id = identify(&mut d);
        assert_eq!(
            (id.rows, id.cols, id.buffer_elems),
            (UART.rows as u32, UART.cols as u32, UART.buffer_elems)
        );
    }

    #[test]
    fn unsupported_shapes_are_refused_naming_the_models() {
        for (r, c) in [
            (0, 0),
            (1, 1),
            (2, 2),
            (5, 5),
            (32, 32),
            (4, 2),
            (16, 8),
            (usize::MAX, 4),
        ] {
            let e = SimDevice::with_shape(r, c).unwrap_err();
            assert_eq!(e, SimError::UnsupportedSize(r, c));
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("no simulator for a {r}x{c} array")),
                "{text}"
            );
            for s in SHAPES {
                assert!(text.contains(&format!(" {s}")), "{text} does not name {s}");
            }
            assert_eq!(shape(r, c), None);
        }
    }

    /// It computes: the outputs fold to a different checksum after every
    /// stretch of a tile's length (each column finishes sums in each), and
    /// two arrays run alike agree (the feed is deterministic).
    #[test]
    fn every_bare_array_runs_and_its_outputs_change() {
        assert!(!BARE_ARRAYS.is_empty());
        for &(r, c) in BARE_ARRAYS.iter() {
            let mut a = BareArray::new(r, c).unwrap();
            assert_eq!((a.shape(), a.cycles(), a.checksum()), ((r, c), 0, 0));
            let mut seen = vec![0];
            for _ in 0..8 {
                a.tick(100);
                seen.push(a.checksum());
            }
            assert_eq!(a.cycles(), 800);
            let mut distinct = seen.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), seen.len(), "{r}x{c}: {seen:x?}");
            let mut b = BareArray::new(r, c).unwrap();
            b.tick(800);
            assert_eq!(b.checksum(), a.checksum(), "{r}x{c}");
        }
        let e = BareArray::new(3, 5).unwrap_err();
        assert_eq!(e, SimError::NoBareArray(3, 5));
        assert!(e.to_string().starts_with("no bare 3x5 array"), "{e}");
    }

    #[test]
    fn is_a_link_object() {
        let mut l: Box<dyn Link + Send> = Box::new(SimDevice::new(4).unwrap());
        assert_eq!(l.name(), "sim");
        assert!(l.send(&[]).is_ok());
    }

    #[test]
    fn silence_times_out_after_exactly_max_cycles() {
        // No command, no response: holds for any device.
        let mut d = SimDevice::new(8).unwrap();
        match d.recv(3, 5000) {
            Err(LinkError::Timeout { wanted: 3, got: 0 }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(d.cycles(), 5000);
        // Longer than one batch.
        assert!(d.recv(1, BATCH_CYCLES * 2 + 7).is_err());
        assert_eq!(d.cycles(), 5000 + BATCH_CYCLES * 2 + 7);
    }

    #[test]
    fn absurd_requests_time_out() {
        let mut d = SimDevice::new(4).unwrap();
        match d.recv(usize::MAX, 100) {
            Err(LinkError::Timeout { got: 0, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(d.cycles(), 100);
    }

    #[test]
    fn recv_without_cycles_times_out_at_once() {
        let mut d = SimDevice::new(4).unwrap();
        match d.recv(1, 0) {
            Err(LinkError::Timeout { wanted: 1, got: 0 }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(d.cycles(), 0);
        assert_eq!(d.recv(0, 0).unwrap(), Vec::<u32>::new());
    }

    #[test]
    fn bad_trace_requests_are_errors() {
        let mut d = SimDevice::new(4).unwrap();
        assert_eq!(
            d.trace("/tmp/x.vcd", 5, 5),
            Err(SimError::EmptyTraceWindow { start: 5, end: 5 })
        );
        let bad = Path::new("/nonexistent-dir/sub/t.vcd");
        assert_eq!(
            d.trace(bad, 0, 10),
            Err(SimError::TraceOpen(bad.to_path_buf()))
        );
        let nul = Path::new("a\0b.vcd");
        assert_eq!(
            d.trace(nul, 0, 10),
            Err(SimError::TraceOpen(nul.to_path_buf()))
        );
        // The device still runs after refused traces.
        d.idle(3);
        assert_eq!(d.cycles(), 3);
    }
}
