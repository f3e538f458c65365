//! [`Dataset`]: samples as rows of values in [0, 1], with optional labels and image shape.

use std::fmt;
use std::path::Path;

use faer::prelude::ReborrowMut;
use faer::{Mat, MatMut};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use rayon::prelude::*;

use crate::data::batches::shuffle_in_place;
use crate::data::idx;
use crate::error::{Error, Result};
use crate::float::Float;

/// A data set: `n_samples` rows of `n_features` values in [0, 1] (row-major `f64`), with
/// optional class labels (one byte per sample) and an optional image shape (rows, cols).
///
/// Build one with [`Dataset::new`], read one from disk ([`Dataset::load`],
/// [`Dataset::read_idx`], [`Dataset::read_csv`]) or take the built-in [`Dataset::digits`].
#[derive(Clone, PartialEq)]
pub struct Dataset {
    pub(crate) data: Vec<f64>,
    pub(crate) n_samples: usize,
    pub(crate) n_features: usize,
    pub(crate) labels: Option<Vec<u8>>,
    pub(crate) image_shape: Option<(usize, usize)>,
    pub(crate) name: String,
    /// What the reader decided about the data that a user should know (see
    /// [`Dataset::notes`]).
    pub(crate) notes: Vec<String>,
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("name", &self.name)
            .field("n_samples", &self.n_samples)
            .field("n_features", &self.n_features)
            .field("image_shape", &self.image_shape)
            .field("labelled", &self.labels.is_some())
            .field("notes", &self.notes)
            .finish_non_exhaustive()
    }
}

impl Dataset {
    /// A data set from row-major values (`data.len() = n_samples * n_features`), each finite
    /// and in [0, 1], and optionally one label per sample.
    ///
    /// Errors: [`Error::Shape`] if the length is not a multiple of `n_features` (which must be
    /// positive) or the label count differs from the sample count;
    /// [`Error::InvalidParameter`] naming the first value outside [0, 1] (or not finite).
    pub fn new(data: Vec<f64>, n_features: usize, labels: Option<Vec<u8>>) -> Result<Self> {
        if n_features == 0 {
            return Err(Error::Shape("a data set needs at least one feature".into()));
        }
        if data.len() % n_features != 0 {
            return Err(Error::Shape(format!(
                "{} values do not split into rows of {n_features} features",
                data.len()
            )));
        }
        let n_samples = data.len() / n_features;
        if let Some(l) = &labels {
            if l.len() != n_samples {
                return Err(Error::Shape(format!(
                    "{} labels for {n_samples} samples",
                    l.len()
                )));
            }
        }
        if let Some(k) = data.iter().position(|x| !(0.0..=1.0).contains(x)) {
            return Err(Error::param(
                "data",
                format!(
                    "value {} at sample {}, feature {} is outside [0, 1]",
                    data[k],
                    k / n_features,
                    k % n_features
                ),
            ));
        }
        Ok(Self::from_parts(
            data,
            n_samples,
            n_features,
            labels,
            None,
            String::new(),
        ))
    }

    /// Crate-internal constructor for data already known to be valid.
    pub(crate) fn from_parts(
        data: Vec<f64>,
        n_samples: usize,
        n_features: usize,
        labels: Option<Vec<u8>>,
        image_shape: Option<(usize, usize)>,
        name: String,
    ) -> Self {
        debug_assert_eq!(data.len(), n_samples * n_features);
        Self {
            data,
            n_samples,
            n_features,
            labels,
            image_shape,
            name,
            notes: Vec::new(),
        }
    }

    /// The same data with an image shape (`rows * cols` must equal the number of features).
    pub fn with_image_shape(mut self, rows: usize, cols: usize) -> Result<Self> {
        if rows.checked_mul(cols) != Some(self.n_features) {
            return Err(Error::Shape(format!(
                "image shape {rows} x {cols} does not match {} features",
                self.n_features
            )));
        }
        self.image_shape = Some((rows, cols));
        Ok(self)
    }

