//! Real-space renormalization of torus samples, the baseline an RBM's coarse couplings are
//! compared with: majority-rule block spins, and the couplings of a sample set fitted by
//! maximum pseudo-likelihood.
//!
//! The fitted model is `-beta H = J_nn sum_<ij> s_i s_j + J_diag sum_<<ik>> s_i s_k` on the
//! `L x L` torus (nearest and diagonal next-nearest neighbours, each pair once, `s = 2v - 1`),
//! so `J_nn = beta` for samples of the Ising model itself. Given its neighbours, a spin is
//! `+1` with probability `sigmoid(2 h_i)`, `h_i = J_nn n_i + J_diag d_i` (`n_i`, `d_i` the sums
//! of its 4 nearest and 4 diagonal neighbours); the pseudo-likelihood, the product of these
//! conditionals over sites and samples, is concave in the couplings and maximised by
//! Newton's method. Standard errors are the sandwich estimate (the pseudo-likelihood is not a
//! likelihood, so the inverse Hessian alone would be too small), with samples independent.

use crate::data::Dataset;
use crate::error::{Error, Result};

/// Majority-rule block spins: each `b x b` block of every `L x L` sample (row-major `{0,1}`
/// rows) becomes one spin of an `L/b x L/b` sample, up when most of the block is up; a tie
/// (even `b`) takes the block's top-left spin.
///
/// ```
/// use emf_rbm::data::Dataset;
/// use emf_rbm::ising::block::majority_blocks;
/// let v = Dataset::new(vec![
///     1., 1., 0., 0.,
///     1., 0., 0., 0.,
///     1., 1., 1., 0.,
///     1., 1., 0., 1.,
/// ], 16, None).unwrap();
/// let coarse = majority_blocks(&v, 4, 2).unwrap();
/// // 3 of 4 up, none, all, and a tie (2 of 4) settled by its top-left spin (up)
/// assert_eq!(coarse.as_slice(), &[1., 0., 1., 1.]);
/// ```
pub fn majority_blocks(samples: &Dataset, l: usize, b: usize) -> Result<Dataset> {
    if b == 0 || l == 0 || l % b != 0 || samples.n_features() != l * l {
        return Err(Error::param(
            "block",
            format!(
                "need {l} x {l} samples ({} columns given) and a block size dividing {l}, got {b}",
                samples.n_features()
            ),
        ));
    }
    let (m, n) = (l / b, l * l);
    let data = samples.as_slice();
    let mut out = Vec::with_capacity(samples.n_samples() * m * m);
    for row in data.chunks_exact(n) {
        for br in 0..m {
            for bc in 0..m {
                let mut up = 0usize;
                for r in br * b..(br + 1) * b {
                    for c in bc * b..(bc + 1) * b {
                        up += usize::from(row[r * l + c] > 0.5);
                    }
                }
                let spin = match (2 * up).cmp(&(b * b)) {
                    std::cmp::Ordering::Greater => 1.0,
                    std::cmp::Ordering::Less => 0.0,
                    std::cmp::Ordering::Equal => f64::from(row[br * b * l + bc * b] > 0.5),
                };
                out.push(spin);
            }
        }
    }
    Dataset::new(out, m * m, None)
}

/// Couplings of a torus sample set by maximum pseudo-likelihood (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct CouplingFit {
    /// Linear size of the lattice.
    pub size: usize,
    /// Samples used.
    pub n_samples: usize,
    /// Nearest-neighbour coupling (`beta` for the Ising model).
    pub j_nn: f64,
    /// Its standard error (sandwich).
    pub j_nn_se: f64,
    /// Diagonal next-nearest-neighbour coupling (0 for the Ising model).
    pub j_diag: f64,
    /// Its standard error (sandwich).
    pub j_diag_se: f64,
    /// Newton iterations used.
    pub iterations: usize,
    /// Whether the step fell below `1e-10` within the iteration cap (50).
    pub converged: bool,
}

