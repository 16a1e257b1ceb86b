//! The host's side of serial layer 2 (`srsa_spec::serial`,
//! docs/PROTOCOL.md "Serial framing"): the word stream the driver sends is
//! packed into frames, one frame in flight at a time, each retried until
//! the board has executed it exactly once and its responses arrived with a
//! good CRC.
//!
//! Packing: a command whose OK response carries data (READ, IDENTIFY,
//! COUNTERS) travels in a frame of its own, so that frame can always be
//! executed again to get its lost data; other commands share frames of up
//! to [`MAX_FRAME_WORDS`] words, and a longer command (a big WRITE) is
//! split over frames. The host parses the responses it expects from the
//! commands it sent: a status word each, then the data of an OK one.
//!
//! Retry rule: a timeout or a response that fails its check leaves the
//! outcome unknown, and a NAK says the board ran nothing of the frame;
//! either way the host waits for the line to go quiet and sends the same
//! frame with the same sequence number, which the board executes only if
//! it has not already. A frame that has had only NAKs, `SHRINK_AFTER_NAKS`
//! of them, is split in two and the halves sent in its place: on a line
//! noisy enough to spoil most long frames, short ones still get through. A DUP answer (already executed, responses
//! lost) is resolved by the CRC the board kept: if it is the CRC of the
//! responses the host predicts (an OK status per command), those were the
//! responses. Otherwise a frame of whole commands that are safe to repeat
//! is sent again under a new sequence number; a frame that is not (a
//! stochastic GEMM draws again, an in-place accumulate adds twice, part of
//! a split command) is an error: it ran, and what it answered is lost.

use srsa_spec::numerics::Rounding;
use srsa_spec::protocol::{
    arg_words, gemm_fields, op, parse_status, payload_words, Gemm, Link, LinkError, COUNTER_WORDS,
    GEMM_ARGS, IDENTIFY_WORDS,
};
use srsa_spec::serial::{
    ack_word, dup_word, encode_frame, response_crc, GAP_BYTE_TIMES, MAX_FRAME_WORDS, NAK,
};
use std::collections::VecDeque;

/// A byte pipe to a board, with time measured in byte times of its line.
pub trait ByteLine {
    fn write(&mut self, bytes: &[u8]) -> Result<(), LinkError>;
    /// The next byte from the board, waiting at most `byte_times` byte
    /// times for it; `None` if none came.
    fn read(&mut self, byte_times: u64) -> Result<Option<u8>, LinkError>;
    /// Byte times that `cycles` board clock cycles last at most.
    fn byte_times(&self, cycles: u64) -> u64;
    /// Byte times a reply may come late beyond its line and device time (a
    /// USB-UART's latency).
    fn latency(&self) -> u64;
    fn name(&self) -> String;
}

/// Attempts per frame before the link gives up.
pub const MAX_ATTEMPTS: usize = 32;
/// Bytes a drain reads before it calls the line hopeless: a line that is
/// never quiet this long is broken, not noisy.
const MAX_DRAIN_BYTES: usize = 1 << 16;

/// Consecutive NAKs, with no other answer to the frame, after which the
/// host splits the frame in two: a NAK means nothing of it ran, and on a
/// line whose fault rate makes a long frame rarely arrive whole, two halves
/// get through far sooner than 32 more copies of the whole.
pub const SHRINK_AFTER_NAKS: usize = 3;
/// A frame this short is not split further.
pub const MIN_FRAME_WORDS: usize = 16;

/// A command whose last word is in a frame: what its answer holds.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ended {
    /// Index in the frame's payload just after the command's last word.
    end: usize,
    opcode: u32,
    /// Data words of an OK response.
    data: usize,
    /// Safe to execute twice (see `repeatable`).
    repeatable: bool,
    /// Device cycles it may take at most (GEMMs).
    cycles: u64,
}

/// One frame as the host sent it and what it expects back.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Frame {
    payload: Vec<u32>,
    /// The commands that end in this frame, in order.
    ended: Vec<Ended>,
    /// The payload starts with a command's header (not inside a command
    /// split over frames).
    starts_whole: bool,
}

