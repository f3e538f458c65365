//! The Markov chains that draw samples of the periodic `L x L` Ising model.
//!
//! A sweep is a fixed move: `n` Wolff cluster updates (`n` frozen after burn-in, from the mean
//! cluster size, so that a sweep flips about `N` spins on average), then one Metropolis sweep,
//! then a global spin flip with probability 1/2 (an exact symmetry of the zero-field model).
//! Each of the three preserves the Boltzmann distribution, hence so does the sweep. (A sweep
//! that runs Wolff updates *until* `N` spins flipped does not: its stopping time depends on the
//! clusters; it biased the energy of earlier versions by more than 10 standard errors.)
//! Every chain starts from its own random state and its own random stream.

use std::fmt;
use std::str::FromStr;

use rand::Rng as _;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::lattice::IsingLattice;
use super::statistics::{chain_mean, integrated_autocorrelation_time, Measurement};
use crate::checked::checked_builder;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::rng::{stream_rng, Rng};

/// Which Markov chain generates the samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IsingAlgorithm {
    /// Per sweep: a fixed number of Wolff clusters, one Metropolis sweep, a global flip with
    /// probability 1/2.
    Wolff,
    /// Per sweep: one Metropolis sweep and a global flip with probability 1/2 (slow near and
    /// below `T_c`).
    Metropolis,
}

impl fmt::Display for IsingAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IsingAlgorithm::Wolff => "wolff",
            IsingAlgorithm::Metropolis => "metropolis",
        })
    }
}

impl FromStr for IsingAlgorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "wolff" => Ok(IsingAlgorithm::Wolff),
            "metropolis" => Ok(IsingAlgorithm::Metropolis),
            o => Err(Error::param(
                "algorithm",
                format!("expected `wolff` or `metropolis`, got `{o}`"),
            )),
        }
    }
}

/// Settings of [`sample_ising`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IsingConfig {
    /// Side `L` of the periodic lattice.
    pub size: usize,
    /// Temperature `T` (`J = k_B = 1`).
    pub temperature: f64,
    /// Number of samples.
    pub samples: usize,
    /// Seed.
    pub seed: u64,
    /// Markov chain.
    pub algorithm: IsingAlgorithm,
    /// Equilibration sweeps of every chain (and of the pilot chain) before it is measured.
    pub burn_in: usize,
    /// Length (sweeps) of the pilot run that measures the autocorrelation time.
    pub pilot: usize,
    /// Sweeps between samples; `None`: `ceil(spacing_factor * tau_int)`, at least 1.
    pub spacing: Option<usize>,
    /// Samples are separated by this many integrated autocorrelation times.
    pub spacing_factor: f64,
    /// Independent chains run in parallel (each from its own random start and stream, so
    /// results do not depend on the thread count).
    pub chains: usize,
    /// Wolff updates per sweep; `None`: `ceil(N / mean cluster size)` measured in the pilot
    /// chain's burn-in, then frozen for every chain.
    pub wolff_per_sweep: Option<usize>,
}

impl Default for IsingConfig {
    /// [`IsingConfig::new`] for 1000 samples of the 16 x 16 lattice at the critical
    /// temperature.
    fn default() -> Self {
        IsingConfig::new(16, super::CRITICAL_TEMPERATURE, 1000)
    }
}

impl IsingConfig {
    /// Defaults: Wolff, 1000 burn-in sweeps per chain, 2000-sweep pilot, samples every
    /// `5 tau_int` sweeps, 4 chains, seed 0.
    pub fn new(size: usize, temperature: f64, samples: usize) -> Self {
        IsingConfig {
            size,
            temperature,
            samples,
            seed: 0,
            algorithm: IsingAlgorithm::Wolff,
            burn_in: 1000,
            pilot: 2000,
            spacing: None,
            spacing_factor: 5.0,
            chains: 4,
            wolff_per_sweep: None,
        }
    }

