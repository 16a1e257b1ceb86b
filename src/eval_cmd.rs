//! `srsa eval`: a checkpoint's test error on a device, with a digest of its
//! predictions, so that two devices can be shown to predict alike.

use crate::train_cmd::Device;
use anyhow::{bail, Result};
use clap::Parser;
use ndarray::Array2;
use srsa_host::compression::file::{Model, MAGIC};
use srsa_host::compression::Layer;
use srsa_host::mnist::Dataset;
use srsa_host::train::{checkpoint, Backend, Fixed, Float, StepStats, TrainConfig, Trainer};
use srsa_spec::numerics::Rounding;
use std::path::{Path, PathBuf};

#[derive(Parser)]
pub struct Args {
    /// A checkpoint of `srsa train --save` (float or fixed point), or a
    /// compressed model of `srsa compress`.
    #[arg(long)]
    model: PathBuf,
    /// sim, golden, float or serial:PATH[@BAUD]. A fixed-point device runs
    /// the checkpoint's plan and rounding (nearest for a float checkpoint).
    #[arg(long, default_value = "golden")]
    device: Device,
    /// Array size of a simulated or golden device.
    #[arg(long, default_value_t = 8, value_parser = crate::devices::parse_side)]
    n: usize,
    #[command(flatten)]
    data: crate::train_cmd::DataArgs,
}

pub fn run(args: &Args) -> Result<()> {
    let compressed = std::fs::File::open(&args.model)
        .and_then(|mut f| {
            let mut magic = [0u8; 8];
            std::io::Read::read_exact(&mut f, &mut magic).map(|_| &magic == MAGIC)
        })
        .unwrap_or(false);
    let (cfg, tensors) = if compressed {
        crate::compress_cmd::reals(&args.model)?
    } else {
        checkpoint::load_real(&args.model)?
    };
    // A compressed model's layers go to the device in coded form.
    let layers = if compressed {
        Some(Model::load(&args.model)?.layers)
    } else {
        None
    };
    let data = args.data.load()?;
    if data.test.rows * data.test.cols != cfg.arch.inputs() {
        bail!(
            "{}: its network {} takes {} pixels per image, the test images are {} x {}",
            args.model.display(),
            cfg.arch,
            cfg.arch.inputs(),
            data.test.rows,
            data.test.cols
        );
    }
    let (stats, predicted, on) = match &args.device {
        Device::Float => {
            let cfg = TrainConfig {
                rounding: None,
                ..cfg.clone()
            };
            predict(
                Trainer::new(Float, cfg.clone())?,
                &args.model,
                &cfg,
                &tensors,
                layers.as_deref(),
                &data.test,
            )?
        }
        Device::Fixed(kind) => {
            let driver = crate::devices::open(kind.clone(), args.n)?;
            let fixed = TrainConfig {
                rounding: Some(cfg.rounding.unwrap_or(Rounding::Nearest)),
                ..cfg.clone()
            };
            predict(
                Trainer::new(Fixed::new(driver), fixed)?,
                &args.model,
                &cfg,
                &tensors,
                layers.as_deref(),
                &data.test,
            )?
        }
    };
    println!(
        "{}: {} on {}: test error {:.2}% ({} of {}), loss {:.4}",
        args.model.display(),
        cfg.arch,
        on,
        100.0 * stats.error_rate(),
        stats.errors,
        stats.samples,
        stats.loss()
    );
    println!("predictions digest: {:016x}", digest(&predicted));
    Ok(())
}

/// The trainer `t` started from the checkpoint's reals, its predictions
/// on `test`, and the device it ran on.
fn predict<B: Backend>(
    mut t: Trainer<B>,
    path: &Path,
    cfg: &TrainConfig,
    tensors: &[Array2<f32>],
    layers: Option<&[Layer]>,
    test: &Dataset,
) -> Result<(StepStats, Vec<u8>, String)> {
    match layers {
        // Shared weights, loaded by EXPAND where the layer is resident,
        // with the pruned ones marked: as fine-tuning left them.
        Some(layers) => {
            t.begin_sharing(path, tensors, layers)?;
        }
        None => t.start_from_reals(path, cfg, tensors)?,
    }
    let (stats, predicted) = t.predict(test)?;
    Ok((stats, predicted, t.backend.describe()))
}

/// FNV-1a over the predicted classes: equal digests, equal predictions
/// (to the odds of a 64-bit collision).
pub fn digest(classes: &[u8]) -> u64 {
    classes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &c| {
        (h ^ c as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
