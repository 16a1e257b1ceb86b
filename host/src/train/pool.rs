//! 2 x 2 max-pooling, done on the host (the device only multiplies): the
//! forward pass keeps the index of each maximum, the backward pass routes
//! the gradient to it.

use super::backend::Element;
use super::im2col::Map;
use ndarray::{Array2, ArrayView2};

/// Pools a batch of maps (one per row); returns the pooled maps and, per
/// output element, the index of the input element it came from.
pub fn forward<E: Element>(x: ArrayView2<E>, m: Map) -> (Array2<E>, Vec<u32>) {
    let (oh, ow) = (m.h / 2, m.w / 2);
    let per = oh * ow * m.c;
    let mut y = Array2::<E>::default((x.nrows(), per));
    let mut arg = Vec::with_capacity(x.nrows() * per);
    for (b, row) in x.outer_iter().enumerate() {
        for oy in 0..oh {
            for ox in 0..ow {
                for c in 0..m.c {
                    let mut best = ((2 * oy) * m.w + 2 * ox) * m.c + c;
                    for (dy, dx) in [(0, 1), (1, 0), (1, 1)] {
                        let i = ((2 * oy + dy) * m.w + 2 * ox + dx) * m.c + c;
                        // Strictly greater: the first maximum wins a tie.
                        if row[i] > row[best] {
                            best = i;
                        }
                    }
                    y[[b, (oy * ow + ox) * m.c + c]] = row[best];
                    arg.push(best as u32);
                }
            }
        }
    }
    (y, arg)
}

/// Routes each output gradient to the input element that was the maximum.
pub fn backward<E: Element>(g: ArrayView2<E>, arg: &[u32], m: Map) -> Array2<E> {
    let mut dx = Array2::<E>::default((g.nrows(), m.len()));
    let per = g.ncols();
    for (b, row) in g.outer_iter().enumerate() {
        for (o, &v) in row.iter().enumerate() {
            dx[[b, arg[b * per + o] as usize]] = v;
        }
    }
    dx
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn pools_and_routes_back() {
        // One 2 x 4 map, one channel.
        let x = array![[1i16, 5, 2, 2, 3, 0, 7, 1]];
        let m = Map { h: 2, w: 4, c: 1 };
        let (y, arg) = forward(x.view(), m);
        assert_eq!(y, array![[5i16, 7]]);
        assert_eq!(arg, vec![1, 6]);
        let dx = backward(array![[10i16, 20]].view(), &arg, m);
        assert_eq!(dx, array![[0i16, 10, 0, 0, 0, 0, 20, 0]]);
    }

    #[test]
    fn ties_go_to_the_first_and_channels_stay_apart() {
        let m = Map { h: 2, w: 2, c: 2 };
        let x = array![[4i16, 1, 4, 9, 0, 9, 4, 3]];
        let (y, arg) = forward(x.view(), m);
        assert_eq!(y, array![[4i16, 9]]);
        assert_eq!(arg, vec![0, 3]);
    }
}
