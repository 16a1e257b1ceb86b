//! Random and malformed command streams, run on a device and the golden
//! model in lockstep: every response word compared, every wait bounded,
//! and a correct GEMM after each stream to show the device still works.
//!
//! Each command is complete (a header and exactly the words the protocol
//! makes the device consume for it), so the stream stays in step, but its
//! contents are random: unknown opcodes, bad buffers, odd and out-of-range
//! addresses, zero sizes, bad columns, and GEMM arguments with random bits
//! flipped (formats, reserved bits, operand paths, sizes, bases, the
//! mask), pruned writes, and EXPANDs of coded regions with their words
//! damaged (indices past the codebook, runs past the end, short streams,
//! bad arguments). Sizes are kept small so that a GEMM that happens to be
//! valid stays short.

use crate::driver::{Driver, MatmulOpts};
use crate::golden::GoldenDevice;
use crate::lockstep::Lockstep;
use ndarray::Array2;
use rand::Rng;
use srsa_spec::expand::{encode_pairs, Expand, PairWidth};
use srsa_spec::numerics::{Formats, Rounding, MAX_FL};
use srsa_spec::protocol::{
    address_word, encode_gemm, header, op, status_word, Buffer, Gemm, Identity, Link, Status,
    BUFFER_FROM, PRUNE_BIT, SEED_ARGS, WIDTH_FROM,
};

/// Most payload words of a fuzzed WRITE or READ.
const MAX_XFER: u32 = 48;

/// What a campaign did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub streams: u64,
    pub commands: u64,
    /// Response words compared.
    pub words: u64,
    /// Fuzzed GEMMs the devices accepted and ran (the rest were refused).
    pub gemms_run: u64,
}

/// One random command, whole.
pub fn random_command(rng: &mut impl Rng, id: &Identity) -> Vec<u32> {
    let elems = id.buffer_elems;
    // Mostly inside the buffer, sometimes odd, sometimes beyond it.
    let address = |rng: &mut dyn rand::RngCore| -> u32 {
        match rng.gen_range(0..10) {
            0 => rng.gen_range(0..1 << 24),
            1 => 2 * rng.gen_range(0..elems / 2) + 1,
            2 => elems.saturating_sub(2 * rng.gen_range(0..MAX_XFER)),
            3 => 2 * rng.gen_range(0..elems.min(4096) / 2),
            _ => 8 * rng.gen_range(0..elems.min(4096) / 8),
        }
    };
    // The address word's high byte: a buffer and an element width, mostly
    // ones that exist, sometimes any byte at all.
    let buffer = |rng: &mut dyn rand::RngCore| -> u32 {
        if rng.gen_bool(0.9) {
            rng.gen_range(0..3)
                | [0, 0, 1, 2][rng.gen_range(0..4)] << (WIDTH_FROM - BUFFER_FROM)
                | (rng.gen_bool(0.15) as u32) << (PRUNE_BIT - BUFFER_FROM)
        } else {
            rng.gen_range(3..256)
        }
    };
    match rng.gen_range(0..14) {
        0 => {
            // An opcode no device has: nothing after the header is read.
            let opcode = loop {
                let o = rng.gen_range(0..256u32);
                if !(op::IDENTIFY..=op::EXPAND).contains(&o) {
                    break o;
                }
            };
            vec![opcode << 24 | rng.gen_range(0..1 << 24)]
        }
        1 => vec![header(op::IDENTIFY, rng.gen_range(0..1 << 24))],
        2 => vec![header(op::COUNTERS, rng.gen_range(0..1 << 24))],
        3 | 4 => {
            let p = rng.gen_range(0..=MAX_XFER);
            let mut w = vec![
                header(op::WRITE, p),
                address_word(buffer(rng), address(rng)),
            ];
            w.extend((0..p).map(|_| rng.gen::<u32>()));
            w
        }
        5 | 6 => vec![
            header(op::READ, rng.gen_range(0..=MAX_XFER)),
            address_word(buffer(rng), address(rng)),
        ],
        8 | 9 => damaged_expand(rng, id),
        7 => {
            let col = rng.gen_range(0..id.cols + 3);
            let mut w = vec![header(op::SEED, col)];
            w.extend((0..SEED_ARGS).map(|_| rng.gen::<u32>()));
            w
        }
        _ => {
            let mut w = vec![header(op::GEMM, rng.gen_range(0..1 << 24))];
            w.extend(mutated_gemm(rng, id));
            w
        }
    }
}

