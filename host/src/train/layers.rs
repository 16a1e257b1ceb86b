//! The layers a network is made of. Every multiply runs as a device
//! product; the host does only what the device cannot: the ReLU derivative
//! mask, pooling and the reshaping of convolutions (see `docs/TRAINING.md`).

use super::backend::{output_mask, Backend, BackendError, Element, HostRounding, Product};
use super::im2col::{flip_kernel, im2col, Map};
use super::plan::LayerFormats;
use super::pool;
use ndarray::{s, Array2, ArrayView2};

/// The fractional lengths of the three kinds of tensor, all 16-bit words:
/// what the uniform flags describe (`Plan::uniform`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorFormats {
    pub weights: u8,
    pub activations: u8,
    pub gradients: u8,
}

impl TensorFormats {
    pub fn uniform(fl: u8) -> TensorFormats {
        TensorFormats {
            weights: fl,
            activations: fl,
            gradients: fl,
        }
    }
}

/// Trainable parameters: `w` is fan-in x outputs, `b` is 1 x outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Params<E> {
    pub w: Array2<E>,
    pub b: Array2<E>,
}

/// A fully connected layer, optionally followed by ReLU.
pub struct Dense<E> {
    /// With `slot`, the parameters as last read from or written to the
    /// device (`Network::sync_params`).
    pub params: Params<E>,
    pub relu: bool,
    /// Where the backend keeps the parameters, if they stay on the device.
    pub slot: Option<usize>,
    pub formats: LayerFormats,
    /// Weights pruned for good (fan-in x outputs): they stay 0.
    pub pruned: Option<Array2<bool>>,
    input: Option<Array2<E>>,
    output: Option<Array2<E>>,
}

/// A valid (unpadded) k x k convolution, stride 1, optionally with ReLU.
pub struct Conv<E> {
    pub params: Params<E>,
    pub relu: bool,
    pub input: Map,
    pub k: usize,
    pub formats: LayerFormats,
    /// Weights pruned for good (fan-in x outputs): they stay 0.
    pub pruned: Option<Array2<bool>>,
    cols: Option<Array2<E>>,
    output: Option<Array2<E>>,
}

/// 2 x 2 max-pooling.
pub struct MaxPool {
    pub input: Map,
    arg: Vec<u32>,
}

pub enum Layer<E> {
    Dense(Dense<E>),
    Conv(Conv<E>),
    Pool(MaxPool),
}

impl<E: Element> Dense<E> {
    pub fn new(params: Params<E>, relu: bool, formats: LayerFormats) -> Self {
        Dense {
            params,
            relu,
            slot: None,
            formats,
            pruned: None,
            input: None,
            output: None,
        }
    }
}

impl<E: Element> Conv<E> {
    pub fn new(params: Params<E>, relu: bool, input: Map, k: usize, formats: LayerFormats) -> Self {
        Conv {
            params,
            relu,
            input,
            k,
            formats,
            pruned: None,
            cols: None,
            output: None,
        }
    }

    pub fn output_map(&self) -> Map {
        Map {
            h: self.input.h + 1 - self.k,
            w: self.input.w + 1 - self.k,
            c: self.params.w.ncols(),
        }
    }
}

impl MaxPool {
    pub fn new(input: Map) -> MaxPool {
        MaxPool { input, arg: vec![] }
    }
}

/// `x . w + b`, the bias entering as the device's C_in (exact, no extra
/// rounding), ReLU on the device.
fn affine<B: Backend>(
    be: &mut B,
    x: ArrayView2<B::E>,
    p: &Params<B::E>,
    relu: bool,
    f: &LayerFormats,
) -> Result<Array2<B::E>, BackendError> {
    let bias =
        p.b.broadcast((x.nrows(), p.b.ncols()))
            .expect("1 x n broadcasts");
    be.product(x, p.w.view(), Some(bias), &f.forward(relu))
}

/// `W <- W + 2^-shift x^T g` and `b <- b + 2^-shift 1^T g`, each output
/// rounded once into the weight format, the weights `pruned` names kept 0
/// (a masked product). Rows (the K of these products) are split where K
/// would exceed the device's limit; each part is then an update of its own.
fn update<B: Backend>(
    be: &mut B,
    p: &mut Params<B::E>,
    pruned: Option<&Array2<bool>>,
    x: ArrayView2<B::E>,
    g: ArrayView2<B::E>,
    f: &LayerFormats,
    shift: u8,
) -> Result<(), BackendError> {
    let rows = x.nrows();
    let step = be.max_k().min(rows).max(1);
    for r0 in (0..rows).step_by(step) {
        let r1 = (r0 + step).min(rows);
        let xs = x.slice(s![r0..r1, ..]);
        let gs = g.slice(s![r0..r1, ..]);
        let up = Product {
            a_transposed: true,
            ..f.update(shift)
        };
        p.w = match pruned {
            Some(m) => be.masked_product(xs, gs, p.w.view(), m.view(), &up)?,
            None => be.product(xs, gs, Some(p.w.view()), &up)?,
        };
        let ones = Array2::from_elem((1, r1 - r0), be.one());
        p.b = be.product(ones.view(), gs, Some(p.b.view()), &f.bias_update(shift))?;
    }
    Ok(())
}

/// The gradient with respect to the layer's input: `g . w^T` for a dense
/// layer (`transposed`), padded output-gradient windows times the flipped
/// kernel for a convolution.
fn input_gradient<B: Backend>(
    be: &mut B,
    g: ArrayView2<B::E>,
    w: ArrayView2<B::E>,
    transposed: bool,
    f: &LayerFormats,
) -> Result<Array2<B::E>, BackendError> {
    let p = f.input_gradient().ok_or_else(|| {
        BackendError::Invalid("the first layer has no input gradient format".into())
    })?;
    be.product(
        g,
        w,
        None,
        &Product {
            b_transposed: transposed,
            ..p
        },
    )
}

