//! The 2D Ising model on the square lattice (`J = 1`, periodic `L x L`): a sampler (Wolff
//! cluster updates plus Metropolis sweeps) producing independent samples as a [`Dataset`] of
//! `0/1` rows, and the exact infinite-lattice results (Onsager, Yang) as references.
//!
//! ```
//! use emf_rbm::ising::{IsingConfig, sample_ising, exact_energy_per_site};
//! let cfg = IsingConfig::new(8, 3.0, 50).with_seed(1);
//! let out = sample_ising(&cfg).unwrap();
//! assert_eq!(out.dataset.n_features(), 64);
//! assert!(out.dataset.as_slice().iter().all(|&x| x == 0.0 || x == 1.0));
//! assert!(exact_energy_per_site(3.0) < 0.0);
//! ```

use std::fmt;
use std::str::FromStr;

use rand::Rng as _;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::rng::{stream_rng, Rng};

/// The critical coupling `K_c = ln(1 + sqrt 2) / 2`.
pub const CRITICAL_COUPLING: f64 = 0.440_686_793_509_771_5;
/// The critical temperature `T_c = 1 / K_c = 2.2691853...`.
pub const CRITICAL_TEMPERATURE: f64 = 2.269_185_314_213_022;

/// Complete elliptic integral of the first kind `K(k) = int_0^{pi/2} dt / sqrt(1 - k^2 sin^2 t)`,
/// by the arithmetic-geometric mean `K(k) = pi / (2 AGM(1, sqrt(1 - k^2)))` (quadratically
/// convergent; exact to rounding, including near the logarithmic singularity at `k -> 1`).
pub fn elliptic_k(k: f64) -> f64 {
    let mut a = 1.0f64;
    let mut g = (1.0 - k * k).max(0.0).sqrt();
    for _ in 0..60 {
        let an = 0.5 * (a + g);
        let gn = (a * g).sqrt();
        if (an - gn).abs() <= 1e-16 * an {
            a = an;
            break;
        }
        a = an;
        g = gn;
    }
    std::f64::consts::PI / (2.0 * a)
}

/// Exact energy per site of the infinite square-lattice Ising model at temperature `t`
/// (`J = k_B = 1`), Onsager:
/// `u = -coth(2K) [1 + (2/pi) (2 tanh^2(2K) - 1) K(kappa)]`, `kappa = 2 sinh(2K) / cosh^2(2K)`,
/// `K = 1/t`. At `T_c` the product is `0 * inf` and `u = -sqrt 2`.
pub fn exact_energy_per_site(t: f64) -> f64 {
    let k = 1.0 / t;
    let c = (2.0 * k).cosh();
    let kappa = 2.0 * (2.0 * k).sinh() / (c * c);
    let th = (2.0 * k).tanh();
    let f = 2.0 * th * th - 1.0;
    let coth = 1.0 / th;
    if f.abs() < 1e-14 {
        return -coth;
    }
    -coth * (1.0 + 2.0 / std::f64::consts::PI * f * elliptic_k(kappa.min(1.0)))
}

/// Exact spontaneous magnetization per site of the infinite lattice (Onsager, Yang):
/// `(1 - sinh(2/t)^-4)^(1/8)` below `T_c`, 0 above.
pub fn exact_magnetization(t: f64) -> f64 {
    let k = 1.0 / t;
    if k <= CRITICAL_COUPLING {
        return 0.0;
    }
    let s = (2.0 * k).sinh();
    (1.0 - s.powi(-4)).max(0.0).powf(0.125)
}

/// A periodic `L x L` configuration of `+-1` spins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsingLattice {
    l: usize,
    spins: Vec<i8>,
}

impl IsingLattice {
    /// All spins up.
    pub fn ordered(l: usize) -> Self {
        IsingLattice {
            l,
            spins: vec![1; l * l],
        }
    }

    /// Independent uniform spins.
    pub fn random(l: usize, rng: &mut Rng) -> Self {
        IsingLattice {
            l,
            spins: (0..l * l)
                .map(|_| if rng.random::<bool>() { 1 } else { -1 })
                .collect(),
        }
    }

    /// Side length.
    pub fn size(&self) -> usize {
        self.l
    }

    /// Spins, row-major (`r * L + c`).
    pub fn spins(&self) -> &[i8] {
        &self.spins
    }

    #[inline]
    fn neighbours(&self, site: usize) -> [usize; 4] {
        let l = self.l;
        let (r, c) = (site / l, site % l);
        [
            ((r + l - 1) % l) * l + c,
            ((r + 1) % l) * l + c,
            r * l + (c + l - 1) % l,
            r * l + (c + 1) % l,
        ]
    }

    /// Total energy `-sum_<ij> s_i s_j` (each bond once).
    pub fn energy(&self) -> f64 {
        let l = self.l;
        let mut e = 0i64;
        for r in 0..l {
            for c in 0..l {
                let s = self.spins[r * l + c] as i64;
                e -= s * self.spins[r * l + (c + 1) % l] as i64;
                e -= s * self.spins[((r + 1) % l) * l + c] as i64;
            }
        }
        e as f64
    }

