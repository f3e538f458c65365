//! Summaries of sets of couplings: random subsets to sample an order, per-order statistics,
//! sorted-magnitude curves, couplings weighted by how often the data switches their units on,
//! and the error of approximate couplings against an exact table.

use std::fmt;

use faer::MatRef;
use rand::Rng as _;
use rayon::prelude::*;
use serde::Serialize;

use super::{
    binomial, mask_of, Basis, Coupling, CouplingTable, EffectiveHamiltonian, SpinMethod, Subsets,
};
use crate::error::{Error, Result};

impl Coupling {
    /// The fields `c_i` as order-1 couplings, unit by unit.
    ///
    /// ```
    /// let f = emf_rbm::hamiltonian::Coupling::from_fields(&[0.5, -1.0]);
    /// assert_eq!((f[1].units.clone(), f[1].value), (vec![1], -1.0));
    /// ```
    pub fn from_fields(fields: &[f64]) -> Vec<Coupling> {
        fields
            .iter()
            .enumerate()
            .map(|(i, &value)| Coupling {
                units: vec![i],
                value,
            })
            .collect()
    }

    /// The upper triangle (`i < k`) of a square pair-coupling matrix as order-2 couplings, in
    /// the order (0, 1), (0, 2), ..., (1, 2), ...; an error when the matrix is not square.
    ///
    /// ```
    /// let m = emf_rbm::faer::Mat::<f64>::from_fn(3, 3, |i, k| (i * k) as f64);
    /// let p = emf_rbm::hamiltonian::Coupling::from_pair_matrix(m.as_ref()).unwrap();
    /// assert_eq!(p.len(), 3);
    /// assert_eq!((p[2].units.clone(), p[2].value), (vec![1, 2], 2.0));
    /// ```
    pub fn from_pair_matrix(m: MatRef<'_, f64>) -> Result<Vec<Coupling>> {
        let n = m.nrows();
        if m.ncols() != n {
            return Err(Error::Shape(format!(
                "a pair-coupling matrix must be square, got {} x {}",
                n,
                m.ncols()
            )));
        }
        let mut out = Vec::with_capacity(n * n.saturating_sub(1) / 2);
        for i in 0..n {
            for k in i + 1..n {
                out.push(Coupling {
                    units: vec![i, k],
                    value: m[(i, k)],
                });
            }
        }
        Ok(out)
    }
}

/// `count` distinct `order`-subsets of `n` units drawn uniformly at random (each sorted, the
/// list sorted), reproducible from `seed`. Errors when there are fewer than `count` subsets.
///
/// ```
/// let s = emf_rbm::hamiltonian::random_subsets(64, 3, 100, 1).unwrap();
/// assert_eq!(s.len(), 100);
/// assert!(s.windows(2).all(|p| p[0] < p[1])); // distinct
/// assert!(s.iter().all(|t| t[0] < t[1] && t[1] < t[2] && t[2] < 64));
/// assert_eq!(s, emf_rbm::hamiltonian::random_subsets(64, 3, 100, 1).unwrap());
/// ```
pub fn random_subsets(n: usize, order: usize, count: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    let total = binomial(n, order);
    if count as f64 > total {
        return Err(Error::param(
            "count",
            format!("{n} units have only {total:.0} subsets of order {order}, {count} asked"),
        ));
    }
    let mut rng = crate::rng::rng(seed);
    let mut out: Vec<Vec<usize>> = if 2.0 * count as f64 >= total {
        // Dense request: a random `count` of all the subsets (partial Fisher-Yates).
        let mut all: Vec<Vec<usize>> = Subsets::new(n, order).collect();
        for t in 0..count {
            let pick = rng.random_range(t..all.len());
            all.swap(t, pick);
        }
        all.truncate(count);
        all
    } else {
        // Sparse request: Floyd's sample of `order` units per subset, repeats rejected.
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < count {
            let mut s: Vec<usize> = Vec::with_capacity(order);
            for top in n - order..n {
                let x = rng.random_range(0..=top);
                s.push(if s.contains(&x) { top } else { x });
            }
            s.sort_unstable();
            seen.insert(s);
        }
        seen.into_iter().collect()
    };
    out.sort_unstable();
    Ok(out)
}

