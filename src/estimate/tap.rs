//! Estimates built on the TAP solver: `ln Z ~ -G_k(m*)` from many starts, with the number of
//! particles that reached a stationary point, and the paper's EMF log-likelihood.

use faer::MatRef;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::rbm::Rbm;
use crate::tap::fourth::fourth_order_correction;
use crate::tap::kernels::max_nan;
use crate::tap::{SolverOptions, TapOrder, TapSolver};

/// Rows per chunk when the estimators solve for many samples (bounds their memory use).
pub const ESTIMATE_CHUNK: usize = 256;

/// A TAP estimate of `ln Z` (see [`log_partition`]), with how far it can be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TapEstimate {
    /// The expansion order.
    pub order: TapOrder,
    /// `-G_k(m*)` at the lowest-`G_k` converged stationary point (the largest `-G_k`); NaN
    /// when no particle converged (see [`value`](Self::value) for the reason).
    pub ln_z: f64,
    /// Particles whose final residual reached the tolerance.
    pub n_converged: usize,
    /// Particles started (rows given).
    pub n_particles: usize,
    /// Largest final per-particle residual.
    pub max_residual: f64,
    /// The tolerance the residuals were compared with.
    pub tolerance: f64,
    /// Sweeps made (the most over the chunks of starts).
    pub sweeps: usize,
}

impl TapEstimate {
    /// The estimate, or an error saying that no particle converged (with the residuals).
    pub fn value(&self) -> Result<f64> {
        if self.n_converged == 0 {
            return Err(Error::NotConverged(format!(
                "{} ln Z: 0 of {} particles reached the tolerance {:e} (largest residual {:e})",
                self.order, self.n_particles, self.tolerance, self.max_residual
            )));
        }
        Ok(self.ln_z)
    }
}

fn check_rows<T: Float>(rbm: &Rbm<T>, data: MatRef<'_, T>) -> Result<()> {
    if data.ncols() != rbm.n_visible() {
        return Err(Error::Shape(format!(
            "rows have {} entries but the model has {} visible units",
            data.ncols(),
            rbm.n_visible()
        )));
    }
    if data.nrows() == 0 {
        return Err(Error::Shape("no rows given".into()));
    }
    Ok(())
}

/// Solves the stationarity equations from every row of `starts` (particles `mv = v`,
/// `mh = s(b + W^T v)`) in chunks of [`ESTIMATE_CHUNK`] rows, and hands each solved chunk to
/// `visit` with the index of its first row, the solver (magnetizations, residuals) and `G_k` of
/// its particles. Returns the most sweeps any chunk needed.
pub(crate) fn solve_chunks<T: Float>(
    rbm: &Rbm<T>,
    order: TapOrder,
    starts: MatRef<'_, T>,
    opts: &SolverOptions,
    mut visit: impl FnMut(usize, &TapSolver<T>, &[f64]),
) -> Result<usize> {
    opts.validate()?;
    check_rows(rbm, starts)?;
    let mut solver = TapSolver::new(order, rbm.n_visible(), rbm.n_hidden());
    solver.refresh(rbm)?;
    let (mut g, mut sweeps) = (Vec::new(), 0);
    for first in (0..starts.nrows()).step_by(ESTIMATE_CHUNK) {
        let rows = ESTIMATE_CHUNK.min(starts.nrows() - first);
        solver.init_from_visible(rbm, starts.subrows(first, rows))?;
        sweeps = sweeps.max(solver.solve(rbm, opts)?.sweeps);
        solver.free_energy_into(rbm, &mut g)?;
        visit(first, &solver, &g);
    }
    Ok(sweeps)
}

/// `ln Z ~ -G_k(m*)`: solves the stationarity equations from every row of `starts` (particles
/// initialised as `mv = v`, `mh = s(b + W^T v)`), and returns `-G_k` at the LOWEST `G_k` among
/// the particles that converged (residual at most `opts.tolerance`), i.e. the largest
/// estimate. Different rows can reach different fixed points; the lowest free energy is the
/// dominant one (and for naive mean field, where `-G_1(m) <= ln Z` for every `m`, the tightest
/// lower bound). When no particle converged, `ln_z` is NaN and
/// [`TapEstimate::value`] says why. Rows are processed in chunks of [`ESTIMATE_CHUNK`].
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat};
/// use emf_rbm::estimate::tap::log_partition;
/// use emf_rbm::tap::{SolverOptions, TapOrder};
/// let mut rbm = Rbm::<f64>::zeros(3, 2)?;
/// rbm.a = vec![0.5, -1.0, 2.0];
/// let sp = |x: f64| (1.0 + x.exp()).ln();
/// let exact = sp(0.5) + sp(-1.0) + sp(2.0) + 2.0 * sp(0.0);
/// let starts = Mat::<f64>::zeros(4, 3);
/// let est = log_partition(&rbm, TapOrder::Tap2, starts.as_ref(), &SolverOptions::converged())?;
/// assert_eq!(est.n_converged, 4);
/// assert!((est.value()? - exact).abs() < 1e-12);
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub fn log_partition<T: Float>(
    rbm: &Rbm<T>,
    order: TapOrder,
    starts: MatRef<'_, T>,
    opts: &SolverOptions,
) -> Result<TapEstimate> {
    let mut best = f64::NEG_INFINITY;
    let mut n_converged = 0;
    let mut max_residual: f64 = 0.0;
    let sweeps = solve_chunks(rbm, order, starts, opts, |_, solver, g| {
        for (&gi, &ri) in g.iter().zip(solver.residuals()) {
            max_residual = max_nan(max_residual, ri);
            if ri <= opts.tolerance {
                n_converged += 1;
                best = best.max(-gi);
            }
        }
    })?;
    Ok(TapEstimate {
        order,
        ln_z: if n_converged > 0 { best } else { f64::NAN },
        n_converged,
        n_particles: starts.nrows(),
        max_residual,
        tolerance: opts.tolerance,
        sweeps,
    })
}

