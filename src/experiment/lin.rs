//! `srsa experiment lin`: Lin et al.'s comparison of equal weight widths
//! across layers with per-layer widths chosen by SQNR, over a range of bit
//! budgets, for the MLP and the CNN.
//!
//! Each network is trained once in f32. Every plan then quantises those
//! weights (rounding to nearest, each layer at the FL its statistics
//! predict best) and is tested as it stands, and again after a short
//! fine-tuning at the plan with stochastic rounding, every product on the
//! device, as Lin et al. fine-tune. Activations are the same in every plan
//! (`--activation-wl`), so the plans differ in their weights alone.

use super::{on_rtl, par_map, recheck};
use crate::plot::{line_chart, Series};
use anyhow::{bail, Context, Result};
use ndarray::{Array2, ArrayView2};
use srsa_host::bit_allocation::{best_format, format_db, weight_layers, Allocator, WeightLayer};
use srsa_host::driver::Driver;
use srsa_host::sqnr::{combined_db, measured_db};
use srsa_host::train::{Arch, Data, Fixed, Float, Plan, TensorFormats, TrainConfig, Trainer};
use srsa_spec::numerics::Rounding;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The fully connected network (LeNet-300-100 by default).
    #[arg(long, default_value = "mlp:784-300-100-10")]
    pub mlp: Arch,
    /// Average bits a weight to plan for. The equal-width scheme takes the
    /// whole numbers among them; the SQNR scheme takes every one.
    #[arg(long, value_delimiter = ',', default_value = "2,2.5,3,3.5,4,5,6,8")]
    pub budgets: Vec<f64>,
    /// Learning rate of the fine-tuning (smaller than training's: the
    /// quantised model is near a minimum already).
    #[arg(long, default_value_t = 0.02, value_parser = crate::train_cmd::parse_lr)]
    pub fine_tune_lr: f32,
    /// Epochs of fine-tuning at each plan (0: test the quantised model only).
    #[arg(long, default_value_t = 1)]
    pub fine_tune_epochs: u32,
    /// The activations' width in every plan (2..16), each layer's FL from
    /// its statistics.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(2..=16))]
    pub activation_wl: u8,
    /// Training samples the activations' statistics and the output SQNR
    /// are taken on.
    #[arg(long, default_value_t = 500)]
    pub calibration: usize,
    #[command(flatten)]
    pub run: super::Common,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Scheme {
    Equal,
    Sqnr,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Equal => "equal",
            Scheme::Sqnr => "SQNR",
        }
    }
}

/// A network trained in f32, and what its plans share.
struct Base {
    net: &'static str,
    cfg: TrainConfig,
    tensors: Vec<Array2<f32>>,
    layers: Vec<WeightLayer>,
    /// The float model's test error.
    float_error: f64,
    /// Calibration pixels and the f32 outputs of every layer on them.
    pixels: Array2<f32>,
    reference: Vec<Array2<f32>>,
    /// Activation bits a sample, summed over the layers' outputs.
    activation_bits: usize,
}

#[derive(Clone, Debug)]
struct Job {
    base: usize,
    scheme: Scheme,
    budget: f64,
    bits: Vec<u8>,
}

#[derive(Clone, Debug)]
struct Outcome {
    job: Job,
    weight_bits: usize,
    average: f64,
    predicted_db: f64,
    measured_db: f64,
    /// The same, of the f32 model with its weights alone quantised.
    weights_db: (f64, f64),
    error: f64,
    tuned_error: Option<f64>,
    rechecked: String,
    seconds: f64,
}

pub fn run(args: &Args) -> Result<()> {
    if args.run.setup.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    if args.budgets.iter().any(|b| !(2.0..=16.0).contains(b)) {
        bail!("--budgets: every budget must be 2 to 16 bits a weight");
    }
    let data = args.run.setup.data.load()?;
    std::fs::create_dir_all(&args.run.setup.out)
        .with_context(|| format!("cannot create {}", args.run.setup.out.display()))?;
    let start = Instant::now();
    let nets = args.run.nets(&args.mlp);
    let bases = par_map(args.run.setup.jobs, nets, |(net, arch, epochs)| {
        base(args, &data, net, arch, epochs)
    })?;
    let mut jobs = vec![];
    for (i, b) in bases.iter().enumerate() {
        let alloc = Allocator::new(&b.layers);
        for &budget in &args.budgets {
            let mut add = |scheme, bits: Vec<u8>| {
                let dup = jobs
                    .iter()
                    .any(|j: &Job| j.base == i && j.scheme == scheme && j.bits == bits);
                if !dup {
                    jobs.push(Job {
                        base: i,
                        scheme,
                        budget,
                        bits,
                    });
                }
            };
            if budget.fract() == 0.0 {
                add(Scheme::Equal, vec![budget as u8; b.layers.len()]);
            }
            if let Some(bits) = alloc.for_budget(budget) {
                add(Scheme::Sqnr, bits);
            }
        }
    }
    println!(
        "lin: {} plans on {} training / {} test samples, {} at a time",
        jobs.len(),
        data.train.len(),
        data.test.len(),
        args.run.setup.jobs
    );
    let results = par_map(args.run.setup.jobs, jobs, |job| {
        let o = run_job(args, &data, &bases[job.base], &job)?;
        println!(
            "  {} {} {:?}: {:.2} bits a weight, test error {:.2}%{}, output SQNR {:.2} dB predicted / {:.2} measured ({:.0} s)",
            bases[job.base].net,
            job.scheme.name(),
            job.bits,
            o.average,
            100.0 * o.error,
            o.tuned_error
                .map(|e| format!(", {:.2}% fine-tuned", 100.0 * e))
                .unwrap_or_default(),
            o.predicted_db,
            o.measured_db,
            o.seconds
        );
        Ok(o)
    })?;
    write_reports(args, &bases, &results, start.elapsed().as_secs_f64())
}

