//! A linear read-out of what the hidden units encode: multinomial logistic regression on the
//! hidden marginals `P(h_j = 1 | v) = sigmoid(b_j + (v W)_j)`, fitted on labelled training
//! rows and scored by its accuracy on held-out rows (the classification result of the EMF
//! paper's poster, for any model).
//!
//! The fit minimises the mean cross-entropy plus `l2 / 2 * ||weights||^2` (the intercepts are
//! not penalised), a strongly convex problem for `l2 > 0`, by L-BFGS (10 pairs) with a
//! backtracking line search; it stops when the largest entry of the gradient is
//! at most `tolerance`, and says whether it got there ([`LogisticRegression::converged`]).
//! Deterministic: no random numbers.
//!
//! ```
//! use emf_rbm::data::Dataset;
//! use emf_rbm::estimate::readout::{hidden_readout, ReadoutConfig};
//! use emf_rbm::{rng, Rbm};
//!
//! let (train, test) = Dataset::digits().binarize(0.5).split(0.2, 1)?;
//! let rbm = Rbm::<f64>::random(64, 16, 0.1, &mut rng::rng(1))?;
//! let r = hidden_readout(&rbm, &train, &test, &ReadoutConfig::default())?;
//! assert!(r.fit.converged && r.test_accuracy > 0.5, "{r:?}");
//! # Ok::<(), emf_rbm::Error>(())
//! ```

use faer::{Accum, Mat, MatMut, MatRef};
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::linalg::gemm::matmul;
use crate::rbm::Rbm;

/// Settings of the logistic-regression fit (checked by [`ReadoutConfig::validate`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadoutConfig {
    /// L2 penalty on the weights (not the intercepts), `>= 0` [default: 1e-4].
    pub l2: f64,
    /// Largest number of gradient steps (`>= 1`) [default: 2000].
    pub max_iterations: usize,
    /// Converged when the largest entry of the gradient is at most this (`> 0`)
    /// [default: 1e-4, scikit-learn's `LogisticRegression` default].
    pub tolerance: f64,
}

impl Default for ReadoutConfig {
    fn default() -> Self {
        ReadoutConfig {
            l2: 1e-4,
            max_iterations: 2000,
            tolerance: 1e-4,
        }
    }
}

impl ReadoutConfig {
    /// Checks every setting, naming the one out of range.
    pub fn validate(&self) -> Result<()> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(Error::param("l2", format!("must be >= 0, got {}", self.l2)));
        }
        if self.max_iterations == 0 {
            return Err(Error::param("max_iterations", "must be at least 1"));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(Error::param(
                "tolerance",
                format!("must be > 0, got {}", self.tolerance),
            ));
        }
        Ok(())
    }
}

/// A fitted multinomial logistic regression: `P(class k | x) = softmax(x W + c)_k`.
#[derive(Clone, Debug)]
pub struct LogisticRegression {
    /// Weights, features x classes.
    pub weights: Mat<f64>,
    /// Intercepts, one per class.
    pub intercepts: Vec<f64>,
    /// Gradient steps taken.
    pub iterations: usize,
    /// Did the largest gradient entry reach the tolerance?
    pub converged: bool,
    /// The largest entry of the gradient at the returned parameters.
    pub gradient_max: f64,
    /// The objective (mean cross-entropy + penalty) at the returned parameters.
    pub objective: f64,
}

/// The parameters as one flat vector: the weights column by column, then the intercepts.
struct Params {
    d: usize,
    k: usize,
}

impl Params {
    fn len(&self) -> usize {
        self.d * self.k + self.k
    }
    fn weights<'a>(&self, theta: &'a [f64]) -> MatRef<'a, f64> {
        MatRef::from_column_major_slice(&theta[..self.d * self.k], self.d, self.k)
    }
}

/// Objective and gradient at `theta` on features `x` (n x d) with `labels`.
struct Problem<'a> {
    x: MatRef<'a, f64>,
    labels: &'a [usize],
    l2: f64,
    p: Params,
    logits: Mat<f64>,
}

