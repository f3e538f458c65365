//! TAP / Plefka extended mean-field (EMF) free energies of an RBM (Gabrie, Tramel, Krzakala,
//! NIPS 2015) and their stationary points.
//!
//! With `nu = m (1 - m)` and `kappa = (1/2 - m) nu` (per unit, both layers) and the entropy
//! `S(m) = -sum [m ln m + (1-m) ln(1-m)]` over all units, the Gibbs free energies are
//!
//! ```text
//! G1(m) = -S(mv) - S(mh) - a.mv - b.mh - mv^T W mh              (naive mean field)
//! G2(m) = G1(m) - 1/2 nu_v^T (W o W) nu_h                        (TAP, 2nd order)
//! G3(m) = G2(m) - 2/3 kappa_v^T (W o W o W) kappa_h              (3rd order)
//! ```
//!
//! and `ln Z ~ -G_k(m*)` at a stationary point `m*`, which satisfies (kappa form of the
//! third-order field, docs/MATH.md section 2)
//!
//! ```text
//! mv = s( a + W mh + (1/2 - mv) (W o W) nu_h + (1/3 - 2 nu_v) (W o W o W) kappa_h )
//! mh = s( b + W^T mv + (1/2 - mh) (W o W)^T nu_v + (1/3 - 2 nu_h) (W o W o W)^T kappa_v )
//! ```
//!
//! The layout: [`options`] (orders, update rules, [`SolverOptions`]), `kernels` (the fused
//! per-unit passes), `layer` (a layer's buffers and its column-parallel passes), [`solver`]
//! ([`TapSolver`]: particles and sweeps), [`free_energy`] (`G_k` and its gradient), [`hessian`] (its Hessian in the magnetizations
//! and the kind of a stationary point). The
//! estimates built on them (`ln Z`, the EMF log-likelihood) are in [`crate::estimate::tap`];
//! the training phase in [`crate::train::tap`].
//!
//! Magnetizations are stored like data: one particle per ROW (`particles x units`). A
//! [`TapSolver`] owns `W o W`, `W o W o W` (recomputed by [`TapSolver::refresh`] after every
//! parameter change) and every buffer, so its sweep loop allocates nothing. Each sweep costs
//! 2 GEMMs (MF), 4 (TAP2) or 6 (TAP3) plus one fused elementwise pass per layer.
//!
//! Solving: given the other layer, each unit's stationarity equation is a scalar equation in
//! its own magnetization, and the units of a layer do not interact. The default
//! [`UpdateRule::Exact`] solves it exactly (bracketed Newton), so each half-sweep minimises
//! `G_k` over a layer and the sweeps converge; [`UpdateRule::FixedPoint`] evaluates the map
//! once with the old `m` inside (the published implementation's rule; it oscillates once
//! `m (1 - m) o_i > 1` unless damped).

pub mod fourth;
pub mod free_energy;
pub mod hessian;
pub(crate) mod kernels;
pub(crate) mod layer;
pub mod options;
pub mod solver;

pub use free_energy::{gibbs_free_energy, CLIP};
pub use hessian::{gibbs_hessian, GibbsHessian, Inertia, StationaryKind};
pub use kernels::{tap3_global_root, tap3_unit_free_energy, TAP3_CONVEX_BOUND};
pub use options::{
    SolveReport, SolverOptions, SolverOptionsBuilder, TapOrder, UpdateOrder, UpdateRule,
    CONVERGED_TOLERANCE_F32, CONVERGED_TOLERANCE_F64,
};
pub use solver::TapSolver;
