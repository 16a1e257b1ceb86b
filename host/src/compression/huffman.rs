//! Canonical Huffman codes over small alphabets (Han et al.'s last stage).
//!
//! Written here rather than taken from a crate: the compressed-model file
//! stores only each symbol's code length, and the canonical assignment
//! (shorter codes first, then by symbol) fixes every code from those
//! lengths alone, independent of any library's tie-breaking. Lengths are
//! capped at [`MAX_LEN`] bits, so a decoder's table stays small.

use std::collections::BinaryHeap;

/// The longest code.
pub const MAX_LEN: u8 = 24;

/// Code lengths (0 for an unused symbol) for `counts`, the frequency of
/// each symbol. One used symbol gets a 1-bit code.
pub fn code_lengths(counts: &[u64]) -> Vec<u8> {
    let mut lengths = vec![0u8; counts.len()];
    let used: Vec<usize> = (0..counts.len()).filter(|&s| counts[s] > 0).collect();
    match used.len() {
        0 => return lengths,
        1 => {
            lengths[used[0]] = 1;
            return lengths;
        }
        _ => {}
    }
    // Package the two lightest nodes until one is left; ties broken by
    // node number, so the result is deterministic. A node is a leaf
    // (symbol) or a pair of earlier nodes.
    let mut parent: Vec<usize> = vec![usize::MAX; used.len()];
    let mut heap: BinaryHeap<std::cmp::Reverse<(u64, usize)>> = used
        .iter()
        .enumerate()
        .map(|(i, &s)| std::cmp::Reverse((counts[s], i)))
        .collect();
    while heap.len() > 1 {
        let std::cmp::Reverse((wa, a)) = heap.pop().expect("two nodes");
        let std::cmp::Reverse((wb, b)) = heap.pop().expect("two nodes");
        let node = parent.len();
        parent.push(usize::MAX);
        parent[a] = node;
        parent[b] = node;
        heap.push(std::cmp::Reverse((wa + wb, node)));
    }
    for (i, &s) in used.iter().enumerate() {
        let (mut depth, mut n) = (0u32, i);
        while parent[n] != usize::MAX {
            n = parent[n];
            depth += 1;
        }
        lengths[s] = depth.min(u8::MAX as u32) as u8;
    }
    limit(&mut lengths, MAX_LEN);
    lengths
}

/// Shortens codes longer than `max` and lengthens the shortest others
/// until the Kraft sum is at most 1 again (a simple, valid, near-optimal
/// repair; it only runs for alphabets with very skewed counts).
fn limit(lengths: &mut [u8], max: u8) {
    if lengths.iter().all(|&l| l <= max) {
        return;
    }
    for l in lengths.iter_mut() {
        if *l > max {
            *l = max;
        }
    }
    let kraft = |ls: &[u8]| -> u64 {
        ls.iter()
            .filter(|&&l| l > 0)
            .map(|&l| 1u64 << (max - l))
            .sum()
    };
    while kraft(lengths) > 1u64 << max {
        // Lengthen the longest code still shorter than max.
        let i = (0..lengths.len())
            .filter(|&i| lengths[i] > 0 && lengths[i] < max)
            .max_by_key(|&i| (lengths[i], std::cmp::Reverse(i)))
            .expect("a code shorter than the cap");
        lengths[i] += 1;
    }
}

/// The canonical code of each symbol, as (bits, length), from lengths.
pub fn codes(lengths: &[u8]) -> Vec<(u32, u8)> {
    let mut order: Vec<usize> = (0..lengths.len()).filter(|&s| lengths[s] > 0).collect();
    order.sort_by_key(|&s| (lengths[s], s));
    let mut out = vec![(0u32, 0u8); lengths.len()];
    let (mut code, mut prev) = (0u32, 0u8);
    for (k, &s) in order.iter().enumerate() {
        if k > 0 {
            code = (code + 1) << (lengths[s] - prev);
        } else {
            code <<= lengths[s];
        }
        prev = lengths[s];
        out[s] = (code, lengths[s]);
    }
    out
}

/// Whether `lengths` describe a prefix code (Kraft sum at most 1) with no
/// code over [`MAX_LEN`]: what a reader checks before decoding.
pub fn valid(lengths: &[u8]) -> bool {
    if lengths.iter().any(|&l| l > MAX_LEN) {
        return false;
    }
    let sum: u64 = lengths
        .iter()
        .filter(|&&l| l > 0)
        .map(|&l| 1u64 << (MAX_LEN - l))
        .sum();
    sum <= 1u64 << MAX_LEN
}

