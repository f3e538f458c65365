//! The exact reference flow: decimation of the periodic 1D Ising chain as an RBM.
//!
//! The chain of `2N` spins at coupling `K` (`-E = K sum_i s_i s_{i+1}`) with its odd sites as
//! visible units and its even sites as hidden units is exactly an RBM ([`decimation_rbm`]).
//! Summing out the visible (odd) sites leaves the hidden (even) sites as a chain again, at the
//! coupling `K'` with `tanh K' = tanh^2 K` (Kadanoff/Migdal decimation; exact in 1D), and
//!
//! ```text
//! Z_2N(K) = (2 sqrt(cosh 2K))^N Z_N(K'),   Z_N(K) = (2 cosh K)^N + (2 sinh K)^N.
//! ```
//!
//! Iterating gives the flow `K -> K' -> K'' -> ...` towards the trivial fixed point `K = 0`
//! ([`decimation_flow`]), the reference against which learned stacks are compared.
//!
//! ```
//! use emf_rbm::stack::decimation::{decimation_flow, decimated_coupling};
//! let flow = decimation_flow(1.0, 3);
//! assert_eq!(flow.len(), 4);
//! assert!((flow[1].tanh() - 1f64.tanh().powi(2)).abs() < 1e-15);
//! assert_eq!(flow[2], decimated_coupling(flow[1]));
//! ```

use faer::Mat;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::estimate::exact;
use crate::hamiltonian::{EffectiveHamiltonian, SpinMethod};
use crate::rbm::Rbm;

/// `K'` with `tanh K' = tanh^2 K`: the coupling after summing out every other spin.
pub fn decimated_coupling(k: f64) -> f64 {
    k.tanh().powi(2).atanh()
}

/// `[K, K', K'', ...]`: `steps` decimations of the 1D chain starting at `k`.
pub fn decimation_flow(k: f64, steps: usize) -> Vec<f64> {
    flow(k, steps, decimated_coupling)
}

/// `[k, step(k), step(step(k)), ...]`, `steps + 1` values.
fn flow(k: f64, steps: usize, step: fn(f64) -> f64) -> Vec<f64> {
    std::iter::successors(Some(k), |&x| Some(step(x)))
        .take(steps + 1)
        .collect()
}

/// `ln cosh x` without overflow: `|x| + ln(1 + e^(-2|x|)) - ln 2`.
fn ln_cosh(x: f64) -> f64 {
    let a = x.abs();
    a + (-2.0 * a).exp().ln_1p() - std::f64::consts::LN_2
}

/// One Migdal-Kadanoff step (rescaling `b = 2`) of the 2D square-lattice Ising model: the
/// bonds of every other row are moved onto their neighbours (`K -> 2K`), then every other
/// site of the resulting chains is decimated, `K' = atanh(tanh^2 2K) = (1/2) ln cosh 4K`
/// (Kadanoff, Ann. Phys. 100, 359 (1976)). An approximate but real-space RG of the 2D model:
/// its flow runs to 0 below the fixed point [`migdal_kadanoff_fixed_point`] and to infinity
/// above it, which the exact 1D [`decimation_flow`] (always to 0) cannot show.
///
/// ```
/// use emf_rbm::stack::decimation::{decimated_coupling, migdal_kadanoff_coupling};
/// assert!((migdal_kadanoff_coupling(0.3) - decimated_coupling(0.6)).abs() < 1e-12);
/// ```
pub fn migdal_kadanoff_coupling(k: f64) -> f64 {
    0.5 * ln_cosh(4.0 * k)
}

/// `[K, K', K'', ...]`: `steps` Migdal-Kadanoff steps from `k` ([`migdal_kadanoff_coupling`]).
pub fn migdal_kadanoff_flow(k: f64, steps: usize) -> Vec<f64> {
    flow(k, steps, migdal_kadanoff_coupling)
}

