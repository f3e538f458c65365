//! Every order of the TAP/Plefka ladder from the same starts, side by side: naive mean field,
//! TAP2, TAP3 (the lowest converged fixed point of each), the fourth-order estimate
//! ([`crate::tap::fourth`]) and `ln Z` from the TAP2 set of states
//! ([`crate::estimate::fixed_points`]). What the error of each against an exact `ln Z` says
//! is where each order breaks down (weight scale, temperature).

use faer::MatRef;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::estimate::fixed_points::{find_fixed_points, FixedPointOptions};
use crate::estimate::tap::{log_partition, log_partition_tap4};
use crate::float::Float;
use crate::rbm::Rbm;
use crate::tap::{SolverOptions, TapOrder};

/// `ln Z` estimates of one model at every order (NaN where no particle converged or, for
/// the set, no state was found).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderLadder {
    /// Naive mean field, `-G_1`.
    pub mf: f64,
    /// `-G_2`.
    pub tap2: f64,
    /// `-G_3`.
    pub tap3: f64,
    /// `-G_4` at the TAP3 stationary points.
    pub tap4: f64,
    /// `ln sum exp(-G_2)` over the TAP2 states.
    pub tap2_set: f64,
}

impl OrderLadder {
    /// Each estimate minus `exact`, divided by `per` (e.g. the number of spins), in the order
    /// `mf, tap2, tap3, tap4, tap2_set`.
    pub fn errors(&self, exact: f64, per: f64) -> [f64; 5] {
        [self.mf, self.tap2, self.tap3, self.tap4, self.tap2_set].map(|x| (x - exact) / per)
    }

    /// The names of [`errors`](Self::errors)' entries.
    pub const NAMES: [&'static str; 5] = ["MF", "TAP2", "TAP3", "TAP4", "TAP2 set of states"];

    /// Adds `offset` to every estimate (e.g. the constant between an RBM form and its model).
    pub fn shifted(self, offset: f64) -> Self {
        OrderLadder {
            mf: self.mf + offset,
            tap2: self.tap2 + offset,
            tap3: self.tap3 + offset,
            tap4: self.tap4 + offset,
            tap2_set: self.tap2_set + offset,
        }
    }
}

/// The ladder of [`OrderLadder`] for `rbm` from the rows of `starts`, each solved with `opts`.
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat};
/// use emf_rbm::estimate::{exact, ladder::estimate_ladder};
/// use emf_rbm::tap::SolverOptions;
/// let mut rng = emf_rbm::rng::rng(2);
/// let rbm = Rbm::<f64>::random(6, 5, 0.3, &mut rng)?;
/// let z = exact::log_partition(&rbm)?;
/// let ladder = estimate_ladder(&rbm, Mat::<f64>::zeros(2, 6).as_ref(), &SolverOptions::converged())?;
/// let e = ladder.errors(z, 1.0).map(f64::abs);
/// assert!(e[3] < e[2] && e[2] < e[0]); // TAP4 closer than TAP3, TAP3 than MF
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub fn estimate_ladder<T: Float>(
    rbm: &Rbm<T>,
    starts: MatRef<'_, T>,
    opts: &SolverOptions,
) -> Result<OrderLadder> {
    let best = |order| -> Result<f64> { Ok(log_partition(rbm, order, starts, opts)?.ln_z) };
    let set_opts = FixedPointOptions {
        solver: *opts,
        ..FixedPointOptions::default()
    };
    let set = find_fixed_points(rbm, TapOrder::Tap2, starts, &set_opts)?;
    let tap4 = log_partition_tap4(rbm, starts, opts)?;
    Ok(OrderLadder {
        mf: best(TapOrder::Mf)?,
        tap2: set.estimate().ln_z,
        tap3: tap4.tap3.ln_z,
        tap4: tap4.ln_z,
        tap2_set: set.ln_z_set().unwrap_or(f64::NAN),
    })
}
