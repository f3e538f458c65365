//! Annealed Importance Sampling (AIS) estimate of `ln Z` (Neal 2001; Salakhutdinov & Murray,
//! ICML 2008), and the test-set log-likelihood it implies.
//!
//! # The path
//! The base model `A` has `W = 0`, hidden biases `0` and visible biases `a_A` (smoothed data
//! log-odds, see [`AisBase`]), so `ln Z_A = sum_i softplus(a_A,i) + n_hidden ln 2` is exact.
//! For `0 = beta_0 <= beta_1 <= ... <= beta_K = 1` the intermediate distributions are
//!
//! ```text
//! p_k(v) ∝ exp(f_k(v)),  f_k(v) = (1 - beta_k) a_A.v + beta_k a.v + sum_j softplus(beta_k (b_j + (W^T v)_j))
//! ```
//!
//! (at `beta = 0` the hidden factor is the constant `2^n_hidden` of the base's hidden layer;
//! at `beta = 1`, `f_K = -F`). Each run draws `v_1 ~ p_0` exactly, then for `k = 1..K`
//! adds `f_k(v_k) - f_{k-1}(v_k)` to its log-weight and (for `k < K`) makes one Gibbs
//! transition at `beta_k` (`h ~ p_k(h | v)`, then `v ~ p_k(v | h)`) that leaves `p_k`
//! invariant. Then `E[w] = Z / Z_A`, and the estimate is `ln Z_A + ln mean(w)`.
//!
//! # Cost
//! The `M` runs are the rows of one batch (or of a few fixed-size chunks, processed in
//! parallel with rayon). Every temperature costs two GEMMs (`V W`, shared by the weight update
//! and the `h` draw, and `beta H W^T`) plus fused, AVX-dispatched elementwise kernels; all
//! buffers are allocated once per chunk. Chunk `c` draws from `stream_rng(seed, c)`, so the
//! result depends on `(seed, runs, chunk_runs, schedule)` but not on the number of threads.
//! Bernoulli draws compare 32-bit uniforms (`u = k / 2^32`) with the probabilities, a bias of
//! at most `2^-32` per unit and step.
//!
//! Sampling runs in the model's float type `T`; log-weights are accumulated in `f64`.
//! AIS underestimates `ln Z` in expectation (Jensen), so it tends to overestimate likelihoods.
//!
//! ```
//! use emf_rbm::{Rbm, data::Dataset, rng, estimate::exact};
//! use emf_rbm::estimate::ais::{Ais, AisBase, AisConfig, BetaSchedule};
//!
//! let data = Dataset::digits().binarize(0.5);
//! let rbm = Rbm::<f64>::random(64, 8, 0.3, &mut rng::rng(1)).unwrap();
//! let ais = Ais::new(AisConfig {
//!     schedule: BetaSchedule::Count(2000),
//!     ..AisConfig::default()
//! })
//! .unwrap();
//! let est = ais.estimate(&rbm, &AisBase::from_data(&data, 0.05).unwrap()).unwrap();
//! let exact = exact::log_partition(&rbm).unwrap();
//! assert!(est.log_z_lower <= exact && exact <= est.log_z_upper);
//! let ll = est.log_likelihood(&rbm, data.to_mat::<f64>().as_ref()).unwrap();
//! assert!(ll.lower <= ll.mean && ll.mean <= ll.upper);
//! ```

use faer::{Mat, MatRef, Par};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::checked::checked_builder;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::estimate::path::{
    hidden_step, hidden_weight, run_chunks, sample_visible, Path, Products,
};
use crate::float::Float;
use crate::linalg::softplus;
use crate::rbm::Rbm;
use crate::rng::{stream_rng, Rng};

/// Number of temperatures of the standard schedule (Salakhutdinov & Murray 2008).
pub const STANDARD_BETAS: usize = 14_500;

