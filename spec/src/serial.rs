//! Serial layer 2: the framing of the word protocol on a board's serial
//! line (docs/PROTOCOL.md, "Serial framing"). Commands travel in bounded
//! frames with a CRC, so line noise can corrupt a frame but never turn into
//! a command; each executed frame's responses end in a trailer with a CRC,
//! so a corrupted response is detected rather than returned.
//!
//! This module is the reference: the byte layout, the CRC, and
//! [`FramedBoard`], the board's receive, execute-once and answer rules
//! around any word-stream device. The host's side (packing commands into
//! frames, retries) is `srsa_host::framed`.

use crate::protocol::{Link, LinkError};

/// The serial layer this module defines; layer 1 was the bare word stream
/// (four bytes a word, no framing). IDENTIFY's protocol version is the word
/// protocol's and does not change with it.
pub const SERIAL_LAYER: u32 = 2;

/// Most payload words in one frame: a frame fits the board's 256-word
/// buffer whole, so none of it reaches the device before its CRC is checked.
pub const MAX_FRAME_WORDS: usize = 256;

/// Top byte of a frame's header word.
pub const FRAME_MAGIC: u32 = 0xF5;

/// Idle byte times after which the board drops a partial frame, and after
/// which it listens for a header again once it has rejected one.
pub const GAP_BYTE_TIMES: u64 = 64;

/// Low half of the trailer words: never zero, so a trailer word is never a
/// status word (whose low half is always zero).
const ACK_LOW: u32 = 0xA5A5;
const DUP_LOW: u32 = 0xD5D5;

/// The answer to a frame the board rejected (bad length or CRC): nothing of
/// it was executed. Not a status word (low half nonzero).
pub const NAK: u32 = 0x4E4E_4E4E;

/// CRC-32 as zlib and Ethernet compute it (CRC-32/ISO-HDLC): polynomial
/// 0x04C11DB7, reflected (bytes enter least significant bit first, as the
/// UART sends them), initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF.
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |c, &b| crc32_byte(c, b))
}

/// One byte into a running (not yet inverted) CRC register, a bit at a time:
/// the order a bit-serial circuit uses.
pub fn crc32_byte(mut c: u32, byte: u8) -> u32 {
    for i in 0..8 {
        let fb = (c ^ (byte as u32 >> i)) & 1;
        c = (c >> 1) ^ if fb == 1 { 0xEDB8_8320 } else { 0 };
    }
    c
}

/// CRC-32 of words sent as the line sends them (least significant byte first).
pub fn crc32_words(words: &[u32]) -> u32 {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    crc32(&bytes)
}

/// The header word of a frame of `len` payload words with sequence number
/// `seq`.
pub fn frame_header(seq: u8, len: usize) -> u32 {
    debug_assert!(len <= MAX_FRAME_WORDS);
    FRAME_MAGIC << 24 | (seq as u32) << 16 | len as u32
}

/// A whole frame: header, payload, CRC-32 of header and payload.
pub fn encode_frame(seq: u8, payload: &[u32]) -> Result<Vec<u32>, String> {
    if payload.len() > MAX_FRAME_WORDS {
        return Err(format!(
            "a frame holds at most {MAX_FRAME_WORDS} words, not {}",
            payload.len()
        ));
    }
    let mut f = Vec::with_capacity(payload.len() + 2);
    f.push(frame_header(seq, payload.len()));
    f.extend_from_slice(payload);
    f.push(crc32_words(&f));
    Ok(f)
}

/// The word that ends the responses of executed frame `seq`; the CRC word
/// after it covers the responses and this word.
pub fn ack_word(seq: u8) -> u32 {
    0xA5 << 24 | (seq as u32) << 16 | ACK_LOW
}

/// The answer to a frame whose `seq` equals the last executed frame's: not
/// executed again. The word after it is that execution's response CRC.
pub fn dup_word(seq: u8) -> u32 {
    0xD5 << 24 | (seq as u32) << 16 | DUP_LOW
}

/// The CRC word a board sends after [`ack_word`] for `responses`.
pub fn response_crc(responses: &[u32], seq: u8) -> u32 {
    let mut w = responses.to_vec();
    w.push(ack_word(seq));
    crc32_words(&w)
}

/// What the board's receiver does with the header word of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    /// A frame of this many payload words follows.
    Frame { seq: u8, len: usize },
    /// Not a header (noise, or a word boundary lost): silently ignored
    /// until the next idle gap.
    NotAFrame,
    /// The magic is right but the length is not: answered with [`NAK`].
    BadLength,
}

