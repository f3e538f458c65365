//! Typed keys of the values a training run records, and the values themselves with the
//! figures that say how far they can be trusted.
//!
//! A [`Key<V>`] names one value of an [`EpochRecord`](crate::train::EpochRecord) and fixes its
//! type `V` ([`f64`], [`Estimate`] or [`TapValue`]): the metric that writes the value and every
//! reader (history series, plots, the compare table, the CLI) use the same constant, so a
//! misspelt or mistyped key is a compile error, not a silently missing column. The keys of
//! the built-in metrics are the constants and functions of this module; a custom metric
//! declares its own with [`Key::new`].
//!
//! ```
//! use emf_rbm::train::{keys, EpochRecord, Estimate, Key};
//! const MY_SCORE: Key<f64> = Key::new("my_score");
//! let mut r = EpochRecord::default();
//! r.insert(&MY_SCORE, 0.25).unwrap();
//! r.insert(&keys::RECONSTRUCTION_ERROR, 0.1).unwrap();
//! let ais = Estimate { value: 40.0, lower: 39.5, upper: 40.4, ess: 12.0, runs: 100 };
//! r.insert(&keys::AIS_LN_Z, ais).unwrap();
//! assert_eq!(r.get(&MY_SCORE), Some(0.25));
//! assert_eq!(r.reconstruction_error, Some(0.1)); // the standard metrics keep their fields
//! assert_eq!(r.get(&keys::AIS_LN_Z).unwrap().ess, 12.0);
//! assert_eq!(r.get(&keys::LN_Z_EXACT), None);
//! ```

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

pub use crate::estimate::metrics::{Estimate, TapValue};
use crate::persist::json_float;
use crate::tap::TapOrder;

/// The typed name of one recorded value.
pub struct Key<V> {
    name: &'static str,
    _value: PhantomData<fn() -> V>,
}

impl<V> Key<V> {
    /// A key called `name` (a column name: lower case, digits and `_`; names of the
    /// standard fields of [`EpochRecord`](crate::train::EpochRecord) address those fields).
    pub const fn new(name: &'static str) -> Self {
        Key {
            name,
            _value: PhantomData,
        }
    }

    /// The key's name (its JSON field / CSV column).
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<V> Clone for Key<V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<V> Copy for Key<V> {}
impl<V> fmt::Debug for Key<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.name)
    }
}
impl<V> PartialEq for Key<V> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// A recorded value. In JSON a scalar is a bare number (or `"inf"`, `"-inf"`, `"nan"`), the
/// structured values are objects with their fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MetricValue {
    /// A plain number.
    Scalar(#[serde(with = "json_float")] f64),
    /// An estimate with its interval and effective sample size.
    Interval(Estimate),
    /// A TAP estimate with its convergence record.
    Tap(TapValue),
}

impl MetricValue {
    /// The number a chart or table shows: the scalar, the estimate, or the TAP value when
    /// there is one.
    pub fn point(&self) -> Option<f64> {
        match self {
            MetricValue::Scalar(x) => Some(*x),
            MetricValue::Interval(e) => Some(e.value),
            MetricValue::Tap(t) => t.value,
        }
    }

    /// `(column suffix, number)` pairs of the value in a flat table (CSV): a scalar is one
    /// column; an estimate adds `_lower`, `_upper`, `_ess`, `_runs`; a TAP value adds
    /// `_converged`, `_particles`, `_max_residual`.
    pub fn columns(&self) -> Vec<(&'static str, Option<f64>)> {
        match self {
            MetricValue::Scalar(x) => vec![("", Some(*x))],
            MetricValue::Interval(e) => vec![
                ("", Some(e.value)),
                ("_lower", Some(e.lower)),
                ("_upper", Some(e.upper)),
                ("_ess", Some(e.ess)),
                ("_runs", Some(e.runs as f64)),
            ],
            MetricValue::Tap(t) => vec![
                ("", t.value),
                ("_converged", Some(t.n_converged as f64)),
                ("_particles", Some(t.n_particles as f64)),
                ("_max_residual", Some(t.max_residual)),
            ],
        }
    }
}

/// A type a [`Key`] can hold.
pub trait MetricData: Sized + Into<MetricValue> {
    /// The value, if `v` holds one of this type.
    fn from_value(v: &MetricValue) -> Option<Self>;
}

impl From<f64> for MetricValue {
    fn from(x: f64) -> Self {
        MetricValue::Scalar(x)
    }
}
impl From<Estimate> for MetricValue {
    fn from(e: Estimate) -> Self {
        MetricValue::Interval(e)
    }
}
impl From<TapValue> for MetricValue {
    fn from(t: TapValue) -> Self {
        MetricValue::Tap(t)
    }
}

impl MetricData for f64 {
    fn from_value(v: &MetricValue) -> Option<Self> {
        match v {
            MetricValue::Scalar(x) => Some(*x),
            _ => None,
        }
    }
}
impl MetricData for Estimate {
    fn from_value(v: &MetricValue) -> Option<Self> {
        match v {
            MetricValue::Interval(e) => Some(*e),
            _ => None,
        }
    }
}
impl MetricData for TapValue {
    fn from_value(v: &MetricValue) -> Option<Self> {
        match v {
            MetricValue::Tap(t) => Some(t.clone()),
            _ => None,
        }
    }
}