/// Statistics of the magnitudes of a set of couplings of one order (see
/// [`OrderSummary::of`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderSummary {
    /// The order `|S|`.
    pub order: usize,
    /// The basis of the values.
    pub basis: Basis,
    /// Number of couplings summarised.
    pub count: usize,
    /// Whether they are a sample of the order (not all of its subsets).
    pub sampled: bool,
    /// Largest `|c_S|`.
    pub max_abs: f64,
    /// Median `|c_S|`.
    pub median_abs: f64,
    /// Mean `|c_S|`.
    pub mean_abs: f64,
    /// Fraction with `|c_S| > 0.1`.
    pub above_tenth: f64,
    /// Fraction with `|c_S| > 0.01`.
    pub above_hundredth: f64,
    /// The largest coupling.
    pub largest: Coupling,
}

impl OrderSummary {
    /// The summary of `couplings`, all of one order, in `basis`; `sampled` says whether they
    /// are a sample of their order. Errors on an empty set or mixed orders.
    ///
    /// ```
    /// use emf_rbm::hamiltonian::{Basis, Coupling, OrderSummary};
    /// let c = Coupling::from_fields(&[0.5, -0.05, 0.001]);
    /// let s = OrderSummary::of(Basis::Spin, &c, false).unwrap();
    /// assert_eq!((s.order, s.max_abs, s.median_abs), (1, 0.5, 0.05));
    /// assert_eq!(s.largest.units, vec![0]);
    /// assert!((s.above_hundredth - 2.0 / 3.0).abs() < 1e-15);
    /// ```
    pub fn of(basis: Basis, couplings: &[Coupling], sampled: bool) -> Result<Self> {
        let order = couplings
            .first()
            .ok_or_else(|| Error::param("couplings", "nothing to summarise"))?
            .units
            .len();
        if let Some(c) = couplings.iter().find(|c| c.units.len() != order) {
            return Err(Error::param(
                "couplings",
                format!("mixed orders: {order} and {}", c.units.len()),
            ));
        }
        let abs: Vec<f64> = couplings.iter().map(|c| c.value.abs()).collect();
        let n = abs.len();
        let share = |t: f64| abs.iter().filter(|&&a| a > t).count() as f64 / n as f64;
        let largest = couplings
            .iter()
            .max_by(|x, y| x.value.abs().total_cmp(&y.value.abs()))
            .cloned()
            .expect("non-empty");
        Ok(OrderSummary {
            order,
            basis,
            count: n,
            sampled,
            max_abs: abs.iter().copied().fold(0.0, f64::max),
            median_abs: median(abs.clone()),
            mean_abs: abs.iter().sum::<f64>() / n as f64,
            above_tenth: share(0.1),
            above_hundredth: share(0.01),
            largest,
        })
    }
}

/// The couplings of one order with their [`OrderSummary`] (see
/// [`EffectiveHamiltonian::couplings_by_order`]).
#[derive(Clone, Debug)]
pub struct OrderCouplings {
    /// The statistics of `couplings`.
    pub summary: OrderSummary,
    /// All couplings of the order, or a random sample of them (`summary.sampled`).
    pub couplings: Vec<Coupling>,
}

impl EffectiveHamiltonian {
    /// The couplings of every order `1..=max_order` in `basis`, with their summaries: all
    /// subsets of an order when there are at most `limit`, else `limit` distinct random ones
    /// (seeded by `seed` and the order). Fields and pairs come from the field vector and the
    /// pair matrix; `method` evaluates spin-basis values.
    ///
    /// ```
    /// use emf_rbm::{Rbm, hamiltonian::{Basis, EffectiveHamiltonian, SpinMethod}};
    /// let rbm = Rbm::<f64>::random(8, 3, 0.5, &mut emf_rbm::rng::rng(1)).unwrap();
    /// let ham = EffectiveHamiltonian::new(&rbm);
    /// let orders = ham.couplings_by_order(Basis::Spin, &SpinMethod::Enumeration, 3, 50, 1).unwrap();
    /// assert_eq!(orders[1].couplings.len(), 28); // all 28 pairs (at most 50)
    /// assert!(orders[2].summary.sampled && orders[2].couplings.len() == 50); // 50 of 56 triples
    /// ```
    pub fn couplings_by_order(
        &self,
        basis: Basis,
        method: &SpinMethod,
        max_order: usize,
        limit: usize,
        seed: u64,
    ) -> Result<Vec<OrderCouplings>> {
        let n = self.n_units();
        (1..=max_order.min(n))
            .map(|order| {
                let sampled = binomial(n, order) > limit as f64;
                let couplings = match (order, sampled) {
                    (1, false) => Coupling::from_fields(&self.fields_in(basis, method)?),
                    (2, false) => {
                        Coupling::from_pair_matrix(self.pair_matrix_in(basis, method)?.as_ref())?
                    }
                    (_, false) => self.all_couplings(order, basis, method, limit)?,
                    (_, true) => {
                        let subsets =
                            random_subsets(n, order, limit, seed.wrapping_add(order as u64))?;
                        self.couplings_of(&subsets, basis, method)?
                    }
                };
                let summary = OrderSummary::of(basis, &couplings, sampled)?;
                Ok(OrderCouplings { summary, couplings })
            })
            .collect()
    }
}

