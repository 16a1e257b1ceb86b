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

/// `srsa bench --compressed FILE`: link words and simulated cycles to load
/// each layer of a compressed model (`srsa compress`) into buffer C of the
/// simulated n x n device, dense (16-bit WRITEs) against coded (EXPAND:
/// its codebook and pairs, the narrower pair width that fits), with each
/// coded load read back and compared with the dense one, word for word.
/// A layer larger than the buffer loads in row chunks, each both ways.
pub fn compressed_loads(n: usize, path: &std::path::Path, report: &mut String) -> Result<()> {
    use srsa_host::compression::file::Model;
    use srsa_spec::protocol::{pad, Buffer};
    let model = Model::load(path).with_context(|| format!("{}", path.display()))?;
    let mut d = Driver::new(devices::sim(n)?).context("sim did not identify")?;
    let (cols_side, cap) = (d.cols(), d.identity().buffer_elems as usize);
    writeln!(
        report,
        "\n### Compressed loads ({}, {n}x{n} simulated device)\n",
        path.display()
    )?;
    writeln!(
        report,
        "| layer | weights | kept | dense words | dense cycles | coded words | coded cycles | fewer words | fewer cycles | pairs |"
    )?;
    writeln!(report, "|---|---|---|---|---|---|---|---|---|---|")?;
    let (mut dense_total, mut coded_total) = (0u64, 0u64);
    for layer in &model.layers {
        let b = layer.weight_bits as u32;
        anyhow::ensure!(
            b <= srsa_spec::expand::MAX_INDEX_BITS && layer.codebook.len() <= 256,
            "{}: {b} weight bits: EXPAND takes codebooks of up to 8 bits",
            layer.name
        );
        // Codebook indices per weight, rows padded to the array's columns
        // as resident weights are laid out.
        let np = pad(layer.cols as u32, cols_side) as usize;
        let mut idx = vec![0u32; layer.rows * np];
        let mut pos: i64 = -1;
        for &(gap, i) in &layer.entries {
            pos += gap as i64 + 1;
            let (r, c) = (pos as usize / layer.cols, pos as usize % layer.cols);
            idx[r * np + c] = i;
        }
        let rows_per = (cap / np).min(layer.rows);
        anyhow::ensure!(
            rows_per > 0,
            "{}: a row of {np} is wider than the buffer",
            layer.name
        );
        let mut row = [0u64; 4]; // dense words, cycles; coded words, cycles
        let mut widths = vec![];
        for r0 in (0..layer.rows).step_by(rows_per) {
            let part = &idx[r0 * np..(r0 + rows_per).min(layer.rows) * np];
            let dense: Vec<i16> = part.iter().map(|&i| layer.codebook[i as usize]).collect();
            let (w0, c0) = (d.traffic().total(), d.link_mut().cycles());
            d.write_as(Buffer::C, 0, &dense, srsa_spec::protocol::Width::W16)?;
            let (w1, c1) = (d.traffic().total(), d.link_mut().cycles());
            // The region cleared first, so that the read-back shows EXPAND's
            // own stores (not counted).
            d.write_as(
                Buffer::C,
                0,
                &vec![1i16; part.len()],
                srsa_spec::protocol::Width::W16,
            )?;
            let (w2, c2) = (d.traffic().total(), d.link_mut().cycles());
            let pair = d.load_coded(Buffer::C, 0, true, &layer.codebook, part, b)?;
            let (w3, c3) = (d.traffic().total(), d.link_mut().cycles());
            let back = d.read(Buffer::C, 0, part.len())?;
            if let Some(e) = (0..back.len()).find(|&e| back[e] != dense[e]) {
                anyhow::bail!(
                    "{}: EXPAND stored {} at element {e} of rows {r0}.., the dense load {}",
                    layer.name,
                    back[e],
                    dense[e]
                );
            }
            for (s, x) in row.iter_mut().zip([w1 - w0, c1 - c0, w3 - w2, c3 - c2]) {
                *s += x;
            }
            widths.push(pair.bits());
        }
        widths.dedup();
        dense_total += row[0];
        coded_total += row[2];
        let kept = layer.entries.iter().filter(|e| e.1 != 0).count();
        writeln!(
            report,
            "| {} | {} | {:.1}% | {} | {} | {} | {} | {:.1}x | {:.2}x | {:?} bits |",
            layer.name,
            layer.rows * layer.cols,
            100.0 * kept as f64 / (layer.rows * layer.cols) as f64,
            row[0],
            row[1],
            row[2],
            row[3],
            row[0] as f64 / row[2] as f64,
            row[1] as f64 / row[3] as f64,
            widths
        )?;
    }
    writeln!(
        report,
        "| all | | | {dense_total} | | {coded_total} | | {:.1}x | | |",
        dense_total as f64 / coded_total as f64
    )?;
    Ok(())
}
