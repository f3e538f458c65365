//! Cheap per-epoch metrics (reconstruction error, pseudo-log-likelihood, free-energy gap), and
//! the recorded forms of estimates with the figures that say how far they can be trusted
//! ([`Estimate`]: interval and effective sample size; [`TapValue`]: converged particles).

use faer::{Mat, MatRef};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::estimate::ais::{AisEstimate, AisLogLikelihood};
use crate::estimate::raise::RaiseEstimate;
use crate::estimate::tap::TapEstimate;
use crate::persist::json_float;

use crate::float::Float;
use crate::rbm::Rbm;
use crate::rng::Rng;

/// Mean squared error per unit between `v` and its mean-field reconstruction
/// `P(v | P(h | v))`.
pub fn reconstruction_error<T: Float>(rbm: &Rbm<T>, data: MatRef<'_, T>) -> f64 {
    let ph = rbm.hidden_probs(data);
    let pv = rbm.visible_probs(ph.as_ref());
    let mut s = 0.0;
    for i in 0..data.ncols() {
        for r in 0..data.nrows() {
            let d = data[(r, i)].as_f64() - pv[(r, i)].as_f64();
            s += d * d;
        }
    }
    s / (data.nrows() * data.ncols()).max(1) as f64
}

/// Stochastic pseudo-log-likelihood per sample: `nv ln sigmoid(F(v~) - F(v))` with one random
/// bit of each row flipped (`v~`). Meaningful for binary data.
pub fn pseudo_log_likelihood<T: Float>(rbm: &Rbm<T>, data: MatRef<'_, T>, rng: &mut Rng) -> f64 {
    let nv = data.ncols();
    let mut flipped = Mat::from_fn(data.nrows(), nv, |r, i| data[(r, i)]);
    for r in 0..data.nrows() {
        let i = rng.random_range(0..nv);
        flipped[(r, i)] = T::of(1.0) - flipped[(r, i)];
    }
    let f = rbm.free_energy(data);
    let ff = rbm.free_energy(flipped.as_ref());
    let mut s = 0.0;
    for (a, b) in f.iter().zip(&ff) {
        // ln sigmoid(x) = -softplus(-x)
        s -= crate::linalg::softplus(-(b - a));
    }
    nv as f64 * s / f.len().max(1) as f64
}

/// Hinton's overfitting monitor: mean free energy of a training subset and of held-out data,
/// and their gap (`held-out - train`; ln Z cancels). A growing positive gap means overfitting.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FreeEnergyGap {
    /// Mean F over the training subset.
    pub train: f64,
    /// Mean F over the held-out data.
    pub held_out: f64,
    /// `held_out - train`.
    pub gap: f64,
}

/// Computes the [`FreeEnergyGap`].
pub fn free_energy_gap<T: Float>(
    rbm: &Rbm<T>,
    train: MatRef<'_, T>,
    held_out: MatRef<'_, T>,
) -> FreeEnergyGap {
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let t = mean(rbm.free_energy(train));
    let h = mean(rbm.free_energy(held_out));
    FreeEnergyGap {
        train: t,
        held_out: h,
        gap: h - t,
    }
}

/// Mean of the free energies of the rows.
pub fn mean_free_energy<T: Float>(rbm: &Rbm<T>, data: MatRef<'_, T>) -> f64 {
    let f = rbm.free_energy(data);
    f.iter().sum::<f64>() / f.len().max(1) as f64
}

/// Below this fraction of its runs (rows for RAISE), an effective sample size is flagged as
/// too low to trust the interval (`low_ess` in every report).
///
/// Why 0.1: for log-normal weights with log-variance `s^2`, `ESS / M ~ exp(-s^2)`; below 0.1
/// `s > 1.5` nats, and the mean of `M` such weights is dominated by the few largest, so the
/// sample standard deviation behind the interval is itself unreliable (it underestimates
/// the spread). The flag is a warning, not a correction: lengthen the schedule.
pub const LOW_ESS_FRACTION: f64 = 0.1;

