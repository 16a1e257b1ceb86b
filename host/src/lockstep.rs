//! Two devices driven in lockstep: every command goes to both, every
//! response word is compared, and the first difference stops the run with
//! its position. This is how the RTL is proven against the golden model
//! word for word: a divergence is localised to one response word of one
//! command, not discovered later in a wrong matrix.

use srsa_spec::protocol::{op, Link, LinkError};
use std::fmt;

/// Where two devices first disagreed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the response word in the whole session (0-based).
    pub word: u64,
    /// Opcode of the command whose response differed (last header sent
    /// before the failing receive).
    pub opcode: u32,
    /// Position of the word within that receive.
    pub offset: usize,
    pub left: u32,
    pub right: u32,
    pub left_name: String,
    pub right_name: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "first differing word: response word #{} (word {} of the reply to opcode {:#04x}): {} {:#010x}, {} {:#010x}",
            self.word,
            self.offset,
            self.opcode,
            self.left_name,
            self.left,
            self.right_name,
            self.right
        )
    }
}

pub struct Lockstep<A: Link, B: Link> {
    pub left: A,
    pub right: B,
    received: u64,
    last_opcode: u32,
    /// Words received since the last send: the position in the reply.
    reply_pos: usize,
    divergence: Option<Divergence>,
}

impl<A: Link, B: Link> Lockstep<A, B> {
    pub fn new(left: A, right: B) -> Self {
        Lockstep {
            left,
            right,
            received: 0,
            last_opcode: 0,
            reply_pos: 0,
            divergence: None,
        }
    }

    /// The first difference seen, if any.
    pub fn divergence(&self) -> Option<&Divergence> {
        self.divergence.as_ref()
    }

    /// Response words compared so far.
    pub fn words_compared(&self) -> u64 {
        self.received
    }
}

impl<A: Link, B: Link> Link for Lockstep<A, B> {
    fn send(&mut self, words: &[u32]) -> Result<(), LinkError> {
        if let Some(first) = words.first() {
            // Good enough for messages: commands are sent whole by the driver.
            self.last_opcode = first >> 24;
        }
        self.reply_pos = 0;
        self.left.send(words)?;
        self.right.send(words)
    }

    fn recv(&mut self, n: usize, max_cycles: u64) -> Result<Vec<u32>, LinkError> {
        let l = self.left.recv(n, max_cycles)?;
        let r = self.right.recv(n, max_cycles)?;
        // The cycle counter (COUNTERS reply words 1 and 2, after the status)
        // counts link idle time too, which differs between devices by
        // nature; everything else must match.
        let exempt =
            |i: usize| self.last_opcode == op::COUNTERS && matches!(self.reply_pos + i, 1 | 2);
        if let Some(offset) = (0..n).find(|&i| l[i] != r[i] && !exempt(i)) {
            let d = Divergence {
                word: self.received + offset as u64,
                opcode: self.last_opcode,
                offset,
                left: l[offset],
                right: r[offset],
                left_name: self.left.name(),
                right_name: self.right.name(),
            };
            let msg = d.to_string();
            self.divergence.get_or_insert(d);
            return Err(LinkError::Io(msg));
        }
        self.received += n as u64;
        self.reply_pos += n;
        Ok(l)
    }

    fn name(&self) -> String {
        format!("{}+{}", self.left.name(), self.right.name())
    }
}