/// The inverse temperatures `0 = beta_0 <= ... <= beta_K = 1` of the annealing path.
///
/// ```
/// use emf_rbm::estimate::ais::BetaSchedule;
/// let b = BetaSchedule::Standard.betas().unwrap();
/// assert_eq!(b.len(), 14_500);
/// assert_eq!((b[0], b[500], b[14_499]), (0.0, 0.5, 1.0));
/// assert!(b[4499] < 0.9 && b[4500] > 0.9); // the last segment is (0.9, 1]
/// assert_eq!(BetaSchedule::Count(3).betas().unwrap(), vec![0.0, 0.5, 1.0]);
/// assert!(BetaSchedule::Explicit(vec![0.0, 0.7, 0.6, 1.0]).betas().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum BetaSchedule {
    /// 14 500 temperatures: 500 evenly spaced in `[0, 0.5)`, 4 000 in `[0.5, 0.9)` and
    /// 10 000 in `(0.9, 1]` (steps 1e-3, 1e-4, 1e-5). The default.
    #[default]
    Standard,
    /// `n >= 3` temperatures (including 0 and 1) split over the three segments of the
    /// standard schedule in its proportions 500 : 4 000 : 10 000 (each segment gets at least
    /// one). `Count(14_500)` is the standard schedule.
    Count(usize),
    /// Explicit temperatures: finite, non-decreasing, starting at exactly 0 and ending at
    /// exactly 1, at least two.
    Explicit(Vec<f64>),
}

impl BetaSchedule {
    /// The temperatures, checked.
    pub fn betas(&self) -> Result<Vec<f64>> {
        match self {
            BetaSchedule::Standard => Ok(segmented(500, 4000, 10_000)),
            BetaSchedule::Count(n) => {
                let n = *n;
                if n < 3 {
                    return Err(Error::param(
                        "schedule",
                        format!("a beta count needs at least 3 temperatures, got {n}"),
                    ));
                }
                let total = STANDARD_BETAS as f64;
                let n1 = ((n as f64 * 500.0 / total).round() as usize).max(1);
                let n2 = ((n as f64 * 4000.0 / total).round() as usize).max(1);
                let n3 = n.saturating_sub(n1 + n2).max(1);
                let n2 = n - n1 - n3;
                Ok(segmented(n1, n2, n3))
            }
            BetaSchedule::Explicit(b) => {
                let ok = b.len() >= 2
                    && b[0] == 0.0
                    && b[b.len() - 1] == 1.0
                    && b.iter().all(|x| x.is_finite())
                    && b.windows(2).all(|w| w[0] <= w[1]);
                if !ok {
                    return Err(Error::param(
                        "schedule",
                        "explicit betas must be finite, non-decreasing, from exactly 0 to \
                         exactly 1, at least two",
                    ));
                }
                Ok(b.clone())
            }
        }
    }
}

/// `n1` values in `[0, 0.5)`, `n2` in `[0.5, 0.9)` (both starting at the left end) and `n3`
/// in `(0.9, 1]` (ending at 1); `n2` may be 0.
fn segmented(n1: usize, n2: usize, n3: usize) -> Vec<f64> {
    let mut b = Vec::with_capacity(n1 + n2 + n3);
    b.extend((0..n1).map(|i| 0.5 * i as f64 / n1 as f64));
    b.extend((0..n2).map(|i| 0.5 + 0.4 * i as f64 / n2 as f64));
    b.extend((1..=n3).map(|i| 0.9 + 0.1 * i as f64 / n3 as f64));
    let last = b.len() - 1;
    b[last] = 1.0;
    b
}

/// Settings of an AIS estimate.
///
/// ```
/// use emf_rbm::estimate::ais::{AisConfig, BetaSchedule};
/// let cfg = AisConfig { runs: 400, seed: 7, ..AisConfig::default() };
/// assert_eq!(cfg.schedule, BetaSchedule::Standard);
/// assert_eq!(cfg.chunk_runs, 50);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AisConfig {
    /// Temperatures (default: the standard 14 500).
    pub schedule: BetaSchedule,
    /// Number of independent runs `M` (default 100, at least 2).
    pub runs: usize,
    /// Runs per chunk (default 50). Chunks are processed in parallel, each with its own
    /// random stream; the result depends on this value but not on the thread count.
    pub chunk_runs: usize,
    /// Seed of all random draws.
    pub seed: u64,
}

