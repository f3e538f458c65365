//! Laying out the units of a level on a coarse lattice.
//!
//! The hidden units of a trained RBM have no positions: any permutation of them is the same
//! model. When their receptive fields (on the data's lattice) are localised, each unit has a
//! centre, and the units of a level with a square number of units can be assigned one-to-one
//! to the sites of a coarse square lattice by minimising the total squared distance between
//! centres and sites (an assignment problem, solved exactly by [`hungarian`]).

use faer::MatRef;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How units are placed on the coarse lattice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// By the centres of their receptive fields (optimal assignment).
    ReceptiveField,
    /// By index, row-major (unit `r * cols + c` at site `(r, c)`).
    Index,
}

impl std::str::FromStr for Layout {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rf" | "receptive-field" | "receptive_field" => Ok(Layout::ReceptiveField),
            "index" => Ok(Layout::Index),
            other => Err(Error::param(
                "layout",
                format!("expected `rf` (receptive field) or `index`, got `{other}`"),
            )),
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layout::ReceptiveField => "receptive-field",
            Layout::Index => "index",
        })
    }
}

/// The units of one level placed on a `rows x cols` lattice, one unit per site.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoarseLayout {
    /// Lattice rows.
    pub rows: usize,
    /// Lattice columns.
    pub cols: usize,
    /// `unit_at_site[r * cols + c]`: the unit at site `(r, c)`.
    pub unit_at_site: Vec<usize>,
    /// `site_of_unit[u]`: the site (row-major) of unit `u`.
    pub site_of_unit: Vec<usize>,
    /// Mean distance between a unit's receptive-field centre and its site, in coarse lattice
    /// spacings (0 for the index layout): small when the fields are localised and tile the
    /// lattice.
    pub mismatch: f64,
}

impl CoarseLayout {
    /// Unit `r * cols + c` at site `(r, c)`.
    pub fn identity(rows: usize, cols: usize) -> Self {
        let n = rows * cols;
        CoarseLayout {
            rows,
            cols,
            unit_at_site: (0..n).collect(),
            site_of_unit: (0..n).collect(),
            mismatch: 0.0,
        }
    }

    /// Places the `rows * cols` units whose receptive fields are the columns of `rf`
    /// (`n_inputs x n_units`, inputs on a `shape.0 x shape.1` lattice, row-major) by their
    /// centres (weights `rf^2`; circular means when `periodic`). The coarse lattice's offset
    /// is chosen among a few fractions of its spacing (9 on a periodic lattice) to minimise the
    /// total squared distance; each choice is an O(n^3) assignment (about 0.1 s at n = 400).
    pub fn from_receptive_fields(
        rf: MatRef<'_, f64>,
        shape: (usize, usize),
        rows: usize,
        cols: usize,
        periodic: bool,
    ) -> Result<Self> {
        let n = rows * cols;
        if rf.ncols() != n || rf.nrows() != shape.0 * shape.1 {
            return Err(Error::Shape(format!(
                "receptive fields are {} x {}, expected {} x {n}",
                rf.nrows(),
                rf.ncols(),
                shape.0 * shape.1
            )));
        }
        let centres = receptive_field_centres(rf, shape, periodic);
        let (sr, sc) = (shape.0 as f64 / rows as f64, shape.1 as f64 / cols as f64);
        let offsets: &[f64] = if periodic {
            &[0.0, 1.0 / 3.0, 2.0 / 3.0]
        } else {
            &[0.0]
        };
        let mut best: Option<(f64, Vec<usize>)> = None;
        let mut cost = vec![0.0; n * n];
        for &or in offsets {
            for &oc in offsets {
                for (u, &(y, x)) in centres.iter().enumerate() {
                    for s in 0..n {
                        let py = ((s / cols) as f64 + 0.5 + or) * sr - 0.5;
                        let px = ((s % cols) as f64 + 0.5 + oc) * sc - 0.5;
                        let dy = axis_distance(y, py, shape.0 as f64, periodic) / sr;
                        let dx = axis_distance(x, px, shape.1 as f64, periodic) / sc;
                        cost[u * n + s] = dy * dy + dx * dx;
                    }
                }
                let assign = hungarian(&cost, n)?;
                let total: f64 = assign
                    .iter()
                    .enumerate()
                    .map(|(u, &s)| cost[u * n + s].sqrt())
                    .sum();
                if best.as_ref().is_none_or(|(b, _)| total < *b - 1e-12) {
                    best = Some((total, assign));
                }
            }
        }
        let (total, site_of_unit) = best.expect("at least one offset");
        let mut unit_at_site = vec![0; n];
        for (u, &s) in site_of_unit.iter().enumerate() {
            unit_at_site[s] = u;
        }
        Ok(CoarseLayout {
            rows,
            cols,
            unit_at_site,
            site_of_unit,
            mismatch: total / n.max(1) as f64,
        })
    }

