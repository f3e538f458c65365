//! The fourth-order Plefka term of the {0, 1} RBM, past the paper's third order.
//!
//! For +-1 spins with couplings `J` the fourth order of `-G` (Georges & Yedidia, J. Phys. A 24,
//! 2173 (1991)) is a sum over edges and over 4-cycles; a bipartite graph has no triangles, and
//! terms on trees cancel in the Legendre transform (checked here against the exact transform of
//! a 3-spin path and a 4-cycle, docs/MATH.md). With `J = W/4`, `mu = 2m - 1`, `1 - mu^2 = 4 nu`
//! and `u = mu^2 = 1 - 4 nu` per unit:
//!
//! ```text
//! G4 = G3 + 1/192 sum_ij W_ij^4 nu_i nu_j (1 + 3 u_i + 3 u_j - 15 u_i u_j)
//!         - sum_{i<k visible, j<l hidden} W_ij W_kj W_kl W_il nu_i nu_k nu_j nu_l
//! ```
//!
//! The 4-cycle sum is `1/4 [tr((M^T M)^2) - sum_i r_i^2 - sum_j c_j^2 + sum_ij M_ij^4]` with
//! `M_ij = W_ij sqrt(nu_i nu_j)`, `r` and `c` the row and column sums of `M o M`. The ln Z
//! estimate evaluates `-G4` at the stationary points of `G3`: the points differ by `O(W^4)`, so
//! `G4` there differs from its own stationary value by `O(W^8)`, and the error of `ln Z` still
//! falls as `W^5`.

use faer::{Mat, MatRef};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::rbm::Rbm;
use crate::tap::free_energy::CLIP;

/// `G4 - G3` at each particle (rows of `mv`, `mh`), in `f64`.
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat};
/// use emf_rbm::tap::fourth::fourth_order_correction;
/// // One edge, m = 1/2 on both units: nu = 1/4, u = 0, so G4 - G3 = W^4 / (192 * 16).
/// let mut rbm = Rbm::<f64>::zeros(1, 1)?;
/// rbm.w[(0, 0)] = 2.0;
/// let half = Mat::<f64>::from_fn(1, 1, |_, _| 0.5);
/// let d = fourth_order_correction(&rbm, half.as_ref(), half.as_ref())?;
/// assert!((d[0] - 16.0 / 3072.0).abs() < 1e-15);
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub fn fourth_order_correction<T: Float>(
    rbm: &Rbm<T>,
    mv: MatRef<'_, T>,
    mh: MatRef<'_, T>,
) -> Result<Vec<f64>> {
    check_shapes(rbm, mv, mh)?;
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    let w = Mat::<f64>::from_fn(nv, nh, |i, j| rbm.w[(i, j)].as_f64());
    let nu = |m: f64| {
        let m = m.clamp(CLIP, 1.0 - CLIP);
        m * (1.0 - m)
    };
    let out = (0..mv.nrows())
        .map(|r| {
            let nv_: Vec<f64> = (0..nv).map(|i| nu(mv[(r, i)].as_f64())).collect();
            let nh_: Vec<f64> = (0..nh).map(|j| nu(mh[(r, j)].as_f64())).collect();
            edge_term(&w, &nv_, &nh_) / 192.0 - cycle_term(&w, &nv_, &nh_)
        })
        .collect();
    Ok(out)
}

