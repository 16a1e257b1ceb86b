//! Malformed command streams, sent as raw words through the RTL and the
//! golden model in lockstep: both must answer with the same status word,
//! and that word must be the one the protocol names (so these tests pin the
//! protocol, not only agreement). After every rejected command the stream
//! must still be in step (the next command's answer comes next) and a
//! correct GEMM must still give the right result on both devices.
//!
//! Last, Lockstep itself must be able to fail: two golden devices seeded
//! differently have to produce a divergence naming the first differing word.

mod common;

use common::{buffer_elems, case, check_case, divergence, golden_like_sim, open, rng, Rig};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::Rng;
use srsa_host::driver::Driver;
use srsa_host::golden::GoldenDevice;
use srsa_host::lockstep::Lockstep;
use srsa_spec::numerics::{Formats, Rounding};
use srsa_spec::protocol::{
    address_word, encode_gemm, header, op, pad, parse_status, status_word, Buffer, Gemm, Link,
    Status, BUFFER_FROM, COUNTER_WORDS, IDENTIFY_WORDS, MAGIC, MAX_XFER_WORDS, SEED_ARGS,
    WIDTH_FROM,
};

/// Cycles allowed for any answer here (no command does real work).
const BOUND: u64 = 200_000;

/// A word that is itself a complete command: if a device failed to consume
/// an argument or payload word, the stray COUNTERS reply would show up.
const STRAY: u32 = op::COUNTERS << 24;

fn show(word: u32) -> String {
    let (opcode, code) = parse_status(word);
    match Status::from_code(code) {
        Some(s) => format!("{word:#010x} (opcode {opcode:#04x}, {s})"),
        None => format!("{word:#010x} (opcode {opcode:#04x}, code {code})"),
    }
}

fn recv(rig: &mut Rig, n: usize, label: &str) -> Vec<u32> {
    match rig.link_mut().recv(n, BOUND) {
        Ok(w) => w,
        Err(e) => panic!("{label}: {e}\n  {}", divergence(rig)),
    }
}

/// One command to send as raw words, the status it must get, and how many
/// data words follow that status.
struct Cmd {
    what: String,
    words: Vec<u32>,
    want: u32,
    data: usize,
}

fn bad(what: impl Into<String>, words: Vec<u32>, opcode: u32, status: Status) -> Cmd {
    Cmd {
        what: what.into(),
        words,
        want: status_word(opcode, status),
        data: 0,
    }
}

fn ok(what: impl Into<String>, words: Vec<u32>, opcode: u32, data: usize) -> Cmd {
    Cmd {
        what: what.into(),
        words,
        want: status_word(opcode, Status::Ok),
        data,
    }
}

/// A small GEMM through the driver, checked against the numerics spec.
fn still_works(rig: &mut Rig, rng: &mut StdRng, label: &str) {
    let n = rig.rows() as usize;
    let (m, k, ncol) = (n + 1, 3, n - 1);
    let c = case(
        Array2::from_shape_simple_fn((m, k), || rng.gen_range(-2000..2000)),
        Array2::from_shape_simple_fn((k, ncol), || rng.gen_range(-2000..2000)),
        Some(Array2::from_shape_simple_fn((m, ncol), || rng.gen())),
        Formats::new(8, 7, 6, 5),
        Rounding::Truncate,
        false,
        rng.gen(),
    );
    check_case(rig, &c, &format!("GEMM after {label}"));
}