impl Frame {
    fn empty() -> Frame {
        Frame {
            payload: Vec::new(),
            ended: Vec::new(),
            starts_whole: true,
        }
    }

    /// Whole commands only, all safe to execute twice.
    fn repeatable(&self) -> bool {
        self.starts_whole
            && self.ended.last().map_or(0, |c| c.end) == self.payload.len()
            && self.ended.iter().all(|c| c.repeatable)
    }

    /// Device cycles its commands may take at most.
    fn cycles(&self) -> u64 {
        self.ended.iter().map(|c| c.cycles).sum()
    }

    /// The frame as two frames that carry the same words in the same order:
    /// split after the command end nearest the middle, if one lies in the
    /// middle half (so both halves stay whole commands), else in the middle.
    fn split(&self) -> (Frame, Frame) {
        let len = self.payload.len();
        let at = self
            .ended
            .iter()
            .map(|c| c.end)
            .filter(|&e| e >= len / 4 && e <= len - len / 4 && e < len)
            .min_by_key(|&e| e.abs_diff(len / 2))
            .unwrap_or(len / 2);
        let (first, second): (Vec<Ended>, Vec<Ended>) =
            self.ended.iter().cloned().partition(|c| c.end <= at);
        let starts_whole = first.last().is_some_and(|c| c.end == at);
        (
            Frame {
                payload: self.payload[..at].to_vec(),
                ended: first,
                starts_whole: self.starts_whole,
            },
            Frame {
                payload: self.payload[at..].to_vec(),
                ended: second
                    .into_iter()
                    .map(|c| Ended {
                        end: c.end - at,
                        ..c
                    })
                    .collect(),
                starts_whole,
            },
        )
    }
}

/// Counts of what the link had to do, for tests and reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameStats {
    pub frames: u64,
    pub attempts: u64,
    pub naks: u64,
    /// Replies that timed out or failed their check.
    pub bad_replies: u64,
    pub duplicates: u64,
    /// Frames sent again under a new sequence number after a DUP.
    pub repeats: u64,
    /// Frames split in two after `SHRINK_AFTER_NAKS` NAKs.
    pub splits: u64,
}

pub struct FramedLink<B: ByteLine> {
    line: B,
    /// Sent by the driver, not yet framed.
    pending: VecDeque<u32>,
    /// Response words not yet returned by `recv`.
    received: VecDeque<u32>,
    /// Words of the command at the head of `pending` already framed (a
    /// command split over frames).
    split_done: usize,
    seq: u8,
    opened: bool,
    pub stats: FrameStats,
}

/// Data words of an OK response to a command with this header.
fn data_words(header: u32) -> usize {
    match header >> 24 {
        op::READ => (header & 0xFF_FFFF) as usize,
        op::IDENTIFY => IDENTIFY_WORDS,
        op::COUNTERS => COUNTER_WORDS,
        _ => 0,
    }
}

/// The fields of a whole GEMM command (header and argument words), as
/// the device reads them; `None` for any other command and for a mode code
/// the device refuses.
fn gemm(cmd: &[u32]) -> Option<Gemm> {
    if cmd[0] >> 24 != op::GEMM {
        return None;
    }
    gemm_fields(cmd.get(1..1 + GEMM_ARGS)?.try_into().ok()?)
}

/// Whether executing this whole command twice in a row leaves what once
/// would: all but a stochastic GEMM (it draws again) and an accumulate in
/// place (it adds twice). A refused GEMM executes nothing.
fn repeatable(cmd: &[u32]) -> bool {
    gemm(cmd)
        .is_none_or(|g| g.mode != Rounding::Stochastic && !(g.acc_init && g.cin_base == g.out_base))
}

/// A bound on a GEMM's busy cycles from its shape and K alone, on any
/// array (the smallest array, 2 x 2, has the most tiles; the tile period is
/// at most K rounded up to 32).
fn gemm_cycles(cmd: &[u32]) -> u64 {
    gemm(cmd).map_or(0, |g| {
        let (m, n, k) = (g.m as u64, g.ncol as u64, g.k as u64);
        m.div_ceil(2) * n.div_ceil(2) * (k + 32) + k + 100
    })
}

