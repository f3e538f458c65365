//! Complete coupling tables (all `2^n` subsets) for small systems, and the exact triangular
//! transforms between the two bases.

use serde::{Deserialize, Serialize};

use rayon::prelude::*;

use super::{Basis, EffectiveHamiltonian, SpinMethod};
use crate::error::{Error, Result};
use crate::linalg::softplus;

/// Every coupling of a Hamiltonian on `n` units in one basis, indexed by the bit mask of the
/// subset (bit `i` set = unit `i` in `S`).
///
/// ```
/// use emf_rbm::hamiltonian::{Basis, CouplingTable};
/// // -H = 0.5 + 2 v0 v1 (lattice gas) is 0.5 + 0.5 + 0.5 s0 + 0.5 s1 + 0.5 s0 s1 in spins.
/// let k = CouplingTable::new(Basis::LatticeGas, 2, vec![0.5, 0.0, 0.0, 2.0]).unwrap();
/// let j = k.to_spin();
/// assert_eq!(j.values(), &[1.0, 0.5, 0.5, 0.5]);
/// assert_eq!(j.to_lattice_gas().values(), k.values());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CouplingTable {
    basis: Basis,
    n: usize,
    values: Vec<f64>,
}

/// Largest `n` a complete table may have.
pub const MAX_TABLE_UNITS: usize = 24;

impl CouplingTable {
    /// A table from its `2^n` values.
    pub fn new(basis: Basis, n: usize, values: Vec<f64>) -> Result<Self> {
        if n > MAX_TABLE_UNITS || values.len() != 1usize << n {
            return Err(Error::Shape(format!(
                "a coupling table on {n} units needs 2^{n} values (n <= {MAX_TABLE_UNITS}), got {}",
                values.len()
            )));
        }
        Ok(CouplingTable { basis, n, values })
    }

    /// The basis of the values.
    pub fn basis(&self) -> Basis {
        self.basis
    }

    /// Number of units.
    pub fn n_units(&self) -> usize {
        self.n
    }

    /// All values, indexed by subset bit mask.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The coupling of the subset `units`.
    pub fn get(&self, units: &[usize]) -> f64 {
        self.values[mask_of(units)]
    }

    /// `-H(x) = sum_S c_S prod_{i in S} x_i` for a configuration `x` in this table's basis
    /// (`{0,1}` values for lattice gas, `+-1` for spins).
    pub fn evaluate(&self, x: &[f64]) -> f64 {
        assert_eq!(x.len(), self.n, "configuration length must equal n_units");
        let mut sum = 0.0;
        for (mask, &c) in self.values.iter().enumerate() {
            let mut p = c;
            for (i, &xi) in x.iter().enumerate() {
                if mask >> i & 1 == 1 {
                    p *= xi;
                }
            }
            sum += p;
        }
        sum
    }

    /// The log Boltzmann weight `-H` of every configuration, indexed by its bit mask (bit `i` set: `v_i = 1`, or
    /// `s_i = +1` in the spin basis), by a fast subset-sum (lattice gas) or Walsh-Hadamard
    /// (spin) transform: `n 2^n` additions.
    ///
    /// ```
    /// use emf_rbm::hamiltonian::{Basis, CouplingTable};
    /// // -H = 1 + 2 v0 v1 + 0.5 v1
    /// let k = CouplingTable::new(Basis::LatticeGas, 2, vec![1.0, 0.0, 0.5, 2.0]).unwrap();
    /// assert_eq!(k.log_weights(), vec![1.0, 1.0, 1.5, 3.5]);
    /// // The spin table of the same Hamiltonian gives the same energies.
    /// assert_eq!(k.to_spin().log_weights(), vec![1.0, 1.0, 1.5, 3.5]);
    /// ```
    pub fn log_weights(&self) -> Vec<f64> {
        let mut t = self.values().to_vec();
        for bit in 0..self.n_units() {
            let b = 1usize << bit;
            for m in 0..t.len() {
                if m & b != 0 {
                    continue;
                }
                match self.basis() {
                    // v_bit = 1 adds the couplings that contain the bit.
                    Basis::LatticeGas => t[m | b] += t[m],
                    // s_bit = -1 flips their sign, s_bit = +1 keeps it.
                    Basis::Spin => {
                        let (without, with) = (t[m], t[m | b]);
                        t[m] = without - with;
                        t[m | b] = without + with;
                    }
                }
            }
        }
        t
    }

    /// The table whose [`CouplingTable::log_weights`] are `log_weights` (`2^n` values, one per
    /// configuration): the inverse transform (Moebius in the lattice-gas basis, whose
    /// alternating sums lose about `2^(|S|/2) eps max|H|` on `K_S`; inverse Walsh-Hadamard in
    /// the spin basis, accurate to about `eps max|H|`).
    ///
    /// ```
    /// use emf_rbm::hamiltonian::{Basis, CouplingTable};
    /// let j = CouplingTable::from_log_weights(Basis::Spin, 1, vec![-1.0, 3.0]).unwrap();
    /// assert_eq!(j.values(), &[1.0, 2.0]); // -H = 1 + 2 s
    /// ```
    pub fn from_log_weights(basis: Basis, n: usize, log_weights: Vec<f64>) -> Result<Self> {
        let mut t = CouplingTable::new(basis, n, log_weights)?;
        for bit in 0..n {
            let b = 1usize << bit;
            for m in 0..t.values.len() {
                if m & b != 0 {
                    continue;
                }
                match basis {
                    Basis::LatticeGas => t.values[m | b] -= t.values[m],
                    Basis::Spin => {
                        let (down, up) = (t.values[m], t.values[m | b]);
                        t.values[m] = 0.5 * (up + down);
                        t.values[m | b] = 0.5 * (up - down);
                    }
                }
            }
        }
        Ok(t)
    }

