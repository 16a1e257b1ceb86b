//! Checkpoints: a short text header, then the parameters as raw
//! little-endian numbers (format in `docs/TRAINING.md`).
//!
//! ```text
//! srsa-checkpoint 3
//! arch mlp:784-256-10
//! element i16
//! rounding stochastic
//! input 16 14
//! layer fc1 16 14 16 14 16 14 16 14
//! layer fc2 16 14 16 14 16 14 16 14
//! lr 0.1
//! batch 100
//! seed 1
//! epoch 3
//! tensor 784 256
//! tensor 1 256
//! ...
//! crc32 <CRC-32 of every byte above and of the numbers below, 8 hex digits>
//! data
//! <every tensor, row-major, in the order listed>
//! ```

use super::backend::{Backend, Element, HostRounding};
use super::layers::TensorFormats;
use super::network::MAX_PARAMS;
use super::output::write_atomically;
use super::plan::{Format, LayerPlan, Plan};
use super::trainer::{rounding_name, TrainConfig, Trainer};
use ndarray::Array2;
use srsa_spec::numerics::value;
use std::path::{Path, PathBuf};

/// Version 4 adds the pruning masks: a `pruned L` line after the tensor
/// lines for each parameterised layer L (from 0) that has one, and its
/// bits after the tensors. Version 3 records the format plan (an `input`
/// line and a `layer` line per parameterised layer, in the network's
/// order) where version 2 had one `formats W A G` line; version 2 adds a
/// `crc32` line to version 1. Versions 1 to 3 are still read (without
/// masks; 1 and 2 as the uniform plan they describe).
const MAGIC: &str = "srsa-checkpoint 4";
const MAGIC_V3: &str = "srsa-checkpoint 3";
const MAGIC_V2: &str = "srsa-checkpoint 2";
const MAGIC_V1: &str = "srsa-checkpoint 1";
/// Key of version 2's checksum line: the CRC-32 of every header byte
/// before it and of the numbers after `data`.
const CRC: &str = "crc32";

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
    /// Resident weights could not be read from or written to the device.
    #[error("checkpoint {path}: the device did not give or take the weights: {source}")]
    Device {
        path: PathBuf,
        source: crate::train::BackendError,
    },
}

/// What a checkpoint holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint<E> {
    pub cfg: TrainConfig,
    pub epoch: u32,
    /// Per trainable layer: weights, then biases.
    pub tensors: Vec<Array2<E>>,
    /// Per trainable layer, the weights pruned for good (empty: none).
    pub masks: Vec<Option<Array2<bool>>>,
}

/// A mask's bits, least significant first, row-major.
fn put_mask(m: &Array2<bool>, out: &mut Vec<u8>) {
    let bits: Vec<bool> = m.iter().copied().collect();
    out.extend(
        bits.chunks(8)
            .map(|c| c.iter().rev().fold(0u8, |b, &x| b << 1 | x as u8)),
    );
}

fn mask_bytes(shape: (usize, usize)) -> usize {
    (shape.0 * shape.1).div_ceil(8)
}

