//! Listing and searching couplings: every subset of an order, the strongest `n` by branch and
//! bound on the rigorous bounds, triples within supports and neighbourhoods.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use super::{scalar, spin, Basis, Coupling, EffectiveHamiltonian, SpinMethod, MAX_LISTED_SUBSETS};
use crate::error::{Error, Result};

impl EffectiveHamiltonian {
    /// Every subset of size `order` with its coupling, in lexicographic order of units; an
    /// [`Error::Infeasible`] when there are more than `max_count` of them.
    pub fn all_couplings(
        &self,
        order: usize,
        basis: Basis,
        method: &SpinMethod,
        max_count: usize,
    ) -> Result<Vec<Coupling>> {
        let count = binomial(self.nv, order);
        if count > max_count as f64 {
            return Err(Error::Infeasible(format!(
                "{count:.0} subsets of order {order} among {} units (limit {max_count}); \
                 ask for the top couplings instead",
                self.nv
            )));
        }
        match order {
            0 => {
                let value = match basis {
                    Basis::LatticeGas => self.constant(),
                    Basis::Spin => self.constant_spin(method)?,
                };
                Ok(vec![Coupling {
                    units: vec![],
                    value,
                }])
            }
            1 => Ok(self
                .fields_in(basis, method)?
                .into_iter()
                .enumerate()
                .map(|(i, value)| Coupling {
                    units: vec![i],
                    value,
                })
                .collect()),
            2 => {
                let m = self.pair_matrix_in(basis, method)?;
                let mut out = Vec::with_capacity(count as usize);
                for i in 0..self.nv {
                    for k in i + 1..self.nv {
                        out.push(Coupling {
                            units: vec![i, k],
                            value: m[(i, k)],
                        });
                    }
                }
                Ok(out)
            }
            _ => {
                let subsets: Vec<Vec<usize>> = Subsets::new(self.nv, order).collect();
                self.couplings_of(&subsets, basis, method)
            }
        }
    }

    /// The `n` couplings of order `order` largest in magnitude, sorted by decreasing `|value|`
    /// (ties by units). For order `>= 3` (and spin pairs) candidates are explored by branch
    /// and bound: a partial subset is dropped when the rigorous bound
    /// `c_k sum_j prod |W_ij| (max of the remaining |W_lj|)^r` (times `2^-k` in the spin basis)
    /// falls below the current `n`-th best value, so only promising subsets are evaluated.
    /// The result is exact and does not depend on the thread count. When more than 2 million
    /// subsets survive the bounds (dense weights of similar size), the search stops with an
    /// [`Error::Infeasible`].
    pub fn top_couplings(
        &self,
        order: usize,
        n: usize,
        basis: Basis,
        method: &SpinMethod,
    ) -> Result<Vec<Coupling>> {
        if n == 0 || order > self.nv {
            return Ok(vec![]);
        }
        let mut all = match (order, basis) {
            (0, _) | (1, _) | (2, Basis::LatticeGas) => {
                self.all_couplings(order, basis, method, usize::MAX)?
            }
            _ => self.branch_and_bound(order, n, basis, method)?,
        };
        sort_by_magnitude(&mut all);
        all.truncate(n);
        Ok(all)
    }

