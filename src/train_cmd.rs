//! `srsa train`: trains a network on the bundled (or a given) MNIST on one
//! backend, with a progress bar, per-epoch test error, checkpoints and a
//! plot; `--baseline` trains the f32 reference alongside for comparison.

use crate::compress_cmd::PerLayer;
use crate::devices;
use crate::plot::{line_chart, Series};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use srsa_host::mnist;
use srsa_host::train::backend::Element;
use srsa_host::train::checkpoint::{self, Checkpoint};
use srsa_host::train::output::{check_writable, write_atomically};
use srsa_host::train::prune::{Pruned, Schedule};
use srsa_host::train::trainer::LrSplit;
use srsa_host::train::{
    load_data, Arch, Backend, Data, Epoch, Fixed, Float, Observer, Plan, Progress, StepStats,
    TensorFormats, TrainConfig, Trainer,
};
use srsa_spec::numerics::Rounding;
use std::path::{Path, PathBuf};

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
#[derive(clap::Args, Clone, Debug, Default)]
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

impl DataArgs {
    /// Loads both splits (cut as asked) and says what was loaded.
    pub fn load(&self) -> Result<Data> {
        let dir = self.data.clone().unwrap_or_else(mnist::bundled_dir);
        let data = load_data(&dir, self.train_samples, self.test_samples)?;
        println!(
            "data: {} training and {} test samples from {}",
            data.train.len(),
            data.test.len(),
            dir.display()
        );
        Ok(data)
    }
}

/// A learning rate that can be trained with: finite, positive, not absurd.
pub fn parse_lr(s: &str) -> Result<f32, String> {
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
    /// A format plan (TOML, see docs/TRAINING.md): <WL, FL> per layer for
    /// the weights, activations, gradients and update, instead of the
    /// uniform --fl and --fl-* (which it cannot be given with).
    #[arg(long, conflicts_with_all = ["fl", "fl_weights", "fl_activations", "fl_gradients"])]
    pub plan: Option<PathBuf>,
    /// mlp (784-256-10 on MNIST), cnn (Gupta et al.'s), lenet5 (Han et
    /// al.'s LeNet-5), mlp:IN-H1-...-10, cnn:RxC or lenet5:RxC. Plain mlp,
    /// cnn and lenet5 take their input size from the data.
    #[arg(long, default_value = "mlp", value_parser = parse_net)]
    pub net: Net,
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
    /// Start from another run's parameters (a float or fixed-point
    /// checkpoint of the same network), rounded to this run's weight
    /// formats: fine-tuning at a new plan, from epoch 0 with this run's
    /// settings.
    #[arg(long, conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
    /// Prune while training (Han et al.): before each of --prune-rounds
    /// rounds, weights below this many standard deviations of their layer
    /// (a share r/R of it in round r) are pruned for good and held at zero
    /// by the device's mask. One value, or per layer as fc1=1.2,fc2=0.8.
    #[arg(long)]
    pub prune: Option<PerLayer<f64>>,
    /// Pruning rounds, one every --prune-every epochs from the first.
    #[arg(long, default_value_t = 3, requires = "prune")]
    pub prune_rounds: u32,
    #[arg(long, default_value_t = 1, requires = "prune")]
    pub prune_every: u32,
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

/// `--net`: the architecture, and whether its sizes were given or are the
/// data's to set.
#[derive(Clone, Debug)]
pub struct Net {
    pub arch: Arch,
    pub sized: bool,
}

fn parse_net(s: &str) -> Result<Net, String> {
    Ok(Net {
        arch: s.parse()?,
        sized: s.contains(':'),
    })
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.arch.fmt(f)
    }
}

impl Net {
    /// The network for `rows x cols` images: plain `mlp` and `cnn` are
    /// fitted to them, a sized one must take them as they are.
    pub fn for_images(&self, rows: usize, cols: usize) -> Result<Arch> {
        if !self.sized {
            return self.arch.for_images(rows, cols).map_err(anyhow::Error::msg);
        }
        let fitted = self
            .arch
            .for_images(rows, cols)
            .map_err(anyhow::Error::msg)?;
        if fitted != self.arch {
            bail!(
                "--net {}: takes {} pixels per image, the data has {rows} x {cols}; \
                 give --net {fitted} or plain mlp/cnn/lenet5",
                self.arch,
                self.arch.inputs()
            );
        }
        Ok(fitted)
    }
}

impl Args {
    fn formats(&self) -> TensorFormats {
        TensorFormats {
            weights: self.fl_weights.unwrap_or(self.fl),
            activations: self.fl_activations.unwrap_or(self.fl),
            gradients: self.fl_gradients.unwrap_or(self.fl),
        }
    }

