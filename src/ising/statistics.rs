//! Error bars of Markov-chain averages and a goodness-of-fit test of histograms.

use serde::{Deserialize, Serialize};

/// A sample mean with its standard error.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The mean.
    pub mean: f64,
    /// Its standard error (see [`chain_mean`] for how it accounts for correlations).
    pub stderr: f64,
}

impl Measurement {
    /// `(mean - exact) / stderr`: how many standard errors the mean is off `exact`.
    pub fn z_score(&self, exact: f64) -> f64 {
        (self.mean - exact) / self.stderr
    }
}

pub(crate) fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

/// The mean of `x`, the concatenation of chains of lengths `chains`, with a standard error
/// that allows for correlation between successive samples of a chain: the larger of the
/// naive `sd / sqrt(n)` and the batch-means error (each chain cut into blocks of at least
/// [`MIN_BLOCK`] samples, at most 10 blocks per chain; the error of the block means). Infinite
/// for fewer than 2 samples.
///
/// ```
/// use emf_rbm::ising::chain_mean;
/// let x: Vec<f64> = (0..400).map(|i| (i % 2) as f64).collect();
/// let m = chain_mean(&x, &[200, 200]);
/// assert_eq!(m.mean, 0.5);
/// assert!((m.stderr - 0.5 / 399f64.sqrt()).abs() < 1e-12); // blocks are exact here
/// ```
pub fn chain_mean(x: &[f64], chains: &[usize]) -> Measurement {
    let n = x.len();
    let m = mean(x);
    if n < 2 {
        return Measurement {
            mean: m,
            stderr: f64::INFINITY,
        };
    }
    let var = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    let naive = (var / n as f64).sqrt();
    let mut block_means = Vec::new();
    let mut block_sizes = Vec::new();
    let mut start = 0;
    for &len in chains {
        let chain = &x[start..(start + len).min(n)];
        start += len;
        let blocks = (chain.len() / MIN_BLOCK).min(10);
        if blocks == 0 {
            continue;
        }
        let size = chain.len() / blocks;
        for b in 0..blocks {
            let block = &chain[b * size..(b + 1) * size];
            block_means.push(mean(block));
            block_sizes.push(block.len());
        }
    }
    let nb = block_means.len();
    let blocked = if nb >= 4 {
        let bm = mean(&block_means);
        let bvar = block_means.iter().map(|v| (v - bm).powi(2)).sum::<f64>() / (nb - 1) as f64;
        (bvar / nb as f64).sqrt()
    } else {
        0.0
    };
    Measurement {
        mean: m,
        stderr: naive.max(blocked),
    }
}

/// Smallest block of [`chain_mean`]'s batch means.
pub const MIN_BLOCK: usize = 10;

/// Integrated autocorrelation time `tau = 1/2 + sum_{t>=1} rho(t)` of a series, with Sokal's
/// automatic window (the smallest `W` with `W >= 5 tau(W)`). 0.5 for independent data.
///
/// ```
/// let x: Vec<f64> = (0..1000).map(|i| ((i * 7919) % 13) as f64).collect();
/// assert!(emf_rbm::ising::integrated_autocorrelation_time(&x) < 1.0);
/// ```
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

/// Pearson's chi-squared test of observed counts against expected probabilities.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChiSquared {
    /// `sum (O - E)^2 / E` over the bins used.
    pub statistic: f64,
    /// Degrees of freedom (bins used - 1).
    pub dof: usize,
    /// The statistic as a standard normal deviate (Wilson-Hilferty cube-root transform):
    /// about `N(0, 1)` under the hypothesis; large positive values reject it.
    pub z: f64,
}

/// Chi-squared test of `observed` counts (one per bin) against `expected` probabilities (same
/// bins, summing to at most 1). Bins with an expected count below 5 are pooled into one bin
/// (kept if its pooled expectation reaches 5).
///
/// ```
/// use emf_rbm::ising::chi_squared;
/// let t = chi_squared(&[25, 25, 50], &[0.25, 0.25, 0.5]);
/// assert_eq!((t.statistic, t.dof), (0.0, 2));
/// assert!(chi_squared(&[60, 10, 30], &[0.25, 0.25, 0.5]).z > 4.0);
/// ```
pub fn chi_squared(observed: &[u64], expected: &[f64]) -> ChiSquared {
    let n: u64 = observed.iter().sum();
    let n = n as f64;
    let (mut stat, mut bins) = (0.0, 0usize);
    let (mut pool_o, mut pool_e) = (0.0, 0.0);
    for (&o, &p) in observed.iter().zip(expected) {
        let e = p * n;
        if e < 5.0 {
            pool_o += o as f64;
            pool_e += e;
        } else {
            stat += (o as f64 - e).powi(2) / e;
            bins += 1;
        }
    }
    if pool_e >= 5.0 {
        stat += (pool_o - pool_e).powi(2) / pool_e;
        bins += 1;
    }
    let dof = bins.saturating_sub(1).max(1);
    let k = dof as f64;
    let v = 2.0 / (9.0 * k);
    let z = ((stat / k).cbrt() - (1.0 - v)) / v.sqrt();
    ChiSquared {
        statistic: stat,
        dof,
        z,
    }
}
