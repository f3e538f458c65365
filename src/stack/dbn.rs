//! The stack as a deep belief network (Hinton, Osindero & Teh 2006), by exact enumeration:
//! the top layer is an undirected RBM, the layers below are directed `p(level l-1 | level l)`.
//!
//! Adding a layer on top of RBM 1 replaces its hidden prior `p1(h)` by the upper network's
//! marginal `p_up(h)`. For every `v`, with `q(h | v)` the factorial posterior of RBM 1,
//!
//! ```text
//! ln p(v) >= E_q[ln p1(v | h) + ln p_up(h)] + H[q(h | v)],
//! ```
//!
//! with equality when `p_up = p1`'s own hidden marginal (e.g. layer 2 = layer 1 transposed);
//! the gap is `KL(q(h | v) || p(h | v))`.

use faer::MatRef;

use crate::error::{Error, Result};
use crate::estimate::exact;
use crate::float::Float;
use crate::linalg::{log_sum_exp, softplus};
use crate::rbm::Rbm;
use crate::stack::Stack;

/// Largest level [`Stack::dbn_log_likelihood`] enumerates (`2^20` states).
pub const MAX_DBN_UNITS: usize = 20;
/// Largest `n_l + n_{l+1}` of two adjacent enumerated levels.
const MAX_PAIR_BITS: usize = 26;

impl<T: Float> Stack<T> {
    /// `ln p(v)` of each row of `data` (level-0 values) under the deep belief network the
    /// stack defines, by exact enumeration of every level above the data. For one layer it is
    /// the RBM's `-F(v) - ln Z`.
    ///
    /// Errors: [`Error::Infeasible`] when a level strictly between the data and the top has
    /// more than [`MAX_DBN_UNITS`] units, or the top RBM is too large for an exact ln Z;
    /// [`Error::Shape`] when `data` has the wrong width.
    pub fn dbn_log_likelihood(&self, data: MatRef<'_, f64>) -> Result<Vec<f64>> {
        let layers = self.f64_layers(data, false)?;
        if layers.len() == 1 {
            let z = exact::log_partition(&layers[0])?;
            return Ok(layers[0]
                .free_energy(data)
                .into_iter()
                .map(|f| -f - z)
                .collect());
        }
        let prior = level_log_marginal(&layers, 1)?;
        let fields = visible_fields(&layers[0]);
        Ok((0..data.nrows())
            .map(|r| {
                let v: Vec<f64> = (0..data.ncols()).map(|i| data[(r, i)]).collect();
                let terms: Vec<f64> = fields
                    .iter()
                    .zip(&prior)
                    .map(|(x, lp)| log_cond(&v, x) + lp)
                    .collect();
                log_sum_exp(&terms)
            })
            .collect())
    }

    /// The variational lower bound on `ln p(v)` of each row of `data`:
    /// `E_q[ln p1(v | h) + ln p_up(h)] + H[q]`, with `q(h | v)` the posterior of layer 1 and
    /// `p_up` the marginal of level 1 under the layers above (for a single layer: layer 1's
    /// own hidden marginal, which makes the bound exact). Computed by enumerating level 1.
    pub fn dbn_bound(&self, data: MatRef<'_, f64>) -> Result<Vec<f64>> {
        let layers = self.f64_layers(data, true)?;
        let prior = if layers.len() == 1 {
            let top = [layers[0].transpose()];
            level_log_marginal(&top, 0)?
        } else {
            level_log_marginal(&layers, 1)?
        };
        let rbm = &layers[0];
        let fields = visible_fields(rbm);
        let nh = rbm.n_hidden();
        let q = rbm.hidden_probs(data);
        Ok((0..data.nrows())
            .map(|r| {
                let v: Vec<f64> = (0..data.ncols()).map(|i| data[(r, i)]).collect();
                let qr: Vec<f64> = (0..nh).map(|j| q[(r, j)]).collect();
                let entropy: f64 = qr.iter().map(|&p| binary_entropy(p)).sum();
                let mut e = 0.0;
                for (s, (x, lp)) in fields.iter().zip(&prior).enumerate() {
                    let mut lq = 0.0;
                    for (j, &p) in qr.iter().enumerate() {
                        lq += if s >> j & 1 == 1 { p } else { 1.0 - p }.ln();
                    }
                    let w = lq.exp();
                    if w > 0.0 {
                        e += w * (log_cond(&v, x) + lp);
                    }
                }
                e + entropy
            })
            .collect())
    }