    /// The pairs of units on nearest-neighbour sites (right and down neighbours of every
    /// site, wrapping around when `periodic`), each pair once, as `(unit, unit)`.
    pub fn neighbour_pairs(&self, periodic: bool) -> Vec<(usize, usize)> {
        let (rows, cols) = (self.rows, self.cols);
        let mut sites: Vec<(usize, usize)> = Vec::new();
        for r in 0..rows {
            for c in 0..cols {
                let s = r * cols + c;
                if c + 1 < cols {
                    sites.push((s, s + 1));
                } else if periodic && cols > 2 {
                    sites.push((s, r * cols));
                }
                if r + 1 < rows {
                    sites.push((s, s + cols));
                } else if periodic && rows > 2 {
                    sites.push((s, c));
                }
            }
        }
        sites
            .into_iter()
            .map(|(s, t)| (self.unit_at_site[s], self.unit_at_site[t]))
            .collect()
    }

    /// Per-unit values reordered by site (row-major), e.g. to draw a level as an image.
    pub fn arrange<V: Copy>(&self, per_unit: &[V]) -> Vec<V> {
        self.unit_at_site.iter().map(|&u| per_unit[u]).collect()
    }
}

/// Distance along one axis of length `len` (minimum image when `periodic`).
fn axis_distance(a: f64, b: f64, len: f64, periodic: bool) -> f64 {
    let d = (a - b).abs();
    if periodic {
        let d = d % len;
        d.min(len - d)
    } else {
        d
    }
}

/// Centre `(row, col)` of each receptive field (column of `rf`), weights `rf^2`; circular
/// means on a periodic lattice.
pub(crate) fn receptive_field_centres(
    rf: MatRef<'_, f64>,
    shape: (usize, usize),
    periodic: bool,
) -> Vec<(f64, f64)> {
    let (rows, cols) = shape;
    let tau = std::f64::consts::TAU;
    (0..rf.ncols())
        .map(|u| {
            let (mut sy, mut cy, mut sx, mut cx, mut my, mut mx, mut tot) =
                (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
            for i in 0..rf.nrows() {
                let w = rf[(i, u)] * rf[(i, u)];
                let (r, c) = ((i / cols) as f64, (i % cols) as f64);
                let (ty, tx) = (tau * r / rows as f64, tau * c / cols as f64);
                sy += w * ty.sin();
                cy += w * ty.cos();
                sx += w * tx.sin();
                cx += w * tx.cos();
                my += w * r;
                mx += w * c;
                tot += w;
            }
            if tot == 0.0 {
                return ((rows as f64 - 1.0) / 2.0, (cols as f64 - 1.0) / 2.0);
            }
            if periodic {
                let ang =
                    |s: f64, c: f64, n: usize| (s.atan2(c) / tau * n as f64).rem_euclid(n as f64);
                (ang(sy, cy, rows), ang(sx, cx, cols))
            } else {
                (my / tot, mx / tot)
            }
        })
        .collect()
}

/// Root-mean-square distance of each receptive field (weights `rf^2`) from its centre, in
/// input lattice units.
pub(crate) fn receptive_field_radii(
    rf: MatRef<'_, f64>,
    shape: (usize, usize),
    periodic: bool,
) -> Vec<f64> {
    let centres = receptive_field_centres(rf, shape, periodic);
    let (rows, cols) = shape;
    centres
        .iter()
        .enumerate()
        .map(|(u, &(y, x))| {
            let (mut s, mut tot) = (0.0, 0.0);
            for i in 0..rf.nrows() {
                let w = rf[(i, u)] * rf[(i, u)];
                let dy = axis_distance((i / cols) as f64, y, rows as f64, periodic);
                let dx = axis_distance((i % cols) as f64, x, cols as f64, periodic);
                s += w * (dy * dy + dx * dx);
                tot += w;
            }
            if tot > 0.0 {
                (s / tot).sqrt()
            } else {
                0.0
            }
        })
        .collect()
}

/// Optimal assignment (Hungarian algorithm, O(n^3)): for the `n x n` row-major `cost`, the
/// column assigned to each row, minimising the total cost.
///
/// Errors: [`Error::Shape`] when `cost` does not hold `n * n` values,
/// [`Error::InvalidParameter`] when a cost is not finite.
///
/// ```
/// use emf_rbm::stack::hungarian;
/// let cost = [4.0, 1.0, 3.0, 2.0, 0.0, 5.0, 3.0, 2.0, 2.0];
/// assert_eq!(hungarian(&cost, 3).unwrap(), vec![1, 0, 2]);
/// assert!(hungarian(&[0.0, f64::NAN, 1.0, 2.0], 2).is_err());
/// ```
pub fn hungarian(cost: &[f64], n: usize) -> Result<Vec<usize>> {
    if cost.len() != n * n {
        return Err(Error::Shape(format!(
            "the assignment cost holds {} values, expected {n} x {n}",
            cost.len()
        )));
    }
    if let Some(k) = cost.iter().position(|c| !c.is_finite()) {
        return Err(Error::param(
            "cost",
            format!("cost[{}][{}] = {} is not finite", k / n, k % n, cost[k]),
        ));
    }
    // Potentials u (rows), v (columns); p[j] = row matched to column j (1-based, 0 = none).
    let inf = f64::INFINITY;
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; n + 1];
    let mut p = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![inf; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = inf;
            let mut j1 = 0;
            for j in 1..=n {
                if !used[j] {
                    let cur = cost[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![0; n];
    for j in 1..=n {
        if p[j] > 0 {
            out[p[j] - 1] = j - 1;
        }
    }
    Ok(out)
}
