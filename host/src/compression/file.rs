//! The compressed-model file (`docs/COMPRESSION.md` is its full
//! description): little-endian, a magic and version, the network and its
//! plan, then per layer its codebook, dense bias, code-length tables and
//! the Huffman-coded entries, and a CRC-32 of all that precedes it.

use super::huffman::{codes, BitReader, BitWriter, Decoder};
use super::Layer;
use crate::train::{Arch, Float, Plan};
use srsa_spec::numerics::Rounding;
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"SRSA-DC\n";
pub const VERSION: u32 = 1;
/// The largest file read: a bound well above any network `Arch` accepts
/// (64 M parameters at a few bytes each), checked before reading.
pub const MAX_FILE: u64 = 1 << 30;

/// A compressed model: what `srsa eval` needs to run it.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub arch: Arch,
    pub plan: Plan,
    /// The rounding the model was trained with (`None`: f32).
    pub rounding: Option<Rounding>,
    pub layers: Vec<Layer>,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a usable compressed model: {why}")]
    Bad { path: PathBuf, why: String },
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!("truncated in {what} at byte {}", self.pos));
        };
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i16s(&mut self, n: usize, what: &str) -> Result<Vec<i16>, String> {
        let b = self.take(n.checked_mul(2).ok_or("size overflow")?, what)?;
        Ok(b.chunks(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect())
    }
    fn text(&mut self, what: &str) -> Result<String, String> {
        let n = self.u32(what)? as usize;
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
    }
}

fn put_u32(out: &mut Vec<u8>, v: usize) {
    out.extend((v as u32).to_le_bytes());
}

fn put_text(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len());
    out.extend(s.as_bytes());
}

fn rounding_name(r: Option<Rounding>) -> String {
    r.map(|r| r.to_string()).unwrap_or_else(|| "float".into())
}