/// Sends the command with an IDENTIFY right behind it (one send, so the
/// device sees one stream), checks the command's status word, then that the
/// IDENTIFY is answered next, then that a correct GEMM still works.
fn exercise(rig: &mut Rig, rng: &mut StdRng, cmds: &[Cmd]) -> usize {
    let n = rig.rows();
    for c in cmds {
        let label = format!("N={n}: {}", c.what);
        let mut words = c.words.clone();
        words.push(header(op::IDENTIFY, 0));
        if let Err(e) = rig.link_mut().send(&words) {
            panic!("{label}: send: {e}");
        }
        let got = recv(rig, 1, &label)[0];
        assert_eq!(
            got,
            c.want,
            "{label}: status {}, the protocol says {}",
            show(got),
            show(c.want)
        );
        if c.data > 0 {
            recv(rig, c.data, &label);
        }
        let id = recv(rig, 1 + IDENTIFY_WORDS, &label);
        assert_eq!(
            (id[0], id[1]),
            (status_word(op::IDENTIFY, Status::Ok), MAGIC),
            "{label}: the next command was not answered next (stream out of step)"
        );
        still_works(rig, rng, &label);
    }
    cmds.len()
}

// ---------------------------------------------------------------- opcodes, transfers

fn transfer_commands(n: u32) -> Vec<Cmd> {
    let cap = buffer_elems(n as usize, n as usize);
    let (w, r) = (op::WRITE, op::READ);
    let write = |p: u32, buf: u32, addr: u32| {
        let mut v = vec![header(w, p), address_word(buf, addr)];
        v.extend(std::iter::repeat_n(STRAY, p as usize));
        v
    };
    let read = |p: u32, buf: u32, addr: u32| vec![header(r, p), address_word(buf, addr)];
    let mut cmds = vec![];
    for opc in [0x00, 0x08, 0x7F, 0x80, 0xFF] {
        cmds.push(bad(
            format!("unknown opcode {opc:#04x}"),
            vec![header(opc, 0xABCDE)],
            opc,
            Status::UnknownOpcode,
        ));
    }
    cmds.extend([
        ok(
            "IDENTIFY with an arg",
            vec![header(op::IDENTIFY, 0xFF_FFFF)],
            op::IDENTIFY,
            IDENTIFY_WORDS,
        ),
        ok(
            "COUNTERS with an arg",
            vec![header(op::COUNTERS, 7)],
            op::COUNTERS,
            COUNTER_WORDS,
        ),
        bad("WRITE to buffer 3", write(2, 3, 0), w, Status::BadBuffer),
        bad(
            "WRITE to buffer 255",
            write(1, 255, 0),
            w,
            Status::BadBuffer,
        ),
        bad(
            "WRITE at an odd address",
            write(3, 0, 1),
            w,
            Status::BadAddress,
        ),
        bad(
            "WRITE at an odd address (C)",
            write(1, 2, cap - 3),
            w,
            Status::BadAddress,
        ),
        bad(
            "WRITE beyond the buffer",
            write(2, 1, cap - 2),
            w,
            Status::BadAddress,
        ),
        bad(
            "WRITE at the buffer's end",
            write(1, 2, cap),
            w,
            Status::BadAddress,
        ),
        bad(
            "WRITE at the top address",
            write(1, 0, 0xFF_FFFE),
            w,
            Status::BadAddress,
        ),
        bad("WRITE of zero words", write(0, 0, 0), w, Status::BadSize),
        // Checks run in the order buffer, size, address.
        bad(
            "WRITE of zero words to buffer 3",
            write(0, 3, 1),
            w,
            Status::BadBuffer,
        ),
        bad(
            "WRITE of zero words at an odd address",
            write(0, 1, 1),
            w,
            Status::BadSize,
        ),
        ok(
            "WRITE of the buffer's last word",
            write(1, 1, cap - 2),
            w,
            0,
        ),
        bad("READ from buffer 3", read(1, 3, 0), r, Status::BadBuffer),
        bad("READ of zero words", read(0, 0, 0), r, Status::BadSize),
        bad(
            "READ at an odd address",
            read(1, 2, 5),
            r,
            Status::BadAddress,
        ),
        bad(
            "READ beyond the buffer",
            read(2, 0, cap - 2),
            r,
            Status::BadAddress,
        ),
        bad(
            "READ of the largest size",
            read(MAX_XFER_WORDS, 0, 0),
            r,
            Status::BadAddress,
        ),
        bad(
            "READ of zero words from buffer 3",
            read(0, 3, 0),
            r,
            Status::BadBuffer,
        ),
        bad(
            "READ of zero words at an odd address",
            read(0, 0, 3),
            r,
            Status::BadSize,
        ),
        ok("READ of the buffer's last word", read(1, 2, cap - 2), r, 1),
        ok(
            "READ of a whole buffer",
            read(cap / 2, 1, 0),
            r,
            cap as usize / 2,
        ),
    ]);
    // Packed transfers: the width code sits above the buffer, and is
    // checked after it and before the size and the address.
    let code = |width: u32| width << (WIDTH_FROM - BUFFER_FROM);
    cmds.extend([
        bad(
            "WRITE of width code 3",
            write(1, code(3), 0),
            w,
            Status::BadFormat,
        ),
        bad(
            "READ of width code 15",
            read(1, code(15) | 2, 0),
            r,
            Status::BadFormat,
        ),
        bad(
            "WRITE of width code 3 to buffer 3",
            write(1, code(3) | 3, 0),
            w,
            Status::BadBuffer,
        ),
        bad(
            "READ of zero words of width code 3",
            read(0, code(3), 0),
            r,
            Status::BadFormat,
        ),
        bad(
            "8-bit WRITE of zero words",
            write(0, code(1), 0),
            w,
            Status::BadSize,
        ),
        bad(
            "8-bit WRITE at an even address not a multiple of 4",
            write(1, code(1), 2),
            w,
            Status::BadAddress,
        ),
        bad(
            "4-bit READ at a multiple of 4 not of 8",
            read(1, code(2) | 1, 4),
            r,
            Status::BadAddress,
        ),
        bad(
            "8-bit WRITE one word beyond the buffer",
            write(2, code(1) | 2, cap - 4),
            w,
            Status::BadAddress,
        ),
        bad(
            "4-bit READ beyond the buffer",
            read(1, code(2), cap - 4),
            r,
            Status::BadAddress,
        ),
        ok(
            "8-bit WRITE of the last word",
            write(1, code(1) | 2, cap - 4),
            w,
            0,
        ),
        ok(
            "4-bit READ of the last word",
            read(1, code(2) | 1, cap - 8),
            r,
            1,
        ),
        ok(
            "4-bit READ of a whole buffer",
            read(cap / 8, code(2) | 2, 0),
            r,
            cap as usize / 8,
        ),
    ]);
    cmds
}

