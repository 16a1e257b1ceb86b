//! MNIST in the IDX format, gzipped or not.
//!
//! The repository bundles 10,000 digits in `data/mnist/` ([`bundled_dir`]),
//! split 8,000 / 2,000 and stored under the file names of the real MNIST
//! distribution, so a directory holding a real download loads the same way:
//!
//! | split | images | labels |
//! | --- | --- | --- |
//! | [`Split::Train`] | `train-images-idx3-ubyte[.gz]` | `train-labels-idx1-ubyte[.gz]` |
//! | [`Split::Test`] | `t10k-images-idx3-ubyte[.gz]` | `t10k-labels-idx1-ubyte[.gz]` |
//!
//! For each file the `.gz` name is tried first, then the plain one. Whether a
//! file is decompressed is decided by its content (the gzip magic `1f 8b`;
//! an IDX file starts with two zero bytes), not by its name.
//!
//! IDX layout (all integers big-endian `u32`): images are magic `0x00000803`,
//! count, rows, cols, then `count * rows * cols` pixel bytes, row-major;
//! labels are magic `0x00000801`, count, then `count` label bytes.
//!
//! Every malformed input is an [`MnistError`] naming the file; nothing here
//! allocates more than the file's own size on the word of its header.

use flate2::read::MultiGzDecoder;
use ndarray::Array2;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Number of classes; every label must be below it.
pub const CLASSES: usize = 10;

/// Which half of the data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    /// File name of the (uncompressed) images file.
    pub fn images_file(self) -> &'static str {
        match self {
            Split::Train => "train-images-idx3-ubyte",
            Split::Test => "t10k-images-idx3-ubyte",
        }
    }

    /// File name of the (uncompressed) labels file.
    pub fn labels_file(self) -> &'static str {
        match self {
            Split::Train => "train-labels-idx1-ubyte",
            Split::Test => "t10k-labels-idx1-ubyte",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
        })
    }
}

