//! How far a model trained on Ising samples is from the Ising model itself:
//! `KL(p_Ising || p_model)` per spin, estimated on samples of the torus.
//!
//! With `-ln p_Ising(v) = beta H(s) + ln Z_Ising` (`s = 2v - 1`, `ln Z_Ising` exact for the
//! finite torus: [`exact_finite`]) and `-ln p_model(v) = F(v) + ln Z_model` (the model's free
//! energy and its exact or AIS `ln Z`), the divergence is the mean over samples of `p_Ising`
//! of the difference `[-ln p_model(v)] - [-ln p_Ising(v)]`, divided by the number of spins.
//! Per-sample differences, not `F` and the entropy separately: their noise largely cancels.
//!
//! The standard error assumes independent samples (the samplers of this module space them by
//! several autocorrelation times); the model's `ln Z` interval is carried to the divergence
//! exactly (it enters linearly). The per-sample pairs `(-ln p_Ising, -ln p_model)` are kept:
//! plotted against each other they fall on the line of slope 1 through 0 when the model is
//! the Ising model.

use faer::Mat;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::ising::exact::exact_finite;
use crate::rbm::Rbm;
use crate::stack::LnZ;

/// `KL(p_Ising || p_model)` per spin on one temperature's samples (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct IsingDivergence {
    /// Linear size `L` of the torus.
    pub size: usize,
    /// Temperature.
    pub temperature: f64,
    /// Samples used.
    pub n_samples: usize,
    /// The estimate, nats per spin.
    pub per_spin: f64,
    /// Its standard error from the samples (the model's `ln Z` taken as exact).
    pub std_err: f64,
    /// The estimate at the lower and upper ends of the model's `ln Z` interval.
    pub per_spin_range: (f64, f64),
    /// The torus's exact `ln Z`.
    pub ln_z_ising: f64,
    /// Least-squares slope of `-ln p_model` on `-ln p_Ising` over the samples (1 when the
    /// model is the Ising model; `NaN` when every sample has the same energy).
    pub slope: f64,
    /// Per sample: `(-ln p_Ising(v), -ln p_model(v))`, nats.
    pub neg_log_probs: Vec<(f64, f64)>,
}

/// `beta H(s)` of one `{0,1}` row of an `L x L` torus (`J = 1`, each bond once, `s = 2v - 1`).
pub fn reduced_energy(v: &[f64], l: usize, temperature: f64) -> f64 {
    let s = |i: usize| if v[i] > 0.5 { 1.0 } else { -1.0 };
    let mut e = 0.0;
    for r in 0..l {
        for c in 0..l {
            let x = s(r * l + c);
            e -= x * (s(r * l + (c + 1) % l) + s(((r + 1) % l) * l + c));
        }
    }
    e / temperature
}

/// `KL(p_Ising || p_model)` per spin of `model` (on the `L x L` torus's `L^2` units) at
/// `temperature`, from `samples` of the Ising model there and the model's `ln_z_model`.
///
/// ```
/// use emf_rbm::ising::{divergence::ising_divergence, sample_ising, IsingConfig};
/// use emf_rbm::estimate::exact::log_partition;
/// use emf_rbm::stack::{LnZ, LnZMethod};
/// use emf_rbm::{rng, Rbm};
/// let samples = sample_ising(&IsingConfig { seed: 1, ..IsingConfig::new(3, 3.0, 200) }).unwrap();
/// let model = Rbm::<f64>::random(9, 4, 0.1, &mut rng::rng(1)).unwrap();
/// let ln_z = log_partition(&model).unwrap();
/// let exact = LnZ { value: ln_z, lower: ln_z, upper: ln_z, method: LnZMethod::Exact };
/// let kl = ising_divergence(&model, &samples.dataset, 3, 3.0, &exact).unwrap();
/// assert!(kl.per_spin > 0.0 && kl.per_spin < 2f64.ln());
/// ```
pub fn ising_divergence<T: Float>(
    model: &Rbm<T>,
    samples: &Dataset,
    l: usize,
    temperature: f64,
    ln_z_model: &LnZ,
) -> Result<IsingDivergence> {
    let n = l * l;
    if model.n_visible() != n || samples.n_features() != n {
        return Err(Error::Shape(format!(
            "an {l} x {l} torus has {n} spins; the model has {} visible units, the samples {} \
             columns",
            model.n_visible(),
            samples.n_features()
        )));
    }
    let rows = samples.n_samples();
    if rows < 2 {
        return Err(Error::param(
            "samples",
            format!("need at least 2 samples for a standard error, got {rows}"),
        ));
    }
    if !ln_z_model.value.is_finite() {
        return Err(Error::param(
            "ln_z_model",
            format!("must be finite, got {}", ln_z_model.value),
        ));
    }
    let ln_z_ising = exact_finite(l, temperature)?.ln_z;
    let data = samples.as_slice();
    let v = Mat::<T>::from_fn(rows, n, |r, i| T::of(data[r * n + i]));
    let free = model.free_energy(v.as_ref());
    let neg_log_probs: Vec<(f64, f64)> = (0..rows)
        .map(|r| {
            let ising = reduced_energy(&data[r * n..(r + 1) * n], l, temperature) + ln_z_ising;
            (ising, free[r] + ln_z_model.value)
        })
        .collect();
    let diffs: Vec<f64> = neg_log_probs.iter().map(|&(i, m)| m - i).collect();
    let mean = diffs.iter().sum::<f64>() / rows as f64;
    let var = diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (rows - 1) as f64;
    let shift = |z: f64| (mean + z - ln_z_model.value) / n as f64;
    let (mx, my) = neg_log_probs
        .iter()
        .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
    let (mx, my) = (mx / rows as f64, my / rows as f64);
    let (sxy, sxx) = neg_log_probs.iter().fold((0.0, 0.0), |(a, b), &(x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    Ok(IsingDivergence {
        size: l,
        temperature,
        n_samples: rows,
        per_spin: mean / n as f64,
        std_err: (var / rows as f64).sqrt() / n as f64,
        per_spin_range: (shift(ln_z_model.lower), shift(ln_z_model.upper)),
        ln_z_ising,
        slope: if sxx > 0.0 { sxy / sxx } else { f64::NAN },
        neg_log_probs,
    })
}