pub fn parse_header(word: u32) -> Header {
    if word >> 24 != FRAME_MAGIC {
        return Header::NotAFrame;
    }
    let len = (word & 0xFFFF) as usize;
    if len > MAX_FRAME_WORDS {
        return Header::BadLength;
    }
    Header::Frame {
        seq: (word >> 16) as u8,
        len,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Rx {
    /// Waiting for the first byte of a header.
    Ready,
    /// Bytes of a frame so far (header included).
    Frame(Vec<u8>),
    /// A rejected frame: bytes are ignored until an idle gap.
    Hunt,
}

/// The board's framing around a word-stream device `D`, byte by byte: the
/// reference the board top (`hw/src/uart_top.rs`) implements. Time is in
/// byte times of the line: [`FramedBoard::idle`] advances it.
///
/// Rules: a frame is executed only whole and with a good CRC, and at most
/// once: a frame whose sequence number equals the last executed one's gets
/// [`dup_word`] and the response CRC kept from that execution, and is not
/// executed again (sequence number 0 is always executed). After an executed
/// frame the board sends the responses it produced, then [`ack_word`] and
/// the CRC. A frame with a good magic and a bad length or CRC is answered
/// with [`NAK`]; any rejected frame is followed by a hunt: bytes are
/// ignored until the line has been idle for [`GAP_BYTE_TIMES`]. A partial
/// frame is dropped after that gap too.
pub struct FramedBoard<D: Link> {
    pub device: D,
    rx: Rx,
    idle: u64,
    /// Sequence number and response CRC of the last executed frame.
    last: Option<(u8, u32)>,
    /// Bytes to send, in order.
    tx: Vec<u8>,
    /// Frames executed, refused as duplicates, answered with NAK.
    pub executed: u64,
    pub duplicates: u64,
    pub rejected: u64,
}

/// Device cycles the reference waits for one more response word before it
/// takes the frame's responses as complete.
const QUIET_CYCLES: u64 = 1 << 22;

impl<D: Link> FramedBoard<D> {
    pub fn new(device: D) -> Self {
        FramedBoard {
            device,
            rx: Rx::Ready,
            idle: 0,
            last: None,
            tx: Vec::new(),
            executed: 0,
            duplicates: 0,
            rejected: 0,
        }
    }

    /// Takes the bytes the board has to send so far.
    pub fn take_tx(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.tx)
    }

    /// `byte_times` byte times pass with no byte arriving.
    pub fn idle(&mut self, byte_times: u64) {
        self.idle = self.idle.saturating_add(byte_times);
        if self.idle >= GAP_BYTE_TIMES {
            self.rx = Rx::Ready;
        }
    }

    /// One byte arrives (after the idle time already passed).
    pub fn byte(&mut self, b: u8) -> Result<(), LinkError> {
        self.idle = 0;
        let mut bytes = match std::mem::replace(&mut self.rx, Rx::Hunt) {
            Rx::Hunt => return Ok(()),
            Rx::Ready => Vec::new(),
            Rx::Frame(v) => v,
        };
        bytes.push(b);
        if bytes.len() < 4 {
            self.rx = Rx::Frame(bytes);
            return Ok(());
        }
        let word = |i: usize| u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap());
        let (seq, len) = match parse_header(word(0)) {
            Header::NotAFrame => return Ok(()),
            Header::BadLength => return self.nak(),
            Header::Frame { seq, len } => (seq, len),
        };
        if bytes.len() < 4 * (len + 2) {
            self.rx = Rx::Frame(bytes);
            return Ok(());
        }
        if crc32(&bytes[..4 * (len + 1)]) != word(len + 1) {
            return self.nak();
        }
        let payload: Vec<u32> = (1..=len).map(word).collect();
        self.rx = Rx::Ready;
        match self.last {
            Some((s, crc)) if s == seq && seq != 0 => {
                self.duplicates += 1;
                self.send_words(&[dup_word(seq), crc]);
            }
            _ => {
                self.device.send(&payload)?;
                let mut responses = Vec::new();
                loop {
                    match self.device.recv(1, QUIET_CYCLES) {
                        Ok(w) => responses.extend(w),
                        Err(LinkError::Timeout { .. }) => break,
                        Err(e) => return Err(e),
                    }
                }
                let crc = response_crc(&responses, seq);
                self.send_words(&responses);
                self.send_words(&[ack_word(seq), crc]);
                self.last = Some((seq, crc));
                self.executed += 1;
            }
        }
        Ok(())
    }

    fn nak(&mut self) -> Result<(), LinkError> {
        self.rejected += 1;
        self.send_words(&[NAK]);
        Ok(())
    }

    fn send_words(&mut self, words: &[u32]) {
        self.tx.extend(words.iter().flat_map(|w| w.to_le_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn crc_is_the_standard_crc32() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32_words(&[0x3433_3231]), crc32(b"1234"));
    }

    #[test]
    fn frames_are_bounded_and_headers_parse() {
        let f = encode_frame(7, &[1, 2, 3]).unwrap();
        assert_eq!(f.len(), 5);
        assert_eq!(parse_header(f[0]), Header::Frame { seq: 7, len: 3 });
        assert_eq!(f[4], crc32_words(&f[..4]));
        assert!(encode_frame(0, &vec![0; MAX_FRAME_WORDS]).is_ok());
        assert!(encode_frame(0, &vec![0; MAX_FRAME_WORDS + 1]).is_err());
        assert_eq!(parse_header(0xF500_0101), Header::BadLength);
        assert_eq!(parse_header(0x0200_0005), Header::NotAFrame);
        // Trailer words and NAK are never status words.
        for w in [ack_word(3), dup_word(3), NAK] {
            assert_ne!(w & 0xFFFF, 0);
        }
    }

    /// A device that answers every word with its complement.
    struct Echo(VecDeque<u32>);
    impl Link for Echo {
        fn send(&mut self, w: &[u32]) -> Result<(), LinkError> {
            self.0.extend(w.iter().map(|x| !x));
            Ok(())
        }
        fn recv(&mut self, n: usize, _: u64) -> Result<Vec<u32>, LinkError> {
            if self.0.len() < n {
                return Err(LinkError::Timeout {
                    wanted: n,
                    got: self.0.len(),
                });
            }
            Ok(self.0.drain(..n).collect())
        }
        fn name(&self) -> String {
            "echo".into()
        }
    }

    fn words(bytes: &[u8]) -> Vec<u32> {
        bytes
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }

    fn feed(b: &mut FramedBoard<Echo>, frame: &[u32]) -> Vec<u32> {
        for byte in frame.iter().flat_map(|w| w.to_le_bytes()) {
            b.byte(byte).unwrap();
        }
        words(&b.take_tx())
    }

    #[test]
    fn a_good_frame_runs_once_and_a_bad_one_never() {
        let mut b = FramedBoard::new(Echo(VecDeque::new()));
        let f = encode_frame(1, &[10, 20]).unwrap();
        let crc = response_crc(&[!10, !20], 1);
        assert_eq!(feed(&mut b, &f), vec![!10, !20, ack_word(1), crc]);
        // The same frame again: not executed, the kept CRC instead.
        assert_eq!(feed(&mut b, &f), vec![dup_word(1), crc]);
        // A flipped bit anywhere: NAK, nothing executed, then a hunt.
        for bit in 0..32 * f.len() {
            let mut g = encode_frame(2, &[10, 20]).unwrap();
            g[bit / 32] ^= 1 << (bit % 32);
            b.idle(GAP_BYTE_TIMES);
            let got = feed(&mut b, &g);
            assert!(got.is_empty() || got == vec![NAK], "bit {bit}: {got:x?}");
        }
        assert_eq!((b.executed, b.duplicates), (1, 1));
        // During the hunt even a good frame is ignored; after a gap it runs.
        let f2 = encode_frame(2, &[5]).unwrap();
        assert!(feed(&mut b, &f2).is_empty());
        b.idle(GAP_BYTE_TIMES);
        assert_eq!(feed(&mut b, &f2)[0], !5);
        // A partial frame is dropped after an idle gap.
        let f3 = encode_frame(3, &[6]).unwrap();
        feed(&mut b, &f3[..2]);
        b.idle(GAP_BYTE_TIMES);
        assert_eq!(feed(&mut b, &f3)[0], !6);
        // Sequence number 0 is never a duplicate.
        let z = encode_frame(0, &[]).unwrap();
        assert_eq!(feed(&mut b, &z), vec![ack_word(0), response_crc(&[], 0)]);
        assert_eq!(feed(&mut b, &z), vec![ack_word(0), response_crc(&[], 0)]);
        assert_eq!(b.executed, 5);
    }
}
