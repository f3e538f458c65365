//! Reverse annealed importance sampling (RAISE; Burda, Grosse & Salakhutdinov, AISTATS 2015):
//! a stochastic LOWER bound on the log-likelihood of data rows, the conservative partner of
//! forward AIS ([`crate::estimate::ais`], which tends to overestimate it).
//!
//! # The estimator
//! Same path as the forward AIS (the code is shared): base `A` with `W = 0` and visible
//! biases `a_A`, temperatures `0 = beta_0 <= ... <= beta_K = 1`, unnormalised marginals
//! `f_k(v) = (1 - beta_k) a_A.v + beta_k a.v + sum_j softplus(beta_k (b_j + (W^T v)_j))`
//! (`f_K = -F`, `f_0(v) = a_A.v + n_hidden ln 2`, normalised by `Z_A`) and `T_k` the Gibbs
//! transition `v -> h -> v` at `beta_k`, which is reversible with respect to `p_k`.
//!
//! The annealing model `p_ann` is the law of `x_K` in the forward chain `x_0 ~ p_0`,
//! `x_k ~ T_k(x_{k-1}, .)` for `k = 1..K` (the forward AIS weights use the same `x_0..x_{K-1}`;
//! its last transition `T_K` does not change them). For a data row `v`, RAISE runs the chain
//! backwards: `x_K = v`, `x_{k-1} ~ T_k(x_k, .)` for `k = K..1`, and
//!
//! ```text
//! log p^(v) = log p_0(x_0) + sum_{k=1..K} [f_k(x_k) - f_k(x_{k-1})]
//!           = -F(v) - ln Z_A - sum_{k=0..K-1} [f_{k+1}(x_k) - f_k(x_k)]
//! ```
//!
//! (the second line telescopes the first; its sum has the form of a forward AIS log-weight,
//! over the reverse chain's states). `E[p^(v)] = p_ann(v)`, so `E[log p^(v)] <= log p_ann(v)`
//! (Jensen), and `p_ann -> p` as the schedule refines. With `C` chains per row
//! `log p^(v)` is the log-mean-exp of the chains' values (a tighter bound).
//!
//! # What is reported
//! Per scored row `ln Z_i = -F(v_i) - log p^(v_i)` (an estimate of `ln Z` that does not
//! depend on `F(v_i)`). The RAISE log-likelihood is `mean_i log p^(v_i) = -mean F -
//! mean ln Z_i` (the paper's number); its interval is `-mean F - [mean ln Z_i +- 3 s.e.(ln
//! Z_i)]` (the spread of `ln Z_i` is the estimator's noise; the spread of `F` over the data
//! cancels); the effective sample size is that of the weights `w_i = exp(-ln Z_i)`,
//! `(sum w)^2 / sum w^2`, in `[1, rows]`.
//!
//! # Cost and random streams
//! One reverse chain per row and chain (`rows x chains` chains of `K` Gibbs steps, so ten
//! times a 100-run forward AIS for 1 000 rows): score a fixed subset ([`scored_rows`]). The
//! chains are the rows of one batch (two GEMMs per temperature), cut into fixed chunks of
//! [`RaiseConfig::chunk_rows`] processed in parallel; chunk `c` draws from
//! `stream_rng(seed, STREAM_OFFSET + c)` ([`STREAM_OFFSET`]), so the result is bit-identical
//! at any thread count and independent of a forward AIS with the same seed. Sampling runs in
//! the model's float type, log-weights accumulate in `f64`.
//!
//! ```
//! use emf_rbm::{Rbm, data::Dataset, rng, estimate::exact};
//! use emf_rbm::estimate::ais::{AisBase, BetaSchedule};
//! use emf_rbm::estimate::raise::{Raise, RaiseConfig};
//!
//! let data = Dataset::digits().binarize(0.5).head(50);
//! let rbm = Rbm::<f64>::random(64, 8, 0.3, &mut rng::rng(1)).unwrap();
//! let raise = Raise::new(RaiseConfig {
//!     schedule: BetaSchedule::Count(1000),
//!     ..RaiseConfig::default()
//! })
//! .unwrap();
//! let v = data.to_mat::<f64>();
//! let est = raise.estimate(&rbm, &AisBase::from_data(&data, 0.05).unwrap(), v.as_ref()).unwrap();
//! assert_eq!(est.rows(), 50);
//! let exact_ll = exact::mean_log_likelihood(&rbm, v.as_ref()).unwrap();
//! assert!(est.lower <= exact_ll + 0.1); // a lower bound (up to noise)
//! assert!(est.log_likelihood > exact_ll - 1.0); // and a close one
//! ```