impl Default for AisConfig {
    fn default() -> Self {
        AisConfig {
            schedule: BetaSchedule::Standard,
            runs: 100,
            chunk_runs: 50,
            seed: 0,
        }
    }
}

impl AisConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.runs < 2 {
            return Err(Error::param(
                "runs",
                format!(
                    "AIS needs at least 2 runs for its interval, got {}",
                    self.runs
                ),
            ));
        }
        if self.chunk_runs == 0 {
            return Err(Error::param("chunk_runs", "must be at least 1"));
        }
        self.schedule.betas().map(|_| ())
    }
}

/// The base model of the path: `W = 0`, hidden biases `0`, visible biases `a`.
///
/// ```
/// use emf_rbm::{data::Dataset, estimate::ais::AisBase};
/// let base = AisBase::from_means(&[0.0, 0.5, 1.0], 0.05).unwrap();
/// assert!(base.a[0] < 0.0 && base.a[1] == 0.0 && base.a[2] > 0.0);
/// // ln Z_A = sum softplus(a) + n_hidden ln 2
/// let z = AisBase::from_biases(vec![0.0; 2]).unwrap().log_partition(3);
/// assert!((z - 5.0 * 2f64.ln()).abs() < 1e-12);
/// assert_eq!(AisBase::from_data(&Dataset::digits(), 0.05).unwrap().a.len(), 64);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AisBase {
    /// Visible biases `a_A` of the base model.
    pub a: Vec<f64>,
}

impl AisBase {
    /// Base rates from a data set's pixel means `m`, smoothed towards 1/2:
    /// `p = (m + smoothing) / (1 + 2 smoothing)`, `a_A = ln(p / (1 - p))`.
    ///
    /// `smoothing` must be in `(0, 1]`; 0.05 matches the reference AIS code of Salakhutdinov
    /// & Murray (5 pseudo-counts per 100-sample batch) and keeps the base wider than the data.
    pub fn from_data(data: &Dataset, smoothing: f64) -> Result<Self> {
        if data.is_empty() {
            return Err(Error::param(
                "data",
                "the data set for the AIS base rates is empty",
            ));
        }
        Self::from_means(&data.pixel_means(), smoothing)
    }

    /// Base rates from per-unit means in `[0, 1]` (see [`from_data`](Self::from_data)).
    pub fn from_means(means: &[f64], smoothing: f64) -> Result<Self> {
        if !(smoothing > 0.0 && smoothing <= 1.0) {
            return Err(Error::param(
                "smoothing",
                format!("must be in (0, 1], got {smoothing}"),
            ));
        }
        if let Some(m) = means.iter().find(|m| !(0.0..=1.0).contains(*m)) {
            return Err(Error::param("means", format!("{m} is not in [0, 1]")));
        }
        let a = means
            .iter()
            .map(|&m| {
                let p = (m + smoothing) / (1.0 + 2.0 * smoothing);
                (p / (1.0 - p)).ln()
            })
            .collect();
        Ok(AisBase { a })
    }

    /// A base with the given visible biases (finite).
    pub fn from_biases(a: Vec<f64>) -> Result<Self> {
        if a.iter().any(|x| !x.is_finite()) {
            return Err(Error::param("a", "base biases must be finite"));
        }
        Ok(AisBase { a })
    }

    /// Exact `ln Z_A = sum_i softplus(a_i) + n_hidden ln 2`.
    pub fn log_partition(&self, n_hidden: usize) -> f64 {
        self.a.iter().map(|&x| softplus(x)).sum::<f64>() + n_hidden as f64 * std::f64::consts::LN_2
    }
}

