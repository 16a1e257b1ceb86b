//! `srsa train`: trains a network on the bundled (or a given) MNIST on one
//! backend, with a progress bar, per-epoch test error, checkpoints and a
//! plot; `--baseline` trains the f32 reference alongside for comparison.

use crate::devices;
use crate::plot::{line_chart, Series};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::s;
use srsa_host::mnist::{self, Dataset, Split};
use srsa_host::train::checkpoint::{self, Checkpoint};
use srsa_host::train::{
    Arch, Backend, Fixed, Float, StepStats, TensorFormats, TrainConfig, Trainer,
};
use srsa_spec::numerics::Rounding;
use std::path::PathBuf;
use std::time::Instant;

/// Where training runs: a device (`sim`, `golden`, `serial:PATH[@BAUD]`)
/// or the f32 reference (`float`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Device {
    Fixed(devices::Kind),
    Float,
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Device, String> {
        match s {
            "float" => Ok(Device::Float),
            _ => s.parse().map(Device::Fixed).map_err(|_| {
                format!("unknown device '{s}' (expected sim, golden, float or serial:PATH[@BAUD])")
            }),
        }
    }
}

/// Mini-batch SGD settings, shared by `train` and `experiment`.
#[derive(clap::Args, Clone, Debug)]
pub struct SgdArgs {
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Learning rate: positive, at most 1000 (larger steps only saturate).
    #[arg(long, default_value_t = 0.1, value_parser = parse_lr, allow_negative_numbers = true)]
    pub lr: f32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Which MNIST, and how much of it.
#[derive(clap::Args, Clone, Debug)]
pub struct DataArgs {
    /// MNIST directory with the four IDX files (gzipped or not); default:
    /// the subset bundled in data/mnist.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Use only the first N training samples.
    #[arg(long, value_parser = parse_count)]
    pub train_samples: Option<usize>,
    /// Use only the first N test samples.
    #[arg(long, value_parser = parse_count)]
    pub test_samples: Option<usize>,
}

/// A learning rate that can be trained with: finite, positive, not absurd.
fn parse_lr(s: &str) -> Result<f32, String> {
    let lr: f32 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if lr.is_finite() && lr > 0.0 && lr <= 1000.0 {
        Ok(lr)
    } else {
        Err(format!(
            "learning rate {s} must be above 0 and at most 1000"
        ))
    }
}

/// A sample count: at least 1 (zero test samples would report 0% error).
fn parse_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("'{s}' is not a count of at least 1")),
    }
}

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// sim (Verilator RTL), golden (bit-exact model), float (f32 reference)
    /// or serial:PATH[@BAUD] (a board running the UART top).
    #[arg(long, default_value = "sim")]
    pub device: Device,
    /// Array size of the sim or golden device (N x N).
    #[arg(long, default_value_t = 8, value_parser = crate::devices::parse_side)]
    pub n: usize,
    /// Rounding of every device output and of the host's loss gradient.
    #[arg(long, default_value = "stochastic")]
    pub rounding: Rounding,
    /// Fractional length of every tensor (WL 16); the three below override it.
    #[arg(long, default_value_t = 14)]
    pub fl: u8,
    #[arg(long)]
    pub fl_weights: Option<u8>,
    #[arg(long)]
    pub fl_activations: Option<u8>,
    #[arg(long)]
    pub fl_gradients: Option<u8>,
    /// cnn, mlp (= mlp:784-256-10) or mlp:784-H1-...-10.
    #[arg(long, default_value = "mlp")]
    pub net: Arch,
    /// Train until this many epochs are done (counting a resumed run's).
    #[arg(long, default_value_t = 1)]
    pub epochs: u32,
    #[command(flatten)]
    pub sgd: SgdArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// Write a checkpoint here after every epoch.
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Continue from a checkpoint (its network, formats, rate, batch and
    /// seed are used).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Write the error curves as an SVG plot.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Also train the f32 reference with the same settings and print its
    /// test error beside this run's.
    #[arg(long)]
    pub baseline: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl Args {
    fn formats(&self) -> TensorFormats {
        TensorFormats {
            weights: self.fl_weights.unwrap_or(self.fl),
            activations: self.fl_activations.unwrap_or(self.fl),
            gradients: self.fl_gradients.unwrap_or(self.fl),
        }
    }

    fn config(&self) -> TrainConfig {
        TrainConfig {
            arch: self.net.clone(),
            formats: self.formats(),
            lr: self.sgd.lr,
            batch: self.sgd.batch,
            seed: self.sgd.seed,
        }
    }

    fn rounding_name(&self) -> String {
        match &self.device {
            Device::Float => "float".into(),
            Device::Fixed(_) => self.rounding.to_string(),
        }
    }
}

/// One epoch's figures.
#[derive(Clone, Debug)]
pub struct Epoch {
    pub epoch: u32,
    pub train_loss: f64,
    pub train_error: f64,
    pub test_loss: f64,
    pub test_error: f64,
    pub seconds: f64,
    pub samples_per_s: f64,
    /// Device cycles and useful MACs during the epoch's training steps.
    pub cycles: u64,
    pub macs: u64,
    pub macs_per_cycle: Option<u64>,
}

impl Epoch {
    /// Share of the device's cycles in which the whole array did useful MACs.
    pub fn utilisation(&self) -> Option<f64> {
        let peak = self.macs_per_cycle?;
        (self.cycles > 0).then(|| self.macs as f64 / (self.cycles * peak) as f64)
    }
}

pub struct Data {
    pub train: Dataset,
    pub test: Dataset,
}

fn first(d: Dataset, n: Option<usize>) -> Dataset {
    match n {
        Some(n) if n < d.len() => Dataset {
            images: d.images.slice(s![..n, ..]).to_owned(),
            labels: d.labels[..n].to_vec(),
            rows: d.rows,
            cols: d.cols,
        },
        _ => d,
    }
}

pub fn load_data(a: &DataArgs) -> Result<Data> {
    let dir = a.data.clone().unwrap_or_else(mnist::bundled_dir);
    let train = first(mnist::load_split(&dir, Split::Train)?, a.train_samples);
    let test = first(mnist::load_split(&dir, Split::Test)?, a.test_samples);
    if train.rows * train.cols != srsa_host::train::network::INPUTS || train.is_empty() {
        bail!(
            "{}: expected 28 x 28 training images, found {} of {} x {}",
            dir.display(),
            train.len(),
            train.rows,
            train.cols
        );
    }
    println!(
        "data: {} training and {} test samples from {}",
        train.len(),
        test.len(),
        dir.display()
    );
    Ok(Data { train, test })
}

pub fn run(args: &Args) -> Result<()> {
    let data = load_data(&args.data)?;
    let history = train_on(args, &data, args.device.clone())?;
    let mut series = vec![curve(&history, &format!("{} test", args.device_label()))];
    series.push(Series {
        name: format!("{} train", args.device_label()),
        points: history
            .iter()
            .map(|e| (e.epoch as f64, 100.0 * e.train_error))
            .collect(),
    });
    let last = history.last().map(|e| e.test_error);
    if args.baseline && args.device != Device::Float {
        println!("baseline: the f32 reference with the same settings");
        let mut fa = args.clone();
        fa.device = Device::Float;
        fa.save = None;
        fa.resume = None;
        let fh = train_on(&fa, &data, Device::Float)?;
        series.push(curve(&fh, "float test"));
        if let (Some(a), Some(b)) = (last, fh.last()) {
            println!(
                "test error after {} epoch(s): {} {:.2}%  |  float {:.2}%",
                args.epochs,
                args.device_label(),
                100.0 * a,
                100.0 * b.test_error
            );
        }
    } else if let Some(a) = last {
        println!(
            "test error after {} epoch(s): {} {:.2}%",
            args.epochs,
            args.device_label(),
            100.0 * a
        );
    }
    if let Some(p) = &args.plot {
        let svg = line_chart(
            &format!("{} on MNIST", args.net),
            "epoch",
            "error (%)",
            &series,
        );
        std::fs::write(p, svg).with_context(|| format!("cannot write plot {}", p.display()))?;
        println!("plot: {}", p.display());
    }
    Ok(())
}

impl Args {
    fn device_label(&self) -> String {
        match &self.device {
            Device::Float => "float".into(),
            Device::Fixed(kind) => format!("{kind} {}", self.rounding),
        }
    }
}

fn curve(h: &[Epoch], name: &str) -> Series {
    Series {
        name: name.into(),
        points: h
            .iter()
            .map(|e| (e.epoch as f64, 100.0 * e.test_error))
            .collect(),
    }
}

/// Trains on one backend and returns the per-epoch history.
pub fn train_on(args: &Args, data: &Data, device: Device) -> Result<Vec<Epoch>> {
    if let Some(p) = &args.plot {
        if p.extension().and_then(|e| e.to_str()) != Some("svg") {
            bail!(
                "--plot {}: plots are written as SVG; name the file *.svg",
                p.display()
            );
        }
    }
    match device {
        Device::Float => {
            let cfg = resumed_config::<f32>(args)?;
            drive(Trainer::new(Float, cfg.0)?, args, data, cfg.1)
        }
        Device::Fixed(kind) => {
            let driver = devices::open(kind, args.n)?;
            let cfg = resumed_config::<i16>(args)?;
            drive(
                Trainer::new(Fixed::new(driver, args.rounding), cfg.0)?,
                args,
                data,
                cfg.1,
            )
        }
    }
}

/// The configuration to train with: the flags', or a resumed checkpoint's.
fn resumed_config<E: srsa_host::train::backend::Element>(
    args: &Args,
) -> Result<(TrainConfig, Option<Checkpoint<E>>)> {
    let Some(path) = &args.resume else {
        return Ok((args.config(), None));
    };
    let ck = checkpoint::load::<E>(path)?;
    if ck.cfg != args.config() {
        println!(
            "resuming {}: using its settings ({} {:?}, lr {}, batch {}, seed {})",
            path.display(),
            ck.cfg.arch,
            ck.cfg.formats,
            ck.cfg.lr,
            ck.cfg.batch,
            ck.cfg.seed
        );
    }
    Ok((ck.cfg.clone(), Some(ck)))
}

fn drive<B: Backend>(
    mut t: Trainer<B>,
    args: &Args,
    data: &Data,
    resume: Option<Checkpoint<B::E>>,
) -> Result<Vec<Epoch>> {
    let rounding = args.rounding_name();
    if let (Some(ck), Some(path)) = (resume, &args.resume) {
        t.restore(path, ck, &rounding)?;
        println!("resumed at epoch {}", t.epoch);
    }
    let split = t.lr_split();
    println!(
        "training {} on {}: formats W/A/G FL {}/{}/{}, lr {} (= {:.4} x 2^-{} per sample), batch {}, seed {}",
        t.cfg.arch,
        t.backend.describe(),
        t.cfg.formats.weights,
        t.cfg.formats.activations,
        t.cfg.formats.gradients,
        t.cfg.lr,
        split.scale,
        split.shift,
        t.cfg.batch,
        t.cfg.seed
    );
    let mut history = vec![];
    while t.epoch < args.epochs {
        let bar = if args.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(data.train.len() as u64)
        };
        bar.set_style(
            ProgressStyle::with_template(
                "epoch {prefix} [{bar:30}] {pos}/{len} {per_sec} {msg} (eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}", t.epoch + 1));
        let c0 = t.backend.counters()?;
        let start = Instant::now();
        let mut recent = StepStats::default();
        let mut seen = 0u64;
        let mut counter_error = None;
        let train = t.train_epoch(&data.train, |s, backend| {
            seen += s.samples as u64;
            recent.add(s);
            bar.set_position(seen);
            // The device's own cycle count, read between steps (a few
            // cycles per read).
            let cycles = match (&c0, backend.counters()) {
                (Some(a), Ok(Some(b))) => {
                    format!(", {:.1} M cycles", (b.cycles - a.cycles) as f64 / 1e6)
                }
                (_, Err(e)) => {
                    counter_error.get_or_insert(e);
                    String::new()
                }
                _ => String::new(),
            };
            bar.set_message(format!("loss {:.3}{cycles}", recent.loss()));
            if recent.samples >= 1000 {
                recent = StepStats::default();
            }
        })?;
        if let Some(e) = counter_error {
            return Err(e.into());
        }
        let secs = start.elapsed().as_secs_f64();
        let c1 = t.backend.counters()?;
        bar.finish_and_clear();
        let test = t.evaluate(&data.test)?;
        let (cycles, macs) = match (c0, c1) {
            (Some(a), Some(b)) => (b.cycles - a.cycles, b.macs - a.macs),
            _ => (0, 0),
        };
        let e = Epoch {
            epoch: t.epoch,
            train_loss: train.loss(),
            train_error: train.error_rate(),
            test_loss: test.loss(),
            test_error: test.error_rate(),
            seconds: secs,
            samples_per_s: train.samples as f64 / secs,
            cycles,
            macs,
            macs_per_cycle: t.backend.macs_per_cycle(),
        };
        let util = e
            .utilisation()
            .map(|u| {
                format!(
                    ", {:.1} M device cycles, array doing useful MACs {:.1}% of them",
                    cycles as f64 / 1e6,
                    100.0 * u
                )
            })
            .unwrap_or_default();
        println!(
            "epoch {}: train loss {:.4} error {:.2}% | test loss {:.4} error {:.2}% | {:.1} s, {:.0} samples/s{util}",
            e.epoch,
            e.train_loss,
            100.0 * e.train_error,
            e.test_loss,
            100.0 * e.test_error,
            e.seconds,
            e.samples_per_s
        );
        history.push(e);
        if let Some(p) = &args.save {
            checkpoint::save(p, &t, &rounding)?;
            println!("checkpoint: {}", p.display());
        }
    }
    Ok(history)
}
