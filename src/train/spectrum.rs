//! [`WeightSpectrum`]: an observer that records the singular values of `W` after every epoch:
//! the few modes that grow first are the directions learning amplifies.

use std::sync::{Arc, Mutex, PoisonError};

use faer::Mat;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::rbm::Rbm;
use crate::train::observer::Observer;

/// The singular values of `W` after one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpectrumRecord {
    /// The epoch (1-based).
    pub epoch: usize,
    /// The largest singular values, largest first (at most the observer's `top`).
    pub values: Vec<f64>,
}

/// The singular values of `rbm.w`, largest first (computed in `f64`).
///
/// ```
/// use emf_rbm::Rbm;
/// use emf_rbm::train::spectrum::singular_values;
/// let mut rbm = Rbm::<f64>::zeros(3, 2)?;
/// rbm.w[(0, 0)] = 3.0;
/// rbm.w[(1, 1)] = -4.0;
/// assert_eq!(singular_values(&rbm)?, vec![4.0, 3.0]);
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub fn singular_values<T: Float>(rbm: &Rbm<T>) -> Result<Vec<f64>> {
    let w = Mat::<f64>::from_fn(rbm.n_visible(), rbm.n_hidden(), |i, j| {
        rbm.w[(i, j)].as_f64()
    });
    let mut s = w
        .singular_values()
        .map_err(|e| Error::NotConverged(format!("singular values of W: {e:?}")))?;
    s.sort_by(|a, b| b.total_cmp(a));
    Ok(s)
}

/// The records a [`WeightSpectrum`] has made, readable during and after training.
#[derive(Clone, Debug, Default)]
pub struct SpectrumRecords(Arc<Mutex<Vec<SpectrumRecord>>>);

impl SpectrumRecords {
    /// A copy of the records, in epoch order.
    pub fn get(&self) -> Vec<SpectrumRecord> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Records the `top` largest singular values of `W` after every epoch.
///
/// ```
/// use emf_rbm::data::Dataset;
/// use emf_rbm::train::spectrum::WeightSpectrum;
/// use emf_rbm::train::{TrainConfig, Trainer};
/// let data = Dataset::digits().binarize(0.5);
/// let cfg = TrainConfig::builder().n_hidden(8).epochs(3).build()?;
/// let (spectrum, records) = WeightSpectrum::new(4);
/// Trainer::<f64>::new(cfg).with_observer(spectrum).fit(&data, None)?;
/// let r = records.get();
/// assert_eq!((r.len(), r[2].epoch, r[2].values.len()), (3, 3, 4));
/// assert!(r[2].values[0] > r[0].values[0]); // the leading mode grows
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub struct WeightSpectrum {
    top: usize,
    records: SpectrumRecords,
}

impl WeightSpectrum {
    /// The observer and the handle its records are read from.
    pub fn new(top: usize) -> (Self, SpectrumRecords) {
        let records = SpectrumRecords::default();
        let observer = WeightSpectrum {
            top,
            records: records.clone(),
        };
        (observer, records)
    }
}

impl<T: Float> Observer<T> for WeightSpectrum {
    fn on_epoch_end(&mut self, epoch: usize, rbm: &Rbm<T>) -> Result<()> {
        let mut values = singular_values(rbm)?;
        values.truncate(self.top);
        let mut records = self.records.0.lock();
        let records = records.as_mut().unwrap_or_else(|e| e.get_mut());
        records.push(SpectrumRecord { epoch, values });
        Ok(())
    }
}