/// Cumulative wall time of the parameter updates (s), monitoring excluded (loop field).
pub const TRAIN_SECONDS: Key<f64> = Key::new("train_seconds");
/// Learning rate of the epoch (loop field).
pub const LEARNING_RATE: Key<f64> = Key::new("learning_rate");
/// Mean fixed-point sweeps per update of a TAP negative phase (loop field).
pub const SWEEPS_MEAN: Key<f64> = Key::new("sweeps_mean");
/// Largest final fixed-point residual of a TAP negative phase over the epoch (loop field).
pub const RESIDUAL_MAX: Key<f64> = Key::new("residual_max");
/// Mean-field reconstruction error per unit on the training subset.
pub const RECONSTRUCTION_ERROR: Key<f64> = Key::new("reconstruction_error");
/// Stochastic pseudo-log-likelihood per sample on the training subset.
pub const PSEUDO_LOG_LIKELIHOOD: Key<f64> = Key::new("pseudo_log_likelihood");
/// Mean free energy of the training subset.
pub const FREE_ENERGY_TRAIN: Key<f64> = Key::new("free_energy_train");
/// Mean free energy of the held-out set.
pub const FREE_ENERGY_HELD_OUT: Key<f64> = Key::new("free_energy_held_out");
/// `held-out - train` mean free energy (read-only: derived from the two above).
pub const FREE_ENERGY_GAP: Key<f64> = Key::new("free_energy_gap");
/// Exact ln Z.
pub const LN_Z_EXACT: Key<f64> = Key::new("ln_z_exact");
/// Exact mean log-likelihood per sample of the training subset.
pub const LOG_LIKELIHOOD_TRAIN: Key<f64> = Key::new("log_likelihood_train");
/// Exact mean log-likelihood per sample of the held-out set.
pub const LOG_LIKELIHOOD_HELD_OUT: Key<f64> = Key::new("log_likelihood_held_out");
/// The paper's EMF log-likelihood, mean over the training subset.
pub const EMF_LOG_LIKELIHOOD: Key<f64> = Key::new("emf_log_likelihood");
/// AIS estimate of ln Z.
pub const AIS_LN_Z: Key<Estimate> = Key::new("ais_ln_z");
/// Mean held-out log-likelihood per sample implied by the AIS ln Z, with its interval, on
/// the scored held-out rows (tends to overestimate the likelihood).
pub const AIS_LOG_LIKELIHOOD_HELD_OUT: Key<Estimate> = Key::new("ais_log_likelihood_held_out");
/// Held-out rows scored by the AIS and RAISE likelihoods (a fixed subset).
pub const AIS_HELD_OUT_ROWS: Key<f64> = Key::new("ais_held_out_rows");
/// RAISE mean held-out log-likelihood per sample (a stochastic lower bound), with its
/// interval and the ESS of its weights; `runs` is the number of scored rows.
pub const RAISE_LOG_LIKELIHOOD_HELD_OUT: Key<Estimate> = Key::new("raise_log_likelihood_held_out");

const TAP_LN_Z: [Key<TapValue>; 3] = [
    Key::new("ln_z_mf"),
    Key::new("ln_z_tap2"),
    Key::new("ln_z_tap3"),
];
const TAP_LL_TRAIN: [Key<TapValue>; 3] = [
    Key::new("log_likelihood_mf_train"),
    Key::new("log_likelihood_tap2_train"),
    Key::new("log_likelihood_tap3_train"),
];
const TAP_LL_HELD_OUT: [Key<TapValue>; 3] = [
    Key::new("log_likelihood_mf_held_out"),
    Key::new("log_likelihood_tap2_held_out"),
    Key::new("log_likelihood_tap3_held_out"),
];

/// `-G_k(m*)`, the TAP estimate of ln Z at `order` (`ln_z_mf`, `ln_z_tap2`, `ln_z_tap3`).
pub const fn tap_ln_z(order: TapOrder) -> Key<TapValue> {
    TAP_LN_Z[order_index(order)]
}

/// Mean log-likelihood of the training subset with ln Z replaced by the TAP estimate.
pub const fn tap_log_likelihood_train(order: TapOrder) -> Key<TapValue> {
    TAP_LL_TRAIN[order_index(order)]
}

/// Mean held-out log-likelihood with ln Z replaced by the TAP estimate.
pub const fn tap_log_likelihood_held_out(order: TapOrder) -> Key<TapValue> {
    TAP_LL_HELD_OUT[order_index(order)]
}

/// The index of `order` in the per-order key tables (MF, TAP2, TAP3).
pub(crate) const fn order_index(order: TapOrder) -> usize {
    match order {
        TapOrder::Mf => 0,
        TapOrder::Tap2 => 1,
        TapOrder::Tap3 => 2,
    }
}
