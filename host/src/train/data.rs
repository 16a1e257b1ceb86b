//! The data a run trains and tests on: the two splits of an IDX dataset
//! (MNIST's by default, images of any size), optionally cut to their first
//! samples.

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
    #[error("{}: no training images", dir.display())]
    Empty { dir: PathBuf },
    #[error("{}: training images are {train:?}, test images {test:?} (rows x columns)", dir.display())]
    Shape {
        dir: PathBuf,
        train: (usize, usize),
        test: (usize, usize),
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
    if train.is_empty() {
        return Err(DataError::Empty {
            dir: dir.to_path_buf(),
        });
    }
    if (train.rows, train.cols) != (test.rows, test.cols) {
        return Err(DataError::Shape {
            dir: dir.to_path_buf(),
            train: (train.rows, train.cols),
            test: (test.rows, test.cols),
        });
    }
    Ok(Data {
        train,
        test,
        dir: dir.to_path_buf(),
    })
}