    /// The rectangle of `rows x cols` pixels at (`top`, `left`) of every image (a data set of
    /// that image shape, labels and name kept). Errors when the data has no image shape or
    /// the rectangle does not fit.
    ///
    /// ```
    /// let d = emf_rbm::data::Dataset::digits();
    /// let patch = d.crop(2, 2, 4, 4).unwrap();
    /// assert_eq!((patch.n_features(), patch.image_shape()), (16, Some((4, 4))));
    /// assert_eq!(patch.row(0)[0], d.row(0)[2 * 8 + 2]);
    /// ```
    pub fn crop(&self, top: usize, left: usize, rows: usize, cols: usize) -> Result<Dataset> {
        let (h, w) = self
            .image_shape
            .ok_or_else(|| Error::param("crop", "the data set has no image shape to crop"))?;
        if rows == 0 || cols == 0 || top + rows > h || left + cols > w {
            return Err(Error::param(
                "crop",
                format!(
                    "a {rows} x {cols} rectangle at ({top}, {left}) does not fit {h} x {w} images"
                ),
            ));
        }
        let mut data = Vec::with_capacity(self.n_samples * rows * cols);
        for row in self.rows() {
            for r in top..top + rows {
                data.extend_from_slice(&row[r * w + left..r * w + left + cols]);
            }
        }
        Ok(Dataset {
            data,
            n_samples: self.n_samples,
            n_features: rows * cols,
            labels: self.labels.clone(),
            image_shape: Some((rows, cols)),
            name: self.name.clone(),
            notes: self.notes.clone(),
        })
    }

    /// The same data under another name (shown in logs and reports).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The data set's name (file name, `"digits"`, `"mnist-train"`, ...; may be empty).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the reader decided about the data that changes its meaning, one sentence each
    /// (empty for most data sets): e.g. an IDX file of 0/1 bytes read as binary data by
    /// [`Dataset::read_idx`]. Kept by binarisation, splits and subsets; the command-line tool
    /// prints them.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Number of samples (rows).
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    /// Number of features (columns; visible units).
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Whether the data set has no samples.
    pub fn is_empty(&self) -> bool {
        self.n_samples == 0
    }

