//! Checkpoints: a short text header, then the parameters as raw
//! little-endian numbers (format in `docs/TRAINING.md`).
//!
//! ```text
//! srsa-checkpoint 1
//! arch mlp:784-256-10
//! element i16
//! rounding stochastic
//! formats 14 14 14
//! lr 0.1
//! batch 100
//! seed 1
//! epoch 3
//! tensor 784 256
//! tensor 1 256
//! ...
//! data
//! <every tensor, row-major, in the order listed>
//! ```

use super::backend::{Backend, Element};
use super::layers::TensorFormats;
use super::network::MAX_PARAMS;
use super::output::write_atomically;
use super::trainer::{rounding_name, TrainConfig, Trainer};
use ndarray::Array2;
use std::path::{Path, PathBuf};

const MAGIC: &str = "srsa-checkpoint 1";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot read checkpoint {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write checkpoint {path}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid checkpoint: {why}")]
    Invalid { path: PathBuf, why: String },
    #[error("checkpoint {path} does not fit this run: {why}")]
    Mismatch { path: PathBuf, why: String },
}

/// What a checkpoint holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint<E> {
    pub cfg: TrainConfig,
    pub epoch: u32,
    /// Per trainable layer: weights, then biases.
    pub tensors: Vec<Array2<E>>,
}

