//! [`FixedPointCensus`]: an observer that finds the model's distinct TAP fixed points at chosen
//! epochs, for the picture of Tramel et al. (PRX 2018): how many solutions a trained RBM's
//! TAP free energy has, and how their free energies spread, as training goes on.

use std::sync::{Arc, Mutex, PoisonError};

use faer::Mat;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::estimate::exact;
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
    /// The exact `ln Z` of the model at that epoch, when asked for
    /// ([`FixedPointCensus::with_exact`]).
    pub ln_z_exact: Option<f64>,
}

impl CensusRecord {
    /// `estimate - exact` for an estimate of this record (`None` without the exact value or
    /// the estimate).
    fn error(&self, estimate: Result<f64>) -> Option<f64> {
        Some(estimate.ok().filter(|x| x.is_finite())? - self.ln_z_exact?)
    }

    /// Error of the best single state's `-G_k` against the exact `ln Z`.
    pub fn best_error(&self) -> Option<f64> {
        let best = self.set.ln_z_best();
        self.error(Ok(best))
    }

    /// Error of the set-of-states estimate against the exact `ln Z`.
    pub fn set_error(&self) -> Option<f64> {
        self.error(self.set.ln_z_set())
    }

    /// Error of the all-minima estimate against the exact `ln Z`.
    pub fn minima_error(&self) -> Option<f64> {
        self.error(self.set.ln_z_minima())
    }

    /// Error of the single-solution estimate (the lowest converged point of any kind, what
    /// `log_partition` reports) against the exact `ln Z`.
    pub fn single_error(&self) -> Option<f64> {
        self.error(Ok(self.set.estimate().ln_z))
    }
}

/// A Markdown table of census records: per record the counts of solutions, minima and states,
/// the Plefka radius of the lowest point, and (with the exact `ln Z`) the errors of the single
/// solution, the best state, the set of states and all minima.
///
/// ```
/// use emf_rbm::train::census::census_table;
/// use emf_rbm::train::census::CensusRecord;
/// let none: Vec<CensusRecord> = Vec::new();
/// assert!(census_table(&[("tap2", none)]).starts_with("| method | epoch |"));
/// ```
pub fn census_table<S: AsRef<str>, R: AsRef<[CensusRecord]>>(runs: &[(S, R)]) -> String {
    let mut s = String::from(
        "| method | epoch | solutions | minima | states | radius of the lowest | exact ln Z | \
         error: single | best state | set of states | all minima |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:+.3}"));
    for (name, records) in runs {
        let name = name.as_ref();
        for r in records.as_ref() {
            let radius = r.set.points.first().map_or(f64::NAN, |p| p.plefka_radius);
            s.push_str(&format!(
                "| {name} | {} | {} | {} | {} | {radius:.2} | {} | {} | {} | {} | {} |\n",
                r.epoch,
                r.set.points.len(),
                r.set.n_minima(),
                r.set.n_states(),
                r.ln_z_exact.map_or("-".into(), |z| format!("{z:.3}")),
                f(r.single_error()),
                f(r.best_error()),
                f(r.set_error()),
                f(r.minima_error()),
            ));
        }
    }
    s
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
/// let census = census.with_exact(); // 8 hidden units: exact ln Z too
/// Trainer::<f64>::new(cfg).with_observer(census).fit(&data, None)?;
/// let r = records.get();
/// assert_eq!((r[0].epoch, r[1].epoch), (1, 2));
/// assert!(r[1].set.points.len() >= 1);
/// assert!(r[1].single_error().unwrap().abs() < 1.0); // TAP2 ln Z against the exact value
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub struct FixedPointCensus<T: Float> {
    order: TapOrder,
    starts: Mat<T>,
    opts: FixedPointOptions,
    epochs: Vec<usize>,
    exact: bool,
    records: CensusRecords,
}

impl<T: Float> FixedPointCensus<T> {
    /// Also computes the exact `ln Z` at each census epoch (small models only: it fails when
    /// the smaller layer is too large to enumerate).
    pub fn with_exact(mut self) -> Self {
        self.exact = true;
        self
    }

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
            exact: false,
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
        let ln_z_exact = match self.exact {
            true => Some(exact::log_partition(rbm)?),
            false => None,
        };
        let mut records = self.records.0.lock();
        let records = records.as_mut().unwrap_or_else(|e| e.get_mut());
        records.push(CensusRecord {
            epoch,
            set,
            ln_z_exact,
        });
        Ok(())
    }
}
