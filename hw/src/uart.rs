//! Serial receiver and transmitter for the board top: 8 data bits, no
//! parity, one stop bit, least significant bit first, the line idling high.
//! The bit time is `clocks_per_bit` clock cycles (at least 4), fixed when
//! the block is built: every board runs one baud rate.
//!
//! Receiver sampling rule (h = clocks_per_bit / 2, rounded down): the pin
//! passes a two-flip-flop synchroniser; a high-to-low step of the
//! synchronised line in the idle state at cycle e marks the start bit. At
//! e + h the line must still be low, else it was a glitch and the receiver
//! returns to idle (so a low pulse of up to h clocks is ignored). Data bit i
//! is sampled at e + h + (i + 1) * clocks_per_bit and the stop bit at
//! e + h + 9 * clocks_per_bit; `valid` or `frame_error` pulses the cycle
//! after. The stop sample, 9.5 bits after the edge, must stay inside the
//! stop bit: a sender's bit time may be about 5% short or 5.5% long at
//! 104 clocks per bit. The start edge is only known to one clock, which
//! costs a quarter bit at 4 clocks per bit: there the range is -2.5% to
//! +5.5%.
//!
//! Transmitter: a byte accepted (`start` while `ready`) in cycle a puts the
//! start bit on `tx` from cycle a + 1 ([`TX_LATENCY`]); the frame lasts
//! exactly 10 bit times and `ready` rises again in its last cycle, so bytes
//! offered whenever ready leave back to back.

use rust_hdl::prelude::*;

/// Line level of one frame, in the order it is sent: start bit, data bits
/// least significant first, stop bit.
pub fn frame_bits(byte: u8) -> [bool; 10] {
    let mut bits = [true; 10];
    bits[0] = false;
    for (i, bit) in bits[1..9].iter_mut().enumerate() {
        *bit = (byte >> i) & 1 == 1;
    }
    bits
}

/// The line level in each clock cycle for `bytes` sent at `clocks_per_bit`
/// clocks per bit: two idle bit times, then the frames with `gap_bits` idle
/// bit times between consecutive frames. Ends with the last stop bit.
pub fn line_samples(bytes: &[u8], clocks_per_bit: usize, gap_bits: usize) -> Vec<bool> {
    let mut bits = vec![true; 2];
    for (k, &byte) in bytes.iter().enumerate() {
        if k > 0 {
            bits.extend(std::iter::repeat_n(true, gap_bits));
        }
        bits.extend(frame_bits(byte));
    }
    bits.iter()
        .flat_map(|&b| std::iter::repeat_n(b, clocks_per_bit))
        .collect()
}

/// Cycles from the cycle a byte is accepted to the first cycle of its start
/// bit on `tx` (the line is registered).
pub const TX_LATENCY: usize = 1;

fn check_clocks_per_bit(clocks_per_bit: u16) {
    assert!(
        clocks_per_bit >= 4,
        "a UART needs at least 4 clocks per bit, got {clocks_per_bit}"
    );
}

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
enum RxState {
    Idle,
    Start,
    Data,
    Stop,
}

#[derive(LogicBlock)]
pub struct UartRx {
    pub clock: Signal<In, Clock>,
    /// The pin, asynchronous to `clock`.
    pub rx: Signal<In, Bit>,
    /// The last byte received with a good stop bit (held until the next).
    pub data: Signal<Out, Bits<8>>,
    /// One-cycle pulse: `data` has just been updated.
    pub valid: Signal<Out, Bit>,
    /// One-cycle pulse: a frame ended with its stop bit low; its byte is
    /// dropped.
    pub frame_error: Signal<Out, Bit>,
    // Synchroniser and edge detector start at 1 so power-up is not taken
    // for a start bit.
    sync0: DFFWithInit<Bit>,
    sync1: DFFWithInit<Bit>,
    prev: DFFWithInit<Bit>,
    state: DFF<RxState>,
    count: DFF<Bits<16>>,
    bits: DFF<Bits<4>>,
    shift: DFF<Bits<8>>,
    shifted_in: DFF<Bits<8>>,
    valid_q: DFF<Bit>,
    error_q: DFF<Bit>,
    line: Signal<Local, Bit>,
    half_m1: Constant<Bits<16>>,
    full_m1: Constant<Bits<16>>,
    msb: Constant<Bits<8>>,
}

