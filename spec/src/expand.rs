//! EXPAND: a region of a buffer loaded from a codebook and run-length
//! coded indices, the sparse, shared-weight form of Deep Compression (Han
//! et al.) decoded on the device, so that a pruned and quantised layer
//! crosses the link as a few codebook words and short pairs instead of a
//! 16-bit word per element. docs/PROTOCOL.md ("EXPAND") is the prose
//! version of this file.
//!
//! The payload is the codebook, two 16-bit entries to a word (the lower
//! index in the lower half), then words of **pairs**, each `gap << b |
//! index` in 16 or 8 bits (two or four to a word, the first in the lowest
//! bits), b the index bits. A pair stores `gap` zeros and then entry
//! `index` of the codebook. A run of zeros longer than the gap field holds
//! is split by **filler** pairs, whose index is 0: the host's codebooks
//! hold the zero (the pruned weight) at entry 0, so a filler stores zeros
//! only. Once the region is full, pairs of all zero bits pad the last word;
//! any other pair is a run past the end.

use crate::protocol::{
    address_buffer, op, pack_elements, prune_flag, Buffer, Status, BUFFER_FROM, EXPAND_ARGS,
    PRUNE_BIT, WIDTH_FROM,
};

/// Most codebook entries (indices of up to 8 bits).
pub const MAX_ENTRIES: u32 = 256;
pub const MAX_INDEX_BITS: u32 = 8;
/// Where the size word holds the index bits (below them: the elements).
pub const INDEX_BITS_FROM: u32 = 24;
/// Bits of the codebook word that hold its entry count.
pub const ENTRIES_BITS: u32 = 9;

/// The bits of one coded pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairWidth {
    P16 = 0,
    P8 = 1,
}

impl PairWidth {
    pub const ALL: [PairWidth; 2] = [PairWidth::P16, PairWidth::P8];

    pub fn from_code(code: u32) -> Option<PairWidth> {
        PairWidth::ALL.into_iter().find(|&w| w as u32 == code)
    }

    pub const fn bits(self) -> u32 {
        16 >> self as u32
    }

    pub const fn per_word(self) -> u32 {
        2 << self as u32
    }
}

/// One EXPAND's arguments, checked ([`decode_expand`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expand {
    pub buffer: Buffer,
    /// First element of the region; even.
    pub address: u32,
    /// Marks the zeros it stores pruned (as a WRITE's flag: buffer C,
    /// [`crate::protocol::feature::MASK`]).
    pub prune: bool,
    pub pair: PairWidth,
    /// Elements of the region, n; even.
    pub elems: u32,
    /// Index bits b of a pair, 1..=8 and below the pair's bits.
    pub index_bits: u32,
    /// Codebook entries K, 1..=256; every index must be below it.
    pub entries: u32,
}

impl Expand {
    /// The argument words: the address word (prune flag in bit 31, pair
    /// width code in 30..28, buffer in 27..24, address in 23..0), the size
    /// word (index bits in 27..24, elements in 23..0) and the codebook word
    /// (entries in 8..0). Every other bit is zero.
    pub fn encode(&self) -> [u32; EXPAND_ARGS] {
        [
            (self.prune as u32) << PRUNE_BIT
                | (self.pair as u32) << WIDTH_FROM
                | (self.buffer as u32) << BUFFER_FROM
                | self.address,
            self.index_bits << INDEX_BITS_FROM | self.elems,
            self.entries,
        ]
    }

    /// Payload words the codebook takes.
    pub fn book_words(&self) -> u32 {
        self.entries.div_ceil(2)
    }

    /// The longest gap a pair holds.
    pub fn gap_max(&self) -> u32 {
        (1 << (self.pair.bits() - self.index_bits)) - 1
    }

    /// The payload: the codebook, then `pairs` packed and padded.
    pub fn payload(&self, book: &[i16], pairs: &[u32]) -> Vec<u32> {
        debug_assert_eq!(book.len(), self.entries as usize);
        let mut words = book.to_vec();
        words.resize(self.book_words() as usize * 2, 0);
        let mut words = pack_elements(&words);
        let (n, bits) = (self.pair.per_word() as usize, self.pair.bits());
        words.extend(pairs.chunks(n).map(|c| {
            c.iter()
                .enumerate()
                .fold(0u32, |w, (i, &p)| w | p << (i as u32 * bits))
        }));
        words
    }
}

