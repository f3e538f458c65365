//! All the TAP fixed points a model has, as objects: the distinct stationary points of `G_k`
//! reached from many starts, each with its free energy, its kind (minimum or saddle, from the
//! Hessian) and its basin (how many starts reached it); and `ln Z` from the whole set.
//!
//! A single fixed point describes one thermodynamic state. When a model has several states of
//! comparable weight (a trained RBM's TAP free energy has many minima), `-G_k` of the best one
//! misses `ln Z` by up to the log of the number of states. A *state* is a minimum at which the
//! expansion holds (Plefka radius below 1, [`plefka_radius`]); the set estimate
//! `ln sum_states exp(-G_k)` ([`FixedPointSet::ln_z_set`]) counts every state once, and
//! [`FixedPointSet::ln_z_minima`] sums over all minima as Tramel, Gabrie, Manoel, Caltagirone &
//! Krzakala (PRX 2018) count the TAP solutions of trained RBMs. The difference matters: TAP2
//! has spurious minima where its expansion does not hold (docs/MATH.md section 2).

use faer::{Col, Mat, MatRef, Scale};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::estimate::tap::{solve_chunks, TapEstimate};
use crate::float::Float;
use crate::linalg::log_sum_exp;
use crate::rbm::{GibbsSampler, Rbm};
use crate::tap::kernels::max_nan;
use crate::tap::{gibbs_hessian, SolverOptions, StationaryKind, TapOrder};

/// Settings of [`find_fixed_points`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixedPointOptions {
    /// The solver that iterates each start to its stationary point; only starts whose final
    /// residual reaches its tolerance count.
    pub solver: SolverOptions,
    /// Two converged particles are the same fixed point when no magnetization (visible or
    /// hidden) differs by more than this (default [`DEFAULT_DISTANCE`]).
    pub distance: f64,
}

/// The default deduplication distance: `1e-3` in the largest magnetization difference (a
/// converged particle sits within about its residual, `1e-8` in `f64`, of its fixed point).
pub const DEFAULT_DISTANCE: f64 = 1e-3;

impl Default for FixedPointOptions {
    fn default() -> Self {
        FixedPointOptions {
            solver: SolverOptions::converged(),
            distance: DEFAULT_DISTANCE,
        }
    }
}

impl FixedPointOptions {
    /// Checks the solver and that the distance is finite and positive.
    pub fn validate(&self) -> Result<()> {
        self.solver.validate()?;
        if !(self.distance > 0.0 && self.distance.is_finite()) {
            return Err(Error::param(
                "distance",
                format!("must be finite and > 0, got {}", self.distance),
            ));
        }
        Ok(())
    }
}

/// One distinct stationary point of `G_k`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixedPoint {
    /// `G_k` at the point (its `ln Z` estimate is `-free_energy`): the lowest over the
    /// particles that reached it, whose magnetizations and residual are the ones stored.
    pub free_energy: f64,
    /// Minimum, saddle (with its index) or degenerate, from the Hessian's inertia.
    pub kind: StationaryKind,
    /// How many starts converged to this point (the basin size as sampled by the starts).
    pub basin: usize,
    /// The first start (row of `starts`) that reached it.
    pub first_start: usize,
    /// The final residual of the stored particle (its largest magnetization change in the
    /// last sweep).
    pub residual: f64,
    /// [`plefka_radius`] at the point: the expansion behind `G_2` and `G_3` holds there only
    /// when it is below 1.
    pub plefka_radius: f64,
    /// Visible magnetizations.
    pub visible: Vec<f64>,
    /// Hidden magnetizations.
    pub hidden: Vec<f64>,
}

/// The distinct fixed points found from a set of starts (see [`find_fixed_points`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixedPointSet {
    /// The order of `G_k`.
    pub order: TapOrder,
    /// The distinct points, lowest free energy first.
    pub points: Vec<FixedPoint>,
    /// Starts given.
    pub n_starts: usize,
    /// Starts that converged (the sum of the basins).
    pub n_converged: usize,
    /// Largest final residual over all starts (converged or not).
    pub max_residual: f64,
    /// Sweeps made (the most over the chunks of starts).
    pub sweeps: usize,
    /// The deduplication distance used.
    pub distance: f64,
    /// The solver tolerance the residuals were compared with.
    pub tolerance: f64,
}

impl FixedPoint {
    /// A minimum at which the expansion holds (Plefka radius below 1): a state of the model.
    pub fn is_state(&self) -> bool {
        self.kind == StationaryKind::Minimum && self.plefka_radius < 1.0
    }
}

impl FixedPointSet {
    /// Number of distinct minima.
    pub fn n_minima(&self) -> usize {
        self.minima().count()
    }