/// Is `ess` out of `n` samples below [`LOW_ESS_FRACTION`] of them (or not a number)?
///
/// ```
/// use emf_rbm::estimate::metrics::is_low_ess;
/// assert!(is_low_ess(2.0, 100) && !is_low_ess(10.0, 100));
/// ```
pub fn is_low_ess(ess: f64, n: usize) -> bool {
    ess.is_nan() || ess < LOW_ESS_FRACTION * n as f64
}

/// An estimate with an interval and the effective sample size behind it (AIS, RAISE).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The estimate.
    #[serde(with = "json_float")]
    pub value: f64,
    /// Lower end of its interval (may be `-inf`: JSON `"-inf"`).
    #[serde(with = "json_float")]
    pub lower: f64,
    /// Upper end of its interval (may be `+inf`: JSON `"inf"`).
    #[serde(with = "json_float")]
    pub upper: f64,
    /// Effective sample size of the importance weights, in `[1, runs]`.
    #[serde(with = "json_float")]
    pub ess: f64,
    /// Number of independent runs behind the estimate (for RAISE: the scored rows).
    pub runs: usize,
}

/// A TAP (Plefka) estimate with its convergence record. `value` is `None` when no particle
/// converged: a non-converged particle's `-G_k` is not a fixed point's and is never reported
/// as the estimate; `note` then says why the value is absent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TapValue {
    /// The estimate (`None`: not available, see `note`).
    #[serde(with = "json_float::option")]
    pub value: Option<f64>,
    /// Particles that reached the solver's tolerance.
    pub n_converged: usize,
    /// Particles started.
    pub n_particles: usize,
    /// Largest final residual over the particles.
    #[serde(with = "json_float")]
    pub max_residual: f64,
    /// Why `value` is absent (`None` when it is present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Estimate {
    /// The AIS estimate of ln Z.
    pub fn from_ais(est: &AisEstimate) -> Self {
        Estimate {
            value: est.log_z,
            lower: est.log_z_lower,
            upper: est.log_z_upper,
            ess: est.ess,
            runs: est.runs(),
        }
    }

    /// The log-likelihood implied by the AIS estimate `est` (interval carried over from ln Z).
    pub fn from_ais_log_likelihood(ll: &AisLogLikelihood, est: &AisEstimate) -> Self {
        Estimate {
            value: ll.mean,
            lower: ll.lower,
            upper: ll.upper,
            ess: est.ess,
            runs: est.runs(),
        }
    }

    /// The RAISE log-likelihood (a stochastic lower bound) with its interval; `runs` is the
    /// number of scored rows.
    pub fn from_raise(est: &RaiseEstimate) -> Self {
        Estimate {
            value: est.log_likelihood,
            lower: est.lower,
            upper: est.upper,
            ess: est.ess,
            runs: est.rows(),
        }
    }

    /// Is the effective sample size below [`LOW_ESS_FRACTION`] of the runs?
    pub fn low_ess(&self) -> bool {
        is_low_ess(self.ess, self.runs)
    }
}

impl TapValue {
    /// The recorded form of a quantity derived from the TAP estimate `est` (solved with
    /// `tolerance`): `value` when at least one particle converged, else absent with a note.
    ///
    /// ```
    /// use emf_rbm::estimate::metrics::TapValue;
    /// use emf_rbm::estimate::TapEstimate;
    /// use emf_rbm::tap::TapOrder;
    /// let est = TapEstimate {
    ///     order: TapOrder::Tap2, ln_z: f64::NAN, n_converged: 0, n_particles: 5,
    ///     max_residual: 0.2, tolerance: 1e-8, sweeps: 100,
    /// };
    /// let v = TapValue::from_estimate(&est, 1e-8, est.ln_z);
    /// assert_eq!((v.value, v.n_particles), (None, 5));
    /// assert!(v.note.unwrap().contains("none of the 5 particles converged"));
    /// ```
    pub fn from_estimate(est: &TapEstimate, tolerance: f64, value: f64) -> Self {
        let converged = est.n_converged > 0;
        TapValue {
            value: converged.then_some(value),
            n_converged: est.n_converged,
            n_particles: est.n_particles,
            max_residual: est.max_residual,
            note: (!converged).then(|| {
                format!(
                    "none of the {} particles converged (largest residual {:.3e} > tolerance {:.1e})",
                    est.n_particles, est.max_residual, tolerance
                )
            }),
        }
    }
}
