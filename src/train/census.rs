//! [`FixedPointCensus`]: an observer that finds the model's distinct TAP fixed points at chosen
//! epochs, for the picture of Tramel et al. (PRX 2018): how many solutions a trained RBM's
//! TAP free energy has, and how their free energies spread, as training goes on.

use std::sync::{Arc, Mutex, PoisonError};

use faer::Mat;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::estimate::fixed_points::{find_fixed_points, FixedPointOptions, FixedPointSet};
use crate::float::Float;
use crate::rbm::Rbm;
use crate::tap::TapOrder;
use crate::train::observer::Observer;

/// The fixed points found after one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CensusRecord {
    /// The epoch (1-based) after which the model was examined.
    pub epoch: usize,
    /// The distinct points, their kinds and basins.
    pub set: FixedPointSet,
}

/// The records a [`FixedPointCensus`] has made so far, readable while and after training (the
/// observer itself is owned by the trainer).
#[derive(Clone, Debug, Default)]
pub struct CensusRecords(Arc<Mutex<Vec<CensusRecord>>>);

impl CensusRecords {
    /// A copy of the records, in epoch order.
    pub fn get(&self) -> Vec<CensusRecord> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Finds the distinct fixed points of `G_k` after each epoch of `epochs`, from the same start
/// rows every time (so that counts at different epochs compare).
///
/// ```
/// use emf_rbm::data::Dataset;
/// use emf_rbm::estimate::fixed_points::{random_starts, FixedPointOptions};
/// use emf_rbm::tap::TapOrder;
/// use emf_rbm::train::census::FixedPointCensus;
/// use emf_rbm::train::{Method, TrainConfig, Trainer};
/// let data = Dataset::digits().binarize(0.5);
/// let tap2: Method = "tap2".parse()?;
/// let cfg = TrainConfig::builder().method(tap2).n_hidden(8).epochs(2).build()?;
/// let starts = random_starts::<f64>(20, 64, 1);
/// let (census, records) =
///     FixedPointCensus::new(TapOrder::Tap2, starts, FixedPointOptions::default(), vec![1, 2]);
/// Trainer::<f64>::new(cfg).with_observer(census).fit(&data, None)?;
/// let r = records.get();
/// assert_eq!((r[0].epoch, r[1].epoch), (1, 2));
/// assert!(r[1].set.points.len() >= 1);
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub struct FixedPointCensus<T: Float> {
    order: TapOrder,
    starts: Mat<T>,
    opts: FixedPointOptions,
    epochs: Vec<usize>,
    records: CensusRecords,
}

impl<T: Float> FixedPointCensus<T> {
    /// The observer and the handle its records are read from.
    pub fn new(
        order: TapOrder,
        starts: Mat<T>,
        opts: FixedPointOptions,
        epochs: Vec<usize>,
    ) -> (Self, CensusRecords) {
        let records = CensusRecords::default();
        let census = FixedPointCensus {
            order,
            starts,
            opts,
            epochs,
            records: records.clone(),
        };
        (census, records)
    }
}

impl<T: Float> Observer<T> for FixedPointCensus<T> {
    fn on_epoch_end(&mut self, epoch: usize, rbm: &Rbm<T>) -> Result<()> {
        if !self.epochs.contains(&epoch) {
            return Ok(());
        }
        let set = find_fixed_points(rbm, self.order, self.starts.as_ref(), &self.opts)?;
        let mut records = self
            .records
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        records.push(CensusRecord { epoch, set });
        Ok(())
    }
}
