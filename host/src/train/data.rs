//! The data a run trains and tests on: MNIST's two splits, optionally cut
//! to their first samples, checked to fit the networks' 28 x 28 input.

use super::network::INPUTS;
use crate::mnist::{load_split, Dataset, MnistError, Split};
use std::path::{Path, PathBuf};

pub struct Data {
    pub train: Dataset,
    pub test: Dataset,
    /// Where it was read from.
    pub dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Mnist(#[from] MnistError),
    #[error("{}: expected 28 x 28 training images, found {count} of {rows} x {cols}", dir.display())]
    Shape {
        dir: PathBuf,
        count: usize,
        rows: usize,
        cols: usize,
    },
}

/// Both splits from `dir`, each cut to its first `train_samples` and
/// `test_samples` when given.
pub fn load_data(
    dir: &Path,
    train_samples: Option<usize>,
    test_samples: Option<usize>,
) -> Result<Data, DataError> {
    let cut = |d: Dataset, n: Option<usize>| d.first(n.unwrap_or(usize::MAX));
    let train = cut(load_split(dir, Split::Train)?, train_samples);
    let test = cut(load_split(dir, Split::Test)?, test_samples);
    if train.rows * train.cols != INPUTS || train.is_empty() {
        return Err(DataError::Shape {
            dir: dir.to_path_buf(),
            count: train.len(),
            rows: train.rows,
            cols: train.cols,
        });
    }
    Ok(Data {
        train,
        test,
        dir: dir.to_path_buf(),
    })
}