impl Model {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend(VERSION.to_le_bytes());
        put_text(&mut out, &self.arch.to_string());
        put_text(&mut out, &self.plan.to_toml());
        put_text(&mut out, &rounding_name(self.rounding));
        put_u32(&mut out, self.layers.len());
        for l in &self.layers {
            put_text(&mut out, &l.name);
            put_u32(&mut out, l.rows);
            put_u32(&mut out, l.cols);
            out.push(l.weight_bits);
            out.push(l.index_bits);
            put_u32(&mut out, l.codebook.len());
            out.extend(l.codebook.iter().flat_map(|v| v.to_le_bytes()));
            put_u32(&mut out, l.bias.len());
            out.extend(l.bias.iter().flat_map(|v| v.to_le_bytes()));
            let (gaps, idx) = l.counts();
            let (gl, il) = (
                super::huffman::code_lengths(&gaps),
                super::huffman::code_lengths(&idx),
            );
            out.extend(&gl);
            put_u32(&mut out, il.len());
            out.extend(&il);
            let (gc, ic) = (codes(&gl), codes(&il));
            let mut w = BitWriter::default();
            for &(g, i) in &l.entries {
                w.put(gc[g as usize].0, gc[g as usize].1);
                w.put(ic[i as usize].0, ic[i as usize].1);
            }
            put_u32(&mut out, l.entries.len());
            put_u32(&mut out, w.bytes.len());
            out.extend(&w.bytes);
        }
        let crc = crc32fast::hash(&out);
        out.extend(crc.to_le_bytes());
        out
    }

    /// Parses and checks a whole file's bytes: the checksum first, then
    /// every field against the network its header names.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, String> {
        if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
            return Err("no SRSA compressed-model magic at its start".into());
        }
        let (body, tail) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        if crc32fast::hash(body) != stored {
            return Err("bad checksum: the file is damaged or truncated".into());
        }
        let mut r = Reader {
            bytes: body,
            pos: MAGIC.len(),
        };
        let version = r.u32("the version")?;
        if version != VERSION {
            return Err(format!("version {version}, this build reads {VERSION}"));
        }
        let arch: Arch = r.text("the network")?.parse()?;
        let plan = Plan::from_toml(&r.text("the plan")?).map_err(|e| e.to_string())?;
        let rounding = match r.text("the rounding")?.as_str() {
            "float" => None,
            s => Some(s.parse::<Rounding>()?),
        };
        // The network's own shapes: what every layer must match. (Its
        // size is bounded by `Arch`, so building it bounds the reading.)
        let formats = plan.resolve(&arch).map_err(|e| e.to_string())?;
        let net = crate::train::network::Network::<f32>::init(&arch, &mut Float, &formats, 0);
        let shapes: Vec<(usize, usize, usize)> = net
            .params()
            .iter()
            .map(|p| (p.w.nrows(), p.w.ncols(), p.b.len()))
            .collect();
        let names = arch.layer_names();
        let count = r.u32("the layer count")? as usize;
        if count != names.len() {
            return Err(format!(
                "{count} layers, its network {arch} has {}",
                names.len()
            ));
        }
        let mut layers = vec![];
        for (name, &(rows, cols, nb)) in names.iter().zip(&shapes) {
            let got = r.text("a layer name")?;
            if &got != name {
                return Err(format!("layer {got} where {arch} has {name}"));
            }
            let (rr, cc) = (r.u32("rows")? as usize, r.u32("columns")? as usize);
            if (rr, cc) != (rows, cols) {
                return Err(format!(
                    "{name} is {rr} x {cc}, the network's is {rows} x {cols}"
                ));
            }
            let (wb, ib) = (r.u8("weight bits")?, r.u8("index bits")?);
            if !(1..=16).contains(&wb) || !(1..=16).contains(&ib) {
                return Err(format!(
                    "{name}: weight bits {wb}, index bits {ib} (each 1..16)"
                ));
            }
            let n = r.u32("the codebook size")? as usize;
            if n == 0 || n > 1 << wb {
                return Err(format!(
                    "{name}: a codebook of {n} entries for {wb}-bit indices"
                ));
            }
            let codebook = r.i16s(n, "the codebook")?;
            if codebook[0] != 0 {
                return Err(format!(
                    "{name}: codebook entry 0 is {}, not 0",
                    codebook[0]
                ));
            }
            let b = r.u32("the bias size")? as usize;
            if b != nb {
                return Err(format!("{name}: {b} biases, the network has {nb}"));
            }
            let bias = r.i16s(b, "the bias")?;
            let gl = r.take(1 << ib, "the gap code lengths")?.to_vec();
            let symbols = r.u32("the index symbol count")? as usize;
            if symbols > 1 << wb {
                return Err(format!(
                    "{name}: {symbols} index symbols for {wb}-bit indices"
                ));
            }
            let il = r.take(symbols, "the index code lengths")?.to_vec();
            let (Some(gd), Some(id)) = (Decoder::new(&gl), Decoder::new(&il)) else {
                return Err(format!("{name}: a code-length table is not a prefix code"));
            };
            let entries_n = r.u32("the entry count")? as usize;
            if entries_n > rows * cols {
                return Err(format!(
                    "{name}: {entries_n} entries for {} weights",
                    rows * cols
                ));
            }
            let payload_n = r.u32("the payload size")? as usize;
            let payload = r.take(payload_n, "the coded entries")?;
            let mut bits = BitReader::new(payload);
            let mut entries = Vec::with_capacity(entries_n);
            for e in 0..entries_n {
                let (Some(g), Some(i)) = (gd.next(&mut bits), id.next(&mut bits)) else {
                    return Err(format!(
                        "{name}: the coded entries end at entry {e} of {entries_n}"
                    ));
                };
                entries.push((g as u32, i as u32));
            }
            let layer = Layer {
                name: name.clone(),
                rows,
                cols,
                weight_bits: wb,
                index_bits: ib,
                codebook,
                entries,
                bias,
            };
            layer.weights()?;
            layers.push(layer);
        }
        if r.pos != body.len() {
            return Err(format!("{} bytes after the last layer", body.len() - r.pos));
        }
        Ok(Model {
            arch,
            plan,
            rounding,
            layers,
        })
    }

    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        std::fs::write(path, self.to_bytes()).map_err(|source| FileError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    pub fn load(path: &Path) -> Result<Model, FileError> {
        let io = |source| FileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_FILE {
            return Err(FileError::Bad {
                path: path.to_path_buf(),
                why: format!("{len} bytes, more than any network needs ({MAX_FILE})"),
            });
        }
        let bytes = std::fs::read(path).map_err(io)?;
        Model::from_bytes(&bytes).map_err(|why| FileError::Bad {
            path: path.to_path_buf(),
            why,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{kmeans::Init, Settings};
    use super::*;
    use crate::train::TensorFormats;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};

    fn model(seed: u64) -> Model {
        let arch = Arch::mlp(&[40]);
        let plan = Plan::uniform(&arch, TensorFormats::uniform(12));
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let shapes = [("fc1", 784, 40), ("fc2", 40, 10)];
        let layers = shapes
            .iter()
            .map(|&(name, r, c)| {
                let w = Array2::from_shape_fn((r, c), |_| rng.gen_range(-600i16..600));
                let b: Vec<i16> = (0..c).map(|_| rng.gen_range(-50..50)).collect();
                let s = Settings {
                    quality: 0.8,
                    weight_bits: 4,
                    index_bits: 4,
                };
                Layer::compress(name, &w, &b, 16, s, Init::Linear, seed)
            })
            .collect();
        Model {
            arch,
            plan,
            rounding: Some(Rounding::Stochastic),
            layers,
        }
    }

    #[test]
    fn round_trip_is_exact_and_damage_is_named() {
        let seed: u64 = rand::random();
        println!("seed {seed}");
        let m = model(seed);
        let bytes = m.to_bytes();
        let back = Model::from_bytes(&bytes).unwrap();
        assert_eq!(back, m);
        for (a, b) in back.layers.iter().zip(&m.layers) {
            assert_eq!(a.weights().unwrap(), b.weights().unwrap());
        }
        let err = |b: &[u8]| Model::from_bytes(b).unwrap_err();
        assert!(err(&bytes[..bytes.len() - 9]).contains("checksum"));
        let mut flipped = bytes.clone();
        flipped[100] ^= 4;
        assert!(err(&flipped).contains("checksum"));
        assert!(err(b"not a model").contains("magic"));
        // Well-formed but wrong: re-checksummed after the change, so the
        // field checks speak.
        let reseal = |mut b: Vec<u8>| {
            b.truncate(b.len() - 4);
            let c = crc32fast::hash(&b);
            b.extend(c.to_le_bytes());
            b
        };
        let mut other = m.clone();
        other.arch = Arch::mlp(&[41]);
        other.plan = Plan::uniform(&other.arch, TensorFormats::uniform(12));
        assert!(err(&other.to_bytes()).contains("784 x 40, the network's is 784 x 41"));
        let mut bad = m.clone();
        bad.layers[1].codebook.truncate(3);
        let e = err(&bad.to_bytes());
        assert!(e.contains("fc2: entry") && e.contains("past its 3"), "{e}");
        let mut short = m.to_bytes();
        short.truncate(short.len() - 40);
        let e = err(&reseal(short));
        assert!(e.contains("truncated") || e.contains("end at entry"), "{e}");
    }
}