    /// Estimated memory of [`sample_ising`]: the samples twice (per chain, then merged; 8
    /// bytes a site) and, per chain and for the pilot, a lattice, a cluster stack and a
    /// visited mark (17 bytes a site).
    pub fn memory_estimate(&self) -> u128 {
        let sites = self.size as u128 * self.size as u128;
        2 * self.samples as u128 * sites * 8 + (self.chains as u128 + 1) * sites * 17
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.size < 2 {
            return Err(Error::param(
                "size",
                format!("must be >= 2, got {}", self.size),
            ));
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(Error::param(
                "temperature",
                format!("must be finite and > 0, got {}", self.temperature),
            ));
        }
        if self.samples == 0 {
            return Err(Error::param("samples", "must be >= 1"));
        }
        if self.chains == 0 {
            return Err(Error::param("chains", "must be >= 1"));
        }
        if self.spacing == Some(0) {
            return Err(Error::param("spacing", "must be >= 1"));
        }
        if self.wolff_per_sweep == Some(0) {
            return Err(Error::param("wolff_per_sweep", "must be >= 1"));
        }
        if self.spacing_factor.is_nan() || self.spacing_factor <= 0.0 {
            return Err(Error::param("spacing_factor", "must be > 0"));
        }
        Ok(())
    }
}

/// What [`sample_ising`] returns.
#[derive(Clone, Debug)]
pub struct IsingSamples {
    /// The samples, one row per configuration, `v = (s + 1)/2`, image shape `L x L`; chain
    /// after chain, in chain order.
    pub dataset: Dataset,
    /// Energy per site of each sample.
    pub energy: Vec<f64>,
    /// Magnetization per site of each sample (signed).
    pub magnetization: Vec<f64>,
    /// Samples drawn from each chain (the rows are chain after chain).
    pub chain_lengths: Vec<usize>,
    /// Integrated autocorrelation time (sweeps) measured in the pilot run: the larger of those
    /// of the energy and of `|m|`.
    pub tau_int: f64,
    /// Sweeps between consecutive samples of one chain.
    pub spacing: usize,
    /// Wolff updates per sweep (0 for Metropolis).
    pub wolff_per_sweep: usize,
    /// Mean Wolff cluster size measured in the pilot's burn-in (0 for Metropolis).
    pub mean_cluster_size: f64,
}

impl IsingSamples {
    fn measure(&self, x: &[f64]) -> Measurement {
        chain_mean(x, &self.chain_lengths)
    }
    /// Energy per site, with its error bar.
    pub fn energy_per_site(&self) -> Measurement {
        self.measure(&self.energy)
    }
    /// `<|m|>`, with its error bar.
    pub fn abs_magnetization(&self) -> Measurement {
        let a: Vec<f64> = self.magnetization.iter().map(|m| m.abs()).collect();
        self.measure(&a)
    }
    /// `<m^2>`, with its error bar.
    pub fn magnetization_squared(&self) -> Measurement {
        let a: Vec<f64> = self.magnetization.iter().map(|m| m * m).collect();
        self.measure(&a)
    }
    /// Mean energy per site.
    pub fn mean_energy(&self) -> f64 {
        self.energy_per_site().mean
    }
    /// Mean `|m|`.
    pub fn mean_abs_magnetization(&self) -> f64 {
        self.abs_magnetization().mean
    }
    /// Standard error of the mean energy (see [`chain_mean`]).
    pub fn energy_stderr(&self) -> f64 {
        self.energy_per_site().stderr
    }
    /// Standard error of the mean `|m|`.
    pub fn abs_magnetization_stderr(&self) -> f64 {
        self.abs_magnetization().stderr
    }
    /// Fraction of samples with `m > 0` (1/2 in expectation for every `T`).
    pub fn positive_fraction(&self) -> f64 {
        let pos = self.magnetization.iter().filter(|&&m| m > 0.0).count();
        pos as f64 / self.magnetization.len().max(1) as f64
    }
}

/// The move of one sweep.
#[derive(Clone, Copy)]
struct Sweep {
    algorithm: IsingAlgorithm,
    beta: f64,
    wolff: usize,
}

