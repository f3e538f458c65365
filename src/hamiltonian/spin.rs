//! Spin-basis couplings `J_S = sum_j 2^-|S| E[D_S^j(b_j + h_j)]` (+ visible-bias terms), where
//! `h_j = sum_{i not in S} W_ij v_i` at uniform `v`: the methods that evaluate the average.

use std::fmt;

use faer::Mat;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{kernel, scalar, EffectiveHamiltonian};
use crate::error::{Error, Result};

/// How the spin-basis average over the other units is evaluated. Always reported with the
/// result: only `Enumeration` and `Convolution` are exact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SpinMethod {
    /// Exact: enumerate all `2^(n - |S|)` configurations of the other units (every unit,
    /// zero weights included). Refused (as [`Error::Infeasible`]) beyond
    /// [`SpinMethod::MAX_ENUMERATED`] other units.
    Enumeration,
    /// Exact: per hidden unit, the distribution of the field of the other units of its
    /// support (`W_ij != 0`) by repeated convolution, merging equal field values (few when
    /// weights are sparse or quantised). Refused when a support has more than `max_support`
    /// other units.
    Convolution {
        /// Largest support (other units) convolved exactly.
        max_support: usize,
    },
    /// Approximate (central limit): the field of the other units is replaced by a Gaussian of
    /// the same mean `sum W_ij / 2` and variance `sum W_ij^2 / 4`; the 1-D average is a
    /// trapezoidal quadrature (spectrally accurate for these analytic integrands) with error
    /// below `tol` relative to the integrand scale.
    Gaussian {
        /// Quadrature tolerance (e.g. 1e-10).
        tol: f64,
    },
    /// Per hidden unit: exact convolution when its support has at most `max_support` other
    /// units, the Gaussian approximation otherwise.
    Hybrid {
        /// Largest support convolved exactly.
        max_support: usize,
        /// Quadrature tolerance of the Gaussian part.
        tol: f64,
    },
}

impl SpinMethod {
    /// Largest number of other units [`SpinMethod::Enumeration`] accepts.
    pub const MAX_ENUMERATED: usize = 26;

    /// A sensible choice for `n_units` units: exact enumeration up to 16 units, else the
    /// hybrid (exact convolution for supports of at most 14 units, Gaussian with tolerance
    /// 1e-10 elsewhere).
    pub fn auto(n_units: usize) -> Self {
        if n_units <= 16 {
            SpinMethod::Enumeration
        } else {
            SpinMethod::Hybrid {
                max_support: 14,
                tol: 1e-10,
            }
        }
    }

    /// Largest number of quadrature nodes one Gaussian average may use (weights so large
    /// that more are needed are refused rather than run for hours).
    pub const MAX_QUADRATURE_NODES: f64 = 1e8;

