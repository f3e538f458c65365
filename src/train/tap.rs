//! The TAP/EMF negative phase (Gabrie, Tramel, Krzakala, NIPS 2015): magnetization particles
//! iterated towards a stationary point of `G_k`, and the envelope-theorem gradient
//! `d ln Z / d theta ~ -dG_k/d theta (m*)` (see [`crate::tap`]).

use faer::MatRef;
use serde::{Deserialize, Serialize};

use crate::checked::checked_builder;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::rbm::Rbm;
use crate::rng::Rng;
use crate::tap::fourth::fourth_order_weight_gradient;
use crate::tap::{SolverOptions, TapOrder, TapSolver, UpdateOrder, UpdateRule};
use crate::train::phase::{Gradient, NegativePhase, PhaseReport, PositivePhase};
use crate::train::state::{find, StateArray};

/// Settings of the TAP/EMF negative phase.
///
/// [`TapConfig::paper`] (also `Default`, at TAP2) reproduces the paper's setting: one particle
/// per minibatch row started at the data, 3 sweeps of the fixed-point map, damping 0.5, hidden
/// then visible. [`TapConfig::converged`] iterates to a stationary point instead (exact
/// per-unit solves, residual at most 1e-8).
///
/// ```
/// use emf_rbm::tap::TapOrder;
/// use emf_rbm::train::tap::TapConfig;
/// let cfg = TapConfig::paper(TapOrder::Tap3).persistent(true);
/// assert_eq!(cfg.name(), "ptap3");
/// assert_eq!((cfg.sweeps, cfg.damping), (3, 0.5));
/// assert!(TapConfig { sweeps: 0, ..cfg }.validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TapConfig {
    /// Expansion order (MF, TAP2, TAP3).
    pub order: TapOrder,
    /// Maximum fixed-point sweeps per parameter update (>= 1).
    pub sweeps: usize,
    /// Stop early once `max |dm| <= tolerance` (0: always run `sweeps` sweeps).
    pub tolerance: f64,
    /// Damping `d` in `[0, 1)`: `m <- d m_old + (1 - d) f(m)`.
    pub damping: f64,
    /// Keep the particles between minibatches ("P-TAP") instead of restarting at the data.
    pub persistent: bool,
    /// Which layer is updated first (or both in parallel).
    pub update_order: UpdateOrder,
    /// Exact per-unit solves or the fixed-point map (see [`UpdateRule`]).
    pub rule: UpdateRule,
}

impl TapConfig {
    /// The paper's setting at `order`: 3 sweeps, damping 0.5, no tolerance, not persistent.
    pub fn paper(order: TapOrder) -> Self {
        let o = SolverOptions::paper();
        TapConfig {
            order,
            sweeps: o.max_sweeps,
            tolerance: o.tolerance,
            damping: o.damping,
            persistent: false,
            update_order: o.update_order,
            rule: o.rule,
        }
    }

    /// Sweeps to a stationary point: exact per-unit solves, undamped, sequential, until the
    /// residual is at most 1e-8, at most 5000 sweeps (see [`SolverOptions::converged`]).
    pub fn converged(order: TapOrder) -> Self {
        let o = SolverOptions::converged();
        TapConfig {
            order,
            sweeps: o.max_sweeps,
            tolerance: o.tolerance,
            damping: o.damping,
            persistent: false,
            update_order: o.update_order,
            rule: o.rule,
        }
    }

    /// The same configuration with persistent particles on or off.
    pub fn persistent(self, persistent: bool) -> Self {
        TapConfig { persistent, ..self }
    }

    /// `mf`, `tap2`, `tap3`, prefixed with `p` when persistent.
    pub fn name(&self) -> String {
        let p = if self.persistent { "p" } else { "" };
        format!("{p}{}", self.order.name())
    }

    /// The solver options this configuration stands for.
    pub fn solver_options(&self) -> SolverOptions {
        SolverOptions {
            max_sweeps: self.sweeps,
            tolerance: self.tolerance,
            damping: self.damping,
            update_order: self.update_order,
            rule: self.rule,
        }
    }

