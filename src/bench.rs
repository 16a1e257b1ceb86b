//! `srsa bench`: the figures of docs/BENCHMARKS.md, measured in one run.
//!
//! Every figure is a median over `--runs` repetitions; ratios are taken
//! between medians of the same run. The device's simulation speed is set
//! against the bare array's (srsa-sim's `BareArray`, verilated with the
//! same flags), timed alternately in the same run, and where valgrind is
//! on PATH against its instruction count per simulated cycle (callgrind on
//! this program's hidden `bench-workload` command).

use crate::devices;
use anyhow::{Context, Result};
use ndarray::Array2;
use rand::{rngs::StdRng, Rng, SeedableRng};
use srsa_host::driver::{Driver, MatmulOpts};
use srsa_host::train::{
    Arch, Backend, Data, Fixed, Float, Observer, Plan, Progress, TensorFormats, TrainConfig,
    Trainer,
};
use srsa_sim::{BareArray, SimDevice, BARE_ARRAYS};
use srsa_spec::numerics::{Formats, Rounding};
use srsa_spec::protocol::{encode_gemm, header, op, Buffer, Counters, Gemm};
use srsa_spec::protocol::{Link, LinkError};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Array sizes whose simulation speed is measured.
    #[arg(long, value_delimiter = ',', default_value = "4,8,16")]
    sizes: Vec<usize>,
    /// Array size for the efficiency measurement.
    #[arg(long, default_value_t = 8, value_parser = crate::devices::parse_side)]
    n: usize,
    /// Repetitions per figure (medians are reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Training batches (784-256-10, batch 100) timed on the simulated
    /// device; the golden and float backends run four times as many.
    #[arg(long, default_value_t = 5)]
    train_batches: usize,
    /// Also write the report (Markdown) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only the simulation-speed figures (the device against the bare
    /// array, instructions per cycle): no array efficiency, golden model or
    /// training.
    #[arg(long)]
    sim_only: bool,
    /// Only the packed-transfer figures (link words and cycles per
    /// training step at 16, 8 and 4 bits, packed and not).
    #[arg(long, conflicts_with = "sim_only")]
    transfers_only: bool,
    /// Only the compressed-load figures of this compressed model (`srsa
    /// compress`): each layer loaded dense and with EXPAND, link words and
    /// cycles.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["sim_only", "transfers_only"])]
    compressed: Option<PathBuf>,
    /// Simulated cycles of each callgrind workload (where valgrind is on
    /// PATH); 0 skips callgrind.
    #[arg(long, default_value_t = 20_000)]
    callgrind_cycles: u64,
}

/// What `bench-workload` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// The simulated device, computing a GEMM.
    Device,
    /// The bare array.
    Array,
}

/// The hidden `srsa bench-workload`: a fixed, deterministic workload for
/// callgrind. The device's is a setup (operands written to A and B) and
/// then `--cycles` cycles of a 4n x K x 4n GEMM; the bare array's is
/// `--cycles` cycles. A run with `--cycles 0` does the same setup, so the
/// difference between the two counts is the cycles' alone.
#[derive(clap::Args)]
pub struct WorkloadArgs {
    #[arg(long, value_enum)]
    model: Workload,
    #[arg(long, default_value_t = 8, value_parser = crate::devices::parse_side)]
    n: usize,
    /// The GEMM's K (device only): sets the setup's size; the GEMM must
    /// last at least `--cycles`.
    #[arg(long, default_value_t = 1024)]
    k: usize,
    #[arg(long)]
    cycles: u64,
}

/// The GEMM shape of one MNIST training step (batch 100, 784 -> 256).
const MNIST: (usize, usize, usize) = (100, 784, 256);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn random_matrix(rng: &mut StdRng, rows: usize, cols: usize) -> Array2<i16> {
    Array2::from_shape_simple_fn((rows, cols), || rng.gen_range(-4096..4096))
}

fn opts() -> MatmulOpts {
    let g = plain_gemm(1, 1, 1);
    MatmulOpts {
        formats: g.formats,
        mode: g.mode,
        relu: false,
        a_transposed: false,
        b_transposed: false,
    }
}

/// A GEMM on operands laid out at base 0, in the formats of `opts()`.
fn plain_gemm(m: usize, k: usize, ncol: usize) -> Gemm {
    Gemm::plain(
        m as u32,
        k as u32,
        ncol as u32,
        Rounding::Stochastic,
        Formats::uniform(12),
    )
}