    /// The run's configuration for `data`'s images: the plan file's
    /// formats, or the uniform plan the FL flags describe.
    fn config(&self, data: &Data) -> Result<TrainConfig> {
        let arch = self.net.for_images(data.train.rows, data.train.cols)?;
        let plan = match &self.plan {
            Some(path) => {
                let plan = Plan::load(path)?;
                // The trainer checks it too; here the message can name the file.
                let shift = LrSplit::new(self.sgd.lr, self.sgd.batch.max(1)).shift;
                plan.check(&arch, shift).with_context(|| {
                    format!(
                        "--plan {}: does not fit {arch} at learning rate {} and batch {}",
                        path.display(),
                        self.sgd.lr,
                        self.sgd.batch
                    )
                })?;
                plan
            }
            None => Plan::uniform(&arch, self.formats()),
        };
        Ok(TrainConfig {
            arch,
            plan,
            rounding: match self.device {
                Device::Float => None,
                Device::Fixed(_) => Some(self.rounding),
            },
            lr: self.sgd.lr,
            batch: self.sgd.batch,
            seed: self.sgd.seed,
        })
    }

    /// The pruning schedule `--prune` asks for, checked against `arch`.
    fn schedule(&self, arch: &Arch) -> Result<Option<Schedule>> {
        let Some(q) = &self.prune else {
            return Ok(None);
        };
        let names = arch.layer_names();
        q.check("prune", &names)?;
        let quality: Vec<f64> = names.iter().map(|n| q.get(n, 0.0)).collect();
        if let Some(bad) = quality.iter().find(|q| !(q.is_finite() && **q >= 0.0)) {
            bail!("--prune: a quality must be a finite number of at least 0, not {bad}");
        }
        if self.prune_rounds == 0 || self.prune_every == 0 {
            bail!("--prune-rounds and --prune-every must be at least 1");
        }
        Ok(Some(Schedule {
            quality,
            rounds: self.prune_rounds,
            every: self.prune_every,
        }))
    }

    fn device_label(&self) -> String {
        match &self.device {
            Device::Float => "float".into(),
            Device::Fixed(kind) => format!("{kind} {}", self.rounding),
        }
    }

    /// Refuses, before any training, output files that could not be
    /// written after it.
    fn check_outputs(&self) -> Result<()> {
        if let Some(p) = &self.save {
            check_writable(p).with_context(|| {
                format!("--save {}: cannot write a checkpoint there", p.display())
            })?;
        }
        if let Some(p) = &self.plot {
            if p.extension().and_then(|e| e.to_str()) != Some("svg") {
                bail!(
                    "--plot {}: plots are written as SVG; name the file *.svg",
                    p.display()
                );
            }
            check_writable(p)
                .with_context(|| format!("--plot {}: cannot write a plot there", p.display()))?;
        }
        Ok(())
    }
}

pub fn run(args: &Args) -> Result<()> {
    args.check_outputs()?;
    let data = args.data.load()?;
    let history = train_on(args, &data)?;
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
        let fh = train_on(&fa, &data)?;
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
            &format!(
                "{} on {}",
                args.net.for_images(data.train.rows, data.train.cols)?,
                if data.dir == mnist::bundled_dir() {
                    "MNIST".to_string()
                } else {
                    data.dir.display().to_string()
                }
            ),
            "epoch",
            "error (%)",
            &series,
        );
        write_atomically(p, svg.as_bytes())
            .with_context(|| format!("cannot write plot {}", p.display()))?;
        println!("plot: {}", p.display());
    }
    Ok(())
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

/// Trains on the device of `args` and returns the per-epoch history.
pub fn train_on(args: &Args, data: &Data) -> Result<Vec<Epoch>> {
    match &args.device {
        Device::Float => {
            let (cfg, ck) = resumed_config::<f32>(args, data)?;
            drive(Trainer::new(Float, cfg)?, args, data, ck)
        }
        Device::Fixed(kind) => {
            let driver = devices::open(kind.clone(), args.n)?;
            let (cfg, ck) = resumed_config::<i16>(args, data)?;
            drive(Trainer::new(Fixed::new(driver), cfg)?, args, data, ck)
        }
    }
}

