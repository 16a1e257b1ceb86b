//! The networks: a multi-layer perceptron of any widths, and a CNN of two
//! 5x5 convolutions, each followed by 2x2 max-pooling, then two dense
//! layers: Gupta et al.'s MNIST CNN (widths 8, 16, 128) or LeNet-5 as Han
//! et al. train it (20, 50, 500).

use super::backend::{Backend, BackendError, Element, HostRounding};
use super::im2col::Map;
use super::layers::{Conv, Dense, Layer, MaxPool, Params};
use super::plan::LayerFormats;
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use srsa_spec::protocol::MAX_K;
use std::fmt;

/// MNIST's images: 28 x 28 pixels.
pub const MNIST_SIDE: usize = 28;
pub const INPUTS: usize = MNIST_SIDE * MNIST_SIDE;
pub const CLASSES: usize = 10;
/// Most trainable parameters a network may have: 64 M, some 35 times the
/// paper's largest MLP, a bound on what one run may allocate.
pub const MAX_PARAMS: usize = 1 << 26;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arch {
    /// `inputs` pixels, these hidden ReLU layers, 10 outputs.
    Mlp { inputs: usize, hidden: Vec<usize> },
    /// conv 5x5 x `widths.0`, pool, conv 5x5 x `widths.1`, pool, FC
    /// `widths.2`, FC 10, on `rows x cols` images.
    Cnn {
        rows: usize,
        cols: usize,
        widths: CnnWidths,
    },
}

/// A CNN's channels in its two convolutions and its hidden dense width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CnnWidths(pub usize, pub usize, pub usize);

/// Gupta et al.'s MNIST CNN.
pub const GUPTA_CNN: CnnWidths = CnnWidths(8, 16, 128);
/// LeNet-5 as Han et al. (and Caffe's example) have it.
pub const LENET5: CnnWidths = CnnWidths(20, 50, 500);

impl CnnWidths {
    /// The name `Arch`'s text form gives these widths.
    fn name(self) -> &'static str {
        if self == LENET5 {
            "lenet5"
        } else {
            "cnn"
        }
    }
}

impl Arch {
    /// An MLP on MNIST's 784 pixels.
    pub fn mlp(hidden: &[usize]) -> Arch {
        Arch::Mlp {
            inputs: INPUTS,
            hidden: hidden.to_vec(),
        }
    }

    /// Gupta et al.'s CNN on MNIST's 28 x 28 images.
    pub fn cnn() -> Arch {
        Arch::Cnn {
            rows: MNIST_SIDE,
            cols: MNIST_SIDE,
            widths: GUPTA_CNN,
        }
    }

    /// LeNet-5 on MNIST's 28 x 28 images.
    pub fn lenet5() -> Arch {
        Arch::Cnn {
            rows: MNIST_SIDE,
            cols: MNIST_SIDE,
            widths: LENET5,
        }
    }

    /// Pixels per image the network takes.
    pub fn inputs(&self) -> usize {
        match self {
            Arch::Mlp { inputs, .. } => *inputs,
            Arch::Cnn { rows, cols, .. } => rows * cols,
        }
    }

    /// This architecture for `rows x cols` images: an MLP's input layer and
    /// the CNN's geometry follow the images; or why it cannot take them.
    pub fn for_images(&self, rows: usize, cols: usize) -> Result<Arch, String> {
        match self {
            Arch::Mlp { hidden, .. } => Arch::Mlp {
                inputs: rows * cols,
                hidden: hidden.clone(),
            }
            .checked(),
            Arch::Cnn { widths, .. } => {
                // conv 5x5, pool 2, conv 5x5, pool 2 must leave a map.
                let last = |side: usize| {
                    side.checked_sub(4)
                        .map(|s| s / 2)
                        .and_then(|s| s.checked_sub(4))
                        .map(|s| s / 2)
                };
                if last(rows).unwrap_or(0) == 0 || last(cols).unwrap_or(0) == 0 {
                    return Err(format!(
                        "the CNN (conv 5x5, pool, conv 5x5, pool) needs images of at least 16 x 16, not {rows} x {cols}"
                    ));
                }
                Ok(Arch::Cnn {
                    rows,
                    cols,
                    widths: *widths,
                })
            }
        }
    }