    /// Number of states: minima at which the expansion holds ([`FixedPoint::is_state`]).
    pub fn n_states(&self) -> usize {
        self.states().count()
    }

    /// The states ([`FixedPoint::is_state`]), lowest free energy first.
    pub fn states(&self) -> impl Iterator<Item = &FixedPoint> {
        self.points.iter().filter(|p| p.is_state())
    }

    /// The distinct minima, lowest free energy first.
    pub fn minima(&self) -> impl Iterator<Item = &FixedPoint> {
        self.points
            .iter()
            .filter(|p| p.kind == StationaryKind::Minimum)
    }

    /// `-G_k` at the lowest state (the single-solution estimate); NaN when there is no state.
    /// [`crate::estimate::tap::log_partition`] instead reports the lowest converged point of
    /// any kind, `-points[0].free_energy`.
    pub fn ln_z_best(&self) -> f64 {
        self.states().next().map_or(f64::NAN, |p| -p.free_energy)
    }

    /// `ln sum exp(-G_k)` over the states (distinct minima where the expansion holds): every
    /// state counted once. Errs when no state was found.
    pub fn ln_z_set(&self) -> Result<f64> {
        let terms: Vec<f64> = self.states().map(|p| -p.free_energy).collect();
        if terms.is_empty() {
            return Err(Error::NotConverged(format!(
                "{} set: no state among {} distinct points ({} minima) from {} starts ({} \
                 converged)",
                self.order,
                self.points.len(),
                self.n_minima(),
                self.n_starts,
                self.n_converged
            )));
        }
        Ok(log_sum_exp(&terms))
    }

    /// The single-solution [`TapEstimate`] of the same starts: `-G_k` at the lowest converged
    /// point of any kind (exactly what [`crate::estimate::tap::log_partition`] reports).
    pub fn estimate(&self) -> TapEstimate {
        TapEstimate {
            order: self.order,
            ln_z: self.points.first().map_or(f64::NAN, |p| -p.free_energy),
            n_converged: self.n_converged,
            n_particles: self.n_starts,
            max_residual: self.max_residual,
            tolerance: self.tolerance,
            sweeps: self.sweeps,
        }
    }

    /// `ln sum exp(-G_k)` over ALL distinct minima, inside the expansion's range or not (the
    /// count of Tramel et al., PRX 2018). Next to [`ln_z_set`](Self::ln_z_set) it shows what
    /// the minima outside the range add; errs when no minimum was found.
    pub fn ln_z_minima(&self) -> Result<f64> {
        let terms: Vec<f64> = self.minima().map(|p| -p.free_energy).collect();
        if terms.is_empty() {
            return Err(Error::NotConverged(format!(
                "{}: no minimum among {} distinct points from {} starts ({} converged)",
                self.order,
                self.points.len(),
                self.n_starts,
                self.n_converged
            )));
        }
        Ok(log_sum_exp(&terms))
    }

    /// For each point, the row of `data` nearest to its visible magnetizations (squared
    /// Euclidean distance) and that distance: what each state "is".
    pub fn nearest_rows<T: Float>(&self, data: MatRef<'_, T>) -> Result<Vec<(usize, f64)>> {
        let nv = self
            .points
            .first()
            .map_or(data.ncols(), |p| p.visible.len());
        if data.ncols() != nv || data.nrows() == 0 {
            return Err(Error::Shape(format!(
                "{} rows of {} entries for points of {nv} visible units",
                data.nrows(),
                data.ncols()
            )));
        }
        let rows: Vec<f64> = (0..data.nrows())
            .map(|r| (0..nv).map(|i| data[(r, i)].as_f64().powi(2)).sum())
            .collect();
        Ok(self
            .points
            .par_iter()
            .map(|p| {
                let pp: f64 = p.visible.iter().map(|x| x * x).sum();
                let mut best = (0, f64::INFINITY);
                for (r, &rr) in rows.iter().enumerate() {
                    let dot: f64 = (0..nv).map(|i| data[(r, i)].as_f64() * p.visible[i]).sum();
                    let d = (rr - 2.0 * dot + pp).max(0.0);
                    if d < best.1 {
                        best = (r, d);
                    }
                }
                best
            })
            .collect())
    }
}