    fn branch_and_bound(
        &self,
        order: usize,
        n: usize,
        basis: Basis,
        method: &SpinMethod,
    ) -> Result<Vec<Coupling>> {
        let (nv, nh) = (self.nv, self.nh);
        let scale = scalar::bound_constant(order)
            * match basis {
                Basis::LatticeGas => 1.0,
                Basis::Spin => 0.5f64.powi(order as i32),
            };
        // suffix maxima msuf[l][j] = max_{i >= l} |W_ij|
        let mut msuf = vec![0.0f64; (nv + 1) * nh];
        for l in (0..nv).rev() {
            for j in 0..nh {
                msuf[l * nh + j] = msuf[(l + 1) * nh + j].max(self.w[l * nh + j].abs());
            }
        }
        let state = BnbState {
            evaluated: std::sync::atomic::AtomicUsize::new(0),
            tau: AtomicU64::new(0f64.to_bits()),
            best: Mutex::new(Vec::new()),
            error: Mutex::new(None),
        };
        let ctx = BnbContext {
            ham: self,
            order,
            n,
            scale,
            msuf: &msuf,
            basis,
            method,
        };
        // First units, most promising first.
        let ones = vec![1.0; nh];
        let mut firsts = ctx.children(&[], &ones);
        firsts.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        firsts.par_iter().for_each(|&(i, bound)| {
            if bound < state.threshold() {
                return;
            }
            let prod: Vec<f64> = (0..nh).map(|j| self.w[i * nh + j].abs()).collect();
            ctx.explore(&mut vec![i], &prod, &state);
        });
        if let Some(e) = state.error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        Ok(state.best.into_inner().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Budget of exact evaluations in one top-k search (dense models defeat the bounds).
const BNB_BUDGET: usize = 2_000_000;

struct BnbState {
    evaluated: std::sync::atomic::AtomicUsize,
    tau: AtomicU64,
    best: Mutex<Vec<Coupling>>,
    error: Mutex<Option<Error>>,
}

impl BnbState {
    fn threshold(&self) -> f64 {
        f64::from_bits(self.tau.load(Ordering::Relaxed))
    }
}

struct BnbContext<'a> {
    ham: &'a EffectiveHamiltonian,
    order: usize,
    n: usize,
    scale: f64,
    msuf: &'a [f64],
    basis: Basis,
    method: &'a SpinMethod,
}

impl BnbContext<'_> {
    /// Candidate next units after `prefix` with their bounds over all completions.
    fn children(&self, prefix: &[usize], prod: &[f64]) -> Vec<(usize, f64)> {
        let (nv, nh) = (self.ham.nv, self.ham.nh);
        let depth = prefix.len() + 1;
        let rem = (self.order - depth) as i32;
        let start = prefix.last().map_or(0, |&l| l + 1);
        let end = nv + 1 - (self.order - prefix.len()); // last allowed index + 1
        (start..end.max(start))
            .map(|l| {
                let w = &self.ham.w[l * nh..(l + 1) * nh];
                let ms = &self.msuf[(l + 1) * nh..(l + 2) * nh];
                let mut s = 0.0;
                for j in 0..nh {
                    s += prod[j] * w[j].abs() * ms[j].powi(rem);
                }
                (l, self.scale * s)
            })
            .collect()
    }

    fn explore(&self, prefix: &mut Vec<usize>, prod: &[f64], state: &BnbState) {
        let nh = self.ham.nh;
        let mut kids = self.children(prefix, prod);
        kids.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (l, bound) in kids {
            if bound < state.threshold() {
                break; // sorted: every later child is bounded lower
            }
            prefix.push(l);
            if prefix.len() == self.order {
                if state.evaluated.fetch_add(1, Ordering::Relaxed) >= BNB_BUDGET {
                    let mut slot = state.error.lock().unwrap_or_else(|p| p.into_inner());
                    slot.get_or_insert(Error::Infeasible(format!(
                        "more than {BNB_BUDGET} subsets of order {} survive the coupling bounds \
                         (dense weights); list couplings within hidden-unit supports or lattice \
                         neighbourhoods instead",
                        self.order
                    )));
                    prefix.pop();
                    return;
                }
                let value = match self.basis {
                    Basis::LatticeGas => Ok(self.ham.coupling_sorted(prefix)),
                    Basis::Spin => spin::coupling(self.ham, prefix, self.method),
                };
                match value {
                    Ok(value) => self.offer(
                        Coupling {
                            units: prefix.clone(),
                            value,
                        },
                        state,
                    ),
                    Err(e) => {
                        let mut slot = state.error.lock().unwrap_or_else(|p| p.into_inner());
                        slot.get_or_insert(e);
                        prefix.pop();
                        return;
                    }
                }
            } else {
                let w = &self.ham.w[l * nh..(l + 1) * nh];
                let next: Vec<f64> = prod.iter().zip(w).map(|(p, x)| p * x.abs()).collect();
                self.explore(prefix, &next, state);
            }
            prefix.pop();
        }
    }

    fn offer(&self, c: Coupling, state: &BnbState) {
        let mut best = state.best.lock().unwrap_or_else(|p| p.into_inner());
        best.push(c);
        if best.len() > 2 * self.n + 16 || best.len() >= self.n {
            sort_by_magnitude(&mut best);
            if best.len() > self.n {
                best.truncate(self.n);
            }
            if best.len() == self.n {
                let t = best[self.n - 1].value.abs();
                state.tau.fetch_max(t.to_bits(), Ordering::Relaxed);
            }
        }
    }
}

/// Sorts by decreasing `|value|`, ties by units (a total, deterministic order).
pub fn sort_by_magnitude(c: &mut [Coupling]) {
    c.sort_by(|x, y| {
        y.value
            .abs()
            .total_cmp(&x.value.abs())
            .then_with(|| x.units.cmp(&y.units))
    });
}

/// `C(n, k)` as a float (no overflow).
pub fn binomial(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    let k = k.min(n - k);
    let mut c = 1.0;
    for t in 0..k {
        c = c * (n - t) as f64 / (t + 1) as f64;
    }
    c.round()
}

/// Iterator over the `k`-subsets of `{0, .., n-1}` in lexicographic order.
#[derive(Clone, Debug)]
pub struct Subsets {
    n: usize,
    cur: Option<Vec<usize>>,
}

impl Subsets {
    /// All `k`-subsets of `n` units.
    pub fn new(n: usize, k: usize) -> Self {
        Subsets {
            n,
            cur: if k <= n { Some((0..k).collect()) } else { None },
        }
    }
}

impl Iterator for Subsets {
    type Item = Vec<usize>;
    fn next(&mut self) -> Option<Vec<usize>> {
        let out = self.cur.clone()?;
        let k = out.len();
        let mut c = out.clone();
        let mut i = k;
        let mut advanced = false;
        while i > 0 {
            i -= 1;
            if c[i] < self.n - k + i {
                c[i] += 1;
                for t in i + 1..k {
                    c[t] = c[t - 1] + 1;
                }
                advanced = true;
                break;
            }
        }
        self.cur = if advanced { Some(c) } else { None };
        Some(out)
    }
}

/// All sorted triples contained in at least one of `sets` (deduplicated, sorted); an
/// [`Error::Infeasible`] beyond [`MAX_LISTED_SUBSETS`] candidates.
pub(super) fn triples_within(sets: &[Vec<usize>], n: usize) -> Result<Vec<Vec<usize>>> {
    let total: f64 = sets.iter().map(|s| binomial(s.len(), 3)).sum();
    if total > MAX_LISTED_SUBSETS as f64 * 4.0 {
        return Err(Error::Infeasible(format!(
            "{total:.0} candidate triples (limit {}); raise the threshold or use smaller \
             neighbourhoods",
            MAX_LISTED_SUBSETS * 4
        )));
    }
    let mut out: Vec<[usize; 3]> = Vec::new();
    for s in sets {
        let mut u: Vec<usize> = s.iter().copied().filter(|&i| i < n).collect();
        u.sort_unstable();
        u.dedup();
        for t in Subsets::new(u.len(), 3) {
            out.push([u[t[0]], u[t[1]], u[t[2]]]);
        }
    }
    out.sort_unstable();
    out.dedup();
    if out.len() > MAX_LISTED_SUBSETS {
        return Err(Error::Infeasible(format!(
            "{} distinct triples (limit {MAX_LISTED_SUBSETS})",
            out.len()
        )));
    }
    Ok(out.into_iter().map(|t| t.to_vec()).collect())
}
