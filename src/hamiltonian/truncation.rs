//! How well the coupling expansion truncated at order `k` describes a model: partial sums by
//! order, the energy error on data (RMS, R^2), and, on systems small enough for a complete
//! table, the exact KL divergence and log-likelihood of the truncated Hamiltonian's own
//! Boltzmann distribution.

use faer::{Mat, MatRef};
use rayon::prelude::*;
use serde::Serialize;

use super::{Basis, CouplingTable, EffectiveHamiltonian, SpinMethod, Subsets};
use crate::error::{Error, Result};
use crate::linalg::log_sum_exp;

impl CouplingTable {
    /// The same table with every coupling of order above `k` set to zero.
    pub fn truncated(&self, k: usize) -> CouplingTable {
        let values = self
            .values()
            .iter()
            .enumerate()
            .map(|(m, &c)| if m.count_ones() as usize <= k { c } else { 0.0 })
            .collect();
        CouplingTable::new(self.basis(), self.n_units(), values).expect("same size")
    }

    /// The partial sums by order at a configuration `x` in this table's basis (`{0,1}` or
    /// `+-1` values): `out[k] = sum over |S| <= k of c_S prod_{i in S} x_i`, for `k = 0..=n`
    /// (`out[n]` is `-H(x)`).
    ///
    /// ```
    /// use emf_rbm::hamiltonian::{Basis, CouplingTable};
    /// let k = CouplingTable::new(Basis::LatticeGas, 2, vec![1.0, 0.0, 0.5, 2.0]).unwrap();
    /// assert_eq!(k.partial_sums(&[1.0, 1.0]), vec![1.0, 1.5, 3.5]);
    /// ```
    pub fn partial_sums(&self, x: &[f64]) -> Vec<f64> {
        assert_eq!(
            x.len(),
            self.n_units(),
            "configuration length must equal n_units"
        );
        let mut by_order = vec![0.0; self.n_units() + 1];
        for (mask, &c) in self.values().iter().enumerate() {
            let p = x
                .iter()
                .enumerate()
                .filter(|(i, _)| mask >> i & 1 == 1)
                .fold(c, |p, (_, &xi)| p * xi);
            by_order[mask.count_ones() as usize] += p;
        }
        let mut acc = 0.0;
        by_order
            .into_iter()
            .map(|b| {
                acc += b;
                acc
            })
            .collect()
    }
}

/// How well an approximate `-H` matches the exact one on a set of configurations.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EnergyFit {
    /// Root mean square of `approx - exact` (nats).
    pub rms: f64,
    /// `1 - var(approx - exact) / var(exact)`: the share of the spread of the exact energy
    /// over the configurations that the approximation explains (a constant offset is free,
    /// since only energy differences matter for probabilities; very negative when the
    /// approximation is worse than a constant).
    pub r_squared: f64,
}

/// The [`EnergyFit`] of `approx` to `exact` (equal lengths, at least one).
///
/// ```
/// let fit = emf_rbm::hamiltonian::energy_fit(&[1.0, 2.0, 3.0], &[2.0, 3.0, 4.0]).unwrap();
/// assert_eq!((fit.rms, fit.r_squared), (1.0, 1.0)); // a constant offset explains everything
/// ```
pub fn energy_fit(exact: &[f64], approx: &[f64]) -> Result<EnergyFit> {
    if exact.is_empty() || exact.len() != approx.len() {
        return Err(Error::Shape(format!(
            "energy_fit needs two equal, non-empty lists, got {} and {}",
            exact.len(),
            approx.len()
        )));
    }
    let n = exact.len() as f64;
    let err: Vec<f64> = approx.iter().zip(exact).map(|(a, e)| a - e).collect();
    let var = |x: &[f64]| {
        let m = x.iter().sum::<f64>() / n;
        x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n
    };
    Ok(EnergyFit {
        rms: (err.iter().map(|x| x * x).sum::<f64>() / n).sqrt(),
        r_squared: 1.0 - var(&err) / var(exact),
    })
}

