//! The golden device's GEMM against the naive reference of
//! tests/common: random shapes, formats, modes and bases, bit for bit,
//! including every LFSR state afterwards.

mod common;

use common::{exchange, rng, words, Reference};
use rand::rngs::StdRng;
use rand::Rng;
use srsa_host::golden::GoldenDevice;
use srsa_spec::lfsr::column_state;
use srsa_spec::numerics::{Formats, Rounding};
use srsa_spec::protocol::{
    address_word, encode_gemm, header, op, pack_elements, pad, status_word, Buffer, Gemm, Status,
};

const ELEMS: usize = 8192;

fn write_all(d: &mut GoldenDevice, buf: Buffer, data: &[i16]) {
    let payload = pack_elements(data);
    let mut cmd = vec![
        header(op::WRITE, payload.len() as u32),
        address_word(buf as u32, 0),
    ];
    cmd.extend(payload);
    assert_eq!(exchange(d, &cmd), [status_word(op::WRITE, Status::Ok)]);
}

fn random_formats(rng: &mut StdRng) -> Formats {
    let fl_a = rng.gen_range(0..=15u8);
    let fl_b = rng.gen_range(0..=15u8);
    let top = (fl_a + fl_b).min(15);
    Formats::new(fl_a, fl_b, rng.gen_range(0..=top), rng.gen_range(0..=top))
        .with_wl(rng.gen_range(2..=16))
}

/// A random GEMM that fits the buffers, or None if the shape drawn does not.
fn random_gemm(rng: &mut StdRng, n: u32) -> Option<Gemm> {
    let k = match rng.gen_range(0..4) {
        0 => 1,
        1 => rng.gen_range(2..5),
        _ => rng.gen_range(5..150),
    };
    let m = rng.gen_range(1..=40);
    let ncol = rng.gen_range(1..=40);
    let (mp, np) = (pad(m, n), pad(ncol, n));
    let base = |rng: &mut StdRng, len: u32| -> Option<u32> {
        let slots = (ELEMS as u32).checked_sub(len)? / n;
        Some(rng.gen_range(0..=slots) * n)
    };
    let a_base = base(rng, k * mp)?;
    let b_base = base(rng, k * np)?;
    let cin_base = base(rng, mp * np)?;
    let out_base = match rng.gen_range(0..3) {
        // In place, the main use.
        0 => cin_base,
        // Overlapping at an offset: allowed only without accumulate-init.
        1 => (cin_base + n * rng.gen_range(1..4)).min((ELEMS as u32 - mp * np) / n * n),
        _ => base(rng, mp * np)?,
    };
    // The protocol rejects C_in partially overlapping the output.
    let partial =
        out_base != cin_base && cin_base < out_base + mp * np && out_base < cin_base + mp * np;
    Some(Gemm {
        m,
        k,
        ncol,
        mode: Rounding::ALL[rng.gen_range(0..3)],
        relu: rng.gen_bool(0.3),
        acc_init: !partial && rng.gen_bool(0.5),
        a_transposed: false,
        b_transposed: false,
        b_from_c: false,
        masked: false,
        formats: random_formats(rng),
        a_base,
        b_base,
        cin_base,
        out_base,
    })
}