    /// Magnetization per site `sum s / N`.
    pub fn magnetization(&self) -> f64 {
        self.spins.iter().map(|&s| s as i64).sum::<i64>() as f64 / self.spins.len() as f64
    }

    /// One Metropolis sweep (sites in order, `N` proposals) at inverse temperature `beta`;
    /// returns the number of accepted flips.
    pub fn metropolis_sweep(&mut self, beta: f64, rng: &mut Rng) -> usize {
        // acceptance for dE = 4, 8 as u32 thresholds
        let p4 = (-4.0 * beta).exp();
        let p8 = (-8.0 * beta).exp();
        let t4 = (p4 * 4_294_967_296.0).min(4_294_967_295.0) as u64;
        let t8 = (p8 * 4_294_967_296.0).min(4_294_967_295.0) as u64;
        let mut accepted = 0;
        for site in 0..self.spins.len() {
            let nb = self.neighbours(site);
            let sum: i32 = nb.iter().map(|&n| self.spins[n] as i32).sum();
            let de = 2 * self.spins[site] as i32 * sum;
            let flip = match de {
                d if d <= 0 => true,
                4 => (rng.random::<u32>() as u64) < t4,
                _ => (rng.random::<u32>() as u64) < t8,
            };
            if flip {
                self.spins[site] = -self.spins[site];
                accepted += 1;
            }
        }
        accepted
    }

    /// One Wolff cluster update at inverse temperature `beta` (bonds to aligned neighbours
    /// added with probability `1 - e^{-2 beta}`); returns the cluster size.
    pub fn wolff_update(&mut self, beta: f64, rng: &mut Rng, stack: &mut Vec<usize>) -> usize {
        let p_add = 1.0 - (-2.0 * beta).exp();
        let n = self.spins.len();
        let seed = rng.random_range(0..n);
        let s0 = self.spins[seed];
        self.spins[seed] = -s0;
        stack.clear();
        stack.push(seed);
        let mut size = 1;
        while let Some(site) = stack.pop() {
            for nb in self.neighbours(site) {
                if self.spins[nb] == s0 && rng.random::<f64>() < p_add {
                    self.spins[nb] = -s0;
                    stack.push(nb);
                    size += 1;
                }
            }
        }
        size
    }
}

/// Which Markov chain generates the samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IsingAlgorithm {
    /// Per sweep: Wolff clusters until about `N` spins were flipped, then one Metropolis sweep.
    Wolff,
    /// Per sweep: one Metropolis sweep (slow near and below `T_c`).
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
    /// Equilibration sweeps before the autocorrelation pilot run.
    pub burn_in: usize,
    /// Length (sweeps) of the pilot run that measures the autocorrelation time.
    pub pilot: usize,
    /// Sweeps between samples; `None`: `ceil(spacing_factor * tau_int)`, at least 1.
    pub spacing: Option<usize>,
    /// Samples are separated by this many integrated autocorrelation times.
    pub spacing_factor: f64,
    /// Independent chains run in parallel (each from its own random stream, so results do
    /// not depend on the thread count).
    pub chains: usize,
}

impl IsingConfig {
    /// Defaults: Wolff, 1000 burn-in sweeps, 2000-sweep pilot, samples every
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
        }
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the algorithm.
    pub fn with_algorithm(mut self, algorithm: IsingAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    fn validate(&self) -> Result<()> {
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
        if self.spacing_factor.is_nan() || self.spacing_factor <= 0.0 {
            return Err(Error::param("spacing_factor", "must be > 0"));
        }
        Ok(())
    }
}

/// What [`sample_ising`] returns.
#[derive(Clone, Debug)]
pub struct IsingSamples {
    /// The samples, one row per configuration, `v = (s + 1)/2`, image shape `L x L`.
    pub dataset: Dataset,
    /// Energy per site of each sample.
    pub energy: Vec<f64>,
    /// Magnetization per site of each sample (signed).
    pub magnetization: Vec<f64>,
    /// Integrated autocorrelation time (sweeps) measured in the pilot run: the larger of those
    /// of the energy and of `|m|`.
    pub tau_int: f64,
    /// Sweeps between consecutive samples of one chain.
    pub spacing: usize,
}

