//! The log-likelihood bracketed from both sides on one schedule ([`bracket`]): forward AIS
//! (tends to overestimate it) and RAISE (a stochastic lower bound) on the same rows, and an
//! adaptive schedule ([`adaptive_bracket`]) that doubles the temperatures until the gap
//! between them and both effective sample sizes meet a target.
//!
//! ```
//! use emf_rbm::{Rbm, data::Dataset, rng};
//! use emf_rbm::estimate::ais::{AisBase, AisConfig};
//! use emf_rbm::estimate::bracket::{adaptive_bracket, AdaptiveSchedule};
//! use emf_rbm::estimate::raise::RaiseConfig;
//!
//! let data = Dataset::digits().binarize(0.5).head(40);
//! let rbm = Rbm::<f64>::random(64, 8, 0.5, &mut rng::rng(3)).unwrap();
//! let base = AisBase::from_data(&data, 0.05).unwrap();
//! let target = AdaptiveSchedule { start: 50, max: 800, max_gap: 0.5 };
//! let v = data.to_mat::<f64>();
//! let steps = adaptive_bracket(&rbm, &base, v.as_ref(), &AisConfig::default(),
//!     &RaiseConfig::default(), &target).unwrap();
//! let last = steps.last().unwrap();
//! assert!(last.n_betas <= 800 && (last.met(&target) || last.n_betas == 800));
//! assert_eq!(steps[0].n_betas, 50);
//! ```

use faer::MatRef;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::estimate::ais::{Ais, AisBase, AisConfig, AisEstimate, AisLogLikelihood, BetaSchedule};
use crate::estimate::raise::{Raise, RaiseConfig, RaiseEstimate};
use crate::float::Float;
use crate::rbm::Rbm;

/// Forward AIS and RAISE on the same rows and temperatures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bracket {
    /// Temperatures (including 0 and 1).
    pub n_betas: usize,
    /// The forward AIS estimate of ln Z.
    pub ais: AisEstimate,
    /// The log-likelihood of the rows it implies (tends to overestimate).
    pub ais_log_likelihood: AisLogLikelihood,
    /// RAISE on the rows (a stochastic lower bound).
    pub raise: RaiseEstimate,
}

impl Bracket {
    /// `AIS LL - RAISE LL`: how far apart the two sides are (it shrinks towards 0, up to
    /// noise, as the schedule lengthens).
    pub fn gap(&self) -> f64 {
        self.ais_log_likelihood.mean - self.raise.log_likelihood
    }

    /// Neither effective sample size is low ([`crate::estimate::metrics::LOW_ESS_FRACTION`]).
    pub fn trusted(&self) -> bool {
        !self.ais.low_ess() && !self.raise.low_ess()
    }

    /// Does it meet `target`: a gap of at most `max_gap` and no low ESS?
    pub fn met(&self, target: &AdaptiveSchedule) -> bool {
        self.gap() <= target.max_gap && self.trusted()
    }
}

/// Forward AIS (`ais`) and RAISE (`raise`) with the temperatures `schedule` (replacing
/// theirs), from `base`, on the rows of `data`.
pub fn bracket<T: Float>(
    rbm: &Rbm<T>,
    base: &AisBase,
    data: MatRef<'_, T>,
    ais: &AisConfig,
    raise: &RaiseConfig,
    schedule: &BetaSchedule,
) -> Result<Bracket> {
    let fwd = Ais::new(AisConfig {
        schedule: schedule.clone(),
        ..ais.clone()
    })?
    .estimate(rbm, base)?;
    let ais_log_likelihood = fwd.log_likelihood(rbm, data)?;
    let rev = Raise::new(RaiseConfig {
        schedule: schedule.clone(),
        ..raise.clone()
    })?
    .estimate(rbm, base, data)?;
    Ok(Bracket {
        n_betas: fwd.n_betas,
        ais: fwd,
        ais_log_likelihood,
        raise: rev,
    })
}

/// Settings of [`adaptive_bracket`]: start with `start` temperatures, double until the
/// bracket meets the target (gap at most `max_gap` nats, no low ESS) or `max` is reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveSchedule {
    /// First number of temperatures (>= 3; default 1 000).
    pub start: usize,
    /// Largest number of temperatures (>= start; default 4 x 14 500).
    pub max: usize,
    /// Target gap `AIS LL - RAISE LL` in nats per row (> 0; default 1).
    pub max_gap: f64,
}

impl Default for AdaptiveSchedule {
    fn default() -> Self {
        AdaptiveSchedule {
            start: 1000,
            max: 4 * crate::estimate::ais::STANDARD_BETAS,
            max_gap: 1.0,
        }
    }
}

impl AdaptiveSchedule {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.start < 3 {
            return Err(Error::param("start", "at least 3 temperatures"));
        }
        if self.max < self.start {
            return Err(Error::param("max", "must be at least `start`"));
        }
        if !(self.max_gap > 0.0 && self.max_gap.is_finite()) {
            return Err(Error::param("max_gap", "must be positive and finite"));
        }
        Ok(())
    }
}

crate::checked::checked_builder!(
    /// Builder of [`AdaptiveSchedule`].
    AdaptiveScheduleBuilder for AdaptiveSchedule {
        /// First number of temperatures.
        start: usize,
        /// Largest number of temperatures.
        max: usize,
        /// Target gap.
        max_gap: f64,
    }
);

/// [`bracket`] with `BetaSchedule::Count(n)` for `n = start, 2 start, ...` (capped at
/// `max`) until one meets `target`; returns every step, the last being the one to report
/// (check [`Bracket::met`]: at `max` it may not have). Each step draws afresh from the
/// configurations' seeds.
pub fn adaptive_bracket<T: Float>(
    rbm: &Rbm<T>,
    base: &AisBase,
    data: MatRef<'_, T>,
    ais: &AisConfig,
    raise: &RaiseConfig,
    target: &AdaptiveSchedule,
) -> Result<Vec<Bracket>> {
    target.validate()?;
    let mut steps = Vec::new();
    let mut n = target.start;
    loop {
        let b = bracket(rbm, base, data, ais, raise, &BetaSchedule::Count(n))?;
        let done = b.met(target) || n >= target.max;
        steps.push(b);
        if done {
            return Ok(steps);
        }
        n = n.saturating_mul(2).min(target.max);
    }
}
