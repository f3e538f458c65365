//! The renormalized visible Hamiltonian of an RBM and its many-body couplings.
//!
//! Integrating out the hidden units leaves `H_eff(v) = -a.v - sum_j sp(b_j + (W^T v)_j)`, the
//! visible free energy. It has an exact, finite expansion in couplings of every order
//! (docs/MATH.md section 5):
//!
//! * lattice-gas (`{0,1}`) basis: `-H_eff(v) = sum_S K_S prod_{i in S} v_i`. `K_S` is LOCAL: it
//!   depends only on the weights of the units in `S`. Per hidden unit `K_S` gets the term
//!   `D_S^j`, the `|S|`-th finite difference of the softplus, evaluated here by stable closed
//!   forms (see [`scalar`]), never by the cancelling alternating sum.
//! * spin (`+-1`) basis, `s = 2v - 1`: `-H_eff = sum_S J_S prod_{i in S} s_i`, with
//!   `J_S = sum_{T superset S} 2^-|T| K_T`. `J_S` is NON-LOCAL: per hidden unit it is
//!   `2^-|S| E[D_S^j(b_j + h)]`, `h` the field of the other units at uniform `v`. The average is
//!   evaluated by a [`SpinMethod`] the caller chooses (exact enumeration, exact convolution over
//!   a hidden unit's support, or a Gaussian approximation of `h` with 1-D quadrature).
//!
//! ```
//! use emf_rbm::{Rbm, hamiltonian::{EffectiveHamiltonian, SpinMethod}};
//! let mut rbm = Rbm::<f64>::zeros(3, 2).unwrap();
//! rbm.w[(0, 0)] = 0.5;
//! rbm.w[(1, 0)] = -0.3;
//! let ham = EffectiveHamiltonian::new(&rbm);
//! // The pair coupling of units 0 and 1 through hidden unit 0 (b = 0):
//! let k01 = ham.coupling(&[0, 1]).unwrap();
//! let sp = |x: f64| (1.0 + x.exp()).ln();
//! assert!((k01 - (sp(0.2) + sp(0.0) - sp(0.5) - sp(-0.3))).abs() < 1e-15);
//! // Unit 2 has no weights: every coupling that involves it vanishes.
//! assert_eq!(ham.coupling(&[0, 2]).unwrap(), 0.0);
//! let j01 = ham.coupling_spin(&[0, 1], &SpinMethod::Enumeration).unwrap();
//! assert!((j01 - k01 / 4.0).abs() < 1e-15); // only order 2 here: J = 2^-2 K
//! ```

pub mod kernel;
mod lattice;
mod report;
pub mod scalar;
mod search;
mod spin;
mod statistics;
mod table;
mod truncation;

use std::fmt;
use std::str::FromStr;

use faer::{Mat, MatRef};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::linalg::softplus;
use crate::rbm::Rbm;

pub use lattice::{lattice_distance, lattice_neighbourhoods, DistanceShell, LatticeShape};
pub use report::{CouplingReport, Listing};
use search::triples_within;
pub use search::{binomial, sort_by_magnitude, Subsets};
pub use spin::SpinMethod;
pub use statistics::{
    activation_weighted, approximation_error, magnitude_curve, random_subsets, ActivatedCoupling,
    ApproximationError, OrderCouplings, OrderSummary, SummaryTable,
};
pub use table::{mask_of, CouplingTable};
pub use truncation::{energy_fit, truncation_scores, EnergyFit, PairExpansion, TruncationScore};

/// The basis couplings are expressed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// Lattice-gas basis, units `v_i` in `{0, 1}`: couplings `K_S` (exact, local).
    LatticeGas,
    /// Spin basis, `s_i = 2 v_i - 1` in `{-1, +1}`: couplings `J_S` (exact, non-local).
    Spin,
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Basis::LatticeGas => "lattice-gas",
            Basis::Spin => "spin",
        })
    }
}

impl FromStr for Basis {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "lattice-gas" | "lattice_gas" | "01" | "0/1" => Ok(Basis::LatticeGas),
            "spin" | "ising" | "pm1" => Ok(Basis::Spin),
            other => Err(Error::param(
                "basis",
                format!("expected `lattice-gas` or `spin`, got `{other}`"),
            )),
        }
    }
}