/// The mean over the particles (rows of `mv`, `mh`) of `d(G4 - G3)/dW` at fixed
/// magnetizations, in `f64`: the fourth-order part of the TAP weight gradient
/// (`d ln Z / dW ~ -dG4/dW` at the stationary point, by the envelope theorem; see
/// [`Tap4Phase`](crate::train::tap::Tap4Phase) for what evaluating it at the `G3` points
/// costs). Per unit pair
///
/// ```text
/// W_ij^3 c_ij / 48 - s_i t_j [(M M^T M)_ij - (r_i + c_j) M_ij + M_ij^3],
/// ```
///
/// `c_ij = nu_i nu_j (1 + 3 u_i + 3 u_j - 15 u_i u_j)`, `s = sqrt(nu_v)`, `t = sqrt(nu_h)`,
/// `M_ij = W_ij s_i t_j`, `r` and `c` the row and column sums of `M o M`. Per particle it costs
/// two products of `n_visible x n_hidden x n_hidden` (`M^T M`, then `M (M^T M)`): fine for
/// small models, about 0.8 GFLOP per particle at 784 x 500.
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat};
/// use emf_rbm::tap::fourth::{fourth_order_correction, fourth_order_weight_gradient};
/// // One edge, m = 1/2: G4 - G3 = W^4 / 3072, so its derivative is W^3 / 768.
/// let mut rbm = Rbm::<f64>::zeros(1, 1)?;
/// rbm.w[(0, 0)] = 2.0;
/// let half = Mat::<f64>::from_fn(1, 1, |_, _| 0.5);
/// let g = fourth_order_weight_gradient(&rbm, half.as_ref(), half.as_ref())?;
/// assert!((g[(0, 0)] - 8.0 / 768.0).abs() < 1e-15);
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub fn fourth_order_weight_gradient<T: Float>(
    rbm: &Rbm<T>,
    mv: MatRef<'_, T>,
    mh: MatRef<'_, T>,
) -> Result<Mat<f64>> {
    check_shapes(rbm, mv, mh)?;
    let (nv, nh, p) = (rbm.n_visible(), rbm.n_hidden(), mv.nrows());
    let w = Mat::<f64>::from_fn(nv, nh, |i, j| rbm.w[(i, j)].as_f64());
    let nu = |m: f64| {
        let m = m.clamp(CLIP, 1.0 - CLIP);
        m * (1.0 - m)
    };
    let per_particle = |r: usize| -> Mat<f64> {
        let a: Vec<f64> = (0..nv).map(|i| nu(mv[(r, i)].as_f64())).collect();
        let b: Vec<f64> = (0..nh).map(|j| nu(mh[(r, j)].as_f64())).collect();
        let (s, t): (Vec<f64>, Vec<f64>) = (
            a.iter().map(|x| x.sqrt()).collect(),
            b.iter().map(|x| x.sqrt()).collect(),
        );
        let m = Mat::<f64>::from_fn(nv, nh, |i, j| w[(i, j)] * s[i] * t[j]);
        let mmm = &m * (m.transpose() * &m);
        let rows: Vec<f64> = (0..nv)
            .map(|i| m.row(i).iter().map(|x| x * x).sum())
            .collect();
        let cols: Vec<f64> = (0..nh)
            .map(|j| m.col(j).iter().map(|x| x * x).sum())
            .collect();
        Mat::<f64>::from_fn(nv, nh, |i, j| {
            let (ui, uj) = (1.0 - 4.0 * a[i], 1.0 - 4.0 * b[j]);
            let c = a[i] * b[j] * (1.0 + 3.0 * ui + 3.0 * uj - 15.0 * ui * uj);
            let x = m[(i, j)];
            let cycle = mmm[(i, j)] - (rows[i] + cols[j]) * x + x * x * x;
            w[(i, j)].powi(3) * c / 48.0 - s[i] * t[j] * cycle
        })
    };
    use rayon::prelude::*;
    let sum = (0..p)
        .into_par_iter()
        .map(per_particle)
        .reduce(|| Mat::<f64>::zeros(nv, nh), |x, y| x + y);
    Ok(sum * faer::Scale(1.0 / p.max(1) as f64))
}

fn check_shapes<T: Float>(rbm: &Rbm<T>, mv: MatRef<'_, T>, mh: MatRef<'_, T>) -> Result<()> {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    if mv.ncols() != nv || mh.ncols() != nh || mv.nrows() != mh.nrows() {
        return Err(Error::Shape(format!(
            "magnetizations {} x {} and {} x {} for a {nv} x {nh} model",
            mv.nrows(),
            mv.ncols(),
            mh.nrows(),
            mh.ncols()
        )));
    }
    Ok(())
}

/// `sum_ij W_ij^4 nu_i nu_j (1 + 3 u_i + 3 u_j - 15 u_i u_j)`, `u = 1 - 4 nu`.
fn edge_term(w: &Mat<f64>, nu_v: &[f64], nu_h: &[f64]) -> f64 {
    let mut s = 0.0;
    for (j, &b) in nu_h.iter().enumerate() {
        let uj = 1.0 - 4.0 * b;
        for (i, &a) in nu_v.iter().enumerate() {
            let ui = 1.0 - 4.0 * a;
            s += w[(i, j)].powi(4) * a * b * (1.0 + 3.0 * ui + 3.0 * uj - 15.0 * ui * uj);
        }
    }
    s
}

/// The sum over the 4-cycles of `W_ij W_kj W_kl W_il nu_i nu_k nu_j nu_l`.
fn cycle_term(w: &Mat<f64>, nu_v: &[f64], nu_h: &[f64]) -> f64 {
    let (sv, sh): (Vec<f64>, Vec<f64>) = (
        nu_v.iter().map(|x| x.sqrt()).collect(),
        nu_h.iter().map(|x| x.sqrt()).collect(),
    );
    let m = Mat::<f64>::from_fn(w.nrows(), w.ncols(), |i, j| w[(i, j)] * sv[i] * sh[j]);
    let gram = m.transpose() * &m;
    let trace_sq: f64 = (0..gram.ncols())
        .map(|c| gram.col(c).iter().map(|x| x * x).sum::<f64>())
        .sum();
    let mut rows = vec![0.0; m.nrows()];
    let (mut cols_sq, mut fourth) = (0.0, 0.0);
    for j in 0..m.ncols() {
        let mut c = 0.0;
        for (i, r) in rows.iter_mut().enumerate() {
            let x2 = m[(i, j)] * m[(i, j)];
            *r += x2;
            c += x2;
            fourth += x2 * x2;
        }
        cols_sq += c * c;
    }
    let rows_sq: f64 = rows.iter().map(|r| r * r).sum();
    0.25 * (trace_sq - rows_sq - cols_sq + fourth)
}