#[test]
fn bad_opcodes_and_transfers() {
    let (mut rng, _) = rng("bad_opcodes_and_transfers", 0x5EED_E001);
    for n in [4, 8] {
        let mut rig = open(n);
        let count = exercise(&mut rig, &mut rng, &transfer_commands(n as u32));
        println!("N={n}: {count} commands answered as the protocol says");
    }
}

// ---------------------------------------------------------------- GEMM

fn good_gemm() -> Gemm {
    Gemm {
        m: 5,
        k: 3,
        ncol: 6,
        mode: Rounding::Truncate,
        relu: false,
        acc_init: true,
        a_transposed: false,
        b_transposed: false,
        b_from_c: false,
        masked: false,
        formats: Formats::new(8, 8, 8, 8),
        a_base: 0,
        b_base: 0,
        cin_base: 0,
        out_base: 0,
    }
}

fn gemm_words(g: &Gemm, patch: impl FnOnce(&mut [u32])) -> Vec<u32> {
    let mut w = encode_gemm(g);
    patch(&mut w);
    let mut v = vec![header(op::GEMM, 0)];
    v.extend(w);
    v
}

fn gemm_commands(n: u32) -> Vec<Cmd> {
    let cap = buffer_elems(n as usize, n as usize);
    let g0 = good_gemm();
    let (mp, np) = (pad(g0.m, n), pad(g0.ncol, n));
    let k = g0.k;
    let with = |f: &dyn Fn(&mut Gemm)| {
        let mut g = g0;
        f(&mut g);
        g
    };
    let fl = |a, b, c, o| Formats::new(a, b, c, o);
    let gop = op::GEMM;
    let mut cmds = vec![];
    let mut push_bad = |what: &str, g: Gemm, patch: &dyn Fn(&mut [u32]), st: Status| {
        cmds.push(bad(what, gemm_words(&g, |w| patch(w)), gop, st));
    };
    let none = |_: &mut [u32]| {};
    use Status::{BadAddress, BadFormat, BadSize};
    push_bad("mode 3", g0, &|w| w[1] |= 3 << 16, BadFormat);
    // The mask is C_in's: never without accumulate-init.
    push_bad(
        "masked without accumulate-init",
        with(&|g| g.acc_init = false),
        &|w| w[1] |= 1 << 28,
        BadFormat,
    );
    // Bits 20..=22 are the operand paths, which every simulated device has,
    // 27..=23 the output word length and 28 the mask.
    for bit in [29, 30, 31] {
        push_bad(
            &format!("reserved bit {bit}"),
            g0,
            &|w| w[1] |= 1 << bit,
            BadFormat,
        );
    }
    for (what, f) in [
        ("FL_a 32", fl(32, 8, 8, 8)),
        ("FL_b 32", fl(8, 32, 8, 8)),
        ("FL_c 32", fl(8, 8, 32, 8)),
        ("FL_out 32", fl(8, 8, 8, 32)),
        ("FL_a 255", fl(255, 8, 8, 8)),
        ("output shift 31", fl(16, 15, 0, 0)),
        ("C_in align 31 with accumulate-init", fl(16, 15, 0, 15)),
        ("FL_out > FL_a + FL_b", fl(3, 4, 0, 8)),
        ("FL_c > FL_a + FL_b with accumulate-init", fl(3, 4, 8, 7)),
        ("WL_out 0", fl(8, 8, 8, 8).with_wl(0)),
        ("WL_out 1", fl(8, 8, 8, 8).with_wl(1)),
        ("WL_out 17", fl(8, 8, 8, 8).with_wl(17)),
        ("WL_out 31", fl(8, 8, 8, 8).with_wl(31)),
    ] {
        push_bad(what, with(&|g| g.formats = f), &none, BadFormat);
    }
    push_bad(
        "FL_c 32 without accumulate-init",
        with(&|g| {
            g.acc_init = false;
            g.formats = fl(8, 8, 32, 8)
        }),
        &none,
        BadFormat,
    );
    for (what, g) in [
        ("M = 0", with(&|g| g.m = 0)),
        ("K = 0", with(&|g| g.k = 0)),
        ("Ncol = 0", with(&|g| g.ncol = 0)),
        ("K = 32768", with(&|g| g.k = 32768)),
        ("K = 65535", with(&|g| g.k = 65535)),
    ] {
        push_bad(what, g, &none, BadSize);
    }
    for (what, g) in [
        (
            // 3N rows of A: K x 3N elements exceed every simulated buffer.
            "K = 32767 (too large for the buffers)",
            with(&|g| {
                g.k = 32767;
                g.m = 3 * n
            }),
        ),
        ("misaligned A base", with(&|g| g.a_base = n / 2)),
        ("misaligned B base", with(&|g| g.b_base = 1)),
        ("misaligned output base", with(&|g| g.out_base = n - 2)),
        ("misaligned C_in base", with(&|g| g.cin_base = 2)),
        (
            "A beyond the buffer",
            with(&|g| g.a_base = cap - k * mp + n),
        ),
        (
            "B beyond the buffer",
            with(&|g| g.b_base = cap - k * np + n),
        ),
        (
            "output beyond the buffer",
            with(&|g| g.out_base = cap - mp * np + n),
        ),
        ("C_in beyond the buffer", with(&|g| g.cin_base = cap)),
        (
            "A base near 2^32 (no wrap)",
            with(&|g| g.a_base = 0u32.wrapping_sub(n)),
        ),
        ("B base 2^31", with(&|g| g.b_base = 1 << 31)),
        (
            "output base near 2^32",
            with(&|g| g.out_base = 0u32.wrapping_sub(mp * np)),
        ),
    ] {
        push_bad(what, g, &none, BadAddress);
    }
    // The operand paths (protocol v3): C's read port serves B or C_in, not
    // both; B in C must stay clear of the output; transposed regions are
    // rows of K padded to the side.
    let out = 64 * n;
    let from_c = |g: &mut Gemm| {
        g.acc_init = false;
        g.b_from_c = true;
        g.out_base = out;
    };
    push_bad(
        "B from C with accumulate-init",
        with(&|g| g.b_from_c = true),
        &none,
        BadFormat,
    );
    push_bad(
        "B from C with accumulate-init and M = 0",
        with(&|g| {
            g.b_from_c = true;
            g.m = 0
        }),
        &none,
        BadFormat,
    );
    for (what, b_base) in [
        ("B from C on the output", out),
        ("B from C ending inside the output", out + n - k * np),
        ("B from C starting inside the output", out + mp * np - n),
    ] {
        push_bad(
            what,
            with(&|g| {
                from_c(g);
                g.b_base = b_base
            }),
            &none,
            BadAddress,
        );
    }
    let (kr, kc) = (pad(k, n), pad(k, n));
    push_bad(
        "A transposed beyond the buffer",
        with(&|g| {
            g.a_transposed = true;
            g.a_base = cap - mp * kr + n
        }),
        &none,
        BadAddress,
    );
    push_bad(
        "B transposed beyond the buffer",
        with(&|g| {
            g.b_transposed = true;
            g.b_base = cap - np * kc + n
        }),
        &none,
        BadAddress,
    );
    push_bad(
        "B from C, transposed, beyond buffer C",
        with(&|g| {
            from_c(g);
            g.b_transposed = true;
            g.b_base = cap - np * kc + n
        }),
        &none,
        BadAddress,
    );
    // The order of the checks: the first failing one is reported.
    push_bad(
        "mode 3 and M = 0",
        with(&|g| g.m = 0),
        &|w| w[1] |= 3 << 16,
        BadFormat,
    );
    push_bad(
        "reserved bit and K = 0",
        with(&|g| g.k = 0),
        &|w| w[1] |= 1 << 29,
        BadFormat,
    );
    push_bad(
        "K = 0 and WL_out 1",
        with(&|g| {
            g.k = 0;
            g.formats = g.formats.with_wl(1)
        }),
        &none,
        BadSize,
    );
    push_bad(
        "M = 0 and FL 32",
        with(&|g| {
            g.m = 0;
            g.formats = fl(32, 8, 8, 8)
        }),
        &none,
        BadSize,
    );
    push_bad(
        "K = 32768 and a misaligned base",
        with(&|g| {
            g.k = 32768;
            g.a_base = 1
        }),
        &none,
        BadSize,
    );
    push_bad(
        "FL 32 and a misaligned base",
        with(&|g| {
            g.formats = fl(8, 8, 8, 32);
            g.b_base = 1
        }),
        &none,
        BadFormat,
    );
    // What must be accepted.
    let good = |what: &str, g: Gemm| ok(what, gemm_words(&g, |_| {}), gop, 0);
    cmds.extend([
        good("a correct GEMM", g0),
        good(
            "misaligned C_in base without accumulate-init",
            with(&|g| {
                g.acc_init = false;
                g.cin_base = 1
            }),
        ),
        good(
            "FL_c > FL_a + FL_b without accumulate-init",
            with(&|g| {
                g.acc_init = false;
                g.formats = fl(3, 4, 9, 7)
            }),
        ),
        good(
            "operands and output ending at the buffers' ends",
            with(&|g| {
                g.a_base = cap - k * mp;
                g.b_base = cap - k * np;
                g.cin_base = cap - mp * np;
                g.out_base = cap - mp * np;
            }),
        ),
        good("shift 30", with(&|g| g.formats = fl(15, 15, 15, 0))),
        good(
            "A and B transposed ending at the buffers' ends",
            with(&|g| {
                g.a_transposed = true;
                g.b_transposed = true;
                g.a_base = cap - mp * kr;
                g.b_base = cap - np * kc;
            }),
        ),
        good(
            "B from C ending where the output starts",
            with(&|g| {
                from_c(g);
                g.b_base = out - k * np
            }),
        ),
        good(
            "B from C starting where the output ends",
            with(&|g| {
                from_c(g);
                g.b_base = out + mp * np
            }),
        ),
    ]);
    cmds
}

