//! [`Minibatches`]: the shuffled order in which one epoch visits the samples.

use rand::seq::SliceRandom;
use rand::Rng;

use crate::error::{Error, Result};

/// Fisher-Yates shuffle driven by `rng` (reproducible for a given rng state).
pub(crate) fn shuffle_in_place<R: Rng + ?Sized>(v: &mut [usize], rng: &mut R) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// Shuffled minibatch index order for one epoch, reproducible from the rng.
///
/// Holds a permutation of `0..n_samples` cut into consecutive batches of `batch_size`
/// indices. **The last batch is kept even when partial** (it then holds
/// `n_samples % batch_size` indices), so every sample is visited once per epoch.
///
/// ```
/// use emf_rbm::data::Minibatches;
/// use rand::SeedableRng;
/// let mut mb = Minibatches::new(10, 4).unwrap();
/// mb.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
/// let sizes: Vec<usize> = mb.batches().map(|b| b.len()).collect();
/// assert_eq!(sizes, [4, 4, 2]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minibatches {
    order: Vec<usize>,
    batch_size: usize,
}

impl Minibatches {
    /// Batches over `n_samples` samples in their natural order (call
    /// [`Minibatches::shuffle`] before each epoch). Errors if `batch_size` is 0.
    pub fn new(n_samples: usize, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::param("batch_size", "must be at least 1"));
        }
        Ok(Self {
            order: (0..n_samples).collect(),
            batch_size,
        })
    }

    /// Draws a fresh random order from `rng` (a uniform permutation, applied to the current
    /// order; reproducible from the rng's state). Uses `rand`'s slice shuffle, the order the
    /// training loop has always visited the samples in.
    pub fn shuffle(&mut self, rng: &mut impl Rng) {
        self.order.shuffle(rng);
    }

    /// The batches of the current order; the last one may be shorter than `batch_size`.
    pub fn batches(&self) -> impl ExactSizeIterator<Item = &[usize]> + '_ {
        self.order.chunks(self.batch_size)
    }

    /// Replaces the current order (e.g. the one saved in a checkpoint); it must be a
    /// permutation of `0..n_samples`.
    pub fn set_order(&mut self, order: &[usize]) -> Result<()> {
        let n = self.order.len();
        let mut seen = vec![false; n];
        let is_permutation = order.len() == n
            && order
                .iter()
                .all(|&i| i < n && !std::mem::replace(&mut seen[i], true));
        if !is_permutation {
            return Err(Error::param(
                "order",
                format!("expected a permutation of the {n} sample indices"),
            ));
        }
        self.order.copy_from_slice(order);
        Ok(())
    }

    /// The whole current order (a permutation of `0..n_samples`).
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Number of batches per epoch (`ceil(n_samples / batch_size)`).
    pub fn n_batches(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    /// The batch size (the length of every batch but possibly the last).
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Number of samples covered per epoch.
    pub fn n_samples(&self) -> usize {
        self.order.len()
    }
}
