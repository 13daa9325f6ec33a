//! Reading MNIST-format IDX files from a directory (`--mnist DIR`): MNIST itself, or
//! Fashion-MNIST, which has the same file names and format.
//!
//! The four standard files are looked for under their usual names, plain or gzip-compressed
//! (`.gz`, recognised by its magic bytes too); the core's [`infoplane_core::idx`] checks
//! each. With both pairs the data set is the 60k training images followed by the 10k test
//! images, split there ([`Dataset::with_split`]); with only the test pair it is those 10k
//! images with no split of their own, and the run's `train_frac` splits them (the caller
//! says so).

use crate::error::CliError;
use infoplane_core::dataset::Dataset;
use infoplane_core::idx::{IdxImages, IdxLabels};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Classes of MNIST and Fashion-MNIST.
pub const CLASSES: u8 = 10;

/// The largest file, after decompression, that is read (a gzip bomb stops here): the
/// 60k training images take 47 MB.
const MAX_BYTES: u64 = 1 << 30;

/// Which files were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistFiles {
    /// The training images and labels, if the directory has them.
    pub train: Option<[PathBuf; 2]>,
    /// The test images and labels.
    pub test: [PathBuf; 2],
}

impl MnistFiles {
    /// Every file read, training pair first.
    #[must_use]
    pub fn all(&self) -> Vec<&Path> {
        self.train
            .iter()
            .flatten()
            .chain(&self.test)
            .map(PathBuf::as_path)
            .collect()
    }
}

/// The file names looked for, without `.gz`: the standard one and the one some mirrors use.
fn names(stem: &str, kind: &str) -> [String; 2] {
    [
        format!("{stem}-{kind}-ubyte"),
        format!("{stem}.{kind}-ubyte"),
    ]
}

/// The file for `stem`/`kind` in `dir`, if there is one.
fn find(dir: &Path, stem: &str, kind: &str) -> Option<PathBuf> {
    names(stem, kind)
        .into_iter()
        .flat_map(|n| [format!("{n}.gz"), n])
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// A file's bytes, decompressed if it is gzip.
fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    let raw = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw.as_slice())
        .take(MAX_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| CliError::data(path, None, None, format!("not valid gzip data: {e}")))?;
    if out.len() as u64 > MAX_BYTES {
        return Err(CliError::data(
            path,
            None,
            None,
            format!("decompresses to more than {MAX_BYTES} bytes; not an MNIST file"),
        ));
    }
    Ok(out)
}

/// A pair of files read: the images' bytes, their rows and columns, and the labels.
type Pair = (Vec<u8>, [usize; 2], Vec<u32>);

/// One image file and its label file, checked against each other.
fn read_pair(images: &Path, labels: &Path) -> Result<Pair, CliError> {
    let ib = read(images)?;
    let im = IdxImages::parse(&ib)
        .map_err(|e| CliError::data(images, None, None, format!("not an IDX image file: {e}")))?;
    let lb = read(labels)?;
    let lab = IdxLabels::parse(&lb, CLASSES)
        .map_err(|e| CliError::data(labels, None, None, format!("not an IDX label file: {e}")))?;
    if lab.count() != im.count() {
        return Err(CliError::data(
            labels,
            None,
            None,
            format!(
                "holds {} labels but {} holds {} images",
                lab.count(),
                images.display(),
                im.count()
            ),
        ));
    }
    Ok((
        im.pixels().to_vec(),
        [im.rows(), im.cols()],
        lab.as_slice().iter().map(|&y| u32::from(y)).collect(),
    ))
}

/// Reads the MNIST-format data set in `dir`.
///
/// # Errors
/// [`CliError::Option`] `--mnist` when the directory or its test pair is missing, or only
/// one file of the training pair is there; [`CliError::Data`] naming the file that is not
/// IDX (or not gzip), whose counts disagree, or whose image size differs from the other
/// pair's; I/O errors with the path.
pub fn load(dir: &Path) -> Result<(Dataset, MnistFiles), CliError> {
    if !dir.is_dir() {
        return Err(CliError::option(
            "--mnist",
            format!("{} is not a directory", dir.display()),
        ));
    }
    let missing = |stem: &str, kind: &str| {
        let [a, b] = names(stem, kind);
        CliError::option(
            "--mnist",
            format!(
                "{} has no {a} (nor {a}.gz, {b}, {b}.gz); it needs the MNIST file names: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, plain or .gz (the training pair may be left out)",
                dir.display()
            ),
        )
    };
    let test = [
        find(dir, "t10k-images", "idx3").ok_or_else(|| missing("t10k-images", "idx3"))?,
        find(dir, "t10k-labels", "idx1").ok_or_else(|| missing("t10k-labels", "idx1"))?,
    ];
    let train = match (
        find(dir, "train-images", "idx3"),
        find(dir, "train-labels", "idx1"),
    ) {
        (Some(i), Some(l)) => Some([i, l]),
        (None, None) => None,
        (Some(_), None) => return Err(missing("train-labels", "idx1")),
        (None, Some(_)) => return Err(missing("train-images", "idx3")),
    };
    let [ti, tl] = &test;
    let (test_px, test_dims, test_y) = read_pair(ti, tl)?;
    let cols = test_dims[0] * test_dims[1];
    let core = |e| CliError::core(format!("reading {}", dir.display()), e);
    let data = match &train {
        None => Dataset::from_u8("mnist", test_px, cols, 255.0, test_y, u32::from(CLASSES))
            .map_err(core)?,
        Some([i, l]) => {
            let (mut px, dims, mut y) = read_pair(i, l)?;
            if dims != test_dims {
                return Err(CliError::data(
                    i,
                    None,
                    None,
                    format!(
                        "its images are {}×{} but those of {} are {}×{}",
                        dims[0],
                        dims[1],
                        ti.display(),
                        test_dims[0],
                        test_dims[1]
                    ),
                ));
            }
            let split = y.len();
            px.extend_from_slice(&test_px);
            y.extend_from_slice(&test_y);
            Dataset::from_u8("mnist", px, cols, 255.0, y, u32::from(CLASSES))
                .and_then(|d| d.with_split(split))
                .map_err(core)?
        }
    };
    Ok((data, MnistFiles { train, test }))
}
