//! Writes the known-answer vectors of docs/PROTOCOL.md
//! (`tests/vectors/known_answers.txt`) from the golden model:
//! `cargo run --release -p srsa-host --example known_answers > FILE`.
//!
//! Each vector is a whole command stream for a 4 x 4 device with at least
//! 4096 elements per buffer, and every response word it must produce.
//! `tests/known_answers.rs` replays the file on the simulated RTL and the
//! golden model; an implementation written from the protocol can do the
//! same.

use srsa_host::golden::GoldenDevice;
use srsa_spec::expand::{encode_pairs, Expand, PairWidth};
use srsa_spec::lfsr::column_state;
use srsa_spec::numerics::{Formats, Rounding};
use srsa_spec::protocol::{
    address_word, encode_gemm, header, op, pack_as, pack_elements, Buffer, Gemm, Link, Transfer,
    Width, SEED_ARGS, WIDTH_FROM,
};

fn write(buf: Buffer, addr: u32, elems: &[i16]) -> Vec<u32> {
    let payload = pack_elements(elems);
    let mut w = vec![
        header(op::WRITE, payload.len() as u32),
        address_word(buf as u32, addr),
    ];
    w.extend(payload);
    w
}

/// Deterministic operand values that exercise signs and large products.
fn values(n: usize, mul: i32, add: i32) -> Vec<i16> {
    (0..n as i32)
        .map(|i| ((i * mul + add) % 6553 * 5 - 16000) as i16)
        .collect()
}

struct Vector {
    name: String,
    words: Vec<u32>,
}

fn vector(name: &str, mode: Rounding, acc_init: bool, relu: bool, seed: Option<u64>) -> Vector {
    vector_in(
        name,
        mode,
        acc_init,
        relu,
        seed,
        Formats::new(12, 11, 10, 9),
    )
}

fn vector_in(
    name: &str,
    mode: Rounding,
    acc_init: bool,
    relu: bool,
    seed: Option<u64>,
    formats: Formats,
) -> Vector {
    // 5 x 7 by 7 x 6 on 4 x 4: Mp = 8, Np = 8, two tile rows and columns.
    let (m, k, n) = (5u32, 7u32, 6u32);
    let mut words = vec![];
    if let Some(seed) = seed {
        for c in 0..4 {
            words.push(header(op::SEED, c));
            words.extend(column_state(seed, c as usize));
        }
        assert_eq!(SEED_ARGS, 3);
    }
    words.extend(write(Buffer::A, 0, &values((k * 8) as usize, 37, 11)));
    words.extend(write(Buffer::B, 0, &values((k * 8) as usize, 53, 7)));
    if acc_init {
        words.extend(write(Buffer::C, 0, &values(64, 29, 3)));
    }
    let g = Gemm {
        relu,
        acc_init,
        out_base: if acc_init { 64 } else { 0 },
        ..Gemm::plain(m, k, n, mode, formats)
    };
    words.push(header(op::GEMM, 0));
    words.extend(encode_gemm(&g));
    words.extend([
        header(op::READ, 32),
        address_word(Buffer::C as u32, g.out_base),
    ]);
    Vector {
        name: name.into(),
        words,
    }
}

/// Packed transfers: 8- and 4-bit WRITEs read back at 16 bits (sign
/// extension) and 16-bit values read packed (saturation), a GEMM fed
/// from packed operands, and the refusals of a misaligned packed address
/// and of a width code the protocol lacks.
fn packed() -> Vector {
    let at = |buf: Buffer, w: Width, addr: u32| {
        Transfer {
            buffer: buf,
            width: w,
            address: addr,
            prune: false,
        }
        .encode()
    };
    let mut words = vec![];
    let small: Vec<i16> = (0..16).map(|i| (i * 5 % 16) as i16 - 8).collect();
    for (buf, width) in [(Buffer::A, Width::W8), (Buffer::B, Width::W4)] {
        let payload = pack_as(&small, width);
        words.extend([header(op::WRITE, payload.len() as u32), at(buf, width, 0)]);
        words.extend(payload);
    }
    words.extend([header(op::READ, 8), at(Buffer::A, Width::W16, 0)]);
    // Each side of each width's range.
    let edges = [
        -300, -129, -128, -127, -9, -8, -7, 0, 1, 6, 7, 8, 126, 127, 128, 300,
    ];
    words.extend(write(Buffer::C, 16, &edges));
    words.extend([header(op::READ, 4), at(Buffer::C, Width::W8, 16)]);
    words.extend([header(op::READ, 2), at(Buffer::C, Width::W4, 16)]);
    // 4 x 4 by 4 x 4 from the packed operands, into C at 32.
    let g = Gemm {
        out_base: 32,
        ..Gemm::plain(
            4,
            4,
            4,
            Rounding::Nearest,
            Formats::new(2, 2, 0, 2).with_wl(4),
        )
    };
    words.push(header(op::GEMM, 0));
    words.extend(encode_gemm(&g));
    words.extend([header(op::READ, 2), at(Buffer::C, Width::W4, 32)]);
    words.extend([
        header(op::WRITE, 1),
        at(Buffer::A, Width::W8, 2),
        0x1234_5678,
    ]);
    words.extend([
        header(op::READ, 1),
        (3 << WIDTH_FROM) | address_word(Buffer::A as u32, 0),
    ]);
    Vector {
        name: "packed transfers".into(),
        words,
    }
}