/// Writes bits most significant first.
#[derive(Default)]
pub struct BitWriter {
    pub bytes: Vec<u8>,
    used: u8,
}

impl BitWriter {
    pub fn put(&mut self, bits: u32, len: u8) {
        for i in (0..len).rev() {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let bit = (bits >> i) & 1;
            *self.bytes.last_mut().expect("a byte") |= (bit as u8) << (7 - self.used);
            self.used = (self.used + 1) % 8;
        }
    }
}

/// Reads what [`BitWriter`] wrote; `None` past the end.
pub struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(bytes: &'a [u8]) -> BitReader<'a> {
        BitReader { bytes, pos: 0 }
    }

    pub fn bit(&mut self) -> Option<u32> {
        let byte = *self.bytes.get(self.pos / 8)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(b as u32)
    }

    pub fn take(&mut self, len: u8) -> Option<u32> {
        (0..len).try_fold(0u32, |acc, _| Some(acc << 1 | self.bit()?))
    }
}

/// Decodes canonical codes bit by bit: for each length, the first code and
/// the symbols in canonical order.
pub struct Decoder {
    /// Per length 1..=MAX_LEN: (first code, index of its first symbol).
    first: Vec<(u32, usize)>,
    count: Vec<u32>,
    symbols: Vec<usize>,
}

impl Decoder {
    /// `None` when the lengths are not a prefix code.
    pub fn new(lengths: &[u8]) -> Option<Decoder> {
        if !valid(lengths) {
            return None;
        }
        let mut symbols: Vec<usize> = (0..lengths.len()).filter(|&s| lengths[s] > 0).collect();
        symbols.sort_by_key(|&s| (lengths[s], s));
        let mut count = vec![0u32; MAX_LEN as usize + 1];
        for &s in &symbols {
            count[lengths[s] as usize] += 1;
        }
        let mut first = vec![(0u32, 0usize); MAX_LEN as usize + 1];
        let (mut code, mut index) = (0u32, 0usize);
        for len in 1..=MAX_LEN as usize {
            code <<= 1;
            first[len] = (code, index);
            code += count[len];
            index += count[len] as usize;
        }
        Some(Decoder {
            first,
            count,
            symbols,
        })
    }

    /// The next symbol, or `None` if the bits run out or match no code.
    pub fn next(&self, r: &mut BitReader) -> Option<usize> {
        let mut code = 0u32;
        for len in 1..=MAX_LEN as usize {
            code = code << 1 | r.bit()?;
            let (first, index) = self.first[len];
            if code >= first && code - first < self.count[len] {
                return self.symbols.get(index + (code - first) as usize).copied();
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn codes_round_trip_and_beat_fixed_width_on_skewed_data() {
        let seed: u64 = rand::random();
        println!("seed {seed}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        // Geometric-ish symbols over 32: most mass on the first few.
        let data: Vec<usize> = (0..5000)
            .map(|_| (rng.gen::<f64>().powi(4) * 32.0) as usize)
            .collect();
        let mut counts = vec![0u64; 32];
        for &s in &data {
            counts[s] += 1;
        }
        let lengths = code_lengths(&counts);
        assert!(valid(&lengths));
        let table = codes(&lengths);
        let mut w = BitWriter::default();
        for &s in &data {
            w.put(table[s].0, table[s].1);
        }
        assert!(w.bytes.len() * 8 < data.len() * 5, "no gain over 5 bits");
        let d = Decoder::new(&lengths).unwrap();
        let mut r = BitReader::new(&w.bytes);
        let back: Vec<usize> = (0..data.len()).map(|_| d.next(&mut r).unwrap()).collect();
        assert_eq!(back, data);
    }

    #[test]
    fn edge_cases() {
        assert_eq!(code_lengths(&[0, 7, 0]), [0, 1, 0]);
        assert_eq!(code_lengths(&[0, 0]), [0, 0]);
        // Fibonacci counts make the deepest tree; the cap holds.
        let mut fib = vec![1u64, 1];
        while fib.len() < 40 {
            let n = fib[fib.len() - 1] + fib[fib.len() - 2];
            fib.push(n);
        }
        let l = code_lengths(&fib);
        assert!(
            valid(&l) && l.iter().all(|&x| (1..=MAX_LEN).contains(&x)),
            "{l:?}"
        );
        assert!(!valid(&[1, 1, 1]));
        assert!(Decoder::new(&[1, 1, 1]).is_none());
        // A stream that ends mid-code is refused, not misread.
        let d = Decoder::new(&[2, 2, 2, 2]).unwrap();
        assert_eq!(d.next(&mut BitReader::new(&[])), None);
    }
}