    /// Refuses an MLP that no device could train or no memory could hold.
    fn checked(self) -> Result<Arch, String> {
        let Arch::Mlp { inputs, hidden } = &self else {
            return Ok(self);
        };
        let mut widths = vec![*inputs];
        widths.extend(hidden);
        widths.push(CLASSES);
        if widths.contains(&0) {
            return Err(format!("{self}: a layer of width 0"));
        }
        // Every width is some GEMM's K (the input gradient G W^T sums over
        // a layer's outputs), and the weights must fit in memory: checked
        // before anything is allocated.
        if let Some(w) = widths.iter().find(|&&w| w > MAX_K as usize) {
            return Err(format!(
                "{self}: a layer of {w} exceeds the device's largest K, {MAX_K}"
            ));
        }
        let params = widths
            .windows(2)
            .map(|p| p[0] as u128 * p[1] as u128 + p[1] as u128)
            .sum::<u128>();
        if params > MAX_PARAMS as u128 {
            return Err(format!("{self}: {params} parameters, at most {MAX_PARAMS}"));
        }
        Ok(self)
    }

    /// The names of the parameterised layers in order, as format plans
    /// name them: `conv1`, `conv2`, ... for convolutions and `fc1`, `fc2`,
    /// ... for dense layers, each kind counted on its own (pooling layers
    /// have no parameters and no formats).
    pub fn layer_names(&self) -> Vec<String> {
        match self {
            Arch::Mlp { hidden, .. } => (1..=hidden.len() + 1).map(|i| format!("fc{i}")).collect(),
            Arch::Cnn { .. } => ["conv1", "conv2", "fc1", "fc2"].map(String::from).to_vec(),
        }
    }

    /// The layers, each parameterised one with its formats (one entry of
    /// `formats` each, in order) and `param(fan-in, outputs, formats)`.
    fn build<E: Element>(
        &self,
        formats: &[LayerFormats],
        mut param: impl FnMut(usize, usize, &LayerFormats) -> Params<E>,
    ) -> Vec<Layer<E>> {
        assert_eq!(
            formats.len(),
            self.layer_names().len(),
            "one format entry per parameterised layer"
        );
        let dense =
            |p: Params<E>, relu: bool, f: &LayerFormats| Layer::Dense(Dense::new(p, relu, *f));
        match self {
            Arch::Mlp { inputs, hidden } => {
                let mut widths = vec![*inputs];
                widths.extend(hidden);
                widths.push(CLASSES);
                let last = widths.len() - 2;
                (0..=last)
                    .map(|i| {
                        let f = &formats[i];
                        dense(param(widths[i], widths[i + 1], f), i < last, f)
                    })
                    .collect()
            }
            Arch::Cnn {
                rows,
                cols,
                widths: CnnWidths(w1, w2, w3),
            } => {
                let m0 = Map {
                    h: *rows,
                    w: *cols,
                    c: 1,
                };
                let c1 = Conv::new(param(25, *w1, &formats[0]), true, m0, 5, formats[0]);
                let m1 = c1.output_map();
                let p1 = MaxPool::new(m1);
                let m2 = Map {
                    h: m1.h / 2,
                    w: m1.w / 2,
                    c: m1.c,
                };
                let c2 = Conv::new(param(25 * w1, *w2, &formats[1]), true, m2, 5, formats[1]);
                let m3 = c2.output_map();
                let p2 = MaxPool::new(m3);
                let flat = (m3.h / 2) * (m3.w / 2) * m3.c;
                vec![
                    Layer::Conv(c1),
                    Layer::Pool(p1),
                    Layer::Conv(c2),
                    Layer::Pool(p2),
                    dense(param(flat, *w3, &formats[2]), true, &formats[2]),
                    dense(param(*w3, CLASSES, &formats[3]), false, &formats[3]),
                ]
            }
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arch::Mlp { inputs, hidden } => {
                write!(f, "mlp:{inputs}")?;
                for h in hidden {
                    write!(f, "-{h}")?;
                }
                write!(f, "-{CLASSES}")
            }
            Arch::Cnn {
                rows: MNIST_SIDE,
                cols: MNIST_SIDE,
                widths,
            } => f.write_str(widths.name()),
            Arch::Cnn { rows, cols, widths } => write!(f, "{}:{rows}x{cols}", widths.name()),
        }
    }
}