/// The largest singular value of `B_ij = W_ij^2 nu_i nu_j` (`nu = m (1 - m)` of the visible
/// unit `i` and the hidden unit `j`): Plefka's condition for the high-temperature expansion
/// to converge at a point, the bipartite form of `beta^2 (1/N) sum_i (1 - m_i^2)^2 < 1` for the
/// SK model (the largest eigenvalue of `J_ij^2 chi_i chi_j`, with `chi` the local
/// susceptibilities; the de Almeida-Thouless line). Above 1 the TAP free energy is outside
/// its range: a symmetric two-state model's paramagnetic point `m = 1/2` is a TAP2 minimum
/// there, with `-G_2` above the exact `ln Z`.
///
/// ```
/// use emf_rbm::Rbm;
/// use emf_rbm::estimate::fixed_points::plefka_radius;
/// let mut rbm = Rbm::<f64>::zeros(2, 1)?;
/// rbm.w.col_mut(0).iter_mut().for_each(|x| *x = 4.0);
/// // nu = 1/4 everywhere: B = (1, 1)^T, whose singular value is sqrt(2)
/// let r = plefka_radius(&rbm, &[0.5, 0.5], &[0.5])?;
/// assert!((r - 2f64.sqrt()).abs() < 1e-12);
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub fn plefka_radius<T: Float>(rbm: &Rbm<T>, mv: &[f64], mh: &[f64]) -> Result<f64> {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    if mv.len() != nv || mh.len() != nh {
        return Err(Error::Shape(format!(
            "magnetizations of lengths {} and {} for a {nv} x {nh} model",
            mv.len(),
            mh.len()
        )));
    }
    let b = Mat::<f64>::from_fn(nv, nh, |i, j| {
        let w = rbm.w[(i, j)].as_f64();
        w * w * mv[i] * (1.0 - mv[i]) * mh[j] * (1.0 - mh[j])
    });
    // Power iteration on B^T B from the all-ones vector (B >= 0: Perron-Frobenius).
    let mut x = Col::<f64>::from_fn(nh, |_| 1.0 / (nh as f64).sqrt());
    let mut sigma = 0.0;
    for _ in 0..1000 {
        let y = b.transpose() * (&b * &x);
        let norm = y.norm_l2();
        if norm == 0.0 {
            return Ok(0.0);
        }
        let next = norm.sqrt();
        x = y * Scale(1.0 / norm);
        let done = (next - sigma).abs() <= 1e-12 * next;
        sigma = next;
        if done {
            break;
        }
    }
    Ok(sigma)
}

fn same_point(a: &FixedPoint, v: &[f64], h: &[f64], distance: f64) -> bool {
    let close = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(p, q)| (p - q).abs() <= distance);
    close(&a.visible, v) && close(&a.hidden, h)
}

/// Iterates every row of `starts` (particles `mv = v`, `mh = s(b + W^T v)`; rows may be data,
/// model samples or random points in `[0, 1]`) to a stationary point of `G_k`, merges the
/// converged particles that lie within `opts.distance` of each other (in start order, so the
/// result does not depend on the number of threads), and classifies each distinct point by
/// the inertia of the Hessian of `G_k` there.
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat};
/// use emf_rbm::estimate::fixed_points::{find_fixed_points, FixedPointOptions};
/// use emf_rbm::tap::{StationaryKind, TapOrder};
/// // Two states: all units off, or all on (with the hidden unit on), of equal weight.
/// let (nv, w) = (8, 4.0);
/// let mut rbm = Rbm::<f64>::zeros(nv, 1)?;
/// rbm.w.col_mut(0).iter_mut().for_each(|x| *x = w);
/// rbm.a = vec![-w / 2.0; nv];
/// rbm.b = vec![-w / 2.0 * nv as f64];
/// let starts = Mat::<f64>::from_fn(2, nv, |r, _| r as f64); // all off, all on
/// let set = find_fixed_points(&rbm, TapOrder::Tap2, starts.as_ref(), &FixedPointOptions::default())?;
/// assert_eq!(set.n_minima(), 2);
/// // Two equal states: the set estimate is the best single one plus ln 2.
/// assert!((set.ln_z_set()? - set.ln_z_best() - 2f64.ln()).abs() < 1e-9);
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub fn find_fixed_points<T: Float>(
    rbm: &Rbm<T>,
    order: TapOrder,
    starts: MatRef<'_, T>,
    opts: &FixedPointOptions,
) -> Result<FixedPointSet> {
    opts.validate()?;
    let (mut points, mut n_converged, mut max_residual) = (Vec::<FixedPoint>::new(), 0, 0.0);
    let sweeps = solve_chunks(rbm, order, starts, &opts.solver, |first, solver, g| {
        let (mv, mh) = (solver.visible(), solver.hidden());
        for (r, (&res, &gr)) in solver.residuals().iter().zip(g).enumerate() {
            max_residual = max_nan(max_residual, res);
            let converged = res <= opts.solver.tolerance && gr.is_finite();
            if !converged {
                continue;
            }
            n_converged += 1;
            let v: Vec<f64> = mv.row(r).iter().map(|x| x.as_f64()).collect();
            let h: Vec<f64> = mh.row(r).iter().map(|x| x.as_f64()).collect();
            match points
                .iter_mut()
                .find(|p| same_point(p, &v, &h, opts.distance))
            {
                Some(p) => {
                    p.basin += 1;
                    // The member with the lowest G_k represents the point.
                    if gr < p.free_energy {
                        (p.free_energy, p.residual, p.visible, p.hidden) = (gr, res, v, h);
                    }
                }
                None => points.push(FixedPoint {
                    free_energy: gr,
                    kind: StationaryKind::Degenerate,
                    basin: 1,
                    first_start: first + r,
                    residual: res,
                    plefka_radius: f64::NAN,
                    visible: v,
                    hidden: h,
                }),
            }
        }
    })?;
    let kinds: Vec<Result<(StationaryKind, f64)>> = points
        .par_iter()
        .map(|p| {
            let kind = gibbs_hessian(rbm, order, &p.visible, &p.hidden)?
                .inertia()?
                .kind();
            Ok((kind, plefka_radius(rbm, &p.visible, &p.hidden)?))
        })
        .collect();
    for (p, kind) in points.iter_mut().zip(kinds) {
        (p.kind, p.plefka_radius) = kind?;
    }
    points.sort_by(|x, y| x.free_energy.total_cmp(&y.free_energy));
    Ok(FixedPointSet {
        order,
        points,
        n_starts: starts.nrows(),
        n_converged,
        max_residual,
        sweeps,
        distance: opts.distance,
        tolerance: opts.solver.tolerance,
    })
}