impl Sweep {
    /// Runs one sweep; returns the spins flipped by its Wolff updates.
    fn run(&self, lat: &mut IsingLattice, rng: &mut Rng, stack: &mut Vec<usize>) -> usize {
        let mut flipped = 0;
        if self.algorithm == IsingAlgorithm::Wolff {
            for _ in 0..self.wolff {
                flipped += lat.wolff_update(self.beta, rng, stack);
            }
        }
        lat.metropolis_sweep(self.beta, rng);
        if rng.random::<bool>() {
            lat.flip_all();
        }
        flipped
    }
}

/// Draws `cfg.samples` configurations of the periodic `L x L` Ising model at temperature
/// `cfg.temperature`.
///
/// A pilot chain (stream 0 of the seed, random start) burns in for `burn_in` sweeps, during
/// which the Wolff updates per sweep follow the running mean cluster size; that number is then
/// frozen, and the pilot runs `pilot` sweeps to measure the integrated autocorrelation time
/// `tau` of the energy and `|m|`. Then `chains` chains (streams 1..), each from its own random
/// start, burn in for `burn_in` sweeps of the frozen move and keep one configuration every
/// `spacing = ceil(spacing_factor * tau)` sweeps. Deterministic for a given configuration,
/// whatever the thread count.
///
/// ```
/// use emf_rbm::ising::{IsingConfig, sample_ising};
/// let out = sample_ising(&IsingConfig { seed: 1, ..IsingConfig::new(8, 3.0, 50) }).unwrap();
/// assert_eq!(out.dataset.n_features(), 64);
/// assert!(out.dataset.as_slice().iter().all(|&x| x == 0.0 || x == 1.0));
/// assert!(out.wolff_per_sweep >= 1);
/// ```
pub fn sample_ising(cfg: &IsingConfig) -> Result<IsingSamples> {
    cfg.validate()?;
    crate::memory::check(
        format!(
            "{} samples of the {L} x {L} Ising lattice with {} chains (size, samples, chains)",
            cfg.samples,
            cfg.chains,
            L = cfg.size
        ),
        cfg.memory_estimate(),
    )?;
    let l = cfg.size;
    let n = l * l;
    let pilot = run_pilot(cfg);
    let spacing = cfg
        .spacing
        .unwrap_or_else(|| (cfg.spacing_factor * pilot.tau).ceil().max(1.0) as usize);
    let chains = cfg.chains.min(cfg.samples);
    let per_chain: Vec<usize> = (0..chains)
        .map(|c| cfg.samples / chains + usize::from(c < cfg.samples % chains))
        .collect();
    let results: Vec<ChainSamples> = per_chain
        .par_iter()
        .enumerate()
        .map(|(c, &count)| run_chain(cfg, &pilot.sweep, c, count, spacing))
        .collect();
    let mut data = Vec::with_capacity(cfg.samples * n);
    let mut energy = Vec::with_capacity(cfg.samples);
    let mut magnetization = Vec::with_capacity(cfg.samples);
    for r in results {
        data.extend(r.rows);
        energy.extend(r.energy);
        magnetization.extend(r.magnetization);
    }
    let dataset = Dataset::new(data, n, None)?
        .with_image_shape(l, l)?
        .with_name(format!("ising-L{l}-T{}", cfg.temperature));
    Ok(IsingSamples {
        dataset,
        energy,
        magnetization,
        chain_lengths: per_chain,
        tau_int: pilot.tau,
        spacing,
        wolff_per_sweep: pilot.sweep.wolff,
        mean_cluster_size: pilot.mean_cluster_size,
    })
}

/// What the pilot chain measured: the frozen sweep, the mean cluster size, `tau_int`.
struct Pilot {
    sweep: Sweep,
    mean_cluster_size: f64,
    tau: f64,
}