impl Problem<'_> {
    /// Fills `self.logits` with `x W + c` and returns the objective; turns the logits into
    /// `(softmax - onehot) / n` when `grad` is given, and writes the gradient there.
    fn eval(&mut self, theta: &[f64], grad: Option<&mut [f64]>) -> f64 {
        let (n, d, k) = (self.x.nrows(), self.p.d, self.p.k);
        let w = self.p.weights(theta);
        let c = &theta[d * k..];
        matmul(self.logits.as_mut(), Accum::Replace, self.x, w, 1.0);
        let mut loss = 0.0;
        let want_grad = grad.is_some();
        for (i, &label) in self.labels.iter().enumerate() {
            let mut max = f64::NEG_INFINITY;
            for (j, &cj) in c.iter().enumerate() {
                let z = self.logits[(i, j)] + cj;
                self.logits[(i, j)] = z;
                max = max.max(z);
            }
            let mut sum = 0.0;
            for j in 0..k {
                sum += (self.logits[(i, j)] - max).exp();
            }
            let log_norm = max + sum.ln();
            loss += log_norm - self.logits[(i, label)];
            if want_grad {
                for j in 0..k {
                    let p = (self.logits[(i, j)] - log_norm).exp();
                    self.logits[(i, j)] = (p - f64::from(u8::from(j == label))) / n as f64;
                }
            }
        }
        let penalty: f64 = theta[..d * k].iter().map(|v| v * v).sum::<f64>() * self.l2 / 2.0;
        if let Some(g) = grad {
            let (gw, gc) = g.split_at_mut(d * k);
            let mut gw = MatMut::from_column_major_slice_mut(gw, d, k);
            matmul(
                gw.as_mut(),
                Accum::Replace,
                self.x.transpose(),
                self.logits.as_ref(),
                1.0,
            );
            for j in 0..k {
                for f in 0..d {
                    gw[(f, j)] += self.l2 * w[(f, j)];
                }
                gc[j] = (0..n).map(|i| self.logits[(i, j)]).sum();
            }
        }
        loss / n as f64 + penalty
    }
}

fn max_abs(x: &[f64]) -> f64 {
    x.iter().fold(0.0, |m, v| m.max(v.abs()))
}

impl LogisticRegression {
    /// Fits the classes `0..n_classes` of `labels` (one per row of `x`, features n x d).
    pub fn fit(
        x: MatRef<'_, f64>,
        labels: &[usize],
        n_classes: usize,
        cfg: &ReadoutConfig,
    ) -> Result<Self> {
        cfg.validate()?;
        let (n, d) = (x.nrows(), x.ncols());
        if labels.len() != n || n == 0 {
            return Err(Error::param(
                "labels",
                format!(
                    "{} labels for {n} rows (one per row, at least one)",
                    labels.len()
                ),
            ));
        }
        if n_classes < 2 {
            return Err(Error::param("n_classes", "needs at least 2 classes"));
        }
        if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l >= n_classes) {
            return Err(Error::param(
                "labels",
                format!("row {i} has class {l}, outside 0..{n_classes}"),
            ));
        }
        let p = Params { d, k: n_classes };
        let len = p.len();
        let mut prob = Problem {
            x,
            labels,
            l2: cfg.l2,
            p,
            logits: Mat::zeros(n, n_classes),
        };
        let (theta, iterations, converged) = minimise(&mut prob, len, cfg);
        let mut g = vec![0.0; len];
        let objective = prob.eval(&theta, Some(&mut g));
        let gradient_max = max_abs(&g);
        let weights = Mat::from_fn(d, n_classes, |f, j| theta[j * d + f]);
        Ok(LogisticRegression {
            weights,
            intercepts: theta[d * n_classes..].to_vec(),
            iterations,
            converged: converged || gradient_max <= cfg.tolerance,
            gradient_max,
            objective,
        })
    }

    /// The most probable class of each row of `x`.
    pub fn predict(&self, x: MatRef<'_, f64>) -> Vec<usize> {
        let mut logits = Mat::zeros(x.nrows(), self.weights.ncols());
        matmul(
            logits.as_mut(),
            Accum::Replace,
            x,
            self.weights.as_ref(),
            1.0,
        );
        (0..x.nrows())
            .map(|i| {
                (0..self.intercepts.len())
                    .map(|j| logits[(i, j)] + self.intercepts[j])
                    .enumerate()
                    .fold(
                        (0, f64::NEG_INFINITY),
                        |b, (j, z)| if z > b.1 { (j, z) } else { b },
                    )
                    .0
            })
            .collect()
    }

    /// The fraction of rows of `x` whose predicted class is their label.
    pub fn accuracy(&self, x: MatRef<'_, f64>, labels: &[usize]) -> f64 {
        let hits = self
            .predict(x)
            .iter()
            .zip(labels)
            .filter(|(p, l)| p == l)
            .count();
        hits as f64 / labels.len().max(1) as f64
    }
}