/// Labelled [`OrderSummary`] rows (for example one model's orders, or two models side by
/// side); `Display` is a text table.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SummaryTable {
    /// (label, summary) rows in display order.
    pub rows: Vec<(String, OrderSummary)>,
}

impl SummaryTable {
    /// Adds a row.
    pub fn push(&mut self, label: impl Into<String>, summary: OrderSummary) {
        self.rows.push((label.into(), summary));
    }
}

impl fmt::Display for SummaryTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<10} {:>5} {:<11} {:>8} {:>9} {:>10} {:>9} {:>8} {:>8}  largest (units)",
            "",
            "order",
            "basis",
            "count",
            "max |c|",
            "median |c|",
            "mean |c|",
            "|c|>0.1",
            "|c|>0.01"
        )?;
        for (label, s) in &self.rows {
            let units: Vec<String> = s.largest.units.iter().map(|u| u.to_string()).collect();
            writeln!(
                f,
                "{:<10} {:>5} {:<11} {:>7}{} {:>9.2e} {:>10.2e} {:>9.2e} {:>7.1}% {:>7.1}%  {:+.3} ({})",
                label,
                s.order,
                s.basis.to_string(),
                s.count,
                if s.sampled { "*" } else { " " },
                s.max_abs,
                s.median_abs,
                s.mean_abs,
                100.0 * s.above_tenth,
                100.0 * s.above_hundredth,
                s.largest.value,
                units.join(" ")
            )?;
        }
        if self.rows.iter().any(|r| r.1.sampled) {
            writeln!(f, "* a random sample of the order's subsets")?;
        }
        Ok(())
    }
}

/// The sorted-magnitude curve of a set of couplings: `(log10(rank / count), log10 |c|)` at
/// about `points` log-spaced ranks, largest first (zero couplings skipped). A curve that stays
/// high far to the right is an order with many large couplings.
///
/// ```
/// let c = emf_rbm::hamiltonian::Coupling::from_fields(&[1.0, 0.1, 0.01, 0.001]);
/// let curve = emf_rbm::hamiltonian::magnitude_curve(&c, 10);
/// assert_eq!(curve.first(), Some(&(-(4f64.log10()), 0.0)));
/// assert_eq!(curve.last(), Some(&(0.0, -3.0)));
/// ```
pub fn magnitude_curve(couplings: &[Coupling], points: usize) -> Vec<(f64, f64)> {
    let mut abs: Vec<f64> = couplings.iter().map(|c| c.value.abs()).collect();
    abs.sort_by(|x, y| y.total_cmp(x));
    let n = abs.len();
    if n == 0 {
        return Vec::new();
    }
    let steps = points.max(2) - 1;
    let mut ranks: Vec<usize> = (0..=steps)
        .map(|t| ((n as f64).powf(t as f64 / steps as f64).round() as usize).clamp(1, n))
        .collect();
    ranks.dedup();
    ranks
        .into_iter()
        .filter(|&r| abs[r - 1] > 0.0)
        .map(|r| ((r as f64 / n as f64).log10(), abs[r - 1].log10()))
        .collect()
}

/// A coupling with how often the data switches all of its units on (see
/// [`activation_weighted`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActivatedCoupling {
    /// The coupling.
    pub coupling: Coupling,
    /// Fraction of the data rows in which every unit of `S` is on.
    pub frequency: f64,
    /// `value * frequency`: the coupling's mean contribution to `-H_eff` over the data in the
    /// lattice-gas basis (where `K_S` counts only when all of `S` is on).
    pub weighted: f64,
}

