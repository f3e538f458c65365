//! The settings of the built-in metrics that have some ([`MetricKind`](super::MetricKind)
//! variants): TAP ln Z, the EMF log-likelihood, AIS and RAISE. Re-exported by
//! [`crate::train::metrics`].

use serde::{Deserialize, Serialize};

use crate::checked::checked_builder;
use crate::error::{Error, Result};
use crate::estimate::ais::{AisConfig, BetaSchedule};
use crate::estimate::evaluation::DEFAULT_AIS_ROWS;
use crate::estimate::raise::RaiseConfig;
use crate::tap::{SolverOptions, TapOrder};

/// Settings of the TAP ln Z metric: `-G_k` at the lowest converged fixed point reached from
/// the first `starts` rows of the training subset, and the log-likelihoods it implies.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TapLnZConfig {
    /// Expansion order (default TAP2).
    pub order: TapOrder,
    /// Particles, started at the first rows of the training subset (default 200; fewer when
    /// the subset is smaller, as recorded in `n_particles`).
    pub starts: usize,
    /// Fixed-point solver (default [`SolverOptions::converged`]).
    pub solver: SolverOptions,
}

impl Default for TapLnZConfig {
    fn default() -> Self {
        TapLnZConfig {
            order: TapOrder::Tap2,
            starts: 200,
            solver: SolverOptions::converged(),
        }
    }
}

impl TapLnZConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.starts == 0 {
            return Err(Error::param("starts", "at least one TAP start is needed"));
        }
        self.solver.validate()
    }
}

checked_builder!(
    /// Builder of [`TapLnZConfig`].
    TapLnZConfigBuilder for TapLnZConfig {
        /// Expansion order.
        order: TapOrder,
        /// Particles.
        starts: usize,
        /// Solver options.
        solver: SolverOptions,
    }
);

/// Settings of the paper's EMF log-likelihood metric, `-F(v) + G_2(m*)` with `m*` iterated
/// from each training-subset row (mean over the subset).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmfConfig {
    /// Fixed-point iteration (default [`SolverOptions::paper`]: 3 damped sweeps).
    pub solver: SolverOptions,
}

// Explicit rather than derived: the EMF estimate is defined with the paper's solver, whatever
// `SolverOptions::default` may become.
#[allow(clippy::derivable_impls)]
impl Default for EmfConfig {
    fn default() -> Self {
        EmfConfig {
            solver: SolverOptions::paper(),
        }
    }
}

impl EmfConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        self.solver.validate()
    }
}

checked_builder!(
    /// Builder of [`EmfConfig`].
    EmfConfigBuilder for EmfConfig {
        /// Solver options.
        solver: SolverOptions,
    }
);

/// Settings of the AIS metric: ln Z by annealed importance sampling from a base model with
/// the training set's smoothed pixel means, and the held-out log-likelihood it implies; and
/// (with `raise`) the reverse estimate RAISE, a stochastic lower bound on the same
/// likelihood, on the same rows: the held-out log-likelihood bracketed from both sides. Both
/// likelihoods score the same fixed subset of `rows` held-out rows
/// ([`scored_rows`](crate::estimate::raise::scored_rows): the same at every epoch, for every
/// method and seed). The seed of the runs is drawn from the metric's stream (tag 1) at every
/// measured epoch (RAISE uses it with its own stream offset).
///
/// Missing fields take their defaults when read from JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AisMetricConfig {
    /// Temperatures (default the standard 14 500), for both estimators.
    pub schedule: BetaSchedule,
    /// Independent runs (default 100, >= 2).
    pub runs: usize,
    /// Runs (and RAISE chains) per parallel chunk (default 50).
    pub chunk_runs: usize,
    /// Smoothing of the base rates towards 1/2, in (0, 1] (default 0.05).
    pub base_smoothing: f64,
    /// Held-out rows the likelihoods score (default 1000, >= 1; all rows when fewer).
    pub rows: usize,
    /// Also RAISE on those rows (default true; costs `rows x raise_chains` reverse chains,
    /// ten times the forward AIS at the defaults).
    pub raise: bool,
    /// RAISE chains per scored row (default 1, >= 1).
    pub raise_chains: usize,
}

impl Default for AisMetricConfig {
    fn default() -> Self {
        let a = AisConfig::default();
        AisMetricConfig {
            schedule: a.schedule,
            runs: a.runs,
            chunk_runs: a.chunk_runs,
            base_smoothing: 0.05,
            rows: DEFAULT_AIS_ROWS,
            raise: true,
            raise_chains: 1,
        }
    }
}

impl AisMetricConfig {
    /// The AIS configuration with seed `seed`.
    pub fn ais_config(&self, seed: u64) -> AisConfig {
        AisConfig {
            schedule: self.schedule.clone(),
            runs: self.runs,
            chunk_runs: self.chunk_runs,
            seed,
        }
    }

    /// The RAISE configuration with seed `seed`, when `raise` is set.
    pub fn raise_config(&self, seed: u64) -> Option<RaiseConfig> {
        self.raise.then(|| RaiseConfig {
            schedule: self.schedule.clone(),
            chains: self.raise_chains,
            chunk_rows: self.chunk_runs,
            seed,
        })
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if !(self.base_smoothing > 0.0 && self.base_smoothing <= 1.0) {
            return Err(Error::param(
                "base_smoothing",
                format!("must be in (0, 1], got {}", self.base_smoothing),
            ));
        }
        if self.rows == 0 {
            return Err(Error::param(
                "rows",
                "score at least one held-out row (--ais-rows)",
            ));
        }
        if self.raise_chains == 0 {
            return Err(Error::param(
                "raise_chains",
                "at least one chain per row (--raise-chains)",
            ));
        }
        self.ais_config(0).validate()
    }
}

checked_builder!(
    /// Builder of [`AisMetricConfig`].
    AisMetricConfigBuilder for AisMetricConfig {
        /// Temperatures.
        schedule: BetaSchedule,
        /// Runs.
        runs: usize,
        /// Runs per chunk.
        chunk_runs: usize,
        /// Base-rate smoothing.
        base_smoothing: f64,
        /// Held-out rows scored.
        rows: usize,
        /// Also RAISE.
        raise: bool,
        /// RAISE chains per row.
        raise_chains: usize,
    }
);
