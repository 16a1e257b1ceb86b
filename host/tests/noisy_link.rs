//! Serial layer 2 under line noise: the driver's GEMM cases go through the
//! host's framing (`srsa_host::framed`) over a simulated serial line that
//! flips bits, drops bytes and injects bursts of noise bytes, in both
//! directions and while the line is idle, to the reference board
//! (`srsa_spec::serial::FramedBoard`) around the golden model. Every
//! result the link completes must equal a noiseless golden model's, and
//! every run must come back to clean operation without a reset.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use srsa_host::cases::{random_case, run_case};
use srsa_host::driver::Driver;
use srsa_host::framed::{ByteLine, FrameStats, FramedLink};
use srsa_host::golden::GoldenDevice;
use srsa_spec::protocol::LinkError;
use srsa_spec::serial::{encode_frame, FramedBoard, NAK};
use std::collections::VecDeque;

/// Rates per byte on the line (and per idle byte time for bursts).
#[derive(Clone, Copy, Debug, Default)]
struct Noise {
    flip: f64,
    drop: f64,
    burst: f64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Injected {
    flips: u64,
    drops: u64,
    bursts: u64,
}

/// Both directions of a serial line to a board, in byte times.
struct NoisyLine {
    board: FramedBoard<GoldenDevice>,
    rng: StdRng,
    noise: Noise,
    now: u64,
    /// Bytes on their way to the host, with the byte time they arrive.
    to_host: VecDeque<(u64, u8)>,
    tx_free: u64,
    injected: Injected,
}

impl NoisyLine {
    /// `b` as the far end receives it: maybe dropped, maybe a bit flipped,
    /// maybe after a burst of noise bytes.
    fn corrupt(&mut self, b: u8) -> Vec<u8> {
        let mut out = Vec::new();
        if self.rng.gen_bool(self.noise.burst) {
            self.injected.bursts += 1;
            let n = self.rng.gen_range(1..=12);
            out.extend((0..n).map(|_| self.rng.gen::<u8>()));
        }
        if self.rng.gen_bool(self.noise.drop) {
            self.injected.drops += 1;
            return out;
        }
        let mut b = b;
        if self.rng.gen_bool(self.noise.flip) {
            self.injected.flips += 1;
            b ^= 1 << self.rng.gen_range(0..8);
        }
        out.push(b);
        out
    }

    fn deliver(&mut self, b: u8) -> Result<(), LinkError> {
        self.now += 1;
        self.board.byte(b)?;
        let tx = self.board.take_tx();
        for t in tx {
            for c in self.corrupt(t) {
                self.tx_free = self.tx_free.max(self.now) + 1;
                self.to_host.push_back((self.tx_free, c));
            }
        }
        Ok(())
    }
}

impl ByteLine for NoisyLine {
    fn write(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        for &b in bytes {
            for c in self.corrupt(b) {
                self.deliver(c)?;
            }
        }
        Ok(())
    }

    fn read(&mut self, wait: u64) -> Result<Option<u8>, LinkError> {
        let until = self.now.saturating_add(wait);
        // Noise that strikes the idle line toward the board while the host
        // waits, at the burst rate per byte time that really passes.
        let passes = match self.to_host.front() {
            Some(&(t, _)) if t <= until => t.saturating_sub(self.now),
            _ => wait,
        };
        if self.noise.burst > 0.0
            && self
                .rng
                .gen_bool((passes as f64 * self.noise.burst).min(1.0))
        {
            self.injected.bursts += 1;
            for _ in 0..self.rng.gen_range(1..=12) {
                let b = self.rng.gen();
                self.deliver(b)?;
            }
        }
        match self.to_host.front() {
            Some(&(t, b)) if t <= until => {
                self.to_host.pop_front();
                if t > self.now {
                    self.board.idle(t - self.now);
                    self.now = t;
                }
                Ok(Some(b))
            }
            _ => {
                self.board.idle(until.saturating_sub(self.now));
                self.now = self.now.max(until);
                Ok(None)
            }
        }
    }

    fn byte_times(&self, cycles: u64) -> u64 {
        // The golden model answers at once; a board's cycles would count here.
        cycles / 40
    }

    fn latency(&self) -> u64 {
        8
    }

