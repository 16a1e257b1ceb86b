//! `srsa bench`'s packed-transfer figures: link words and simulated cycles
//! per training step of the default network on the simulated device, with
//! every tensor of the plan at 16, 8 and 4 bits, packed and unpacked.

use crate::devices;
use anyhow::{Context, Result};
use srsa_host::driver::Driver;
use srsa_host::train::{Arch, Data, Fixed, Format, Plan, TensorFormats, TrainConfig, Trainer};
use srsa_spec::numerics::Rounding;
use std::fmt::Write as _;

/// Every tensor at `wl` bits, with two integer bits (FL = WL - 2), so that
/// every layer's input still holds 1.0 and its weights stay resident.
fn plan_at(arch: &Arch, wl: u8) -> Plan {
    let mut plan = Plan::uniform(arch, TensorFormats::uniform(wl - 2));
    let at = |f: Format| Format { wl, ..f };
    plan.input = at(plan.input);
    for (_, l) in &mut plan.layers {
        l.weights = at(l.weights);
        l.activations = at(l.activations);
        l.gradients = at(l.gradients);
        l.update = at(l.update);
    }
    plan
}

/// Appends the table to `report`.
pub fn transfers(n: usize, batches: usize, data: &Data, report: &mut String) -> Result<()> {
    let arch = Arch::mlp(&[256]);
    let batch = 100;
    writeln!(
        report,
        "\n### Packed transfers (MLP 784-256-10, batch {batch}, stochastic rounding, {n}x{n}, \
         {batches} steps each)\n"
    )?;
    writeln!(
        report,
        "| every tensor at | transfers | link words per step | vs unpacked | cycles per step | vs unpacked |"
    )?;
    writeln!(report, "|---|---|---|---|---|---|")?;
    let part = Data {
        train: data.train.clone().first(batches * batch),
        test: data.test.clone().first(0),
        dir: data.dir.clone(),
    };
    for wl in [16u8, 8, 4] {
        let cfg = TrainConfig {
            plan: plan_at(&arch, wl),
            arch: arch.clone(),
            rounding: Some(Rounding::Stochastic),
            lr: 0.1,
            batch,
            seed: 1,
        };
        let mut unpacked = None;
        for packing in [false, true] {
            let driver = Driver::new(devices::sim(n)?).context("sim did not identify")?;
            let mut t = Trainer::new(Fixed::new(driver), cfg.clone())
                .with_context(|| format!("training at WL {wl}"))?;
            t.backend.driver_mut().set_packing(packing);
            // The parameters' first upload (in `new`) is not a step's.
            let w0 = t.backend.driver_mut().traffic().total();
            let c0 = t.backend.driver_mut().link_mut().cycles();
            t.fit(&part, t.epoch + 1, None, &mut ())?;
            let (w1, c1) = (
                t.backend.driver_mut().traffic().total(),
                t.backend.driver_mut().link_mut().cycles(),
            );
            // `fit` ends by reading the parameters back; that read again
            // is what to take off.
            t.sync_params()?;
            let sync_w = t.backend.driver_mut().traffic().total() - w1;
            let sync_c = t.backend.driver_mut().link_mut().cycles() - c1;
            let words = (w1 - w0 - sync_w) as f64 / batches as f64;
            let cycles = (c1 - c0 - sync_c) as f64 / batches as f64;
            let (vw, vc) = match unpacked {
                None => {
                    unpacked = Some((words, cycles));
                    ("1.00x".to_string(), "1.00x".to_string())
                }
                Some((w, c)) => (format!("{:.3}x", words / w), format!("{:.3}x", cycles / c)),
            };
            let how = if packing { "packed" } else { "16-bit" };
            writeln!(
                report,
                "| {wl} bits | {how} | {words:.0} | {vw} | {cycles:.0} | {vc} |"
            )?;
        }
    }
    Ok(())
}