/// The result of an AIS run: `ln Z`, its interval, and the weights.
///
/// `log_z_lower` is `-inf` when `mean(w) - 3 sd(w) / sqrt(M) <= 0` (serialised as `null`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AisEstimate {
    /// `ln Z_A + ln mean(w)`.
    pub log_z: f64,
    /// `ln Z_A + ln(mean(w) - 3 sd(w) / sqrt(M))`, or `-inf` if that is not positive.
    pub log_z_lower: f64,
    /// `ln Z_A + ln(mean(w) + 3 sd(w) / sqrt(M))`.
    pub log_z_upper: f64,
    /// Exact `ln Z_A` of the base model.
    pub log_z_base: f64,
    /// Effective sample size of the weights, `(sum w)^2 / sum w^2`, in `[1, M]`.
    pub ess: f64,
    /// `ln w` of each run (relative to the base: `Z ≈ Z_A mean(w)`), in run order.
    pub log_weights: Vec<f64>,
    /// Number of temperatures used (including 0 and 1).
    pub n_betas: usize,
}

impl AisEstimate {
    /// Summarises per-run log-weights (`sd` is the sample standard deviation, `M - 1`).
    ///
    /// ```
    /// use emf_rbm::estimate::ais::AisEstimate;
    /// let e = AisEstimate::from_log_weights(1.0, vec![0.0, 0.0, 0.0], 10);
    /// assert_eq!((e.log_z, e.log_z_lower, e.log_z_upper, e.ess), (1.0, 1.0, 1.0, 3.0));
    /// let e = AisEstimate::from_log_weights(0.0, vec![0.0, 30.0], 10);
    /// assert_eq!(e.log_z_lower, f64::NEG_INFINITY);
    /// assert!((e.ess - 1.0).abs() < 1e-12);
    /// ```
    pub fn from_log_weights(log_z_base: f64, log_weights: Vec<f64>, n_betas: usize) -> Self {
        let m = log_weights.len();
        let top = log_weights
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let s: Vec<f64> = log_weights.iter().map(|&l| (l - top).exp()).collect();
        let sum: f64 = s.iter().sum();
        let sum2: f64 = s.iter().map(|x| x * x).sum();
        let mean = sum / m as f64;
        let var = if m > 1 {
            s.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (m - 1) as f64
        } else {
            f64::INFINITY
        };
        let half = 3.0 * (var / m as f64).sqrt();
        let shift = log_z_base + top;
        let lo = mean - half;
        AisEstimate {
            log_z: shift + mean.ln(),
            log_z_lower: if lo > 0.0 {
                shift + lo.ln()
            } else {
                f64::NEG_INFINITY
            },
            log_z_upper: shift + (mean + half).ln(),
            log_z_base,
            ess: sum * sum / sum2,
            log_weights,
            n_betas,
        }
    }

    /// Number of runs `M`.
    pub fn runs(&self) -> usize {
        self.log_weights.len()
    }

    /// Is the effective sample size below
    /// [`LOW_ESS_FRACTION`](crate::estimate::metrics::LOW_ESS_FRACTION) of the runs?
    pub fn low_ess(&self) -> bool {
        crate::estimate::metrics::is_low_ess(self.ess, self.runs())
    }

    /// Mean log-likelihood per sample (nats) of the rows of `data`, `-mean F(v) - ln Z`,
    /// with the interval carried over from `ln Z` (its upper end is `+inf` when
    /// `log_z_lower` is `-inf`).
    ///
    /// ```
    /// use emf_rbm::{Rbm, faer::Mat, estimate::ais::AisEstimate};
    /// let rbm = Rbm::<f64>::zeros(2, 1).unwrap();
    /// let est = AisEstimate::from_log_weights(3.0 * 2f64.ln(), vec![0.0, 0.0], 3);
    /// let ll = est.log_likelihood(&rbm, Mat::<f64>::zeros(4, 2).as_ref()).unwrap();
    /// assert!((ll.mean + 2.0 * 2f64.ln()).abs() < 1e-12); // uniform over 4 states
    /// ```
    pub fn log_likelihood<T: Float>(
        &self,
        rbm: &Rbm<T>,
        data: MatRef<'_, T>,
    ) -> Result<AisLogLikelihood> {
        let mean_free_energy = checked_mean_free_energy(rbm, data)?;
        Ok(AisLogLikelihood {
            mean: -mean_free_energy - self.log_z,
            lower: -mean_free_energy - self.log_z_upper,
            upper: -mean_free_energy - self.log_z_lower,
            mean_free_energy,
        })
    }
}