impl IsingSamples {
    /// Mean energy per site.
    pub fn mean_energy(&self) -> f64 {
        mean(&self.energy)
    }
    /// Mean `|m|`.
    pub fn mean_abs_magnetization(&self) -> f64 {
        mean(
            &self
                .magnetization
                .iter()
                .map(|m| m.abs())
                .collect::<Vec<_>>(),
        )
    }
    /// Standard error of the mean energy (samples treated as independent).
    pub fn energy_stderr(&self) -> f64 {
        stderr(&self.energy)
    }
    /// Standard error of the mean `|m|`.
    pub fn abs_magnetization_stderr(&self) -> f64 {
        stderr(
            &self
                .magnetization
                .iter()
                .map(|m| m.abs())
                .collect::<Vec<_>>(),
        )
    }
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

fn stderr(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 2 {
        return f64::INFINITY;
    }
    let m = mean(x);
    let var = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    (var / n as f64).sqrt()
}

/// Integrated autocorrelation time `tau = 1/2 + sum_{t>=1} rho(t)` of a series, with Sokal's
/// automatic window (the smallest `W` with `W >= 5 tau(W)`). 0.5 for independent data.
pub fn integrated_autocorrelation_time(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 4 {
        return 0.5;
    }
    let m = mean(x);
    let d: Vec<f64> = x.iter().map(|v| v - m).collect();
    let c0 = d.iter().map(|v| v * v).sum::<f64>() / n as f64;
    if c0 == 0.0 {
        return 0.5;
    }
    let mut tau = 0.5;
    for t in 1..n / 2 {
        let ct = d[..n - t]
            .iter()
            .zip(&d[t..])
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / n as f64;
        tau += ct / c0;
        if t as f64 >= 5.0 * tau {
            break;
        }
    }
    tau.max(0.5)
}

/// One "sweep" of the chosen algorithm.
fn sweep(
    lat: &mut IsingLattice,
    algorithm: IsingAlgorithm,
    beta: f64,
    rng: &mut Rng,
    stack: &mut Vec<usize>,
) {
    if algorithm == IsingAlgorithm::Wolff {
        let n = lat.spins.len();
        let mut flipped = 0;
        while flipped < n {
            flipped += lat.wolff_update(beta, rng, stack);
        }
    }
    lat.metropolis_sweep(beta, rng);
}

/// Draws `cfg.samples` configurations of the periodic `L x L` Ising model at temperature
/// `cfg.temperature`.
///
/// One chain (stream 0 of the seed) is equilibrated from the ordered state (`burn_in` sweeps)
/// and run for `pilot` sweeps to measure the integrated autocorrelation time `tau` of the
/// energy and `|m|`; then `chains` chains (streams 1..) start from that state and each keeps one
/// configuration every `spacing = ceil(spacing_factor * tau)` sweeps (after a first `spacing`
/// sweeps of their own). Deterministic for a given configuration, whatever the thread count.
pub fn sample_ising(cfg: &IsingConfig) -> Result<IsingSamples> {
    cfg.validate()?;
    let l = cfg.size;
    let n = l * l;
    let beta = 1.0 / cfg.temperature;
    let mut rng0 = stream_rng(cfg.seed, 0);
    let mut lat = IsingLattice::ordered(l);
    let mut stack = Vec::with_capacity(n);
    for _ in 0..cfg.burn_in {
        sweep(&mut lat, cfg.algorithm, beta, &mut rng0, &mut stack);
    }
    let mut e_series = Vec::with_capacity(cfg.pilot);
    let mut m_series = Vec::with_capacity(cfg.pilot);
    for _ in 0..cfg.pilot {
        sweep(&mut lat, cfg.algorithm, beta, &mut rng0, &mut stack);
        e_series.push(lat.energy());
        m_series.push(lat.magnetization().abs());
    }
    let tau =
        integrated_autocorrelation_time(&e_series).max(integrated_autocorrelation_time(&m_series));
    let spacing = cfg
        .spacing
        .unwrap_or_else(|| (cfg.spacing_factor * tau).ceil().max(1.0) as usize);
    let chains = cfg.chains.min(cfg.samples);
    let per_chain: Vec<usize> = (0..chains)
        .map(|c| cfg.samples / chains + usize::from(c < cfg.samples % chains))
        .collect();
    let start = lat.clone();
    let results: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = per_chain
        .par_iter()
        .enumerate()
        .map(|(c, &count)| {
            let mut rng = stream_rng(cfg.seed, c as u64 + 1);
            let mut lat = start.clone();
            let mut stack = Vec::with_capacity(n);
            let mut rows = Vec::with_capacity(count * n);
            let mut es = Vec::with_capacity(count);
            let mut ms = Vec::with_capacity(count);
            for _ in 0..count {
                for _ in 0..spacing {
                    sweep(&mut lat, cfg.algorithm, beta, &mut rng, &mut stack);
                }
                rows.extend(lat.spins.iter().map(|&s| if s > 0 { 1.0 } else { 0.0 }));
                es.push(lat.energy() / n as f64);
                ms.push(lat.magnetization());
            }
            (rows, es, ms)
        })
        .collect();
    let mut data = Vec::with_capacity(cfg.samples * n);
    let mut energy = Vec::with_capacity(cfg.samples);
    let mut magnetization = Vec::with_capacity(cfg.samples);
    for (rows, es, ms) in results {
        data.extend(rows);
        energy.extend(es);
        magnetization.extend(ms);
    }
    let dataset = Dataset::new(data, n, None)?
        .with_image_shape(l, l)?
        .with_name(format!("ising-L{l}-T{}", cfg.temperature));
    Ok(IsingSamples {
        dataset,
        energy,
        magnetization,
        tau_int: tau,
        spacing,
    })
}