/// One coupling: the (sorted, 0-based) units of the subset `S` and its value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coupling {
    /// Units of `S`, ascending, 0-based.
    pub units: Vec<usize>,
    /// `K_S` or `J_S`, depending on the basis it was computed in.
    pub value: f64,
}

/// The effective (renormalized) Hamiltonian of the visible layer of an RBM.
///
/// Built from an [`Rbm`] of any float type; all work is in `f64`. For the hidden side (the
/// Hamiltonian of `h` after integrating out `v`) use [`EffectiveHamiltonian::hidden`].
#[derive(Clone, Debug)]
pub struct EffectiveHamiltonian {
    nv: usize,
    nh: usize,
    /// `W` row-major: `w[i * nh + j]`.
    w: Vec<f64>,
    /// `W^T` row-major: `wt[j * nv + i]`.
    wt: Vec<f64>,
    a: Vec<f64>,
    b: Vec<f64>,
}

/// Hard limit on the number of subsets a bulk "all subsets" query may list.
pub const MAX_LISTED_SUBSETS: usize = 2_000_000;

impl EffectiveHamiltonian {
    /// The Hamiltonian of the visible units of `rbm`.
    pub fn new<T: Float>(rbm: &Rbm<T>) -> Self {
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        let mut w = vec![0.0; nv * nh];
        let mut wt = vec![0.0; nv * nh];
        for i in 0..nv {
            for j in 0..nh {
                let x = rbm.w[(i, j)].as_f64();
                w[i * nh + j] = x;
                wt[j * nv + i] = x;
            }
        }
        EffectiveHamiltonian {
            nv,
            nh,
            w,
            wt,
            a: rbm.a.iter().map(|x| x.as_f64()).collect(),
            b: rbm.b.iter().map(|x| x.as_f64()).collect(),
        }
    }

    /// The Hamiltonian of the hidden units (visible ones integrated out): the same
    /// construction on `rbm.transpose()`.
    pub fn hidden<T: Float>(rbm: &Rbm<T>) -> Self {
        Self::new(&rbm.transpose())
    }

    /// Number of units the Hamiltonian acts on (the visible units of the RBM it came from).
    pub fn n_units(&self) -> usize {
        self.nv
    }

    /// Number of units integrated out.
    pub fn n_integrated(&self) -> usize {
        self.nh
    }

    /// The weight between unit `i` and integrated-out unit `j`.
    pub fn weight(&self, i: usize, j: usize) -> f64 {
        self.w[i * self.nh + j]
    }

    /// `H_eff(v)` of one configuration (any real `v`; `{0,1}` for the physical states).
    pub fn energy(&self, v: &[f64]) -> f64 {
        assert_eq!(v.len(), self.nv, "configuration length must equal n_units");
        let mut e = 0.0;
        for (ai, vi) in self.a.iter().zip(v) {
            e -= ai * vi;
        }
        for j in 0..self.nh {
            let col = &self.wt[j * self.nv..(j + 1) * self.nv];
            let field: f64 = col.iter().zip(v).map(|(w, x)| w * x).sum();
            e -= softplus(self.b[j] + field);
        }
        e
    }

    /// `H_eff` at the spin configuration `s` (`v = (s + 1)/2`).
    pub fn energy_spin(&self, s: &[f64]) -> f64 {
        let v: Vec<f64> = s.iter().map(|x| 0.5 * (x + 1.0)).collect();
        self.energy(&v)
    }

    /// `H_eff(v)` of every row of a batch (rows are configurations), in parallel.
    pub fn energies(&self, v: MatRef<'_, f64>) -> Vec<f64> {
        assert_eq!(v.ncols(), self.nv, "batch width must equal n_units");
        (0..v.nrows())
            .into_par_iter()
            .map(|r| {
                let row: Vec<f64> = (0..self.nv).map(|i| v[(r, i)]).collect();
                self.energy(&row)
            })
            .collect()
    }

    fn check_units(&self, units: &[usize]) -> Result<Vec<usize>> {
        let mut s = units.to_vec();
        s.sort_unstable();
        for w in s.windows(2) {
            if w[0] == w[1] {
                return Err(Error::param(
                    "units",
                    format!("unit {} appears twice", w[0]),
                ));
            }
        }
        if let Some(&last) = s.last() {
            if last >= self.nv {
                return Err(Error::param(
                    "units",
                    format!("unit {last} out of range (n_units = {})", self.nv),
                ));
            }
        }
        Ok(s)
    }