    /// Checks the ranges (sweeps >= 1, tolerance >= 0, damping in [0, 1)).
    pub fn validate(&self) -> Result<()> {
        self.solver_options().validate()
    }
}

impl Default for TapConfig {
    /// [`TapConfig::paper`] at TAP2.
    fn default() -> Self {
        TapConfig::paper(TapOrder::Tap2)
    }
}

/// The TAP/EMF negative phase: `grad -= d ln Z / d theta` estimated at the particles' (near)
/// fixed point of `G_k`.
///
/// Per call: `W o W` (and `W o W o W`) are recomputed; the particles are restarted at the
/// minibatch (`mv = v`, `mh = s(b + W^T v)`, one particle per row) unless persistent (then
/// started from the first minibatch and carried over); the solver runs; the gradient
/// `(Mv^T Mh + W o (Nv^T Nh) + 2 (W o W) o (Kv^T Kh)) / P`, `mean(Mv)`, `mean(Mh)` is
/// subtracted with GEMMs accumulating into `grad`. Nothing is allocated once warmed up (the
/// particle buffers keep their capacity if the last minibatch is smaller).
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat, rng};
/// use emf_rbm::tap::TapOrder;
/// use emf_rbm::train::{Gradient, NegativePhase, tap::{TapConfig, TapPhase}};
/// let mut r = rng::rng(0);
/// let rbm = Rbm::<f64>::random(5, 3, 0.1, &mut r).unwrap();
/// let batch = Mat::<f64>::from_fn(4, 5, |i, j| ((i * j) % 2) as f64);
/// let mut phase = TapPhase::new(TapConfig::paper(TapOrder::Tap2), 5, 3);
/// let mut grad = Gradient::zeros(5, 3);
/// let report = phase.subtract_model_statistics(&rbm, batch.as_ref(), &mut grad, &mut r).unwrap();
/// assert_eq!(report.sweeps, Some(3));
/// assert!(grad.a.iter().all(|&g| g < 0.0)); // -mean(Mv)
/// ```
#[derive(Clone, Debug)]
pub struct TapPhase<T: Float = f64> {
    config: TapConfig,
    solver: TapSolver<T>,
    started: bool,
}

