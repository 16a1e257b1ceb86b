//! Datasets of another image size: the bundled digits downsampled to
//! 14 x 14 (2 x 2 means) and written as plain IDX files by the test, then
//! trained on by `srsa train`, whose plain `mlp` takes its input layer from
//! the data; networks that cannot take the images say why.

mod common;

use common::TempDir;
use srsa_host::mnist::{self, Dataset, Split};
use std::path::Path;
use std::process::{Command, Output};

fn idx(path: &Path, magic: u32, dims: &[u32], body: &[u8]) {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend(body);
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Writes `d` downsampled by `f` in each direction into `dir`.
fn write_downsampled(dir: &Path, split: Split, d: &Dataset, f: usize) {
    let (rows, cols) = (d.rows / f, d.cols / f);
    let mut pixels = Vec::with_capacity(d.len() * rows * cols);
    for img in d.images.outer_iter() {
        for r in 0..rows {
            for c in 0..cols {
                let sum: u32 = (0..f * f)
                    .map(|i| img[(r * f + i / f) * d.cols + c * f + i % f] as u32)
                    .sum();
                pixels.push((sum / (f * f) as u32) as u8);
            }
        }
    }
    let n = d.len() as u32;
    idx(
        &dir.join(split.images_file()),
        0x0803,
        &[n, rows as u32, cols as u32],
        &pixels,
    );
    idx(&dir.join(split.labels_file()), 0x0801, &[n], &d.labels);
}

fn srsa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_srsa"))
        .args(args)
        .output()
        .expect("srsa runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn fourteen_by_fourteen_digits_train_and_misfits_are_named() {
    let dir = TempDir::new("14x14");
    for (split, n) in [(Split::Train, 8000), (Split::Test, 2000)] {
        let d = mnist::load_split(&mnist::bundled_dir(), split)
            .expect("bundled MNIST")
            .first(n);
        write_downsampled(&dir.0, split, &d, 2);
    }
    let data = dir.0.to_str().unwrap();
    let train = |net: &str| {
        srsa(&[
            "train", "--device", "golden", "--quiet", "--data", data, "--net", net, "--epochs",
            "3", "--seed", "3",
        ])
    };
    let o = train("mlp");
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("mlp:196-256-10"), "{out}");
    let err: f64 = out
        .lines()
        .find_map(|l| l.split("golden stochastic ").nth(1))
        .and_then(|v| v.trim().trim_end_matches('%').parse().ok())
        .unwrap_or_else(|| panic!("no test error in: {out}"));
    println!("14 x 14: test error {err}% after 3 epochs");
    assert!(err < 15.0, "14 x 14 digits did not train: {err}%\n{out}");

    // An explicit input layer must match; the CNN needs 16 x 16 at least.
    for (net, says) in [("mlp:784-256-10", "196"), ("cnn", "at least 16 x 16")] {
        let o = train(net);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "--net {net}: {out}");
        assert!(
            out.contains(says) && !out.contains("panicked"),
            "--net {net}: {out}"
        );
    }
    let o = train("mlp:196-32-10");
    assert!(o.status.success(), "{}", text(&o));
}