/// The base configuration: 16 bits everywhere at FL 14, but the pixels and
/// the activations at `--activation-wl`, each with the best FL for its
/// calibration statistics.
fn base(args: &Args, data: &Data, net: &'static str, arch: Arch, epochs: u32) -> Result<Base> {
    let cfg = TrainConfig {
        plan: Plan::uniform(&arch, TensorFormats::uniform(14)),
        arch,
        rounding: None,
        lr: args.run.setup.sgd.lr,
        batch: args.run.setup.sgd.batch,
        seed: args.run.setup.sgd.seed,
    };
    let start = Instant::now();
    let mut float = Trainer::new(Float, cfg.clone())?;
    let history = float.fit(data, epochs, None, &mut ())?;
    let float_error = match history.last() {
        Some(e) => e.test_error,
        None => float.evaluate(&data.test)?.error_rate(),
    };
    let tensors: Vec<Array2<f32>> = float
        .net
        .params()
        .into_iter()
        .flat_map(|p| [p.w.clone(), p.b.clone()])
        .collect();
    let layers = weight_layers(&cfg.arch, &tensors).map_err(anyhow::Error::msg)?;
    let n = args.calibration.clamp(1, data.train.len());
    let idx: Vec<usize> = (0..n).collect();
    let pixels = data.train.pixels_f32(&idx);
    let reference = float.layer_outputs(pixels.view())?;
    let mut plan = cfg.plan.clone();
    let wl = args.activation_wl;
    plan.input = best_format(wl, &flat(pixels.view()));
    let mut activation_bits = 0;
    for (y, (_, lp)) in reference.iter().zip(plan.layers.iter_mut()) {
        lp.activations = best_format(wl, &flat(y.view()));
        activation_bits += y.len() / n * wl as usize;
    }
    println!(
        "  {net} {}: f32 test error {:.2}% after {epochs} epochs ({:.0} s)",
        cfg.arch,
        100.0 * float_error,
        start.elapsed().as_secs_f64()
    );
    Ok(Base {
        net,
        cfg: TrainConfig { plan, ..cfg },
        tensors,
        layers,
        float_error,
        pixels,
        reference,
        activation_bits,
    })
}