/// Mean log-likelihood per sample (nats) from an AIS estimate of `ln Z`, with its interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AisLogLikelihood {
    /// `-mean F(v) - ln Z`.
    pub mean: f64,
    /// `-mean F(v) - log_z_upper`.
    pub lower: f64,
    /// `-mean F(v) - log_z_lower` (`+inf` if that is `-inf`).
    pub upper: f64,
    /// `mean F(v)` over the samples.
    pub mean_free_energy: f64,
}

/// The AIS estimator: a checked [`AisConfig`].
///
/// ```
/// use emf_rbm::{Rbm, rng, estimate::{exact, ais::{Ais, AisBase, AisConfig, BetaSchedule}}};
/// let mut rbm = Rbm::<f32>::random(10, 6, 0.5, &mut rng::rng(4)).unwrap();
/// rbm.b[0] = 1.0;
/// let ais = Ais::new(AisConfig { schedule: BetaSchedule::Count(1000), ..Default::default() })
///     .unwrap();
/// let base = AisBase::from_biases(vec![0.0; 10]).unwrap();
/// let est = ais.estimate(&rbm, &base).unwrap();
/// assert_eq!(est.runs(), 100);
/// assert!((est.log_z - exact::log_partition(&rbm).unwrap()).abs() < 0.05);
/// ```
#[derive(Clone, Debug)]
pub struct Ais {
    config: AisConfig,
    betas: Vec<f64>,
}

impl Ais {
    /// An estimator for `config` (checked).
    pub fn new(config: AisConfig) -> Result<Self> {
        config.validate()?;
        let betas = config.schedule.betas()?;
        Ok(Ais { config, betas })
    }

    /// The configuration.
    pub fn config(&self) -> &AisConfig {
        &self.config
    }

    /// The temperatures.
    pub fn betas(&self) -> &[f64] {
        &self.betas
    }

    /// `ln Z` of `rbm` by AIS from `base`.
    pub fn estimate<T: Float>(&self, rbm: &Rbm<T>, base: &AisBase) -> Result<AisEstimate> {
        let path = Path::new(rbm, base)?;
        let cfg = &self.config;
        let log_weights = run_chunks(cfg.runs, cfg.chunk_runs, |c, _first, rows, par| {
            let mut rng = stream_rng(cfg.seed, c as u64);
            run_chunk(&path, &self.betas, rows, &mut rng, par)
        });
        Ok(AisEstimate::from_log_weights(
            base.log_partition(rbm.n_hidden()),
            log_weights,
            self.betas.len(),
        ))
    }

    /// `ln Z` of `rbm` by AIS, with the base rates of `data` (smoothing 0.05, see
    /// [`AisBase::from_data`]).
    ///
    /// ```
    /// use emf_rbm::{Rbm, data::Dataset, estimate::ais::{Ais, AisConfig, BetaSchedule}};
    /// let data = Dataset::digits().binarize(0.5);
    /// let rbm = Rbm::<f64>::zeros(64, 4).unwrap();
    /// let cfg = AisConfig { schedule: BetaSchedule::Count(100), runs: 10, ..Default::default() };
    /// let est = Ais::new(cfg).unwrap().estimate_with_data(&rbm, &data).unwrap();
    /// assert_eq!(est.n_betas, 100);
    /// // W = 0, a = 0, b = 0: Z = 2^(64 + 4) exactly.
    /// assert!((est.log_z - 68.0 * 2f64.ln()).abs() < 0.5);
    /// ```
    pub fn estimate_with_data<T: Float>(
        &self,
        rbm: &Rbm<T>,
        data: &Dataset,
    ) -> Result<AisEstimate> {
        self.estimate(rbm, &AisBase::from_data(data, 0.05)?)
    }
}