#[test]
fn bad_gemms() {
    let (mut rng, _) = rng("bad_gemms", 0x5EED_E002);
    for n in [4, 8] {
        let mut rig = open(n);
        let count = exercise(&mut rig, &mut rng, &gemm_commands(n as u32));
        println!("N={n}: {count} GEMM commands answered as the protocol says");
    }
}

// ---------------------------------------------------------------- SEED

#[test]
fn bad_seed_columns() {
    let (mut rng, _) = rng("bad_seed_columns", 0x5EED_E003);
    for n in [4u32, 8] {
        let mut rig = open(n as usize);
        // The argument words look like commands: unconsumed, they would
        // answer.
        let seed = |col: u32| {
            let mut v = vec![header(op::SEED, col)];
            v.extend(std::iter::repeat_n(STRAY, SEED_ARGS));
            v
        };
        let cmds = [
            bad(
                format!("SEED column {n}"),
                seed(n),
                op::SEED,
                Status::BadColumn,
            ),
            bad(
                "SEED column 2^24 - 1",
                seed(0xFF_FFFF),
                op::SEED,
                Status::BadColumn,
            ),
            bad("SEED column 255", seed(255), op::SEED, Status::BadColumn),
            ok(format!("SEED column {}", n - 1), seed(n - 1), op::SEED, 0),
            ok("SEED column 0", seed(0), op::SEED, 0),
        ];
        exercise(&mut rig, &mut rng, &cmds);
    }
}