    /// Sample `i` (panics if `i >= n_samples`, like slice indexing).
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.n_features..(i + 1) * self.n_features]
    }

    /// Iterator over the samples.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f64]> + '_ {
        self.data.chunks_exact(self.n_features)
    }

    /// All values, row-major (`n_samples * n_features`).
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// A 64-bit fingerprint of the values and shape ([`crate::fingerprint`]; not of the name,
    /// the labels or the notes), recorded in the history of a model trained on this data and
    /// compared when a run is resumed. 16 hex digits.
    ///
    /// ```
    /// use emf_rbm::data::Dataset;
    /// let d = Dataset::digits().binarize(0.5);
    /// assert_eq!(d.fingerprint(), d.clone().fingerprint());
    /// assert_ne!(d.fingerprint(), d.head(100).fingerprint());
    /// ```
    pub fn fingerprint(&self) -> String {
        let mut f = crate::fingerprint::Fingerprint::new();
        f.add_len(self.n_samples());
        f.add_len(self.n_features());
        f.add_f64s(self.as_slice());
        f.hex()
    }

    /// The class labels, one per sample, if any.
    pub fn labels(&self) -> Option<&[u8]> {
        self.labels.as_deref()
    }

    /// The image shape (rows, cols), if the samples are images.
    pub fn image_shape(&self) -> Option<(usize, usize)> {
        self.image_shape
    }

    /// A copy with the values `x >= threshold` set to 1 and the others to 0.
    pub fn binarize(&self, threshold: f64) -> Dataset {
        let data = self
            .data
            .iter()
            .map(|&x| if x >= threshold { 1.0 } else { 0.0 })
            .collect();
        self.with_data(data)
    }

    /// A copy with each value `x` replaced by a Bernoulli(`x`) sample; reproducible from
    /// `seed` (ChaCha8).
    pub fn binarize_stochastic(&self, seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let data = self
            .data
            .iter()
            .map(|&x| if rng.random::<f64>() < x { 1.0 } else { 0.0 })
            .collect();
        self.with_data(data)
    }

    /// Whether every value is exactly 0 or 1.
    pub fn is_binary(&self) -> bool {
        self.data.iter().all(|&x| x == 0.0 || x == 1.0)
    }

    /// Splits into (training, validation) parts: a `validation_fraction` share of the samples
    /// (rounded), chosen by a shuffle reproducible from `seed`. Each part keeps the original
    /// sample order, labels and image shape.
    ///
    /// Errors ([`Error::InvalidParameter`]): the fraction is not in (0, 1), or either part
    /// would be empty.
    pub fn split(&self, validation_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        if !(validation_fraction > 0.0 && validation_fraction < 1.0) {
            return Err(Error::param(
                "validation_fraction",
                format!("must lie strictly between 0 and 1, got {validation_fraction}"),
            ));
        }
        let n = self.n_samples;
        let n_val = (n as f64 * validation_fraction).round() as usize;
        if n_val == 0 || n_val >= n {
            return Err(Error::param(
                "validation_fraction",
                format!(
                    "{validation_fraction} of {n} samples leaves an empty {} set",
                    if n_val == 0 { "validation" } else { "training" }
                ),
            ));
        }
        let mut order: Vec<usize> = (0..n).collect();
        shuffle_in_place(&mut order, &mut ChaCha8Rng::seed_from_u64(seed));
        let (val, train) = order.split_at_mut(n_val);
        val.sort_unstable();
        train.sort_unstable();
        let name = |suffix: &str| {
            if self.name.is_empty() {
                suffix.to_string()
            } else {
                format!("{}-{suffix}", self.name)
            }
        };
        Ok((
            self.gather(train).with_name(name("train")),
            self.gather(val).with_name(name("validation")),
        ))
    }

    /// The samples at `indices` (in that order; repeats allowed), with their labels.
    ///
    /// Errors ([`Error::InvalidParameter`]) if an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.n_samples) {
            return Err(Error::param(
                "indices",
                format!(
                    "sample index {bad} out of range for {} samples",
                    self.n_samples
                ),
            ));
        }
        Ok(self.gather(indices))
    }

    /// The first `min(n, n_samples)` samples.
    pub fn head(&self, n: usize) -> Dataset {
        let n = n.min(self.n_samples);
        Dataset {
            data: self.data[..n * self.n_features].to_vec(),
            n_samples: n,
            n_features: self.n_features,
            labels: self.labels.as_ref().map(|l| l[..n].to_vec()),
            image_shape: self.image_shape,
            name: self.name.clone(),
            notes: self.notes.clone(),
        }
    }

    /// The mean of each feature over the samples (all zeros for an empty data set).
    pub fn pixel_means(&self) -> Vec<f64> {
        let mut acc = vec![0.0; self.n_features];
        for row in self.rows() {
            for (a, &x) in acc.iter_mut().zip(row) {
                *a += x;
            }
        }
        if self.n_samples > 0 {
            let inv = 1.0 / self.n_samples as f64;
            acc.iter_mut().for_each(|a| *a *= inv);
        }
        acc
    }

    /// The data as an `n_samples x n_features` faer matrix.
    pub fn to_mat<T: Float>(&self) -> Mat<T> {
        let mut m = Mat::<T>::zeros(self.n_samples, self.n_features);
        let all: Vec<usize> = (0..self.n_samples).collect();
        self.fill_batch(&all, m.as_mut());
        m
    }

    /// Copies sample `indices[r]` into row `r` of `dst`, without allocating.
    ///
    /// # Panics
    /// If `dst` is not `indices.len() x n_features`, or an index is out of range (a
    /// programming error, like slice indexing).
    pub fn fill_batch<T: Float>(&self, indices: &[usize], dst: MatMut<'_, T>) {
        assert_eq!(
            (dst.nrows(), dst.ncols()),
            (indices.len(), self.n_features),
            "fill_batch: destination shape must be (indices.len(), n_features)"
        );
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.n_samples) {
            panic!(
                "fill_batch: sample index {bad} out of range for {} samples",
                self.n_samples
            );
        }
        // Row by row: each sample is read as one contiguous run (the reads, from anywhere in
        // a large data set, are what costs; the strided writes stay in cache). Rows split over
        // threads for a large batch.
        let m = self.n_features;
        let fill = |mut dst: MatMut<'_, T>, indices: &[usize]| {
            for (r, &i) in indices.iter().enumerate() {
                let row = dst.rb_mut().row_mut(r);
                for (d, &x) in row.iter_mut().zip(&self.data[i * m..(i + 1) * m]) {
                    *d = T::of(x);
                }
            }
        };
        let rows = indices.len();
        if rows * m >= 32_768 && rows >= 16 && rayon::current_num_threads() > 1 {
            let chunk = rows.div_ceil(2 * rayon::current_num_threads());
            dst.par_row_chunks_mut(chunk)
                .zip(indices.par_chunks(chunk))
                .for_each(|(d, idx)| fill(d, idx));
        } else {
            fill(dst, indices);
        }
    }

    /// Reads an IDX image file (`.idx` or gzip, detected by its magic bytes), pixel bytes
    /// divided by 255 (grey levels, as MNIST). If a label file sits next to it under the usual
    /// name (`train-images-idx3-ubyte[.gz]` -> `train-labels-idx1-ubyte[.gz]`: `images` ->
    /// `labels`, `idx3` -> `idx1`), it is read too and its count checked.
    ///
    /// A file whose bytes are all 0 or 1 (and not all 0) holds binary data stored as 0/1
    /// bytes, a common way to save binary images: it is read as 0 and 1, not as 0 and 1/255
    /// (which thresholding at 0.5 would turn into an empty data set), and
    /// [`Dataset::notes`] says so. [`Dataset::read_idx_with_scale`] with 255 divides such a
    /// file by 255 anyway.
    pub fn read_idx(images: &Path) -> Result<Dataset> {
        let labels = idx::find_sibling_labels(images);
        Ok(idx::read(images, labels.as_deref(), None)?.0)
    }

    /// Like [`Dataset::read_idx`], dividing each byte by `scale` (e.g. 16 for optdigits,
    /// 255 for grey levels whatever the bytes); a byte above `scale` is a format error.
    pub fn read_idx_with_scale(images: &Path, scale: f64) -> Result<Dataset> {
        let labels = idx::find_sibling_labels(images);
        Ok(idx::read(images, labels.as_deref(), Some(scale))?.0)
    }

    /// Reads an IDX image file and the given label file (none: no labels; no sibling
    /// search), dividing each byte by `scale`. A label count that differs from the image
    /// count is a format error naming both files.
    pub fn read_idx_with_labels(
        images: &Path,
        labels: Option<&Path>,
        scale: f64,
    ) -> Result<Dataset> {
        Ok(idx::read(images, labels, Some(scale))?.0)
    }

    /// Writes the samples as an IDX image file (bytes `round(255 x)`; 3 dims when there is an
    /// image shape, else 2 dims) and, if `labels` is given, the labels as an IDX label file
    /// (an error if the data set has none). Each file is written atomically (temporary file
    /// in the same folder, then rename) and gzip-compressed when its name ends in `.gz`.
    pub fn write_idx(&self, images: &Path, labels: Option<&Path>) -> Result<()> {
        idx::write(self, images, labels)
    }

    /// A copy with other values (same shape), keeping labels, image shape and name.
    fn with_data(&self, data: Vec<f64>) -> Dataset {
        Dataset {
            data,
            n_samples: self.n_samples,
            n_features: self.n_features,
            labels: self.labels.clone(),
            image_shape: self.image_shape,
            name: self.name.clone(),
            notes: self.notes.clone(),
        }
    }

    /// The samples at `indices` (assumed in range).
    fn gather(&self, indices: &[usize]) -> Dataset {
        let mut data = Vec::with_capacity(indices.len() * self.n_features);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Dataset {
            data,
            n_samples: indices.len(),
            n_features: self.n_features,
            labels: self
                .labels
                .as_ref()
                .map(|l| indices.iter().map(|&i| l[i]).collect()),
            image_shape: self.image_shape,
            name: self.name.clone(),
            notes: self.notes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Dataset {
        Dataset::new(vec![0.0, 0.25, 0.5, 0.75, 1.0, 0.5], 2, Some(vec![1, 2, 3])).unwrap()
    }

    #[test]
    fn new_checks_inputs() {
        assert!(matches!(
            Dataset::new(vec![0.0; 5], 2, None),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            Dataset::new(vec![0.0; 4], 2, Some(vec![1])),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            Dataset::new(vec![0.0, 1.5], 2, None),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            Dataset::new(vec![0.0, f64::NAN], 2, None),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            Dataset::new(vec![], 0, None),
            Err(Error::Shape(_))
        ));
        assert!(small().with_image_shape(1, 3).is_err());
        assert_eq!(
            small().with_image_shape(2, 1).unwrap().image_shape(),
            Some((2, 1))
        );
    }

    #[test]
    fn binarize_and_means() {
        let d = small();
        assert_eq!(d.binarize(0.5).as_slice(), &[0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
        assert!(d.binarize(0.5).is_binary());
        assert!(!d.is_binary());
        assert_eq!(d.pixel_means(), vec![0.5, 0.5]);
        let s = d.binarize_stochastic(3);
        assert!(s.is_binary());
        assert_eq!(s, d.binarize_stochastic(3));
        assert_eq!(s.as_slice()[0], 0.0);
        assert_eq!(s.as_slice()[4], 1.0);
    }

    #[test]
    fn subset_head() {
        let d = small();
        let s = d.subset(&[2, 0, 2]).unwrap();
        assert_eq!(s.labels(), Some(&[3, 1, 3][..]));
        assert_eq!(s.row(0), d.row(2));
        assert!(d.subset(&[3]).is_err());
        assert_eq!(d.head(10).n_samples(), 3);
        assert_eq!(d.head(1).labels(), Some(&[1][..]));
    }
}
