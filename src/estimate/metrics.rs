//! Cheap per-epoch metrics: reconstruction error, pseudo-log-likelihood, free-energy gap.

use faer::{Mat, MatRef};
use rand::Rng as _;

use crate::float::Float;
use crate::rbm::Rbm;
use crate::rng::Rng;

/// Mean squared error per unit between `v` and its mean-field reconstruction
/// `P(v | P(h | v))`.
pub fn reconstruction_error<T: Float>(rbm: &Rbm<T>, data: MatRef<'_, T>) -> f64 {
    let ph = rbm.hidden_probs(data);
    let pv = rbm.visible_probs(ph.as_ref());
    let mut s = 0.0;
    for i in 0..data.ncols() {
        for r in 0..data.nrows() {
            let d = data[(r, i)].as_f64() - pv[(r, i)].as_f64();
            s += d * d;
        }
    }
    s / (data.nrows() * data.ncols()).max(1) as f64
}

/// Stochastic pseudo-log-likelihood per sample: `nv ln sigmoid(F(v~) - F(v))` with one random
/// bit of each row flipped (`v~`). Meaningful for binary data.
pub fn pseudo_log_likelihood<T: Float>(rbm: &Rbm<T>, data: MatRef<'_, T>, rng: &mut Rng) -> f64 {
    let nv = data.ncols();
    let mut flipped = Mat::from_fn(data.nrows(), nv, |r, i| data[(r, i)]);
    for r in 0..data.nrows() {
        let i = rng.random_range(0..nv);
        flipped[(r, i)] = T::of(1.0) - flipped[(r, i)];
    }
    let f = rbm.free_energy(data);
    let ff = rbm.free_energy(flipped.as_ref());
    let mut s = 0.0;
    for (a, b) in f.iter().zip(&ff) {
        // ln sigmoid(x) = -softplus(-x)
        s -= crate::linalg::softplus(-(b - a));
    }
    nv as f64 * s / f.len().max(1) as f64
}

/// Hinton's overfitting monitor: mean free energy of a training subset and of held-out data,
/// and their gap (`held-out - train`; ln Z cancels). A growing positive gap means overfitting.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FreeEnergyGap {
    /// Mean F over the training subset.
    pub train: f64,
    /// Mean F over the held-out data.
    pub held_out: f64,
    /// `held_out - train`.
    pub gap: f64,
}

/// Computes the [`FreeEnergyGap`].
pub fn free_energy_gap<T: Float>(
    rbm: &Rbm<T>,
    train: MatRef<'_, T>,
    held_out: MatRef<'_, T>,
) -> FreeEnergyGap {
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let t = mean(rbm.free_energy(train));
    let h = mean(rbm.free_energy(held_out));
    FreeEnergyGap {
        train: t,
        held_out: h,
        gap: h - t,
    }
}

/// Mean of the free energies of the rows.
pub fn mean_free_energy<T: Float>(rbm: &Rbm<T>, data: MatRef<'_, T>) -> f64 {
    let f = rbm.free_energy(data);
    f.iter().sum::<f64>() / f.len().max(1) as f64
}