    /// The per-hidden-unit term `D_S^j` (lattice-gas basis, without the visible bias).
    pub fn coupling_term(&self, units: &[usize], j: usize) -> f64 {
        let x: Vec<f64> = units.iter().map(|&i| self.weight(i, j)).collect();
        scalar::d_subset(self.b[j], &x)
    }

    fn coupling_sorted(&self, s: &[usize]) -> f64 {
        let mut x = vec![0.0; s.len()];
        let mut sum = 0.0;
        for j in 0..self.nh {
            for (xi, &i) in x.iter_mut().zip(s) {
                *xi = self.w[i * self.nh + j];
            }
            sum += scalar::d_subset(self.b[j], &x);
        }
        if s.len() == 1 {
            sum += self.a[s[0]];
        }
        sum
    }

    /// `K_S` in the lattice-gas basis: exact, by the stable closed forms. `units` may be in any
    /// order (empty: the constant `K_{} = sum_j sp(b_j)`).
    pub fn coupling(&self, units: &[usize]) -> Result<f64> {
        let s = self.check_units(units)?;
        Ok(self.coupling_sorted(&s))
    }

    /// `J_S` in the spin basis, evaluated by `method`.
    pub fn coupling_spin(&self, units: &[usize], method: &SpinMethod) -> Result<f64> {
        let s = self.check_units(units)?;
        spin::coupling(self, &s, method)
    }

    /// The coupling of `units` in `basis` (`method` is used for the spin basis only).
    pub fn coupling_in(&self, basis: Basis, units: &[usize], method: &SpinMethod) -> Result<f64> {
        match basis {
            Basis::LatticeGas => self.coupling(units),
            Basis::Spin => self.coupling_spin(units, method),
        }
    }

    /// The rigorous bound on `|K_S|` (`|S| >= 2`): `c_k sum_j prod_{i in S} |W_ij|`; in the
    /// spin basis `|J_S|` obeys the same bound times `2^-|S|`.
    pub fn bound(&self, units: &[usize]) -> f64 {
        let c = scalar::bound_constant(units.len());
        let mut sum = 0.0;
        for j in 0..self.nh {
            let mut p = 1.0;
            for &i in units {
                p *= self.weight(i, j).abs();
            }
            sum += p;
        }
        c * sum
    }

    /// The constant `K_{} = sum_j sp(b_j)` (lattice-gas basis).
    pub fn constant(&self) -> f64 {
        self.b.iter().map(|&b| softplus(b)).sum()
    }

    /// The fields `K_i = a_i + sum_j [sp(b_j + W_ij) - sp(b_j)]` (lattice-gas basis).
    pub fn fields(&self) -> Vec<f64> {
        (0..self.nv)
            .into_par_iter()
            .map(|i| self.coupling_sorted(&[i]))
            .collect()
    }

    /// The fields `J_i` in the spin basis, evaluated by `method`.
    pub fn fields_spin(&self, method: &SpinMethod) -> Result<Vec<f64>> {
        (0..self.nv)
            .into_par_iter()
            .map(|i| spin::coupling(self, &[i], method))
            .collect()
    }

    /// The constant `J_{}` of the spin basis (`E[-H_eff]` over uniform spins).
    pub fn constant_spin(&self, method: &SpinMethod) -> Result<f64> {
        spin::coupling(self, &[], method)
    }

    /// The fields in `basis`.
    pub fn fields_in(&self, basis: Basis, method: &SpinMethod) -> Result<Vec<f64>> {
        match basis {
            Basis::LatticeGas => Ok(self.fields()),
            Basis::Spin => self.fields_spin(method),
        }
    }

    /// `R_ij = sinh(W_ij/2) / cosh((b_j + W_ij)/2)` for every unit (row-major), and whether
    /// each row is finite (rows with overflow go through the scalar path).
    fn r_table(&self) -> (Vec<f64>, Vec<bool>) {
        let nh = self.nh;
        let mut r = vec![0.0; self.nv * nh];
        let ok: Vec<bool> = r
            .par_chunks_mut(nh.max(1))
            .enumerate()
            .map(|(i, row)| {
                let mut fine = true;
                for (j, x) in row.iter_mut().enumerate() {
                    *x = scalar::r_factor(self.b[j], self.w[i * nh + j]);
                    fine &= x.is_finite();
                }
                fine
            })
            .collect();
        (r, ok)
    }