impl UartRx {
    pub fn new(clocks_per_bit: u16) -> Self {
        check_clocks_per_bit(clocks_per_bit);
        Self {
            clock: Default::default(),
            rx: Default::default(),
            data: Default::default(),
            valid: Default::default(),
            frame_error: Default::default(),
            sync0: DFFWithInit::new(true),
            sync1: DFFWithInit::new(true),
            prev: DFFWithInit::new(true),
            state: Default::default(),
            count: Default::default(),
            bits: Default::default(),
            shift: Default::default(),
            shifted_in: Default::default(),
            valid_q: Default::default(),
            error_q: Default::default(),
            line: Default::default(),
            half_m1: Constant::new(((clocks_per_bit / 2 - 1) as u64).into()),
            full_m1: Constant::new(((clocks_per_bit - 1) as u64).into()),
            msb: Constant::new(0x80u64.into()),
        }
    }
}

impl Logic for UartRx {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, sync0, sync1, prev, state, count, bits, shift, shifted_in, valid_q,
            error_q
        );
        self.sync0.d.next = self.rx.val();
        self.sync1.d.next = self.sync0.q.val();
        self.line.next = self.sync1.q.val();
        self.prev.d.next = self.line.val();
        self.valid_q.d.next = false;
        self.error_q.d.next = false;
        self.count.d.next = self.count.q.val() + 1;
        match self.state.q.val() {
            RxState::Idle => {
                self.count.d.next = 0.into();
                // An edge, not a level: after a frame error on a held-low
                // line (a break) wait for the line to recover.
                if self.prev.q.val() & !self.line.val() {
                    self.state.d.next = RxState::Start;
                }
            }
            RxState::Start => {
                if self.count.q.val() == self.half_m1.val() {
                    self.count.d.next = 0.into();
                    self.bits.d.next = 0.into();
                    if self.line.val() {
                        self.state.d.next = RxState::Idle;
                    } else {
                        self.state.d.next = RxState::Data;
                    }
                }
            }
            RxState::Data => {
                if self.count.q.val() == self.full_m1.val() {
                    self.count.d.next = 0.into();
                    self.shift.d.next = self.shift.q.val() >> 1;
                    if self.line.val() {
                        self.shift.d.next = (self.shift.q.val() >> 1) | self.msb.val();
                    }
                    self.bits.d.next = self.bits.q.val() + 1;
                    if self.bits.q.val() == 7 {
                        self.state.d.next = RxState::Stop;
                    }
                }
            }
            RxState::Stop => {
                if self.count.q.val() == self.full_m1.val() {
                    self.state.d.next = RxState::Idle;
                    if self.line.val() {
                        self.shifted_in.d.next = self.shift.q.val();
                        self.valid_q.d.next = true;
                    } else {
                        self.error_q.d.next = true;
                    }
                }
            }
        }
        self.data.next = self.shifted_in.q.val();
        self.valid.next = self.valid_q.q.val();
        self.frame_error.next = self.error_q.q.val();
    }
}

#[derive(LogicBlock)]
pub struct UartTx {
    pub clock: Signal<In, Clock>,
    /// The byte to send, taken in the cycle it is accepted.
    pub data: Signal<In, Bits<8>>,
    /// Offer `data`; accepted in a cycle where `ready` is high.
    pub start: Signal<In, Bit>,
    /// A byte offered this cycle is accepted.
    pub ready: Signal<Out, Bit>,
    /// The line: idles high, driven straight from a flip-flop.
    pub tx: Signal<Out, Bit>,
    line: DFFWithInit<Bit>,
    busy: DFF<Bit>,
    count: DFF<Bits<16>>,
    /// Bit boundaries still to come in this frame before its end.
    left: DFF<Bits<4>>,
    /// The bits still to go out (data then stop), next one in bit 0.
    shift: DFF<Bits<9>>,
    last: Signal<Local, Bit>,
    full_m1: Constant<Bits<16>>,
    stop_bit: Constant<Bits<9>>,
    boundaries: Constant<Bits<4>>,
}

impl UartTx {
    pub fn new(clocks_per_bit: u16) -> Self {
        check_clocks_per_bit(clocks_per_bit);
        Self {
            clock: Default::default(),
            data: Default::default(),
            start: Default::default(),
            ready: Default::default(),
            tx: Default::default(),
            line: DFFWithInit::new(true),
            busy: Default::default(),
            count: Default::default(),
            left: Default::default(),
            shift: Default::default(),
            last: Default::default(),
            full_m1: Constant::new(((clocks_per_bit - 1) as u64).into()),
            stop_bit: Constant::new(0x100u64.into()),
            boundaries: Constant::new(9u64.into()),
        }
    }
}