/// The gradient as the update multiplies it: its own words where the plan
/// gives the update the gradient's format, else rounded into the update's
/// (the run's rounding, as the host rounds the loss gradient).
fn update_gradient<B: Backend>(be: &mut B, g: Array2<B::E>, f: &LayerFormats) -> Array2<B::E> {
    if f.update == f.gradients {
        return g;
    }
    let real = be.decode(g.view(), f.gradients.fl);
    be.encode(real.view(), f.update, HostRounding::RunMode)
}

impl<E: Element> Layer<E> {
    /// Runs the layer; with `keep`, remembers what the backward pass needs.
    pub fn forward<B: Backend<E = E>>(
        &mut self,
        be: &mut B,
        x: Array2<E>,
        keep: bool,
    ) -> Result<Array2<E>, BackendError> {
        match self {
            Layer::Dense(d) => {
                let f = &d.formats;
                let y = match d.slot {
                    // The device keeps the batch for the update.
                    Some(slot) => be.resident_forward(slot, x.view(), d.relu, f)?,
                    None => affine(be, x.view(), &d.params, d.relu, f)?,
                };
                if keep {
                    d.input = Some(x);
                    d.output = Some(y.clone());
                }
                Ok(y)
            }
            Layer::Conv(c) => {
                let batch = x.nrows();
                let cols = im2col(x.view(), c.input, c.k, 0);
                let y = affine(be, cols.view(), &c.params, c.relu, &c.formats)?;
                let per = c.output_map().len();
                let y = y
                    .into_shape_with_order((batch, per))
                    .expect("(batch * oh * ow) x f is batch x (oh * ow * f)");
                if keep {
                    c.cols = Some(cols);
                    c.output = Some(y.clone());
                }
                Ok(y)
            }
            Layer::Pool(p) => {
                let (y, arg) = pool::forward(x.view(), p.input);
                if keep {
                    p.arg = arg;
                }
                Ok(y)
            }
        }
    }

    /// Takes the gradient with respect to the layer's output, updates the
    /// parameters, and returns the gradient with respect to its input when
    /// `need_input` (the first layer has no use for it).
    pub fn backward<B: Backend<E = E>>(
        &mut self,
        be: &mut B,
        mut g: Array2<E>,
        shift: u8,
        need_input: bool,
    ) -> Result<Option<Array2<E>>, BackendError> {
        match self {
            Layer::Dense(d) => {
                let f = &d.formats;
                let (x, y) = match (d.input.take(), d.output.take()) {
                    (Some(x), Some(y)) => (x, y),
                    _ => return Err(missing_forward()),
                };
                output_mask(&mut g, y.view(), d.relu, f.activations.wl);
                if let Some(slot) = d.slot {
                    let dx = if need_input {
                        Some(be.resident_input_gradient(slot, g.view(), f)?)
                    } else {
                        None
                    };
                    let gu = update_gradient(be, g, f);
                    be.resident_update(slot, gu.view(), f, shift)?;
                    return Ok(dx);
                }
                let dx = if need_input {
                    Some(input_gradient(be, g.view(), d.params.w.view(), true, f)?)
                } else {
                    None
                };
                let gu = update_gradient(be, g, f);
                update(
                    be,
                    &mut d.params,
                    d.pruned.as_ref(),
                    x.view(),
                    gu.view(),
                    f,
                    shift,
                )?;
                Ok(dx)
            }
            Layer::Conv(c) => {
                let (cols, y) = match (c.cols.take(), c.output.take()) {
                    (Some(cols), Some(y)) => (cols, y),
                    _ => return Err(missing_forward()),
                };
                let f = &c.formats;
                output_mask(&mut g, y.view(), c.relu, f.activations.wl);
                let batch = g.nrows();
                let om = c.output_map();
                let dx = if need_input {
                    let gcols = im2col(g.view(), om, c.k, c.k - 1);
                    let wf = flip_kernel(c.params.w.view(), c.k, c.input.c);
                    let dx = input_gradient(be, gcols.view(), wf.view(), false, f)?;
                    Some(
                        dx.into_shape_with_order((batch, c.input.len()))
                            .expect("(batch * h * w) x c is batch x (h * w * c)"),
                    )
                } else {
                    None
                };
                let g2 = g
                    .into_shape_with_order((batch * om.h * om.w, om.c))
                    .expect("batch x (oh * ow * f) is (batch * oh * ow) x f");
                let gu = update_gradient(be, g2, f);
                update(
                    be,
                    &mut c.params,
                    c.pruned.as_ref(),
                    cols.view(),
                    gu.view(),
                    f,
                    shift,
                )?;
                Ok(dx)
            }
            Layer::Pool(p) => Ok(Some(pool::backward(g.view(), &p.arg, p.input))),
        }
    }

    pub fn params(&self) -> Option<&Params<E>> {
        match self {
            Layer::Dense(d) => Some(&d.params),
            Layer::Conv(c) => Some(&c.params),
            Layer::Pool(_) => None,
        }
    }

    /// The weights pruned for good, if any.
    pub fn pruned(&self) -> Option<&Array2<bool>> {
        match self {
            Layer::Dense(d) => d.pruned.as_ref(),
            Layer::Conv(c) => c.pruned.as_ref(),
            Layer::Pool(_) => None,
        }
    }

    pub fn params_mut(&mut self) -> Option<&mut Params<E>> {
        match self {
            Layer::Dense(d) => Some(&mut d.params),
            Layer::Conv(c) => Some(&mut c.params),
            Layer::Pool(_) => None,
        }
    }
}

fn missing_forward() -> BackendError {
    BackendError::Invalid("backward pass without a training forward pass".into())
}