use faer::{Mat, MatRef, Par};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::checked::checked_builder;
use crate::error::{Error, Result};
use crate::estimate::ais::{checked_mean_free_energy, AisBase, BetaSchedule};
use crate::estimate::metrics::is_low_ess;
use crate::estimate::path::{
    hidden_step, hidden_weight, run_chunks, sample_visible, Path, Products,
};
use crate::float::Float;
use crate::rbm::Rbm;
use crate::rng::{stream_rng, Rng};

/// Chunk `c` of a RAISE estimate draws from `stream_rng(seed, STREAM_OFFSET + c)`, far from
/// the forward AIS chunks (`stream_rng(seed, c)`) and the training monitor's streams.
pub const STREAM_OFFSET: u64 = 1 << 48;

/// Settings of a RAISE estimate.
///
/// ```
/// use emf_rbm::estimate::raise::RaiseConfig;
/// let cfg = RaiseConfig::builder().chains(3).build().unwrap();
/// assert_eq!((cfg.chains, cfg.chunk_rows), (3, 50));
/// assert!(RaiseConfig::builder().chains(0).build().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RaiseConfig {
    /// Temperatures (default: the standard 14 500, as the forward AIS).
    pub schedule: BetaSchedule,
    /// Reverse chains per scored row (default 1; more tighten the bound, at that cost).
    pub chains: usize,
    /// Chains per parallel chunk (default 50). The result depends on this value but not on
    /// the thread count.
    pub chunk_rows: usize,
    /// Seed of all random draws.
    pub seed: u64,
}

impl Default for RaiseConfig {
    fn default() -> Self {
        RaiseConfig {
            schedule: BetaSchedule::Standard,
            chains: 1,
            chunk_rows: 50,
            seed: 0,
        }
    }
}

impl RaiseConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.chains == 0 {
            return Err(Error::param("chains", "at least one reverse chain per row"));
        }
        if self.chunk_rows == 0 {
            return Err(Error::param("chunk_rows", "must be at least 1"));
        }
        self.schedule.betas().map(|_| ())
    }
}

checked_builder!(
    /// Builder of [`RaiseConfig`] (starts from the defaults; `build()` checks every value).
    RaiseConfigBuilder for RaiseConfig {
        /// Temperatures.
        schedule: BetaSchedule,
        /// Reverse chains per scored row.
        chains: usize,
        /// Chains per parallel chunk.
        chunk_rows: usize,
        /// Seed of all random draws.
        seed: u64,
    }
);

/// The result of a RAISE estimate on some data rows.
///
/// `lower`/`upper` are infinite when only one row was scored (no standard error).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RaiseEstimate {
    /// `mean_i log p^(v_i)`, nats per row: the stochastic lower bound.
    pub log_likelihood: f64,
    /// `log_likelihood - 3 s.e.(ln Z_i)`.
    pub lower: f64,
    /// `log_likelihood + 3 s.e.(ln Z_i)`.
    pub upper: f64,
    /// `mean_i ln Z_i` (`= -mean F - log_likelihood`).
    pub log_z: f64,
    /// `mean F(v_i)` over the scored rows.
    pub mean_free_energy: f64,
    /// Effective sample size of `w_i = exp(-ln Z_i)`, in `[1, rows]`.
    pub ess: f64,
    /// `ln Z_i` of each scored row, in row order.
    pub log_z_rows: Vec<f64>,
    /// Reverse chains per row.
    pub chains: usize,
    /// Number of temperatures used (including 0 and 1).
    pub n_betas: usize,
}