/// Writes `t`'s configuration and parameters (resident ones read back from
/// the device first).
pub fn save<B: Backend>(path: &Path, t: &mut Trainer<B>) -> Result<(), CheckpointError> {
    t.net
        .sync_params(&mut t.backend)
        .map_err(|source| CheckpointError::Device {
            path: path.to_path_buf(),
            source,
        })?;
    let c = &t.cfg;
    let wf = |f: Format| format!("{} {}", f.wl, f.fl);
    let mut head = format!(
        "{MAGIC}\narch {}\nelement {}\nrounding {}\ninput {}\n",
        c.arch,
        B::E::NAME,
        rounding_name(c.rounding),
        wf(c.plan.input)
    );
    // In the network's order, which is how `load` reads them back.
    for name in c.arch.layer_names() {
        let p = c.plan.layer(&name).expect("the trainer checked the plan");
        head.push_str(&format!(
            "layer {name} {} {} {} {}\n",
            wf(p.weights),
            wf(p.activations),
            wf(p.gradients),
            wf(p.update)
        ));
    }
    head.push_str(&format!(
        "lr {}\nbatch {}\nseed {}\nepoch {}\n",
        c.lr, c.batch, c.seed, t.epoch
    ));
    let mut data = vec![];
    for p in t.net.params() {
        for a in [&p.w, &p.b] {
            head.push_str(&format!("tensor {} {}\n", a.nrows(), a.ncols()));
            for &v in a.iter() {
                v.put_le(&mut data);
            }
        }
    }
    for (i, m) in t.net.masks().iter().enumerate() {
        if let Some(m) = m {
            head.push_str(&format!("pruned {i}\n"));
            put_mask(m, &mut data);
        }
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(head.as_bytes());
    crc.update(&data);
    head.push_str(&format!("{CRC} {:08x}\ndata\n", crc.finalize()));
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
    let mut data = bytes.split_off(end + 6);
    bytes.truncate(end);
    let head = String::from_utf8(bytes).map_err(|_| invalid("header is not text".into()))?;
    let head = head.as_str();
    // Version 2's last header line is its checksum; the text it covers
    // ends with the newline before it.
    let version = match head.lines().next() {
        Some(MAGIC) => 4,
        Some(MAGIC_V3) => 3,
        Some(MAGIC_V2) => 2,
        _ => 1,
    };
    let (head, crc) = match head.lines().next() {
        Some(MAGIC | MAGIC_V3 | MAGIC_V2) => {
            let at = head
                .rfind(&format!("\n{CRC} "))
                .ok_or_else(|| invalid(format!("no '{CRC}' line before 'data'")))?;
            let hex = &head[at + CRC.len() + 2..];
            let crc =
                u32::from_str_radix(hex, 16).map_err(|_| invalid(format!("bad {CRC} '{hex}'")))?;
            (&head[..at + 1], Some(crc))
        }
        Some(MAGIC_V1) => (head, None),
        _ => {
            return Err(invalid(format!(
                "the first line is not '{MAGIC}' (or '{MAGIC_V2}', '{MAGIC_V1}')"
            )))
        }
    };
    let mut lines = head.lines();
    lines.next();
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
    let arch: crate::train::Arch = field("arch")?.parse().map_err(invalid)?;
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
    let formats = |line: String, n: usize, what: &str| -> Result<Vec<Format>, String> {
        let v: Vec<u8> = line
            .split(' ')
            .map(|s| num(s, what))
            .collect::<Result<_, _>>()?;
        if v.len() != 2 * n {
            return Err(format!("'{what}' needs {} numbers, not '{line}'", 2 * n));
        }
        Ok(v.chunks(2).map(|c| Format { wl: c[0], fl: c[1] }).collect())
    };
    let plan = if version >= 3 {
        let input = formats(field("input")?, 1, "input").map_err(invalid)?[0];
        let mut layers = vec![];
        for _ in arch.layer_names() {
            let line = field("layer")?;
            let (name, rest) = line
                .split_once(' ')
                .ok_or_else(|| invalid(format!("bad layer line 'layer {line}'")))?;
            let f = formats(rest.into(), 4, "layer").map_err(invalid)?;
            let p = LayerPlan {
                weights: f[0],
                activations: f[1],
                gradients: f[2],
                update: f[3],
            };
            layers.push((name.to_string(), p));
        }
        Plan { input, layers }
    } else {
        // What the `formats` line meant: the uniform plan at WL 16.
        let fl: Vec<u8> = field("formats")?
            .split(' ')
            .map(|s| num(s, "format"))
            .collect::<Result<_, _>>()
            .map_err(invalid)?;
        if fl.len() != 3 {
            return Err(invalid("'formats' needs three numbers".into()));
        }
        let f = TensorFormats {
            weights: fl[0],
            activations: fl[1],
            gradients: fl[2],
        };
        Plan::uniform(&arch, f)
    };
    let lr = num(&field("lr")?, "lr").map_err(invalid)?;
    let batch = num(&field("batch")?, "batch").map_err(invalid)?;
    let seed = num(&field("seed")?, "seed").map_err(invalid)?;
    let epoch = num(&field("epoch")?, "epoch").map_err(invalid)?;
    let mut shapes = vec![];
    let mut pruned: Vec<usize> = vec![];
    for line in lines {
        if let (4, Some(i)) = (version, line.strip_prefix("pruned ")) {
            let i: usize = num(i, "pruned layer").map_err(invalid)?;
            if 2 * i >= shapes.len() || pruned.last().is_some_and(|&l| l >= i) {
                return Err(invalid(format!(
                    "'{line}' names no layer of its tensors, or not in order"
                )));
            }
            pruned.push(i);
            continue;
        }
        if !pruned.is_empty() {
            return Err(invalid(format!("'{line}' after the 'pruned' lines")));
        }
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
    let tensor_bytes = want;
    // Bounded too: a mask has a bit for each weight already counted.
    let want = want
        + pruned
            .iter()
            .map(|&i| mask_bytes(shapes[2 * i]))
            .sum::<usize>();
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
    if let Some(crc) = crc {
        let mut h = crc32fast::Hasher::new();
        h.update(head.as_bytes());
        h.update(&data);
        let got = h.finalize();
        if got != crc {
            return Err(invalid(format!(
                "its contents have CRC-32 {got:08x}, its header says {crc:08x}: the file is damaged"
            )));
        }
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
    debug_assert_eq!(at, tensor_bytes);
    let mut masks = vec![];
    if !pruned.is_empty() {
        masks = vec![None; shapes.len() / 2];
        for &i in &pruned {
            let (r, c) = shapes[2 * i];
            let bytes = &data[at..at + mask_bytes((r, c))];
            masks[i] = Some(Array2::from_shape_fn((r, c), |(y, x)| {
                let k = y * c + x;
                bytes[k / 8] >> (k % 8) & 1 == 1
            }));
            at += mask_bytes((r, c));
        }
    }
    Ok(Checkpoint {
        cfg: TrainConfig {
            arch,
            plan,
            rounding,
            lr,
            batch,
            seed,
        },
        epoch,
        tensors,
        masks,
    })
}

/// The element type (`f32`, `i16`) a checkpoint file holds, from its
/// header.
fn element_of(path: &Path) -> Result<String, CheckpointError> {
    use std::io::Read;
    let mut head = vec![];
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_HEADER).read_to_end(&mut head))
        .map_err(|source| CheckpointError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    String::from_utf8_lossy(&head)
        .lines()
        .take_while(|l| *l != "data")
        .find_map(|l| l.strip_prefix("element ").map(str::to_string))
        .ok_or_else(|| CheckpointError::Invalid {
            path: path.to_path_buf(),
            why: "no 'element' line".into(),
        })
}

/// A checkpoint's parameters as reals, whichever element type it holds
/// (fixed-point words are read in its own plan's weight formats): its
/// configuration and, per trainable layer, weights then biases.
pub fn load_real(path: &Path) -> Result<(TrainConfig, Vec<Array2<f32>>), CheckpointError> {
    load_real_masked(path).map(|(cfg, tensors, _)| (cfg, tensors))
}

/// The pruning masks of a checkpoint, per trainable layer (empty: none).
pub type Masks = Vec<Option<Array2<bool>>>;

/// [`load_real`] and the checkpoint's pruning masks.
pub fn load_real_masked(
    path: &Path,
) -> Result<(TrainConfig, Vec<Array2<f32>>, Masks), CheckpointError> {
    match element_of(path)?.as_str() {
        "i16" => {
            let ck = load::<i16>(path)?;
            let names = ck.cfg.arch.layer_names();
            let fl = |i: usize| {
                names
                    .get(i / 2)
                    .and_then(|n| ck.cfg.plan.layer(n))
                    .map_or(0, |l| l.weights.fl)
            };
            let tensors = ck
                .tensors
                .iter()
                .enumerate()
                .map(|(i, t)| t.mapv(|x| value(x, fl(i)) as f32))
                .collect();
            Ok((ck.cfg, tensors, ck.masks))
        }
        _ => {
            let ck = load::<f32>(path)?;
            Ok((ck.cfg, ck.tensors, ck.masks))
        }
    }
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
        if ck.cfg.plan != self.cfg.plan {
            return Err(mismatch(format!(
                "its format plan is {}, this run's is {}",
                ck.cfg.plan, self.cfg.plan
            )));
        }
        if ck.cfg != self.cfg {
            return Err(mismatch(format!(
                "it was made by {:?}, this run is {:?}",
                ck.cfg, self.cfg
            )));
        }
        self.put_params(path, &ck.tensors, |_, _, src| src.clone())?;
        self.apply_masks(path, &ck.masks)?;
        self.epoch = ck.epoch;
        self.position = None;
        Ok(())
    }

    /// Prunes for good what a checkpoint's masks name (none: no mask).
    pub fn apply_masks(&mut self, path: &Path, masks: &Masks) -> Result<(), CheckpointError> {
        if masks.is_empty() {
            return Ok(());
        }
        self.net
            .set_masks(&mut self.backend, masks)
            .map_err(|source| CheckpointError::Device {
                path: path.to_path_buf(),
                source,
            })
    }

    /// Starts this run (at epoch 0, with its own configuration) from the
    /// parameters of another run's checkpoint of the same network: each
    /// tensor's reals rounded to nearest in this run's weight format, as
    /// Lin et al. fine-tune a trained model at a new set of widths.
    pub fn start_from(&mut self, path: &Path) -> Result<(), CheckpointError> {
        let (cfg, tensors, masks) = load_real_masked(path)?;
        self.start_from_reals(path, &cfg, &tensors)?;
        self.apply_masks(path, &masks)
    }

    /// [`Trainer::start_from`] with the checkpoint at `path` already read
    /// by [`load_real`].
    pub fn start_from_reals(
        &mut self,
        path: &Path,
        cfg: &TrainConfig,
        tensors: &[Array2<f32>],
    ) -> Result<(), CheckpointError> {
        let mismatch = |why: String| CheckpointError::Mismatch {
            path: path.to_path_buf(),
            why,
        };
        if cfg.arch != self.cfg.arch {
            return Err(mismatch(format!(
                "its network is {}, this run's is {} (give --net {})",
                cfg.arch, self.cfg.arch, cfg.arch
            )));
        }
        let formats = self
            .cfg
            .plan
            .resolve(&self.cfg.arch)
            .map_err(|e| mismatch(e.to_string()))?;
        self.put_params(path, tensors, |be, layer, src| {
            be.encode(src.view(), formats[layer].weights, HostRounding::Nearest)
        })?;
        self.epoch = 0;
        self.position = None;
        Ok(())
    }

    /// Sets every parameter from `tensors` (per trainable layer, weights
    /// then biases) through `put` (backend, layer, tensor), once their
    /// number and shapes match the network's, and writes them to the
    /// device.
    fn put_params<S>(
        &mut self,
        path: &Path,
        tensors: &[Array2<S>],
        put: impl Fn(&mut B, usize, &Array2<S>) -> Array2<B::E>,
    ) -> Result<(), CheckpointError> {
        let mismatch = |why: String| CheckpointError::Mismatch {
            path: path.to_path_buf(),
            why,
        };
        let mut params = self.net.params_mut();
        if tensors.len() != 2 * params.len() {
            return Err(mismatch(format!(
                "it has {} tensors, the network {}",
                tensors.len(),
                2 * params.len()
            )));
        }
        for (i, p) in params.iter_mut().enumerate() {
            for (j, dst) in [&mut p.w, &mut p.b].into_iter().enumerate() {
                let src = &tensors[2 * i + j];
                if src.dim() != dst.dim() {
                    return Err(mismatch(format!(
                        "tensor {} is {:?}, the network's is {:?}",
                        2 * i + j,
                        src.dim(),
                        dst.dim()
                    )));
                }
                *dst = put(&mut self.backend, i, src);
            }
        }
        self.net
            .upload_params(&mut self.backend)
            .map_err(|source| CheckpointError::Device {
                path: path.to_path_buf(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::trainer::tests::small_trainer as trainer;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("srsa-ck-{}-{name}", std::process::id()))
    }

    /// The same checkpoint as an older version writes it: the plan as a
    /// `formats W A G` line (it must be uniform), with a checksum in
    /// version 2 and none in version 1.
    fn older(bytes: &[u8], version: u32, f: TensorFormats) -> Vec<u8> {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let crc_at = text.find("\ncrc32 ").unwrap() + 1;
        let data_at = text.find("\ndata\n").unwrap() + 1;
        let mut head = format!("srsa-checkpoint {version}\n");
        for line in text[..crc_at].lines().skip(1) {
            if line.starts_with("input ") {
                let fl = format!("{} {} {}", f.weights, f.activations, f.gradients);
                head.push_str(&format!("formats {fl}\n"));
            } else if !line.starts_with("layer ") {
                head.push_str(&format!("{line}\n"));
            }
        }
        let data = &bytes[data_at + "data\n".len()..];
        if version == 2 {
            let mut h = crc32fast::Hasher::new();
            h.update(head.as_bytes());
            h.update(data);
            head.push_str(&format!("{CRC} {:08x}\n", h.finalize()));
        }
        head.push_str("data\n");
        [head.as_bytes(), data].concat()
    }

    /// The weights saved are the device's (resident layers are read back),
    /// a damaged byte is caught by the checksum, and version 1 and 2 files
    /// still load, as the uniform plan their formats describe.
    #[test]
    fn checksummed_round_trip_and_older_versions() {
        let mut t = trainer();
        assert_eq!(t.net.resident_layers(), (2, 2), "{:?}", t.streamed);
        // Changed on the device only: the save must read it back.
        let mut p = t.backend.resident_params(0).unwrap();
        p.w[[3, 2]] = 1234;
        t.backend.store_params(0, &p, None).unwrap();
        let path = temp("v3");
        save(&path, &mut t).unwrap();
        let ck = load::<i16>(&path).unwrap();
        assert_eq!(ck.tensors[0][[3, 2]], 1234);
        assert_eq!(ck.tensors[0], t.net.params()[0].w);
        assert_eq!(ck.cfg, t.cfg);

        let bytes = std::fs::read(&path).unwrap();
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x10;
        std::fs::write(&path, &bad).unwrap();
        let e = load::<i16>(&path).unwrap_err().to_string();
        assert!(e.contains("CRC-32") && e.contains("damaged"), "{e}");

        for version in [1, 2] {
            let old = older(&bytes, version, TensorFormats::uniform(12));
            std::fs::write(&path, &old).unwrap();
            assert_eq!(load::<i16>(&path).unwrap(), ck, "version {version}");
        }
        std::fs::remove_file(&path).ok();
    }

    /// Pruning masks come back from a checkpoint, a resumed run keeps them
    /// (its pruned weights still read 0 on the device), and a mask line
    /// naming no layer is refused by name.
    #[test]
    fn checkpoints_keep_the_pruning_masks() {
        let mut t = trainer();
        let shape = t.net.params()[1].w.dim();
        let mask = Array2::from_shape_fn(shape, |(i, j)| (i * 7 + j) % 3 == 0);
        t.net
            .set_masks(&mut t.backend, &[None, Some(mask.clone())])
            .unwrap();
        let path = temp("masks");
        save(&path, &mut t).unwrap();
        let ck = load::<i16>(&path).unwrap();
        assert_eq!(ck.masks, vec![None, Some(mask.clone())]);
        let mut again = trainer();
        again.restore(&path, ck).unwrap();
        assert_eq!(again.net.masks(), t.net.masks());
        let on_device = again.backend.resident_params(1).unwrap();
        assert!(on_device.w.iter().zip(&mask).all(|(&w, &m)| !m || w == 0));
        // Damage the mask line: a layer the tensors do not have.
        let text = std::fs::read(&path).unwrap();
        let at = text.windows(9).position(|w| w == b"pruned 1\n").unwrap();
        let mut bad = text.clone();
        bad[at + 7] = b'5';
        std::fs::write(&path, &bad).unwrap();
        let e = load::<i16>(&path).unwrap_err().to_string();
        assert!(e.contains("pruned 5"), "{e}");
        std::fs::remove_file(&path).ok();
    }

    /// A plan with narrow and mixed formats comes back from a checkpoint as
    /// it went in, and a run with another plan refuses to resume from it.
    #[test]
    fn checkpoints_record_the_plan() {
        let mut t = trainer();
        let uniform = t.cfg.plan.clone();
        let mut plan = uniform.clone();
        plan.layers[0].1.weights = Format { wl: 6, fl: 4 };
        plan.layers[1].1.gradients = Format { wl: 8, fl: 9 };
        plan.layers[1].1.update = Format { wl: 10, fl: 11 };
        let cfg = TrainConfig {
            plan: plan.clone(),
            ..t.cfg.clone()
        };
        let dev = crate::driver::Driver::new(crate::golden::GoldenDevice::new(4, 1 << 16)).unwrap();
        let mut narrow = Trainer::new(crate::train::Fixed::new(dev), cfg).unwrap();
        let path = temp("plan");
        save(&path, &mut narrow).unwrap();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert!(
            text.contains("\nlayer fc1 6 4 16 12 16 12 16 12\n"),
            "{text}"
        );
        let ck = load::<i16>(&path).unwrap();
        assert_eq!(ck.cfg.plan, plan);
        narrow.restore(&path, ck.clone()).unwrap();
        let e = t.restore(&path, ck).unwrap_err().to_string();
        assert!(e.contains("format plan") && e.contains("<6, 4>"), "{e}");
        std::fs::remove_file(&path).ok();
    }

    /// A run at another plan starts from a checkpoint's reals, each rounded
    /// to nearest in its own weight format (a 6-bit layer saturates), on
    /// the device too; from a float checkpoint the same; another network
    /// is refused by name.
    #[test]
    fn a_run_starts_from_another_plans_parameters() {
        let mut t = trainer();
        let path = temp("start");
        save(&path, &mut t).unwrap();
        let (from, reals) = load_real(&path).unwrap();
        assert_eq!(from, t.cfg);
        let fl = t.cfg.plan.layers[0].1.weights.fl;
        assert_eq!(
            reals[0][[3, 2]],
            value(t.net.params()[0].w[[3, 2]], fl) as f32
        );

        let mut plan = t.cfg.plan.clone();
        let narrow = Format { wl: 6, fl: 4 };
        plan.layers[0].1.weights = narrow;
        let cfg = TrainConfig {
            plan,
            seed: 99,
            ..t.cfg.clone()
        };
        let dev = crate::driver::Driver::new(crate::golden::GoldenDevice::new(4, 1 << 16)).unwrap();
        let mut u = Trainer::new(crate::train::Fixed::new(dev), cfg).unwrap();
        u.start_from(&path).unwrap();
        u.sync_params().unwrap();
        let want = reals[0].mapv(|x| {
            srsa_spec::numerics::quantize_with(
                x as f64,
                narrow.fl,
                narrow.wl,
                srsa_spec::numerics::Rounding::Nearest,
                0,
            )
        });
        assert_eq!(u.net.params()[0].w, want, "fc1 at <6, 4>");
        assert_eq!(
            u.net.params()[1].w,
            t.net.params()[1].w,
            "fc2 keeps its format"
        );
        assert_eq!(u.epoch, 0);

        let float = TrainConfig {
            rounding: None,
            ..t.cfg.clone()
        };
        let mut f = Trainer::new(crate::train::Float, float.clone()).unwrap();
        f.start_from(&path).unwrap();
        assert_eq!(f.net.params()[0].w, reals[0]);

        let other = TrainConfig {
            arch: crate::train::Arch::mlp(&[8]),
            ..float
        };
        let other = TrainConfig {
            plan: Plan::uniform(&other.arch, TensorFormats::uniform(12)),
            ..other
        };
        let mut g = Trainer::new(crate::train::Float, other).unwrap();
        let e = g.start_from(&path).unwrap_err().to_string();
        assert!(e.contains("its network is") && e.contains("--net"), "{e}");
        std::fs::remove_file(&path).ok();
    }
}