/// The expansion truncated at one order, scored against the complete table.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TruncationScore {
    /// The truncation order `k` (couplings with `|S| <= k` kept).
    pub order: usize,
    /// The energy fit of the truncated `-H` on the data rows.
    pub fit: EnergyFit,
    /// `KL(P || P_k)` in nats, exact over all `2^n` states: `P` the complete Hamiltonian's
    /// Boltzmann distribution, `P_k` the truncated one's (0 at `k = n`).
    pub kl: f64,
    /// Mean `ln P_k(v)` over the data rows (nats): the truncated Hamiltonian used as a model.
    pub log_likelihood: f64,
}

/// The expansion of `table` truncated at every order `k = 0..=n`, scored on the rows of
/// `data` (values in {0,1}, one column per unit; spin tables read them as `s = 2v - 1`): the
/// energy fit, the exact KL divergence from the complete model and the log-likelihood of the
/// data under the truncated model. Errors on a shape mismatch or non-binary data.
///
/// ```
/// use emf_rbm::hamiltonian::{truncation_scores, Basis, CouplingTable};
/// // -H = 2 v0 v1: truncated at order 1 the model is uniform, KL = ln 4 - H(P) > 0.
/// let k = CouplingTable::new(Basis::LatticeGas, 2, vec![0.0, 0.0, 0.0, 2.0]).unwrap();
/// let data = emf_rbm::faer::mat![[1.0, 1.0], [0.0, 1.0]];
/// let s = truncation_scores(&k, data.as_ref()).unwrap();
/// assert!(s[1].kl > 0.1 && s[2].kl.abs() < 1e-15);
/// assert!((s[1].log_likelihood - (0.25f64).ln()).abs() < 1e-15);
/// ```
pub fn truncation_scores(
    table: &CouplingTable,
    data: MatRef<'_, f64>,
) -> Result<Vec<TruncationScore>> {
    let n = table.n_units();
    if data.ncols() != n || data.nrows() == 0 {
        return Err(Error::Shape(format!(
            "truncation_scores needs data rows of {n} values, got {} x {}",
            data.nrows(),
            data.ncols()
        )));
    }
    let states = data_states(data)?;
    let full = table.log_weights();
    let ln_z = log_sum_exp(&full);
    let exact_data: Vec<f64> = states.iter().map(|&m| full[m]).collect();
    (0..=n)
        .into_par_iter()
        .map(|k| {
            let truncated = table.truncated(k).log_weights();
            let ln_zk = log_sum_exp(&truncated);
            let kl: f64 = full
                .iter()
                .zip(&truncated)
                .map(|(&f, &t)| (f - ln_z).exp() * ((f - ln_z) - (t - ln_zk)))
                .sum();
            let approx: Vec<f64> = states.iter().map(|&m| truncated[m]).collect();
            let log_likelihood =
                approx.iter().map(|a| a - ln_zk).sum::<f64>() / states.len() as f64;
            Ok(TruncationScore {
                order: k,
                fit: energy_fit(&exact_data, &approx)?,
                kl: kl.max(0.0),
                log_likelihood,
            })
        })
        .collect()
}

/// The bit mask of each data row (an error naming the first non-binary value).
fn data_states(data: MatRef<'_, f64>) -> Result<Vec<usize>> {
    (0..data.nrows())
        .map(|r| {
            (0..data.ncols()).try_fold(0usize, |m, i| match data[(r, i)] {
                0.0 => Ok(m),
                1.0 => Ok(m | 1 << i),
                x => Err(Error::param(
                    "data",
                    format!("row {r}, column {i}: expected 0 or 1, got {x}"),
                )),
            })
        })
        .collect()
}

/// The constant, fields and pair couplings of an effective Hamiltonian in one basis: the
/// expansion to second order, for models too large for a complete table.
#[derive(Clone, Debug)]
pub struct PairExpansion {
    /// The basis of the values.
    pub basis: Basis,
    /// The constant term.
    pub constant: f64,
    /// The fields.
    pub fields: Vec<f64>,
    /// The symmetric pair matrix (zero diagonal).
    pub pairs: Mat<f64>,
}