/// The non-trivial fixed point `K* = (1/2) ln cosh 4K*` of the Migdal-Kadanoff flow, by
/// bisection to machine precision: `K* = 0.3047`, against the exact critical coupling
/// `ln(1 + sqrt 2) / 2 = 0.4407` of the square lattice.
///
/// ```
/// use emf_rbm::stack::decimation::{migdal_kadanoff_coupling, migdal_kadanoff_fixed_point};
/// let k = migdal_kadanoff_fixed_point();
/// assert!((migdal_kadanoff_coupling(k) - k).abs() < 1e-14);
/// assert!((k - 0.3047).abs() < 1e-4);
/// ```
pub fn migdal_kadanoff_fixed_point() -> f64 {
    // g(K) = K' - K is negative on (0, K*) and positive above.
    let (mut lo, mut hi) = (0.1, 1.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if migdal_kadanoff_coupling(mid) < mid {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// `ln(2 sqrt(cosh 2K))`: the free energy each summed-out spin leaves behind.
pub fn decimation_log_constant(k: f64) -> f64 {
    std::f64::consts::LN_2 + 0.5 * (2.0 * k).cosh().ln()
}

/// Exact `ln Z_n(K)` of the periodic chain of `n` spins:
/// `ln[(2 cosh K)^n + (2 sinh K)^n] = n ln(2 cosh K) + ln(1 + tanh^n K)`.
pub fn chain_log_partition(n: usize, k: f64) -> f64 {
    n as f64 * (2.0 * k.cosh()).ln() + k.tanh().powi(n as i32).ln_1p()
}

/// The periodic chain of `2n` sites at coupling `k` as an RBM: visible unit `m` is site
/// `2m + 1`, hidden unit `m` is site `2m`, so hidden `m` couples to visible `m - 1` and `m`
/// (indices mod `n`). Each bond `K s s' = 4K v h - 2K v - 2K h + K` gives `W = 4K` on the
/// bonds and `a = b = -4K` (two bonds per unit); `-E_chain = -E_rbm + 2nK`
/// ([`decimation_offset`]). Needs `n >= 3` (no double bonds).
pub fn decimation_rbm(n: usize, k: f64) -> Result<Rbm<f64>> {
    if n < 3 {
        return Err(Error::param(
            "n",
            format!(
                "the decimation RBM needs n >= 3 visible units (a chain of >= 6 sites), got {n}"
            ),
        ));
    }
    if !k.is_finite() {
        return Err(Error::param("k", format!("must be finite, got {k}")));
    }
    let mut w = Mat::<f64>::zeros(n, n);
    for m in 0..n {
        w[(m, m)] = 4.0 * k;
        w[((m + n - 1) % n, m)] = 4.0 * k;
    }
    Rbm::from_parts(w, vec![-4.0 * k; n], vec![-4.0 * k; n])
}

/// The constant `2nK` with `-E_chain(s) = -E_rbm(v, h) + 2nK` for [`decimation_rbm`]`(n, k)`.
pub fn decimation_offset(n: usize, k: f64) -> f64 {
    2.0 * n as f64 * k
}

/// One decimation step measured on the RBM: what the coarse (hidden-side) Hamiltonian of
/// [`decimation_rbm`]`(n, k)` is, against the exact results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecimationStep {
    /// Spins of the fine chain (`2n`).
    pub sites: usize,
    /// Coupling of the fine chain.
    pub k: f64,
    /// The coarse chain's nearest-neighbour spin-basis coupling `J_{m,m+1}` measured on the
    /// RBM's hidden-side Hamiltonian (exact convolution), averaged over the `n` bonds.
    pub k_coarse: f64,
    /// The exact `atanh(tanh^2 k)`.
    pub k_coarse_exact: f64,
    /// Largest `|J|` of the coarse Hamiltonian's fields and non-neighbour pairs (0 for an exact
    /// chain).
    pub max_other_coupling: f64,
    /// `ln Z` of the fine chain from the RBM: exact enumeration plus [`decimation_offset`].
    pub ln_z_rbm: f64,
    /// Closed form `ln Z_2n(k)`.
    pub ln_z_exact: f64,
    /// `n ln(2 sqrt(cosh 2k)) + ln Z_n(k_coarse)`: the bookkeeping with the measured coupling.
    pub ln_z_decimated: f64,
}

/// Iterates the construction: builds [`decimation_rbm`]`(n, k)`, measures the coupling of its
/// coarse Hamiltonian, builds the decimation RBM of the coarse chain (`n / 2` units) at that
/// measured coupling, and so on for `steps` steps (each coarse chain must have an even number
/// of at least 6 sites, except after the last step).
pub fn measured_flow(n: usize, k: f64, steps: usize) -> Result<Vec<DecimationStep>> {
    let mut out = Vec::with_capacity(steps);
    let (mut n, mut k) = (n, k);
    for s in 0..steps {
        if s > 0 {
            if n % 2 != 0 {
                return Err(Error::param(
                    "n",
                    format!("step {s}: a coarse chain of {n} sites cannot be decimated again"),
                ));
            }
            n /= 2;
        }
        let step = decimation_step(n, k)?;
        k = step.k_coarse;
        out.push(step);
    }
    Ok(out)
}

/// One step of [`measured_flow`].
pub fn decimation_step(n: usize, k: f64) -> Result<DecimationStep> {
    let rbm = decimation_rbm(n, k)?;
    let ham = EffectiveHamiltonian::hidden(&rbm);
    let method = SpinMethod::Convolution { max_support: 4 };
    let pairs = ham.pair_matrix_spin(&method)?;
    let fields = ham.fields_spin(&method)?;
    let mut k_coarse = 0.0;
    let mut other = fields.iter().fold(0.0f64, |m, f| m.max(f.abs()));
    for i in 0..n {
        for j in i + 1..n {
            let neighbours = j == i + 1 || (i == 0 && j == n - 1);
            if neighbours {
                k_coarse += pairs[(i, j)];
            } else {
                other = other.max(pairs[(i, j)].abs());
            }
        }
    }
    k_coarse /= n as f64;
    Ok(DecimationStep {
        sites: 2 * n,
        k,
        k_coarse,
        k_coarse_exact: decimated_coupling(k),
        max_other_coupling: other,
        ln_z_rbm: exact::log_partition(&rbm)? + decimation_offset(n, k),
        ln_z_exact: chain_log_partition(2 * n, k),
        ln_z_decimated: n as f64 * decimation_log_constant(k) + chain_log_partition(n, k_coarse),
    })
}