impl RaiseEstimate {
    /// Summarises the per-row `ln Z_i` (`sd` is the sample standard deviation, `n - 1`; no
    /// rows give NaN values).
    ///
    /// ```
    /// use emf_rbm::estimate::raise::RaiseEstimate;
    /// let e = RaiseEstimate::from_log_z_rows(vec![10.0, 10.0, 10.0, 10.0], 2.0, 1, 100);
    /// assert_eq!((e.log_likelihood, e.lower, e.upper, e.ess), (-12.0, -12.0, -12.0, 4.0));
    /// let e = RaiseEstimate::from_log_z_rows(vec![9.0, 11.0], 2.0, 1, 100);
    /// assert_eq!(e.log_likelihood, -12.0);
    /// assert!((e.upper - e.log_likelihood - 3.0).abs() < 1e-12); // sd sqrt 2, s.e. 1
    /// assert!(e.ess < 2.0);
    /// ```
    pub fn from_log_z_rows(
        log_z_rows: Vec<f64>,
        mean_free_energy: f64,
        chains: usize,
        n_betas: usize,
    ) -> Self {
        // Deviations from the first row, so that equal rows give exactly zero spread.
        let n = log_z_rows.len() as f64;
        let z0 = log_z_rows.first().copied().unwrap_or(f64::NAN);
        let dev: Vec<f64> = log_z_rows.iter().map(|z| z - z0).collect();
        let mean_dev = dev.iter().sum::<f64>() / n;
        let mean = z0 + mean_dev;
        let half = if log_z_rows.len() > 1 {
            let var = dev.iter().map(|d| (d - mean_dev).powi(2)).sum::<f64>() / (n - 1.0);
            3.0 * (var / n).sqrt()
        } else {
            f64::INFINITY
        };
        let low = log_z_rows.iter().copied().fold(f64::INFINITY, f64::min);
        let w: Vec<f64> = log_z_rows.iter().map(|z| (low - z).exp()).collect();
        let (sum, sum2) = (w.iter().sum::<f64>(), w.iter().map(|x| x * x).sum::<f64>());
        let ll = -mean_free_energy - mean;
        RaiseEstimate {
            log_likelihood: ll,
            lower: ll - half,
            upper: ll + half,
            log_z: mean,
            mean_free_energy,
            ess: sum * sum / sum2,
            log_z_rows,
            chains,
            n_betas,
        }
    }

    /// Number of scored rows.
    pub fn rows(&self) -> usize {
        self.log_z_rows.len()
    }

    /// Is the effective sample size below [`LOW_ESS_FRACTION`](crate::estimate::metrics::LOW_ESS_FRACTION)
    /// of the rows (the interval is then not to be trusted)?
    pub fn low_ess(&self) -> bool {
        is_low_ess(self.ess, self.rows())
    }
}

/// The RAISE estimator: a checked [`RaiseConfig`].
#[derive(Clone, Debug)]
pub struct Raise {
    config: RaiseConfig,
    betas: Vec<f64>,
}

impl Raise {
    /// An estimator for `config` (checked).
    pub fn new(config: RaiseConfig) -> Result<Self> {
        config.validate()?;
        let betas = config.schedule.betas()?;
        Ok(Raise { config, betas })
    }

    /// The configuration.
    pub fn config(&self) -> &RaiseConfig {
        &self.config
    }

    /// The temperatures.
    pub fn betas(&self) -> &[f64] {
        &self.betas
    }

    /// RAISE on every row of `data` (binary rows: the bound is on the probability of a
    /// binary vector), annealing from `rbm` to `base`. The memory of the chains is checked
    /// against the cap first.
    pub fn estimate<T: Float>(
        &self,
        rbm: &Rbm<T>,
        base: &AisBase,
        data: MatRef<'_, T>,
    ) -> Result<RaiseEstimate> {
        let mean_free_energy = checked_mean_free_energy(rbm, data)?;
        let path = Path::new(rbm, base)?;
        let cfg = &self.config;
        let (rows, chains) = (data.nrows(), cfg.chains);
        let total = rows.checked_mul(chains).ok_or_else(|| {
            Error::param("chains", "rows x chains overflows the number of chains")
        })?;
        let units = (rbm.n_visible() + rbm.n_hidden()) as u128;
        let per_chain = units * (2 * std::mem::size_of::<T>() as u128 + 4) + 24;
        crate::memory::check(
            format!("RAISE with {rows} rows x {chains} reverse chains"),
            total as u128 * per_chain,
        )?;
        let neg = run_chunks(total, cfg.chunk_rows, |c, first, n, par| {
            let mut rng = stream_rng(cfg.seed, STREAM_OFFSET + c as u64);
            let start = Mat::from_fn(n, data.ncols(), |r, i| data[((first + r) / chains, i)]);
            reverse_chunk(&path, &self.betas, start, &mut rng, par)
        });
        // neg = -sum_k [f_{k+1}(x_k) - f_k(x_k)] per chain; ln Z_i = ln Z_A - lme_c(neg).
        let log_z_base = base.log_partition(rbm.n_hidden());
        let log_z_rows = neg
            .chunks(chains)
            .map(|c| log_z_base - log_mean_exp(c))
            .collect();
        Ok(RaiseEstimate::from_log_z_rows(
            log_z_rows,
            mean_free_energy,
            chains,
            self.betas.len(),
        ))
    }
}

/// `ln mean exp(x)`, stably.
fn log_mean_exp(x: &[f64]) -> f64 {
    let top = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if top == f64::NEG_INFINITY || x.len() == 1 {
        return top;
    }
    top + (x.iter().map(|v| (v - top).exp()).sum::<f64>() / x.len() as f64).ln()
}

