//! `srsa experiment`: the papers' experiments, run on the golden model for
//! speed, with a sample of every fixed-point run re-run on the simulated
//! RTL from the same state, which must give bit-identical results.

mod gupta;
mod han;
mod lin;

use anyhow::{bail, Context, Result};
use srsa_host::driver::Driver;
use srsa_host::golden::GoldenDevice;
use srsa_host::train::{train_in_lockstep, Arch, Data, Fixed, Trainer};
use srsa_sim::SimDevice;
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(clap::Subcommand)]
pub enum Experiment {
    /// Float vs WL 16 at several FL, nearest vs stochastic (Gupta et al.).
    Gupta(gupta::Args),
    /// Equal vs SQNR-chosen per-layer weight widths over a range of bit
    /// budgets, with and without fine-tuning (Lin et al.).
    Lin(lin::Args),
    /// Dense, pruned, shared and Huffman-coded LeNet-300-100 and LeNet-5,
    /// retrained on the device with stochastic rounding, float beside
    /// (Han et al.).
    Han(han::Args),
}

/// What every experiment takes besides its own settings.
#[derive(clap::Args, Clone, Debug)]
pub struct Common {
    /// Training epochs of the MLP (Gupta: of every run; Lin: of the f32
    /// model the plans start from).
    #[arg(long, default_value_t = 10)]
    pub mlp_epochs: u32,
    #[arg(long, default_value_t = 5)]
    pub cnn_epochs: u32,
    /// Leave out the MLP or the CNN.
    #[arg(long)]
    pub skip_mlp: bool,
    #[arg(long)]
    pub skip_cnn: bool,
    #[command(flatten)]
    pub setup: Setup,
}

/// Where and how every experiment runs.
#[derive(clap::Args, Clone, Debug)]
pub struct Setup {
    #[command(flatten)]
    pub sgd: crate::train_cmd::SgdArgs,
    /// Array size of the golden and simulated devices.
    #[arg(long, default_value_t = 8, value_parser = crate::devices::parse_side)]
    pub n: usize,
    #[command(flatten)]
    pub data: crate::train_cmd::DataArgs,
    /// Batches of each fixed-point run also run on the simulated RTL from
    /// the golden model's state (Gupta: at the start of the last epoch;
    /// Lin: of the fine-tuning, with one batch of each quantised model's
    /// layer outputs; Han: of each device stage); 0 skips the check.
    #[arg(long, default_value_t = 1)]
    pub recheck: usize,
    /// Runs in parallel.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Directory for the experiment's table (gupta.md, lin.md, han.md),
    /// its CSV and its plots.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
}

impl Setup {
    /// Writes `text` to the file `name` in `--out`.
    fn write(&self, name: &str, text: &str) -> Result<()> {
        let p = self.out.join(name);
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))
    }
}

impl Common {
    /// Writes `text` to the file `name` in `--out`.
    fn write(&self, name: &str, text: &str) -> Result<()> {
        self.setup.write(name, text)
    }

    /// The networks asked for, `mlp` being the experiment's MLP: name,
    /// architecture and epochs.
    fn nets(&self, mlp: &Arch) -> Vec<(&'static str, Arch, u32)> {
        [
            (!self.skip_mlp).then(|| ("MLP", mlp.clone(), self.mlp_epochs)),
            (!self.skip_cnn).then_some(("CNN", Arch::cnn(), self.cnn_epochs)),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

pub fn run(e: &Experiment) -> Result<()> {
    match e {
        Experiment::Gupta(a) => gupta::run(a),
        Experiment::Lin(a) => lin::run(a),
        Experiment::Han(a) => han::run(a),
    }
}

/// Runs the first `batches` batches of the golden trainer `t`'s next epoch
/// also on the simulated `n` x `n` RTL, from the same weights and random
/// state; any difference in the weights after a batch is an error naming
/// the element. Returns the batches checked; `t` is left in that epoch,
/// after them.
fn recheck(
    n: usize,
    batches: usize,
    t: &mut Trainer<Fixed<GoldenDevice>>,
    data: &Data,
) -> Result<usize> {
    let mut s = on_rtl(n, t)?;
    let run = train_in_lockstep(t, &mut s, &data.train, batches)?;
    if let Some(d) = run.divergence {
        bail!(
            "RTL re-check: {}",
            d.describe("the golden model", "the RTL")
        );
    }
    Ok(run.steps.len())
}

/// A trainer on the simulated `n` x `n` RTL in the golden trainer `t`'s
/// state: its configuration, weights, random state and epoch.
fn on_rtl(n: usize, t: &mut Trainer<Fixed<GoldenDevice>>) -> Result<Trainer<Fixed<SimDevice>>> {
    let sim = SimDevice::new(n).context("cannot start the simulated device")?;
    let mut s = Trainer::new(Fixed::new(Driver::new(sim)?), t.cfg.clone())?;
    t.sync_params()?;
    for (dst, src) in s.net.params_mut().into_iter().zip(t.net.params()) {
        dst.w.assign(&src.w);
        dst.b.assign(&src.b);
    }
    // Pruned layers keep their masks (set_masks uploads the parameters).
    let masks = t.net.masks();
    if masks.iter().any(|m| m.is_some()) {
        s.net.set_masks(&mut s.backend, &masks)?;
    } else {
        s.upload_params()?;
    }
    s.epoch = t.epoch;
    Ok(s)
}

/// `f` of every item, on up to `jobs` threads, in the items' order. The
/// first error stops the queue and is returned.
fn par_map<T: Send, R: Send>(
    jobs: usize,
    items: Vec<T>,
    f: impl Fn(T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let n = items.len();
    let queue = Mutex::new(items.into_iter().enumerate().rev().collect::<Vec<_>>());
    let results = Mutex::new((0..n).map(|_| None).collect::<Vec<Option<R>>>());
    let failure = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let next = queue.lock().expect("queue").pop();
                let Some((i, item)) = next else { break };
                match f(item) {
                    Ok(r) => results.lock().expect("results")[i] = Some(r),
                    Err(e) => {
                        failure.lock().expect("failure").get_or_insert(e);
                        queue.lock().expect("queue").clear();
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().expect("failure") {
        return Err(e);
    }
    Ok(results
        .into_inner()
        .expect("results")
        .into_iter()
        .flatten()
        .collect())
}
