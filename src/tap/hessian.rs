//! The Hessian of `G_k` in the magnetizations at one point, and its inertia: a stationary
//! point is a minimum of `G_k` when the Hessian has no negative eigenvalue, a saddle of index
//! `k` when it has `k`.
//!
//! Up to third order every correction term of `G_k` is a sum over edges `(i, j)` of a function
//! of `(mv_i, mh_j)` alone (the graph is bipartite), so the Hessian has diagonal blocks and one
//! dense `nv x nh` coupling block:
//!
//! ```text
//! H = [ Dv  C  ]   Dv_i = 1/nu_i + ((W o W) nu_h)_i + 2 (1 - 2 mv_i) ((W o W o W) kappa_h)_i
//!     [ C^T Dh ]   Dh_j = 1/nu_j + ((W o W)^T nu_v)_j + 2 (1 - 2 mh_j) ((W o W o W)^T kappa_v)_j
//!                  C_ij = -W_ij - 1/2 W_ij^2 (1 - 2 mv_i)(1 - 2 mh_j)
//!                         - 2/3 W_ij^3 (1/2 - 3 nu_i)(1/2 - 3 nu_j)
//! ```
//!
//! (the `W o W` terms from second order on, the `W o W o W` terms at third order). The inertia
//! follows from Haynsworth's theorem without forming the full matrix: eliminating the larger
//! diagonal block `D_B`, `In(H) = In(D_B) + In(D_A - C_AB D_B^-1 C_AB^T)`, so only a
//! `min(nv, nh)`-square Schur complement is factorised.

use faer::{Mat, Side};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::rbm::Rbm;
use crate::tap::free_energy::CLIP;
use crate::tap::options::TapOrder;

/// How many eigenvalues of a symmetric matrix are negative, zero and positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inertia {
    /// Negative eigenvalues (the index of a stationary point).
    pub negative: usize,
    /// Eigenvalues whose magnitude is below [`ZERO_EIGENVALUE`] times the largest one.
    pub zero: usize,
    /// Positive eigenvalues.
    pub positive: usize,
}

/// What kind of stationary point of `G_k` a point is, from the inertia of its Hessian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StationaryKind {
    /// Positive definite Hessian: a local minimum of `G_k` (a thermodynamic state).
    Minimum,
    /// Some negative eigenvalues (their count is the index); no zero eigenvalue.
    Saddle {
        /// Number of negative eigenvalues.
        index: usize,
    },
    /// Some eigenvalue is zero to working precision: the second-order test cannot decide.
    Degenerate,
}

impl Inertia {
    /// The kind of stationary point with this Hessian inertia.
    pub fn kind(&self) -> StationaryKind {
        if self.zero > 0 {
            StationaryKind::Degenerate
        } else if self.negative == 0 {
            StationaryKind::Minimum
        } else {
            StationaryKind::Saddle {
                index: self.negative,
            }
        }
    }
}

/// An eigenvalue is counted as zero when its magnitude is at most this times the largest
/// magnitude of its matrix.
pub const ZERO_EIGENVALUE: f64 = 1e-10;

/// The Hessian of `G_k` at one point `(mv, mh)`, in `f64` (see the module docs).
#[derive(Clone, Debug)]
pub struct GibbsHessian {
    /// The order of `G_k`.
    pub order: TapOrder,
    /// The visible diagonal block `Dv` (length `nv`).
    pub visible_diagonal: Vec<f64>,
    /// The hidden diagonal block `Dh` (length `nh`).
    pub hidden_diagonal: Vec<f64>,
    /// The coupling block `C` (`nv x nh`).
    pub coupling: Mat<f64>,
}

fn nu(m: f64) -> f64 {
    let m = m.clamp(CLIP, 1.0 - CLIP);
    m * (1.0 - m)
}

fn kappa(m: f64) -> f64 {
    (0.5 - m) * nu(m)
}