pub fn run(args: &Args) -> Result<()> {
    anyhow::ensure!(args.runs >= 1, "--runs must be at least 1");
    // The device's workload is a 16-tile GEMM with K at most MAX_WORKLOAD_K.
    let most = 16 * (MAX_WORKLOAD_K as u64 - 2 * srsa_spec::protocol::MAX_SIDE as u64);
    anyhow::ensure!(
        args.callgrind_cycles <= most,
        "--callgrind-cycles must be at most {most}"
    );
    if let Some(path) = &args.compressed {
        let mut report = String::new();
        crate::link_bench::compressed_loads(args.n, path, &mut report)?;
        print!("{report}");
        return write_out(args, &report);
    }
    if args.transfers_only {
        let mut report = String::new();
        transfers(args, &mut report)?;
        print!("{report}");
        return write_out(args, &report);
    }
    let mut report = String::new();
    let mut rng = StdRng::seed_from_u64(7);
    writeln!(report, "## `srsa bench` (runs = {}, medians)\n", args.runs)?;

    // 1. Simulation speed: cycles per second while the array computes,
    // against the bare array's.
    writeln!(report, "### Simulation speed (Verilator, one thread)\n")?;
    writeln!(report, "| array | GEMM (M x K x Ncol) | cycles per GEMM | cycles/s while computing | idle cycles/s |")?;
    writeln!(report, "|---|---|---|---|---|")?;
    let mut against = Vec::new();
    for &n in &args.sizes {
        let mut driver = Driver::new(devices::sim(n)?).context("sim did not identify")?;
        let (m, k, ncol) = (4 * n, 4096, 4 * n);
        let a = random_matrix(&mut rng, m, k);
        let b = random_matrix(&mut rng, k, ncol);
        driver.matmul(a.view(), b.view(), None, &opts())?;
        // Rerun only the GEMM command on the loaded buffers.
        let g = plain_gemm(m, k, ncol);
        let mut bare = BareArray::new(n, n).ok();
        let (mut rates, mut bare_rates) = (Vec::new(), Vec::new());
        let mut per_gemm = 0;
        // Alternating, so that a change in the machine's load falls on both.
        for _ in 0..args.runs {
            let c0 = driver.link_mut().cycles();
            let t = Instant::now();
            driver.gemm(&g)?;
            let secs = t.elapsed().as_secs_f64();
            per_gemm = driver.link_mut().cycles() - c0;
            rates.push(per_gemm as f64 / secs);
            if let Some(bare) = &mut bare {
                let t = Instant::now();
                bare.tick(per_gemm);
                bare_rates.push(per_gemm as f64 / t.elapsed().as_secs_f64());
            }
        }
        let mut idle = Vec::new();
        for _ in 0..args.runs {
            let t = Instant::now();
            driver.link_mut().idle(200_000);
            idle.push(200_000.0 / t.elapsed().as_secs_f64());
        }
        let computing = median(rates);
        writeln!(
            report,
            "| {n}x{n} | {m} x {k} x {ncol} | {per_gemm} | {:.3} M | {:.3} M |",
            computing / 1e6,
            median(idle) / 1e6
        )?;
        if let Some(bare) = bare {
            std::hint::black_box(bare.checksum());
            against.push((n, computing, median(bare_rates)));
        }
    }
    against_bare(args, &against, &mut report)?;
    if args.sim_only {
        print!("{report}");
        return write_out(args, &report);
    }

    // 2. Array efficiency on the MNIST-sized GEMM.
    let n = args.n;
    let (m, k, ncol) = MNIST;
    let mut driver = Driver::new(devices::sim(n)?).context("sim did not identify")?;
    let a = random_matrix(&mut rng, m, k);
    let b = random_matrix(&mut rng, k, ncol);
    let before: Counters = driver.counters()?;
    let c0 = driver.link_mut().cycles();
    let t = Instant::now();
    driver.matmul(a.view(), b.view(), None, &opts())?;
    let wall = t.elapsed().as_secs_f64();
    let cycles = driver.link_mut().cycles() - c0;
    let after = driver.counters()?;
    let (busy, macs) = (after.busy - before.busy, after.macs - before.macs);
    let peak = (n * n) as f64;
    let plain = k as f64 / (k as f64 + 2.0 * n as f64);
    writeln!(
        report,
        "\n### Array efficiency ({n}x{n}, {m}x{k} by {k}x{ncol})\n"
    )?;
    writeln!(
        report,
        "| measure | cycles | useful MACs | MACs / cycle / N^2 |"
    )?;
    writeln!(report, "|---|---|---|---|")?;
    writeln!(
        report,
        "| array busy (feed, fill, drain, rounding) | {busy} | {macs} | {:.1}% |",
        100.0 * macs as f64 / busy as f64 / peak
    )?;
    writeln!(
        report,
        "| end to end (host link: writes, GEMMs, reads) | {cycles} | {macs} | {:.1}% |",
        100.0 * macs as f64 / cycles as f64 / peak
    )?;
    writeln!(
        report,
        "\nFor comparison, a plain output-stationary array without drain overlap: K/(K+2N) = {:.1}%. \
         Simulated wall time of the end-to-end run: {wall:.2} s ({:.3} M cycles/s).",
        100.0 * plain,
        cycles as f64 / wall / 1e6
    )?;

    // 3. Golden model throughput against an f32 GEMM of the same shape.
    let (mp, np) = (m.div_ceil(n) * n, ncol.div_ceil(n) * n);
    // Buffers large enough for the whole product: the golden model is software.
    let mut golden = Driver::new(srsa_host::golden::GoldenDevice::new(n, 1 << 20))?;
    let a_t: Vec<i16> = (0..k * mp).map(|_| rng.gen_range(-4096..4096)).collect();
    let bb: Vec<i16> = (0..k * np).map(|_| rng.gen_range(-4096..4096)).collect();
    golden.write(Buffer::A, 0, &a_t)?;
    golden.write(Buffer::B, 0, &bb)?;
    let g = plain_gemm(mp, k, np);
    let macs = (mp * k * np) as f64;
    let mut dev_rate = Vec::new();
    let mut kernel_rate = Vec::new();
    let mut f32_rate = Vec::new();
    let af = Array2::from_shape_fn((mp, k), |(i, kk)| a_t[kk * mp + i] as f32);
    let bf = Array2::from_shape_fn((k, np), |(kk, j)| bb[kk * np + j] as f32);
    let mut workspace = srsa_host::kernel::Workspace::new();
    for _ in 0..args.runs {
        let t = Instant::now();
        golden.gemm(&g)?;
        dev_rate.push(macs / t.elapsed().as_secs_f64());
        let t = Instant::now();
        std::hint::black_box(workspace.gemm_i16(&a_t, &bb, mp, k, np));
        kernel_rate.push(macs / t.elapsed().as_secs_f64());
        let t = Instant::now();
        std::hint::black_box(af.dot(&bf));
        f32_rate.push(macs / t.elapsed().as_secs_f64());
    }
    let (dev, kern, f32r) = (median(dev_rate), median(kernel_rate), median(f32_rate));
    writeln!(
        report,
        "\n### Golden model ({mp}x{k} by {k}x{np}, one thread)\n"
    )?;
    writeln!(report, "| what | G MAC/s | vs ndarray f32 |")?;
    writeln!(report, "|---|---|---|")?;
    writeln!(
        report,
        "| golden GEMM command (exact sums, C_in, LFSR draws, rounding) | {:.2} | {:.2}x |",
        dev / 1e9,
        dev / f32r
    )?;
    writeln!(
        report,
        "| exact int16 kernel alone | {:.2} | {:.2}x |",
        kern / 1e9,
        kern / f32r
    )?;
    writeln!(report, "| ndarray f32 `dot` | {:.2} | 1.00x |", f32r / 1e9)?;

    training(args, &mut report)?;
    transfers(args, &mut report)?;

    print!("{report}");
    write_out(args, &report)
}