/// The pilot chain (stream 0): burn-in with an adapting cluster count, then the frozen sweep's
/// autocorrelation time.
fn run_pilot(cfg: &IsingConfig) -> Pilot {
    let n = cfg.size * cfg.size;
    let beta = 1.0 / cfg.temperature;
    let wolff_on = cfg.algorithm == IsingAlgorithm::Wolff;
    let mut rng = stream_rng(cfg.seed, 0);
    let mut lat = IsingLattice::random(cfg.size, &mut rng);
    let mut stack = Vec::with_capacity(n);
    let (mut clusters, mut cluster_spins) = (0usize, 0usize);
    let mut wolff = 1usize;
    for _ in 0..cfg.burn_in {
        let sweep = Sweep {
            algorithm: cfg.algorithm,
            beta,
            wolff,
        };
        cluster_spins += sweep.run(&mut lat, &mut rng, &mut stack);
        clusters += wolff;
        if wolff_on {
            let mean = cluster_spins as f64 / clusters as f64;
            wolff = (n as f64 / mean).ceil().max(1.0) as usize;
        }
    }
    let mean_cluster_size = if wolff_on && clusters > 0 {
        cluster_spins as f64 / clusters as f64
    } else {
        0.0
    };
    let wolff = match (wolff_on, cfg.wolff_per_sweep) {
        (false, _) => 0,
        (true, Some(w)) => w,
        (true, None) if cfg.burn_in == 0 => 1,
        (true, None) => (n as f64 / mean_cluster_size).ceil().max(1.0) as usize,
    };
    let sweep = Sweep {
        algorithm: cfg.algorithm,
        beta,
        wolff,
    };
    let mut e_series = Vec::with_capacity(cfg.pilot);
    let mut m_series = Vec::with_capacity(cfg.pilot);
    for _ in 0..cfg.pilot {
        sweep.run(&mut lat, &mut rng, &mut stack);
        e_series.push(lat.energy());
        m_series.push(lat.magnetization().abs());
    }
    let tau =
        integrated_autocorrelation_time(&e_series).max(integrated_autocorrelation_time(&m_series));
    Pilot {
        sweep,
        mean_cluster_size,
        tau,
    }
}

/// One chain's samples: `0/1` rows, energy and magnetization per site.
struct ChainSamples {
    rows: Vec<f64>,
    energy: Vec<f64>,
    magnetization: Vec<f64>,
}

/// Chain `c` (stream `c + 1`): its own random start, `burn_in` sweeps, then `count` samples
/// `spacing` sweeps apart.
fn run_chain(
    cfg: &IsingConfig,
    sweep: &Sweep,
    c: usize,
    count: usize,
    spacing: usize,
) -> ChainSamples {
    let n = cfg.size * cfg.size;
    let mut rng = stream_rng(cfg.seed, c as u64 + 1);
    let mut lat = IsingLattice::random(cfg.size, &mut rng);
    let mut stack = Vec::with_capacity(n);
    for _ in 0..cfg.burn_in {
        sweep.run(&mut lat, &mut rng, &mut stack);
    }
    let mut out = ChainSamples {
        rows: Vec::with_capacity(count * n),
        energy: Vec::with_capacity(count),
        magnetization: Vec::with_capacity(count),
    };
    for _ in 0..count {
        for _ in 0..spacing {
            sweep.run(&mut lat, &mut rng, &mut stack);
        }
        out.rows
            .extend(lat.spins().iter().map(|&s| if s > 0 { 1.0 } else { 0.0 }));
        out.energy.push(lat.energy() / n as f64);
        out.magnetization.push(lat.magnetization());
    }
    out
}

checked_builder!(
    /// Builder of [`IsingConfig`] (starts from the defaults; `build()` checks every value).
    IsingConfigBuilder for IsingConfig {
        /// Side `L` of the periodic lattice.
        size: usize,
        /// Temperature `T` (`J = k_B = 1`).
        temperature: f64,
        /// Number of samples.
        samples: usize,
        /// Seed.
        seed: u64,
        /// Markov chain.
        algorithm: IsingAlgorithm,
        /// Equilibration sweeps of every chain (and of the pilot chain) before it is measured.
        burn_in: usize,
        /// Length (sweeps) of the pilot run that measures the autocorrelation time.
        pilot: usize,
        /// Sweeps between samples; `None`: `ceil(spacing_factor * tau_int)`, at least 1.
        spacing: Option<usize>,
        /// Samples are separated by this many integrated autocorrelation times.
        spacing_factor: f64,
        /// Independent chains run in parallel (each from its own random start and stream, so.
        chains: usize,
        /// Wolff updates per sweep; `None`: `ceil(N / mean cluster size)` measured in the pilot.
        wolff_per_sweep: Option<usize>,
    }
);
