//! Golden-model GEMM throughput against an f32 GEMM from ndarray on the
//! same shape (default 104x784 by 784x256, the padded MNIST-training size
//! on an 8x8 array). Run in release:
//!
//! ```text
//! cargo run --release -p srsa-host --example golden_bench [M K N]
//! ```

use ndarray::Array2;
use srsa_host::golden::GoldenDevice;
use srsa_host::kernel::Workspace;
use srsa_spec::numerics::{Formats, Rounding};
use srsa_spec::protocol::{encode_gemm, header, op, Gemm, Link};
use std::time::Instant;

/// Best of `reps` timings, in seconds.
fn best(reps: usize, mut f: impl FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("M K N as integers"))
        .collect();
    let (m, k, n) = match args[..] {
        [m, k, n] => (m, k, n),
        _ => (104, 784, 256),
    };
    let macs = (m * k * n) as f64;
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s as i16
    };
    let a_t: Vec<i16> = (0..k * m).map(|_| next()).collect();
    let b: Vec<i16> = (0..k * n).map(|_| next()).collect();
    let reps = 200;

    let mut ws = Workspace::new();
    let t = best(reps, || {
        std::hint::black_box(ws.gemm_i16(&a_t, &b, m, k, n));
    });
    println!(
        "kernel gemm_i16      {m}x{k}x{n}: {:6.2} G MAC/s",
        macs / t / 1e9
    );

    // The whole device GEMM: products, C_in, draws, conversion, write-back.
    let elems = (k * m.max(n)).max(m * n).next_multiple_of(8) as u32;
    let mut dev = GoldenDevice::new(8, elems);
    let g = Gemm {
        m: m as u32,
        k: k as u32,
        ncol: n as u32,
        mode: Rounding::Stochastic,
        relu: false,
        acc_init: true,
        a_transposed: false,
        b_transposed: false,
        b_from_c: false,
        masked: false,
        formats: Formats::uniform(8),
        a_base: 0,
        b_base: 0,
        cin_base: 0,
        out_base: 0,
    };
    let mut cmd = vec![header(op::GEMM, 0)];
    cmd.extend(encode_gemm(&g));
    let t = best(reps, || {
        dev.send(&cmd).unwrap();
        dev.recv(1, 0).unwrap();
    });
    println!(
        "golden device GEMM   {m}x{k}x{n}: {:6.2} G MAC/s",
        macs / t / 1e9
    );

    let af = Array2::from_shape_fn((m, k), |(i, kk)| a_t[kk * m + i] as f32);
    let bf = Array2::from_shape_fn((k, n), |(kk, j)| b[kk * n + j] as f32);
    let t32 = best(reps, || {
        std::hint::black_box(af.dot(&bf));
    });
    println!(
        "ndarray f32 dot      {m}x{k}x{n}: {:6.2} G MAC/s",
        macs / t32 / 1e9
    );
}
