//! The receiving half of serial layer 2 (`srsa_spec::serial`,
//! docs/PROTOCOL.md "Serial framing"): bytes from the UART receiver are
//! gathered into a frame in a 256-word buffer, and the frame's words go to
//! the device only once its CRC-32 has checked and its sequence number is
//! not the last executed one's. A corrupted frame is refused whole, so
//! noise can never become a command.
//!
//! The CRC runs a bit a clock from an 8-bit shift register: a byte takes 8
//! clocks, and bytes are at least 40 clocks apart (10 bits of at least 4
//! clocks), so one XOR per register bit is all it costs. The check feeds
//! the received CRC through the register too and compares with the
//! CRC-32 residue, a constant, rather than with the received word.
//!
//! Words leave the buffer at most one every two cycles (the block RAM's
//! read is registered), far faster than the line brings them.

use crate::constant;
use rust_hdl::prelude::*;
use rust_hdl::widgets::ramrom::ram::RAM;
use srsa_spec::serial::{FRAME_MAGIC, MAX_FRAME_WORDS};

/// The CRC register after a frame and its own (complemented) CRC have
/// passed through it: the same for every good frame.
pub const CRC_RESIDUE: u32 = 0xDEBB_20E3;

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
enum FrameState {
    /// Gathering a header's four bytes.
    Ready,
    /// Gathering payload words, then the CRC word.
    Payload,
    /// The last CRC bits are still going through the register.
    Check,
    /// Words to the device.
    Release,
    /// After a rejected frame: bytes ignored until an idle gap.
    Hunt,
}

#[derive(LogicBlock)]
pub struct FrameRx {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    /// A byte from the UART receiver (a one-cycle `byte_valid` pulse).
    pub rx_byte: Signal<In, Bits<8>>,
    pub byte_valid: Signal<In, Bit>,
    /// One-cycle pulse: the line has been idle for the gap.
    pub gap: Signal<In, Bit>,
    /// The released frame's words, to the device's command port.
    pub out_data: Signal<Out, Bits<32>>,
    pub out_valid: Signal<Out, Bit>,
    pub out_ready: Signal<In, Bit>,
    /// One-cycle pulses: a frame rejected (answer NAK); a duplicate (answer
    /// DUP and the kept CRC); every word of an executed frame taken.
    pub nak: Signal<Out, Bit>,
    pub dup: Signal<Out, Bit>,
    pub done: Signal<Out, Bit>,
    /// The sequence number of the frame last accepted.
    pub seq: Signal<Out, Bits<8>>,
    buffer: RAM<Bits<32>, 8>,
    state: DFF<FrameState>,
    word: DFF<Bits<32>>,
    bytes: DFF<Bits<2>>,
    /// Words of the frame after its header so far (payload, then CRC).
    count: DFF<Bits<9>>,
    len: DFF<Bits<9>>,
    seq_q: DFF<Bits<8>>,
    last_seq: DFF<Bits<8>>,
    last_valid: DFF<Bit>,
    crc: DFF<Bits<32>>,
    crc_bits: DFF<Bits<8>>,
    crc_left: DFF<Bits<4>>,
    /// Next word to release, and whether the buffer's output holds it.
    rd: DFF<Bits<9>>,
    primed: DFF<Bit>,
    /// A byte came while a frame was being released: hunt afterwards.
    spoiled: DFF<Bit>,
    nak_q: DFF<Bit>,
    dup_q: DFF<Bit>,
    done_q: DFF<Bit>,
    next_word: Signal<Local, Bits<32>>,
    magic: Constant<Bits<8>>,
    max_len: Constant<Bits<16>>,
    residue: Constant<Bits<32>>,
    poly: Constant<Bits<32>>,
    ones: Constant<Bits<32>>,
}

impl Default for FrameRx {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            rx_byte: Default::default(),
            byte_valid: Default::default(),
            gap: Default::default(),
            out_data: Default::default(),
            out_valid: Default::default(),
            out_ready: Default::default(),
            nak: Default::default(),
            dup: Default::default(),
            done: Default::default(),
            seq: Default::default(),
            buffer: Default::default(),
            state: Default::default(),
            word: Default::default(),
            bytes: Default::default(),
            count: Default::default(),
            len: Default::default(),
            seq_q: Default::default(),
            last_seq: Default::default(),
            last_valid: Default::default(),
            crc: Default::default(),
            crc_bits: Default::default(),
            crc_left: Default::default(),
            rd: Default::default(),
            primed: Default::default(),
            spoiled: Default::default(),
            nak_q: Default::default(),
            dup_q: Default::default(),
            done_q: Default::default(),
            next_word: Default::default(),
            magic: constant(FRAME_MAGIC as u64),
            max_len: constant(MAX_FRAME_WORDS as u64),
            residue: constant(CRC_RESIDUE as u64),
            poly: constant(0xEDB8_8320),
            ones: constant(0xFFFF_FFFF),
        }
    }
}

