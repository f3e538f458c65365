//! # emf-rbm
//!
//! Restricted Boltzmann Machines trained with the extended mean-field (TAP / Plefka) free
//! energy next to a sampled CD/PCD baseline, and the renormalized visible Hamiltonian they
//! learn.
//!
//! An RBM with energy `E(v, h) = -a.v - b.h - v^T W h` defines, once its hidden units are
//! integrated out, an effective Hamiltonian on the visible units,
//! `H_eff(v) = F(v) = -a.v - sum_j softplus(b_j + (W^T v)_j)`, with `p(v) = exp(-F(v)) / Z`.
//!
//! ```
//! use emf_rbm::data::Dataset;
//! use emf_rbm::estimate::exact;
//! use emf_rbm::train::{Method, TrainConfig, Trainer};
//!
//! let (train, test) = Dataset::digits().binarize(0.5).split(0.2, 1)?;
//! let cfg = TrainConfig::builder()
//!     .n_hidden(12)
//!     .method(Method::Pcd { k: 1, chains: None })
//!     .epochs(3)
//!     .seed(1)
//!     .build()?;
//! let fitted = Trainer::<f64>::new(cfg).fit(&train, Some(&test))?;
//! // Exact held-out log-likelihood (12 hidden units: 4096 states enumerated).
//! let ll = exact::mean_log_likelihood(&fitted.rbm, test.to_mat::<f64>().as_ref())?;
//! assert!(ll < 0.0);
//! let monitored = fitted.history.last().unwrap().log_likelihood_held_out.unwrap();
//! assert!((monitored - ll).abs() < 1e-9);
//! # Ok::<(), emf_rbm::Error>(())
//! ```
//!
//! Layout: [`rbm`] (the model and its [`Gradient`]), [`data`], [`train`] (loop,
//! configuration, negative phases, optimizer, typed metrics), [`tap`] (the TAP free energy and
//! its solver), [`estimate`] (exact, AIS/RAISE and TAP likelihoods), [`hamiltonian`] (many-body
//! couplings of `H_eff`), [`stack`] (stacked RBMs and RG observables), [`ising`] (2D Ising
//! samples and exact references), [`persist`], [`compare`], [`plot`], [`linalg`] (GEMM and
//! vectorised kernels); cross-cutting: [`checked`] (the configuration style), [`error`],
//! [`float`], [`rng`], [`memory`] (the memory cap), [`profile`]. Matrices are faer's
//! (re-exported as [`faer`]); batches hold one sample per row. Formulas, sources and the tests
//! that check them: `docs/MATH.md`; the architecture: `docs/DESIGN.md`.
#![warn(missing_docs)]
pub mod checked;
pub mod compare;
pub mod data;
pub mod error;
pub mod estimate;
pub mod fingerprint;
pub mod float;
pub mod gibbs;
pub mod linalg;
pub mod memory;
pub mod output;
pub mod persist;
pub mod plot;
pub mod profile;
pub mod rbm;
pub mod rng;
pub mod tap;
pub mod train;
pub use error::{Error, Result};
pub use faer;
pub use float::Float;
pub use rbm::{GibbsSampler, Gradient, Rbm, RbmParams};
pub use tap::{TapOrder, TapSolver};
pub mod hamiltonian;
pub mod ising;
pub use hamiltonian::EffectiveHamiltonian;
pub mod stack;
pub use stack::Stack;