// ---------------------------------------------------------------- no side effects

/// A rejected WRITE changes no element, a rejected GEMM writes no output.
#[test]
fn rejected_commands_change_nothing() {
    let (mut rng, _) = rng("rejected_commands_change_nothing", 0x5EED_E004);
    let n = 4;
    let cap = buffer_elems(n, n);
    let mut rig = open(n);
    let tail: Vec<i16> = (0..16).map(|_| rng.gen()).collect();
    let head: Vec<i16> = (0..256).map(|_| rng.gen()).collect();
    for buf in Buffer::ALL {
        rig.write(buf, cap - 16, &tail).unwrap();
        rig.write(buf, 0, &head).unwrap();
    }
    let mut raw = |words: Vec<u32>, want: u32| {
        rig.link_mut().send(&words).unwrap();
        let got = recv(&mut rig, 1, "rejected command")[0];
        assert_eq!(
            got,
            want,
            "{words:08x?}: {}, expected {}",
            show(got),
            show(want)
        );
    };
    for buf in 0..3 {
        for (addr, p) in [(cap - 15, 2), (cap - 2, 2), (cap - 4, 3), (1, 4)] {
            let mut w = vec![header(op::WRITE, p), address_word(buf, addr)];
            w.extend((0..p).map(|i| 0x1234_5678 + i));
            raw(w, status_word(op::WRITE, Status::BadAddress));
        }
    }
    let mut g = good_gemm();
    g.acc_init = false;
    let patches: [fn(&mut [u32]); 4] = [
        |w| w[1] |= 3 << 16,
        |w| w[0] &= 0xFFFF_0000,
        |w| w[3] = 1,
        |w| w[2] |= 0x10 << 24,
    ];
    for patch in patches {
        let words = gemm_words(&g, patch);
        let (_, code) = parse_status({
            rig.link_mut().send(&words).unwrap();
            recv(&mut rig, 1, "rejected GEMM")[0]
        });
        assert_ne!(code, Status::Ok as u32, "{words:08x?} was accepted");
    }
    for buf in Buffer::ALL {
        assert_eq!(rig.read(buf, cap - 16, 16).unwrap(), tail, "{buf:?} tail");
        assert_eq!(rig.read(buf, 0, 256).unwrap(), head, "{buf:?} head");
    }
    still_works(&mut rig, &mut rng, "rejected commands");
}

