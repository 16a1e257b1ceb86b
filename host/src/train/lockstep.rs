//! Two trainers on two devices (the RTL and the golden model, say) fed the
//! same batches, their parameters compared after every step: the check
//! that a device trains bit for bit as another does.

use super::backend::Backend;
use super::trainer::{StepStats, TrainError, Trainer};
use crate::mnist::Dataset;
use std::fmt::Debug;

/// The first parameter in which two trainers differ.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence<E> {
    /// The epoch (counting from 1) of the step after which it showed, and
    /// the step's index among this comparison's.
    pub epoch: u32,
    pub step: usize,
    /// The trainable layer, counting from 0, and which of its tensors.
    pub layer: usize,
    pub tensor: &'static str,
    /// Row and column in that tensor.
    pub index: (usize, usize),
    pub a: E,
    pub b: E,
}

impl<E: Debug> Divergence<E> {
    /// In words, naming the two trainers `a` and `b`.
    pub fn describe(&self, a: &str, b: &str) -> String {
        format!(
            "after step {} of epoch {}, layer {} {} [{}, {}] is {:?} on {a} and {:?} on {b}",
            self.step,
            self.epoch,
            self.layer,
            self.tensor,
            self.index.0,
            self.index.1,
            self.a,
            self.b
        )
    }
}

/// What a lockstep run saw: both trainers' statistics per step, up to and
/// including the step after which they diverged, if they did.
#[derive(Clone, Debug, PartialEq)]
pub struct Lockstep<E> {
    pub steps: Vec<(StepStats, StepStats)>,
    pub divergence: Option<Divergence<E>>,
}

/// Trains `a` and `b` for `steps` steps on `data` (fewer if an epoch ends
/// first), from wherever both are: at the same point of the same epoch,
/// with the same sample order, else an error before any step. Stops after
/// the first step that leaves their parameters different.
pub fn train_in_lockstep<A, B>(
    a: &mut Trainer<A>,
    b: &mut Trainer<B>,
    data: &Dataset,
    steps: usize,
) -> Result<Lockstep<A::E>, TrainError>
where
    A: Backend,
    B: Backend<E = A::E>,
{
    if a.cfg != b.cfg || a.epoch != b.epoch {
        return Err(TrainError::NotInStep(format!(
            "one is at epoch {} of {:?}, the other at epoch {} of {:?}",
            a.epoch, a.cfg, b.epoch, b.cfg
        )));
    }
    let mut out = Lockstep {
        steps: vec![],
        divergence: None,
    };
    for step in 0..steps {
        if a.begin_epoch(data.len())? != b.begin_epoch(data.len())? {
            return Err(TrainError::NotInStep(
                "they would see other samples in this epoch".into(),
            ));
        }
        let epoch = a.epoch + 1;
        out.steps.push((a.next_step(data)?, b.next_step(data)?));
        a.sync_params()?;
        b.sync_params()?;
        out.divergence = first_difference(a, b).map(|(layer, tensor, index, va, vb)| Divergence {
            epoch,
            step,
            layer,
            tensor,
            index,
            a: va,
            b: vb,
        });
        if out.divergence.is_some() || !a.in_epoch() {
            break;
        }
    }
    Ok(out)
}

type Difference<E> = (usize, &'static str, (usize, usize), E, E);

fn first_difference<A, B>(a: &Trainer<A>, b: &Trainer<B>) -> Option<Difference<A::E>>
where
    A: Backend,
    B: Backend<E = A::E>,
{
    for (layer, (pa, pb)) in a.net.params().into_iter().zip(b.net.params()).enumerate() {
        for (tensor, ta, tb) in [("weights", &pa.w, &pb.w), ("biases", &pa.b, &pb.b)] {
            let found = ta.indexed_iter().zip(tb.iter()).find(|((_, x), y)| x != y);
            if let Some(((index, &x), &y)) = found {
                return Some((layer, tensor, index, x, y));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::trainer::tests::small_trainer as trainer;
    use ndarray::Array2;

    /// Ten samples of fixed noise: 3 batches of 4, the last one short.
    fn data() -> Dataset {
        Dataset {
            images: Array2::from_shape_fn((10, 784), |(i, j)| ((i * 31 + j * 7) % 256) as u8),
            labels: (0..10).collect(),
            rows: 28,
            cols: 28,
        }
    }

    #[test]
    fn equal_trainers_stay_equal_to_the_end_of_the_epoch() {
        let (mut a, mut b, d) = (trainer(), trainer(), data());
        let run = train_in_lockstep(&mut a, &mut b, &d, 2).unwrap();
        assert_eq!((run.steps.len(), run.divergence), (2, None));
        let run = train_in_lockstep(&mut a, &mut b, &d, 5).unwrap();
        assert_eq!(run.steps.len(), 1, "the epoch ends after the third batch");
        assert!(run.steps.iter().all(|(x, y)| x == y));
        assert_eq!((a.epoch, b.epoch), (1, 1));
    }

    #[test]
    fn the_first_differing_parameter_is_named() {
        let (mut a, mut b, d) = (trainer(), trainer(), data());
        let last = b.net.params_mut().into_iter().last().unwrap();
        last.b[[0, 9]] = last.b[[0, 9]].wrapping_add(1);
        b.upload_params().unwrap();
        let run = train_in_lockstep(&mut a, &mut b, &d, 3).unwrap();
        let div = run.divergence.expect("a changed bias is seen");
        assert_eq!((run.steps.len(), div.step, div.epoch), (1, 0, 1));
        let pa = a.net.params()[div.layer];
        let pb = b.net.params()[div.layer];
        let (ta, tb) = match div.tensor {
            "weights" => (&pa.w, &pb.w),
            _ => (&pa.b, &pb.b),
        };
        assert_eq!((ta[div.index], tb[div.index]), (div.a, div.b));
        assert_ne!(div.a, div.b);
        assert!(div.describe("x", "y").contains(" on x and "), "{div:?}");
    }

    #[test]
    fn trainers_at_other_points_are_refused() {
        let (mut a, mut b, d) = (trainer(), trainer(), data());
        a.next_step(&d).unwrap();
        let e = train_in_lockstep(&mut a, &mut b, &d, 1).unwrap_err();
        assert!(matches!(e, TrainError::NotInStep(_)), "{e}");
        b.epoch = 1;
        assert!(train_in_lockstep(&mut a, &mut b, &d, 1).is_err());
    }
}