impl std::str::FromStr for Arch {
    type Err = String;
    /// `cnn` (Gupta's, 28 x 28), `cnn:RxC`, `lenet5`, `lenet5:RxC`, `mlp`
    /// (784-256-10) or `mlp:IN-H1-...-10`. `srsa train` fits `mlp`, `cnn`
    /// and `lenet5` to its data ([`Arch::for_images`]).
    fn from_str(s: &str) -> Result<Arch, String> {
        match s {
            "cnn" => return Ok(Arch::cnn()),
            "lenet5" => return Ok(Arch::lenet5()),
            "mlp" => return Ok(Arch::mlp(&[256])),
            _ => {}
        }
        let bad = || {
            format!(
                "bad network '{s}': expected cnn, cnn:RxC, lenet5, lenet5:RxC, mlp or mlp:IN-H-...-10"
            )
        };
        let num = |w: &str| w.parse::<usize>().map_err(|_| bad());
        for cnn in [Arch::cnn(), Arch::lenet5()] {
            let Arch::Cnn { widths, .. } = cnn else {
                continue;
            };
            if let Some(side) = s
                .strip_prefix(widths.name())
                .and_then(|t| t.strip_prefix(':'))
            {
                let (r, c) = side.split_once('x').ok_or_else(bad)?;
                return cnn
                    .for_images(num(r)?, num(c)?)
                    .map_err(|e| format!("bad network '{s}': {e}"));
            }
        }
        let widths = s.strip_prefix("mlp:").ok_or_else(bad)?;
        let widths: Vec<usize> = widths.split('-').map(num).collect::<Result<_, _>>()?;
        if widths.len() < 2 || widths[widths.len() - 1] != CLASSES {
            return Err(bad());
        }
        Arch::Mlp {
            inputs: widths[0],
            hidden: widths[1..widths.len() - 1].to_vec(),
        }
        .checked()
        .map_err(|e| format!("bad network '{s}': {e}"))
    }
}

/// A network's layers, in order.
pub struct Network<E> {
    pub arch: Arch,
    pub layers: Vec<Layer<E>>,
}

impl<E: Element> Network<E> {
    /// He-uniform weights (bound sqrt(6 / fan-in), suited to ReLU) from
    /// `seed`, zero biases: the same reals on every backend, then encoded
    /// in each layer's weight format (`formats`: one per parameterised
    /// layer, `Plan::resolve`).
    pub fn init<B: Backend<E = E>>(
        arch: &Arch,
        be: &mut B,
        formats: &[LayerFormats],
        seed: u64,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let layers = arch.build(formats, |fan_in, out, f| {
            let bound = (6.0 / fan_in as f32).sqrt();
            let w = Array2::from_shape_fn((fan_in, out), |_| rng.gen_range(-bound..bound));
            Params {
                w: be.encode(w.view(), f.weights, HostRounding::Nearest),
                b: be.encode(
                    Array2::zeros((1, out)).view(),
                    f.weights,
                    HostRounding::Nearest,
                ),
            }
        });
        Network {
            arch: arch.clone(),
            layers,
        }
    }

    /// Logits for a batch (one sample per row).
    pub fn forward<B: Backend<E = E>>(
        &mut self,
        be: &mut B,
        x: Array2<E>,
        keep: bool,
    ) -> Result<Array2<E>, BackendError> {
        let mut x = x;
        for layer in &mut self.layers {
            x = layer.forward(be, x, keep)?;
        }
        Ok(x)
    }

    /// Backpropagates the (learning-rate scaled) output gradient and updates
    /// every layer.
    pub fn backward<B: Backend<E = E>>(
        &mut self,
        be: &mut B,
        g: Array2<E>,
        shift: u8,
    ) -> Result<(), BackendError> {
        let mut g = Some(g);
        for i in (0..self.layers.len()).rev() {
            let gi = g
                .take()
                .expect("every layer but the first returns a gradient");
            g = self.layers[i].backward(be, gi, shift, i > 0)?;
        }
        Ok(())
    }