    fn name(&self) -> String {
        "noisy".into()
    }
}

fn board_link(seed: u64, noise: Noise) -> FramedLink<NoisyLine> {
    FramedLink::new(NoisyLine {
        board: FramedBoard::new(GoldenDevice::with_shape(2, 2, 2048)),
        rng: StdRng::seed_from_u64(seed),
        noise,
        now: 0,
        to_host: VecDeque::new(),
        tx_free: 0,
        injected: Injected::default(),
    })
}

#[derive(Default, Debug)]
struct Totals {
    runs: u64,
    completed: u64,
    lost: u64,
    words: u64,
    stats: FrameStats,
    injected: Injected,
}

/// One run: `cases` GEMM cases under `noise`, each completed one compared
/// with a noiseless golden model, then three cases on a clean line that
/// must all complete (recovery without a reset).
fn run(seed: u64, noise: Noise, cases: usize, t: &mut Totals) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xC0DE);
    let mut dev = None;
    for _ in 0..8 {
        // Even IDENTIFY may fail on a bad enough line: it is a result too.
        match Driver::new(board_link(seed, noise)) {
            Ok(d) => {
                dev = Some(d);
                break;
            }
            Err(_) => t.lost += 1,
        }
    }
    let mut dev = dev.unwrap_or_else(|| panic!("seed {seed}: no IDENTIFY in 8 tries"));
    let mut reference = Driver::new(GoldenDevice::with_shape(2, 2, 2048)).unwrap();
    let id = *dev.identity();
    assert_eq!(id, *reference.identity(), "seed {seed}");
    for i in 0..cases + 3 {
        if i == cases {
            dev.link_mut().line_mut().noise = Noise::default();
        }
        let c = random_case(&mut rng, &id);
        let want = run_case(&mut reference, &c).unwrap();
        match run_case(&mut dev, &c) {
            Ok(got) => {
                assert_eq!(
                    got, want,
                    "seed {seed} case {i}: a wrong result got through"
                );
                t.completed += 1;
            }
            Err(e) => {
                assert!(
                    i < cases,
                    "seed {seed}: case {i} on a clean line failed: {e}"
                );
                println!("seed {seed} case {i}: no result (an error, not a wrong one): {e}");
                t.lost += 1;
            }
        }
    }
    let l = dev.link_mut();
    let s = l.stats;
    t.runs += 1;
    t.words += l.line_mut().now / 4;
    t.stats.frames += s.frames;
    t.stats.attempts += s.attempts;
    t.stats.naks += s.naks;
    t.stats.bad_replies += s.bad_replies;
    t.stats.duplicates += s.duplicates;
    t.stats.repeats += s.repeats;
    t.stats.splits += s.splits;
    let inj = l.line_mut().injected;
    t.injected.flips += inj.flips;
    t.injected.drops += inj.drops;
    t.injected.bursts += inj.bursts;
}

#[test]
fn seeded_noisy_runs_all_recover_and_no_result_is_wrong() {
    let base: u64 = std::env::var("SRSA_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5E41_0001);
    println!("noisy link: base seed {base} (set SRSA_SEED to override)");
    let mut t = Totals::default();
    for r in 0..60u64 {
        let seed = base.wrapping_add(r);
        let mut rng = StdRng::seed_from_u64(seed);
        let noise = Noise {
            flip: rng.gen_range(0.0..2e-3),
            drop: rng.gen_range(0.0..1e-3),
            burst: rng.gen_range(0.0..5e-4),
        };
        run(seed, noise, 12, &mut t);
    }
    println!("{t:#?}");
    assert_eq!(t.runs, 60);
    // The noise did bite: frames were refused and replies lost.
    assert!(t.stats.naks > 0 && t.stats.bad_replies > 0, "{t:?}");
    // Long frames met runs of NAKs and were sent in halves.
    assert!(t.stats.splits > 0, "{t:?}");
    assert!(t.completed >= 60 * 6, "{t:?}");
}

#[test]
fn a_corrupted_command_is_rejected_not_executed() {
    let mut board = FramedBoard::new(GoldenDevice::with_shape(2, 2, 2048));
    // A WRITE whose header claims 8 million payload words: in a frame with
    // one bit flipped it is refused, and the board still obeys the next.
    let cmd = [
        srsa_spec::protocol::header(srsa_spec::protocol::op::WRITE, 1),
        srsa_spec::protocol::address_word(0, 0),
        0x0001_0001,
    ];
    let mut f = encode_frame(1, &cmd).unwrap();
    f[1] ^= 0x0080_0000;
    for b in f.iter().flat_map(|w| w.to_le_bytes()) {
        board.byte(b).unwrap();
    }
    assert_eq!(board.take_tx(), NAK.to_le_bytes());
    assert_eq!((board.executed, board.rejected), (0, 1));
    assert_eq!(board.device.pending_output(), 0);
    board.idle(srsa_spec::serial::GAP_BYTE_TIMES);
    let good = encode_frame(1, &cmd).unwrap();
    for b in good.iter().flat_map(|w| w.to_le_bytes()) {
        board.byte(b).unwrap();
    }
    assert_eq!(board.executed, 1);
    assert_eq!(board.take_tx().len(), 12, "status, ACK and CRC");
}
