//! `srsa compress`: Deep Compression of a checkpoint's weights (pruning,
//! weight sharing, relative indices, Huffman coding), written as a
//! compressed-model file, read back and checked word for word, with the
//! per-layer table Han et al. give.

use crate::train_cmd::Device;
use anyhow::{bail, Context, Result};
use clap::Parser;
use ndarray::Array2;
use srsa_host::compression::file::Model;
use srsa_host::compression::kmeans::Init;
use srsa_host::compression::{compress_model, default_weight_bits, Layer, Settings};
use srsa_host::train::{checkpoint, Backend, Data, Fixed, Float, TrainConfig, Trainer};
use srsa_spec::numerics::value;
use srsa_spec::numerics::Rounding;
use std::path::{Path, PathBuf};

#[derive(Parser)]
pub struct Args {
    /// A checkpoint of `srsa train --save` (float or fixed point).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Where to write the compressed model.
    #[arg(long)]
    out: PathBuf,
    /// Pruning threshold in standard deviations of each layer's weights:
    /// one value for all, or per layer as fc1=1.8,fc2=1.5 (0: no pruning).
    #[arg(long, default_value = "1.0")]
    quality: PerLayer<f64>,
    /// Codebook index bits b (2^b shared weights, one of them zero), one
    /// value or per layer; default 8 for convolutions and 5 for dense
    /// layers, as Han et al.
    #[arg(long)]
    weight_bits: Option<PerLayer<u8>>,
    /// Bits of a relative index (gap), one value or per layer.
    #[arg(long, default_value = "5")]
    index_bits: PerLayer<u8>,
    /// Initialisation of the k-means: linear, forgy or density.
    #[arg(long, default_value = "linear")]
    init: Init,
    /// Seed of the Forgy initialisation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fine-tune the shared weights for this many epochs (Han et al.'s
    /// trained quantization): each centroid moves by the sum of its
    /// members' updates, computed on --device. 0: k-means alone.
    #[arg(long, default_value_t = 0)]
    retrain_epochs: u32,
    /// Where the fine-tuning trains: sim, golden, float or serial:PATH.
    /// A device uses the checkpoint's rounding (stochastic for a float
    /// checkpoint), its learning rate, batch and seed.
    #[arg(long, default_value = "golden")]
    device: crate::train_cmd::Device,
    #[arg(long, default_value_t = 8, value_parser = crate::devices::parse_side)]
    n: usize,
    /// Learning rate of the fine-tuning (default: the checkpoint's). A
    /// centroid moves by the sum of its members' steps, so a rate well
    /// below the training's keeps large clusters stable.
    #[arg(long, value_parser = crate::train_cmd::parse_lr)]
    lr: Option<f32>,
    #[command(flatten)]
    data: crate::train_cmd::DataArgs,
}

/// One value for every layer, or `name=value` pairs.
#[derive(Clone, Debug)]
pub struct PerLayer<T> {
    all: Option<T>,
    named: Vec<(String, T)>,
}

impl<T: std::str::FromStr + Copy> std::str::FromStr for PerLayer<T> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parse = |v: &str| {
            v.parse::<T>()
                .map_err(|_| format!("bad value '{v}' in '{s}'"))
        };
        if !s.contains('=') {
            return Ok(PerLayer {
                all: Some(parse(s)?),
                named: vec![],
            });
        }
        let named = s
            .split(',')
            .map(|p| {
                let (k, v) = p
                    .split_once('=')
                    .ok_or_else(|| format!("'{p}' in '{s}' is not layer=value"))?;
                Ok((k.to_string(), parse(v)?))
            })
            .collect::<Result<_, String>>()?;
        Ok(PerLayer { all: None, named })
    }
}

impl<T: Copy> PerLayer<T> {
    pub fn get(&self, layer: &str, default: T) -> T {
        self.named
            .iter()
            .find(|(n, _)| n == layer)
            .map(|p| p.1)
            .or(self.all)
            .unwrap_or(default)
    }

    /// Refuses names the network lacks.
    pub fn check(&self, flag: &str, names: &[String]) -> Result<()> {
        for (n, _) in &self.named {
            if !names.contains(n) {
                bail!(
                    "--{flag}: the network has no layer {n} (it has {})",
                    names.join(", ")
                );
            }
        }
        Ok(())
    }
}