/// The configuration to train with: the flags', or a resumed checkpoint's
/// with the flags' rounding (so that a checkpoint of another rounding is
/// refused, not silently continued in its own).
fn resumed_config<E: Element>(
    args: &Args,
    data: &Data,
) -> Result<(TrainConfig, Option<Checkpoint<E>>)> {
    let asked = args.config(data)?;
    let Some(path) = &args.resume else {
        return Ok((asked, None));
    };
    let ck = checkpoint::load::<E>(path)?;
    let cfg = TrainConfig {
        rounding: asked.rounding,
        ..ck.cfg.clone()
    };
    if cfg != asked {
        println!(
            "resuming {}: using its settings ({}, formats {}, lr {}, batch {}, seed {})",
            path.display(),
            cfg.arch,
            cfg.plan,
            cfg.lr,
            cfg.batch,
            cfg.seed
        );
    }
    Ok((cfg, Some(ck)))
}

fn drive<B: Backend>(
    mut t: Trainer<B>,
    args: &Args,
    data: &Data,
    resume: Option<Checkpoint<B::E>>,
) -> Result<Vec<Epoch>> {
    if let (Some(ck), Some(path)) = (resume, &args.resume) {
        t.restore(path, ck)?;
        println!("resumed at epoch {}", t.epoch);
    }
    if let Some(path) = &args.init_from {
        t.start_from(path)?;
        println!(
            "starting from the parameters of {}, rounded to this run's weight formats",
            path.display()
        );
    }
    let split = t.lr_split();
    let formats = match t.cfg.plan.as_uniform() {
        Some(f) => format!(
            "formats W/A/G FL {}/{}/{}",
            f.weights, f.activations, f.gradients
        ),
        None => format!("plan <WL, FL> {}", t.cfg.plan),
    };
    println!(
        "training {} on {}: {formats}, lr {} (= {:.4} x 2^-{} per sample), batch {}, seed {}",
        t.cfg.arch,
        t.backend.describe(),
        t.cfg.lr,
        split.scale,
        split.shift,
        t.cfg.batch,
        t.cfg.seed
    );
    // Said once: what crosses the link at every step (docs/TRAINING.md).
    if t.backend.macs_per_cycle().is_some() {
        let (resident, layers) = t.net.resident_layers();
        if resident > 0 {
            println!("weights: {resident} of {layers} trainable layers stay on the device");
        }
        for line in &t.streamed {
            println!("weights: {line}");
        }
    }
    let mut console = Console::new(args.quiet);
    let Some(schedule) = args.schedule(&t.cfg.arch)? else {
        return Ok(t.fit(data, args.epochs, args.save.as_deref(), &mut console)?);
    };
    let rounds = schedule.rounds;
    let mut say = |round: u32, report: &[Pruned]| {
        for p in report {
            println!(
                "prune round {round} of {rounds}: {} keeps {} of {} weights ({:.1}%), |w| >= {:.5}",
                p.layer,
                p.kept,
                p.weights,
                100.0 * p.kept as f64 / p.weights.max(1) as f64,
                p.threshold
            );
        }
    };
    let save = args.save.as_deref();
    Ok(t.fit_pruned(data, args.epochs, &schedule, save, &mut console, &mut say)?)
}

/// The progress bar during an epoch and a line after it.
struct Console {
    quiet: bool,
    bar: ProgressBar,
    /// Loss over the last steps, not the whole epoch, so the bar shows
    /// where training is now.
    recent: StepStats,
}

impl Console {
    fn new(quiet: bool) -> Console {
        Console {
            quiet,
            bar: ProgressBar::hidden(),
            recent: StepStats::default(),
        }
    }
}

impl Observer for Console {
    fn epoch_started(&mut self, epoch: u32, done: usize, total: usize) {
        self.bar = if self.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(total as u64)
        };
        self.bar.set_style(
            ProgressStyle::with_template(
                "epoch {prefix} [{bar:30}] {pos}/{len} {per_sec} {msg} (eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        self.bar.set_prefix(format!("{epoch}"));
        self.bar.set_position(done as u64);
        self.recent = StepStats::default();
    }

    fn step(&mut self, p: &Progress) {
        self.recent.add(&p.step);
        self.bar.set_position(p.done as u64);
        let cycles = p
            .cycles
            .map(|c| format!(", {:.1} M cycles", c as f64 / 1e6))
            .unwrap_or_default();
        self.bar
            .set_message(format!("loss {:.3}{cycles}", self.recent.loss()));
        if self.recent.samples >= 1000 {
            self.recent = StepStats::default();
        }
        if p.done == p.total {
            self.bar.finish_and_clear();
        }
    }

    fn epoch_done(&mut self, e: &Epoch) {
        let util = e
            .utilisation()
            .map(|u| {
                format!(
                    ", {:.1} M device cycles, array doing useful MACs {:.1}% of them",
                    e.cycles as f64 / 1e6,
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
    }

    fn saved(&mut self, checkpoint: &Path) {
        println!("checkpoint: {}", checkpoint.display());
    }
}