fn check_point<T: Float>(rbm: &Rbm<T>, mv: &[f64], mh: &[f64]) -> Result<()> {
    if mv.len() != rbm.n_visible() || mh.len() != rbm.n_hidden() {
        return Err(Error::Shape(format!(
            "magnetizations of lengths {} and {} for a {} x {} model",
            mv.len(),
            mh.len(),
            rbm.n_visible(),
            rbm.n_hidden()
        )));
    }
    if let Some(x) = mv.iter().chain(mh).find(|x| !(0.0..=1.0).contains(*x)) {
        return Err(Error::param(
            "magnetizations",
            format!("must lie in [0, 1], found {x}"),
        ));
    }
    Ok(())
}

/// The Hessian of `G_k` (`order`) at `(mv, mh)`, magnetizations clipped to
/// `[CLIP, 1 - CLIP]` like the free energy.
///
/// ```
/// use emf_rbm::Rbm;
/// use emf_rbm::tap::{gibbs_hessian, StationaryKind, TapOrder};
/// // W = 0: G_k is a sum of one-unit convex terms; its minimum is m = s(a), s(b).
/// let rbm = Rbm::<f64>::zeros(2, 1)?;
/// let h = gibbs_hessian(&rbm, TapOrder::Tap2, &[0.5, 0.5], &[0.5])?;
/// assert_eq!(h.visible_diagonal, vec![4.0, 4.0]); // 1 / (m (1 - m))
/// assert_eq!(h.inertia()?.kind(), StationaryKind::Minimum);
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub fn gibbs_hessian<T: Float>(
    rbm: &Rbm<T>,
    order: TapOrder,
    mv: &[f64],
    mh: &[f64],
) -> Result<GibbsHessian> {
    check_point(rbm, mv, mh)?;
    let (nv, nh, k) = (rbm.n_visible(), rbm.n_hidden(), order.k());
    let nu_v: Vec<f64> = mv.iter().map(|&m| nu(m)).collect();
    let nu_h: Vec<f64> = mh.iter().map(|&m| nu(m)).collect();
    let ka_v: Vec<f64> = mv.iter().map(|&m| kappa(m)).collect();
    let ka_h: Vec<f64> = mh.iter().map(|&m| kappa(m)).collect();
    let mut coupling = Mat::<f64>::zeros(nv, nh);
    let mut dh = vec![0.0; nh];
    // Column j of C and the hidden diagonal, one column per task.
    let columns: Vec<(usize, Vec<f64>, f64)> = (0..nh)
        .into_par_iter()
        .map(|j| {
            let (yj, sy) = (mh[j], 0.5 - 3.0 * nu_h[j]);
            let mut col = vec![0.0; nv];
            let mut d = 1.0 / nu_h[j];
            for (i, c) in col.iter_mut().enumerate() {
                let w = rbm.w[(i, j)].as_f64();
                *c = -w;
                if k >= 2 {
                    *c -= 0.5 * w * w * (1.0 - 2.0 * mv[i]) * (1.0 - 2.0 * yj);
                    d += w * w * nu_v[i];
                }
                if k >= 3 {
                    *c -= 2.0 / 3.0 * w * w * w * (0.5 - 3.0 * nu_v[i]) * sy;
                    d += 2.0 * (1.0 - 2.0 * yj) * w * w * w * ka_v[i];
                }
            }
            (j, col, d)
        })
        .collect();
    for (j, col, d) in columns {
        coupling
            .col_mut(j)
            .iter_mut()
            .zip(col)
            .for_each(|(c, x)| *c = x);
        dh[j] = d;
    }
    let dv = (0..nv)
        .map(|i| {
            let mut d = 1.0 / nu_v[i];
            for j in 0..nh {
                let w = rbm.w[(i, j)].as_f64();
                if k >= 2 {
                    d += w * w * nu_h[j];
                }
                if k >= 3 {
                    d += 2.0 * (1.0 - 2.0 * mv[i]) * w * w * w * ka_h[j];
                }
            }
            d
        })
        .collect();
    Ok(GibbsHessian {
        order,
        visible_diagonal: dv,
        hidden_diagonal: dh,
        coupling,
    })
}

