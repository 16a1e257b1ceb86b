//! Deep Compression's device features on the verilated RTL against the
//! golden model, word for word: EXPAND's codebook decode (valid and
//! damaged streams, each region read back) and the pruning mask through
//! stochastic-rounding updates.

mod common;

use ndarray::Array2;
use rand::Rng;
use srsa_host::fuzz::damaged_expand;
use srsa_spec::numerics::{Formats, Rounding};
use srsa_spec::protocol::{
    address_word, header, op, parse_status, Buffer, Gemm, Link, Status, BUFFER_FROM,
};
use std::collections::BTreeMap;

/// Random EXPANDs, mostly valid, some with a word damaged; after each,
/// the region it named is read back. Every response word is compared.
fn expand_agrees(rows: usize, cols: usize, commands: usize, test: &str, default: u64) {
    let (mut rng, seed) = common::rng(test, default);
    let mut pair = common::pair(rows, cols);
    let id = pair.right.identity();
    let mut by_status = BTreeMap::new();
    for i in 0..commands {
        let cmd = damaged_expand(&mut rng, &id);
        let fail =
            |e: String| -> ! { panic!("seed {seed}, command {i} ({:08x?}): {e}", &cmd[..4]) };
        pair.send(&cmd).unwrap_or_else(|e| fail(e.to_string()));
        let st = pair
            .recv(1, 1_000_000)
            .unwrap_or_else(|e| fail(e.to_string()))[0];
        *by_status.entry(parse_status(st).1).or_insert(0) += 1;
        // The region read back at 16 bits, from the buffer it named.
        let addr = cmd[1] & 0xFF_FFFE;
        let buffer = (cmd[1] >> BUFFER_FROM & 0xF).min(2);
        let words = 48u32.min((id.buffer_elems.saturating_sub(addr)) / 2);
        if words > 0 {
            pair.send(&[header(op::READ, words), address_word(buffer, addr)])
                .unwrap_or_else(|e| fail(e.to_string()));
            pair.recv(1 + words as usize, 1_000_000)
                .unwrap_or_else(|e| fail(e.to_string()));
        }
    }
    println!("{rows}x{cols}, seed {seed}: statuses {by_status:?}");
    for s in [
        Status::Ok,
        Status::BadIndex,
        Status::Overrun,
        Status::ShortStream,
    ] {
        assert!(
            by_status.get(&(s as u32)).copied().unwrap_or(0) >= commands / 50,
            "seed {seed}: too few {s} cases: {by_status:?}"
        );
    }
}

#[test]
fn expand_decodes_as_golden_on_4x4() {
    expand_agrees(4, 4, 600, "expand_decodes_as_golden_on_4x4", 0xE4A4);
}

#[test]
fn expand_decodes_as_golden_on_2x4() {
    expand_agrees(2, 4, 300, "expand_decodes_as_golden_on_2x4", 0xE4A2);
}

/// Weights with pruned zeros, updated in place by masked stochastic
/// GEMMs (W <- W + x^T g, as training does): the RTL and golden agree on
/// every word, pruned weights stay exactly zero, and unpruned ones move,
/// some through zero.
#[test]
fn masked_updates_keep_pruned_weights_zero_on_the_rtl() {
    let (mut rng, seed) = common::rng("masked_updates_keep_pruned_weights_zero_on_the_rtl", 0x3A5C);
    let mut d = common::open(4);
    let (k, n) = (8usize, 12usize); // W is k x n in C at 0 (n padded to 4)
    let w0: Vec<i16> = (0..k * n)
        .map(|_| {
            if rng.gen_bool(0.5) {
                0
            } else {
                rng.gen_range(-3..=3)
            }
        })
        .collect();
    let pruned: Vec<bool> = w0.iter().map(|&x| x == 0).collect();
    d.write_pruned(0, &w0).unwrap();
    let mut crossed = 0;
    let mut moved = 0;
    let mut w = w0.clone();
    for step in 0..6 {
        // x^T (k x 3 in A, row-major as A transposed: (i, kk) at kk * Mp + i)
        // times g (3 x n in B): A is k x 3, read as stored (i, kk) at kk*8+i.
        let x = Array2::from_shape_simple_fn((k, 3), || rng.gen_range(-40i16..40));
        let g = Array2::from_shape_simple_fn((3, n), || rng.gen_range(-40i16..40));
        let mut a = vec![0i16; 3 * k];
        for i in 0..k {
            for kk in 0..3 {
                a[kk * k + i] = x[(i, kk)];
            }
        }
        d.write(Buffer::A, 0, &a).unwrap();
        d.write(Buffer::B, 0, g.as_slice().unwrap()).unwrap();
        let mut gm = Gemm::plain(
            k as u32,
            3,
            n as u32,
            Rounding::Stochastic,
            Formats::new(4, 4, 0, 0),
        );
        (gm.acc_init, gm.masked) = (true, true);
        d.gemm(&gm)
            .unwrap_or_else(|e| panic!("seed {seed}, step {step}: {e}"));
        let now = d.read(Buffer::C, 0, k * n).unwrap();
        for (i, (&before, &after)) in w.iter().zip(&now).enumerate() {
            if pruned[i] {
                assert_eq!(
                    after, 0,
                    "seed {seed}, step {step}: pruned weight {i} moved"
                );
            } else {
                moved += (before != after) as usize;
                crossed += (before != 0 && after == 0 || before == 0 && after != 0) as usize;
            }
        }
        w = now;
    }
    println!("seed {seed}: {moved} moves, {crossed} through zero");
    assert!(
        moved > k * n,
        "seed {seed}: the unpruned weights hardly moved"
    );
    assert!(crossed > 0, "seed {seed}: no unpruned weight crossed zero");
}