    /// Keeps every dense layer's parameters on the device where they fit,
    /// for batches of up to `batch` rows; returns a line for each layer
    /// that is streamed instead, saying why.
    pub fn place<B: Backend<E = E>>(
        &mut self,
        be: &mut B,
        batch: usize,
    ) -> Result<Vec<String>, BackendError> {
        let mut streamed = vec![];
        for (i, layer) in self.layers.iter_mut().enumerate() {
            match layer {
                Layer::Dense(d) => {
                    let (fan_in, out) = d.params.w.dim();
                    match be.place(&d.params, batch, i > 0, &d.formats)? {
                        Ok(slot) => d.slot = Some(slot),
                        Err(why) => streamed.push(format!(
                            "layer {} (dense {fan_in} -> {out}) streams its weights: {why}",
                            i + 1
                        )),
                    }
                }
                Layer::Conv(c) => streamed.push(format!(
                    "layer {} (convolution {}x{}x{} -> {}) streams its weights: only dense layers stay on the device",
                    i + 1,
                    c.k,
                    c.k,
                    c.input.c,
                    c.params.w.ncols()
                )),
                Layer::Pool(_) => {}
            }
        }
        Ok(streamed)
    }

    /// (resident, trainable) layer counts.
    pub fn resident_layers(&self) -> (usize, usize) {
        let resident = self
            .layers
            .iter()
            .filter(|l| matches!(l, Layer::Dense(d) if d.slot.is_some()))
            .count();
        (resident, self.params().len())
    }

    /// Reads the parameters of resident layers back from the device into
    /// the host's copies (before they are saved or compared).
    pub fn sync_params<B: Backend<E = E>>(&mut self, be: &mut B) -> Result<(), BackendError> {
        for layer in &mut self.layers {
            if let Layer::Dense(Dense {
                slot: Some(slot),
                params,
                ..
            }) = layer
            {
                *params = be.resident_params(*slot)?;
            }
        }
        Ok(())
    }

    /// Writes the host's copies of resident layers' parameters to the
    /// device (after they were loaded or assigned), with their masks.
    pub fn upload_params<B: Backend<E = E>>(&self, be: &mut B) -> Result<(), BackendError> {
        for layer in &self.layers {
            if let Layer::Dense(Dense {
                slot: Some(slot),
                params,
                pruned,
                ..
            }) = layer
            {
                be.store_params(*slot, params, pruned.as_ref().map(|m| m.view()))?;
            }
        }
        Ok(())
    }

    /// The pruning mask of each parameterised layer (fan-in x outputs).
    pub fn masks(&self) -> Vec<Option<Array2<bool>>> {
        self.layers
            .iter()
            .filter(|l| l.params().is_some())
            .map(|l| l.pruned().cloned())
            .collect()
    }

    /// Prunes for good the weights `masks` names, one entry per
    /// parameterised layer (`None`: no mask): they become 0 and updates
    /// keep them 0 from now on. The host's copy of the parameters is
    /// taken as current (call `sync_params` first if the device's is
    /// newer): resident layers are written again from it.
    pub fn set_masks<B: Backend<E = E>>(
        &mut self,
        be: &mut B,
        masks: &[Option<Array2<bool>>],
    ) -> Result<(), BackendError> {
        self.set_masks_host(masks)?;
        self.upload_params(be)
    }

    /// [`Network::set_masks`] on the host's copy alone: the caller writes
    /// resident layers to the device.
    pub fn set_masks_host(&mut self, masks: &[Option<Array2<bool>>]) -> Result<(), BackendError> {
        if masks.len() != self.params().len() {
            return Err(BackendError::Invalid(format!(
                "{} masks for {} parameterised layers",
                masks.len(),
                self.params().len()
            )));
        }
        let mut it = masks.iter();
        for layer in &mut self.layers {
            let (params, pruned) = match layer {
                Layer::Dense(d) => (&mut d.params, &mut d.pruned),
                Layer::Conv(c) => (&mut c.params, &mut c.pruned),
                Layer::Pool(_) => continue,
            };
            let m = it.next().expect("counted above");
            if let Some(m) = m {
                if m.dim() != params.w.dim() {
                    return Err(BackendError::Invalid(format!(
                        "a mask of {:?} for weights of {:?}",
                        m.dim(),
                        params.w.dim()
                    )));
                }
                ndarray::Zip::from(&mut params.w).and(m).for_each(|w, &p| {
                    if p {
                        *w = E::default();
                    }
                });
            }
            *pruned = m.clone();
        }
        Ok(())
    }

    pub fn params(&self) -> Vec<&Params<E>> {
        self.layers.iter().filter_map(|l| l.params()).collect()
    }

