//! What the TAP solver is asked to do: the expansion order, how the layers and units are
//! updated, when to stop ([`SolverOptions`], a checked configuration), and what a solve did
//! ([`SolveReport`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;

/// Order of the Plefka expansion: naive mean field (1), TAP (2), third order (3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TapOrder {
    /// Naive mean field, `G1`.
    Mf,
    /// TAP with the Onsager reaction term, `G2` (the paper's default).
    #[default]
    Tap2,
    /// Third order, `G3` (kappa form, coefficient 2/3).
    Tap3,
}

impl TapOrder {
    /// All orders, lowest first.
    pub const ALL: [TapOrder; 3] = [TapOrder::Mf, TapOrder::Tap2, TapOrder::Tap3];

    /// The expansion order `k` (1, 2 or 3).
    pub fn k(self) -> usize {
        match self {
            TapOrder::Mf => 1,
            TapOrder::Tap2 => 2,
            TapOrder::Tap3 => 3,
        }
    }

    /// The order with expansion order `k` (1, 2 or 3).
    pub fn from_k(k: usize) -> Option<TapOrder> {
        match k {
            1 => Some(TapOrder::Mf),
            2 => Some(TapOrder::Tap2),
            3 => Some(TapOrder::Tap3),
            _ => None,
        }
    }

    /// `"mf"`, `"tap2"` or `"tap3"`.
    pub fn name(self) -> &'static str {
        match self {
            TapOrder::Mf => "mf",
            TapOrder::Tap2 => "tap2",
            TapOrder::Tap3 => "tap3",
        }
    }

    /// GEMMs per solver sweep: 2, 4 or 6.
    pub fn gemms_per_sweep(self) -> usize {
        2 * self.k()
    }
}

impl fmt::Display for TapOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TapOrder {
    type Err = Error;

    /// Parses `mf`, `tap2`, `tap3` (also `tap1`, `1`, `2`, `3`).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mf" | "tap1" | "1" => Ok(TapOrder::Mf),
            "tap" | "tap2" | "2" => Ok(TapOrder::Tap2),
            "tap3" | "3" => Ok(TapOrder::Tap3),
            other => Err(Error::param(
                "order",
                format!("unknown TAP order `{other}` (expected mf, tap2 or tap3)"),
            )),
        }
    }
}

/// How the two layers are updated within a sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateOrder {
    /// Sequential: hidden from the current visible, then visible from the new hidden.
    #[default]
    HiddenFirst,
    /// Sequential: visible first, then hidden.
    VisibleFirst,
    /// Parallel (Jacobi): both layers from the previous sweep's values. Undamped, this
    /// oscillates once `||W||` is a few units; offered for comparison.
    Parallel,
}

/// How one unit's magnetization is updated, given the other layer.
///
/// With the other layer fixed, unit `i` of a layer must solve its own scalar stationarity
/// equation `logit(m_i) = c_i + (1/2 - m_i) o2_i + (1/3 - 2 nu_i) o3_i` (`c` the mean field
/// plus bias, `o2 = (W o W) nu_other`, `o3 = (W o W o W) kappa_other`; `o2 = o3 = 0` for naive
/// mean field, `o3 = 0` for TAP2). The units of one layer do not interact given the other, so
/// solving each unit's equation exactly minimises `G_k` over the whole layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateRule {
    /// Solve every unit's equation exactly (safeguarded Newton on `x = logit(m)`, bracketed).
    /// `G_k` is then minimised layer by layer: for MF and TAP2 each unit's free energy is
    /// strictly convex (second derivative `1/nu + o2 > 0`), so the root is unique and every
    /// undamped half-sweep decreases `G_k`. At third order a unit's free energy can have two
    /// local minima (only when `|o3| > 3 sqrt 3`): the solver then finds both and keeps the
    /// lower one, so the half-sweep still minimises `G3` over the layer.
    #[default]
    Exact,
    /// One evaluation of the fixed-point map per unit, `m <- s(c + (1/2 - m) o2 + ...)` with
    /// the unit's OLD `m` inside (the published implementation's rule). Once
    /// `m (1 - m) o2 > 1` this map flips between two values unless damped.
    FixedPoint,
}

/// Stopping rule and update scheme of the fixed-point iteration (a checked configuration:
/// build it with [`SolverOptions::builder`] or start from a preset).
///
/// The residual the tolerance is compared with is the same for every rule and damping:
/// `max_i |f_i(m) - m_i|` with `f` the undamped TAP map `s(c + (1/2 - m) o2 + ...)`,
/// evaluated for each unit with the fields it is updated from (Gauss-Seidel residual). It
/// is 0 exactly at a stationary point of `G_k`.
///
/// ```
/// use emf_rbm::tap::{SolverOptions, UpdateRule};
/// let opts = SolverOptions::builder().max_sweeps(50).tolerance(1e-10).build().unwrap();
/// assert_eq!(opts.rule, UpdateRule::Exact);
/// assert!(SolverOptions::builder().damping(1.0).build().is_err());
/// assert_eq!(SolverOptions::paper().max_sweeps, 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SolverOptions {
    /// At most this many sweeps (>= 1).
    pub max_sweeps: usize,
    /// Stop once the residual is at most this (0 runs all `max_sweeps` sweeps unless the
    /// residual is exactly 0).
    pub tolerance: f64,
    /// Damping `d` in `[0, 1)`: `m <- d m_old + (1 - d) m_target`.
    pub damping: f64,
    /// Sequential (either order) or parallel updates.
    pub update_order: UpdateOrder,
    /// Exact per-unit solves or one fixed-point evaluation per unit.
    #[serde(default = "fixed_point_rule")]
    pub rule: UpdateRule,
}

