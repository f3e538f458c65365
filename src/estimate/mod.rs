//! How good is a model: exact ln Z and log-likelihood (the referee), and the cheap monitors
//! (reconstruction error, pseudo-likelihood, free-energy gap), AIS and its reverse partner
//! RAISE (a bracket on the log-likelihood), the TAP estimates and the set of all TAP fixed
//! points, and a linear read-out of the hidden units (classification accuracy).

pub mod ais;
pub mod bracket;
pub mod evaluation;
pub mod exact;
pub mod fixed_points;
pub mod ladder;
pub mod metrics;
mod path;
pub mod raise;
pub mod readout;
pub mod tap;

pub use ais::{Ais, AisBase, AisConfig, AisEstimate, AisLogLikelihood, BetaSchedule};
pub use bracket::{adaptive_bracket, bracket, AdaptiveSchedule, Bracket};
pub use evaluation::{EvalOptions, Evaluation};
pub use fixed_points::{find_fixed_points, FixedPoint, FixedPointOptions, FixedPointSet};
pub use metrics::{
    free_energy_gap, mean_free_energy, pseudo_log_likelihood, reconstruction_error, FreeEnergyGap,
};
pub use raise::{Raise, RaiseConfig, RaiseEstimate};
pub use tap::TapEstimate;