    fn f64_layers(&self, data: MatRef<'_, f64>, bound: bool) -> Result<Vec<Rbm<f64>>> {
        let layers: Vec<Rbm<f64>> = self.layers.iter().map(|r| r.cast()).collect();
        if data.ncols() != layers[0].n_visible() {
            return Err(Error::Shape(format!(
                "data has {} columns but the stack has {} visible units",
                data.ncols(),
                layers[0].n_visible()
            )));
        }
        // Enumerated: levels 1..L-1 (the top level is summed analytically through the top
        // RBM's free energy), and level 1 for the bound.
        let sizes = self.sizes();
        let top_level = sizes.len() - 1;
        let end = if bound { top_level.max(2) } else { top_level };
        let enumerated = &sizes[1..end];
        if let Some(&n) = enumerated.iter().find(|&&n| n > MAX_DBN_UNITS) {
            return Err(Error::Infeasible(format!(
                "the deep belief network's likelihood enumerates the levels below the top one; \
                 a level has {n} units (limit {MAX_DBN_UNITS})"
            )));
        }
        if enumerated.windows(2).any(|w| w[0] + w[1] > MAX_PAIR_BITS) {
            return Err(Error::Infeasible(format!(
                "two adjacent levels have more than {MAX_PAIR_BITS} units together"
            )));
        }
        Ok(layers)
    }
}

/// `ln p(x)` of every state `x` of level `level` (bit `j` of the index is unit `j`) under the
/// network made of `layers[level..]`: the top layer's visible marginal, then the directed
/// conditionals downwards.
fn level_log_marginal(layers: &[Rbm<f64>], level: usize) -> Result<Vec<f64>> {
    let top = layers.len() - 1;
    if level == top {
        let rbm = &layers[top];
        let z = exact::log_partition(rbm)?;
        let n = rbm.n_visible();
        let states = faer::Mat::<f64>::from_fn(1 << n, n, |s, i| ((s >> i) & 1) as f64);
        return Ok(rbm
            .free_energy(states.as_ref())
            .into_iter()
            .map(|f| -f - z)
            .collect());
    }
    let above = level_log_marginal(layers, level + 1)?;
    let rbm = &layers[level];
    let fields = visible_fields(rbm);
    let n = rbm.n_visible();
    Ok((0..1usize << n)
        .map(|s| {
            let x: Vec<f64> = (0..n).map(|i| ((s >> i) & 1) as f64).collect();
            let terms: Vec<f64> = fields
                .iter()
                .zip(&above)
                .map(|(f, lp)| log_cond(&x, f) + lp)
                .collect();
            log_sum_exp(&terms)
        })
        .collect())
}

/// The visible pre-activations `a + W h` for every hidden state `h` (bit `j` = unit `j`).
fn visible_fields(rbm: &Rbm<f64>) -> Vec<Vec<f64>> {
    let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
    (0..1usize << nh)
        .map(|s| {
            (0..nv)
                .map(|i| {
                    rbm.a[i]
                        + (0..nh)
                            .filter(|j| s >> j & 1 == 1)
                            .map(|j| rbm.w[(i, j)])
                            .sum::<f64>()
                })
                .collect()
        })
        .collect()
}

/// `ln p(v | h) = sum_i v_i x_i - softplus(x_i)` for pre-activations `x = a + W h` (a
/// cross-entropy for non-binary `v`).
fn log_cond(v: &[f64], x: &[f64]) -> f64 {
    v.iter()
        .zip(x)
        .map(|(&vi, &xi)| vi * xi - softplus(xi))
        .sum()
}

/// `-p ln p - (1 - p) ln(1 - p)` (0 at the ends).
fn binary_entropy(p: f64) -> f64 {
    let t = |x: f64| if x > 0.0 { -x * x.ln() } else { 0.0 };
    t(p) + t(1.0 - p)
}
