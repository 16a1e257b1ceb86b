//! `srsa experiment gupta`: Gupta et al.'s MNIST comparison of float with
//! 16-bit fixed point at several FL under round-to-nearest and stochastic
//! rounding, for the MLP and the CNN. Runs on the golden model for speed; a
//! sample of batches of every fixed-point run is re-run on the simulated RTL
//! from the same state and must give bit-identical weights.

use super::{par_map, recheck};
use crate::plot::{line_chart, Series};
use anyhow::{bail, Context, Result};
use srsa_host::driver::Driver;
use srsa_host::train::{
    Arch, Data, Epoch, Fixed, Float, Plan, TensorFormats, TrainConfig, Trainer,
};
use srsa_spec::numerics::Rounding;
use std::fmt::Write as _;
use std::time::Instant;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// The fully connected network (the paper's is 784-1000-1000-10).
    #[arg(long, default_value = "mlp:784-1000-1000-10")]
    pub mlp: Arch,
    /// Fractional lengths to compare (WL 16).
    #[arg(long, value_delimiter = ',', default_value = "8,10,14")]
    pub fl: Vec<u8>,
    #[command(flatten)]
    pub run: super::Common,
}

#[derive(Clone, Debug)]
struct Job {
    arch: Arch,
    epochs: u32,
    /// None: the f32 reference.
    fixed: Option<(u8, Rounding)>,
}

#[derive(Clone, Debug)]
struct Outcome {
    job: Job,
    curve: Vec<f64>,
    seconds: f64,
    rechecked: usize,
}

impl Job {
    fn label(&self) -> String {
        match self.fixed {
            None => "float".into(),
            Some((fl, m)) => format!("FL {fl} {m}"),
        }
    }

    fn net(&self) -> &'static str {
        match self.arch {
            Arch::Cnn { .. } => "CNN",
            Arch::Mlp { .. } => "MLP",
        }
    }

    /// What Gupta et al. report for this setting (DESIGN.md).
    fn paper(&self) -> &'static str {
        match (&self.arch, self.fixed) {
            (Arch::Mlp { .. }, None) => "1.4%",
            (Arch::Mlp { .. }, Some((14, _))) => "about float (1.4%)",
            (Arch::Mlp { .. }, Some((10, Rounding::Nearest))) => "about 1.7%",
            (Arch::Mlp { .. }, Some((8, Rounding::Nearest))) => "about 3.0%",
            (Arch::Mlp { .. }, Some((_, Rounding::Stochastic))) => "near float",
            (Arch::Cnn { .. }, None) => "0.77%",
            (Arch::Cnn { .. }, Some((14, Rounding::Stochastic))) => "0.83%",
            (Arch::Cnn { .. }, Some((_, Rounding::Nearest))) => "fails to converge",
            (Arch::Cnn { .. }, Some((_, Rounding::Stochastic))) => "not reported",
            _ => "not reported",
        }
    }
}

pub fn run(args: &Args) -> Result<()> {
    if args.run.setup.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let data = args.run.setup.data.load()?;
    std::fs::create_dir_all(&args.run.setup.out)
        .with_context(|| format!("cannot create {}", args.run.setup.out.display()))?;
    let mut jobs = vec![];
    for (_, arch, epochs) in args.run.nets(&args.mlp) {
        jobs.push(Job {
            arch: arch.clone(),
            epochs,
            fixed: None,
        });
        for &fl in &args.fl {
            for m in [Rounding::Nearest, Rounding::Stochastic] {
                jobs.push(Job {
                    arch: arch.clone(),
                    epochs,
                    fixed: Some((fl, m)),
                });
            }
        }
    }
    println!(
        "gupta: {} runs on {} training / {} test samples, {} at a time",
        jobs.len(),
        data.train.len(),
        data.test.len(),
        args.run.setup.jobs
    );
    let start = Instant::now();
    let results = par_map(args.run.setup.jobs, jobs, |job| {
        let o =
            run_job(args, &data, &job).with_context(|| format!("{} {}", job.net(), job.label()))?;
        println!(
            "  {} {}: test error {:.2}% after {} epochs ({:.0} s{})",
            job.net(),
            job.label(),
            100.0 * o.curve.last().copied().unwrap_or(f64::NAN),
            job.epochs,
            o.seconds,
            if o.rechecked > 0 {
                format!(", {} batch(es) bit-identical on the RTL", o.rechecked)
            } else {
                String::new()
            }
        );
        Ok(o)
    })?;
    write_reports(args, &results, start.elapsed().as_secs_f64())
}

fn config(args: &Args, job: &Job) -> TrainConfig {
    TrainConfig {
        arch: job.arch.clone(),
        plan: Plan::uniform(
            &job.arch,
            TensorFormats::uniform(job.fixed.map(|f| f.0).unwrap_or(14)),
        ),
        rounding: job.fixed.map(|f| f.1),
        lr: args.run.setup.sgd.lr,
        batch: args.run.setup.sgd.batch,
        seed: args.run.setup.sgd.seed,
    }
}

