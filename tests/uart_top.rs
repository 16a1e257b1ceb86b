//! The UART board top under Verilator at bit level: the host drives the
//! same protocol through a simulated serial line (8N1, four bytes a word),
//! and every response word is compared with the golden model's.

mod common;

use common::{check_case, divergence, rng, Rig};
use srsa_host::cases::random_case;
use srsa_host::driver::Driver;
use srsa_host::golden::GoldenDevice;
use srsa_host::lockstep::Lockstep;
use srsa_sim::{SimDevice, UART_CLOCKS_PER_BIT, UART_SHAPE};
use srsa_spec::numerics::{Formats, Rounding};
use srsa_spec::protocol::{
    address_word, encode_gemm, header, op, status_word, Gemm, Link, Status, Width, WIDTH_FROM,
};

fn open_uart() -> Rig {
    // The iCEBreaker's device: a 2 x 2 array with 2048-element buffers.
    let (rows, cols, bank_bits) = UART_SHAPE;
    let board = srsa_hw::boards::board("icebreaker").unwrap().shape;
    assert_eq!((board.rows, board.cols, board.bank_bits), UART_SHAPE);
    let elems = (cols << bank_bits) as u32;
    let golden = GoldenDevice::with_shape(rows, cols, elems).with_features(srsa_sim::UART.features);
    let pair = Lockstep::new(SimDevice::uart(), golden);
    let d = Driver::new(pair).unwrap_or_else(|e| panic!("UART top: IDENTIFY failed: {e}"));
    assert_eq!((d.rows() as usize, d.cols() as usize), (rows, cols));
    assert_eq!(d.identity().buffer_elems, elems);
    d
}

#[test]
fn gemms_over_the_serial_line_match_the_golden_model() {
    let (mut rng, s) = rng(
        "gemms_over_the_serial_line_match_the_golden_model",
        0x5EED_0A01,
    );
    let mut rig = open_uart();
    let id = *rig.identity();
    let trials = 150;
    for t in 0..trials {
        let c = random_case(&mut rng, &id);
        check_case(&mut rig, &c, &format!("UART trial {t} (seed {s})"));
    }
    let words = rig.link_mut().words_compared();
    let cycles = rig.link_mut().left.cycles();
    println!("{trials} cases bit-exact over the UART, {words} response words, {cycles} cycles");
    // Every response word crossed the line as 4 frames of 10 bits: the
    // model really is the serial top, not the word-stream one.
    assert!(
        cycles >= words * 40 * UART_CLOCKS_PER_BIT as u64,
        "{cycles} cycles for {words} words"
    );
}

#[test]
fn malformed_commands_over_the_serial_line_leave_it_usable() {
    let mut rig = open_uart();
    let link = rig.link_mut();
    // Unknown opcode, a READ of a misaligned address, a WRITE to buffer 9
    // (its payload still consumed), IDENTIFY, then a GEMM asking for an
    // 8-bit output and an 8-bit WRITE, which this board lacks: six status
    // words and the identity, each compared with the golden model.
    let narrow = Gemm::plain(2, 2, 2, Rounding::Nearest, Formats::uniform(4).with_wl(8));
    let mut cmd = vec![
        header(0x7E, 0),
        header(op::READ, 2),
        address_word(0, 3),
        header(op::WRITE, 2),
        address_word(9, 0),
        0x1234_5678,
        0x9ABC_DEF0,
        header(op::IDENTIFY, 0),
        header(op::GEMM, 0),
    ];
    cmd.extend(encode_gemm(&narrow));
    cmd.extend([
        header(op::WRITE, 1),
        (Width::W8 as u32) << WIDTH_FROM | address_word(1, 0),
        0x0102_0304,
    ]);
    link.send(&cmd).unwrap();
    let got = link
        .recv(3 + 1 + 8 + 1 + 1, 200_000)
        .unwrap_or_else(|e| panic!("{e}; {}", divergence(&mut rig)));
    assert_eq!(got[0] >> 24, 0x7E);
    assert_ne!(got[0] & 0x00FF_0000, 0, "unknown opcode must be refused");
    assert_eq!(got[4], srsa_spec::protocol::MAGIC);
    assert_eq!(got[12], status_word(op::GEMM, Status::BadFormat));
    assert_eq!(got[13], status_word(op::WRITE, Status::BadFormat));
    // And a GEMM still works afterwards.
    let (mut r, _) = rng("malformed_commands_over_the_serial_line_leave_it_usable", 7);
    let id = *rig.identity();
    let c = random_case(&mut r, &id);
    check_case(&mut rig, &c, "GEMM after errors over the UART");
}