    /// The full pair matrix `K_ik` (lattice-gas basis), `n_units x n_units`, symmetric, zero
    /// diagonal. Exact: `sum_j ln(1 + R_ij R_kj)` with the vectorised kernel, and the scalar
    /// closed form wherever the fast range is left. Deterministic and parallel over rows.
    pub fn pair_matrix(&self) -> Mat<f64> {
        let (nv, nh) = (self.nv, self.nh);
        let (r, ok) = self.r_table();
        let rows: Vec<Vec<f64>> = (0..nv)
            .into_par_iter()
            .with_min_len(1)
            .map(|i| {
                let ri = &r[i * nh..(i + 1) * nh];
                ((i + 1)..nv)
                    .map(|k| {
                        let rk = &r[k * nh..(k + 1) * nh];
                        let s = if ok[i] && ok[k] {
                            kernel::pair_sum(ri, rk)
                        } else {
                            kernel::KernelSum {
                                value: 0.0,
                                regular: false,
                            }
                        };
                        if s.regular {
                            s.value
                        } else {
                            (0..nh)
                                .map(|j| {
                                    scalar::d2(self.b[j], self.w[i * nh + j], self.w[k * nh + j])
                                })
                                .sum()
                        }
                    })
                    .collect()
            })
            .collect();
        let mut m = Mat::zeros(nv, nv);
        for (i, row) in rows.iter().enumerate() {
            for (off, &v) in row.iter().enumerate() {
                let k = i + 1 + off;
                m[(i, k)] = v;
                m[(k, i)] = v;
            }
        }
        m
    }

    /// The full pair matrix `J_ik` of the spin basis, evaluated by `method` (see
    /// [`SpinMethod`]); symmetric, zero diagonal.
    pub fn pair_matrix_spin(&self, method: &SpinMethod) -> Result<Mat<f64>> {
        spin::pair_matrix(self, method)
    }

    /// The pair matrix in `basis`.
    pub fn pair_matrix_in(&self, basis: Basis, method: &SpinMethod) -> Result<Mat<f64>> {
        match basis {
            Basis::LatticeGas => Ok(self.pair_matrix()),
            Basis::Spin => self.pair_matrix_spin(method),
        }
    }

    /// The couplings of the given subsets (each sorted on output), in parallel, in input order.
    pub fn couplings_of(
        &self,
        subsets: &[Vec<usize>],
        basis: Basis,
        method: &SpinMethod,
    ) -> Result<Vec<Coupling>> {
        subsets
            .par_iter()
            .map(|s| {
                let units = self.check_units(s)?;
                let value = match basis {
                    Basis::LatticeGas => self.coupling_sorted(&units),
                    Basis::Spin => spin::coupling(self, &units, method)?,
                };
                Ok(Coupling { units, value })
            })
            .collect()
    }

    /// Every triple contained in at least one of `neighbourhoods` (sets of units, e.g. from
    /// [`lattice_neighbourhoods`]), with its coupling; sorted by units. Sparse output.
    pub fn triples_in_neighbourhoods(
        &self,
        neighbourhoods: &[Vec<usize>],
        basis: Basis,
        method: &SpinMethod,
    ) -> Result<Vec<Coupling>> {
        let sets: Vec<Vec<usize>> = neighbourhoods.to_vec();
        let triples = triples_within(&sets, self.nv)?;
        self.couplings_of(&triples, basis, method)
    }

    /// Every triple contained in the support `{i : |W_ij| > threshold}` of at least one
    /// integrated-out unit `j`, with its (exact, all-`j`) coupling; sorted by units.
    pub fn triples_in_supports(
        &self,
        threshold: f64,
        basis: Basis,
        method: &SpinMethod,
    ) -> Result<Vec<Coupling>> {
        let sets = self.supports(threshold);
        let triples = triples_within(&sets, self.nv)?;
        self.couplings_of(&triples, basis, method)
    }

    /// The supports `{i : |W_ij| > threshold}` of every integrated-out unit `j`.
    pub fn supports(&self, threshold: f64) -> Vec<Vec<usize>> {
        (0..self.nh)
            .map(|j| {
                (0..self.nv)
                    .filter(|&i| self.wt[j * self.nv + i].abs() > threshold)
                    .collect()
            })
            .collect()
    }
}