/// Fits `J_nn` and `J_diag` to `{0,1}` samples of an `L x L` torus by maximum
/// pseudo-likelihood (Newton's method from 0).
///
/// ```
/// use emf_rbm::ising::{block::fit_couplings, sample_ising, IsingConfig};
/// let s = sample_ising(&IsingConfig { seed: 2, ..IsingConfig::new(8, 3.0, 2000) }).unwrap();
/// let fit = fit_couplings(&s.dataset, 8).unwrap();
/// assert!(fit.converged && (fit.j_nn - 1.0 / 3.0).abs() < 5.0 * fit.j_nn_se);
/// ```
pub fn fit_couplings(samples: &Dataset, l: usize) -> Result<CouplingFit> {
    let n = l * l;
    if l < 2 || samples.n_features() != n || samples.n_samples() < 2 {
        return Err(Error::param(
            "samples",
            format!(
                "need at least 2 samples of an {l} x {l} torus (L >= 2, {n} columns), got {} x {}",
                samples.n_samples(),
                samples.n_features()
            ),
        ));
    }
    // Per site and sample: the spin and its two neighbour sums.
    let site = |row: &[f64], r: usize, c: usize| 2.0 * row[(r % l) * l + c % l] - 1.0;
    let mut terms: Vec<(f64, f64, f64)> = Vec::with_capacity(samples.n_samples() * n);
    for row in samples.as_slice().chunks_exact(n) {
        for r in l..2 * l {
            for c in l..2 * l {
                let nn = site(row, r - 1, c)
                    + site(row, r + 1, c)
                    + site(row, r, c - 1)
                    + site(row, r, c + 1);
                let dg = site(row, r - 1, c - 1)
                    + site(row, r - 1, c + 1)
                    + site(row, r + 1, c - 1)
                    + site(row, r + 1, c + 1);
                terms.push((site(row, r, c), nn, dg));
            }
        }
    }
    let (mut j, mut iterations, mut converged) = ([0.0f64; 2], 0, false);
    while iterations < 50 && !converged {
        iterations += 1;
        let (g, h, _) = derivatives(&terms, j, n);
        let step = solve2(h, g);
        j = [j[0] - step[0], j[1] - step[1]];
        converged = step[0].abs().max(step[1].abs()) < 1e-10;
    }
    let (_, h, b) = derivatives(&terms, j, n);
    let hinv = invert2(h);
    let cov = mul2(mul2(hinv, b), hinv);
    Ok(CouplingFit {
        size: l,
        n_samples: samples.n_samples(),
        j_nn: j[0],
        j_nn_se: cov[0][0].max(0.0).sqrt(),
        j_diag: j[1],
        j_diag_se: cov[1][1].max(0.0).sqrt(),
        iterations,
        converged,
    })
}

/// At `j`: the gradient and Hessian of the pseudo-log-likelihood, and the sum over samples
/// (`n` sites each) of the outer products of each sample's gradient (the sandwich's middle).
fn derivatives(
    terms: &[(f64, f64, f64)],
    j: [f64; 2],
    n: usize,
) -> ([f64; 2], [[f64; 2]; 2], [[f64; 2]; 2]) {
    let (mut total, mut h, mut b) = ([0.0f64; 2], [[0.0f64; 2]; 2], [[0.0f64; 2]; 2]);
    for sample in terms.chunks_exact(n) {
        let mut g = [0.0f64; 2];
        for &(s, a, c) in sample {
            let x = [a, c];
            let p = crate::linalg::sigmoid(2.0 * s * (j[0] * a + j[1] * c));
            for u in 0..2 {
                g[u] += 2.0 * s * x[u] * (1.0 - p);
                for w in 0..2 {
                    h[u][w] -= 4.0 * x[u] * x[w] * p * (1.0 - p);
                }
            }
        }
        for u in 0..2 {
            total[u] += g[u];
            for w in 0..2 {
                b[u][w] += g[u] * g[w];
            }
        }
    }
    (total, h, b)
}

fn invert2(m: [[f64; 2]; 2]) -> [[f64; 2]; 2] {
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    [
        [m[1][1] / det, -m[0][1] / det],
        [-m[1][0] / det, m[0][0] / det],
    ]
}

fn mul2(a: [[f64; 2]; 2], b: [[f64; 2]; 2]) -> [[f64; 2]; 2] {
    let mut c = [[0.0f64; 2]; 2];
    for i in 0..2 {
        for k in 0..2 {
            c[i][k] = a[i][0] * b[0][k] + a[i][1] * b[1][k];
        }
    }
    c
}

/// `m^-1 g` for a 2 x 2 `m`.
fn solve2(m: [[f64; 2]; 2], g: [f64; 2]) -> [f64; 2] {
    let inv = invert2(m);
    [
        inv[0][0] * g[0] + inv[0][1] * g[1],
        inv[1][0] * g[0] + inv[1][1] * g[1],
    ]
}
