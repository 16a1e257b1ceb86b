//! `srsa sqnr`: Lin et al.'s analysis of a checkpoint's weights. Per layer
//! it prints the weights' statistics, the SQNR a Gaussian of their RMS
//! predicts at each width (with the best power-of-two step, which gives
//! FL), chooses per-layer widths by Lin's closed form for a target SQNR or
//! a bit budget, measures each chosen quantizer on the real weights, and
//! writes the checkpoint's plan with those weight formats.

use anyhow::{bail, Context, Result};
use clap::Parser;
use ndarray::Array2;
use srsa_host::bit_allocation::{best_format, format_db, weight_layers, Allocator};
use srsa_host::sqnr::{best_fl, combined_db, measured_db, Stats};
use srsa_host::train::checkpoint;
use srsa_host::train::{Backend, Fixed, Float, Plan, TrainConfig, Trainer};
use srsa_spec::numerics::{Rounding, MAX_FL, MIN_WL, WL};
use std::path::PathBuf;

#[derive(Parser)]
pub struct Args {
    /// A checkpoint of `srsa train --save` (float or fixed point).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Choose the smallest widths whose predicted SQNR over all weight
    /// quantizers (1/γ = Σ 1/γ_i) reaches DB decibels.
    #[arg(long, value_name = "DB", conflicts_with = "budget")]
    target_sqnr: Option<f64>,
    /// Or: the best predicted SQNR within an average of BITS bits a weight.
    #[arg(long, value_name = "BITS")]
    budget: Option<f64>,
    /// Write the plan (the checkpoint's, with the chosen weight formats).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write the per-layer table as CSV.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Training samples to take the activations' statistics on and to
    /// measure the output SQNR with.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    calibration: u32,
    /// Also give every layer's activations this width (2..16), with the
    /// FL its statistics predict best (else the plan keeps the
    /// checkpoint's activation formats).
    #[arg(long, value_name = "WL", value_parser = clap::value_parser!(u8).range(2..=16))]
    activation_wl: Option<u8>,
    /// The device the output SQNR is measured on: golden (the bit-exact
    /// model) or sim (the Verilator RTL).
    #[arg(long, default_value = "golden")]
    device: crate::train_cmd::Device,
    #[command(flatten)]
    data: crate::train_cmd::DataArgs,
}

/// The widths the table shows predictions for.
const SHOWN: [u8; 5] = [4, 6, 8, 10, 12];

pub fn run(args: &Args) -> Result<()> {
    let path = &args.checkpoint;
    let (cfg, tensors) = checkpoint::load_real(path)?;
    let layers = weight_layers(&cfg.arch, &tensors)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let alloc = Allocator::new(&layers);
    let plan = cfg.plan.clone();
    let params = alloc.params.clone();
    println!(
        "{}: {} layers; the device's quantizer on a Gaussian gains {:.2} dB a bit (4 to 12 bits)",
        path.display(),
        layers.len(),
        alloc.kappa
    );
    let chosen = match (args.target_sqnr, args.budget) {
        (Some(target), _) => alloc
            .for_target(target)
            .with_context(|| format!("no widths up to {WL} bits reach {target} dB"))?,
        (None, Some(budget)) => alloc.for_budget(budget).with_context(|| {
            format!("no widths of at least {MIN_WL} bits fit {budget} bits a weight")
        })?,
        (None, None) => bail!("give --target-sqnr DB or --budget BITS"),
    };
    let mut rows = vec![];
    let mut out_plan: Plan = alloc.apply(&plan, &chosen);
    let mut gammas = vec![];
    for ((l, &wl), &p) in layers.iter().zip(&chosen).zip(&params) {
        let (fl, want) = l.best(wl);
        let got = l.measured(wl);
        gammas.push(got);
        let shown: Vec<String> = SHOWN
            .iter()
            .map(|&b| format!("{:.1}", l.best(b).1))
            .collect();
        rows.push(vec![
            l.name.clone(),
            p.to_string(),
            format!("{:.5}", l.stats.std),
            format!("{:.5}", l.stats.max_abs),
            format!("{:.2}", l.stats.kurtosis),
            shown.join(" "),
            format!("<{wl}, {fl}>"),
            format!("{want:.2}"),
            format!("{got:.2}"),
        ]);
    }
    let head = [
        "layer",
        "weights",
        "std",
        "max|x|",
        "kurtosis",
        "predicted dB at 4 6 8 10 12 bits",
        "chosen <WL, FL>",
        "predicted dB",
        "measured dB",
    ];
    println!("{}", head.join(" | "));
    for r in &rows {
        println!("{}", r.join(" | "));
    }
    // The equal-width plan that reaches the same prediction, for scale.
    let reached = alloc.predicted(&chosen);
    let equal = (MIN_WL..=WL as u8)
        .find(|&b| alloc.predicted(&vec![b; layers.len()]) >= reached)
        .unwrap_or(WL as u8);
    let (ours, theirs) = (
        alloc.weight_bits(&chosen),
        alloc.weight_bits(&vec![equal; layers.len()]),
    );
    println!(
        "weights: predicted {reached:.2} dB, measured {:.2} dB (1/γ = Σ 1/γ_i of the measured layers); \
         {ours} bits, against {theirs} at an equal {equal} bits ({:.1}% fewer)",
        combined_db(&gammas),
        100.0 * (1.0 - ours as f64 / theirs as f64)
    );
    if let Some(csv) = &args.csv {
        let mut text = head.join(",") + "\n";
        for r in &rows {
            text += &(r
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(",")
                + "\n");
        }
        std::fs::write(csv, text).with_context(|| format!("cannot write {}", csv.display()))?;
    }
    let measured_weights = gammas.clone();
    activations_and_output(args, &cfg, &tensors, &mut out_plan, &measured_weights)?;
    if let Some(out) = &args.out {
        out_plan.save(out)?;
        println!("plan written to {}", out.display());
    }
    Ok(())
}