#[test]
fn random_gemms_match_the_reference() {
    let (mut rng, _) = rng("random_gemms_match_the_reference", 0x5EED_0001);
    let mut ran = 0;
    for n in [2usize, 4, 8] {
        let mut dev = GoldenDevice::new(n, ELEMS as u32);
        let mut reference = Reference::new(n, ELEMS);
        for round in 0..12 {
            // Fresh operands with a random value range each round.
            let amplitude = [32767, 3000, 200, 8][rng.gen_range(0..4)];
            for buf in Buffer::ALL {
                let data = words(&mut rng, ELEMS, amplitude);
                write_all(&mut dev, buf, &data);
                reference.bufs[buf as usize] = data;
            }
            if rng.gen_bool(0.3) {
                let seed: u64 = rng.gen();
                let col = rng.gen_range(0..n);
                let mut cmd = vec![header(op::SEED, col as u32)];
                cmd.extend(column_state(seed, col));
                let r = exchange(&mut dev, &cmd);
                assert_eq!(r, [status_word(op::SEED, Status::Ok)]);
                reference.lfsrs[col] = srsa_spec::lfsr::Lfsr::new(column_state(seed, col));
            }
            // Several GEMMs in a row: LFSR state carries over.
            for _ in 0..4 {
                let Some(g) = random_gemm(&mut rng, n as u32) else {
                    continue;
                };
                let mut cmd = vec![header(op::GEMM, 0)];
                cmd.extend(encode_gemm(&g));
                assert_eq!(
                    exchange(&mut dev, &cmd),
                    [status_word(op::GEMM, Status::Ok)],
                    "{g:?}"
                );
                reference.gemm(&g);
                ran += 1;
                let got = dev.buffer(Buffer::C);
                if let Some(i) = (0..ELEMS).find(|&i| got[i] != reference.bufs[2][i]) {
                    panic!(
                        "n={n} round {round}: C[{i}] = {}, reference {}; {g:?}",
                        got[i], reference.bufs[2][i]
                    );
                }
                assert_eq!(dev.lfsrs(), &reference.lfsrs[..], "n={n} {g:?}");
            }
        }
    }
    assert!(ran > 100, "only {ran} GEMMs ran");
}

/// The cases a random draw may miss, one by one: K = 1, saturation at both
/// ends, exact C_in alignment, ReLU, a shift of 0 and of 30.
#[test]
fn corner_cases_match_the_reference() {
    let n = 4;
    let g0 = Gemm {
        m: 3,
        k: 1,
        ncol: 6,
        mode: Rounding::Stochastic,
        relu: false,
        acc_init: true,
        a_transposed: false,
        b_transposed: false,
        b_from_c: false,
        masked: false,
        formats: Formats::new(15, 15, 0, 0),
        a_base: 0,
        b_base: 64,
        cin_base: 0,
        out_base: 0,
    };
    let cases = [
        g0,
        Gemm { relu: true, ..g0 },
        Gemm {
            formats: Formats::uniform(0),
            mode: Rounding::Nearest,
            ..g0
        },
        Gemm {
            formats: Formats::new(3, 9, 12, 5),
            k: 7,
            ..g0
        },
        Gemm {
            acc_init: false,
            mode: Rounding::Truncate,
            k: 33,
            ..g0
        },
    ];
    let (mut rng, _) = rng("corner_cases_match_the_reference", 0x5EED_0002);
    for values in [vec![i16::MIN], vec![i16::MAX], vec![i16::MIN, i16::MAX]] {
        for g in cases {
            let mut dev = GoldenDevice::new(n, 512);
            let mut reference = Reference::new(n, 512);
            for buf in Buffer::ALL {
                let data: Vec<i16> = (0..512)
                    .map(|_| values[rng.gen_range(0..values.len())])
                    .collect();
                write_all(&mut dev, buf, &data);
                reference.bufs[buf as usize] = data;
            }
            let mut cmd = vec![header(op::GEMM, 0)];
            cmd.extend(encode_gemm(&g));
            assert_eq!(
                exchange(&mut dev, &cmd),
                [status_word(op::GEMM, Status::Ok)]
            );
            reference.gemm(&g);
            assert_eq!(dev.buffer(Buffer::C), &reference.bufs[2][..], "{g:?}");
        }
    }
    // Saturation really happened at both ends in those runs: check one.
    let mut dev = GoldenDevice::new(n, 512);
    write_all(&mut dev, Buffer::A, &[i16::MIN; 512]);
    write_all(&mut dev, Buffer::B, &[i16::MAX; 512]);
    let g = Gemm {
        acc_init: false,
        a_transposed: false,
        b_transposed: false,
        b_from_c: false,
        masked: false,
        formats: Formats::uniform(0),
        ..g0
    };
    let mut cmd = vec![header(op::GEMM, 0)];
    cmd.extend(encode_gemm(&g));
    exchange(&mut dev, &cmd);
    assert!(dev.buffer(Buffer::C)[..16].iter().all(|&x| x == i16::MIN));
    write_all(&mut dev, Buffer::B, &[i16::MIN; 512]);
    exchange(&mut dev, &cmd);
    assert!(dev.buffer(Buffer::C)[..16].iter().all(|&x| x == i16::MAX));
}
