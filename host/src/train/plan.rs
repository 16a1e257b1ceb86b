//! Format plans: the word length and fractional length, <WL, FL>, of every
//! tensor a training step makes, chosen per layer (Lin et al.'s per-layer
//! bit widths). The file format and the rules are in `docs/TRAINING.md`.
//!
//! A plan names the network's parameterised layers in order, convolutions
//! `conv1`, `conv2`, ... and dense layers `fc1`, `fc2`, ... (each kind
//! counted on its own; pooling has no formats: it passes its input's
//! words through, forward and backward). Per layer it gives:
//!
//! - `weights`: the weights and the bias (they are one tensor on the
//!   device when the layer is resident, and the bias enters the forward
//!   product as C_in in the weights' format);
//! - `activations`: the layer's output, which is the next layer's input;
//! - `gradients`: the gradient with respect to that output, which is what
//!   the next layer's input-gradient product produces (or the host's loss
//!   gradient, for the last layer);
//! - `update`: the gradient as the weight update multiplies it. The update
//!   product is `W <- W + 2^-k X^T G_u` with one rounding into the
//!   weights; the device reads `G_u` at FL_update + k, k being the
//!   learning-rate shift (`trainer::LrSplit`). Where `update` equals
//!   `gradients`, `G_u` is the gradient's own words (today's product);
//!   otherwise the host first rounds the gradient into the update's format,
//!   with the run's rounding, as it does the loss gradient.
//!
//! The plan's `input` is the format of the pixels the first layer reads.

use super::backend::Product;
use super::layers::TensorFormats;
use super::network::Arch;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use srsa_spec::numerics::{
    quantize_with, value, word_max, FormatError, Rounding, MAX_FL, MIN_WL, WL,
};
use std::fmt;
use std::path::{Path, PathBuf};

/// The only plan file version so far.
pub const PLAN_VERSION: i64 = 1;

/// A tensor's format: `wl`-bit two's complement words with `fl` fractional
/// bits, held sign-extended in the device's 16-bit words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Format {
    pub wl: u8,
    pub fl: u8,
}

impl Format {
    /// A full 16-bit word with `fl` fractional bits.
    pub const fn full(fl: u8) -> Format {
        Format { wl: WL as u8, fl }
    }

    /// `x` rounded to nearest into this format's words (saturating).
    pub fn nearest(&self, x: f64) -> i16 {
        quantize_with(x, self.fl, self.wl, Rounding::Nearest, 0)
    }

    /// `x` as this format holds it: rounded to nearest, as a real.
    pub fn held(&self, x: f64) -> f64 {
        value(self.nearest(x), self.fl)
    }

    /// Whether 1.0 is one of its words (2^FL fits in WL - 1 bits).
    pub fn holds_one(&self) -> bool {
        (MIN_WL..=WL as u8).contains(&self.wl) && 1i64 << self.fl.min(62) <= word_max(self.wl)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}, {}>", self.wl, self.fl)
    }
}

/// One layer's entry in a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LayerPlan {
    pub weights: Format,
    pub activations: Format,
    pub gradients: Format,
    pub update: Format,
}

/// The field names, in file order.
const FIELDS: [&str; 4] = ["weights", "activations", "gradients", "update"];

impl LayerPlan {
    fn fields(&self) -> [(&'static str, Format); 4] {
        [
            (FIELDS[0], self.weights),
            (FIELDS[1], self.activations),
            (FIELDS[2], self.gradients),
            (FIELDS[3], self.update),
        ]
    }
}

/// Per layer, every format a training step uses.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The pixels, as the first layer reads them.
    pub input: Format,
    /// (layer name, entry), in the order given (the order carries no
    /// meaning: layers are looked up by name).
    pub layers: Vec<(String, LayerPlan)>,
}

/// One line for logs: the input, then each layer's weights, activations,
/// gradients and update.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "input {}", self.input)?;
        for (name, p) in &self.layers {
            write!(
                f,
                "; {name} W {} A {} G {} U {}",
                p.weights, p.activations, p.gradients, p.update
            )?;
        }
        Ok(())
    }
}

