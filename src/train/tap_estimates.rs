//! [`TapEstimates`]: scores the TAP `ln Z` estimates the monitor computed against the exact
//! `ln Z`, and records the paper's EMF log-likelihood of held-out rows, at the epochs where
//! the monitor estimated TAP2.

use faer::Mat;

use crate::data::Dataset;
use crate::error::Result;
use crate::estimate::tap::emf_log_likelihood;
use crate::float::Float;
use crate::rbm::Rbm;
use crate::tap::{SolverOptions, TapOrder};
use crate::train::keys::{self, Key};
use crate::train::metrics::{Cadence, MetricConfig, MetricKind, MonitorConfig, TapLnZConfig};
use crate::train::{EpochRecord, Observer};

/// Mean EMF (TAP2, the paper's solver) log-likelihood of the held-out rows.
pub const EMF_HELD_OUT: Key<f64> = Key::new("emf_held_out");
/// [`EMF_HELD_OUT`] minus the exact held-out log-likelihood (when the monitor has it).
pub const EMF_EXCESS: Key<f64> = Key::new("emf_excess");

const TAP_ERROR: [Key<f64>; 3] = [
    Key::new("mf_error"),
    Key::new("tap2_error"),
    Key::new("tap3_error"),
];

/// `ln Z_est - ln Z` of the TAP estimate at `order` (`mf_error`, `tap2_error`, `tap3_error`).
pub const fn tap_error(order: TapOrder) -> Key<f64> {
    TAP_ERROR[keys::order_index(order)]
}

/// An [`Observer`] that, at every epoch where the monitor estimated the TAP2 `ln Z`, records
/// each order's error against the exact `ln Z` ([`tap_error`]; none when no particle
/// converged or there is no exact value) and the EMF log-likelihood of the held-out rows
/// ([`EMF_HELD_OUT`], [`EMF_EXCESS`]). Pair it with [`TapEstimates::monitor`].
///
/// ```
/// use emf_rbm::data::Dataset;
/// use emf_rbm::tap::TapOrder;
/// use emf_rbm::train::tap_estimates::{tap_error, TapEstimates, EMF_EXCESS};
/// use emf_rbm::train::{Method, TrainConfig, Trainer};
/// let (train, test) = Dataset::digits().binarize(0.5).head(300).split(0.2, 1).unwrap();
/// let cfg = TrainConfig::builder().n_hidden(8).epochs(2).method(Method::Cd { k: 1 })
///     .monitor(TapEstimates::monitor(vec![2], 10).unwrap()).build().unwrap();
/// let fitted = Trainer::<f64>::new(cfg).with_observer(TapEstimates::new(&test))
///     .fit(&train, Some(&test)).unwrap();
/// let last = fitted.history.last().unwrap();
/// assert!(last.get(&tap_error(TapOrder::Tap2)).unwrap().is_finite());
/// assert!(last.get(&EMF_EXCESS).is_some());
/// ```
#[derive(Clone, Debug)]
pub struct TapEstimates {
    held_out: Mat<f64>,
    solver: SolverOptions,
}

impl TapEstimates {
    /// Scores against the rows of `held_out`, the EMF likelihood solved as in the paper
    /// ([`SolverOptions::paper`]).
    pub fn new(held_out: &Dataset) -> Self {
        TapEstimates {
            held_out: held_out.to_mat::<f64>(),
            solver: SolverOptions::paper(),
        }
    }

    /// A monitor with the standard metrics plus the TAP `ln Z` of every order (`starts`
    /// starts, solved with [`SolverOptions::converged`]) at the epochs `at` (and the last).
    pub fn monitor(at: Vec<usize>, starts: usize) -> Result<MonitorConfig> {
        let mut m = MonitorConfig::builder();
        for order in TapOrder::ALL {
            let tap = TapLnZConfig {
                order,
                starts,
                solver: SolverOptions::converged(),
            };
            m = m.metric(MetricConfig {
                at: Cadence::Epochs(at.clone()),
                kind: MetricKind::TapLnZ(tap),
            });
        }
        m.build()
    }
}

impl<T: Float> Observer<T> for TapEstimates {
    fn on_epoch(&mut self, rbm: &Rbm<T>, rec: &mut EpochRecord) -> Result<()> {
        if rec.get(&keys::tap_ln_z(TapOrder::Tap2)).is_none() {
            return Ok(());
        }
        for order in TapOrder::ALL {
            let estimate = rec.get(&keys::tap_ln_z(order)).and_then(|t| t.value);
            if let (Some(estimate), Some(exact)) = (estimate, rec.ln_z_exact) {
                rec.insert(&tap_error(order), estimate - exact)?;
            }
        }
        let rbm64 = rbm.cast::<f64>();
        let emf = emf_log_likelihood(&rbm64, self.held_out.as_ref(), &self.solver)?;
        let mean = emf.iter().sum::<f64>() / emf.len().max(1) as f64;
        rec.insert(&EMF_HELD_OUT, mean)?;
        if let Some(ll) = rec.log_likelihood_held_out {
            rec.insert(&EMF_EXCESS, mean - ll)?;
        }
        Ok(())
    }
}
