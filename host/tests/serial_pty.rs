//! The serial link end to end through a real pseudo-terminal: a thread plays
//! the board (bytes to words into a golden model and back), the driver talks
//! to it through `SerialLink` exactly as it would to a USB-UART.

mod common;

use common::seed;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serialport::{SerialPort, TTYPort};
use srsa_host::cases::{random_case, run_case};
use srsa_host::driver::Driver;
use srsa_host::golden::GoldenDevice;
use srsa_host::serial::SerialLink;
use srsa_spec::protocol::Link;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Serves the protocol on `port` with a golden model until `stop`.
fn board(mut port: TTYPort, stop: Arc<AtomicBool>) {
    let mut dev = GoldenDevice::new(4, 4 << 10);
    port.set_timeout(Duration::from_millis(20)).unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match port.read(&mut buf) {
            Ok(k) => bytes.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(_) => return,
        }
        let whole = bytes.len() / 4 * 4;
        let words: Vec<u32> = bytes[..whole]
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        bytes.drain(..whole);
        dev.send(&words).unwrap();
        let ready = dev.pending_output();
        if ready > 0 {
            let out: Vec<u8> = dev
                .recv(ready, 0)
                .unwrap()
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .collect();
            port.write_all(&out).unwrap();
        }
    }
}

#[test]
fn gemms_through_a_pseudo_terminal_match_a_direct_golden_model() {
    let s = seed("gemms_through_a_pseudo_terminal", 11);
    let (master, slave) = TTYPort::pair().expect("a pseudo-terminal pair");
    let path = slave.name().expect("the pty has a name");
    let stop = Arc::new(AtomicBool::new(false));
    let serving = {
        let stop = stop.clone();
        std::thread::spawn(move || board(master, stop))
    };
    let link = SerialLink::open(&path, 115_200).expect("open the pty as a serial port");
    assert!(link.name().starts_with("serial:"));
    let mut remote = Driver::new(link).expect("IDENTIFY over the pty");
    let mut local = Driver::new(GoldenDevice::new(4, 4 << 10)).unwrap();
    assert_eq!(remote.identity(), local.identity());
    let (mut ra, mut rb) = (StdRng::seed_from_u64(s), StdRng::seed_from_u64(s));
    let id = *local.identity();
    for t in 0..20 {
        let (ca, cb) = (random_case(&mut ra, &id), random_case(&mut rb, &id));
        let got = run_case(&mut remote, &ca).unwrap_or_else(|e| panic!("case {t}: {e}"));
        let want = run_case(&mut local, &cb).unwrap();
        assert_eq!(got, want, "case {t}: {}", ca.describe());
    }
    stop.store(true, Ordering::Relaxed);
    drop(slave);
    serving.join().unwrap();
}