fn next_seq(s: u8) -> u8 {
    if s == 255 {
        1
    } else {
        s + 1
    }
}

/// How a reply ended.
enum Reply {
    Done(Vec<u32>),
    Nak,
    Dup(u32),
    Bad,
}

impl<B: ByteLine> FramedLink<B> {
    pub fn new(line: B) -> Self {
        FramedLink {
            line,
            pending: VecDeque::new(),
            received: VecDeque::new(),
            split_done: 0,
            seq: 0,
            opened: false,
            stats: FrameStats::default(),
        }
    }

    pub fn line_mut(&mut self) -> &mut B {
        &mut self.line
    }

    /// Length of the command at the head of `pending`, if it is all there.
    fn head_len(&self) -> Option<usize> {
        let h = *self.pending.front()?;
        let (opcode, arg) = (h >> 24, h & 0xFF_FFFF);
        let len = 1 + arg_words(opcode) + payload_words(opcode, arg);
        (self.pending.len() >= len).then_some(len)
    }

    /// The next frame from `pending`, or `None` when nothing is pending.
    fn next_frame(&mut self) -> Result<Option<Frame>, LinkError> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let mut f = Frame::empty();
        f.starts_whole = self.split_done == 0;
        while let Some(len) = self.head_len() {
            let room = MAX_FRAME_WORDS - f.payload.len();
            let left = len - self.split_done;
            let h = self.pending[0];
            let alone = data_words(h) > 0;
            if !f.payload.is_empty() && (left > room || alone) {
                break;
            }
            if left > room {
                // Only a command too long for any frame gets here.
                f.payload
                    .extend(self.pending.iter().skip(self.split_done).take(room));
                self.split_done += room;
                return Ok(Some(f));
            }
            let cmd: Vec<u32> = self.pending.drain(..len).collect();
            f.payload.extend_from_slice(&cmd[self.split_done..]);
            self.split_done = 0;
            f.ended.push(Ended {
                end: f.payload.len(),
                opcode: h >> 24,
                data: data_words(h),
                repeatable: repeatable(&cmd),
                cycles: gemm_cycles(&cmd),
            });
            if alone {
                break;
            }
        }
        if f.payload.is_empty() {
            return Err(LinkError::Io(format!(
                "{}: the words sent end in the middle of a command ({} words pending)",
                self.name(),
                self.pending.len()
            )));
        }
        Ok(Some(f))
    }

    fn read_word(&mut self, budget: &mut u64) -> Result<Option<u32>, LinkError> {
        let mut b = [0u8; 4];
        for byte in b.iter_mut() {
            match self.line.read(*budget)? {
                Some(x) => *byte = x,
                None => return Ok(None),
            }
            *budget = budget.saturating_sub(1);
        }
        Ok(Some(u32::from_le_bytes(b)))
    }

    fn reply(&mut self, f: &Frame, seq: u8, max_cycles: u64) -> Result<Reply, LinkError> {
        let data: usize = f.ended.iter().map(|c| c.data + 1).sum();
        let mut budget = (4 * (f.payload.len() + data + 4)) as u64
            + self.line.byte_times(max_cycles.saturating_add(f.cycles()))
            + self.line.latency()
            + GAP_BYTE_TIMES;
        let mut words = Vec::new();
        for (i, &Ended { opcode, data, .. }) in f.ended.iter().enumerate() {
            let Some(w) = self.read_word(&mut budget)? else {
                return Ok(Reply::Bad);
            };
            if i == 0 && w == NAK {
                return Ok(Reply::Nak);
            }
            if i == 0 && w == dup_word(seq) {
                return Ok(match self.read_word(&mut budget)? {
                    Some(crc) => Reply::Dup(crc),
                    None => Reply::Bad,
                });
            }
            let (got_op, code) = parse_status(w);
            if got_op != opcode || w & 0xFFFF != 0 {
                return Ok(Reply::Bad);
            }
            words.push(w);
            if code == 0 {
                for _ in 0..data {
                    match self.read_word(&mut budget)? {
                        Some(d) => words.push(d),
                        None => return Ok(Reply::Bad),
                    }
                }
            }
        }
        let Some(ack) = self.read_word(&mut budget)? else {
            return Ok(Reply::Bad);
        };
        if f.ended.is_empty() && ack == NAK {
            return Ok(Reply::Nak);
        }
        if f.ended.is_empty() && ack == dup_word(seq) {
            return Ok(match self.read_word(&mut budget)? {
                Some(crc) => Reply::Dup(crc),
                None => Reply::Bad,
            });
        }
        match self.read_word(&mut budget)? {
            Some(crc) if ack == ack_word(seq) && crc == response_crc(&words, seq) => {
                Ok(Reply::Done(words))
            }
            _ => Ok(Reply::Bad),
        }
    }

    /// Reads and drops bytes until the line has been quiet long enough that
    /// the board, too, has seen an idle gap and listens for a header.
    fn drain(&mut self) -> Result<(), LinkError> {
        let quiet = 2 * GAP_BYTE_TIMES + self.line.latency();
        for _ in 0..MAX_DRAIN_BYTES {
            if self.line.read(quiet)?.is_none() {
                return Ok(());
            }
        }
        Err(LinkError::Io(format!(
            "{}: the line never went quiet ({MAX_DRAIN_BYTES} bytes of noise)",
            self.line.name()
        )))
    }

    /// Sends `f` until the board has executed it once and its responses
    /// arrived whole; returns them.
    fn transact(&mut self, f: &Frame, max_cycles: u64) -> Result<Vec<u32>, LinkError> {
        self.stats.frames += 1;
        let mut seq = self.seq;
        // NAKs so far, while every answer to this frame has been a NAK.
        let mut naks_only = Some(0);
        for _ in 0..MAX_ATTEMPTS {
            self.stats.attempts += 1;
            let words = encode_frame(seq, &f.payload).map_err(LinkError::Io)?;
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            self.line.write(&bytes)?;
            match self.reply(f, seq, max_cycles)? {
                Reply::Done(w) => {
                    self.seq = next_seq(seq);
                    return Ok(w);
                }
                Reply::Nak => {
                    self.stats.naks += 1;
                    naks_only = naks_only.map(|n| n + 1);
                }
                Reply::Bad => {
                    self.stats.bad_replies += 1;
                    naks_only = None;
                }
                Reply::Dup(crc) => {
                    self.stats.duplicates += 1;
                    naks_only = None;
                    let predicted: Vec<u32> = f.ended.iter().map(|c| c.opcode << 24).collect();
                    let no_data = f.ended.iter().all(|c| c.data == 0);
                    if no_data && crc == response_crc(&predicted, seq) {
                        self.seq = next_seq(seq);
                        return Ok(predicted);
                    }
                    if !f.repeatable() {
                        self.seq = next_seq(seq);
                        return Err(LinkError::Io(format!(
                            "{}: frame {seq} was executed but its responses were lost, \
                             and it is not safe to repeat (a stochastic or in-place GEMM, \
                             or part of a long command)",
                            self.line.name()
                        )));
                    }
                    self.stats.repeats += 1;
                    seq = next_seq(seq);
                }
            }
            self.drain()?;
            // Only NAKs: the board ran none of it, so `seq` is still
            // unused and the words may travel in other frames.
            if naks_only.is_some_and(|n| n >= SHRINK_AFTER_NAKS)
                && f.payload.len() >= 2 * MIN_FRAME_WORDS
            {
                self.stats.splits += 1;
                let (a, b) = f.split();
                let mut words = self.transact(&a, max_cycles)?;
                words.extend(self.transact(&b, max_cycles)?);
                return Ok(words);
            }
        }
        Err(LinkError::Io(format!(
            "{}: no good reply to a frame of {} words after {MAX_ATTEMPTS} attempts",
            self.line.name(),
            f.payload.len()
        )))
    }

    /// The empty frame with sequence number 0 that opens a session: the
    /// board always executes number 0, so whatever number it last executed
    /// cannot make the session's first real frame a duplicate.
    fn open(&mut self) -> Result<(), LinkError> {
        let ping = Frame::empty();
        self.seq = 0;
        self.drain()?;
        self.transact(&ping, 0).map_err(|e| {
            LinkError::Io(format!(
                "{e} (opening the session: does the board speak serial layer {}?)",
                srsa_spec::serial::SERIAL_LAYER
            ))
        })?;
        self.opened = true;
        Ok(())
    }
}