/// Two plans are equal when they give every layer the same formats, in
/// whatever order they list them.
impl PartialEq for Plan {
    fn eq(&self, o: &Plan) -> bool {
        let sorted = |p: &Plan| {
            let mut v = p.layers.clone();
            v.sort();
            v
        };
        self.input == o.input && sorted(self) == sorted(o)
    }
}

impl Eq for Plan {}

/// A layer's formats resolved against its neighbours: what every product
/// it issues reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerFormats {
    /// The layer's input: the previous layer's activations, or the plan's
    /// input for the first layer.
    pub input: Format,
    pub weights: Format,
    pub activations: Format,
    pub gradients: Format,
    pub update: Format,
    /// What `g W^T` produces: the previous layer's gradients (none for the
    /// first layer, which does not compute it).
    pub input_gradient: Option<Format>,
}

fn product(fl_a: u8, fl_b: u8, out: Format) -> Product {
    Product {
        wl_out: out.wl,
        ..Product::new(fl_a, fl_b, out.fl)
    }
}

impl LayerFormats {
    /// All three kinds of tensor at WL 16 in `f`'s FLs, the input in the
    /// activations' format: a layer of a uniform plan.
    pub fn uniform(f: &TensorFormats, first: bool) -> LayerFormats {
        LayerFormats {
            input: Format::full(f.activations),
            weights: Format::full(f.weights),
            activations: Format::full(f.activations),
            gradients: Format::full(f.gradients),
            update: Format::full(f.gradients),
            input_gradient: (!first).then_some(Format::full(f.gradients)),
        }
    }

    /// `relu(x W + b)`: the bias enters as C_in in the weights' format.
    pub fn forward(&self, relu: bool) -> Product {
        Product {
            fl_c: self.weights.fl,
            relu,
            ..product(self.input.fl, self.weights.fl, self.activations)
        }
    }

    /// `g W^T`, into the previous layer's gradient format.
    pub fn input_gradient(&self) -> Option<Product> {
        self.input_gradient
            .map(|out| product(self.gradients.fl, self.weights.fl, out))
    }

    /// `W + 2^-shift x^T g_u`, rounded into the weights.
    pub fn update(&self, shift: u8) -> Product {
        Product {
            shift,
            ..product(self.input.fl, self.update.fl, self.weights)
        }
    }

    /// `b + 2^-shift 1^T g_u`: the row of ones is exactly 1 at FL 0.
    pub fn bias_update(&self, shift: u8) -> Product {
        Product {
            shift,
            ..product(0, self.update.fl, self.weights)
        }
    }
}

/// Why a plan cannot be used. `layer` is `None` for the plan's top-level
/// fields (`version`, `input`, `layers`).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read plan {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write plan {path}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {why}")]
    File { path: PathBuf, why: Box<PlanError> },
    #[error("not a TOML format plan: {0}")]
    Syntax(String),
    #[error("field version: plan version {0}, this program reads version {PLAN_VERSION}")]
    Version(i64),
    #[error("{}: missing", at(.layer, .field))]
    Missing {
        layer: Option<String>,
        field: String,
    },
    #[error("{}: WL {wl} is outside {MIN_WL}..={WL}", at(.layer, .field))]
    Wl {
        layer: Option<String>,
        field: String,
        wl: i64,
    },
    #[error("{}: FL {fl} is outside 0..={MAX_FL}", at(.layer, .field))]
    Fl {
        layer: Option<String>,
        field: String,
        fl: i64,
    },
    #[error("layer {layer}: {arch} has no such layer (its layers: {})", .names.join(", "))]
    UnknownLayer {
        layer: String,
        arch: String,
        names: Vec<String>,
    },
    #[error("layer {layer}: missing ({arch} has it and the plan does not name it)")]
    MissingLayer { layer: String, arch: String },
    #[error("layer {layer}: named twice")]
    DuplicateLayer { layer: String },
    #[error("{}: {product} cannot be computed: {error}", at(&Some(.layer.clone()), .field))]
    Product {
        layer: String,
        field: String,
        product: String,
        error: FormatError,
    },
}

fn at(layer: &Option<String>, field: &str) -> String {
    match layer {
        Some(l) => format!("layer {l}, field {field}"),
        None => format!("field {field}"),
    }
}