/// Minimises the problem's objective from zero by L-BFGS (the last [`MEMORY`] steps) with a
/// backtracking Armijo line search: (parameters, steps taken, gradient within tolerance).
fn minimise(prob: &mut Problem<'_>, len: usize, cfg: &ReadoutConfig) -> (Vec<f64>, usize, bool) {
    let mut theta = vec![0.0; len];
    let mut g = vec![0.0; len];
    let mut f = prob.eval(&theta, Some(&mut g));
    let (mut next, mut g_next, mut dir) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
    let mut memory = Memory::default();
    let mut iterations = 0;
    while iterations < cfg.max_iterations {
        if max_abs(&g) <= cfg.tolerance {
            return (theta, iterations, true);
        }
        iterations += 1;
        let mut slope = memory.direction(&g, &mut dir);
        if slope >= 0.0 {
            // Not a descent direction: forget the curvature pairs, step down the gradient.
            memory.pairs.clear();
            slope = memory.direction(&g, &mut dir);
        }
        let mut step = 1.0;
        let accepted = loop {
            for ((n, t), d) in next.iter_mut().zip(&theta).zip(&dir) {
                *n = t + step * d;
            }
            let f_trial = prob.eval(&next, Some(&mut g_next));
            // (the slack keeps rounding near the optimum from rejecting every step)
            if f_trial <= f + 1e-4 * step * slope + 1e-14 * f.abs() {
                break Some(f_trial);
            }
            step *= 0.5;
            if step < 1e-20 {
                break None;
            }
        };
        let Some(f_next) = accepted else {
            break; // no decrease along a descent direction: rounding; stop as we are
        };
        memory.push(&theta, &next, &g, &g_next);
        std::mem::swap(&mut theta, &mut next);
        std::mem::swap(&mut g, &mut g_next);
        f = f_next;
    }
    let converged = max_abs(&g) <= cfg.tolerance;
    (theta, iterations, converged)
}

/// L-BFGS curvature pairs kept.
const MEMORY: usize = 10;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The last [`MEMORY`] curvature pairs `(s, y, 1 / s.y)` of L-BFGS.
#[derive(Default)]
struct Memory {
    pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)>,
}

impl Memory {
    /// `dir = -H g` by the two-loop recursion (`H0 = (s.y / y.y) I`; without pairs a gradient
    /// step scaled to a largest entry of at most 1); returns the slope `g . dir`.
    fn direction(&self, g: &[f64], dir: &mut [f64]) -> f64 {
        let mut alpha = [0.0; MEMORY];
        for (d, gi) in dir.iter_mut().zip(g) {
            *d = -gi;
        }
        for (k, (s_k, y_k, rho)) in self.pairs.iter().enumerate().rev() {
            alpha[k] = rho * dot(s_k, dir);
            dir.iter_mut()
                .zip(y_k)
                .for_each(|(d, y)| *d -= alpha[k] * y);
        }
        let scale = match self.pairs.back() {
            Some((s_k, y_k, _)) => dot(s_k, y_k) / dot(y_k, y_k),
            None => 1.0 / max_abs(g).max(1.0),
        };
        dir.iter_mut().for_each(|d| *d *= scale);
        for (k, (s_k, y_k, rho)) in self.pairs.iter().enumerate() {
            let beta = rho * dot(y_k, dir);
            dir.iter_mut()
                .zip(s_k)
                .for_each(|(d, s)| *d += (alpha[k] - beta) * s);
        }
        dot(g, dir)
    }

    /// Records the step `theta -> next` with gradients `g -> g_next` when its curvature
    /// `s.y` is positive (else the pair would break the inverse-Hessian model).
    fn push(&mut self, theta: &[f64], next: &[f64], g: &[f64], g_next: &[f64]) {
        let s_k: Vec<f64> = next.iter().zip(theta).map(|(n, t)| n - t).collect();
        let y_k: Vec<f64> = g_next.iter().zip(g).map(|(a, b)| a - b).collect();
        let sy = dot(&s_k, &y_k);
        if sy > 1e-12 * dot(&y_k, &y_k).max(f64::MIN_POSITIVE) {
            if self.pairs.len() == MEMORY {
                self.pairs.pop_front();
            }
            self.pairs.push_back((s_k, y_k, 1.0 / sy));
        }
    }
}