impl Logic for FrameRx {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, state, word, bytes, count, len, seq_q, last_seq, last_valid, crc,
            crc_bits, crc_left, rd, primed, spoiled, nak_q, dup_q, done_q
        );
        self.buffer.read_clock.next = self.clock.val();
        self.buffer.write_clock.next = self.clock.val();
        self.next_word.next =
            (self.word.q.val() >> 8) | (bit_cast::<32, 8>(self.rx_byte.val()) << 24);
        self.buffer.write_address.next = self.count.q.val().get_bits::<8>(0);
        self.buffer.write_data.next = self.next_word.val();
        self.buffer.write_enable.next = false;
        self.buffer.read_address.next = self.rd.q.val().get_bits::<8>(0);
        self.nak_q.d.next = false;
        self.dup_q.d.next = false;
        self.done_q.d.next = false;

        // One CRC bit a clock, least significant first.
        if self.crc_left.q.val().any() {
            self.crc_left.d.next = self.crc_left.q.val() - 1;
            self.crc_bits.d.next = self.crc_bits.q.val() >> 1;
            self.crc.d.next = self.crc.q.val() >> 1;
            if self.crc.q.val().get_bit(0) ^ self.crc_bits.q.val().get_bit(0) {
                self.crc.d.next = (self.crc.q.val() >> 1) ^ self.poly.val();
            }
        }
        if self.byte_valid.val() {
            self.word.d.next = self.next_word.val();
            self.bytes.d.next = self.bytes.q.val() + 1;
            self.crc_bits.d.next = self.rx_byte.val();
            self.crc_left.d.next = 8.into();
        }

        match self.state.q.val() {
            FrameState::Ready => {
                if self.byte_valid.val() {
                    if !self.bytes.q.val().any() {
                        self.crc.d.next = self.ones.val();
                    }
                    if self.bytes.q.val() == 3 {
                        self.count.d.next = 0.into();
                        self.seq_q.d.next = self.next_word.val().get_bits::<8>(16);
                        self.len.d.next = self.next_word.val().get_bits::<9>(0);
                        if self.next_word.val().get_bits::<8>(24) != self.magic.val() {
                            self.state.d.next = FrameState::Hunt;
                        } else if self.next_word.val().get_bits::<16>(0) > self.max_len.val() {
                            self.nak_q.d.next = true;
                            self.state.d.next = FrameState::Hunt;
                        } else {
                            self.state.d.next = FrameState::Payload;
                        }
                    }
                }
                if self.gap.val() {
                    self.bytes.d.next = 0.into();
                }
            }
            FrameState::Payload => {
                if self.byte_valid.val() & (self.bytes.q.val() == 3) {
                    self.count.d.next = self.count.q.val() + 1;
                    if self.count.q.val() == self.len.q.val() {
                        self.state.d.next = FrameState::Check;
                    } else {
                        self.buffer.write_enable.next = true;
                    }
                }
                if self.gap.val() {
                    self.bytes.d.next = 0.into();
                    self.state.d.next = FrameState::Ready;
                }
            }
            FrameState::Check => {
                if !self.crc_left.q.val().any() {
                    self.rd.d.next = 0.into();
                    self.primed.d.next = false;
                    self.spoiled.d.next = false;
                    if self.crc.q.val() != self.residue.val() {
                        self.nak_q.d.next = true;
                        self.state.d.next = FrameState::Hunt;
                    } else if self.last_valid.q.val()
                        & (self.last_seq.q.val() == self.seq_q.q.val())
                        & self.seq_q.q.val().any()
                    {
                        self.dup_q.d.next = true;
                        self.state.d.next = FrameState::Ready;
                    } else {
                        self.last_seq.d.next = self.seq_q.q.val();
                        self.last_valid.d.next = true;
                        self.state.d.next = FrameState::Release;
                    }
                }
            }
            FrameState::Release => {
                self.primed.d.next = true;
                if self.byte_valid.val() {
                    self.spoiled.d.next = true;
                }
                if self.rd.q.val() == self.len.q.val() {
                    self.done_q.d.next = true;
                    self.bytes.d.next = 0.into();
                    self.state.d.next = FrameState::Ready;
                    if self.spoiled.q.val() | self.byte_valid.val() {
                        self.state.d.next = FrameState::Hunt;
                    }
                }
            }
            FrameState::Hunt => {
                if self.gap.val() {
                    self.bytes.d.next = 0.into();
                    self.state.d.next = FrameState::Ready;
                }
            }
        }
        self.out_data.next = self.buffer.read_data.val();
        self.out_valid.next = (self.state.q.val() == FrameState::Release)
            & self.primed.q.val()
            & (self.rd.q.val() != self.len.q.val());
        if self.out_valid.val() & self.out_ready.val() {
            self.rd.d.next = self.rd.q.val() + 1;
            self.primed.d.next = false;
        }
        if self.reset.val() {
            self.state.d.next = FrameState::Ready;
            self.bytes.d.next = 0.into();
            self.crc_left.d.next = 0.into();
        }
        self.nak.next = self.nak_q.q.val();
        self.dup.next = self.dup_q.q.val();
        self.done.next = self.done_q.q.val();
        self.seq.next = self.seq_q.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use srsa_spec::serial::{encode_frame, GAP_BYTE_TIMES};

    /// What the block did, in order: released words, and answers.
    #[derive(Debug, PartialEq, Eq, Clone)]
    enum Event {
        Word(u32),
        Nak,
        Dup(u8),
        Done(u8),
    }

    struct Env {
        /// Per cycle: a byte, or a gap pulse (None), or nothing.
        plan: Vec<Option<Option<u8>>>,
        rng: rand::rngs::StdRng,
        events: Vec<Event>,
    }

    fn drive(e: &mut Env, t: u64, x: &mut FrameRx) {
        let step = e.plan.get(t as usize).copied().flatten();
        x.byte_valid.next = matches!(step, Some(Some(_)));
        x.rx_byte.next = (step.flatten().unwrap_or(0) as u64).into();
        x.gap.next = matches!(step, Some(None));
        x.reset.next = false;
        x.out_ready.next = e.rng.gen_bool(0.6);
    }

    fn observe(e: &mut Env, _: u64, x: &FrameRx) -> bool {
        if x.out_valid.val() && x.out_ready.val() {
            e.events.push(Event::Word(x.out_data.val().to_u64() as u32));
        }
        let seq = x.seq.val().to_u64() as u8;
        if x.nak.val() {
            e.events.push(Event::Nak);
        }
        if x.dup.val() {
            e.events.push(Event::Dup(seq));
        }
        if x.done.val() {
            e.events.push(Event::Done(seq));
        }
        true
    }

    /// The reference's events for the same byte stream: the payloads it
    /// releases and its answers (`FramedBoard` over a device that keeps
    /// every word it is sent).
    fn reference(stream: &[Option<u8>]) -> Vec<Event> {
        use srsa_spec::protocol::{Link, LinkError};
        use srsa_spec::serial::{ack_word, dup_word, FramedBoard, NAK};
        struct Sink;
        impl Link for Sink {
            fn send(&mut self, _: &[u32]) -> Result<(), LinkError> {
                Ok(())
            }
            fn recv(&mut self, n: usize, _: u64) -> Result<Vec<u32>, LinkError> {
                Err(LinkError::Timeout { wanted: n, got: 0 })
            }
            fn name(&self) -> String {
                "sink".into()
            }
        }
        let mut b = FramedBoard::new(Sink);
        let mut events = Vec::new();
        let mut frame_bytes: Vec<u8> = Vec::new();
        for s in stream {
            match s {
                None => {
                    b.idle(GAP_BYTE_TIMES);
                    frame_bytes.clear();
                }
                Some(x) => {
                    frame_bytes.push(*x);
                    b.byte(*x).unwrap();
                }
            }
            let tx = b.take_tx();
            let words: Vec<u32> = tx
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            for (i, w) in words.iter().enumerate() {
                if *w == NAK {
                    events.push(Event::Nak);
                    frame_bytes.clear();
                } else if (0..=255u8).any(|q| *w == dup_word(q)) && i == 0 {
                    events.push(Event::Dup((w >> 16) as u8));
                    frame_bytes.clear();
                } else if (0..=255u8).any(|q| *w == ack_word(q)) {
                    // The frame's payload: the bytes since the header.
                    let n = frame_bytes.len() / 4;
                    let fw: Vec<u32> = frame_bytes
                        .chunks_exact(4)
                        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                        .collect();
                    events.extend(
                        fw[n - 1 - (fw[0] & 0xFFFF) as usize..n - 1]
                            .iter()
                            .map(|&w| Event::Word(w)),
                    );
                    events.push(Event::Done((w >> 16) as u8));
                    frame_bytes.clear();
                }
            }
        }
        events
    }

    #[test]
    fn frames_are_released_only_whole_and_once() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0xF4A3);
        let mut stream: Vec<Option<u8>> = Vec::new();
        let mut seq = 1u8;
        for i in 0..24 {
            let len = rng.gen_range(0..6);
            let payload: Vec<u32> = (0..len).map(|_| rng.gen()).collect();
            let mut bytes: Vec<u8> = encode_frame(seq, &payload)
                .unwrap()
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .collect();
            match i % 4 {
                // A flipped bit: refused.
                1 => {
                    let k = rng.gen_range(0..bytes.len());
                    bytes[k] ^= 1 << rng.gen_range(0..8);
                }
                // A byte lost: the frame never completes (or is refused).
                2 => {
                    bytes.remove(rng.gen_range(0..bytes.len()));
                }
                _ => {}
            }
            stream.extend(bytes.iter().map(|&b| Some(b)));
            stream.push(None);
            // Every third frame is sent again as is: a duplicate when it ran.
            if i % 3 != 0 {
                seq = seq.wrapping_add(1).max(1);
            }
        }
        let want = reference(&stream);
        // 40 cycles a byte, as at 4 clocks per bit; a gap is one pulse.
        let mut plan = Vec::new();
        for s in &stream {
            plan.push(Some(*s));
            plan.extend(std::iter::repeat_n(None, 39));
        }
        let cycles = plan.len() as u64 + 100;
        let env = Env {
            plan,
            rng,
            events: Vec::new(),
        };
        let e = crate::testbench::run(FrameRx::default(), cycles, env, drive, observe);
        assert!(want.iter().filter(|e| matches!(e, Event::Done(_))).count() >= 6);
        assert!(want.contains(&Event::Nak));
        assert!(want.iter().any(|e| matches!(e, Event::Dup(_))));
        assert_eq!(e.events, want);
    }

    #[test]
    fn residue_is_the_crc32_residue() {
        let f = encode_frame(3, &[1, 2, 3]).unwrap();
        let mut c = !0u32;
        for b in f.iter().flat_map(|w| w.to_le_bytes()) {
            c = srsa_spec::serial::crc32_byte(c, b);
        }
        assert_eq!(c, CRC_RESIDUE);
    }

    /// The Verilog generates and passes yosys and Verilator's lint; on
    /// the FPGA the 256-word buffer is two block RAMs of 256 x 16.
    #[test]
    fn verilog_generates_and_lints() {
        // With the project's file header and lint waivers, as every top.
        let v = crate::verilog::finish(FrameRx::default()).unwrap();
        // For a resource estimate on its own: yosys synth_ice40 on this file.
        if let Ok(path) = std::env::var("SRSA_FRAME_VERILOG") {
            std::fs::write(path, &v).unwrap();
        }
        assert!(v.contains("module top"));
        let dir = std::env::temp_dir().join(format!("srsa-frame-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Named after its top module, as DECLFILENAME expects.
        let file = dir.join("top.v");
        std::fs::write(&file, &v).unwrap();
        for (tool, args) in [
            (
                "yosys",
                vec![
                    "-q".to_string(),
                    "-p".to_string(),
                    format!(
                        "read_verilog {}; hierarchy -check -top top; proc; check -assert",
                        file.display()
                    ),
                ],
            ),
            (
                "verilator",
                vec![
                    "--lint-only".to_string(),
                    "-Wall".to_string(),
                    "--top-module".to_string(),
                    "top".to_string(),
                    "top.v".to_string(),
                ],
            ),
        ] {
            let Ok(out) = std::process::Command::new(tool)
                .args(&args)
                .current_dir(&dir)
                .output()
            else {
                println!("{tool} not on PATH: Verilog not checked with it");
                continue;
            };
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.status.success() && !text.contains("Warning"),
                "{tool}: {text}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