/// 5. Link words and cycles per training step, packed and not.
fn transfers(args: &Args, report: &mut String) -> Result<()> {
    let data = crate::train_cmd::DataArgs::default().load()?;
    crate::link_bench::transfers(args.n, args.train_batches, &data, report)
}

fn write_out(args: &Args, report: &str) -> Result<()> {
    if let Some(path) = &args.out {
        std::fs::write(path, report).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The device against the bare array: the speeds measured alternately above
/// (`against`: side, device and bare cycles/s), then instructions per
/// simulated cycle under callgrind.
fn against_bare(args: &Args, against: &[(usize, f64, f64)], report: &mut String) -> Result<()> {
    let built: Vec<String> = BARE_ARRAYS
        .iter()
        .map(|(r, c)| format!("{r}x{c}"))
        .collect();
    writeln!(
        report,
        "\n### The device against the bare array (same run, alternating)\n"
    )?;
    if against.is_empty() {
        writeln!(
            report,
            "No bare array of the sizes measured (built: {}).",
            built.join(", ")
        )?;
        return Ok(());
    }
    writeln!(
        report,
        "| array | device cycles/s while computing | bare array cycles/s | device / bare array |"
    )?;
    writeln!(report, "|---|---|---|---|")?;
    for &(n, dev, bare) in against {
        writeln!(
            report,
            "| {n}x{n} | {:.3} M | {:.3} M | {:.2}x |",
            dev / 1e6,
            bare / 1e6,
            dev / bare
        )?;
    }
    writeln!(
        report,
        "\nThe bare array is srsa-hw's `ArrayTop`: the array alone, fed new operands \
         every cycle by an LFSR in the hardware, verilated with the device's flags."
    )?;
    let cycles = args.callgrind_cycles;
    if cycles == 0 {
        return Ok(());
    }
    writeln!(
        report,
        "\n### Instructions per simulated cycle (callgrind, {cycles} cycles less a zero-cycle run)\n"
    )?;
    let Some(valgrind) = on_path("valgrind") else {
        writeln!(
            report,
            "valgrind is not on PATH: instructions per cycle not measured."
        )?;
        return Ok(());
    };
    writeln!(
        report,
        "| array | device while computing | bare array | device / bare array |"
    )?;
    writeln!(report, "|---|---|---|---|")?;
    for &(n, _, _) in against {
        let n_s = n.to_string();
        // A 16-tile GEMM just long enough, so that the setup (writing its
        // operands, run twice under callgrind) stays short.
        let k = (cycles.div_ceil(16) as usize + 2 * n).clamp(n, MAX_WORKLOAD_K);
        let k_s = k.to_string();
        let per_cycle = |model: &str, extra: &[&str]| -> Result<f64> {
            let run = |c: u64| {
                let c = c.to_string();
                let mut a = vec!["--model", model, "--n", &n_s, "--cycles", &c];
                a.extend(extra);
                callgrind_ir(&valgrind, &a)
            };
            let (full, base) = (run(cycles)?, run(0)?);
            anyhow::ensure!(
                full > base,
                "callgrind counted {full} instructions with {cycles} cycles and {base} with none"
            );
            Ok((full - base) as f64 / cycles as f64)
        };
        let dev = per_cycle("device", &["--k", &k_s])?;
        let bare = per_cycle("array", &[])?;
        writeln!(
            report,
            "| {n}x{n} | {dev:.0} | {bare:.0} | {:.2}x |",
            dev / bare
        )?;
    }
    Ok(())
}

/// Largest K of the device's callgrind workload: the 4n x K x 4n GEMM's
/// operands must fit the smallest buffers (4x4's 65536 elements).
const MAX_WORKLOAD_K: usize = 4096;

/// The first `name` on PATH that is a file.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Instructions callgrind counts in `srsa bench-workload <args>`.
fn callgrind_ir(valgrind: &Path, args: &[&str]) -> Result<u64> {
    let exe = std::env::current_exe().context("cannot find this program to run it again")?;
    let file = std::env::temp_dir().join(format!(
        "srsa-callgrind-{}-{}.out",
        std::process::id(),
        args.join("_").replace('-', "")
    ));
    let out = Command::new(valgrind)
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", file.display()))
        .arg(&exe)
        .arg("bench-workload")
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", valgrind.display()))?;
    let text = std::fs::read_to_string(&file);
    let _ = std::fs::remove_file(&file);
    anyhow::ensure!(
        out.status.success(),
        "valgrind --tool=callgrind srsa bench-workload {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = text.with_context(|| format!("callgrind wrote no {}", file.display()))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no instruction total in {}", file.display()))
}

/// `srsa bench-workload`: prints the cycles it ran (checked: each is one
/// of the workload's) and, for the bare array, its outputs' checksum.
pub fn workload(args: &WorkloadArgs) -> Result<()> {
    let n = args.n;
    let (ran, check) = match args.model {
        Workload::Array => {
            let mut bare = BareArray::new(n, n)?;
            bare.tick(args.cycles);
            (bare.cycles(), Some(bare.checksum()))
        }
        Workload::Device => {
            let mut driver = Driver::new(SimDevice::new(n)?).context("sim did not identify")?;
            let (m, k, ncol) = (4 * n, args.k, 4 * n);
            let mut rng = StdRng::seed_from_u64(11);
            let a: Vec<i16> = (0..m * k).map(|_| rng.gen_range(-4096..4096)).collect();
            let b: Vec<i16> = (0..k * ncol).map(|_| rng.gen_range(-4096..4096)).collect();
            driver.write(Buffer::A, 0, &a)?;
            driver.write(Buffer::B, 0, &b)?;
            let mut cmd = vec![header(op::GEMM, 0)];
            cmd.extend(encode_gemm(&plain_gemm(m, k, ncol)));
            let link = driver.link_mut();
            link.send(&cmd)?;
            let c0 = link.cycles();
            // The GEMM's status word must not come yet: every cycle counted
            // is one of the GEMM's.
            match link.recv(1, args.cycles) {
                Err(LinkError::Timeout { got: 0, .. }) => {}
                Ok(_) => anyhow::bail!(
                    "the {m} x {k} x {ncol} GEMM ended within {} cycles: raise --k",
                    args.cycles
                ),
                Err(e) => return Err(e.into()),
            }
            (link.cycles() - c0, None)
        }
    };
    anyhow::ensure!(ran == args.cycles, "ran {ran} cycles of {}", args.cycles);
    match check {
        Some(sum) => println!("cycles {ran} checksum {sum:#x}"),
        None => println!("cycles {ran}"),
    }
    Ok(())
}

/// Seconds of each step, and the device's (cycles, MACs) over all of them.
type StepTimes = (Vec<f64>, Option<(u64, u64)>);

/// Keeps each step's time.
struct StepSeconds(Vec<f64>);

impl Observer for StepSeconds {
    fn step(&mut self, p: &Progress) {
        self.0.push(p.seconds);
    }
}

/// Times `batches` training steps: one epoch over that many batches of the
/// training set, with no test set (only the steps are measured).
fn time_steps<B: Backend>(t: &mut Trainer<B>, data: &Data, batches: usize) -> Result<StepTimes> {
    let part = Data {
        train: data.train.clone().first(batches * t.cfg.batch),
        test: data.test.clone().first(0),
        dir: data.dir.clone(),
    };
    let mut steps = StepSeconds(vec![]);
    let epochs = t.fit(&part, t.epoch + 1, None, &mut steps)?;
    let counts = epochs
        .first()
        .filter(|e| e.macs_per_cycle.is_some())
        .map(|e| (e.cycles, e.macs));
    Ok((steps.0, counts))
}

/// 4. Training throughput of the default network on each backend.
fn training(args: &Args, report: &mut String) -> Result<()> {
    let data = crate::train_cmd::DataArgs::default().load()?;
    let arch = Arch::mlp(&[256]);
    let cfg = TrainConfig {
        plan: Plan::uniform(&arch, TensorFormats::uniform(14)),
        arch,
        rounding: Some(Rounding::Stochastic),
        lr: 0.1,
        batch: 100,
        seed: 1,
    };
    let n = args.n;
    writeln!(
        report,
        "\n### Training (MLP 784-256-10, batch 100, FL 14, stochastic rounding, {n}x{n})\n"
    )?;
    writeln!(
        report,
        "| backend | batches | samples/s | device cycles per batch | array doing useful MACs |"
    )?;
    writeln!(report, "|---|---|---|---|---|")?;
    let peak = (n * n) as f64;
    let mut row = |name: &str, secs: Vec<f64>, counts: Option<(u64, u64)>, note: &str| {
        let batches = secs.len();
        let rate = cfg.batch as f64 / median(secs);
        let (cyc, util) = match counts {
            Some((c, m)) if c > 0 => (
                format!("{:.2} M", c as f64 / batches as f64 / 1e6),
                format!("{:.1}%{note}", 100.0 * m as f64 / c as f64 / peak),
            ),
            _ => ("-".into(), "-".into()),
        };
        writeln!(
            report,
            "| {name} | {batches} | {rate:.0} | {cyc} | {util} |"
        )
    };
    let mut sim = Trainer::new(
        Fixed::new(devices::open(devices::Kind::Sim, n)?),
        cfg.clone(),
    )?;
    let (secs, counts) = time_steps(&mut sim, &data, args.train_batches)?;
    row(
        "sim (Verilator RTL)",
        secs,
        counts,
        " of all cycles, link included",
    )?;
    let mut golden = Trainer::new(
        Fixed::new(devices::open(devices::Kind::Golden, n)?),
        cfg.clone(),
    )?;
    let (secs, counts) = time_steps(&mut golden, &data, 4 * args.train_batches)?;
    row(
        "golden model",
        secs,
        counts,
        " of busy cycles (no link model)",
    )?;
    let mut float = Trainer::new(
        Float,
        TrainConfig {
            rounding: None,
            ..cfg.clone()
        },
    )?;
    let (secs, _) = time_steps(&mut float, &data, 4 * args.train_batches)?;
    row("float (ndarray f32)", secs, None, "")?;
    Ok(())
}