impl Logic for UartTx {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, line, busy, count, left, shift);
        // The stop bit's final cycle: a byte accepted now starts exactly
        // when the stop bit ends, so back-to-back frames have no gap.
        self.last.next = self.busy.q.val()
            & !self.left.q.val().any()
            & (self.count.q.val() == self.full_m1.val());
        self.ready.next = !self.busy.q.val() | self.last.val();
        if self.busy.q.val() {
            self.count.d.next = self.count.q.val() + 1;
            if self.count.q.val() == self.full_m1.val() {
                self.count.d.next = 0.into();
                if self.left.q.val().any() {
                    self.line.d.next = self.shift.q.val().get_bit(0);
                    self.shift.d.next = self.shift.q.val() >> 1;
                    self.left.d.next = self.left.q.val() - 1;
                } else {
                    self.busy.d.next = false;
                }
            }
        }
        if self.start.val() & self.ready.val() {
            self.busy.d.next = true;
            self.count.d.next = 0.into();
            self.left.d.next = self.boundaries.val();
            self.shift.d.next = bit_cast::<9, 8>(self.data.val()) | self.stop_bit.val();
            self.line.d.next = false;
        }
        self.tx.next = self.line.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::sync::{Arc, Mutex};

    /// Clock half-period in simulator time units.
    const HALF: u64 = 5;

    /// What the receiver did, cycle by cycle.
    #[derive(Default, Debug)]
    struct RxTrace {
        /// (cycle, byte) for each valid pulse.
        bytes: Vec<(usize, u8)>,
        /// Cycles with frame_error high.
        errors: Vec<usize>,
    }

    /// Drives `line[t]` into the receiver's pin in cycle t (then keeps the
    /// line idle for `tail` cycles) and records its outputs.
    fn run_rx(clocks_per_bit: u16, line: Vec<bool>, tail: usize) -> RxTrace {
        let mut uut = UartRx::new(clocks_per_bit);
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(HALF, |x: &mut Box<UartRx>| x.clock.next = !x.clock.val());
        let cycles = line.len() + tail;
        let out = Arc::new(Mutex::new(RxTrace::default()));
        let sink = out.clone();
        sim.add_testbench(move |mut sim: Sim<UartRx>| {
            let mut x = sim.init()?;
            for t in 0..cycles {
                x.rx.next = *line.get(t).unwrap_or(&true);
                x = sim.wait(1, x)?;
                let mut s = sink.lock().unwrap();
                if x.valid.val() {
                    s.bytes.push((t, x.data.val().to_u64() as u8));
                }
                if x.frame_error.val() {
                    s.errors.push(t);
                }
                drop(s);
                wait_clock_true!(sim, clock, x);
                wait_clock_false!(sim, clock, x);
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), (cycles as u64 + 4) * 2 * HALF)
            .unwrap();
        let trace = std::mem::take(&mut *out.lock().unwrap());
        trace
    }

    /// The sender's line with its bit time `stretch` times the nominal one,
    /// seen at the receiver's clock: the nominal line at a fine time step,
    /// resampled.
    fn stretched_line(bytes: &[u8], clocks_per_bit: usize, gap: usize, stretch: f64) -> Vec<bool> {
        const FINE: usize = 1000;
        let fine = line_samples(bytes, FINE, gap);
        let bit_clocks = clocks_per_bit as f64 * stretch;
        (0..)
            .map(|t| (t as f64 * FINE as f64 / bit_clocks) as usize)
            .take_while(|&i| i < fine.len())
            .map(|i| fine[i])
            .collect()
    }

    fn test_bytes() -> Vec<u8> {
        let mut bytes = vec![0x00, 0xFF, 0x55, 0xA3, 0x01, 0x80];
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5152_5341);
        let random: Vec<u8> = (0..20).map(|_| rng.gen_range(0..=255)).collect();
        println!("random bytes (seed 0x51525341): {random:02x?}");
        bytes.extend(random);
        bytes
    }

    /// Cycle of each frame's start bit in a line built by `line_samples`.
    fn frame_starts(n: usize, clocks_per_bit: usize, gap: usize) -> Vec<usize> {
        (0..n)
            .map(|k| (2 + k * (10 + gap)) * clocks_per_bit)
            .collect()
    }

    #[test]
    fn frame_reference() {
        assert_eq!(
            frame_bits(0xA3),
            [false, true, true, false, false, false, true, false, true, true]
        );
        let line = line_samples(&[0x00, 0xFF], 2, 1);
        assert_eq!(line.len(), 2 * (2 + 10 + 1 + 10));
        let bits: Vec<bool> = line.chunks(2).map(|c| c[0]).collect();
        let mut want = vec![true; 2];
        want.extend(frame_bits(0x00));
        want.push(true);
        want.extend(frame_bits(0xFF));
        assert_eq!(bits, want);
        assert!(line.chunks(2).all(|c| c[0] == c[1]));
    }

    /// Whether a receiver sampling at `h` clocks after the detected edge
    /// (then every `cpb`) reads every bit of a frame sent with a bit time of
    /// `stretch * cpb` clocks, whatever the sender's phase: the edge is seen
    /// 0 to 1 clock late, so bit i's sample falls in
    /// [h + i * cpb, h + i * cpb + 1) after the true edge and must lie in
    /// [i, i + 1) sender bit times.
    fn rx_tolerates(cpb: usize, h: usize, stretch: f64) -> bool {
        let bit = cpb as f64 * stretch;
        (0..10).all(|i| {
            let early = (h + i * cpb) as f64;
            i as f64 * bit <= early && early + 1.0 <= (i + 1) as f64 * bit
        })
    }

    #[test]
    fn rx_tolerance_limits() {
        for cpb in [7, 16, 104] {
            for stretch in [0.97, 1.03] {
                assert!(rx_tolerates(cpb, cpb / 2, stretch), "{cpb} {stretch}");
            }
        }
        // At 104 clocks per bit (12 MHz, 115200 baud).
        assert!(rx_tolerates(104, 52, 0.953) && rx_tolerates(104, 52, 1.055));
        // With 4 clocks per bit the one-clock uncertainty of the start edge
        // is a quarter bit: no sample point takes both +3% and -3%.
        assert!((0..4).all(|h| !(rx_tolerates(4, h, 0.97) && rx_tolerates(4, h, 1.03))));
        assert!(rx_tolerates(4, 2, 0.975) && rx_tolerates(4, 2, 1.055));
    }

    #[test]
    fn rx_decodes_streams_at_nominal_and_skewed_rates() {
        let bytes = test_bytes();
        for cpb in [4usize, 7, 16] {
            // -3% is out of reach at 4 clocks per bit (rx_tolerance_limits).
            let fast = if cpb == 4 { 0.98 } else { 0.97 };
            for gap in [0usize, 3] {
                for stretch in [1.0, 1.03, fast] {
                    assert!(rx_tolerates(cpb, cpb / 2, stretch));
                    let line = stretched_line(&bytes, cpb, gap, stretch);
                    let got = run_rx(cpb as u16, line, 4 * cpb);
                    let what = format!("cpb {cpb} gap {gap} stretch {stretch}");
                    assert!(
                        got.errors.is_empty(),
                        "{what}: frame errors {:?}",
                        got.errors
                    );
                    let rx: Vec<u8> = got.bytes.iter().map(|b| b.1).collect();
                    assert_eq!(rx, bytes, "{what}");
                    if stretch == 1.0 {
                        // The sampling rule: two synchroniser cycles to the
                        // edge, stop bit sampled h + 9 bits later, valid
                        // registered one cycle after that.
                        let h = cpb / 2;
                        let want: Vec<usize> = frame_starts(bytes.len(), cpb, gap)
                            .iter()
                            .map(|s| s + 2 + h + 9 * cpb + 1)
                            .collect();
                        let when: Vec<usize> = got.bytes.iter().map(|b| b.0).collect();
                        assert_eq!(when, want, "{what}: valid cycles");
                    }
                }
            }
        }
    }

    #[test]
    fn rx_reports_bad_stop_bit_and_recovers() {
        for cpb in [4usize, 7] {
            // Stop bit low for one bit time, and a break: low for 30 bits.
            for low_bits in [1usize, 30] {
                let mut bits = vec![true; 2];
                let mut bad = frame_bits(0x5A);
                bad[9] = false;
                bits.extend(bad);
                bits.extend(std::iter::repeat_n(false, low_bits - 1));
                bits.extend([true, true]);
                bits.extend(frame_bits(0xC3));
                let line: Vec<bool> = bits
                    .iter()
                    .flat_map(|&b| std::iter::repeat_n(b, cpb))
                    .collect();
                let got = run_rx(cpb as u16, line, 4 * cpb);
                let what = format!("cpb {cpb} low {low_bits}");
                // The bad stop bit is sampled at its middle: one pulse.
                let stop_sample = 2 * cpb + 2 + cpb / 2 + 9 * cpb;
                assert_eq!(got.errors, vec![stop_sample + 1], "{what}");
                let rx: Vec<u8> = got.bytes.iter().map(|b| b.1).collect();
                assert_eq!(rx, vec![0xC3], "{what}");
            }
        }
    }

    #[test]
    fn rx_ignores_short_glitches() {
        for cpb in [4usize, 7] {
            let h = cpb / 2;
            // Any low pulse of up to h clocks is ignored; h + 1 clocks is a
            // start bit (then reads as 0xFF: the line stays high).
            for width in 1..=h + 1 {
                let mut line = vec![true; 3 * cpb];
                line.extend(std::iter::repeat_n(false, width));
                line.extend(std::iter::repeat_n(true, 12 * cpb));
                line.extend(line_samples(&[0x96], cpb, 0));
                let got = run_rx(cpb as u16, line, 4 * cpb);
                let what = format!("cpb {cpb} glitch {width}");
                assert!(got.errors.is_empty(), "{what}: {:?}", got.errors);
                let rx: Vec<u8> = got.bytes.iter().map(|b| b.1).collect();
                let want = if width <= h {
                    vec![0x96]
                } else {
                    vec![0xFF, 0x96]
                };
                assert_eq!(rx, want, "{what}");
            }
        }
    }

    /// What the transmitter did, cycle by cycle.
    #[derive(Default, Debug)]
    struct TxTrace {
        tx: Vec<bool>,
        ready: Vec<bool>,
        /// Cycles in which a byte was accepted.
        accepted: Vec<usize>,
    }

    /// Offers `bytes` to the transmitter from cycle `first` on, each one
    /// `gap_bits` bit times after the transmitter became ready (0: offered
    /// whenever ready), and records the line for `cycles` cycles.
    fn run_tx(cpb: u16, bytes: Vec<u8>, first: usize, gap_bits: usize, cycles: usize) -> TxTrace {
        let mut uut = UartTx::new(cpb);
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(HALF, |x: &mut Box<UartTx>| x.clock.next = !x.clock.val());
        let out = Arc::new(Mutex::new(TxTrace::default()));
        let sink = out.clone();
        let wait = gap_bits * cpb as usize;
        sim.add_testbench(move |mut sim: Sim<UartTx>| {
            let mut x = sim.init()?;
            let mut sent = 0;
            let mut ready_for = wait;
            for t in 0..cycles {
                let offer = t >= first && sent < bytes.len() && ready_for >= wait;
                x.start.next = offer;
                // Garbage while not offering: data must only count when taken.
                x.data.next = (if offer { bytes[sent] } else { 0x5A ^ t as u8 } as u64).into();
                x = sim.wait(1, x)?;
                let mut s = sink.lock().unwrap();
                s.tx.push(x.tx.val());
                s.ready.push(x.ready.val());
                if x.ready.val() {
                    ready_for += 1;
                }
                if offer && x.ready.val() {
                    s.accepted.push(t);
                    sent += 1;
                    ready_for = 0;
                }
                drop(s);
                wait_clock_true!(sim, clock, x);
                wait_clock_false!(sim, clock, x);
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), (cycles as u64 + 4) * 2 * HALF)
            .unwrap();
        let trace = std::mem::take(&mut *out.lock().unwrap());
        trace
    }

    #[test]
    fn tx_line_matches_reference() {
        let mut bytes = test_bytes();
        bytes.truncate(12);
        for cpb in [4usize, 5] {
            for gap in [0usize, 2] {
                let reference = line_samples(&bytes, cpb, gap);
                let first = 3;
                let cycles = first + reference.len() + 3 * cpb;
                let got = run_tx(cpb as u16, bytes.clone(), first, gap, cycles);
                let what = format!("cpb {cpb} gap {gap}");
                // Power-up idle, and the first byte taken when offered.
                assert_eq!(got.accepted.len(), bytes.len(), "{what}");
                assert_eq!(got.accepted[0], first, "{what}");
                let start_bit = got.tx.iter().position(|&b| !b).unwrap();
                assert_eq!(start_bit - got.accepted[0], TX_LATENCY, "{what}");
                // The whole line, shifted by the latency, is the reference;
                // before and after it the line is idle.
                let shift = first + TX_LATENCY;
                let lead = 2 * cpb;
                assert!(got.tx[..shift].iter().all(|&b| b), "{what}");
                assert_eq!(
                    &got.tx[shift..shift + reference.len() - lead],
                    &reference[lead..],
                    "{what}"
                );
                assert!(got.tx[shift + reference.len() - lead..].iter().all(|&b| b));
                // Busy for exactly a frame after each accept: ready only in
                // the stop bit's last cycle (when the next byte can go).
                for &a in &got.accepted {
                    let busy = &got.ready[a + 1..a + 10 * cpb];
                    assert!(
                        busy.iter().all(|&r| !r),
                        "{what}: ready while sending at {a}"
                    );
                    assert!(
                        got.ready[a + 10 * cpb],
                        "{what}: not ready after frame at {a}"
                    );
                }
            }
        }
    }

    /// A transmitter wired into a receiver.
    #[derive(LogicBlock)]
    struct Loopback {
        clock: Signal<In, Clock>,
        data: Signal<In, Bits<8>>,
        start: Signal<In, Bit>,
        ready: Signal<Out, Bit>,
        rx_data: Signal<Out, Bits<8>>,
        rx_valid: Signal<Out, Bit>,
        rx_error: Signal<Out, Bit>,
        tx: UartTx,
        rx: UartRx,
    }

    impl Loopback {
        fn new(clocks_per_bit: u16) -> Self {
            Self {
                clock: Default::default(),
                data: Default::default(),
                start: Default::default(),
                ready: Default::default(),
                rx_data: Default::default(),
                rx_valid: Default::default(),
                rx_error: Default::default(),
                tx: UartTx::new(clocks_per_bit),
                rx: UartRx::new(clocks_per_bit),
            }
        }
    }

    impl Logic for Loopback {
        #[hdl_gen]
        fn update(&mut self) {
            clock!(self, clock, tx, rx);
            self.tx.data.next = self.data.val();
            self.tx.start.next = self.start.val();
            self.ready.next = self.tx.ready.val();
            self.rx.rx.next = self.tx.tx.val();
            self.rx_data.next = self.rx.data.val();
            self.rx_valid.next = self.rx.valid.val();
            self.rx_error.next = self.rx.frame_error.val();
        }
    }

    #[test]
    fn loopback_carries_bytes() {
        let cpb = 6u16;
        let mut rng = rand::rngs::StdRng::seed_from_u64(16);
        let bytes: Vec<u8> = (0..16).map(|_| rng.gen_range(0..=255)).collect();
        let mut uut = Loopback::new(cpb);
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(HALF, |x: &mut Box<Loopback>| x.clock.next = !x.clock.val());
        let cycles = (bytes.len() + 2) * 10 * cpb as usize;
        let out = Arc::new(Mutex::new((Vec::new(), 0usize)));
        let sink = out.clone();
        let send = bytes.clone();
        sim.add_testbench(move |mut sim: Sim<Loopback>| {
            let mut x = sim.init()?;
            let mut sent = 0;
            for _ in 0..cycles {
                x.start.next = sent < send.len();
                x.data.next = (*send.get(sent).unwrap_or(&0) as u64).into();
                x = sim.wait(1, x)?;
                if x.start.val() && x.ready.val() {
                    sent += 1;
                }
                let mut s = sink.lock().unwrap();
                if x.rx_valid.val() {
                    s.0.push(x.rx_data.val().to_u64() as u8);
                }
                if x.rx_error.val() {
                    s.1 += 1;
                }
                drop(s);
                wait_clock_true!(sim, clock, x);
                wait_clock_false!(sim, clock, x);
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), (cycles as u64 + 4) * 2 * HALF)
            .unwrap();
        let (got, errors) = out.lock().unwrap().clone();
        assert_eq!(errors, 0);
        assert_eq!(got, bytes);
    }

    #[test]
    fn verilog_generates_and_passes_yosys() {
        let mut uut = Loopback::new(104);
        uut.connect_all();
        check_all(&uut).unwrap();
        let v = generate_verilog(&uut);
        assert!(v.contains("module top"));
        if std::process::Command::new("yosys")
            .arg("-V")
            .output()
            .is_err()
        {
            println!("yosys not on PATH: Verilog not checked");
            return;
        }
        let dir = std::env::temp_dir().join(format!("srsa-uart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("uart.v");
        std::fs::write(&file, &v).unwrap();
        let out = std::process::Command::new("yosys")
            .arg("-q")
            .arg("-p")
            .arg(format!(
                "read_verilog {}; hierarchy -check -top top; proc; check -assert",
                file.display()
            ))
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "yosys: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        rust_hdl::core::yosys::yosys_validate(&format!("srsa-uart-v-{}", std::process::id()), &v)
            .unwrap();
    }
}