pub fn run(args: &Args) -> Result<()> {
    let (cfg, tensors) = checkpoint::load_real(&args.checkpoint)?;
    let names = cfg.arch.layer_names();
    args.quality.check("quality", &names)?;
    args.index_bits.check("index-bits", &names)?;
    if let Some(w) = &args.weight_bits {
        w.check("weight-bits", &names)?;
    }
    let settings = |name: &str| {
        let default_bits = default_weight_bits(name);
        Settings {
            quality: args.quality.get(name, 1.0),
            weight_bits: args
                .weight_bits
                .as_ref()
                .map_or(default_bits, |w| w.get(name, default_bits)),
            index_bits: args.index_bits.get(name, 5),
        }
    };
    for name in &names {
        let s = settings(name);
        if !(1..=16).contains(&s.weight_bits) || !(1..=16).contains(&s.index_bits) {
            bail!("{name}: --weight-bits and --index-bits must be 1 to 16");
        }
        if !(s.quality >= 0.0 && s.quality.is_finite()) {
            bail!("{name}: --quality must be a finite number of at least 0");
        }
    }
    let mut layers = compress_model(&cfg, &tensors, settings, args.init, args.seed)
        .map_err(anyhow::Error::msg)?;
    if args.retrain_epochs > 0 {
        let data = args.data.load()?;
        let cfg = TrainConfig {
            lr: args.lr.unwrap_or(cfg.lr),
            ..cfg.clone()
        };
        match &args.device {
            Device::Float => {
                let f = TrainConfig {
                    rounding: None,
                    ..cfg.clone()
                };
                retrain(Trainer::new(Float, f)?, args, &tensors, &mut layers, &data)?
            }
            Device::Fixed(kind) => {
                let driver = crate::devices::open(kind.clone(), args.n)?;
                let f = TrainConfig {
                    rounding: Some(cfg.rounding.unwrap_or(Rounding::Stochastic)),
                    ..cfg.clone()
                };
                retrain(
                    Trainer::new(Fixed::new(driver), f)?,
                    args,
                    &tensors,
                    &mut layers,
                    &data,
                )?
            }
        }
    }
    let model = Model {
        arch: cfg.arch.clone(),
        plan: cfg.plan.clone(),
        rounding: cfg.rounding,
        layers,
    };
    model.save(&args.out)?;
    let back = Model::load(&args.out)?;
    for (a, b) in back.layers.iter().zip(&model.layers) {
        if a.weights().map_err(anyhow::Error::msg)? != b.weights().map_err(anyhow::Error::msg)? {
            bail!("{}: {} read back differently", args.out.display(), a.name);
        }
    }
    print_table(&model);
    println!(
        "wrote {} ({} bytes); read back: every weight word identical",
        args.out.display(),
        std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0)
    );
    Ok(())
}

/// Trained quantization on `t` for `--retrain-epochs`, from the
/// checkpoint's biases and the layers' shared weights; the layers get the
/// centroids and biases it ends with.
fn retrain<B: Backend>(
    mut t: Trainer<B>,
    args: &Args,
    tensors: &[Array2<f32>],
    layers: &mut [Layer],
    data: &Data,
) -> Result<()> {
    let mut shared = t.begin_sharing(&args.checkpoint, tensors, layers)?;
    println!(
        "fine-tuning the shared weights on {} for {} epoch(s), lr {}, batch {}",
        t.backend.describe(),
        args.retrain_epochs,
        t.cfg.lr,
        t.cfg.batch
    );
    let before = t.evaluate(&data.test)?;
    println!(
        "shared weights before fine-tuning: test error {:.2}%",
        100.0 * before.error_rate()
    );
    for epoch in 1..=args.retrain_epochs {
        let train = t.shared_epoch(&data.train, &mut shared)?;
        let test = t.evaluate(&data.test)?;
        println!(
            "fine-tuning epoch {epoch}: train loss {:.4} error {:.2}% | test error {:.2}%",
            train.loss(),
            100.0 * train.error_rate(),
            100.0 * test.error_rate()
        );
    }
    Ok(t.end_sharing(&shared, layers)?)
}

fn print_table(m: &Model) {
    println!(
        "layer | weights | kept | weight bits | index bits | P | P+Q | P+Q+H (of 32-bit dense)"
    );
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    let mut total = [0usize; 6];
    for l in &m.layers {
        let z = l.sizes();
        println!(
            "{} | {} | {:.1}% | {} | {} | {:.2}% | {:.2}% | {:.2}%",
            l.name,
            z.weights,
            pct(z.kept, z.weights),
            l.weight_bits,
            l.index_bits,
            pct(z.pruned, z.dense32),
            pct(z.shared, z.dense32),
            pct(z.coded, z.dense32)
        );
        for (t, v) in total
            .iter_mut()
            .zip([z.weights, z.kept, z.dense32, z.pruned, z.shared, z.coded])
        {
            *t += v;
        }
    }
    let [w, k, d, p, s, c] = total;
    println!(
        "total | {w} | {:.1}% | | | {:.2}% | {:.2}% | {:.2}%",
        pct(k, w),
        pct(p, d),
        pct(s, d),
        pct(c, d)
    );
    println!(
        "compression: {:.1}x against 32-bit float dense, {:.1}x against 16-bit dense ({} bits)",
        d as f64 / c.max(1) as f64,
        d as f64 / 2.0 / c.max(1) as f64,
        c
    );
}

/// A compressed model as the configuration and reals a trainer starts
/// from (`srsa eval --model FILE.srz`).
pub fn reals(path: &Path) -> Result<(TrainConfig, Vec<Array2<f32>>)> {
    let m = Model::load(path)?;
    let formats = m.plan.resolve(&m.arch)?;
    let mut tensors = vec![];
    for (l, f) in m.layers.iter().zip(&formats) {
        let fl = f.weights.fl;
        let w = l.weights().map_err(anyhow::Error::msg)?;
        tensors.push(w.mapv(|x| value(x, fl) as f32));
        let b = Array2::from_shape_vec((1, l.bias.len()), l.bias.clone())
            .with_context(|| format!("{}: bias", l.name))?;
        tensors.push(b.mapv(|x| value(x, fl) as f32));
    }
    let cfg = TrainConfig {
        arch: m.arch,
        plan: m.plan,
        rounding: m.rounding,
        lr: 0.1,
        batch: 100,
        seed: 1,
    };
    Ok((cfg, tensors))
}