impl PlanError {
    fn in_file(self, path: &Path) -> PlanError {
        PlanError::File {
            path: path.to_path_buf(),
            why: Box::new(self),
        }
    }
}

impl Plan {
    /// Every layer of `arch` in `f`'s FLs at WL 16, the input in the
    /// activations' format: what `--fl` and `--fl-*` describe.
    pub fn uniform(arch: &Arch, f: TensorFormats) -> Plan {
        let l = LayerFormats::uniform(&f, true);
        Plan {
            input: l.input,
            layers: arch
                .layer_names()
                .into_iter()
                .map(|name| {
                    (
                        name,
                        LayerPlan {
                            weights: l.weights,
                            activations: l.activations,
                            gradients: l.gradients,
                            update: l.update,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The uniform formats this plan is, if it is one ([`Plan::uniform`]).
    pub fn as_uniform(&self) -> Option<TensorFormats> {
        let (_, first) = self.layers.first()?;
        let f = TensorFormats {
            weights: first.weights.fl,
            activations: first.activations.fl,
            gradients: first.gradients.fl,
        };
        let l = LayerFormats::uniform(&f, true);
        let same = LayerPlan {
            weights: l.weights,
            activations: l.activations,
            gradients: l.gradients,
            update: l.update,
        };
        (self.input == l.input && self.layers.iter().all(|(_, p)| *p == same)).then_some(f)
    }

    /// The entry of the layer named `name`.
    pub fn layer(&self, name: &str) -> Option<&LayerPlan> {
        self.layers.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    /// Per parameterised layer of `arch` in order, its formats with its
    /// neighbours'; refuses a plan whose layers are not `arch`'s or whose
    /// words are out of range (see [`Plan::check`] for the products).
    pub fn resolve(&self, arch: &Arch) -> Result<Vec<LayerFormats>, PlanError> {
        let names = arch.layer_names();
        check_format(None, "input", self.input)?;
        for (i, (name, entry)) in self.layers.iter().enumerate() {
            if !names.contains(name) {
                return Err(PlanError::UnknownLayer {
                    layer: name.clone(),
                    arch: arch.to_string(),
                    names,
                });
            }
            if self.layers[..i].iter().any(|(n, _)| n == name) {
                return Err(PlanError::DuplicateLayer {
                    layer: name.clone(),
                });
            }
            for (field, f) in entry.fields() {
                check_format(Some(name), field, f)?;
            }
        }
        let mut out: Vec<LayerFormats> = vec![];
        for name in &names {
            let p = self.layer(name).ok_or_else(|| PlanError::MissingLayer {
                layer: name.clone(),
                arch: arch.to_string(),
            })?;
            let prev = out.last();
            out.push(LayerFormats {
                input: prev.map_or(self.input, |l| l.activations),
                weights: p.weights,
                activations: p.activations,
                gradients: p.gradients,
                update: p.update,
                input_gradient: prev.map(|l| l.gradients),
            });
        }
        Ok(out)
    }

    /// Refuses, before training, a plan that does not fit `arch` (a layer
    /// it lacks, a layer missing, a name given twice), a WL outside
    /// 2..=16 or an FL above 31, and any product a layer issues that the
    /// device cannot compute at the learning-rate shift `lr_shift`. Each
    /// message names the layer and the field.
    ///
    /// The shift is an argument because the update products' shifts
    /// depend on it (it is the run's learning rate and batch, not the
    /// plan's): the same plan may fit one rate and not another.
    pub fn check(&self, arch: &Arch, lr_shift: u8) -> Result<(), PlanError> {
        let resolved = self.resolve(arch)?;
        let names = arch.layer_names();
        for (i, l) in resolved.iter().enumerate() {
            for (what, (owner, field), p, cin) in products(l, i, lr_shift) {
                if let Err(error) = p.formats().validate(cin) {
                    // Blame the field that can fix it: C_in is the
                    // weights; only the update's FL plus the shift can
                    // pass 31 (each FL alone was checked); else the
                    // format of the tensor the product writes.
                    let (owner, field) = match error {
                        FormatError::CinFinerThanProduct { .. } => (i, "weights"),
                        FormatError::FlTooLarge(_) => (i, "update"),
                        _ => (owner, field),
                    };
                    return Err(PlanError::Product {
                        layer: names[owner].clone(),
                        field: field.into(),
                        product: format!("{}'s {what}", names[i]),
                        error,
                    });
                }
            }
        }
        Ok(())
    }

    /// Parses a plan file's text.
    pub fn from_toml(text: &str) -> Result<Plan, PlanError> {
        let raw: RawPlan = toml::from_str(text).map_err(|e| PlanError::Syntax(e.to_string()))?;
        match raw.version {
            None => {
                return Err(PlanError::Missing {
                    layer: None,
                    field: "version".into(),
                })
            }
            Some(PLAN_VERSION) => {}
            Some(v) => return Err(PlanError::Version(v)),
        }
        let input = raw
            .input
            .ok_or_else(|| PlanError::Missing {
                layer: None,
                field: "input".into(),
            })?
            .format(None, "input")?;
        let layers = raw.layers.ok_or_else(|| PlanError::Missing {
            layer: None,
            field: "layers".into(),
        })?;
        let layers = layers
            .0
            .into_iter()
            .map(|(name, l)| {
                let get = |field: &str, f: Option<RawFormat>| {
                    f.ok_or_else(|| PlanError::Missing {
                        layer: Some(name.clone()),
                        field: field.into(),
                    })?
                    .format(Some(&name), field)
                };
                let p = LayerPlan {
                    weights: get(FIELDS[0], l.weights)?,
                    activations: get(FIELDS[1], l.activations)?,
                    gradients: get(FIELDS[2], l.gradients)?,
                    update: get(FIELDS[3], l.update)?,
                };
                Ok((name, p))
            })
            .collect::<Result<_, PlanError>>()?;
        Ok(Plan { input, layers })
    }

    /// The plan as a file ([`Plan::from_toml`] reads it back).
    pub fn to_toml(&self) -> String {
        let f = |x: Format| format!("{{ wl = {}, fl = {} }}", x.wl, x.fl);
        let mut s = format!(
            "# srsa format plan: <WL, FL> per layer (docs/TRAINING.md)\n\
             version = {PLAN_VERSION}\ninput = {}\n",
            f(self.input)
        );
        for (name, p) in &self.layers {
            s.push_str(&format!("\n[layers.{}]\n", toml_key(name)));
            for (field, x) in p.fields() {
                s.push_str(&format!("{field} = {}\n", f(x)));
            }
        }
        s
    }

    pub fn load(path: &Path) -> Result<Plan, PlanError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Plan::from_toml(&text).map_err(|e| e.in_file(path))
    }

    pub fn save(&self, path: &Path) -> Result<(), PlanError> {
        super::output::write_atomically(path, self.to_toml().as_bytes()).map_err(|source| {
            PlanError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
    }
}

/// Every product layer `i` issues in a training step: (what, the layer
/// and field of the tensor it writes, the product, whether C_in takes
/// part).
fn products(
    l: &LayerFormats,
    i: usize,
    shift: u8,
) -> Vec<(String, (usize, &'static str), Product, bool)> {
    let name = |x: &str, f: Format| format!("{x} FL {}", f.fl);
    let mut v = vec![(
        format!(
            "forward product ({} x {} + bias -> {})",
            name("input", l.input),
            name("weights", l.weights),
            name("activations", l.activations)
        ),
        (i, "activations"),
        l.forward(false),
        true,
    )];
    if let (Some(p), Some(out)) = (l.input_gradient(), l.input_gradient) {
        v.push((
            format!(
                "input gradient ({} x {} -> the previous layer's gradients FL {})",
                name("gradients", l.gradients),
                name("weights", l.weights),
                out.fl
            ),
            (i - 1, "gradients"),
            p,
            false,
        ));
    }
    let update = |what: &str, a: String| {
        format!(
            "{what} ({a} x {} at a learning-rate shift of {shift} + weights -> weights FL {})",
            name("update", l.update),
            l.weights.fl
        )
    };
    v.push((
        update("weight update", name("input", l.input)),
        (i, "weights"),
        l.update(shift),
        true,
    ));
    v.push((
        update("bias update", "ones FL 0".into()),
        (i, "weights"),
        l.bias_update(shift),
        true,
    ));
    v
}

fn check_format(layer: Option<&String>, field: &str, f: Format) -> Result<(), PlanError> {
    if !(MIN_WL..=WL as u8).contains(&f.wl) {
        return Err(PlanError::Wl {
            layer: layer.cloned(),
            field: field.into(),
            wl: f.wl as i64,
        });
    }
    if f.fl > MAX_FL {
        return Err(PlanError::Fl {
            layer: layer.cloned(),
            field: field.into(),
            fl: f.fl as i64,
        });
    }
    Ok(())
}

/// A layer name as a TOML key: bare where TOML allows it, else quoted.
fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_string()
    } else {
        toml::Value::String(name.to_string()).to_string()
    }
}

// The file as written, every field optional, so that what is missing or
// out of range is refused by `from_toml` with the layer and field named
// (serde's own messages name only the key).

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    version: Option<i64>,
    input: Option<RawFormat>,
    layers: Option<InOrder<RawLayer>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    weights: Option<RawFormat>,
    activations: Option<RawFormat>,
    gradients: Option<RawFormat>,
    update: Option<RawFormat>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFormat {
    wl: Option<i64>,
    fl: Option<i64>,
}

impl RawFormat {
    fn format(&self, layer: Option<&String>, field: &str) -> Result<Format, PlanError> {
        let (Some(wl), Some(fl)) = (self.wl, self.fl) else {
            return Err(PlanError::Missing {
                layer: layer.cloned(),
                field: format!("{field}.{}", if self.wl.is_none() { "wl" } else { "fl" }),
            });
        };
        let layer = || layer.cloned();
        let wl = u8::try_from(wl)
            .ok()
            .filter(|w| (MIN_WL..=WL as u8).contains(w))
            .ok_or_else(|| PlanError::Wl {
                layer: layer(),
                field: field.into(),
                wl,
            })?;
        let fl = u8::try_from(fl)
            .ok()
            .filter(|&f| f <= MAX_FL)
            .ok_or_else(|| PlanError::Fl {
                layer: layer(),
                field: field.into(),
                fl,
            })?;
        Ok(Format { wl, fl })
    }
}

/// A TOML table's entries in the order the file gives them.
struct InOrder<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for InOrder<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = InOrder<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of layers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<InOrder<T>, A::Error> {
                let mut v = vec![];
                while let Some(entry) = m.next_entry()? {
                    v.push(entry);
                }
                Ok(InOrder(v))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mlp() -> Arch {
        Arch::mlp(&[32, 16])
    }

    /// fc1 and fc3 narrow, fc2 at other FLs, the update of fc2 in its own
    /// format.
    fn mixed() -> Plan {
        let mut p = Plan::uniform(&mlp(), TensorFormats::uniform(12));
        p.input = Format { wl: 8, fl: 6 };
        p.layers[0].1.weights = Format { wl: 6, fl: 6 };
        p.layers[1].1.activations = Format { wl: 8, fl: 4 };
        p.layers[1].1.update = Format { wl: 16, fl: 14 };
        p.layers[2].1.gradients = Format { wl: 6, fl: 10 };
        p
    }

    #[test]
    fn plans_round_trip_through_toml() {
        let arch = mlp();
        for plan in [Plan::uniform(&arch, TensorFormats::uniform(14)), mixed()] {
            let text = plan.to_toml();
            let back = Plan::from_toml(&text).unwrap();
            assert_eq!(back, plan, "{text}");
            assert_eq!(back.to_toml(), text);
            back.check(&arch, 9).unwrap();
        }
        let path = std::env::temp_dir().join(format!("srsa-plan-{}.toml", std::process::id()));
        mixed().save(&path).unwrap();
        assert_eq!(Plan::load(&path).unwrap(), mixed());
        std::fs::remove_file(&path).ok();
        let text = mixed().to_toml();
        assert!(text.contains("version = 1\n"), "{text}");
        assert!(
            text.contains("[layers.fc1]\nweights = { wl = 6, fl = 6 }\n"),
            "{text}"
        );
        // Order carries no meaning; names do.
        let mut shuffled = mixed();
        shuffled.layers.reverse();
        assert_eq!(Plan::from_toml(&shuffled.to_toml()).unwrap(), mixed());
        // A quoted key survives too.
        let odd = Plan {
            layers: vec![("a b".into(), mixed().layers[0].1)],
            ..mixed()
        };
        assert_eq!(Plan::from_toml(&odd.to_toml()).unwrap(), odd);
    }

    #[test]
    fn uniform_plans_are_what_the_flags_describe() {
        let f = TensorFormats {
            weights: 10,
            activations: 12,
            gradients: 14,
        };
        let p = Plan::uniform(&Arch::cnn(), f);
        let names: Vec<&str> = p.layers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["conv1", "conv2", "fc1", "fc2"]);
        assert_eq!(p.as_uniform(), Some(f));
        assert_eq!(p.input, Format { wl: 16, fl: 12 });
        assert_eq!(p.layer("fc2").unwrap().update, Format { wl: 16, fl: 14 });
        assert_eq!(mixed().as_uniform(), None);
        let r = p.resolve(&Arch::cnn()).unwrap();
        assert_eq!(r[0], LayerFormats::uniform(&f, true));
        assert_eq!(r[3], LayerFormats::uniform(&f, false));
        // The products are today's: FL_act x FL_w (+ bias) -> FL_act, and so on.
        let l = r[1];
        assert_eq!(
            l.forward(true).formats(),
            srsa_spec::numerics::Formats::new(12, 10, 10, 12)
        );
        assert_eq!(
            l.input_gradient().unwrap().formats(),
            srsa_spec::numerics::Formats::new(14, 10, 14, 14)
        );
        assert_eq!(
            l.update(9).formats(),
            srsa_spec::numerics::Formats::new(12, 23, 10, 10)
        );
        assert_eq!(
            l.bias_update(9).formats(),
            srsa_spec::numerics::Formats::new(0, 23, 10, 10)
        );
    }

    #[test]
    fn resolving_chains_each_layer_to_its_neighbours() {
        let r = mixed().resolve(&mlp()).unwrap();
        assert_eq!(r[0].input, Format { wl: 8, fl: 6 });
        assert_eq!(r[0].input_gradient, None);
        assert_eq!(r[2].input, Format { wl: 8, fl: 4 });
        assert_eq!(r[1].input_gradient, Some(r[0].gradients));
        let f = r[0].forward(false).formats();
        assert_eq!((f.fl_a, f.fl_b, f.fl_out, f.wl_out), (6, 6, 12, 16));
        let u = r[0].update(3).formats();
        assert_eq!((u.fl_b, u.fl_out, u.wl_out), (15, 6, 6));
        let g = r[2].input_gradient().unwrap().formats();
        assert_eq!((g.fl_a, g.fl_out, g.wl_out), (10, 12, 16));
        let g = r[1].update(0).formats();
        assert_eq!((g.fl_a, g.fl_b), (12, 14));
    }

    /// Every bad plan is refused with the layer and field named.
    #[test]
    fn bad_plans_name_the_layer_and_the_field() {
        let arch = mlp();
        let refused = |p: &Plan, shift: u8, want: &[&str]| {
            let e = p.check(&arch, shift).unwrap_err().to_string();
            for w in want {
                assert!(e.contains(w), "{w:?} not in: {e}");
            }
        };
        let mut p = mixed();
        p.layers.push(("fc4".into(), p.layers[0].1));
        refused(&p, 0, &["layer fc4", "no such layer", "fc1, fc2, fc3"]);
        let mut p = mixed();
        p.layers[2].0 = "conv1".into();
        refused(&p, 0, &["layer conv1", "no such layer"]);
        let mut p = mixed();
        p.layers.remove(1);
        refused(&p, 0, &["layer fc2", "missing"]);
        let mut p = mixed();
        p.layers.push(p.layers[0].clone());
        refused(&p, 0, &["layer fc1", "twice"]);
        for wl in [0, 1, 17] {
            let mut p = mixed();
            p.layers[1].1.gradients.wl = wl;
            refused(&p, 0, &["layer fc2, field gradients", &format!("WL {wl} ")]);
            let mut p = mixed();
            p.input.wl = wl;
            refused(&p, 0, &["field input", &format!("WL {wl} ")]);
        }
        // (what to break, the learning-rate shift, what the message names)
        type Break = fn(&mut Plan);
        let cases: [(Break, u8, &[&str]); 6] = [
            (
                |p| p.layers[2].1.weights.fl = 32,
                0,
                &["layer fc3, field weights", "FL 32"],
            ),
            // fc2's input (FL 12) x weights (FL 12) cannot be shifted
            // left to FL 25.
            (
                |p| p.layers[1].1.activations.fl = 25,
                0,
                &[
                    "layer fc2, field activations",
                    "fc2's forward product",
                    "finer",
                ],
            ),
            // fc2's input gradient writes fc1's gradients: 12 + 12 < 25.
            (
                |p| p.layers[0].1.gradients.fl = 25,
                0,
                &[
                    "layer fc1, field gradients",
                    "fc2's input gradient",
                    "finer",
                ],
            ),
            // The update's FL plus the learning-rate shift passes 31 ...
            (
                |p| p.layers[0].1.update.fl = 23,
                9,
                &["layer fc1, field update", "shift of 9", "32"],
            ),
            // ... which a smaller shift does not: 6 + (23 + 2) - 6 <= 30.
            (|p| p.layers[0].1.update.fl = 23, 2, &[]),
            // Too wide a shift into the weights: 6 + (11 + 20) - 6 > 30.
            (
                |p| p.layers[0].1.update.fl = 11,
                20,
                &["layer fc1, field weights", "fc1's weight update", "31 bits"],
            ),
        ];
        for (i, (spoil, shift, want)) in cases.into_iter().enumerate() {
            let mut p = mixed();
            spoil(&mut p);
            if want.is_empty() {
                p.check(&arch, shift)
                    .unwrap_or_else(|e| panic!("case {i} fits: {e}"));
            } else {
                refused(&p, shift, want);
            }
        }
    }

    #[test]
    fn bad_files_name_the_layer_and_the_field() {
        let good = mixed().to_toml();
        let refused = |text: &str, want: &[&str]| {
            let e = Plan::from_toml(text).unwrap_err().to_string();
            for w in want {
                assert!(e.contains(w), "{w:?} not in: {e}\n{text}");
            }
        };
        refused(&good.replace("version = 1", "version = 2"), &["version 2"]);
        refused(
            &good.replace("version = 1\n", ""),
            &["field version", "missing"],
        );
        refused(&good.replace("input = ", "inputs = "), &["inputs"]);
        let fc2 = good.find("[layers.fc2]").unwrap();
        let (head, tail) = good.split_at(fc2);
        let cut = |from: &str, to: &str| format!("{head}{}", tail.replacen(from, to, 1));
        // (in fc2's table, what to replace, with what, what is named)
        let cases: [(&str, &str, &[&str]); 5] = [
            (
                "update = { wl = 16, fl = 14 }\n",
                "",
                &["layer fc2, field update", "missing"],
            ),
            (
                "wl = 8, fl = 4",
                "fl = 4",
                &["layer fc2, field activations.wl", "missing"],
            ),
            (
                "wl = 8, fl = 4",
                "wl = 99, fl = 4",
                &["layer fc2, field activations", "WL 99"],
            ),
            (
                "wl = 8, fl = 4",
                "wl = 8, fl = -1",
                &["layer fc2, field activations", "FL -1"],
            ),
            (
                "wl = 8, fl = 4",
                "wl = 300, fl = 4",
                &["layer fc2", "WL 300"],
            ),
        ];
        for (from, to, want) in cases {
            refused(&cut(from, to), want);
        }
        refused(&cut("weights", "weight"), &["weight"]);
        refused("not toml [", &["TOML"]);
        let e = Plan::load(Path::new("/nonexistent/plan.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/plan.toml"), "{e}");
    }

    #[test]
    fn one_is_held_where_fl_leaves_a_bit_for_it() {
        assert!(Format::full(14).holds_one());
        assert!(!Format::full(15).holds_one());
        assert!(Format { wl: 8, fl: 6 }.holds_one());
        assert!(!Format { wl: 8, fl: 7 }.holds_one());
        assert!(!Format { wl: 2, fl: 31 }.holds_one());
        assert!(Format { wl: 2, fl: 0 }.holds_one());
    }
}