    pub fn params_mut(&mut self) -> Vec<&mut Params<E>> {
        self.layers
            .iter_mut()
            .filter_map(|l| l.params_mut())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::layers::TensorFormats;
    use crate::train::plan::Plan;

    /// Plans name the parameterised layers of the network that is built,
    /// in its order.
    #[test]
    fn layer_names_follow_the_built_layers() {
        for arch in [Arch::mlp(&[32, 16]), Arch::mlp(&[]), Arch::cnn()] {
            let plan = Plan::uniform(&arch, TensorFormats::uniform(10));
            let net = Network::<f32>::init(
                &arch,
                &mut crate::train::Float,
                &plan.resolve(&arch).unwrap(),
                1,
            );
            let kinds: Vec<String> = net
                .layers
                .iter()
                .filter_map(|l| match l {
                    Layer::Dense(_) => Some("fc"),
                    Layer::Conv(_) => Some("conv"),
                    Layer::Pool(_) => None,
                })
                .map(String::from)
                .collect();
            let names = arch.layer_names();
            assert_eq!(kinds.len(), names.len(), "{arch}");
            for (k, n) in kinds.iter().zip(&names) {
                assert!(n.starts_with(k.as_str()), "{arch}: {k} named {n}");
            }
        }
        assert_eq!(Arch::cnn().layer_names(), ["conv1", "conv2", "fc1", "fc2"]);
        assert_eq!(Arch::mlp(&[256]).layer_names(), ["fc1", "fc2"]);
    }

    /// Han et al.'s LeNet-5 table: conv1 0.5K, conv2 25K, ip1 400K, ip2 5K
    /// weights, 431K in all (biases counted).
    #[test]
    fn lenet5_has_the_papers_parameter_counts() {
        let arch = Arch::lenet5();
        let plan = Plan::uniform(&arch, TensorFormats::uniform(8));
        let formats = plan.resolve(&arch).unwrap();
        let net = Network::<f32>::init(&arch, &mut crate::train::Float, &formats, 1);
        let counts: Vec<usize> = net.params().iter().map(|p| p.w.len() + p.b.len()).collect();
        assert_eq!(counts, [520, 25_050, 400_500, 5_010]);
        assert_eq!(arch.layer_names(), ["conv1", "conv2", "fc1", "fc2"]);
    }

    /// The input layer and the CNN's maps follow the images.
    #[test]
    fn networks_fit_their_images() {
        let mlp = Arch::mlp(&[32]).for_images(8, 8).unwrap();
        assert_eq!(mlp.to_string(), "mlp:64-32-10");
        let cnn = Arch::cnn().for_images(16, 20).unwrap();
        assert_eq!((cnn.to_string(), cnn.inputs()), ("cnn:16x20".into(), 320));
        // conv 12x16, pool 6x8, conv 2x4, pool 1x2: 2 values per channel.
        let plan = Plan::uniform(&cnn, TensorFormats::uniform(8));
        let formats = plan.resolve(&cnn).unwrap();
        let net = Network::<f32>::init(&cnn, &mut crate::train::Float, &formats, 1);
        assert_eq!(net.params().last().map(|p| p.w.nrows()), Some(128));
        assert_eq!(net.params()[2].w.nrows(), 16 * 2);
        let e = Arch::cnn().for_images(14, 14).unwrap_err();
        assert!(e.contains("at least 16 x 16"), "{e}");
    }

    #[test]
    fn arch_names_round_trip() {
        for s in [
            "cnn",
            "mlp:784-256-10",
            "mlp:784-1000-1000-10",
            "mlp:784-10",
            "mlp:64-32-10",
            "cnn:32x20",
            "lenet5",
            "lenet5:32x32",
        ] {
            assert_eq!(s.parse::<Arch>().unwrap().to_string(), s);
        }
        assert_eq!("mlp".parse::<Arch>().unwrap(), Arch::mlp(&[256]));
        assert_eq!("cnn:28x28".parse::<Arch>().unwrap(), Arch::cnn());
        assert_eq!("lenet5:28x28".parse::<Arch>().unwrap(), Arch::lenet5());
        for bad in [
            "",
            "mlp:",
            "mlp:0-10",
            "cnn:15x28",
            "cnn:28",
            "lenet5:12x12",
            "lenet5x",
            "mlp:784-0-10",
            "mlp:784-256-9",
            "rnn",
            "mlp:784-99999999-10",
            "mlp:784-32768-10",
            "mlp:784-30000-30000-10",
            "mlp:784-18446744073709551615-10",
        ] {
            assert!(bad.parse::<Arch>().is_err(), "{bad}");
        }
    }
}
