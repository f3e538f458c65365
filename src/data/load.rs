//! [`Dataset::load`]: what the CLI's `--data` means.

use std::path::{Path, PathBuf};

use crate::data::csv::CsvOptions;
use crate::data::dataset::Dataset;
use crate::data::idx;
use crate::error::{Error, Result};

/// Where a `--data` spec points.
#[derive(Debug)]
enum Source {
    Digits,
    Folder {
        train: PathBuf,
        test: Option<PathBuf>,
        name: String,
    },
    Csv(PathBuf),
    Idx(PathBuf),
}

/// The first existing file among the usual MNIST names for the split `prefixes`.
fn find_split(dir: &Path, prefixes: &[&str]) -> Option<PathBuf> {
    for p in prefixes {
        for stem in [
            format!("{p}-images-idx3-ubyte"),
            format!("{p}-images.idx3-ubyte"),
        ] {
            for name in [stem.clone(), format!("{stem}.gz")] {
                let f = dir.join(name);
                if f.is_file() {
                    return Some(f);
                }
            }
        }
    }
    None
}

/// Image files (`*images*idx3*`) in a folder, sorted.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
        if name.contains("images") && name.contains("idx3") && entry.path().is_file() {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

fn is_csv(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.ends_with(".csv") || name.ends_with(".csv.gz")
}

fn folder_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "data".to_string())
}

fn resolve(spec: &str) -> Result<Source> {
    if spec.trim().is_empty() {
        return Err(Error::param(
            "data",
            "empty; give `digits`, a folder holding MNIST-style IDX files, a .csv file or an IDX file",
        ));
    }
    if spec.eq_ignore_ascii_case("digits") {
        return Ok(Source::Digits);
    }
    let path = PathBuf::from(spec);
    let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
    if meta.is_dir() {
        if let Some(train) = find_split(&path, &["train"]) {
            let test = find_split(&path, &["t10k", "test"]);
            return Ok(Source::Folder {
                train,
                test,
                name: folder_name(&path),
            });
        }
        let images = image_files(&path)?;
        return match images.as_slice() {
            [one] => Ok(Source::Idx(one.clone())),
            _ => Err(Error::format(
                &path,
                "folder",
                format!(
                    "expected train-images-idx3-ubyte[.gz] (MNIST layout) or a single \
                     *images*idx3* file, found {} image files{}",
                    images.len(),
                    if images.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " ({})",
                            images
                                .iter()
                                .filter_map(|p| p.file_name())
                                .map(|n| n.to_string_lossy().into_owned())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                ),
            )),
        };
    }
    if is_csv(&path) {
        Ok(Source::Csv(path))
    } else {
        Ok(Source::Idx(path))
    }
}

impl Dataset {
    /// What the CLI's `--data` means:
    ///
    /// * `digits`: the built-in UCI optdigits set ([`Dataset::digits`]);
    /// * a folder holding MNIST-style files (`train-images-idx3-ubyte[.gz]` and labels, as
    ///   MNIST and Fashion-MNIST): its **training** set, named `<folder>-train`; a folder
    ///   holding a single `*images*idx3*` file: that file;
    /// * a `.csv` or `.csv.gz` file: read with [`CsvOptions::default`];
    /// * anything else: an IDX image file, plain or gzip ([`Dataset::read_idx`]).
    pub fn load(spec: &str) -> Result<Dataset> {
        Self::load_with(spec, &CsvOptions::default())
    }

    /// Like [`Dataset::load`], reading CSV files with `csv` instead of the default options.
    pub fn load_with(spec: &str, csv: &CsvOptions) -> Result<Dataset> {
        match resolve(spec)? {
            Source::Digits => Ok(Dataset::digits()),
            Source::Folder { train, name, .. } => {
                Ok(Dataset::read_idx(&train)?.with_name(format!("{name}-train")))
            }
            Source::Csv(p) => Dataset::read_csv(&p, csv),
            Source::Idx(p) => Dataset::read_idx(&p),
        }
    }

    /// Like [`Dataset::load`], but for an MNIST-style folder returns
    /// `(training set, Some(test set))` (the test set from `t10k-images-idx3-ubyte[.gz]`,
    /// named `<folder>-test`; `None` when the folder has none). Anything else: `(data, None)`.
    pub fn load_split(spec: &str) -> Result<(Dataset, Option<Dataset>)> {
        Self::load_split_with(spec, &CsvOptions::default())
    }

    /// The files a `--data` spec reads (images, sibling labels, the test split of a MNIST
    /// folder; none for `digits`), for checking that no output overwrites them
    /// ([`crate::output::OutputPlan::inputs`]).
    pub fn input_files(spec: &str) -> Result<Vec<PathBuf>> {
        let with_labels = |p: PathBuf| {
            let labels = idx::find_sibling_labels(&p);
            std::iter::once(p).chain(labels)
        };
        Ok(match resolve(spec)? {
            Source::Digits => Vec::new(),
            Source::Folder { train, test, .. } => with_labels(train)
                .chain(test.into_iter().flat_map(with_labels))
                .collect(),
            Source::Csv(p) => vec![p],
            Source::Idx(p) => with_labels(p).collect(),
        })
    }

    /// Like [`Dataset::load_split`], reading CSV files with `csv`.
    pub fn load_split_with(spec: &str, csv: &CsvOptions) -> Result<(Dataset, Option<Dataset>)> {
        match resolve(spec)? {
            Source::Folder { train, test, name } => {
                let read = |p: &Path| idx::read(p, idx::find_sibling_labels(p).as_deref(), None);
                let (tr, tr_binary) = read(&train)?;
                let tr = tr.with_name(format!("{name}-train"));
                let te = match &test {
                    Some(t) => {
                        let (te, te_binary) = read(t)?;
                        // Binary 0/1 bytes in one file and grey levels (a byte above 1) in
                        // the other: the two would be scaled differently.
                        let grey = |d: &Dataset| {
                            d.as_slice()
                                .iter()
                                .position(|&x| x * idx::IDX_SCALE > 1.5)
                                .map(|k| {
                                    let header = if d.image_shape().is_some() { 16 } else { 12 };
                                    (k, (d.as_slice()[k] * idx::IDX_SCALE).round(), header + k)
                                })
                        };
                        let conflict = match (tr_binary, te_binary) {
                            (true, false) => grey(&te).map(|g| (&train, t, &te, g)),
                            (false, true) => grey(&tr).map(|g| (t, &train, &tr, g)),
                            _ => None,
                        };
                        if let Some((binary, other, d, (k, value, byte))) = conflict {
                            return Err(Error::format(
                                other,
                                format!("byte {byte}"),
                                format!(
                                    "pixel value {value} (sample {}, feature {}): this file holds \
                                     grey levels but {} holds only 0/1 bytes (binary data); the \
                                     training and test images must be stored alike",
                                    k / d.n_features(),
                                    k % d.n_features(),
                                    binary.display()
                                ),
                            ));
                        }
                        Some(te.with_name(format!("{name}-test")))
                    }
                    None => None,
                };
                if let Some(te) = &te {
                    if te.n_features() != tr.n_features() {
                        return Err(Error::Shape(format!(
                            "{}: test images have {} features, training images {}",
                            spec,
                            te.n_features(),
                            tr.n_features()
                        )));
                    }
                }
                Ok((tr, te))
            }
            _ => Ok((Self::load_with(spec, csv)?, None)),
        }
    }
}