impl<B: ByteLine> Link for FramedLink<B> {
    fn send(&mut self, words: &[u32]) -> Result<(), LinkError> {
        self.pending.extend(words);
        Ok(())
    }

    fn recv(&mut self, n: usize, max_cycles: u64) -> Result<Vec<u32>, LinkError> {
        if !self.opened {
            self.open()?;
        }
        while self.received.len() < n {
            let Some(f) = self.next_frame()? else {
                return Err(LinkError::Timeout {
                    wanted: n,
                    got: self.received.len(),
                });
            };
            match self.transact(&f, max_cycles) {
                Ok(words) => self.received.extend(words),
                Err(e) => {
                    // The driver's command stream is abandoned: what is left
                    // of it must not run ahead of its next commands.
                    self.pending.clear();
                    self.received.clear();
                    self.split_done = 0;
                    return Err(e);
                }
            }
        }
        Ok(self.received.drain(..n).collect())
    }

    fn name(&self) -> String {
        format!("framed:{}", self.line.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden::GoldenDevice;
    use srsa_spec::protocol::{address_word, header, status_word, Status};
    use srsa_spec::serial::FramedBoard;

    /// A perfect line to a reference board; time passes only while waiting.
    pub struct Wire {
        board: FramedBoard<GoldenDevice>,
        rx: VecDeque<u8>,
        /// Writes longer than this many bytes arrive with one bit flipped.
        spoil_over: usize,
    }

    impl ByteLine for Wire {
        fn write(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
            for (i, &b) in bytes.iter().enumerate() {
                let flip = bytes.len() > self.spoil_over && i == bytes.len() / 2;
                self.board.byte(b ^ u8::from(flip))?;
            }
            self.rx.extend(self.board.take_tx());
            Ok(())
        }
        fn read(&mut self, t: u64) -> Result<Option<u8>, LinkError> {
            if self.rx.is_empty() {
                self.board.idle(t);
            }
            Ok(self.rx.pop_front())
        }
        fn byte_times(&self, cycles: u64) -> u64 {
            cycles
        }
        fn latency(&self) -> u64 {
            0
        }
        fn name(&self) -> String {
            "wire".into()
        }
    }

    fn link() -> FramedLink<Wire> {
        FramedLink::new(Wire {
            board: FramedBoard::new(GoldenDevice::new(4, 4096)),
            rx: VecDeque::new(),
            spoil_over: usize::MAX,
        })
    }

    #[test]
    fn commands_are_packed_split_and_answered() {
        let mut l = link();
        // A WRITE longer than a frame, a READ of it back, a bad opcode.
        let data: Vec<u32> = (0..700).map(|i| i * 0x10001).collect();
        let mut cmd = vec![header(op::WRITE, 700), address_word(0, 0)];
        cmd.extend(&data);
        cmd.extend([header(op::READ, 700), address_word(0, 0), header(0x7E, 0)]);
        l.send(&cmd).unwrap();
        let got = l.recv(1 + 1 + 700 + 1, 1000).unwrap();
        assert_eq!(got[0], status_word(op::WRITE, Status::Ok));
        assert_eq!(got[1], status_word(op::READ, Status::Ok));
        assert_eq!(&got[2..702], &data[..]);
        assert_eq!(parse_status(got[702]), (0x7E, 1));
        // The ping, three frames of the WRITE, the READ, the bad opcode.
        assert_eq!(l.stats.frames, 6);
        assert_eq!(l.stats.attempts, 6);
        assert_eq!(l.line.board.executed, 6);
        // Nothing pending: a timeout, not a hang.
        assert!(matches!(l.recv(1, 10), Err(LinkError::Timeout { .. })));
    }

    #[test]
    fn frames_that_only_get_naks_are_split_until_they_pass() {
        let mut l = link();
        // Every frame over 40 payload words is spoiled on the line.
        l.line.spoil_over = 4 * (40 + 2);
        let data: Vec<u32> = (0..300).map(|i| i * 0x30001).collect();
        let mut cmd = vec![header(op::WRITE, 300), address_word(0, 0)];
        cmd.extend(&data);
        cmd.extend([header(op::SEED, 0), 1, 2, 3]);
        l.send(&cmd).unwrap();
        cmd = vec![header(op::READ, 40), address_word(0, 0)];
        l.send(&cmd).unwrap();
        let got = l.recv(2 + 1 + 40, 1000).unwrap();
        assert_eq!(got[0], status_word(op::WRITE, Status::Ok));
        assert_eq!(got[1], status_word(op::SEED, Status::Ok));
        assert_eq!(got[2], status_word(op::READ, Status::Ok));
        assert_eq!(&got[3..], &data[..40]);
        // 256 + 50 words -> halves of 128 -> 64 -> 32: each spoiled size
        // got SHRINK_AFTER_NAKS NAKs, and nothing ran twice.
        assert!(l.stats.splits >= 7, "{:?}", l.stats);
        assert_eq!(l.stats.naks, SHRINK_AFTER_NAKS as u64 * l.stats.splits);
        assert_eq!(l.stats.duplicates + l.stats.bad_replies, 0);
        assert_eq!(l.line.board.executed + l.stats.splits, l.stats.frames);
        // A frame of MIN_FRAME_WORDS or more that can never pass is given
        // up after MAX_ATTEMPTS, with an error, not split without end.
        l.line.spoil_over = 0;
        l.send(&[header(op::WRITE, 30), address_word(0, 0)])
            .unwrap();
        l.send(&[0; 30]).unwrap();
        assert!(l.recv(1, 1000).is_err());
    }

    #[test]
    fn a_split_keeps_the_words_and_their_commands() {
        let ended = |end, opcode, repeatable| Ended {
            end,
            opcode,
            data: 0,
            repeatable,
            cycles: end as u64,
        };
        let f = Frame {
            payload: (0..100).collect(),
            ended: vec![ended(8, 1, true), ended(45, 2, true), ended(90, 3, false)],
            starts_whole: true,
        };
        assert!(!f.repeatable());
        let (a, b) = f.split();
        assert_eq!([a.payload.clone(), b.payload.clone()].concat(), f.payload);
        assert_eq!(a.payload.len(), 45, "at the command end nearest the middle");
        assert!(a.repeatable() && !b.repeatable() && b.starts_whole);
        assert_eq!(b.ended[0].end, 45);
        assert_eq!(a.cycles() + b.cycles(), f.cycles());
        // No command end in the middle half: split in the middle, and
        // neither half is whole commands.
        let g = Frame {
            payload: (0..64).collect(),
            ended: vec![ended(60, 1, true)],
            starts_whole: true,
        };
        let (a, b) = g.split();
        assert_eq!(
            (a.payload.len(), a.ended.len(), b.ended[0].end),
            (32, 0, 28)
        );
        assert!(!a.repeatable() && !b.repeatable() && !b.starts_whole);
    }

    #[test]
    fn repeatability_follows_the_gemm_flags() {
        let mut g = vec![header(op::GEMM, 0), 0x0002_0002, 2, 0, 0, 0, 0, 64];
        assert!(repeatable(&g));
        g[2] |= 2 << 16;
        assert!(!repeatable(&g));
        g[2] = 2 | 1 << 19;
        assert!(repeatable(&g));
        g[6] = 64;
        assert!(!repeatable(&g));
        assert!(repeatable(&[header(op::SEED, 0), 1, 2, 3]));
        assert!(gemm_cycles(&g) >= 2 * 2 + 2);
    }
}