/// An EXPAND of a small random coded region, then sometimes a word of it
/// damaged; the header always counts the payload that follows.
pub fn damaged_expand(rng: &mut impl Rng, id: &Identity) -> Vec<u32> {
    let pair = PairWidth::ALL[rng.gen_range(0..2)];
    let index_bits = rng.gen_range(1..pair.bits().min(9));
    let entries = rng.gen_range(1..=(1u32 << index_bits).min(40));
    let elems = 2 * rng.gen_range(1..=40u32);
    let e = Expand {
        buffer: Buffer::ALL[rng.gen_range(0..3)],
        address: 2 * rng.gen_range(0..id.buffer_elems.min(4096) / 2 - elems),
        prune: rng.gen_bool(0.5),
        pair,
        elems,
        index_bits,
        entries,
    };
    let e = if e.buffer != Buffer::C && rng.gen_bool(0.8) {
        Expand { prune: false, ..e }
    } else {
        e
    };
    let density = rng.gen_range(0.0..1.0);
    let indices: Vec<u32> = (0..elems)
        .map(|_| {
            if rng.gen_bool(density) {
                rng.gen_range(0..entries)
            } else {
                0
            }
        })
        .collect();
    let mut book: Vec<i16> = (0..entries).map(|_| rng.gen()).collect();
    book[0] = 0;
    let pairs = encode_pairs(&indices, index_bits, e.gap_max());
    let mut args = e.encode().to_vec();
    let mut payload = e.payload(&book, &pairs);
    match rng.gen_range(0..9) {
        0 => args[rng.gen_range(0..3)] ^= 1 << rng.gen_range(0..32),
        1 => {
            let i = rng.gen_range(0..payload.len());
            payload[i] ^= 1 << rng.gen_range(0..32);
        }
        2 => payload.truncate(rng.gen_range(0..payload.len())),
        3 => payload.push(rng.gen()),
        4 => args[1] = args[1] & !0xFF_FFFF | rng.gen_range(0..2 * elems),
        // A codebook shorter than its indices.
        5 => args[2] = rng.gen_range(1..=entries),
        _ => {}
    }
    let mut w = vec![header(op::EXPAND, payload.len() as u32)];
    w.extend(args);
    w.extend(payload);
    w
}

/// A small GEMM with any flags and formats, then a few random bits
/// flipped: mostly refused, sometimes run.
fn mutated_gemm(rng: &mut impl Rng, id: &Identity) -> Vec<u32> {
    let (r, c) = (id.rows, id.cols);
    let mode = [Rounding::Truncate, Rounding::Nearest, Rounding::Stochastic][rng.gen_range(0..3)];
    let fl = |rng: &mut dyn rand::RngCore| rng.gen_range(0..=MAX_FL + 2);
    let b_from_c = rng.gen_bool(0.2);
    let g = Gemm {
        m: rng.gen_range(1..=3 * r),
        k: rng.gen_range(1..=3 * r.max(c) + 1),
        ncol: rng.gen_range(1..=3 * c),
        mode,
        relu: rng.gen(),
        acc_init: !b_from_c && rng.gen(),
        a_transposed: rng.gen_bool(0.3),
        b_transposed: rng.gen_bool(0.3),
        b_from_c,
        masked: rng.gen_bool(0.2),
        formats: Formats::new(fl(rng), fl(rng), fl(rng), fl(rng)).with_wl(rng.gen_range(0..=17)),
        a_base: r * rng.gen_range(0..64),
        b_base: c * rng.gen_range(0..64),
        cin_base: c * rng.gen_range(0..64),
        out_base: c * rng.gen_range(64..128),
    };
    let mut w = encode_gemm(&g).to_vec();
    for _ in 0..rng.gen_range(0..3) {
        let i = rng.gen_range(0..w.len());
        // Flips in the size fields stay in their low bits: a valid GEMM of
        // 2^15 rows would take the simulator minutes.
        let bit = if i == 0 || i == 1 {
            *[0, 1, 2, 3, 16, 17, 18, 19, 20, 21, 22, 23, 24, 27, 28, 31]
                .get(rng.gen_range(0..16))
                .expect("in range")
        } else {
            rng.gen_range(0..32)
        };
        w[i] ^= 1 << bit;
    }
    w
}