fn run_job(args: &Args, data: &Data, b: &Base, job: &Job) -> Result<Outcome> {
    let start = Instant::now();
    let alloc = Allocator::new(&b.layers);
    let plan = alloc.apply(&b.cfg.plan, &job.bits);
    let cfg = |rounding| TrainConfig {
        plan: plan.clone(),
        rounding: Some(rounding),
        lr: args.fine_tune_lr,
        ..b.cfg.clone()
    };
    let fixed = |rounding| -> Result<Trainer<Fixed<_>>> {
        let golden = crate::devices::golden(args.run.setup.n)?;
        let mut t = Trainer::new(Fixed::new(Driver::new(golden)?), cfg(rounding))?;
        t.start_from_reals(Path::new(b.net), &b.cfg, &b.tensors)?;
        Ok(t)
    };
    // The quantised model as it stands, rounding to nearest.
    let mut t = fixed(Rounding::Nearest)?;
    let error = t.evaluate(&data.test)?.error_rate();
    let outputs = t.layer_outputs(b.pixels.view())?;
    let mut gammas: Vec<f64> = b
        .layers
        .iter()
        .zip(&job.bits)
        .map(|(l, &wl)| l.measured(wl))
        .collect();
    let weights_db = (combined_db(&gammas), weights_only_db(b, &plan)?);
    gammas.push(format_db(&flat(b.pixels.view()), plan.input));
    for (y, (_, lp)) in b.reference.iter().zip(&plan.layers) {
        gammas.push(format_db(&flat(y.view()), lp.activations));
    }
    let (Some(zf), Some(zq)) = (b.reference.last(), outputs.last()) else {
        bail!("the network has no layers");
    };
    let measured = measured_db(&flat(zf.view()), &flat(zq.view()));
    let mut rechecked = vec![];
    if args.run.setup.recheck > 0 {
        let mut s = on_rtl(args.run.setup.n, &mut t)?;
        let batch = b.pixels.slice(ndarray::s![
            ..args.run.setup.sgd.batch.min(b.pixels.nrows()),
            ..
        ]);
        let (want, got) = (t.layer_outputs(batch)?, s.layer_outputs(batch)?);
        for (layer, (w, g)) in want.iter().zip(&got).enumerate() {
            let first = w
                .iter()
                .zip(g)
                .enumerate()
                .find(|(_, (x, y))| x.to_bits() != y.to_bits());
            if let Some((i, (x, y))) = first {
                bail!(
                    "RTL re-check: layer {} output element {i}: golden {x} against RTL {y}",
                    layer + 1
                );
            }
        }
        rechecked.push(format!("{} logits rows", batch.nrows()));
    }
    // Fine-tuned at the plan, stochastic rounding, all on the device.
    let tuned_error = if args.fine_tune_epochs > 0 {
        let mut t = fixed(Rounding::Stochastic)?;
        if args.run.setup.recheck > 0 {
            let n = recheck(args.run.setup.n, args.run.setup.recheck, &mut t, data)?;
            rechecked.push(format!("{n} training batch(es)"));
        }
        let history = t.fit(data, args.fine_tune_epochs, None, &mut ())?;
        Some(match history.last() {
            Some(e) => e.test_error,
            None => t.evaluate(&data.test)?.error_rate(),
        })
    } else {
        None
    };
    Ok(Outcome {
        job: job.clone(),
        weight_bits: alloc.weight_bits(&job.bits),
        average: alloc.average(&job.bits),
        predicted_db: combined_db(&gammas),
        measured_db: measured,
        weights_db,
        error,
        tuned_error,
        rechecked: if rechecked.is_empty() {
            "-".into()
        } else {
            format!("{}: bit-identical", rechecked.join(" + "))
        },
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The output SQNR of the f32 model with only its weights quantised, as
/// `plan` has them: it separates the weights' share of the output noise
/// from the activations'.
fn weights_only_db(b: &Base, plan: &Plan) -> Result<f64> {
    let mut q = vec![];
    for (l, wb) in b.layers.iter().zip(b.tensors.chunks(2)) {
        let f = plan
            .layer(&l.name)
            .with_context(|| format!("the plan has no layer {}", l.name))?
            .weights;
        for t in wb {
            q.push(t.mapv(|x| f.held(x as f64) as f32));
        }
    }
    let mut t = Trainer::new(
        Float,
        TrainConfig {
            rounding: None,
            ..b.cfg.clone()
        },
    )?;
    t.start_from_reals(Path::new(b.net), &b.cfg, &q)?;
    let z = t.layer_outputs(b.pixels.view())?;
    let (Some(zf), Some(zq)) = (b.reference.last(), z.last()) else {
        bail!("the network has no layers");
    };
    Ok(measured_db(&flat(zf.view()), &flat(zq.view())))
}

fn flat(a: ArrayView2<f32>) -> Vec<f64> {
    a.iter().map(|&v| v as f64).collect()
}

/// The fewest weight bits at which `scheme` reaches `error` plus
/// `tolerance`, among `results` of one network.
fn fewest_bits(
    results: &[&Outcome],
    scheme: Scheme,
    error: f64,
    tolerance: f64,
    of: impl Fn(&Outcome) -> Option<f64>,
) -> Option<usize> {
    results
        .iter()
        .filter(|o| o.job.scheme == scheme)
        .filter(|o| of(o).is_some_and(|e| e <= error + tolerance))
        .map(|o| o.weight_bits)
        .min()
}

fn write_reports(args: &Args, bases: &[Base], results: &[Outcome], seconds: f64) -> Result<()> {
    let mut csv = String::from(
        "net,scheme,budget,bits,weight_bits,average_bits,activation_bits_per_sample,predicted_output_db,measured_output_db,weights_only_predicted_db,weights_only_measured_db,test_error,test_error_fine_tuned,rtl_recheck,seconds\n",
    );
    let mut md = String::from(
        "| net | scheme | budget | widths per layer | weight bits | bits a weight | test error, quantised | fine-tuned | output SQNR predicted / measured | weights alone, predicted / measured | RTL re-check |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let pct = |e: Option<f64>| {
        e.map(|e| format!("{:.2}%", 100.0 * e))
            .unwrap_or("-".into())
    };
    for o in results {
        let b = &bases[o.job.base];
        let bits: Vec<String> = o.job.bits.iter().map(|b| b.to_string()).collect();
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{:.3},{},{:.2},{:.2},{:.2},{:.2},{:.4},{},{},{:.0}",
            b.net,
            o.job.scheme.name(),
            o.job.budget,
            bits.join("-"),
            o.weight_bits,
            o.average,
            b.activation_bits,
            o.predicted_db,
            o.measured_db,
            o.weights_db.0,
            o.weights_db.1,
            o.error,
            o.tuned_error.map(|e| format!("{e:.4}")).unwrap_or_default(),
            o.rechecked,
            o.seconds
        );
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.2} | {:.2}% | {} | {:.1} / {:.1} dB | {:.1} / {:.1} dB | {} |",
            b.net,
            o.job.scheme.name(),
            o.job.budget,
            bits.join("-"),
            o.weight_bits,
            o.average,
            100.0 * o.error,
            pct(o.tuned_error),
            o.predicted_db,
            o.measured_db,
            o.weights_db.0,
            o.weights_db.1,
            o.rechecked
        );
    }
    md += "\n";
    for (i, b) in bases.iter().enumerate() {
        let _ = writeln!(
            md,
            "{} {}: f32 test error {:.2}%; activations {} bits a sample in every plan ({}-bit words).",
            b.net,
            b.cfg.arch,
            100.0 * b.float_error,
            b.activation_bits,
            args.activation_wl
        );
        let mine: Vec<&Outcome> = results.iter().filter(|o| o.job.base == i).collect();
        // The target: for each equal-width plan, the fewest bits an SQNR
        // plan needs to be within 0.2 points of its error.
        let tuned = |o: &Outcome| o.tuned_error;
        let quantised = |o: &Outcome| Some(o.error);
        for (label, of) in [
            ("quantised", &quantised as &dyn Fn(&Outcome) -> Option<f64>),
            ("fine-tuned", &tuned),
        ] {
            for e in mine.iter().filter(|o| o.job.scheme == Scheme::Equal) {
                let Some(err) = of(e) else { continue };
                let line = match fewest_bits(&mine, Scheme::Sqnr, err, 0.002, of) {
                    Some(bits) => format!(
                        "{bits} bits ({:+.1}%)",
                        100.0 * (bits as f64 / e.weight_bits as f64 - 1.0)
                    ),
                    None => "no SQNR plan in the sweep".into(),
                };
                let _ = writeln!(
                    md,
                    "- {label}: equal {} bits ({} weight bits, {:.2}%): the fewest SQNR weight bits within 0.2 points: {line}",
                    e.job.bits[0],
                    e.weight_bits,
                    100.0 * err
                );
            }
        }
        md += "\n";
    }
    let _ = writeln!(
        md,
        "{} plans, f32 training at lr {}, fine-tuning {} epoch(s) at lr {}, batch {}, seed {}; {} s in all ({} at a time).",
        results.len(),
        args.run.setup.sgd.lr,
        args.fine_tune_epochs,
        args.fine_tune_lr,
        args.run.setup.sgd.batch,
        args.run.setup.sgd.seed,
        seconds.round(),
        args.run.setup.jobs
    );
    let w = |name: &str, text: &str| args.run.write(name, text);
    w("lin.csv", &csv)?;
    w("lin.md", &md)?;
    for (i, b) in bases.iter().enumerate() {
        let mut series = vec![];
        for scheme in [Scheme::Equal, Scheme::Sqnr] {
            let mut pts: Vec<&Outcome> = results
                .iter()
                .filter(|o| o.job.base == i && o.job.scheme == scheme)
                .collect();
            pts.sort_by_key(|o| o.weight_bits);
            let curve = |name: String, of: &dyn Fn(&Outcome) -> Option<f64>| Series {
                name,
                points: pts
                    .iter()
                    .filter_map(|o| Some((o.weight_bits as f64 / 1000.0, 100.0 * of(o)?)))
                    .collect(),
            };
            series.push(curve(scheme.name().to_string(), &|o| Some(o.error)));
            if args.fine_tune_epochs > 0 {
                series.push(curve(format!("{} fine-tuned", scheme.name()), &|o| {
                    o.tuned_error
                }));
            }
        }
        let svg = line_chart(
            &format!("{} on MNIST: equal vs SQNR weight widths", b.net),
            "weight bits (thousands)",
            "test error (%)",
            &series,
        );
        w(&format!("lin-{}.svg", b.net.to_lowercase()), &svg)?;
    }
    print!("{md}");
    println!(
        "wrote {}/lin.md, lin.csv and the plots",
        args.run.setup.out.display()
    );
    Ok(())
}