/// Where the fixed-point search starts: the first `data_rows` rows of the data, `model_samples`
/// Gibbs samples of the model (chains from random binary rows run `gibbs_steps` steps) and
/// `random` random binary rows, in that order; all random parts from `seed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Starts {
    /// Rows of the data (at most its number of rows are used).
    pub data_rows: usize,
    /// Gibbs samples of the model.
    pub model_samples: usize,
    /// Gibbs steps of each sampling chain.
    pub gibbs_steps: usize,
    /// Random binary rows.
    pub random: usize,
    /// Seed of the sampled and random starts.
    pub seed: u64,
}

impl Starts {
    /// The start rows for `rbm` (`data` gives the data rows). Errs when there would be none.
    ///
    /// ```
    /// use emf_rbm::Rbm;
    /// use emf_rbm::estimate::fixed_points::Starts;
    /// let rbm = Rbm::<f64>::zeros(4, 2)?;
    /// let s = Starts { data_rows: 0, model_samples: 3, gibbs_steps: 10, random: 2, seed: 1 };
    /// assert_eq!(s.rows(&rbm, None)?.nrows(), 5);
    /// # Ok::<(), emf_rbm::Error>(())
    /// ```
    pub fn rows<T: Float>(&self, rbm: &Rbm<T>, data: Option<MatRef<'_, T>>) -> Result<Mat<T>> {
        let nv = rbm.n_visible();
        let data = match data {
            Some(d) if d.ncols() != nv => {
                return Err(Error::Shape(format!(
                    "data rows have {} entries but the model has {nv} visible units",
                    d.ncols()
                )))
            }
            Some(d) => d.subrows(0, d.nrows().min(self.data_rows)),
            None => MatRef::from_row_major_slice(&[], 0, nv),
        };
        let mut sampled = random_starts::<T>(self.model_samples, nv, self.seed ^ 0x5eed);
        if self.model_samples > 0 {
            let mut rng = crate::rng::rng(self.seed);
            let mut gibbs = GibbsSampler::try_new(rbm, self.model_samples)?;
            gibbs.set_visible(sampled.as_ref());
            gibbs.run(rbm, self.gibbs_steps, &mut rng);
            sampled = gibbs.visible().to_owned();
        }
        let random = random_starts::<T>(self.random, nv, self.seed.wrapping_add(1));
        let n = data.nrows() + sampled.nrows() + random.nrows();
        if n == 0 {
            return Err(Error::param(
                "starts",
                "no starts: give data rows, model samples or random rows",
            ));
        }
        Ok(Mat::from_fn(n, nv, |r, i| {
            let (d, s) = (data.nrows(), sampled.nrows());
            if r < d {
                data[(r, i)]
            } else if r < d + s {
                sampled[(r - d, i)]
            } else {
                random[(r - d - s, i)]
            }
        }))
    }
}

/// `n` random starts drawn uniformly from the binary rows `{0, 1}^n_visible` (each unit on
/// with probability 1/2), from `seed`: the third kind of start next to data rows and model
/// samples.
pub fn random_starts<T: Float>(n: usize, n_visible: usize, seed: u64) -> Mat<T> {
    use rand::Rng as _;
    let mut rng = crate::rng::rng(seed);
    let mut m = Mat::<T>::zeros(n, n_visible);
    for r in 0..n {
        for i in 0..n_visible {
            m[(r, i)] = T::of(if rng.random::<bool>() { 1.0 } else { 0.0 });
        }
    }
    m
}