/// Why a split could not be loaded. Every variant names the file(s).
#[derive(Debug, thiserror::Error)]
pub enum MnistError {
    #[error("MNIST file not found: tried {}", list(tried))]
    Missing { tried: Vec<PathBuf> },

    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "{}: bad magic number: expected {expected:#010x}, found {found:#010x}",
        path.display()
    )]
    BadMagic {
        path: PathBuf,
        expected: u32,
        found: u32,
    },

    #[error(
        "{}: truncated: expected {expected} bytes, found {found}",
        path.display()
    )]
    Truncated {
        path: PathBuf,
        expected: u64,
        found: u64,
    },

    #[error(
        "{}: trailing data: expected {expected} bytes, found {found}",
        path.display()
    )]
    TrailingData {
        path: PathBuf,
        expected: u64,
        found: u64,
    },

    #[error("{}: bad image shape {rows}x{cols}", path.display())]
    BadShape { path: PathBuf, rows: u32, cols: u32 },

    #[error(
        "count mismatch: {} has {images} images but {} has {labels} labels",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        images_path: PathBuf,
        images: usize,
        labels_path: PathBuf,
        labels: usize,
    },

    #[error(
        "{}: label {value} at index {index} is not a digit 0-9",
        path.display()
    )]
    BadLabel {
        path: PathBuf,
        index: usize,
        value: u8,
    },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One split: `len()` images of `rows x cols` pixels and their labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// `len() x (rows * cols)` pixel bytes, one image per row, row-major
    /// (784 columns for MNIST).
    pub images: Array2<u8>,
    /// One label in `0..=9` per image.
    pub labels: Vec<u8>,
    pub rows: usize,
    pub cols: usize,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The first `n` samples (all of them if there are fewer).
    pub fn first(self, n: usize) -> Dataset {
        if n >= self.len() {
            return self;
        }
        Dataset {
            images: self.images.slice(ndarray::s![..n, ..]).to_owned(),
            labels: self.labels[..n].to_vec(),
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// The images at `idx`, in that order, as `idx.len() x (rows * cols)`
    /// floats `pixel / 255` in `[0, 1]`.
    ///
    /// # Panics
    /// If an index is `>= len()`.
    pub fn pixels_f32(&self, idx: &[usize]) -> Array2<f32> {
        let mut out = Array2::<f32>::zeros((idx.len(), self.images.ncols()));
        for (mut row, &i) in out.rows_mut().into_iter().zip(idx) {
            row.zip_mut_with(&self.images.row(i), |o, &p| *o = f32::from(p) / 255.0);
        }
        out
    }
}

/// The MNIST subset bundled with the repository: `<repo>/data/mnist`.
pub fn bundled_dir() -> PathBuf {
    let host = Path::new(env!("CARGO_MANIFEST_DIR"));
    host.parent()
        .map_or_else(|| host.join(".."), Path::to_path_buf)
        .join("data")
        .join("mnist")
}

/// Loads one split from `dir`, checking both files and that they agree.
pub fn load_split(dir: &Path, split: Split) -> Result<Dataset, MnistError> {
    let (images_path, images_bytes) = read_either(dir, split.images_file())?;
    let (labels_path, labels_bytes) = read_either(dir, split.labels_file())?;

    let (rows, cols, images) = parse_images(&images_path, &images_bytes)?;
    drop(images_bytes);
    let labels = parse_labels(&labels_path, labels_bytes)?;

    if images.nrows() != labels.len() {
        return Err(MnistError::CountMismatch {
            images: images.nrows(),
            images_path,
            labels: labels.len(),
            labels_path,
        });
    }
    Ok(Dataset {
        images,
        labels,
        rows,
        cols,
    })
}

/// Reads `dir/name.gz`, or else `dir/name`, decompressing if it is gzip.
fn read_either(dir: &Path, name: &str) -> Result<(PathBuf, Vec<u8>), MnistError> {
    let tried = [dir.join(format!("{name}.gz")), dir.join(name)];
    for path in &tried {
        match File::open(path) {
            Ok(file) => {
                let bytes = read_all(file).map_err(|source| MnistError::Io {
                    path: path.clone(),
                    source,
                })?;
                return Ok((path.clone(), bytes));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(MnistError::Io {
                    path: path.clone(),
                    source,
                })
            }
        }
    }
    Err(MnistError::Missing {
        tried: tried.to_vec(),
    })
}

/// Largest IDX file, after decompression: full MNIST's training images are
/// 47 MB. The bound keeps a small bomb of a file from taking the memory.
pub const MAX_IDX_BYTES: u64 = 1 << 29;

fn read_all(file: File) -> io::Result<Vec<u8>> {
    let too_large = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {MAX_IDX_BYTES} bytes (decompressed)"),
        )
    };
    let mut raw = Vec::new();
    file.take(MAX_IDX_BYTES + 1).read_to_end(&mut raw)?;
    if raw.len() as u64 > MAX_IDX_BYTES {
        return Err(too_large());
    }
    if raw.starts_with(&[0x1f, 0x8b]) {
        // Every member of a multi-member file, as zcat reads it.
        let mut out = Vec::new();
        MultiGzDecoder::new(raw.as_slice())
            .take(MAX_IDX_BYTES + 1)
            .read_to_end(&mut out)?;
        if out.len() as u64 > MAX_IDX_BYTES {
            return Err(too_large());
        }
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// The first `words` big-endian `u32`s of the header, after checking the
/// file is long enough to have them.
fn header(path: &Path, bytes: &[u8], words: usize) -> Result<Vec<u32>, MnistError> {
    let need = 4 * words;
    if bytes.len() < need {
        return Err(MnistError::Truncated {
            path: path.to_path_buf(),
            expected: need as u64,
            found: bytes.len() as u64,
        });
    }
    Ok(bytes[..need]
        .chunks_exact(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .collect())
}

fn check_magic(path: &Path, expected: u32, found: u32) -> Result<(), MnistError> {
    if found == expected {
        Ok(())
    } else {
        Err(MnistError::BadMagic {
            path: path.to_path_buf(),
            expected,
            found,
        })
    }
}

/// Checks the payload after a `head`-byte header is exactly `payload` bytes.
fn check_size(path: &Path, len: usize, head: u64, payload: u64) -> Result<(), MnistError> {
    let expected = head + payload;
    let found = len as u64;
    let path = path.to_path_buf();
    match found.cmp(&expected) {
        std::cmp::Ordering::Less => Err(MnistError::Truncated {
            path,
            expected,
            found,
        }),
        std::cmp::Ordering::Greater => Err(MnistError::TrailingData {
            path,
            expected,
            found,
        }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

fn parse_images(path: &Path, bytes: &[u8]) -> Result<(usize, usize, Array2<u8>), MnistError> {
    // Magic first, on its own, so that a labels file given as images reports
    // a bad magic rather than a short header.
    check_magic(path, IMAGES_MAGIC, header(path, bytes, 1)?[0])?;
    let h = header(path, bytes, 4)?;
    let (n, rows, cols) = (h[1], h[2], h[3]);
    let pixels = u64::from(rows) * u64::from(cols);
    let Some(row_len) = usize::try_from(pixels).ok().filter(|&p| p > 0) else {
        return Err(MnistError::BadShape {
            path: path.to_path_buf(),
            rows,
            cols,
        });
    };
    // n * rows * cols may not fit u64; an absurd header then simply asks for
    // more than the file has.
    let payload = u64::from(n).checked_mul(pixels).unwrap_or(u64::MAX - 16);
    check_size(path, bytes.len(), 16, payload)?;
    let pixels = bytes[16..].to_vec();
    let images =
        Array2::from_shape_vec((pixels.len() / row_len, row_len), pixels).map_err(|_| {
            MnistError::BadShape {
                path: path.to_path_buf(),
                rows,
                cols,
            }
        })?;
    Ok((rows as usize, cols as usize, images))
}

fn parse_labels(path: &Path, mut bytes: Vec<u8>) -> Result<Vec<u8>, MnistError> {
    check_magic(path, LABELS_MAGIC, header(path, &bytes, 1)?[0])?;
    let n = header(path, &bytes, 2)?[1];
    check_size(path, bytes.len(), 8, u64::from(n))?;
    bytes.drain(..8);
    if let Some((index, &value)) = bytes
        .iter()
        .enumerate()
        .find(|&(_, &l)| usize::from(l) >= CLASSES)
    {
        return Err(MnistError::BadLabel {
            path: path.to_path_buf(),
            index,
            value,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::collections::HashSet;
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh, empty directory under the system temp dir; removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("srsa-mnist-test-{}-{tag}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn be(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    /// An images file of `n` 2x3 images whose pixels count up from `first`.
    fn images_bytes(n: u32, first: u8) -> Vec<u8> {
        let mut b = be(&[IMAGES_MAGIC, n, 2, 3]);
        b.extend((0..n as usize * 6).map(|i| first.wrapping_add(i as u8)));
        b
    }

    fn labels_bytes(labels: &[u8]) -> Vec<u8> {
        let mut b = be(&[LABELS_MAGIC, labels.len() as u32]);
        b.extend_from_slice(labels);
        b
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// Writes a valid plain train split of 3 images into `dir`.
    fn write_valid(dir: &Path) -> (PathBuf, PathBuf) {
        (
            write(dir, "train-images-idx3-ubyte", &images_bytes(3, 250)),
            write(dir, "train-labels-idx1-ubyte", &labels_bytes(&[7, 0, 9])),
        )
    }

    fn names(err: &MnistError, path: &Path) -> bool {
        err.to_string().contains(&path.display().to_string())
    }

    #[test]
    fn bundled_counts_labels_and_classes() {
        let train = load_split(&bundled_dir(), Split::Train).unwrap();
        let test = load_split(&bundled_dir(), Split::Test).unwrap();
        for (ds, n) in [(&train, 8000), (&test, 2000)] {
            assert_eq!(ds.len(), n);
            assert!(!ds.is_empty());
            assert_eq!((ds.rows, ds.cols), (28, 28));
            assert_eq!(ds.images.dim(), (n, 784));
            assert!(ds.labels.iter().all(|&l| l <= 9));
            let mut per_class = [0usize; CLASSES];
            for &l in &ds.labels {
                per_class[usize::from(l)] += 1;
            }
            for (c, &k) in per_class.iter().enumerate() {
                assert!(k > 0, "class {c} missing");
            }
            assert_eq!(per_class.iter().sum::<usize>(), n);
        }
        // The split is stratified: every class's test share is ~1/5.
        for c in 0..CLASSES as u8 {
            let tr = train.labels.iter().filter(|&&l| l == c).count();
            let te = test.labels.iter().filter(|&&l| l == c).count();
            let total = tr + te;
            assert!(
                te.abs_diff(total / 5) <= 1,
                "class {c}: {te} of {total} in test"
            );
        }
    }

    #[test]
    fn bundled_splits_are_disjoint_and_not_class_sorted() {
        let train = load_split(&bundled_dir(), Split::Train).unwrap();
        let test = load_split(&bundled_dir(), Split::Test).unwrap();
        let seen: HashSet<Vec<u8>> = train
            .images
            .rows()
            .into_iter()
            .map(|r| r.to_vec())
            .collect();
        assert_eq!(seen.len(), train.len(), "duplicate images within train");
        for r in test.images.rows() {
            assert!(!seen.contains(&r.to_vec()), "a test image is also in train");
        }
        // Files are interleaved by class, so any prefix is balanced.
        for ds in [&train, &test] {
            let first: HashSet<u8> = ds.labels[..CLASSES].iter().copied().collect();
            assert_eq!(first.len(), CLASSES);
        }
    }

    #[test]
    fn bundled_pixel_range() {
        let test = load_split(&bundled_dir(), Split::Test).unwrap();
        assert_eq!(test.images.iter().copied().max(), Some(255));
        assert_eq!(test.images.iter().copied().min(), Some(0));
        let idx = [5, 0, 1999, 5];
        let x = test.pixels_f32(&idx);
        assert_eq!(x.dim(), (4, 784));
        assert!(x.iter().all(|&p| (0.0..=1.0).contains(&p)));
        for (row, &i) in x.rows().into_iter().zip(&idx) {
            for (&f, &b) in row.iter().zip(test.images.row(i)) {
                assert_eq!(f, f32::from(b) / 255.0);
            }
        }
        assert_eq!(x.row(0), x.row(3));
        assert!(x.row(0).iter().any(|&p| p > 0.5), "digit has ink");
        assert_eq!(test.pixels_f32(&[]).dim(), (0, 784));
    }

    #[test]
    fn plain_and_gzip_load_the_same() {
        let plain = TempDir::new("plain");
        write_valid(&plain.0);
        let a = load_split(&plain.0, Split::Train).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!((a.rows, a.cols), (2, 3));
        assert_eq!(a.labels, [7, 0, 9]);
        assert_eq!(a.images.row(1).to_vec(), [0, 1, 2, 3, 4, 5]);
        assert_eq!(a.images[[0, 5]], 255);

        let gz = TempDir::new("gz");
        write(
            &gz.0,
            "train-images-idx3-ubyte.gz",
            &gzip(&images_bytes(3, 250)),
        );
        write(
            &gz.0,
            "train-labels-idx1-ubyte.gz",
            &gzip(&labels_bytes(&[7, 0, 9])),
        );
        assert_eq!(load_split(&gz.0, Split::Train).unwrap(), a);
        // The other split's files are absent.
        assert!(matches!(
            load_split(&gz.0, Split::Test),
            Err(MnistError::Missing { .. })
        ));
    }

    /// A file of several gzip members (`cat a.gz b.gz`) reads whole, as
    /// zcat reads it.
    #[test]
    fn multi_member_gzip_reads_whole() {
        let dir = TempDir::new("multi");
        let bytes = images_bytes(3, 250);
        let (head, tail) = bytes.split_at(20);
        let mut gz = gzip(head);
        gz.extend(gzip(tail));
        write(&dir.0, "train-images-idx3-ubyte.gz", &gz);
        write(
            &dir.0,
            "train-labels-idx1-ubyte.gz",
            &gzip(&labels_bytes(&[7, 0, 9])),
        );
        let plain = TempDir::new("multi-plain");
        write_valid(&plain.0);
        assert_eq!(
            load_split(&dir.0, Split::Train).unwrap(),
            load_split(&plain.0, Split::Train).unwrap()
        );
    }

    #[test]
    fn missing_file_names_both_paths_tried() {
        let dir = TempDir::new("missing");
        let err = load_split(&dir.0, Split::Test).unwrap_err();
        match &err {
            MnistError::Missing { tried } => assert_eq!(tried.len(), 2),
            e => panic!("wrong error {e:?}"),
        }
        assert!(
            names(&err, &dir.0.join("t10k-images-idx3-ubyte.gz")),
            "{err}"
        );
        assert!(names(&err, &dir.0.join("t10k-images-idx3-ubyte")), "{err}");

        // Images present, labels missing: the labels paths are named.
        write(&dir.0, "t10k-images-idx3-ubyte", &images_bytes(1, 0));
        let err = load_split(&dir.0, Split::Test).unwrap_err();
        assert!(matches!(err, MnistError::Missing { .. }));
        assert!(names(&err, &dir.0.join("t10k-labels-idx1-ubyte")), "{err}");
    }

    #[test]
    fn bad_magic_names_file() {
        let dir = TempDir::new("magic");
        let (images, labels) = write_valid(&dir.0);
        // Labels where images belong.
        write(&dir.0, "train-images-idx3-ubyte", &labels_bytes(&[1, 2, 3]));
        let err = load_split(&dir.0, Split::Train).unwrap_err();
        match &err {
            MnistError::BadMagic {
                expected, found, ..
            } => assert_eq!((*expected, *found), (IMAGES_MAGIC, LABELS_MAGIC)),
            e => panic!("wrong error {e:?}"),
        }
        assert!(names(&err, &images), "{err}");
        assert!(err.to_string().contains("0x00000803"), "{err}");

        write_valid(&dir.0);
        let mut bad = labels_bytes(&[7, 0, 9]);
        bad[3] = 0x99;
        write(&dir.0, "train-labels-idx1-ubyte", &bad);
        let err = load_split(&dir.0, Split::Train).unwrap_err();
        assert!(
            matches!(err, MnistError::BadMagic { found: 0x899, .. }),
            "{err:?}"
        );
        assert!(names(&err, &labels), "{err}");
    }

    #[test]
    fn truncated_payload_and_header_name_file() {
        let dir = TempDir::new("trunc");
        let (images, labels) = write_valid(&dir.0);
        let full = images_bytes(3, 0);
        write(&dir.0, "train-images-idx3-ubyte", &full[..full.len() - 1]);
        let err = load_split(&dir.0, Split::Train).unwrap_err();
        match &err {
            MnistError::Truncated {
                expected, found, ..
            } => assert_eq!((*expected, *found), (16 + 18, 16 + 17)),
            e => panic!("wrong error {e:?}"),
        }
        assert!(names(&err, &images), "{err}");

        // A header cut short.
        write(&dir.0, "train-images-idx3-ubyte", &full[..10]);
        let err = load_split(&dir.0, Split::Train).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::Truncated {
                    expected: 16,
                    found: 10,
                    ..
                }
            ),
            "{err:?}"
        );

        // An absurd count does not allocate, it is just short.
        write(
            &dir.0,
            "train-images-idx3-ubyte",
            &be(&[IMAGES_MAGIC, u32::MAX, u32::MAX, u32::MAX]),
        );
        let err = load_split(&dir.0, Split::Train).unwrap_err();
        assert!(matches!(err, MnistError::Truncated { .. }), "{err:?}");

        // Labels: count says 4, three present.
        write_valid(&dir.0);
        let mut short = be(&[LABELS_MAGIC, 4]);
        short.extend([1, 2, 3]);
        write(&dir.0, "train-labels-idx1-ubyte", &short);
        let err = load_split(&dir.0, Split::Train).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::Truncated {
                    expected: 12,
                    found: 11,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(names(&err, &labels), "{err}");

        // A gzip stream cut short is an I/O error naming the file.
        let gz = gzip(&labels_bytes(&[7, 0, 9]));
        let gz_path = write(&dir.0, "train-labels-idx1-ubyte.gz", &gz[..gz.len() / 2]);
        let err = load_split(&dir.0, Split::Train).unwrap_err();
        assert!(matches!(err, MnistError::Io { .. }), "{err:?}");
        assert!(names(&err, &gz_path), "{err}");
    }

    #[test]
    fn trailing_data_and_bad_shape_are_rejected() {
        let dir = TempDir::new("trail");
        let (images, _) = write_valid(&dir.0);
        let mut long = images_bytes(3, 0);
        long.push(0);
        write(&dir.0, "train-images-idx3-ubyte", &long);
        let err = load_split(&dir.0, Split::Train).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::TrailingData {
                    expected: 34,
                    found: 35,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(names(&err, &images), "{err}");

        write(
            &dir.0,
            "train-images-idx3-ubyte",
            &be(&[IMAGES_MAGIC, 3, 0, 28]),
        );
        let err = load_split(&dir.0, Split::Train).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::BadShape {
                    rows: 0,
                    cols: 28,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(names(&err, &images), "{err}");
    }

    #[test]
    fn mismatched_counts_name_both_files() {
        let dir = TempDir::new("count");
        let (images, labels) = write_valid(&dir.0);
        write(&dir.0, "train-labels-idx1-ubyte", &labels_bytes(&[7, 0]));
        let err = load_split(&dir.0, Split::Train).unwrap_err();
        match &err {
            MnistError::CountMismatch {
                images: ni,
                labels: nl,
                ..
            } => assert_eq!((*ni, *nl), (3, 2)),
            e => panic!("wrong error {e:?}"),
        }
        assert!(names(&err, &images) && names(&err, &labels), "{err}");
    }

    #[test]
    fn label_above_nine_names_file_and_index() {
        let dir = TempDir::new("label");
        let (_, labels) = write_valid(&dir.0);
        write(
            &dir.0,
            "train-labels-idx1-ubyte",
            &labels_bytes(&[7, 10, 9]),
        );
        let err = load_split(&dir.0, Split::Train).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::BadLabel {
                    index: 1,
                    value: 10,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(names(&err, &labels), "{err}");
        assert!(err.to_string().contains("index 1"), "{err}");
    }
}
