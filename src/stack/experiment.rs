//! The Mehta-Schwab experiment in one call: sample the 2D Ising model at a temperature, train
//! a stack on it, and measure per-layer free energies and RG observables next to the exact
//! Ising values.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::ising::{
    exact_energy_per_site, exact_finite, exact_magnetization, sample_ising, IsingConfig,
};
use crate::stack::{
    FreeEnergyOptions, LayerFreeEnergy, LayerObservables, RgOptions, Stack, StackConfig,
};
use crate::train::Trainer;

/// One run of the stacked-RBM experiment on 2D Ising data.
///
/// ```
/// use emf_rbm::stack::{IsingExperiment, StackConfig};
/// use emf_rbm::train::TrainConfig;
/// let base = TrainConfig::builder().epochs(2).seed(1).build()?;
/// let stack = StackConfig::builder().sizes(&base, &[16, 4]).build()?;
/// let run = IsingExperiment::new(8, 2.5, 300, stack).run::<f64>()?;
/// assert_eq!(run.observables.len(), 3); // the data and two levels
/// let data = &run.observables[0];
/// assert!((data.magnetization - run.reference.sample_magnetization).abs() < 1e-12);
/// # Ok::<(), emf_rbm::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IsingExperiment {
    /// Side `L` of the periodic lattice (the stack's first layer has `L^2` visible units).
    pub size: usize,
    /// Temperature (`T_c = 2.269`).
    pub temperature: f64,
    /// Ising samples drawn (training + held-out).
    pub samples: usize,
    /// Fraction of the samples held out (default 0.2).
    pub held_out_fraction: f64,
    /// Seed of the Ising sampler and of the split.
    pub ising_seed: u64,
    /// The stack to train.
    pub stack: StackConfig,
    /// Per-layer free-energy settings.
    pub free_energy: FreeEnergyOptions,
    /// RG observable settings (measured on the held-out samples).
    pub rg: RgOptions,
}

/// Exact and sampled Ising values at the run's temperature (level-0 references).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IsingReference {
    /// Temperature.
    pub temperature: f64,
    /// `K = 1/T`: the nearest-neighbour coupling in the spin basis.
    pub coupling: f64,
    /// Spontaneous magnetization of the infinite lattice (0 above `T_c`).
    pub magnetization_exact: f64,
    /// Nearest-neighbour correlation `<s s'> = -u/2` of the infinite lattice.
    pub nn_correlation_exact: f64,
    /// `<|m|>` of the finite `L x L` torus, exactly (transfer matrix; `None` beyond `L = 10`).
    #[serde(default)]
    pub magnetization_finite: Option<f64>,
    /// `<s s'> = -<E>/(2N)` of the finite `L x L` torus, exactly (transfer matrix or Kaufman).
    #[serde(default)]
    pub nn_correlation_finite: f64,
    /// `<|m|>` of the held-out samples.
    pub sample_magnetization: f64,
    /// `<s s'>` over bonds of the held-out samples (`-E / (2 L^2)`).
    pub sample_nn_correlation: f64,
}

/// What [`IsingExperiment::run`] returns.
#[derive(Clone, Debug)]
pub struct IsingRun<T: Float = f64> {
    /// The trained stack (with its history).
    pub stack: Stack<T>,
    /// Per-layer free energies (training subset vs held-out samples).
    pub free_energies: Vec<LayerFreeEnergy>,
    /// RG observables of levels `0..=n_layers`, on the held-out samples.
    pub observables: Vec<LayerObservables>,
    /// The exact and sampled Ising values.
    pub reference: IsingReference,
    /// Seconds spent sampling the Ising model.
    pub sampling_seconds: f64,
    /// Seconds spent training the stack.
    pub training_seconds: f64,
    /// Seconds spent on free energies and observables.
    pub analysis_seconds: f64,
}

impl IsingExperiment {
    /// An experiment with default analysis settings, 20% held out, seed 0.
    pub fn new(size: usize, temperature: f64, samples: usize, stack: StackConfig) -> Self {
        IsingExperiment {
            size,
            temperature,
            samples,
            held_out_fraction: 0.2,
            ising_seed: 0,
            stack,
            free_energy: FreeEnergyOptions::default(),
            rg: RgOptions::default(),
        }
    }

    /// Samples, trains and measures.
    pub fn run<T: Float>(&self) -> Result<IsingRun<T>> {
        self.run_with(|_, t| t)
    }

    /// Like [`run`](Self::run), with `prepare(layer_index, trainer)` adding observers.
    pub fn run_with<T: Float>(
        &self,
        prepare: impl FnMut(usize, Trainer<T>) -> Trainer<T>,
    ) -> Result<IsingRun<T>> {
        if self.samples < 4 {
            return Err(Error::param("samples", "need at least 4 Ising samples"));
        }
        let t0 = Instant::now();
        let cfg = IsingConfig {
            seed: self.ising_seed,
            ..IsingConfig::new(self.size, self.temperature, self.samples)
        };
        let ising = sample_ising(&cfg)?;
        let (train, held_out) = ising
            .dataset
            .split(self.held_out_fraction, self.ising_seed)?;
        let sampling_seconds = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let stack = Stack::<T>::fit_with(&self.stack, &train, Some(&held_out), prepare)?;
        let training_seconds = t1.elapsed().as_secs_f64();
        let t2 = Instant::now();
        let free_energies = stack.free_energies(&train, &held_out, &self.free_energy)?;
        let observables = stack.rg_observables(&held_out, &self.rg)?;
        let analysis_seconds = t2.elapsed().as_secs_f64();
        let reference = reference(self.temperature, &held_out, self.size)?;
        Ok(IsingRun {
            stack,
            free_energies,
            observables,
            reference,
            sampling_seconds,
            training_seconds,
            analysis_seconds,
        })
    }
}

/// The exact values at `t` and the sample values of `data` (rows of `0/1` spins on the
/// periodic `l x l` lattice).
fn reference(t: f64, data: &crate::data::Dataset, l: usize) -> Result<IsingReference> {
    let finite = exact_finite(l, t)?;
    let (mut m_abs, mut nn) = (0.0, 0.0);
    for row in data.rows() {
        let s = |r: usize, c: usize| 2.0 * row[(r % l) * l + c % l] - 1.0;
        let mut m = 0.0;
        let mut bonds = 0.0;
        for r in 0..l {
            for c in 0..l {
                m += s(r, c);
                bonds += s(r, c) * (s(r, c + 1) + s(r + 1, c));
            }
        }
        m_abs += (m / (l * l) as f64).abs();
        nn += bonds / (2 * l * l) as f64;
    }
    let n = data.n_samples().max(1) as f64;
    Ok(IsingReference {
        temperature: t,
        coupling: 1.0 / t,
        magnetization_exact: exact_magnetization(t),
        nn_correlation_exact: -exact_energy_per_site(t) / 2.0,
        magnetization_finite: finite.abs_m,
        nn_correlation_finite: -finite.energy_per_site / 2.0,
        sample_magnetization: m_abs / n,
        sample_nn_correlation: nn / n,
    })
}