/// The result of [`hidden_readout`].
#[derive(Clone, Debug)]
pub struct HiddenReadout {
    /// The classifier on the hidden marginals, with its convergence.
    pub fit: LogisticRegression,
    /// Accuracy on the training rows it was fitted on.
    pub train_accuracy: f64,
    /// Accuracy on the held-out rows.
    pub test_accuracy: f64,
    /// Training rows, held-out rows, classes.
    pub rows: (usize, usize, usize),
}

impl HiddenReadout {
    /// The `eval --json` fields: `readout_test_accuracy`, `readout_train_accuracy`,
    /// `readout_converged`, `readout_iterations`, `readout_gradient_max`, `readout_objective`,
    /// `readout_train_rows`, `readout_test_rows`, `readout_classes`.
    pub fn to_json(&self) -> serde_json::Value {
        // A non-finite value that was computed is a string, as in `Evaluation::to_json`.
        let num = crate::persist::json_float::to_json;
        serde_json::json!({
            "readout_test_accuracy": self.test_accuracy,
            "readout_train_accuracy": self.train_accuracy,
            "readout_converged": self.fit.converged,
            "readout_iterations": self.fit.iterations,
            "readout_gradient_max": num(self.fit.gradient_max),
            "readout_objective": num(self.fit.objective),
            "readout_train_rows": self.rows.0,
            "readout_test_rows": self.rows.1,
            "readout_classes": self.rows.2,
        })
    }

    /// The lines `eval` prints.
    pub fn table(&self) -> String {
        let status = if self.fit.converged {
            "converged".to_string()
        } else {
            format!("NOT converged, gradient {:.1e}", self.fit.gradient_max)
        };
        format!(
            "{:<28} {:.4} held-out, {:.4} training ({} / {} rows, {} classes; {} steps, {status})\n",
            "read-out accuracy",
            self.test_accuracy,
            self.train_accuracy,
            self.rows.1,
            self.rows.0,
            self.rows.2,
            self.fit.iterations,
        )
    }
}

/// The hidden marginals `P(h = 1 | v)` of every row of `data`, in f64 (computed in blocks of
/// rows in the model's float type).
pub fn hidden_marginals<T: Float>(rbm: &Rbm<T>, data: &Dataset) -> Result<Mat<f64>> {
    let (n, nv, nh) = (data.n_samples(), rbm.n_visible(), rbm.n_hidden());
    if data.n_features() != nv {
        return Err(Error::param(
            "data",
            format!(
                "{} features per row, the model has {nv} visible units",
                data.n_features()
            ),
        ));
    }
    crate::memory::check(
        "the hidden marginals of the read-out",
        crate::memory::matrices(1, n, nh, 8),
    )?;
    const BLOCK: usize = 4096;
    let mut out = Mat::<f64>::zeros(n, nh);
    let mut v = Mat::<T>::zeros(BLOCK.min(n), nv);
    let mut h = Mat::<T>::zeros(BLOCK.min(n), nh);
    for start in (0..n).step_by(BLOCK) {
        let m = BLOCK.min(n - start);
        for i in 0..m {
            for (j, &x) in data.row(start + i).iter().enumerate() {
                v[(i, j)] = T::of(x);
            }
        }
        rbm.hidden_probs_into(v.as_ref().subrows(0, m), h.as_mut().subrows_mut(0, m));
        for j in 0..nh {
            for i in 0..m {
                out[(start + i, j)] = h[(i, j)].as_f64();
            }
        }
    }
    Ok(out)
}

fn class_labels(data: &Dataset, what: &str) -> Result<Vec<usize>> {
    let labels = data.labels().ok_or_else(|| {
        Error::param(
            "labels",
            format!("the {what} rows have no labels: the read-out needs labelled data"),
        )
    })?;
    Ok(labels.iter().map(|&l| usize::from(l)).collect())
}