/// The pruning mask and EXPAND: a pruned WRITE, a masked stochastic
/// update in place (its marked outputs stay 0), a coded load with 8-bit
/// pairs and fillers read back, and two damaged coded loads (an index
/// past the codebook, a stream that ends early), each refused.
fn compression() -> Vector {
    let mut words = vec![];
    for c in 0..4 {
        words.push(header(op::SEED, c));
        words.extend(column_state(5, c as usize));
    }
    words.extend(write(Buffer::A, 0, &values(16, 37, 11)));
    words.extend(write(Buffer::B, 0, &values(16, 53, 7)));
    let w: Vec<i16> = (0..16)
        .map(|i| {
            if i % 3 == 0 {
                0
            } else {
                (i * 700 - 5000) as i16
            }
        })
        .collect();
    let payload = pack_elements(&w);
    words.extend([
        header(op::WRITE, payload.len() as u32),
        Transfer {
            buffer: Buffer::C,
            width: Width::W16,
            address: 0,
            prune: true,
        }
        .encode(),
    ]);
    words.extend(payload);
    let g = Gemm {
        acc_init: true,
        masked: true,
        ..Gemm::plain(4, 4, 4, Rounding::Stochastic, Formats::new(12, 13, 10, 10))
    };
    words.push(header(op::GEMM, 0));
    words.extend(encode_gemm(&g));
    words.extend([header(op::READ, 8), address_word(Buffer::C as u32, 0)]);
    let book = [0i16, 1200, -800, 333];
    let indices: Vec<u32> = (0..40u32)
        .map(|i| if i % 7 == 2 { 1 + i % 3 } else { 0 })
        .collect();
    let e = Expand {
        buffer: Buffer::C,
        address: 64,
        prune: true,
        pair: PairWidth::P8,
        elems: indices.len() as u32,
        index_bits: 2,
        entries: book.len() as u32,
    };
    let pairs = encode_pairs(&indices, 2, e.gap_max());
    let expand = |e: &Expand, book: &[i16], pairs: &[u32]| {
        let payload = e.payload(book, pairs);
        let mut w = vec![header(op::EXPAND, payload.len() as u32)];
        w.extend(e.encode());
        w.extend(payload);
        w
    };
    words.extend(expand(&e, &book, &pairs));
    words.extend([header(op::READ, 20), address_word(Buffer::C as u32, 64)]);
    // Index 3 with a codebook of three entries; then the pairs cut short.
    let three = Expand { entries: 3, ..e };
    words.extend(expand(&three, &book[..3], &pairs));
    words.extend(expand(&e, &book, &pairs[..pairs.len() / 2]));
    Vector {
        name: "pruning mask and EXPAND, stochastic from seed 5".into(),
        words,
    }
}

fn main() {
    let vectors = [
        vector("truncate", Rounding::Truncate, false, false, None),
        vector(
            "nearest, accumulate-init",
            Rounding::Nearest,
            true,
            false,
            None,
        ),
        vector(
            "stochastic from seed 42, ReLU",
            Rounding::Stochastic,
            false,
            true,
            Some(42),
        ),
        vector(
            "stochastic from seed 7, accumulate-init",
            Rounding::Stochastic,
            true,
            false,
            Some(7),
        ),
        // Shift 26 brings the sums to 10..13, inside 5 bits; with C_in at
        // FL 15 (about -8) added, some of the next saturate at 4 bits.
        vector_in(
            "nearest, WL_out 5",
            Rounding::Nearest,
            false,
            false,
            None,
            Formats::new(15, 15, 10, 4).with_wl(5),
        ),
        vector_in(
            "stochastic from seed 3, WL_out 4, accumulate-init",
            Rounding::Stochastic,
            true,
            false,
            Some(3),
            Formats::new(15, 15, 15, 4).with_wl(4),
        ),
        packed(),
        compression(),
    ];
    println!("# SRSA known-answer vectors (docs/PROTOCOL.md), written by");
    println!("# host/examples/known_answers.rs from the golden model.");
    println!("# Each vector: a fresh 4 x 4 device (any buffer of >= 4096 elements),");
    println!("# `send` lines (command words, hex) then `expect` lines (every response word).");
    for v in vectors {
        let mut dev = GoldenDevice::new(4, 4096);
        dev.send(&v.words).expect("golden takes words");
        let out = dev.recv(dev.pending_output(), 0).expect("queued");
        println!("vector {}", v.name);
        for (tag, words) in [("send", &v.words), ("expect", &out)] {
            for line in words.chunks(8) {
                let hex: Vec<String> = line.iter().map(|w| format!("{w:08x}")).collect();
                println!("{tag} {}", hex.join(" "));
            }
        }
    }
}