impl GibbsHessian {
    /// The full symmetric `(nv + nh)`-square matrix, visible units first.
    pub fn to_dense(&self) -> Mat<f64> {
        let (nv, nh) = (self.visible_diagonal.len(), self.hidden_diagonal.len());
        Mat::from_fn(nv + nh, nv + nh, |r, c| match (r < nv, c < nv) {
            (true, true) if r == c => self.visible_diagonal[r],
            (false, false) if r == c => self.hidden_diagonal[r - nv],
            (true, false) => self.coupling[(r, c - nv)],
            (false, true) => self.coupling[(c, r - nv)],
            _ => 0.0,
        })
    }

    /// The inertia of the Hessian: the larger diagonal block is eliminated (Haynsworth) and
    /// the Schur complement's eigenvalues are counted (or a Cholesky
    /// factorisation proves it positive definite); when that block has a zero on its
    /// diagonal, the eigenvalues of the full matrix are counted instead.
    pub fn inertia(&self) -> Result<Inertia> {
        let eliminate_visible = self.visible_diagonal.len() >= self.hidden_diagonal.len();
        let (db, da) = if eliminate_visible {
            (&self.visible_diagonal, &self.hidden_diagonal)
        } else {
            (&self.hidden_diagonal, &self.visible_diagonal)
        };
        let scale = db.iter().fold(0.0_f64, |s, d| s.max(d.abs()));
        if db
            .iter()
            .any(|d| d.abs() <= ZERO_EIGENVALUE * scale || !d.is_finite())
        {
            return count(eigenvalues(self.to_dense())?);
        }
        // S = D_A - C_AB D_B^-1 C_AB^T, with C_AB = C^T (visible eliminated) or C.
        let cab = if eliminate_visible {
            self.coupling.transpose().to_owned()
        } else {
            self.coupling.clone()
        };
        let scaled = Mat::from_fn(cab.nrows(), cab.ncols(), |r, c| cab[(r, c)] / db[c]);
        let mut schur = &scaled * cab.transpose();
        for (r, &d) in da.iter().enumerate() {
            for c in 0..da.len() {
                schur[(r, c)] = -schur[(r, c)];
            }
            schur[(r, r)] += d;
        }
        // A Cholesky factorisation that succeeds proves S positive definite (the common case
        // at a minimum) without the eigenvalues.
        let mut inertia = if schur.llt(Side::Lower).is_ok() {
            Inertia {
                negative: 0,
                zero: 0,
                positive: da.len(),
            }
        } else {
            count(eigenvalues(schur)?)?
        };
        for &d in db {
            if d < 0.0 {
                inertia.negative += 1;
            } else {
                inertia.positive += 1;
            }
        }
        Ok(inertia)
    }
}

fn eigenvalues(m: Mat<f64>) -> Result<Vec<f64>> {
    let finite = (0..m.ncols()).all(|c| m.col(c).iter().all(|x| x.is_finite()));
    if !finite {
        return Err(Error::NotConverged(
            "the Hessian of G_k has a non-finite entry".into(),
        ));
    }
    m.self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| Error::NotConverged(format!("Hessian eigenvalues: {e:?}")))
}

fn count(eig: Vec<f64>) -> Result<Inertia> {
    let scale = eig.iter().fold(0.0_f64, |s, x| s.max(x.abs()));
    let mut out = Inertia {
        negative: 0,
        zero: 0,
        positive: 0,
    };
    for x in eig {
        if x.abs() <= ZERO_EIGENVALUE * scale {
            out.zero += 1;
        } else if x < 0.0 {
            out.negative += 1;
        } else {
            out.positive += 1;
        }
    }
    Ok(out)
}
