//! Model speed in cycles/s per size: idle, streaming words, and tracing.
//! `cargo run -p srsa-sim --release --example speed [cycles]`

use srsa_sim::{SimDevice, SIZES};
use srsa_spec::protocol::Link;
use std::time::Instant;

fn main() {
    let cycles: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000_000);
    let vcd = std::env::temp_dir().join(format!("srsa-speed-{}.vcd", std::process::id()));
    for n in SIZES {
        let mut d = SimDevice::new(n).expect("supported size");
        let t = Instant::now();
        d.idle(cycles);
        let idle = cycles as f64 / t.elapsed().as_secs_f64();

        // Keep the command side busy; collect whatever the device answers.
        let words = vec![0u32; 1 << 16];
        let before = d.cycles();
        let t = Instant::now();
        while d.cycles() - before < cycles {
            d.send(&words).expect("send");
            let _ = d.recv(words.len(), cycles);
        }
        let busy = (d.cycles() - before) as f64 / t.elapsed().as_secs_f64();

        let window = (cycles / 20).max(1);
        let start = d.cycles();
        d.trace(&vcd, start, start + window).expect("open trace");
        let t = Instant::now();
        d.send(&words).expect("send");
        let _ = d.recv(words.len(), window);
        d.idle(start + window - d.cycles());
        d.close_trace();
        let traced = window as f64 / t.elapsed().as_secs_f64();
        let bytes = std::fs::metadata(&vcd).map(|m| m.len()).unwrap_or(0);
        let _ = std::fs::remove_file(&vcd);
        println!(
            "{n:>2}x{n:<2}: idle {:6.2} M/s, traffic {:6.2} M/s, traced {:6.3} M/s ({:.0} B/cycle)",
            idle / 1e6,
            busy / 1e6,
            traced / 1e6,
            bytes as f64 / window as f64
        );
    }
}