/// Fits a logistic regression on the hidden marginals of the labelled `train` rows and scores
/// it on `test` (classes: `0..=` the largest label of either set).
pub fn hidden_readout<T: Float>(
    rbm: &Rbm<T>,
    train: &Dataset,
    test: &Dataset,
    cfg: &ReadoutConfig,
) -> Result<HiddenReadout> {
    cfg.validate()?;
    let (ytr, yte) = (
        class_labels(train, "training")?,
        class_labels(test, "held-out")?,
    );
    let n_classes = ytr.iter().chain(&yte).max().map_or(0, |m| m + 1).max(2);
    let (xtr, xte) = (hidden_marginals(rbm, train)?, hidden_marginals(rbm, test)?);
    let fit = LogisticRegression::fit(xtr.as_ref(), &ytr, n_classes, cfg)?;
    Ok(HiddenReadout {
        train_accuracy: fit.accuracy(xtr.as_ref(), &ytr),
        test_accuracy: fit.accuracy(xte.as_ref(), &yte),
        rows: (ytr.len(), yte.len(), n_classes),
        fit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn problem(n: usize, d: usize, k: usize, seed: u64) -> (Mat<f64>, Vec<usize>) {
        let mut r = crate::rng::rng(seed);
        let x = Mat::from_fn(n, d, |_, _| r.random::<f64>());
        let labels = (0..n).map(|_| r.random_range(0..k)).collect();
        (x, labels)
    }

    /// The analytic gradient matches central finite differences of the objective.
    #[test]
    fn gradient_matches_finite_differences() {
        let (x, labels) = problem(30, 4, 3, 1);
        let mut prob = Problem {
            x: x.as_ref(),
            labels: &labels,
            l2: 0.3,
            p: Params { d: 4, k: 3 },
            logits: Mat::zeros(30, 3),
        };
        let mut r = crate::rng::rng(2);
        let theta: Vec<f64> = (0..15).map(|_| r.random::<f64>() - 0.5).collect();
        let mut g = vec![0.0; 15];
        prob.eval(&theta, Some(&mut g));
        for i in 0..15 {
            let h = 1e-5;
            let (mut up, mut down) = (theta.clone(), theta.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (prob.eval(&up, None) - prob.eval(&down, None)) / (2.0 * h);
            assert!((fd - g[i]).abs() < 1e-8, "{i}: {fd} vs {}", g[i]);
        }
    }

    /// The fit reaches the optimum: its gradient is below the tolerance, and no random
    /// perturbation lowers the objective.
    #[test]
    fn fit_reaches_the_optimum() {
        let (x, labels) = problem(200, 6, 4, 3);
        let cfg = ReadoutConfig {
            l2: 1e-2,
            tolerance: 1e-9,
            ..ReadoutConfig::default()
        };
        let fit = LogisticRegression::fit(x.as_ref(), &labels, 4, &cfg).unwrap();
        assert!(fit.converged && fit.gradient_max <= 1e-9, "{fit:?}");
        let mut theta: Vec<f64> = fit
            .weights
            .col_iter()
            .flat_map(|c| c.iter().copied().collect::<Vec<_>>())
            .collect();
        theta.extend(&fit.intercepts);
        let mut prob = Problem {
            x: x.as_ref(),
            labels: &labels,
            l2: cfg.l2,
            p: Params { d: 6, k: 4 },
            logits: Mat::zeros(200, 4),
        };
        assert!((prob.eval(&theta, None) - fit.objective).abs() < 1e-12);
        let mut r = crate::rng::rng(4);
        for _ in 0..20 {
            let moved: Vec<f64> = theta
                .iter()
                .map(|t| t + 1e-3 * (r.random::<f64>() - 0.5))
                .collect();
            assert!(prob.eval(&moved, None) >= fit.objective);
        }
    }

    /// Separable classes are all recovered; bad labels are refused naming the row.
    #[test]
    fn separable_classes_and_bad_labels() {
        let x = Mat::from_fn(90, 3, |i, j| f64::from(u8::from(i % 3 == j)));
        let labels: Vec<usize> = (0..90).map(|i| i % 3).collect();
        let fit =
            LogisticRegression::fit(x.as_ref(), &labels, 3, &ReadoutConfig::default()).unwrap();
        assert_eq!(fit.accuracy(x.as_ref(), &labels), 1.0);
        let mut bad = labels.clone();
        bad[7] = 5;
        let err = LogisticRegression::fit(x.as_ref(), &bad, 3, &ReadoutConfig::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 7"), "{err}");
        let cfg = ReadoutConfig {
            l2: -1.0,
            ..ReadoutConfig::default()
        };
        assert!(cfg.validate().unwrap_err().to_string().contains("l2"));
    }
}