/// Decodes and checks EXPAND's argument words for a `payload`-word stream
/// on a device of `buffer_elems` elements per buffer with `features`, in
/// this order: the buffer (bits 27..24 of the address word:
/// [`Status::BadBuffer`]); the format ([`Status::BadFormat`]: a pair width
/// code other than 0 or 1, a prune flag a WRITE could not set, reserved
/// bits, index bits outside 1..=8 or not below the pair's bits); the sizes
/// ([`Status::BadSize`]: no payload, no elements, no or more than 256
/// entries, or a codebook that leaves no payload word for pairs); the
/// region ([`Status::BadAddress`]: an odd address or element count, or a
/// region beyond the buffer).
pub fn decode_expand(
    w: &[u32; EXPAND_ARGS],
    payload: u32,
    buffer_elems: u32,
    features: u32,
) -> Result<Expand, Status> {
    let buffer = address_buffer(w[0])?;
    let prune = prune_flag(op::EXPAND, buffer, w[0], features)?;
    let pair = PairWidth::from_code(w[0] >> WIDTH_FROM & 7).ok_or(Status::BadFormat)?;
    let e = Expand {
        buffer,
        address: w[0] & 0xFF_FFFF,
        prune,
        pair,
        elems: w[1] & 0xFF_FFFF,
        index_bits: w[1] >> INDEX_BITS_FROM & 0xF,
        entries: w[2] & ((1 << ENTRIES_BITS) - 1),
    };
    if w[1] >> (INDEX_BITS_FROM + 4) != 0
        || w[2] >> ENTRIES_BITS != 0
        || !(1..=MAX_INDEX_BITS).contains(&e.index_bits)
        || e.index_bits >= pair.bits()
    {
        return Err(Status::BadFormat);
    }
    if payload == 0
        || e.elems == 0
        || !(1..=MAX_ENTRIES).contains(&e.entries)
        || e.book_words() >= payload
    {
        return Err(Status::BadSize);
    }
    if e.address % 2 == 1 || e.elems % 2 == 1 || (e.address + e.elems) as u64 > buffer_elems as u64
    {
        return Err(Status::BadAddress);
    }
    Ok(e)
}

/// What a device stores from a checked EXPAND's `payload`: the elements it
/// writes from `e.address` on, and the command's status. After an error
/// (an index at or beyond the codebook, [`Status::BadIndex`]; a run past
/// the region's end, [`Status::Overrun`]; too few pairs to fill it,
/// [`Status::ShortStream`]) the rest of the payload is consumed and nothing
/// more is written: the elements stored are those of the whole element
/// pairs (even address, odd address) decoded before the failing pair.
pub fn expand(e: &Expand, payload: &[u32]) -> (Vec<i16>, Status) {
    let book_words = e.book_words() as usize;
    let book: Vec<i16> = payload[..book_words]
        .iter()
        .flat_map(|&w| [w as i16, (w >> 16) as i16])
        .collect();
    let (bits, b) = (e.pair.bits(), e.index_bits);
    let pairs = payload[book_words..]
        .iter()
        .flat_map(|&w| (0..e.pair.per_word()).map(move |i| w >> (i * bits) & ((1 << bits) - 1)));
    let n = e.elems as usize;
    let mut out = Vec::with_capacity(n);
    let mut fail = None;
    for p in pairs {
        let (gap, index) = ((p >> b) as usize, p & ((1 << b) - 1));
        if out.len() == n && p == 0 {
            continue;
        }
        if out.len() < n && index >= e.entries {
            fail = Some(Status::BadIndex);
        } else if out.len() + gap >= n {
            fail = Some(Status::Overrun);
        }
        if fail.is_some() {
            break;
        }
        out.resize(out.len() + gap, 0);
        out.push(book[index as usize]);
    }
    if fail.is_none() && out.len() < n {
        fail = Some(Status::ShortStream);
    }
    match fail {
        Some(s) => {
            out.truncate(out.len() & !1);
            (out, s)
        }
        None => (out, Status::Ok),
    }
}

