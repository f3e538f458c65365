//! The 2D Ising model on the square lattice (`J = 1`, periodic `L x L`): an unbiased sampler
//! producing samples as a [`Dataset`](crate::data::Dataset) of `0/1` rows, the exact
//! thermodynamics of the finite torus the samples come from, and the infinite-lattice limits.
//!
//! - [`lattice`]: configurations and the local moves (Metropolis, Wolff, global flip);
//! - [`sampler`]: the chains ([`sample_ising`]) and their measured averages with error bars;
//! - [`exact`] and [`kaufman`](mod@kaufman): the finite torus exactly (enumeration, transfer matrix,
//!   Kaufman's formula); use these as references for samples;
//! - [`onsager`]: the infinite lattice (Onsager, Yang);
//! - [`statistics`]: error bars of chain averages, autocorrelation times, chi-squared;
//! - [`check`]: samples against the exact values of their torus;
//! - [`recovery`]: how well an RBM trained on the samples recovers the Ising couplings.
//!
//! ```
//! use emf_rbm::ising::{exact_finite, sample_ising, IsingConfig};
//! let out = sample_ising(&IsingConfig { seed: 1, ..IsingConfig::new(6, 3.0, 400) }).unwrap();
//! let exact = exact_finite(6, 3.0).unwrap();
//! let e = out.energy_per_site();
//! assert!(e.z_score(exact.energy_per_site).abs() < 5.0);
//! ```

pub mod bipartite;
pub mod block;
pub mod check;
pub mod divergence;
pub mod exact;
pub mod kaufman;
pub mod lattice;
pub mod onsager;
pub mod recovery;
pub mod sampler;
pub mod statistics;

pub use exact::{
    energy_distribution, enumerate, exact_finite, transfer_matrix, ExactMethod, FiniteIsing,
};
pub use kaufman::kaufman;
pub use lattice::IsingLattice;
pub use onsager::{
    elliptic_k, exact_energy_per_site, exact_magnetization, CRITICAL_COUPLING, CRITICAL_TEMPERATURE,
};
pub use sampler::{sample_ising, IsingAlgorithm, IsingConfig, IsingSamples};
pub use statistics::{
    chain_mean, chi_squared, integrated_autocorrelation_time, ChiSquared, Measurement,
};