impl<T: Float> TapPhase<T> {
    /// The phase for an `n_visible x n_hidden` model. An invalid configuration is reported
    /// by the first [`subtract_model_statistics`](NegativePhase::subtract_model_statistics)
    /// call (check it beforehand with [`TapConfig::validate`]).
    pub fn new(config: TapConfig, n_visible: usize, n_hidden: usize) -> Self {
        TapPhase {
            config,
            solver: TapSolver::new(config.order, n_visible, n_hidden),
            started: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TapConfig {
        &self.config
    }

    /// The solver, holding the particles of the last call.
    pub fn solver(&self) -> &TapSolver<T> {
        &self.solver
    }

    /// Forgets persistent particles (the next call restarts at the minibatch).
    pub fn reset(&mut self) {
        self.started = false;
    }
}

impl<T: Float> NegativePhase<T> for TapPhase<T> {
    fn name(&self) -> String {
        self.config.name()
    }

    fn subtract_model_statistics(
        &mut self,
        rbm: &Rbm<T>,
        batch: MatRef<'_, T>,
        grad: &mut Gradient<T>,
        _rng: &mut Rng,
    ) -> Result<PhaseReport> {
        self.solve_and_subtract(rbm, batch, None, grad)
    }

    /// Data-initialised particles take the positive phase's hidden fields instead of
    /// recomputing `V W` (one GEMM less per update; the same numbers), and the data term of
    /// the weight gradient is fused with `Mv^T Mh` into one GEMM.
    fn weight_gradient_from(
        &mut self,
        rbm: &Rbm<T>,
        positive: PositivePhase<'_, T>,
        grad: &mut Gradient<T>,
        _rng: &mut Rng,
    ) -> Result<PhaseReport> {
        self.solve_and_subtract(rbm, positive.batch, Some(positive), grad)
    }

    /// Persistent particles (once started): their visible and hidden magnetizations.
    fn state(&self) -> Option<Vec<StateArray>> {
        (self.config.persistent && self.started).then(|| {
            vec![
                StateArray::from_mat("visible", self.solver.visible()),
                StateArray::from_mat("hidden", self.solver.hidden()),
            ]
        })
    }

    fn restore(&mut self, rbm: &Rbm<T>, state: Option<&[StateArray]>) -> Result<()> {
        let Some(arrays) = state else {
            self.started = false;
            return Ok(());
        };
        if !self.config.persistent {
            return Err(Error::param(
                "resume",
                "the checkpoint holds TAP particles but the method restarts them at the data",
            ));
        }
        let mv = find(arrays, "visible")?;
        let mh = find(arrays, "hidden")?;
        let (p, nv, nh) = (mv.rows, rbm.n_visible(), rbm.n_hidden());
        let (mv, mh) = (mv.to_mat::<T>(p, nv)?, mh.to_mat::<T>(p, nh)?);
        self.solver.set_magnetizations(mv.as_ref(), mh.as_ref())?;
        self.started = true;
        Ok(())
    }
}

impl<T: Float> TapPhase<T> {
    /// Restarts (unless persistent and started) at `batch`, with its hidden fields `V W` when
    /// the positive phase is known, solves, and subtracts the gradient (with the positive
    /// phase, writes the whole weight gradient data minus model).
    fn solve_and_subtract(
        &mut self,
        rbm: &Rbm<T>,
        batch: MatRef<'_, T>,
        positive: Option<PositivePhase<'_, T>>,
        grad: &mut Gradient<T>,
    ) -> Result<PhaseReport> {
        self.config.validate()?;
        if batch.ncols() != rbm.n_visible() || batch.nrows() == 0 {
            return Err(Error::Shape(format!(
                "minibatch is {} x {}, expected rows of {} visible units",
                batch.nrows(),
                batch.ncols(),
                rbm.n_visible()
            )));
        }
        self.solver.refresh(rbm)?;
        if !(self.config.persistent && self.started) {
            match positive {
                Some(pp) => self
                    .solver
                    .init_from_visible_and_field(rbm, batch, pp.hidden_field)?,
                None => self.solver.init_from_visible(rbm, batch)?,
            }
            self.started = true;
        }
        let report = self.solver.solve(rbm, &self.config.solver_options())?;
        match positive {
            Some(pp) => {
                self.solver
                    .data_minus_model_gradient(rbm, pp.batch, pp.hidden_probs, grad)?
            }
            None => self.solver.subtract_gradient(rbm, grad)?,
        }
        Ok(PhaseReport {
            sweeps: Some(report.sweeps),
            residual: Some(report.residual),
            particles: Some((report.n_converged, report.n_particles)),
        })
    }
}

/// The negative phase past the paper's third order: particles iterated towards a stationary
/// point of `G3` as [`TapPhase`] does at TAP3, and the weight gradient of `-G4 = -G3 -
/// (G4 - G3)` there ([`fourth_order_weight_gradient`]
/// added to TAP3's). The bias gradients are TAP3's (the fourth-order term depends on `W` and the
/// magnetizations only).
///
/// The points are `G3`'s, not `G4`'s: the envelope theorem then misses `dG4/dm . dm/dW`, of order
/// `W^4` where the fourth-order term's own gradient is of order `W^3`, so the gradient is
/// right to one order more than TAP3's at small weights, not to two. Each update costs TAP3's plus
/// two `n_visible x n_hidden x n_hidden` products per particle: a tool for small models (digits,
/// `n_hidden <= 100`), not for MNIST at 500 hidden units.
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat, rng};
/// use emf_rbm::tap::TapOrder;
/// use emf_rbm::train::{Gradient, NegativePhase, tap::{Tap4Phase, TapConfig, TapPhase}};
/// let mut r = rng::rng(0);
/// let rbm = Rbm::<f64>::random(5, 3, 0.5, &mut r).unwrap();
/// let batch = Mat::<f64>::from_fn(4, 5, |i, j| ((i * j) % 2) as f64);
/// let config = TapConfig::paper(TapOrder::Tap3);
/// let mut tap4 = Tap4Phase::new(config, 5, 3).unwrap();
/// let mut tap3 = TapPhase::new(config, 5, 3);
/// let (mut g4, mut g3) = (Gradient::zeros(5, 3), Gradient::zeros(5, 3));
/// tap4.subtract_model_statistics(&rbm, batch.as_ref(), &mut g4, &mut r).unwrap();
/// tap3.subtract_model_statistics(&rbm, batch.as_ref(), &mut g3, &mut r).unwrap();
/// assert_eq!(tap4.name(), "tap4");
/// assert_eq!(g4.a, g3.a); // same particles, same bias gradients
/// assert!(g4.w != g3.w); // the fourth-order term
/// assert!(Tap4Phase::<f64>::new(TapConfig::paper(TapOrder::Tap2), 5, 3).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct Tap4Phase<T: Float = f64> {
    inner: TapPhase<T>,
}