/// Files written before the rule existed used the fixed-point map.
fn fixed_point_rule() -> UpdateRule {
    UpdateRule::FixedPoint
}

/// The residual below which `f64` solves count as converged in [`SolverOptions::converged`].
pub const CONVERGED_TOLERANCE_F64: f64 = 1e-8;
/// The same for `f32` models, whose magnetizations carry about 7 digits.
pub const CONVERGED_TOLERANCE_F32: f64 = 2e-6;

impl SolverOptions {
    /// The paper's setting: 3 sweeps of the fixed-point map, damping 0.5, hidden then visible
    /// (what the published implementation does; not a converged fixed point).
    pub fn paper() -> Self {
        SolverOptions {
            max_sweeps: 3,
            tolerance: 0.0,
            damping: 0.5,
            update_order: UpdateOrder::HiddenFirst,
            rule: UpdateRule::FixedPoint,
        }
    }

    /// Iterate to a stationary point in `f64`: exact per-unit solves, sequential, undamped,
    /// until the residual is at most 1e-8, at most 5000 sweeps (a solve stops as soon as every
    /// particle converged; models trained with many TAP sweeps need about 1200).
    pub fn converged() -> Self {
        SolverOptions {
            max_sweeps: 5000,
            tolerance: CONVERGED_TOLERANCE_F64,
            damping: 0.0,
            update_order: UpdateOrder::HiddenFirst,
            rule: UpdateRule::Exact,
        }
    }

    /// [`converged`](Self::converged) with the tolerance the float type `T` can reach
    /// (1e-8 in `f64`, 2e-6 in `f32`).
    pub fn converged_for<T: Float>() -> Self {
        let tolerance = if T::NAME == "f32" {
            CONVERGED_TOLERANCE_F32
        } else {
            CONVERGED_TOLERANCE_F64
        };
        SolverOptions {
            tolerance,
            ..Self::converged()
        }
    }

    /// A builder starting from [`converged`](Self::converged).
    pub fn builder() -> SolverOptionsBuilder {
        SolverOptionsBuilder {
            opts: Self::converged(),
        }
    }

    /// Checks the ranges of every field.
    pub fn validate(&self) -> Result<()> {
        if self.max_sweeps == 0 {
            return Err(Error::param("sweeps", "at least one sweep is needed"));
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(Error::param(
                "tolerance",
                format!("must be finite and >= 0, got {}", self.tolerance),
            ));
        }
        if !(0.0..1.0).contains(&self.damping) {
            return Err(Error::param(
                "damping",
                format!("must be in [0, 1), got {}", self.damping),
            ));
        }
        Ok(())
    }
}

impl Default for SolverOptions {
    /// [`SolverOptions::converged`].
    fn default() -> Self {
        SolverOptions::converged()
    }
}

/// Checked builder of [`SolverOptions`].
#[derive(Clone, Copy, Debug)]
pub struct SolverOptionsBuilder {
    opts: SolverOptions,
}

impl SolverOptionsBuilder {
    /// At most this many sweeps (>= 1).
    pub fn max_sweeps(mut self, n: usize) -> Self {
        self.opts.max_sweeps = n;
        self
    }
    /// Residual at which to stop (finite, >= 0).
    pub fn tolerance(mut self, tol: f64) -> Self {
        self.opts.tolerance = tol;
        self
    }
    /// Damping in `[0, 1)`.
    pub fn damping(mut self, d: f64) -> Self {
        self.opts.damping = d;
        self
    }
    /// Layer update order.
    pub fn update_order(mut self, o: UpdateOrder) -> Self {
        self.opts.update_order = o;
        self
    }
    /// Per-unit update rule.
    pub fn rule(mut self, r: UpdateRule) -> Self {
        self.opts.rule = r;
        self
    }
    /// Checks and returns the options.
    pub fn build(self) -> Result<SolverOptions> {
        self.opts.validate()?;
        Ok(self.opts)
    }
}

/// What a [`TapSolver::solve`](super::TapSolver::solve) call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SolveReport {
    /// Sweeps performed.
    pub sweeps: usize,
    /// The largest per-particle residual of the last sweep (see [`SolverOptions`]).
    pub residual: f64,
    /// True when every particle's residual reached the tolerance.
    pub converged: bool,
    /// Particles whose residual reached the tolerance.
    pub n_converged: usize,
    /// Particles solved.
    pub n_particles: usize,
}