/// The reverse chains started at the rows of `v` (`x_K`); returns, per chain,
/// `sum_{k=0..K-1} [f_k(x_k) - f_{k+1}(x_k)]`.
fn reverse_chunk<T: Float>(
    p: &Path<'_, T>,
    betas: &[f64],
    mut v: Mat<T>,
    rng: &mut Rng,
    par: Par,
) -> Vec<f64> {
    let (rows, nv, nh) = (v.nrows(), p.w.nrows(), p.w.ncols());
    let mut x = Mat::<T>::zeros(rows, nh);
    let mut h = Mat::<T>::zeros(rows, nh);
    let mut y = Mat::<T>::zeros(rows, nv);
    let mut u_h = vec![0u32; rows * nh];
    let mut u_v = vec![0u32; rows * nv];
    let mut dvis = vec![0.0f64; rows];
    let mut acc = vec![0.0f64; rows];
    let mut unused = vec![0.0f64; rows];
    let mut products = Products::new(p, par);
    let k_max = betas.len() - 1;
    // X = x_K W.
    products.hidden_fields(x.as_mut(), v.as_ref());
    for k in (1..=k_max).rev() {
        let bk = betas[k];
        // h ~ p_k(h | x_k); for k < K the same field adds x_k's hidden part of
        // f_k(x_k) - f_{k+1}(x_k) (x_K = v has no term).
        let (above, out) = if k == k_max {
            (bk, &mut unused)
        } else {
            (betas[k + 1], &mut acc)
        };
        rng.fill(&mut u_h[..]);
        for j in 0..nh {
            hidden_step(
                x.col_as_slice(j),
                p.b[j],
                bk,
                above,
                &u_h[j * rows..(j + 1) * rows],
                h.col_as_slice_mut(j),
                out,
            );
        }
        // x_{k-1} ~ p_k(v | h), with its visible part (beta_{k-1} - beta_k) c.x_{k-1}.
        products.visible_fields(y.as_mut(), h.as_ref(), bk);
        sample_visible(p, &y, bk, &mut u_v, &mut v, &mut dvis, rng);
        let db = betas[k - 1] - bk;
        for (a, d) in acc.iter_mut().zip(&dvis) {
            *a += db * d;
        }
        products.hidden_fields(x.as_mut(), v.as_ref());
    }
    // x_0's hidden part: sp(beta_0 t) - sp(beta_1 t).
    for j in 0..nh {
        hidden_weight(x.col_as_slice(j), p.b[j], betas[0], betas[1], &mut acc);
    }
    acc
}

/// The fixed random subset of `max_rows` of `n_rows` row indices that the log-likelihood
/// reports score (all of them, in order, when `n_rows <= max_rows`), sorted. It depends on
/// `n_rows` and `max_rows` only (drawn from `rng(SUBSET_SEED)`), so every estimator, model,
/// method and seed scores the same rows of a data set.
///
/// ```
/// use emf_rbm::estimate::raise::scored_rows;
/// assert_eq!(scored_rows(3, 10), vec![0, 1, 2]);
/// let a = scored_rows(1000, 10);
/// assert_eq!(a, scored_rows(1000, 10));
/// assert!(a.len() == 10 && a.windows(2).all(|w| w[0] < w[1]) && a[9] < 1000);
/// ```
pub fn scored_rows(n_rows: usize, max_rows: usize) -> Vec<usize> {
    if n_rows <= max_rows {
        return (0..n_rows).collect();
    }
    let mut rng = crate::rng::rng(SUBSET_SEED);
    let mut idx = rand::seq::index::sample(&mut rng, n_rows, max_rows).into_vec();
    idx.sort_unstable();
    idx
}

/// Seed of [`scored_rows`].
pub const SUBSET_SEED: u64 = 0x5ca1ab1e;

/// The rows `rows` of `data`, as a new matrix.
pub fn select_rows<T: Float>(data: MatRef<'_, T>, rows: &[usize]) -> Mat<T> {
    Mat::from_fn(rows.len(), data.ncols(), |r, i| data[(rows[r], i)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_mean_exp_is_stable() {
        assert_eq!(log_mean_exp(&[3.0]), 3.0);
        assert!((log_mean_exp(&[0.0, 0.0]) - 0.0).abs() < 1e-15);
        let x = log_mean_exp(&[1000.0, 1000.0 + 2f64.ln()]);
        assert!((x - (1000.0 + 1.5f64.ln())).abs() < 1e-12);
    }
}
