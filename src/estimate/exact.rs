//! Exact partition function and log-likelihood by enumerating the smaller layer.
//!
//! `ln Z = logsumexp_h [ b.h + sum_i softplus(a_i + (W h)_i) ]` over the `2^n` states of the
//! enumerated layer, visited in Gray-code order so the field vector changes by one column of
//! `W` per state. The `2^n` states are split into chunks summed in parallel with rayon; the
//! chunk results are combined in a fixed order, so the value does not depend on the number of
//! threads. Everything is in `f64`.

use faer::MatRef;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::linalg::kernels;
use crate::rbm::Rbm;

/// The largest layer this module will enumerate (2^30 states x n terms is already minutes).
pub const MAX_ENUMERATED_UNITS: usize = 30;

/// Which layer is summed over explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enumerate {
    /// The smaller layer (ties: hidden).
    Smaller,
    /// Sum over visible states (the hidden layer is summed analytically).
    Visible,
    /// Sum over hidden states.
    Hidden,
}

/// Running log-sum-exp accumulator.
#[derive(Clone, Copy, Debug)]
struct Lse {
    max: f64,
    sum: f64,
}

impl Lse {
    fn new() -> Self {
        Lse {
            max: f64::NEG_INFINITY,
            sum: 0.0,
        }
    }
    #[inline]
    fn push(&mut self, x: f64) {
        if x <= self.max {
            self.sum += (x - self.max).exp();
        } else {
            self.sum = self.sum * (self.max - x).exp() + 1.0;
            self.max = x;
        }
    }
    fn merge(mut self, o: Lse) -> Self {
        if o.max == f64::NEG_INFINITY {
            return self;
        }
        if o.max <= self.max {
            self.sum += o.sum * (o.max - self.max).exp();
        } else {
            self.sum = self.sum * (self.max - o.max).exp() + o.sum;
            self.max = o.max;
        }
        self
    }
    fn value(self) -> f64 {
        self.max + self.sum.ln()
    }
}

/// `ln Z` of `rbm`, enumerating the smaller layer.
///
/// ```
/// use emf_rbm::{Rbm, estimate::exact};
/// // W = 0: ln Z = sum softplus(a) + sum softplus(b).
/// let mut rbm = Rbm::<f64>::zeros(3, 2).unwrap();
/// rbm.a = vec![0.5, -1.0, 2.0];
/// let sp = |x: f64| (1.0 + x.exp()).ln();
/// let want = sp(0.5) + sp(-1.0) + sp(2.0) + 2.0 * sp(0.0);
/// assert!((exact::log_partition(&rbm).unwrap() - want).abs() < 1e-12);
/// ```
pub fn log_partition<T: Float>(rbm: &Rbm<T>) -> Result<f64> {
    log_partition_by(rbm, Enumerate::Smaller)
}

/// `ln Z` enumerating the chosen layer.
pub fn log_partition_by<T: Float>(rbm: &Rbm<T>, side: Enumerate) -> Result<f64> {
    let enumerate_hidden = match side {
        Enumerate::Smaller => rbm.n_hidden() <= rbm.n_visible(),
        Enumerate::Hidden => true,
        Enumerate::Visible => false,
    };
    // Work on the f64 model whose "hidden" side is the enumerated one.
    let m: Rbm<f64> = if enumerate_hidden {
        rbm.cast()
    } else {
        rbm.transpose().cast()
    };
    let n = m.n_hidden();
    if n > MAX_ENUMERATED_UNITS {
        return Err(Error::Infeasible(format!(
            "exact ln Z needs 2^{n} states (smaller layer has {n} units; limit {MAX_ENUMERATED_UNITS})"
        )));
    }
    let nv = m.n_visible();
    // W^T columns as contiguous rows: wcol[j] = W[:, j].
    let wcol: Vec<Vec<f64>> = (0..n)
        .map(|j| (0..nv).map(|i| m.w[(i, j)]).collect())
        .collect();
    let chunk_bits = n.min(12);
    let n_chunks = 1usize << (n - chunk_bits);
    let lse = (0..n_chunks)
        .into_par_iter()
        .map(|c| {
            let start = c << chunk_bits;
            // Gray code of `start`: g = start ^ (start >> 1).
            let g = start ^ (start >> 1);
            let mut field = m.a.clone();
            let mut bh = 0.0;
            for (j, wc) in wcol.iter().enumerate() {
                if g >> j & 1 == 1 {
                    bh += m.b[j];
                    for (f, w) in field.iter_mut().zip(wc) {
                        *f += w;
                    }
                }
            }
            let mut state = g;
            let mut acc = Lse::new();
            for t in 0..(1usize << chunk_bits) {
                if t > 0 {
                    // Gray code step from index start+t-1 to start+t flips the lowest set bit
                    // of (start + t).
                    let j = (start + t).trailing_zeros() as usize;
                    let on = state >> j & 1 == 0;
                    state ^= 1 << j;
                    let s = if on { 1.0 } else { -1.0 };
                    bh += s * m.b[j];
                    for (f, w) in field.iter_mut().zip(&wcol[j]) {
                        *f += s * w;
                    }
                }
                acc.push(bh + kernels::softplus_total(&field));
            }
            acc
        })
        .collect::<Vec<_>>()
        .into_iter()
        .fold(Lse::new(), Lse::merge);
    Ok(lse.value())
}

/// Exact `ln p(v) = -F(v) - ln Z` of each row of `data`, given `ln Z`.
pub fn log_likelihood_with<T: Float>(rbm: &Rbm<T>, data: MatRef<'_, T>, ln_z: f64) -> Vec<f64> {
    rbm.free_energy(data)
        .into_iter()
        .map(|f| -f - ln_z)
        .collect()
}

/// Mean exact log-likelihood per sample (nats) of the rows of `data`.
pub fn mean_log_likelihood<T: Float>(rbm: &Rbm<T>, data: MatRef<'_, T>) -> Result<f64> {
    let ln_z = log_partition(rbm)?;
    let ll = log_likelihood_with(rbm, data, ln_z);
    Ok(ll.iter().sum::<f64>() / ll.len().max(1) as f64)
}

/// Is exact enumeration feasible within `max_units` for this model?
pub fn feasible<T: Float>(rbm: &Rbm<T>, max_units: usize) -> bool {
    rbm.n_visible().min(rbm.n_hidden()) <= max_units.min(MAX_ENUMERATED_UNITS)
}