/// The pairs that store `indices` (one per element of the region; index 0
/// must be the codebook's zero), for pairs of `index_bits` index bits and
/// gaps up to `gap_max`: each nonzero index after the zeros before it,
/// fillers where a run is longer than a gap holds, and fillers for the
/// zeros after the last.
pub fn encode_pairs(indices: &[u32], index_bits: u32, gap_max: u32) -> Vec<u32> {
    let mut pairs = vec![];
    let mut run = 0u32;
    let zeros = |pairs: &mut Vec<u32>, mut run: u32, last: bool| {
        // A filler covers gap_max + 1 elements; before a weight, the run
        // left must fit its gap; after the last weight, fillers end it.
        while run > gap_max || (last && run > 0) {
            let g = gap_max.min(run - 1);
            pairs.push(g << index_bits);
            run -= g + 1;
        }
        run
    };
    for &i in indices {
        if i == 0 {
            run += 1;
        } else {
            let gap = zeros(&mut pairs, run, false);
            pairs.push(gap << index_bits | i);
            run = 0;
        }
    }
    zeros(&mut pairs, run, true);
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::feature;

    fn region(pair: PairWidth, index_bits: u32, elems: u32, entries: u32) -> Expand {
        Expand {
            buffer: Buffer::C,
            address: 8,
            prune: true,
            pair,
            elems,
            index_bits,
            entries,
        }
    }

    #[test]
    fn arguments_round_trip_and_are_checked_in_order() {
        let e = region(PairWidth::P8, 5, 20, 9);
        let cap = 64;
        let d = |w: [u32; 3], p| decode_expand(&w, p, cap, feature::ALL);
        assert_eq!(d(e.encode(), 6), Ok(e));
        let w = e.encode();
        let cases = [
            ([w[0] | 3 << BUFFER_FROM, w[1], 0], 0, Status::BadBuffer),
            ([w[0] | 2 << WIDTH_FROM, w[1], w[2]], 6, Status::BadFormat),
            ([w[0], w[1] | 1 << 28, w[2]], 6, Status::BadFormat),
            ([w[0], w[1], w[2] | 1 << 9], 6, Status::BadFormat),
            ([w[0], 8 << 24 | 20, w[2]], 6, Status::BadFormat), // 8 of 8 bits
            ([w[0], 20, w[2]], 6, Status::BadFormat),           // no index bits
            ([w[0], w[1], 0], 6, Status::BadSize),
            ([w[0], w[1], 257], 6, Status::BadSize),
            ([w[0], w[1], w[2]], 5, Status::BadSize), // 5 book words, no pairs
            ([w[0], w[1], w[2]], 0, Status::BadSize),
            ([w[0], 5 << 24, w[2]], 6, Status::BadSize),
            ([w[0] + 1, w[1], w[2]], 6, Status::BadAddress),
            ([w[0], w[1] + 1, w[2]], 6, Status::BadAddress),
            ([w[0], 5 << 24 | 58, w[2]], 6, Status::BadAddress),
        ];
        for (i, (words, p, want)) in cases.into_iter().enumerate() {
            assert_eq!(d(words, p), Err(want), "case {i}: {words:x?}");
        }
        // The prune flag as a WRITE's.
        let on_b = Expand {
            buffer: Buffer::B,
            ..e
        };
        assert_eq!(d(on_b.encode(), 6), Err(Status::BadFormat));
        let plain = Expand {
            prune: false,
            ..on_b
        };
        assert_eq!(d(plain.encode(), 6), Ok(plain));
    }

    #[test]
    fn encoding_expands_back_with_fillers() {
        // Runs of every length around the gap limit, leading and trailing.
        let mut indices = vec![0u32; 9];
        for run in [0, 1, 6, 7, 8, 9, 15, 16, 17, 30] {
            indices.push(1 + run % 7);
            indices.extend(std::iter::repeat_n(0, run as usize));
        }
        indices.truncate(indices.len() & !1);
        let book: Vec<i16> = vec![0, -200, -100, 100, 200, 300, 400, 500];
        for pair in PairWidth::ALL {
            let e = region(pair, 3, indices.len() as u32, 8);
            let pairs = encode_pairs(&indices, 3, e.gap_max());
            assert!(pairs.iter().all(|&p| p >> 3 <= e.gap_max()));
            let payload = e.payload(&book, &pairs);
            let (got, status) = expand(&e, &payload);
            assert_eq!(status, Status::Ok, "{pair:?}");
            let want: Vec<i16> = indices.iter().map(|&i| book[i as usize]).collect();
            assert_eq!(got, want, "{pair:?}");
        }
    }

    #[test]
    fn malformed_streams_stop_at_the_failing_pair() {
        let e = region(PairWidth::P16, 4, 6, 3);
        let book = [0i16, 5, -7];
        let run = |pairs: &[u32]| expand(&e, &e.payload(&book, pairs));
        // 5, then 0, 0, -7, then 5, 5; then a padding pair.
        let want = vec![5, 0, 0, -7, 5, 5];
        assert_eq!(run(&[1, 2 << 4 | 2, 1, 1]), (want.clone(), Status::Ok));
        assert_eq!(run(&[1, 2 << 4 | 2, 1, 1, 0]), (want, Status::Ok));
        // An index past the codebook after three elements: two stored.
        assert_eq!(run(&[1, 2 << 4 | 3, 1]).1, Status::BadIndex);
        assert_eq!(run(&[1, 1, 3]), (vec![5, 5], Status::BadIndex));
        // A run past the end, and a pair after the region is full.
        assert_eq!(run(&[1, 5 << 4 | 1]), (vec![], Status::Overrun));
        assert_eq!(run(&[1, 1, 1, 1, 1, 1, 1]).1, Status::Overrun);
        // Too few pairs: a short stream, its whole element pairs stored
        // (a word's padding pairs are pairs while the region is not full).
        assert_eq!(run(&[1, 1 << 4 | 1]), (vec![5, 0], Status::ShortStream));
        assert_eq!(run(&[1, 1, 2]), (vec![5, 5, -7, 0], Status::ShortStream));
    }
}