/// Each coupling with the fraction of the rows of `data` (values in {0,1}; above 0.5 counts
/// as on) in which all its units are on, and the product. A large lattice-gas coupling on
/// pixels the data almost never switches on contributes almost nothing to the energy of the
/// data. Errors when a unit is out of the data's range.
///
/// ```
/// use emf_rbm::hamiltonian::{activation_weighted, Coupling};
/// let data = emf_rbm::faer::mat![[1.0, 1.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]];
/// let c = vec![Coupling { units: vec![0, 1], value: 2.0 }];
/// let a = activation_weighted(&c, data.as_ref()).unwrap();
/// assert_eq!((a[0].frequency, a[0].weighted), (0.5, 1.0));
/// ```
pub fn activation_weighted(
    couplings: &[Coupling],
    data: MatRef<'_, f64>,
) -> Result<Vec<ActivatedCoupling>> {
    let (rows, n) = (data.nrows(), data.ncols());
    if let Some(c) = couplings.iter().find(|c| c.units.iter().any(|&u| u >= n)) {
        return Err(Error::param(
            "couplings",
            format!("units {:?} out of range for {n} data columns", c.units),
        ));
    }
    // Per unit, the rows where it is on as a bit set.
    let words = rows.div_ceil(64);
    let on: Vec<Vec<u64>> = (0..n)
        .map(|i| {
            let mut bits = vec![0u64; words];
            for r in 0..rows {
                if data[(r, i)] > 0.5 {
                    bits[r / 64] |= 1 << (r % 64);
                }
            }
            bits
        })
        .collect();
    Ok(couplings
        .par_iter()
        .map(|c| {
            let count: u32 = (0..words)
                .map(|w| {
                    c.units
                        .iter()
                        .fold(u64::MAX, |acc, &i| acc & on[i][w])
                        .count_ones()
                })
                .sum();
            let frequency = if rows == 0 {
                0.0
            } else {
                count as f64 / rows as f64
            };
            ActivatedCoupling {
                coupling: c.clone(),
                frequency,
                weighted: c.value * frequency,
            }
        })
        .collect())
}

/// How far approximate couplings of one order are from an exact table (see
/// [`approximation_error`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ApproximationError {
    /// The order `|S|`.
    pub order: usize,
    /// Couplings compared.
    pub count: usize,
    /// Median `|exact|`: the scale the errors are to be read against.
    pub median_abs_exact: f64,
    /// Median `|approximate - exact|`.
    pub median_abs_error: f64,
    /// Root mean square error.
    pub rms_error: f64,
    /// Largest `|approximate - exact|`.
    pub max_abs_error: f64,
    /// Median of `|approximate - exact| / |exact|` (over couplings with `exact != 0`).
    pub median_relative_error: f64,
}

/// The error of `approx` (couplings of one order) against the exact `table` (in the same
/// basis). Errors on an empty set, mixed orders or units beyond the table.
///
/// ```
/// use emf_rbm::hamiltonian::{approximation_error, Basis, Coupling, CouplingTable};
/// let exact = CouplingTable::new(Basis::Spin, 2, vec![0.0, 1.0, 2.0, 0.0]).unwrap();
/// let approx = Coupling::from_fields(&[1.1, 1.9]);
/// let e = approximation_error(&approx, &exact).unwrap();
/// assert!((e.max_abs_error - 0.1).abs() < 1e-12 && (e.median_abs_exact - 1.5).abs() < 1e-12);
/// ```
pub fn approximation_error(
    approx: &[Coupling],
    table: &CouplingTable,
) -> Result<ApproximationError> {
    let order = approx
        .first()
        .ok_or_else(|| Error::param("approx", "no couplings to compare"))?
        .units
        .len();
    let n = table.n_units();
    if let Some(c) = approx
        .iter()
        .find(|c| c.units.len() != order || c.units.iter().any(|&u| u >= n))
    {
        return Err(Error::param(
            "approx",
            format!(
                "units {:?}: every coupling must have order {order} and units below {n}",
                c.units
            ),
        ));
    }
    let exact: Vec<f64> = approx
        .iter()
        .map(|c| table.values()[mask_of(&c.units)])
        .collect();
    let err: Vec<f64> = approx
        .iter()
        .zip(&exact)
        .map(|(c, e)| (c.value - e).abs())
        .collect();
    let rel: Vec<f64> = err
        .iter()
        .zip(&exact)
        .filter(|(_, e)| **e != 0.0)
        .map(|(d, e)| d / e.abs())
        .collect();
    let count = approx.len();
    Ok(ApproximationError {
        order,
        count,
        median_abs_exact: median(exact.iter().map(|e| e.abs()).collect()),
        median_abs_error: median(err.clone()),
        rms_error: (err.iter().map(|d| d * d).sum::<f64>() / count as f64).sqrt(),
        max_abs_error: err.iter().copied().fold(0.0, f64::max),
        median_relative_error: median(rel),
    })
}

/// The median of a list (NaN when empty).
fn median(mut x: Vec<f64>) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    x.sort_by(f64::total_cmp);
    let n = x.len();
    if n % 2 == 1 {
        x[n / 2]
    } else {
        0.5 * (x[n / 2 - 1] + x[n / 2])
    }
}