/// The fourth-order estimate of [`log_partition_tap4`], with the TAP3 estimate of the same
/// fixed points.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FourthOrderEstimate {
    /// `-G4` at the converged TAP3 stationary point of lowest `G4` (NaN when none converged).
    pub ln_z: f64,
    /// The TAP3 estimate from the same starts (its convergence record applies to both).
    pub tap3: TapEstimate,
}

/// `ln Z ~ -G4(m*)` with `m*` the stationary points of `G3` reached from `starts` (see
/// [`crate::tap::fourth`]: the fourth-order Plefka term, evaluated where `G3` is stationary,
/// which keeps the `W^5` error); the best over the converged particles.
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat};
/// use emf_rbm::estimate::{exact, tap::{log_partition, log_partition_tap4}};
/// use emf_rbm::tap::{SolverOptions, TapOrder};
/// let mut rng = emf_rbm::rng::rng(1);
/// let rbm = Rbm::<f64>::random(6, 4, 0.2, &mut rng)?;
/// let starts = Mat::<f64>::zeros(1, 6);
/// let est = log_partition_tap4(&rbm, starts.as_ref(), &SolverOptions::converged())?;
/// let z = exact::log_partition(&rbm)?;
/// assert!((est.ln_z - z).abs() < (est.tap3.ln_z - z).abs()); // closer than TAP3
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub fn log_partition_tap4<T: Float>(
    rbm: &Rbm<T>,
    starts: MatRef<'_, T>,
    opts: &SolverOptions,
) -> Result<FourthOrderEstimate> {
    let (mut best3, mut best4) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let (mut n_converged, mut max_residual, mut failed) = (0, 0.0_f64, None);
    let sweeps = solve_chunks(rbm, TapOrder::Tap3, starts, opts, |_, solver, g| {
        let d = match fourth_order_correction(rbm, solver.visible(), solver.hidden()) {
            Ok(d) => d,
            Err(e) => return failed = Some(e),
        };
        for ((&gi, &ri), di) in g.iter().zip(solver.residuals()).zip(d) {
            max_residual = max_nan(max_residual, ri);
            if ri <= opts.tolerance {
                n_converged += 1;
                best3 = best3.max(-gi);
                best4 = best4.max(-(gi + di));
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    let none = |x: f64| if n_converged > 0 { x } else { f64::NAN };
    Ok(FourthOrderEstimate {
        ln_z: none(best4),
        tap3: TapEstimate {
            order: TapOrder::Tap3,
            ln_z: none(best3),
            n_converged,
            n_particles: starts.nrows(),
            max_residual,
            tolerance: opts.tolerance,
            sweeps,
        },
    })
}

/// The paper's EMF log-likelihood of each row, `l(v) = -F(v) + G_2(m*)` with `m*` the TAP2
/// fixed point started at the sample itself (`mv = v`, `mh = s(b + W^T v)`) and iterated with
/// `opts` (the paper: [`SolverOptions::paper`], 3 damped sweeps, not converged by design).
/// Not a bound; cheap. Divide by `n_visible + n_hidden` for the paper's per-unit figure
/// ([`emf_log_likelihood_per_unit`]).
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat};
/// use emf_rbm::estimate::tap::emf_log_likelihood;
/// use emf_rbm::tap::SolverOptions;
/// // W = 0: G2(m*) = -ln Z exactly, so l(v) is the exact log-likelihood.
/// let mut rbm = Rbm::<f64>::zeros(2, 3)?;
/// rbm.a = vec![1.0, -0.5];
/// let v = Mat::from_fn(1, 2, |_, i| i as f64);       // v = (0, 1)
/// let l = emf_log_likelihood(&rbm, v.as_ref(), &SolverOptions::converged())?;
/// let sp = |x: f64| (1.0 + x.exp()).ln();
/// let exact = -0.5 - sp(1.0) - sp(-0.5);
/// assert!((l[0] - exact).abs() < 1e-12);
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub fn emf_log_likelihood<T: Float>(
    rbm: &Rbm<T>,
    data: MatRef<'_, T>,
    opts: &SolverOptions,
) -> Result<Vec<f64>> {
    emf_log_likelihood_with(rbm, TapOrder::Tap2, data, opts)
}

/// [`emf_log_likelihood`] divided by `n_visible + n_hidden` (the paper's normalisation).
pub fn emf_log_likelihood_per_unit<T: Float>(
    rbm: &Rbm<T>,
    data: MatRef<'_, T>,
    opts: &SolverOptions,
) -> Result<Vec<f64>> {
    let units = (rbm.n_visible() + rbm.n_hidden()) as f64;
    let mut l = emf_log_likelihood(rbm, data, opts)?;
    l.iter_mut().for_each(|x| *x /= units);
    Ok(l)
}

/// `l(v) = -F(v) + G_k(m*)` at any order (the paper uses [`TapOrder::Tap2`]).
pub fn emf_log_likelihood_with<T: Float>(
    rbm: &Rbm<T>,
    order: TapOrder,
    data: MatRef<'_, T>,
    opts: &SolverOptions,
) -> Result<Vec<f64>> {
    check_rows(rbm, data)?;
    let mut out = rbm.free_energy(data);
    out.iter_mut().for_each(|x| *x = -*x);
    solve_chunks(rbm, order, data, opts, |first, _, g| {
        for (o, gi) in out[first..first + g.len()].iter_mut().zip(g) {
            *o += gi;
        }
    })?;
    Ok(out)
}