/// Mean free energy of the rows of `data` (blocks of 1000 rows), after checking its width
/// against the model and that it has rows.
pub(super) fn checked_mean_free_energy<T: Float>(rbm: &Rbm<T>, data: MatRef<'_, T>) -> Result<f64> {
    if data.ncols() != rbm.n_visible() {
        return Err(Error::Shape(format!(
            "data has {} columns but the model has {} visible units",
            data.ncols(),
            rbm.n_visible()
        )));
    }
    if data.nrows() == 0 {
        return Err(Error::param("data", "no samples to evaluate"));
    }
    const BLOCK: usize = 1000;
    let mut sum = 0.0;
    let mut start = 0;
    while start < data.nrows() {
        let n = BLOCK.min(data.nrows() - start);
        sum += rbm.free_energy(data.subrows(start, n)).iter().sum::<f64>();
        start += n;
    }
    Ok(sum / data.nrows() as f64)
}

/// `M` runs as the rows of one batch; returns their log-weights.
fn run_chunk<T: Float>(
    p: &Path<'_, T>,
    betas: &[f64],
    rows: usize,
    rng: &mut Rng,
    par: Par,
) -> Vec<f64> {
    let (nv, nh) = (p.w.nrows(), p.w.ncols());
    let mut v = Mat::<T>::zeros(rows, nv);
    let mut x = Mat::<T>::zeros(rows, nh);
    let mut h = Mat::<T>::zeros(rows, nh);
    let mut y = Mat::<T>::zeros(rows, nv);
    let mut u_h = vec![0u32; rows * nh];
    let mut u_v = vec![0u32; rows * nv];
    let mut dvis = vec![0.0f64; rows];
    let mut logw = vec![0.0f64; rows];
    let mut products = Products::new(p, par);

    // v_1 ~ p_0 (the base), with y = 0; dvis <- c.v.
    sample_visible(p, &y, 0.0, &mut u_v, &mut v, &mut dvis, rng);
    let k_max = betas.len() - 1;
    for k in 1..=k_max {
        let (bk, bp) = (betas[k], betas[k - 1]);
        // X = V W: shared by f_k - f_{k-1} and the h draw at beta_k.
        products.hidden_fields(x.as_mut(), v.as_ref());
        let db = bk - bp;
        for (l, d) in logw.iter_mut().zip(&dvis) {
            *l += db * d;
        }
        if k == k_max {
            for j in 0..nh {
                hidden_weight(x.col_as_slice(j), p.b[j], bk, bp, &mut logw);
            }
            break;
        }
        rng.fill(&mut u_h[..]);
        for j in 0..nh {
            hidden_step(
                x.col_as_slice(j),
                p.b[j],
                bk,
                bp,
                &u_h[j * rows..(j + 1) * rows],
                h.col_as_slice_mut(j),
                &mut logw,
            );
        }
        // Y = beta_k H W^T; then v ~ s(a_A + beta_k c + Y).
        products.visible_fields(y.as_mut(), h.as_ref(), bk);
        sample_visible(p, &y, bk, &mut u_v, &mut v, &mut dvis, rng);
    }
    logw
}

checked_builder!(
    /// Builder of [`AisConfig`] (starts from the defaults; `build()` checks every value).
    AisConfigBuilder for AisConfig {
        /// Temperatures (default: the standard 14 500).
        schedule: BetaSchedule,
        /// Number of independent runs `M` (default 100, at least 2).
        runs: usize,
        /// Runs per chunk (default 50).
        chunk_runs: usize,
        /// Seed of all random draws.
        seed: u64,
    }
);