pub fn save<B: Backend>(path: &Path, t: &Trainer<B>) -> Result<(), CheckpointError> {
    let c = &t.cfg;
    let f = c.formats;
    let mut head = format!(
        "{MAGIC}\narch {}\nelement {}\nrounding {}\nformats {} {} {}\nlr {}\nbatch {}\nseed {}\nepoch {}\n",
        c.arch,
        B::E::NAME,
        rounding_name(c.rounding),
        f.weights,
        f.activations,
        f.gradients,
        c.lr,
        c.batch,
        c.seed,
        t.epoch
    );
    let mut data = vec![];
    for p in t.net.params() {
        for a in [&p.w, &p.b] {
            head.push_str(&format!("tensor {} {}\n", a.nrows(), a.ncols()));
            for &v in a.iter() {
                v.put_le(&mut data);
            }
        }
    }
    head.push_str("data\n");
    let mut bytes = head.into_bytes();
    bytes.extend(data);
    write_atomically(path, &bytes).map_err(|source| CheckpointError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Longest header a checkpoint may have: a few lines per layer.
const MAX_HEADER: u64 = 1 << 16;

pub fn load<E: Element>(path: &Path) -> Result<Checkpoint<E>, CheckpointError> {
    use std::io::Read;
    let rerr = |source| CheckpointError::Read {
        path: path.to_path_buf(),
        source,
    };
    let invalid = |why: String| CheckpointError::Invalid {
        path: path.to_path_buf(),
        why,
    };
    // Read the header alone first, so a file that is not a checkpoint (or
    // never ends, like /dev/zero) costs at most MAX_HEADER bytes.
    let mut file = std::fs::File::open(path).map_err(rerr)?;
    let mut bytes = vec![];
    (&mut file)
        .take(MAX_HEADER)
        .read_to_end(&mut bytes)
        .map_err(rerr)?;
    let end = bytes
        .windows(6)
        .position(|w| w == b"\ndata\n")
        .ok_or_else(|| invalid(format!("no 'data' line in its first {MAX_HEADER} bytes")))?;
    let head =
        std::str::from_utf8(&bytes[..end]).map_err(|_| invalid("header is not text".into()))?;
    let mut lines = head.lines();
    if lines.next() != Some(MAGIC) {
        return Err(invalid(format!("the first line is not '{MAGIC}'")));
    }
    let mut field = |key: &str| -> Result<String, CheckpointError> {
        let line = lines
            .next()
            .ok_or_else(|| invalid(format!("missing '{key}' line")))?;
        line.strip_prefix(key)
            .and_then(|v| v.strip_prefix(' '))
            .map(str::to_string)
            .ok_or_else(|| invalid(format!("expected '{key} ...', found '{line}'")))
    };
    fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
        s.parse().map_err(|_| format!("bad {what} '{s}'"))
    }
    let arch = field("arch")?.parse().map_err(invalid)?;
    let element = field("element")?;
    if element != E::NAME {
        return Err(CheckpointError::Mismatch {
            path: path.to_path_buf(),
            why: format!("it holds {element} numbers, this backend uses {}", E::NAME),
        });
    }
    let rounding = match field("rounding")?.as_str() {
        "float" => None,
        mode => Some(mode.parse().map_err(invalid)?),
    };
    let fl: Vec<u8> = field("formats")?
        .split(' ')
        .map(|s| num(s, "format"))
        .collect::<Result<_, _>>()
        .map_err(invalid)?;
    if fl.len() != 3 {
        return Err(invalid("'formats' needs three numbers".into()));
    }
    let lr = num(&field("lr")?, "lr").map_err(invalid)?;
    let batch = num(&field("batch")?, "batch").map_err(invalid)?;
    let seed = num(&field("seed")?, "seed").map_err(invalid)?;
    let epoch = num(&field("epoch")?, "epoch").map_err(invalid)?;
    let mut shapes = vec![];
    for line in lines {
        let dims: Vec<usize> = line
            .strip_prefix("tensor ")
            .ok_or_else(|| invalid(format!("expected 'tensor R C', found '{line}'")))?
            .split(' ')
            .map(|s| num(s, "dimension"))
            .collect::<Result<_, _>>()
            .map_err(invalid)?;
        if dims.len() != 2 {
            return Err(invalid(format!("bad tensor line '{line}'")));
        }
        shapes.push((dims[0], dims[1]));
    }
    // The header's sizes decide how much is read: checked, and bounded by
    // the largest network there can be.
    let want = shapes
        .iter()
        .try_fold(0usize, |sum, &(r, c)| {
            r.checked_mul(c)
                .and_then(|n| n.checked_mul(E::BYTES))
                .and_then(|n| sum.checked_add(n))
        })
        .filter(|&n| n <= MAX_PARAMS * E::BYTES)
        .ok_or_else(|| invalid("the tensors it lists are larger than any network".into()))?;
    let mut data = bytes.split_off(end + 6);
    if data.len() < want {
        (&mut file)
            .take((want - data.len()) as u64 + 1)
            .read_to_end(&mut data)
            .map_err(rerr)?;
    }
    let trailing = data.len() > want || file.read(&mut [0u8]).map_err(rerr)? != 0;
    if data.len() != want || trailing {
        let has = if trailing {
            "more".to_string()
        } else {
            data.len().to_string()
        };
        return Err(invalid(format!(
            "the header lists {want} bytes of numbers, the file has {has}"
        )));
    }
    let mut at = 0;
    let tensors = shapes
        .iter()
        .map(|&(r, c)| {
            let a = Array2::from_shape_fn((r, c), |(i, j)| {
                let o = at + (i * c + j) * E::BYTES;
                E::get_le(&data[o..o + E::BYTES])
            });
            at += r * c * E::BYTES;
            a
        })
        .collect();
    Ok(Checkpoint {
        cfg: TrainConfig {
            arch,
            formats: TensorFormats {
                weights: fl[0],
                activations: fl[1],
                gradients: fl[2],
            },
            rounding,
            lr,
            batch,
            seed,
        },
        epoch,
        tensors,
    })
}

impl<B: Backend> Trainer<B> {
    /// Continues from a checkpoint made by the same configuration (build
    /// the trainer from `ck.cfg`).
    pub fn restore(&mut self, path: &Path, ck: Checkpoint<B::E>) -> Result<(), CheckpointError> {
        let mismatch = |why: String| CheckpointError::Mismatch {
            path: path.to_path_buf(),
            why,
        };
        if ck.cfg.rounding != self.cfg.rounding {
            return Err(mismatch(format!(
                "it was trained with {} rounding, this run uses {}",
                rounding_name(ck.cfg.rounding),
                rounding_name(self.cfg.rounding)
            )));
        }
        if ck.cfg != self.cfg {
            return Err(mismatch(format!(
                "it was made by {:?}, this run is {:?}",
                ck.cfg, self.cfg
            )));
        }
        let mut params = self.net.params_mut();
        if ck.tensors.len() != 2 * params.len() {
            return Err(mismatch(format!(
                "it has {} tensors, the network {}",
                ck.tensors.len(),
                2 * params.len()
            )));
        }
        for (i, p) in params.iter_mut().enumerate() {
            for (j, dst) in [&mut p.w, &mut p.b].into_iter().enumerate() {
                let src = &ck.tensors[2 * i + j];
                if src.dim() != dst.dim() {
                    return Err(mismatch(format!(
                        "tensor {} is {:?}, the network's is {:?}",
                        2 * i + j,
                        src.dim(),
                        dst.dim()
                    )));
                }
                dst.assign(src);
            }
        }
        self.epoch = ck.epoch;
        self.position = None;
        Ok(())
    }
}