impl PairExpansion {
    /// `[order 0, up to order 1, up to order 2]` partial sums of `-H` at a configuration in
    /// this expansion's basis.
    pub fn partial_sums(&self, x: &[f64]) -> [f64; 3] {
        assert_eq!(
            x.len(),
            self.fields.len(),
            "configuration length must equal n_units"
        );
        let first: f64 = self.fields.iter().zip(x).map(|(f, xi)| f * xi).sum();
        let mut second = 0.0;
        for i in 0..x.len() {
            for k in i + 1..x.len() {
                second += self.pairs[(i, k)] * x[i] * x[k];
            }
        }
        let c = self.constant;
        [c, c + first, c + first + second]
    }
}

impl EffectiveHamiltonian {
    /// The expansion to pairs in `basis` (`method` evaluates the spin-basis values).
    ///
    /// ```
    /// use emf_rbm::{Rbm, hamiltonian::{Basis, EffectiveHamiltonian, SpinMethod}};
    /// let mut rbm = Rbm::<f64>::zeros(2, 1).unwrap();
    /// rbm.w[(0, 0)] = 1.0;
    /// rbm.w[(1, 0)] = 1.0;
    /// let ham = EffectiveHamiltonian::new(&rbm);
    /// let e = ham.pair_expansion(Basis::LatticeGas, &SpinMethod::Enumeration).unwrap();
    /// // Two units: the pair expansion is exact.
    /// assert!((e.partial_sums(&[1.0, 1.0])[2] + ham.energy(&[1.0, 1.0])).abs() < 1e-12);
    /// ```
    pub fn pair_expansion(&self, basis: Basis, method: &SpinMethod) -> Result<PairExpansion> {
        Ok(PairExpansion {
            basis,
            constant: match basis {
                Basis::LatticeGas => self.constant(),
                Basis::Spin => self.constant_spin(method)?,
            },
            fields: self.fields_in(basis, method)?,
            pairs: self.pair_matrix_in(basis, method)?,
        })
    }

    /// The lattice-gas partial sums of `-H_eff(v)` up to `max_order`: `out[k] = sum over the
    /// subsets S of the on-units of v with |S| <= k of K_S` (exact closed forms; cost
    /// `C(on, k)` couplings per order). Errors when `v` is not binary or has the wrong length.
    ///
    /// ```
    /// use emf_rbm::{Rbm, hamiltonian::EffectiveHamiltonian};
    /// let mut rbm = Rbm::<f64>::zeros(3, 1).unwrap();
    /// rbm.w[(0, 0)] = 1.0;
    /// rbm.w[(2, 0)] = -0.5;
    /// let ham = EffectiveHamiltonian::new(&rbm);
    /// let v = [1.0, 0.0, 1.0];
    /// let sums = ham.lattice_gas_partial_sums(&v, 2).unwrap();
    /// assert!((sums[2] + ham.energy(&v)).abs() < 1e-12); // two on-units: order 2 is exact
    /// ```
    pub fn lattice_gas_partial_sums(&self, v: &[f64], max_order: usize) -> Result<Vec<f64>> {
        if v.len() != self.n_units() {
            return Err(Error::Shape(format!(
                "a configuration of {} units, got {} values",
                self.n_units(),
                v.len()
            )));
        }
        let mut on = Vec::new();
        for (i, &x) in v.iter().enumerate() {
            match x {
                1.0 => on.push(i),
                0.0 => {}
                x => {
                    return Err(Error::param(
                        "v",
                        format!("unit {i}: expected 0 or 1, got {x}"),
                    ))
                }
            }
        }
        let by_order: Vec<f64> = (0..=max_order)
            .into_par_iter()
            .map(|k| {
                Subsets::new(on.len(), k)
                    .map(|s| {
                        let units: Vec<usize> = s.iter().map(|&t| on[t]).collect();
                        self.coupling_sorted(&units)
                    })
                    .sum()
            })
            .collect();
        let mut acc = 0.0;
        Ok(by_order
            .into_iter()
            .map(|b| {
                acc += b;
                acc
            })
            .collect())
    }
}