impl<T: Float> Tap4Phase<T> {
    /// The phase for an `n_visible x n_hidden` model; `config` sets the TAP3 particles (its
    /// order must be TAP3).
    pub fn new(config: TapConfig, n_visible: usize, n_hidden: usize) -> Result<Self> {
        if config.order != TapOrder::Tap3 {
            return Err(Error::param(
                "order",
                format!(
                    "the fourth-order phase iterates TAP3 particles, got {}",
                    config.order.name()
                ),
            ));
        }
        Ok(Tap4Phase {
            inner: TapPhase::new(config, n_visible, n_hidden),
        })
    }

    /// `grad.w += mean over particles of d(G4 - G3)/dW`.
    fn add_fourth_order(&self, rbm: &Rbm<T>, grad: &mut Gradient<T>) -> Result<()> {
        let solver = self.inner.solver();
        let d = fourth_order_weight_gradient(rbm, solver.visible(), solver.hidden())?;
        for j in 0..d.ncols() {
            for i in 0..d.nrows() {
                grad.w[(i, j)] = T::of(grad.w[(i, j)].as_f64() + d[(i, j)]);
            }
        }
        Ok(())
    }
}

impl<T: Float> NegativePhase<T> for Tap4Phase<T> {
    /// `tap4`, or `ptap4` with persistent particles.
    fn name(&self) -> String {
        let p = if self.inner.config().persistent {
            "p"
        } else {
            ""
        };
        format!("{p}tap4")
    }

    fn subtract_model_statistics(
        &mut self,
        rbm: &Rbm<T>,
        batch: MatRef<'_, T>,
        grad: &mut Gradient<T>,
        rng: &mut Rng,
    ) -> Result<PhaseReport> {
        let report = self
            .inner
            .subtract_model_statistics(rbm, batch, grad, rng)?;
        self.add_fourth_order(rbm, grad)?;
        Ok(report)
    }

    fn weight_gradient_from(
        &mut self,
        rbm: &Rbm<T>,
        positive: PositivePhase<'_, T>,
        grad: &mut Gradient<T>,
        rng: &mut Rng,
    ) -> Result<PhaseReport> {
        let report = self.inner.weight_gradient_from(rbm, positive, grad, rng)?;
        self.add_fourth_order(rbm, grad)?;
        Ok(report)
    }

    fn state(&self) -> Option<Vec<StateArray>> {
        self.inner.state()
    }

    fn restore(&mut self, rbm: &Rbm<T>, state: Option<&[StateArray]>) -> Result<()> {
        self.inner.restore(rbm, state)
    }
}

checked_builder!(
    /// Builder of [`TapConfig`] (starts from the defaults; `build()` checks every value).
    TapConfigBuilder for TapConfig {
        /// Expansion order (MF, TAP2, TAP3).
        order: TapOrder,
        /// Maximum fixed-point sweeps per parameter update (>= 1).
        sweeps: usize,
        /// Stop early once `max |dm| <= tolerance` (0: always run `sweeps` sweeps).
        tolerance: f64,
        /// Damping `d` in `[0, 1)`: `m <- d m_old + (1 - d) f(m)`.
        damping: f64,
        /// Keep the particles between minibatches ("P-TAP") instead of restarting at the data.
        persistent: bool,
        /// Which layer is updated first (or both in parallel).
        update_order: UpdateOrder,
        /// Exact per-unit solves or the fixed-point map (see [`UpdateRule`]).
        rule: UpdateRule,
    }
);
