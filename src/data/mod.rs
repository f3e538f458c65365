//! Data sets (rows = samples, values in [0, 1]): readers for IDX (MNIST-style, plain or
//! gzip) and CSV files, the built-in UCI optdigits set, binarisation, train/validation
//! splits and shuffled minibatches.
//!
//! ```
//! use emf_rbm::data::{Dataset, Minibatches};
//! use rand::SeedableRng;
//!
//! let digits = Dataset::digits();                  // 1797 x 64, values in [0, 1]
//! let (train, valid) = digits.binarize(0.5).split(0.1, 7)?;
//! assert_eq!(train.n_samples() + valid.n_samples(), 1797);
//!
//! let mut batches = Minibatches::new(train.n_samples(), 100)?;
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
//! batches.shuffle(&mut rng);
//! let mut buf = emf_rbm::faer::Mat::<f64>::zeros(100, train.n_features());
//! let first = batches.batches().next().unwrap();
//! train.fill_batch(first, buf.as_mut());
//! # Ok::<(), emf_rbm::Error>(())
//! ```

mod batches;
mod csv;
mod dataset;
mod digits;
mod fileio;
mod idx;
mod load;

pub use batches::Minibatches;
pub use csv::{CsvOptions, LabelColumn};
pub use dataset::Dataset;
pub use digits::DIGITS_SCALE;
pub use idx::IDX_SCALE;