    /// The same Hamiltonian in the spin basis: `J_S = sum_{T superset S} 2^-|T| K_T`.
    pub fn to_spin(&self) -> CouplingTable {
        if self.basis == Basis::Spin {
            return self.clone();
        }
        let mut t: Vec<f64> = self
            .values
            .iter()
            .enumerate()
            .map(|(m, &k)| k * 0.5f64.powi(m.count_ones() as i32))
            .collect();
        for bit in 0..self.n {
            let b = 1usize << bit;
            for m in 0..t.len() {
                if m & b == 0 {
                    t[m] += t[m | b];
                }
            }
        }
        CouplingTable {
            basis: Basis::Spin,
            n: self.n,
            values: t,
        }
    }

    /// The same Hamiltonian in the lattice-gas basis:
    /// `K_T = 2^|T| sum_{S superset T} (-1)^(|S|-|T|) J_S`.
    pub fn to_lattice_gas(&self) -> CouplingTable {
        if self.basis == Basis::LatticeGas {
            return self.clone();
        }
        let mut t = self.values.clone();
        for bit in 0..self.n {
            let b = 1usize << bit;
            for m in 0..t.len() {
                if m & b == 0 {
                    t[m] -= t[m | b];
                }
            }
        }
        for (m, v) in t.iter_mut().enumerate() {
            *v *= 2f64.powi(m.count_ones() as i32);
        }
        CouplingTable {
            basis: Basis::LatticeGas,
            n: self.n,
            values: t,
        }
    }
}

/// Bit mask of a subset.
pub fn mask_of(units: &[usize]) -> usize {
    units.iter().fold(0usize, |m, &i| m | 1 << i)
}

impl EffectiveHamiltonian {
    /// Every coupling (all `2^n` subsets) in the lattice-gas basis, by the stable closed forms;
    /// for at most `MAX_TABLE_UNITS` (24) units.
    pub fn table(&self) -> Result<CouplingTable> {
        self.check_table()?;
        let n = self.nv;
        let values: Vec<f64> = (0..1usize << n)
            .map(|mask| {
                let units: Vec<usize> = (0..n).filter(|i| mask >> i & 1 == 1).collect();
                self.coupling_sorted(&units)
            })
            .collect();
        CouplingTable::new(Basis::LatticeGas, n, values)
    }

    /// Every coupling (all `2^n` subsets) in the spin basis, each evaluated by `method`.
    pub fn table_spin(&self, method: &SpinMethod) -> Result<CouplingTable> {
        self.check_table()?;
        let n = self.nv;
        let values = (0..1usize << n)
            .map(|mask| {
                let units: Vec<usize> = (0..n).filter(|i| mask >> i & 1 == 1).collect();
                super::spin::coupling(self, &units, method)
            })
            .collect::<Result<Vec<f64>>>()?;
        CouplingTable::new(Basis::Spin, n, values)
    }

    /// The log Boltzmann weight `-H_eff` of every configuration of the (at most
    /// `MAX_TABLE_UNITS`) units, indexed by bit mask (bit `i` set: `v_i = 1`).
    pub fn log_weights(&self) -> Result<Vec<f64>> {
        self.check_table()?;
        let n = self.nv;
        Ok((0..1usize << n)
            .into_par_iter()
            .map(|mask| {
                let mut field = self.b.clone();
                let mut sum = 0.0;
                for i in (0..n).filter(|i| mask >> i & 1 == 1) {
                    sum += self.a[i];
                    for (f, w) in field
                        .iter_mut()
                        .zip(&self.w[i * self.nh..(i + 1) * self.nh])
                    {
                        *f += w;
                    }
                }
                sum + field.iter().map(|&x| softplus(x)).sum::<f64>()
            })
            .collect())
    }

    /// Every spin-basis coupling, exactly, by one inverse Walsh-Hadamard transform of
    /// [`EffectiveHamiltonian::log_weights`]: `2^n (n + n_h)` work, accurate to about
    /// `1e-15 max|H_eff|` (absolute), and far faster than [`EffectiveHamiltonian::table`]'s
    /// closed forms beyond a dozen units. For at most `MAX_TABLE_UNITS` units.
    ///
    /// ```
    /// use emf_rbm::{Rbm, hamiltonian::EffectiveHamiltonian};
    /// let mut rbm = Rbm::<f64>::zeros(4, 2).unwrap();
    /// rbm.w[(0, 0)] = 0.7;
    /// rbm.w[(1, 0)] = -0.4;
    /// rbm.w[(3, 1)] = 1.1;
    /// let ham = EffectiveHamiltonian::new(&rbm);
    /// let fast = ham.table_spin_exact().unwrap();
    /// let slow = ham.table().unwrap().to_spin();
    /// assert!(fast.values().iter().zip(slow.values()).all(|(a, b)| (a - b).abs() < 1e-14));
    /// ```
    pub fn table_spin_exact(&self) -> Result<CouplingTable> {
        CouplingTable::from_log_weights(Basis::Spin, self.nv, self.log_weights()?)
    }

    fn check_table(&self) -> Result<()> {
        if self.nv > MAX_TABLE_UNITS {
            return Err(Error::Infeasible(format!(
                "a complete coupling table on {} units has 2^{} entries (limit {} units)",
                self.nv, self.nv, MAX_TABLE_UNITS
            )));
        }
        Ok(())
    }
}