// ---------------------------------------------------------------- Lockstep itself

/// A golden device whose LFSRs were seeded with `seed`.
fn seeded_golden(n: usize, seed: u64) -> GoldenDevice {
    let mut d = Driver::new(golden_like_sim(n, n)).unwrap();
    d.seed(seed).unwrap();
    d.into_link()
}

#[test]
fn lockstep_reports_the_first_differing_word() {
    let (mut rng, _) = rng("lockstep_reports_the_first_differing_word", 0x5EED_E005);
    let n = 4;
    let (m, k, ncol) = (n + 3, 5, 2 * n + 1);
    let f = Formats::new(12, 12, 0, 4);
    let a = Array2::from_shape_simple_fn((m, k), || rng.gen_range(-9000i16..9000));
    let b = Array2::from_shape_simple_fn((k, ncol), || rng.gen_range(-9000i16..9000));
    let run = |mode, left: GoldenDevice, right: GoldenDevice| {
        let mut d = Driver::new(Lockstep::new(left, right)).unwrap();
        let before = d.link_mut().words_compared();
        let opts = srsa_host::driver::MatmulOpts::new(f, mode);
        let r = d.matmul(a.view(), b.view(), None, &opts);
        (r, d.into_link(), before)
    };

    // Truncation draws nothing: differently seeded devices still agree.
    let (r, l, _) = run(Rounding::Truncate, seeded_golden(n, 1), seeded_golden(n, 2));
    assert!(r.is_ok(), "{:?}", r.err());
    assert!(l.divergence().is_none());

    // Stochastic rounding: they must not.
    let (r, l, _) = run(
        Rounding::Stochastic,
        seeded_golden(n, 1),
        seeded_golden(n, 2),
    );
    let err = r.expect_err("differently seeded devices agreed on a stochastic GEMM");
    let d = l.divergence().expect("no divergence recorded").clone();
    println!("divergence: {d}");
    // What each device alone returns, to find the first differing word.
    let alone = |seed| {
        let mut dev = Driver::new(seeded_golden(n, seed)).unwrap();
        let opts = srsa_host::driver::MatmulOpts::new(f, Rounding::Stochastic);
        dev.matmul(a.view(), b.view(), None, &opts).unwrap();
        // The driver reads the rows of the output, Np wide.
        let np = pad(ncol as u32, n as u32);
        dev.link_mut()
            .send(&[header(op::READ, m as u32 * np / 2), address_word(2, 0)])
            .unwrap();
        dev.link_mut().recv(1 + (m * np as usize) / 2, 0).unwrap()[1..].to_vec()
    };
    let (w1, w2) = (alone(1), alone(2));
    let first = (0..w1.len())
        .find(|&i| w1[i] != w2[i])
        .expect("equal outputs");
    assert_eq!(d.opcode, op::READ, "{d}");
    assert_eq!(d.offset, first, "{d}");
    assert_eq!((d.left, d.right), (w1[first], w2[first]), "{d}");
    assert_eq!(d.word, l.words_compared() + first as u64, "{d}");
    assert_eq!(
        (d.left_name.as_str(), d.right_name.as_str()),
        ("golden", "golden")
    );
    let msg = err.to_string();
    assert!(
        msg.contains("first differing word") && msg.contains(&format!("{:#010x}", w1[first])),
        "{msg}"
    );
}