/// Runs `streams` streams of up to `commands` random commands each on
/// `pair` (any device on the left, the golden model on the right), then a
/// correct GEMM after each; stops at the first difference, with a message
/// naming the stream, the command and the first differing word.
pub fn campaign<A: Link>(
    pair: Lockstep<A, GoldenDevice>,
    rng: &mut impl Rng,
    streams: u64,
    commands: usize,
) -> Result<(Tally, Lockstep<A, GoldenDevice>), String> {
    let mut pair = pair;
    let mut t = Tally::default();
    let id = pair.right.identity();
    for s in 0..streams {
        for i in 0..rng.gen_range(1..=commands) {
            let cmd = random_command(rng, &id);
            pair.send(&cmd)
                .map_err(|e| format!("stream {s}, command {i}: send: {e}"))?;
            let n = pair.right.pending_output();
            // Far above any fuzzed GEMM's busy time: a hang is an error.
            let rsp = pair.recv(n, 20_000_000).map_err(|e| {
                format!(
                    "stream {s}, command {i} ({:08x?}...): {e}",
                    &cmd[..cmd.len().min(3)]
                )
            })?;
            if cmd[0] >> 24 == op::GEMM && rsp.first() == Some(&status_word(op::GEMM, Status::Ok)) {
                t.gemms_run += 1;
            }
            t.commands += 1;
            t.words += n as u64;
        }
        pair = still_works(pair, rng).map_err(|e| format!("after stream {s}: {e}"))?;
        t.streams += 1;
    }
    Ok((t, pair))
}

/// A correct GEMM through the driver, both devices compared.
fn still_works<A: Link>(
    pair: Lockstep<A, GoldenDevice>,
    rng: &mut impl Rng,
) -> Result<Lockstep<A, GoldenDevice>, String> {
    let mut d = Driver::new(pair).map_err(|e| format!("IDENTIFY: {e}"))?;
    let n = d.rows() as usize;
    let a = Array2::from_shape_simple_fn((n + 1, 3), || rng.gen_range(-2000..2000));
    let b = Array2::from_shape_simple_fn((3, n + 2), || rng.gen_range(-2000..2000));
    let opts = MatmulOpts::new(Formats::new(8, 7, 6, 5), Rounding::Stochastic);
    d.matmul(a.view(), b.view(), None, &opts)
        .map_err(|e| format!("a correct GEMM: {e}"))?;
    Ok(d.into_link())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Two golden models in lockstep never differ; the campaign counts
    /// what it did.
    #[test]
    fn golden_against_golden() {
        let seed = 5;
        println!("seed {seed}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let pair = Lockstep::new(GoldenDevice::new(4, 1 << 12), GoldenDevice::new(4, 1 << 12));
        let (t, _) = campaign(pair, &mut rng, 200, 8).unwrap();
        assert_eq!(t.streams, 200);
        assert!(t.commands >= 200 && t.words >= t.commands, "{t:?}");
        assert!(t.gemms_run > 10, "some fuzzed GEMMs are valid: {t:?}");
    }

    /// A device that differs is caught and named.
    #[test]
    fn a_difference_is_reported() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(6);
        // Another buffer size: some address is valid on one only.
        let pair = Lockstep::new(GoldenDevice::new(4, 1 << 12), GoldenDevice::new(4, 1 << 13));
        let e = campaign(pair, &mut rng, 500, 8)
            .err()
            .expect("a divergence");
        assert!(e.contains("first differing word"), "{e}");
    }
}