/// The activations' statistics on calibration samples (the checkpoint's
/// reals, forward in f32), their widths if asked, and the output SQNR at
/// the logits: predicted by Lin's 1/γ = Σ 1/γ_i from the measured SQNR
/// of every quantizer on the path (the input, each layer's weights,
/// `weight_db`, and its activations), and measured on the device (the
/// plan's fixed-point forward pass, rounding to nearest, against the f32
/// one).
fn activations_and_output(
    args: &Args,
    cfg: &TrainConfig,
    tensors: &[Array2<f32>],
    plan: &mut Plan,
    weight_db: &[f64],
) -> Result<()> {
    let data = args.data.load()?;
    let n = (args.calibration as usize).min(data.train.len());
    let idx: Vec<usize> = (0..n).collect();
    let pixels = data.train.pixels_f32(&idx);
    let float_cfg = TrainConfig {
        rounding: None,
        ..cfg.clone()
    };
    let mut float = Trainer::new(Float, float_cfg)?;
    float.start_from_reals(&args.checkpoint, cfg, tensors)?;
    let reference = float.layer_outputs(pixels.view())?;
    let names = cfg.arch.layer_names();
    println!("activations on {n} calibration samples (f32 forward pass of the checkpoint):");
    // The pixels' own quantizer is the first on the path.
    let px: Vec<f64> = pixels.iter().map(|&v| v as f64).collect();
    let fi = plan.input;
    let mut act_db = vec![format_db(&px, fi)];
    println!("input {fi}: measured {:.2} dB", act_db[0]);
    println!("layer | std | max|x| | kurtosis | predicted dB at 4 6 8 10 12 bits | format | predicted dB | measured dB");
    for (name, y) in names.iter().zip(&reference) {
        let values: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        let stats = Stats::of(&values);
        let lp = plan
            .layers
            .iter_mut()
            .find(|(l, _)| l == name)
            .map(|(_, lp)| lp)
            .with_context(|| format!("the plan has no layer {name}"))?;
        if let Some(wl) = args.activation_wl {
            lp.activations = best_format(wl, &values);
        }
        let f = lp.activations;
        let want = srsa_host::sqnr::predicted_db(f.wl, f.fl, stats.rms);
        let got = format_db(&values, f);
        act_db.push(got);
        let shown: Vec<String> = SHOWN
            .iter()
            .map(|&b| format!("{:.1}", best_fl(b, stats.rms, MAX_FL).1))
            .collect();
        println!(
            "{name} | {:.5} | {:.5} | {:.2} | {} | {f} | {want:.2} | {got:.2}",
            stats.std,
            stats.max_abs,
            stats.kurtosis,
            shown.join(" ")
        );
    }
    plan.check(&cfg.arch, float.lr_split().shift)
        .context("the chosen widths make a plan the device cannot run")?;
    // The fixed-point forward pass at the plan, on the device.
    let fixed_cfg = TrainConfig {
        plan: plan.clone(),
        rounding: Some(Rounding::Nearest),
        ..cfg.clone()
    };
    let crate::train_cmd::Device::Fixed(kind) = args.device.clone() else {
        bail!("--device must be golden or sim: the output SQNR is measured on fixed point");
    };
    let driver = crate::devices::open(kind, 8)?;
    let mut fixed = Trainer::new(Fixed::new(driver), fixed_cfg)?;
    fixed.start_from_reals(&args.checkpoint, cfg, tensors)?;
    let got = fixed.layer_outputs(pixels.view())?;
    let (zf, zq) = (reference.last(), got.last());
    let (Some(zf), Some(zq)) = (zf, zq) else {
        bail!("the network has no layers");
    };
    let zf: Vec<f64> = zf.iter().map(|&v| v as f64).collect();
    let zq: Vec<f64> = zq.iter().map(|&v| v as f64).collect();
    let measured = measured_db(&zf, &zq);
    let mut all = weight_db.to_vec();
    all.extend(&act_db);
    println!(
        "output SQNR at the logits: predicted {:.2} dB (1/γ = Σ 1/γ_i of the measured {} weight and {} input and activation quantizers), \
         measured {measured:.2} dB on {} ({n} samples)",
        combined_db(&all),
        weight_db.len(),
        act_db.len(),
        fixed.backend.describe()
    );
    Ok(())
}