    /// Checks the settings: `tol` in [1e-15, 1e-2] (finite), `max_support` at most
    /// [`SpinMethod::MAX_ENUMERATED`] (an exact support of `s` units costs `2^s` states).
    pub fn validate(&self) -> Result<()> {
        if let SpinMethod::Gaussian { tol } | SpinMethod::Hybrid { tol, .. } = self {
            if !(1e-15..=1e-2).contains(tol) {
                return Err(Error::param(
                    "tol",
                    format!("the quadrature tolerance must be in [1e-15, 1e-2], got {tol}"),
                ));
            }
        }
        if let SpinMethod::Convolution { max_support } | SpinMethod::Hybrid { max_support, .. } =
            self
        {
            if *max_support > Self::MAX_ENUMERATED {
                return Err(Error::param(
                    "max_support",
                    format!(
                        "at most {} (an exact support of s units takes 2^s states: 2^{max_support} \
                         = {:.1e} per hidden unit and coupling), got {max_support}",
                        Self::MAX_ENUMERATED,
                        2f64.powi(*max_support as i32)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// True for the exact methods.
    pub fn is_exact(&self) -> bool {
        matches!(
            self,
            SpinMethod::Enumeration | SpinMethod::Convolution { .. }
        )
    }

    fn tol(&self) -> f64 {
        match self {
            SpinMethod::Gaussian { tol } | SpinMethod::Hybrid { tol, .. } => tol.clamp(1e-15, 1e-2),
            _ => 1e-10,
        }
    }
}

impl fmt::Display for SpinMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpinMethod::Enumeration => write!(f, "exact enumeration"),
            SpinMethod::Convolution { max_support } => {
                write!(
                    f,
                    "exact convolution over supports (<= {max_support} units)"
                )
            }
            SpinMethod::Gaussian { tol } => {
                write!(f, "Gaussian (CLT) approximation, quadrature tol {tol:e}")
            }
            SpinMethod::Hybrid { max_support, tol } => write!(
                f,
                "exact convolution for supports <= {max_support} units, Gaussian (CLT, tol \
                 {tol:e}) elsewhere"
            ),
        }
    }
}

/// The field of the other units of one hidden unit, as something to average `D_S` over.
enum Field {
    /// Exact distribution: (value, probability) pairs.
    Discrete(Vec<(f64, f64)>),
    /// Gaussian with mean and standard deviation.
    Gauss(f64, f64),
}

/// `J_S` (sorted units), bias terms included.
pub(super) fn coupling(
    ham: &EffectiveHamiltonian,
    s: &[usize],
    method: &SpinMethod,
) -> Result<f64> {
    method.validate()?;
    let k = s.len();
    let mut sum = 0.0;
    let mut x = vec![0.0; k];
    for j in 0..ham.nh {
        for (xi, &i) in x.iter_mut().zip(s) {
            *xi = ham.w[i * ham.nh + j];
        }
        if k > 0 && x.contains(&0.0) {
            continue;
        }
        sum += term(ham, j, s, &x, method)?;
    }
    // v_i = (1 + s_i)/2: the bias a_i v_i gives a_i/2 to J_{} and to J_i.
    match k {
        0 => sum += 0.5 * ham.a.iter().sum::<f64>(),
        1 => sum += 0.5 * ham.a[s[0]],
        _ => {}
    }
    Ok(sum)
}

/// `2^-|S| E[D_S(b_j + h)]` for hidden unit `j`.
fn term(
    ham: &EffectiveHamiltonian,
    j: usize,
    s: &[usize],
    x: &[f64],
    method: &SpinMethod,
) -> Result<f64> {
    let field = field_of(ham, j, s, method)?;
    if let Field::Gauss(m, sd) = field {
        check_nodes(gauss_nodes(x, ham.b[j] + m, sd, method.tol()), j)?;
    }
    let e = expect(ham.b[j], x, &field, method.tol());
    Ok(e * 0.5f64.powi(s.len() as i32))
}

fn field_of(
    ham: &EffectiveHamiltonian,
    j: usize,
    s: &[usize],
    method: &SpinMethod,
) -> Result<Field> {
    let col = &ham.wt[j * ham.nv..(j + 1) * ham.nv];
    let others = |nonzero: bool| -> Vec<f64> {
        col.iter()
            .enumerate()
            .filter(|(i, w)| !s.contains(i) && (!nonzero || **w != 0.0))
            .map(|(_, &w)| w)
            .collect()
    };
    match method {
        SpinMethod::Enumeration => {
            let w = others(false);
            if w.len() > SpinMethod::MAX_ENUMERATED {
                return Err(Error::Infeasible(format!(
                    "exact enumeration over {} other units (limit {}); use the convolution, \
                     Gaussian or hybrid method",
                    w.len(),
                    SpinMethod::MAX_ENUMERATED
                )));
            }
            Ok(Field::Discrete(enumerate_field(&w)))
        }
        SpinMethod::Convolution { max_support } => {
            let w = others(true);
            if w.len() > *max_support {
                return Err(Error::Infeasible(format!(
                    "hidden unit {j} has {} other units in its support (limit {max_support}); \
                     use the Gaussian or hybrid method",
                    w.len()
                )));
            }
            Ok(Field::Discrete(convolve_field(&w)))
        }
        SpinMethod::Gaussian { .. } => Ok(gauss_field(&others(true))),
        SpinMethod::Hybrid { max_support, .. } => {
            let w = others(true);
            if w.len() <= *max_support {
                Ok(Field::Discrete(convolve_field(&w)))
            } else {
                Ok(gauss_field(&w))
            }
        }
    }
}

fn gauss_field(w: &[f64]) -> Field {
    let mean = 0.5 * w.iter().sum::<f64>();
    let var = 0.25 * w.iter().map(|x| x * x).sum::<f64>();
    Field::Gauss(mean, var.sqrt())
}

/// All `2^m` field values (each with probability `2^-m`), each summed exactly from its
/// configuration (no running-sum drift).
fn enumerate_field(w: &[f64]) -> Vec<(f64, f64)> {
    let m = w.len();
    let p = 0.5f64.powi(m as i32);
    (0u64..(1u64 << m))
        .map(|mask| {
            let h: f64 = w
                .iter()
                .enumerate()
                .filter(|(i, _)| mask >> i & 1 == 1)
                .map(|(_, &x)| x)
                .sum();
            (h, p)
        })
        .collect()
}

/// The distribution of `sum_i w_i v_i` (uniform `v`), merging equal values.
fn convolve_field(w: &[f64]) -> Vec<(f64, f64)> {
    let mut dist = vec![(0.0f64, 1.0f64)];
    for &wi in w {
        let mut next = Vec::with_capacity(dist.len() * 2);
        for &(v, p) in &dist {
            next.push((v, 0.5 * p));
            next.push((v + wi, 0.5 * p));
        }
        next.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f64, f64)> = Vec::with_capacity(next.len());
        for (v, p) in next {
            match merged.last_mut() {
                Some(last) if last.0 == v => last.1 += p,
                _ => merged.push((v, p)),
            }
        }
        dist = merged;
    }
    dist
}

/// `E[D_S(b + h)]` over the field distribution.
fn expect(b: f64, x: &[f64], field: &Field, tol: f64) -> f64 {
    match field {
        Field::Discrete(d) => d.iter().map(|&(h, p)| p * scalar::d_subset(b + h, x)).sum(),
        Field::Gauss(m, sd) => gauss_expect(x, b + m, *sd, tol),
    }
}

/// Quadrature parameters for tolerance `tol`.
struct Quad {
    /// `ln(1/tol)` plus the strip growth of the Gaussian factor.
    lt: f64,
    /// Gaussian truncation, in standard deviations.
    z: f64,
}

impl Quad {
    fn new(tol: f64) -> Self {
        let l = (1.0 / tol).ln();
        Quad {
            lt: l + 3.2,
            z: (2.0 * l).sqrt() + 1.5,
        }
    }
    /// Trapezoid step for a Gaussian of standard deviation `sd`: the integrand is analytic in
    /// the strip `|Im u| < pi` (softplus singularities) and the Gaussian grows by at most
    /// `e^{3.1}` within `|Im u| < 2.5 min(1, sd)`, so the error is `~ e^{-2 pi d / h}`.
    fn step(&self, sd: f64) -> f64 {
        2.0 * std::f64::consts::PI * 2.5 * sd.min(1.0) / self.lt
    }
}

/// The number of nodes [`gauss_expect`] uses.
fn gauss_nodes(x: &[f64], mean: f64, sd: f64, tol: f64) -> f64 {
    if sd <= 0.0 {
        return 1.0;
    }
    let q = Quad::new(tol);
    let (mut lo, mut hi) = (mean - q.z * sd, mean + q.z * sd);
    if x.len() >= 2 {
        let pos: f64 = x.iter().filter(|v| **v > 0.0).sum();
        let neg: f64 = x.iter().filter(|v| **v < 0.0).sum();
        lo = lo.max(-pos - q.lt - 5.0);
        hi = hi.min(-neg + q.lt + 5.0);
    }
    ((hi - lo) / q.step(sd)).max(0.0) + 1.0
}

/// Refuses a Gaussian average that needs more than [`SpinMethod::MAX_QUADRATURE_NODES`].
fn check_nodes(nodes: f64, j: usize) -> Result<()> {
    if nodes.is_nan() || nodes > SpinMethod::MAX_QUADRATURE_NODES {
        return Err(Error::Infeasible(format!(
            "the Gaussian average over hidden unit {j}'s field would need {nodes:.1e} quadrature \
             nodes (at most {:.0e}): its weights are too large for this method",
            SpinMethod::MAX_QUADRATURE_NODES
        )));
    }
    Ok(())
}

/// `E[D_S(u)]` for `u ~ N(mean, sd^2)` by the trapezoidal rule on a grid anchored at the mean,
/// truncated where both the Gaussian and (for `|S| >= 2`) `D_S` itself are negligible.
pub(super) fn gauss_expect(x: &[f64], mean: f64, sd: f64, tol: f64) -> f64 {
    if sd <= 0.0 {
        return scalar::d_subset(mean, x);
    }
    let q = Quad::new(tol);
    let h = q.step(sd);
    let mut lo = mean - q.z * sd;
    let mut hi = mean + q.z * sd;
    if x.len() >= 2 {
        let pos: f64 = x.iter().filter(|v| **v > 0.0).sum();
        let neg: f64 = x.iter().filter(|v| **v < 0.0).sum();
        lo = lo.max(-pos - q.lt - 5.0);
        hi = hi.min(-neg + q.lt + 5.0);
    }
    if lo > hi {
        return 0.0;
    }
    let q0 = ((lo - mean) / h).ceil() as i64;
    let q1 = ((hi - mean) / h).floor() as i64;
    let norm = h / ((2.0 * std::f64::consts::PI).sqrt() * sd);
    let mut sum = 0.0;
    for qq in q0..=q1 {
        let z = qq as f64 * h / sd;
        let wq = norm * (-0.5 * z * z).exp();
        sum += wq * scalar::d_subset(mean + qq as f64 * h, x);
    }
    sum
}

/// The spin-basis pair matrix: per hidden unit, a Gaussian block average or the exact
/// per-pair terms (as the method says), summed over the hidden units.
pub(super) fn pair_matrix(ham: &EffectiveHamiltonian, method: &SpinMethod) -> Result<Mat<f64>> {
    method.validate()?;
    let (gauss_units, exact_units) = split_units(ham, method);
    // rows[i][off]: the pair (i, i + 1 + off).
    let mut rows: Vec<Vec<f64>> = (0..ham.nv).map(|i| vec![0.0; ham.nv - i - 1]).collect();
    add_exact_pairs(ham, method, &exact_units, &mut rows)?;
    let quad = Quad::new(method.tol());
    for &j in &gauss_units {
        if let Some(grid) = GaussGrid::new(ham, j, &quad)? {
            rows.par_iter_mut()
                .enumerate()
                .with_min_len(1)
                .for_each(|(i, row)| grid.add_row(i, row, method.tol()));
        }
    }
    let mut m = Mat::zeros(ham.nv, ham.nv);
    for (i, row) in rows.iter().enumerate() {
        for (off, &v) in row.iter().enumerate() {
            let k = i + 1 + off;
            m[(i, k)] = v;
            m[(k, i)] = v;
        }
    }
    Ok(m)
}

/// The hidden units whose pair terms are Gaussian block averages, and those computed exactly.
fn split_units(ham: &EffectiveHamiltonian, method: &SpinMethod) -> (Vec<usize>, Vec<usize>) {
    let nv = ham.nv;
    (0..ham.nh).partition(|&j| {
        let col = &ham.wt[j * nv..(j + 1) * nv];
        let support = col.iter().filter(|w| **w != 0.0).count();
        match method {
            SpinMethod::Gaussian { .. } => true,
            SpinMethod::Hybrid { max_support, .. } => support > max_support + 2,
            _ => false,
        }
    })
}

/// Adds the exact parts (enumeration, convolution, or hybrid with small supports): only pairs
/// inside a unit's support contribute. Rows in parallel.
fn add_exact_pairs(
    ham: &EffectiveHamiltonian,
    method: &SpinMethod,
    units: &[usize],
    rows: &mut [Vec<f64>],
) -> Result<()> {
    let nh = ham.nh;
    let errors: Vec<Error> = rows
        .par_iter_mut()
        .enumerate()
        .with_min_len(1)
        .filter_map(|(i, row)| {
            for &j in units {
                let wi = ham.w[i * nh + j];
                if wi == 0.0 {
                    continue;
                }
                for (off, r) in row.iter_mut().enumerate() {
                    let k = i + 1 + off;
                    let wk = ham.w[k * nh + j];
                    if wk == 0.0 {
                        continue;
                    }
                    match term(ham, j, &[i, k], &[wi, wk], method) {
                        Ok(v) => *r += v,
                        Err(e) => return Some(e),
                    }
                }
            }
            None
        })
        .collect();
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The quadrature of one hidden unit's Gaussian block average: its field `u ~ N(mean, var)`
/// on a grid of nodes `u_q = mean + d_q`, and the factors `R_k(u_q)` of every visible unit.
struct GaussGrid<'a> {
    col: &'a [f64],
    mean: f64,
    var: f64,
    /// Node spacing.
    h: f64,
    /// `u_q - mean`.
    nodes: Vec<f64>,
    /// `rtab[q * nv + k] = R_k(u_q)`.
    rtab: Vec<f64>,
    /// `w_k / 2`.
    half_w: Vec<f64>,
}

impl<'a> GaussGrid<'a> {
    /// The grid of hidden unit `j`, or `None` when its field is constant or the truncated
    /// range is empty; an error when it would need too many nodes.
    fn new(ham: &'a EffectiveHamiltonian, j: usize, quad: &Quad) -> Result<Option<Self>> {
        let nv = ham.nv;
        let col = &ham.wt[j * nv..(j + 1) * nv];
        let mean = ham.b[j] + 0.5 * col.iter().sum::<f64>();
        let var = 0.25 * col.iter().map(|w| w * w).sum::<f64>();
        let sd = var.sqrt();
        if sd == 0.0 {
            return Ok(None);
        }
        let wabs = col.iter().fold(0.0f64, |m, w| m.max(w.abs()));
        let h = quad.step(0.5 * sd);
        let lo = (mean - wabs - quad.z * sd).max(-2.0 * wabs - quad.lt - 5.0);
        let hi = (mean + wabs + quad.z * sd).min(2.0 * wabs + quad.lt + 5.0);
        if lo > hi {
            return Ok(None);
        }
        check_nodes((hi - lo) / h + 1.0, j)?;
        let q0 = ((lo - mean) / h).ceil() as i64;
        let q1 = ((hi - mean) / h).floor() as i64;
        let nodes: Vec<f64> = (q0..=q1).map(|q| q as f64 * h).collect();
        let mut rtab = vec![0.0; nodes.len() * nv];
        rtab.par_chunks_mut(nv).zip(&nodes).for_each(|(row, &d)| {
            for (k, r) in row.iter_mut().enumerate() {
                *r = scalar::r_factor(mean + d, col[k]);
            }
        });
        let half_w = col.iter().map(|w| 0.5 * w).collect();
        Ok(Some(GaussGrid {
            col,
            mean,
            var,
            h,
            nodes,
            rtab,
            half_w,
        }))
    }

    /// Adds this unit's terms of the pairs `(i, k > i)` to `row` (`row[k - i - 1]`): the
    /// vectorised node sums where every argument is regular, [`gauss_expect`] otherwise.
    fn add_row(&self, i: usize, row: &mut [f64], tol: f64) {
        let (col, var, nv) = (self.col, self.var, self.col.len());
        let wi = col[i];
        let m = row.len();
        if wi == 0.0 || m == 0 {
            return;
        }
        let ks = i + 1;
        let inv_sqrt_2pi = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        let mut inv2s2 = vec![0.0; m];
        let mut norm = vec![0.0; m];
        let mut special = vec![false; m];
        for off in 0..m {
            let wk = col[ks + off];
            let v = var - 0.25 * (wi * wi + wk * wk);
            if wk == 0.0 || v < 0.25 * var || !v.is_finite() {
                special[off] = true;
            } else {
                inv2s2[off] = 0.5 / v;
                norm[off] = self.h * inv_sqrt_2pi / v.sqrt();
            }
        }
        let mut acc = vec![0.0; m];
        let mut low = vec![0.0; m];
        for (qi, &d) in self.nodes.iter().enumerate() {
            let rq = &self.rtab[qi * nv..(qi + 1) * nv];
            if !rq[i].is_finite() {
                special.iter_mut().for_each(|s| *s = true);
                break;
            }
            kernel::gauss_pair_node(
                rq[i],
                &rq[ks..],
                d + self.half_w[i],
                &self.half_w[ks..],
                &inv2s2,
                &norm,
                &mut acc,
                &mut low,
            );
        }
        for off in 0..m {
            let wk = col[ks + off];
            if wk == 0.0 {
                continue;
            }
            let regular = !special[off] && low[off] >= -0.5 && acc[off].is_finite();
            let v = if regular {
                acc[off]
            } else {
                let rest_var = (var - 0.25 * (wi * wi + wk * wk)).max(0.0);
                gauss_expect(&[wi, wk], self.mean - 0.5 * (wi + wk), rest_var.sqrt(), tol)
            };
            row[off] += 0.25 * v;
        }
    }
}
