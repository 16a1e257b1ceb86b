//! Convolution as a matrix product: pure data movement on the host, so that
//! every multiply of a convolution runs on the device.
//!
//! Feature maps are stored per sample as height x width x channels
//! (channels fastest), one sample per row.

use super::backend::Element;
use ndarray::{Array2, ArrayView2};

/// The shape of one sample's feature map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Map {
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

impl Map {
    pub fn len(&self) -> usize {
        self.h * self.w * self.c
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Unrolls every k x k window (with `pad` zeros around the map) into a row:
/// (batch * oh * ow) x (k * k * c), columns ordered (ky, kx, channel), with
/// oh = h + 2 pad - k + 1.
pub fn im2col<E: Element>(x: ArrayView2<E>, m: Map, k: usize, pad: usize) -> Array2<E> {
    let (oh, ow) = (m.h + 2 * pad + 1 - k, m.w + 2 * pad + 1 - k);
    let batch = x.nrows();
    let mut out = Array2::<E>::default((batch * oh * ow, k * k * m.c));
    for (b, sample) in x.outer_iter().enumerate() {
        let sample = sample.as_slice().expect("rows are contiguous");
        for oy in 0..oh {
            for ox in 0..ow {
                let mut row = out.row_mut((b * oh + oy) * ow + ox);
                let row = row.as_slice_mut().expect("rows are contiguous");
                for ky in 0..k {
                    let Some(y) = (oy + ky).checked_sub(pad).filter(|&y| y < m.h) else {
                        continue;
                    };
                    for kx in 0..k {
                        let Some(xx) = (ox + kx).checked_sub(pad).filter(|&xx| xx < m.w) else {
                            continue;
                        };
                        let src = (y * m.w + xx) * m.c;
                        let dst = (ky * k + kx) * m.c;
                        row[dst..dst + m.c].copy_from_slice(&sample[src..src + m.c]);
                    }
                }
            }
        }
    }
    out
}

/// The kernel for the input gradient: rotated by 180 degrees with input and
/// output channels swapped, so that the gradient is again an im2col product
/// (of the output gradient padded by k - 1).
pub fn flip_kernel<E: Element>(w: ArrayView2<E>, k: usize, c_in: usize) -> Array2<E> {
    let c_out = w.ncols();
    let mut f = Array2::<E>::default((k * k * c_out, c_in));
    for ky in 0..k {
        for kx in 0..k {
            let src = ((k - 1 - ky) * k + (k - 1 - kx)) * c_in;
            let dst = (ky * k + kx) * c_out;
            for ci in 0..c_in {
                for co in 0..c_out {
                    f[[dst + co, ci]] = w[[src + ci, co]];
                }
            }
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// Direct convolution, for comparison.
    fn conv(x: &Array2<f32>, m: Map, w: &Array2<f32>, k: usize) -> Array2<f32> {
        let (oh, ow, f) = (m.h + 1 - k, m.w + 1 - k, w.ncols());
        let mut y = Array2::zeros((x.nrows(), oh * ow * f));
        for b in 0..x.nrows() {
            for oy in 0..oh {
                for ox in 0..ow {
                    for co in 0..f {
                        let mut s = 0.0;
                        for ky in 0..k {
                            for kx in 0..k {
                                for ci in 0..m.c {
                                    s += x[[b, ((oy + ky) * m.w + ox + kx) * m.c + ci]]
                                        * w[[(ky * k + kx) * m.c + ci, co]];
                                }
                            }
                        }
                        y[[b, (oy * ow + ox) * f + co]] = s;
                    }
                }
            }
        }
        y
    }

    fn ramp(r: usize, c: usize, scale: f32) -> Array2<f32> {
        Array2::from_shape_fn((r, c), |(i, j)| {
            ((i * 7 + j * 13) % 11) as f32 * scale - 1.0
        })
    }

    #[test]
    fn im2col_product_is_the_convolution() {
        let m = Map { h: 6, w: 5, c: 2 };
        let k = 3;
        let x = ramp(2, m.len(), 0.25);
        let w = ramp(k * k * m.c, 4, 0.125);
        let cols = im2col(x.view(), m, k, 0);
        let y = cols.dot(&w).into_shape_with_order((2, 4 * 3 * 4)).unwrap();
        assert_eq!(y, conv(&x, m, &w, k));
    }

    #[test]
    fn flipped_kernel_gives_the_input_gradient() {
        // <conv(x), g> = <x, dx> for every x: check dx against the adjoint,
        // one unit input at a time.
        let m = Map { h: 5, w: 6, c: 2 };
        let k = 3;
        let f = 3;
        let w = ramp(k * k * m.c, f, 0.125);
        let (oh, ow) = (m.h + 1 - k, m.w + 1 - k);
        let g = ramp(1, oh * ow * f, 0.5);
        let om = Map { h: oh, w: ow, c: f };
        let dx = im2col(g.view(), om, k, k - 1)
            .dot(&flip_kernel(w.view(), k, m.c))
            .into_shape_with_order((1, m.len()))
            .unwrap();
        for i in 0..m.len() {
            let mut e = Array2::zeros((1, m.len()));
            e[[0, i]] = 1.0;
            let y = conv(&e, m, &w, k);
            let expect: f32 = (&y * &g).sum();
            assert!((dx[[0, i]] - expect).abs() < 1e-4, "input {i}");
        }
    }
}