fn test_errors(history: Vec<Epoch>) -> Vec<f64> {
    history.iter().map(|e| e.test_error).collect()
}

fn run_job(args: &Args, data: &Data, job: &Job) -> Result<Outcome> {
    let start = Instant::now();
    let cfg = config(args, job);
    let mut rechecked = 0;
    let curve = match job.fixed {
        None => test_errors(Trainer::new(Float, cfg)?.fit(data, job.epochs, None, &mut ())?),
        Some(_) => {
            let golden = crate::devices::golden(args.run.setup.n)?;
            let mut t = Trainer::new(Fixed::new(Driver::new(golden)?), cfg)?;
            let last = job.epochs.saturating_sub(1);
            let mut curve = test_errors(t.fit(data, last, None, &mut ())?);
            if args.run.setup.recheck > 0 && job.epochs > 0 {
                rechecked = recheck(args.run.setup.n, args.run.setup.recheck, &mut t, data)?;
            }
            curve.extend(test_errors(t.fit(data, job.epochs, None, &mut ())?));
            // A re-check that covered the whole last epoch left fit nothing
            // to train, and so nothing to test.
            if curve.len() < job.epochs as usize {
                curve.push(t.evaluate(&data.test)?.error_rate());
            }
            curve
        }
    };
    Ok(Outcome {
        job: job.clone(),
        curve,
        seconds: start.elapsed().as_secs_f64(),
        rechecked,
    })
}

fn write_reports(args: &Args, results: &[Outcome], seconds: f64) -> Result<()> {
    let mut csv = String::from(
        "net,fl,rounding,epochs,test_error_final,test_error_last5_mean,test_error_best,seconds,rtl_rechecked_batches\n",
    );
    let mut curves = String::from("net,fl,rounding,epoch,test_error\n");
    let mut md = "| net | format | rounding | test error, last epoch | mean of last 5 epochs | best epoch | paper | RTL re-check |\n|---|---|---|---|---|---|---|---|\n".to_string();
    for o in results {
        let last = o.curve.last().copied().unwrap_or(f64::NAN);
        let best = o.curve.iter().copied().fold(f64::INFINITY, f64::min);
        // One epoch's figure is noisy (a bad last batch order moves it by
        // points at FL 8); the mean of the last five is the steadier one.
        let tail = &o.curve[o.curve.len().saturating_sub(5)..];
        let last5 = tail.iter().sum::<f64>() / tail.len().max(1) as f64;
        // The CSV names the format by its FL alone: `<IL,FL>` holds a comma.
        let (format, fl, rounding) = match o.job.fixed {
            None => ("float32".to_string(), "float".to_string(), "-".to_string()),
            Some((fl, m)) => (
                format!("<{},{}>", 16 - fl, fl),
                fl.to_string(),
                m.to_string(),
            ),
        };
        let _ = writeln!(
            csv,
            "{},{fl},{rounding},{},{last:.4},{last5:.4},{best:.4},{:.0},{}",
            o.job.net(),
            o.job.epochs,
            o.seconds,
            o.rechecked
        );
        for (e, v) in o.curve.iter().enumerate() {
            let _ = writeln!(curves, "{},{fl},{rounding},{},{v:.4}", o.job.net(), e + 1);
        }
        let _ = writeln!(
            md,
            "| {} | {format} | {rounding} | {:.2}% | {:.2}% | {:.2}% | {} | {} |",
            o.job.net(),
            100.0 * last,
            100.0 * last5,
            100.0 * best,
            o.job.paper(),
            if o.rechecked > 0 {
                format!("{} batch, bit-identical", o.rechecked)
            } else {
                "-".into()
            }
        );
    }
    let _ = writeln!(
        md,
        "\n{} runs, batch {}, lr {}, seed {}, {} s in all ({} at a time).",
        results.len(),
        args.run.setup.sgd.batch,
        args.run.setup.sgd.lr,
        args.run.setup.sgd.seed,
        seconds.round(),
        args.run.setup.jobs
    );
    let w = |name: &str, text: &str| args.run.write(name, text);
    w("gupta.csv", &csv)?;
    w("gupta-curves.csv", &curves)?;
    w("gupta.md", &md)?;
    for net in ["MLP", "CNN"] {
        let series: Vec<Series> = results
            .iter()
            .filter(|o| o.job.net() == net)
            .map(|o| Series {
                name: o.job.label(),
                points: o
                    .curve
                    .iter()
                    .enumerate()
                    .map(|(e, &v)| ((e + 1) as f64, 100.0 * v))
                    .collect(),
            })
            .collect();
        if !series.is_empty() {
            let svg = line_chart(
                &format!("{net} on MNIST: WL 16 fixed point vs float"),
                "epoch",
                "test error (%)",
                &series,
            );
            w(&format!("gupta-{}.svg", net.to_lowercase()), &svg)?;
        }
    }
    print!("{md}");
    println!(
        "wrote {}/gupta.md, gupta.csv, gupta-curves.csv and the plots",
        args.run.setup.out.display()
    );
    Ok(())
}
