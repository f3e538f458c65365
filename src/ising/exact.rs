//! Exact thermodynamics of the finite periodic `L x L` lattice (`J = k_B = 1`): what the
//! samples of a finite torus must reproduce, with no finite-size correction left to argue
//! about.
//!
//! Three independent routes, each cross-checked against the others in `tests/ising.rs`:
//! - [`enumerate`]: all `2^(L^2)` configurations (`L <= 5`), giving the joint density of
//!   states and the exact energy histogram ([`energy_distribution`]);
//! - [`transfer_matrix`]: a site-by-site transfer matrix over the `2^L` states of a row front,
//!   summed over the first row's symmetry classes (`L <= 12`; `<m^2>` always, `<|m|>` and
//!   `<m^4>` from the full distribution of `m` for `L <= 10`);
//! - [`kaufman`](super::kaufman::kaufman): Kaufman's closed form (Phys. Rev. 76, 1232 (1949)),
//!   any `L`, with exact derivatives for the energy and specific heat (no `m`).
//!
//! [`exact_finite`] picks the best of them for a size.
//!
//! ```
//! use emf_rbm::ising::{exact_finite, kaufman, transfer_matrix};
//! let tm = transfer_matrix(6, 2.5).unwrap();
//! let k = kaufman(6, 2.5).unwrap();
//! assert!((tm.ln_z - k.ln_z).abs() < 1e-10);
//! assert!((tm.energy_per_site - k.energy_per_site).abs() < 1e-10);
//! assert!(tm.abs_m.unwrap() > 0.0 && k.abs_m.is_none());
//! assert_eq!(exact_finite(64, 2.5).unwrap().method.to_string(), "Kaufman");
//! ```

use std::fmt;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Largest side [`enumerate`] accepts (`2^25` configurations).
pub const ENUMERATION_MAX_SIZE: usize = 5;
/// Largest side [`transfer_matrix`] accepts.
pub const TRANSFER_MATRIX_MAX_SIZE: usize = 12;
/// Largest side for which [`transfer_matrix`] also gives `<|m|>` and `<m^4>` (the full
/// distribution of the magnetization).
pub const TRANSFER_MATRIX_DISTRIBUTION_MAX_SIZE: usize = 10;

/// How an exact value was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExactMethod {
    /// Sum over all configurations.
    Enumeration,
    /// Site-by-site transfer matrix.
    TransferMatrix,
    /// Kaufman's closed form.
    Kaufman,
}

impl fmt::Display for ExactMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExactMethod::Enumeration => "enumeration",
            ExactMethod::TransferMatrix => "transfer matrix",
            ExactMethod::Kaufman => "Kaufman",
        })
    }
}

/// Exact thermodynamics of the periodic `L x L` Ising model at one temperature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FiniteIsing {
    /// Side `L`.
    pub size: usize,
    /// Temperature `T`.
    pub temperature: f64,
    /// `ln Z`.
    pub ln_z: f64,
    /// `<E> / N`.
    pub energy_per_site: f64,
    /// `C / N = beta^2 var(E) / N`.
    pub specific_heat_per_site: f64,
    /// `<m^2>` (`m = sum s / N`), when the method gives it.
    pub m2: Option<f64>,
    /// `<|m|>`, when the method gives it.
    pub abs_m: Option<f64>,
    /// `<m^4>`, when the method gives it.
    pub m4: Option<f64>,
    /// How the values were computed.
    pub method: ExactMethod,
}

pub(crate) fn check_size_temperature(l: usize, t: f64, max: usize, what: &str) -> Result<()> {
    if l < 2 || l > max {
        return Err(Error::param(
            "size",
            format!("{what} needs 2 <= L <= {max}, got {l}"),
        ));
    }
    if !(t > 0.0 && t.is_finite()) {
        return Err(Error::param(
            "temperature",
            format!("must be finite and > 0, got {t}"),
        ));
    }
    Ok(())
}

/// The exact values by the best method for `l`: the transfer matrix up to
/// [`TRANSFER_MATRIX_MAX_SIZE`] (with `<|m|>` up to
/// [`TRANSFER_MATRIX_DISTRIBUTION_MAX_SIZE`]), Kaufman's formula beyond (no magnetization).
pub fn exact_finite(l: usize, t: f64) -> Result<FiniteIsing> {
    if l <= TRANSFER_MATRIX_MAX_SIZE {
        transfer_matrix(l, t)
    } else {
        super::kaufman::kaufman(l, t)
    }
}

/// The joint density of states of the `L x L` torus: `counts[a][k]` configurations with `a`
/// unsatisfied bonds (`E = 2a - 2N`) and `k` up spins.
fn density_of_states(l: usize) -> Vec<Vec<u64>> {
    let n = l * l;
    let mask = (1u32 << l) - 1;
    let rot = |x: u32| ((x >> 1) | (x << (l - 1))) & mask;
    let rows_of = |cfg: u64, r: usize| ((cfg >> (r * l)) as u32) & mask;
    let total: u64 = 1 << n;
    // split over the first row for the parallel sum
    let parts: Vec<Vec<Vec<u64>>> = (0..(1u64 << l))
        .into_par_iter()
        .map(|first| {
            let mut counts = vec![vec![0u64; n + 1]; 2 * n + 1];
            let rest = total >> l;
            for hi in 0..rest {
                let cfg = first | (hi << l);
                let (mut a, mut up) = (0u32, 0u32);
                for r in 0..l {
                    let row = rows_of(cfg, r);
                    let below = rows_of(cfg, (r + 1) % l);
                    a += ((row ^ rot(row)) & mask).count_ones();
                    a += (row ^ below).count_ones();
                    up += row.count_ones();
                }
                counts[a as usize][up as usize] += 1;
            }
            counts
        })
        .collect();
    let mut counts = vec![vec![0u64; n + 1]; 2 * n + 1];
    for p in parts {
        for (a, row) in p.into_iter().enumerate() {
            for (k, c) in row.into_iter().enumerate() {
                counts[a][k] += c;
            }
        }
    }
    counts
}

/// Exact values by summing over all `2^(L^2)` configurations (`2 <= L <= 5`).
pub fn enumerate(l: usize, t: f64) -> Result<FiniteIsing> {
    check_size_temperature(l, t, ENUMERATION_MAX_SIZE, "enumeration")?;
    let counts = density_of_states(l);
    let n = l * l;
    let beta = 1.0 / t;
    let x = (-2.0 * beta).exp();
    let (mut z, mut a1, mut a2, mut mm2, mut mabs, mut mm4) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (a, row) in counts.iter().enumerate() {
        let w = x.powi(a as i32);
        for (k, &c) in row.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let wc = w * c as f64;
            let m = (2.0 * k as f64 - n as f64) / n as f64;
            z += wc;
            a1 += wc * a as f64;
            a2 += wc * (a * a) as f64;
            mm2 += wc * m * m;
            mm4 += wc * m.powi(4);
            mabs += wc * m.abs();
        }
    }
    Ok(finish(
        l,
        t,
        z.ln(),
        a1 / z,
        a2 / z,
        Some((mm2 / z, mabs / z, mm4 / z)),
        None,
        ExactMethod::Enumeration,
    ))
}

/// The exact distribution of the total energy `E` of the `L x L` torus at temperature `t`
/// (`2 <= L <= 5`, by enumeration): `(E, P(E))` for every reachable energy, in increasing `E`.
///
/// ```
/// let p = emf_rbm::ising::energy_distribution(4, 2.269).unwrap();
/// assert_eq!(p[0].0, -32.0);
/// assert!((p.iter().map(|x| x.1).sum::<f64>() - 1.0).abs() < 1e-12);
/// ```
pub fn energy_distribution(l: usize, t: f64) -> Result<Vec<(f64, f64)>> {
    check_size_temperature(l, t, ENUMERATION_MAX_SIZE, "enumeration")?;
    let counts = density_of_states(l);
    let n = l * l;
    let x = (-2.0 / t).exp();
    let w: Vec<(f64, f64)> = counts
        .iter()
        .enumerate()
        .filter_map(|(a, row)| {
            let c: u64 = row.iter().sum();
            (c > 0).then(|| (2.0 * a as f64 - 2.0 * n as f64, c as f64 * x.powi(a as i32)))
        })
        .collect();
    let z: f64 = w.iter().map(|p| p.1).sum();
    Ok(w.into_iter().map(|(e, p)| (e, p / z)).collect())
}

/// Assembles a result from `ln sum x^a`, `<a>`, `<a^2>` (`a` unsatisfied bonds).
#[allow(clippy::too_many_arguments)]
fn finish(
    l: usize,
    t: f64,
    ln_sum: f64,
    a1: f64,
    a2: f64,
    m: Option<(f64, f64, f64)>,
    m2_only: Option<f64>,
    method: ExactMethod,
) -> FiniteIsing {
    let n = (l * l) as f64;
    let beta = 1.0 / t;
    let var_a = (a2 - a1 * a1).max(0.0);
    FiniteIsing {
        size: l,
        temperature: t,
        ln_z: 2.0 * n * beta + ln_sum,
        energy_per_site: (2.0 * a1 - 2.0 * n) / n,
        specific_heat_per_site: beta * beta * 4.0 * var_a / n,
        m2: m.map(|m| m.0).or(m2_only),
        abs_m: m.map(|m| m.1),
        m4: m.map(|m| m.2),
        method,
    }
}

/// First rows up to the lattice symmetries that keep a row a row (cyclic shifts, mirror,
/// global flip): `(representative, class size)`. Every quantity computed here is the same for
/// all first rows of a class.
fn first_row_classes(l: usize) -> Vec<(u32, f64)> {
    let mask = (1u32 << l) - 1;
    let rot = |x: u32| ((x >> 1) | (x << (l - 1))) & mask;
    let rev = |x: u32| x.reverse_bits() >> (32 - l);
    let mut size = vec![0u32; 1 << l];
    for s in 0..(1u32 << l) {
        let mut best = s;
        for v in [s, rev(s), !s & mask, rev(!s & mask)] {
            let mut y = v;
            for _ in 0..l {
                best = best.min(y);
                y = rot(y);
            }
        }
        size[best as usize] += 1;
    }
    size.iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(s, &c)| (s as u32, c as f64))
        .collect()
}

/// Number of unsatisfied bonds between the new spin `x` (0/1) and its present neighbours, for
/// the site at column `c` of row `r`, given the front `s` (bit 0: the site above, bit `L-1`:
/// the site to the left, bit 1: the row's first site) and the first row `s0`.
#[inline(always)]
fn unsatisfied(s: u32, x: u32, l: usize, c: usize, last_row: bool, s0: u32) -> usize {
    let mut d = ((s & 1) != x) as usize;
    if c > 0 {
        d += (((s >> (l - 1)) & 1) != x) as usize;
    }
    if c == l - 1 {
        d += (((s >> 1) & 1) != x) as usize;
    }
    if last_row {
        d += (((s0 >> c) & 1) != x) as usize;
    }
    d
}

/// Moments of one first row `s0`: `(sum w, sum w a, sum w a^2, sum w M^2)`.
fn tm_moments(l: usize, s0: u32, xp: &[f64; 5]) -> [f64; 4] {
    let size = 1usize << l;
    let mask = (size - 1) as u32;
    let rot = |x: u32| ((x >> 1) | (x << (l - 1))) & mask;
    // arrays: z, sum a, sum a^2, sum M, sum M^2
    let mut cur = vec![[0.0f64; 5]; size];
    let mut next = vec![[0.0f64; 5]; size];
    let a0 = ((s0 ^ rot(s0)) & mask).count_ones() as f64;
    let m0 = 2.0 * s0.count_ones() as f64 - l as f64;
    let w0 = xp[1].powf(a0);
    cur[s0 as usize] = [w0, w0 * a0, w0 * a0 * a0, w0 * m0, w0 * m0 * m0];
    for r in 1..l {
        let last_row = r == l - 1;
        for c in 0..l {
            for (t, out) in next.iter_mut().enumerate() {
                let t = t as u32;
                let x = (t >> (l - 1)) & 1;
                let sigma = 2.0 * x as f64 - 1.0;
                let base = (t << 1) & mask;
                let mut acc = [0.0f64; 5];
                for b in 0..2u32 {
                    let s = base | b;
                    let p = &cur[s as usize];
                    if p[0] == 0.0 {
                        continue;
                    }
                    let d = unsatisfied(s, x, l, c, last_row, s0);
                    let f = xp[d];
                    let df = d as f64;
                    acc[0] += f * p[0];
                    acc[1] += f * (p[1] + df * p[0]);
                    acc[2] += f * (p[2] + 2.0 * df * p[1] + df * df * p[0]);
                    acc[3] += f * (p[3] + sigma * p[0]);
                    acc[4] += f * (p[4] + 2.0 * sigma * p[3] + p[0]);
                }
                *out = acc;
            }
            std::mem::swap(&mut cur, &mut next);
        }
    }
    let mut tot = [0.0f64; 4];
    for p in &cur {
        tot[0] += p[0];
        tot[1] += p[1];
        tot[2] += p[2];
        tot[3] += p[4];
    }
    tot
}

/// Weights of one first row `s0` by number of up spins: `out[k] = sum w` over configurations
/// with `k` up spins.
fn tm_distribution(l: usize, s0: u32, xp: &[f64; 5]) -> Vec<f64> {
    let size = 1usize << l;
    let n = l * l;
    let width = n + 1;
    let mask = (size - 1) as u32;
    let rot = |x: u32| ((x >> 1) | (x << (l - 1))) & mask;
    let mut cur = vec![0.0f64; size * width];
    let mut next = vec![0.0f64; size * width];
    let a0 = ((s0 ^ rot(s0)) & mask).count_ones() as i32;
    cur[s0 as usize * width + s0.count_ones() as usize] = xp[1].powi(a0);
    // up spins placed so far bound the occupied range of k
    let mut placed = l;
    for r in 1..l {
        let last_row = r == l - 1;
        for c in 0..l {
            placed += 1;
            for t in 0..size as u32 {
                let x = (t >> (l - 1)) & 1;
                let base = (t << 1) & mask;
                let out = &mut next[t as usize * width..(t as usize + 1) * width];
                out[..=placed].fill(0.0);
                for b in 0..2u32 {
                    let s = base | b;
                    let f = xp[unsatisfied(s, x, l, c, last_row, s0)];
                    let src = &cur[s as usize * width..s as usize * width + placed];
                    let dst = &mut out[x as usize..x as usize + placed];
                    for (o, &p) in dst.iter_mut().zip(src) {
                        *o += f * p;
                    }
                }
            }
            std::mem::swap(&mut cur, &mut next);
        }
    }
    let mut out = vec![0.0f64; width];
    for t in 0..size {
        for (o, &p) in out.iter_mut().zip(&cur[t * width..(t + 1) * width]) {
            *o += p;
        }
    }
    out
}

/// Exact values by the site-by-site transfer matrix (`2 <= L <= 12`). The first row is
/// fixed (it closes the vertical periodic bonds) and summed over its symmetry classes; `<m^2>`
/// comes from propagated moments, `<|m|>` and `<m^4>` from the full distribution of the number
/// of up spins (`L <= 10`). Cost `O(classes * L^2 * 2^L)` (times `L^2` for the distribution).
pub fn transfer_matrix(l: usize, t: f64) -> Result<FiniteIsing> {
    check_size_temperature(l, t, TRANSFER_MATRIX_MAX_SIZE, "the transfer matrix")?;
    let n = l * l;
    let x = (-2.0 / t).exp();
    let xp = [1.0, x, x * x, x * x * x, x * x * x * x];
    let classes = first_row_classes(l);
    let moments: Vec<[f64; 4]> = classes
        .par_iter()
        .map(|&(s0, _)| tm_moments(l, s0, &xp))
        .collect();
    let mut tot = [0.0f64; 4];
    for (m, &(_, count)) in moments.iter().zip(&classes) {
        for (t, v) in tot.iter_mut().zip(m) {
            *t += count * v;
        }
    }
    let z = tot[0];
    let n2 = (n * n) as f64;
    let m_stats = if l <= TRANSFER_MATRIX_DISTRIBUTION_MAX_SIZE {
        let dists: Vec<Vec<f64>> = classes
            .par_iter()
            .map(|&(s0, _)| tm_distribution(l, s0, &xp))
            .collect();
        let mut p = vec![0.0f64; n + 1];
        for (d, &(_, count)) in dists.iter().zip(&classes) {
            for (pk, v) in p.iter_mut().zip(d) {
                *pk += count * v;
            }
        }
        let zd: f64 = p.iter().sum();
        let (mut m2, mut mabs, mut m4) = (0.0, 0.0, 0.0);
        for (k, pk) in p.iter().enumerate() {
            let m = (2.0 * k as f64 - n as f64) / n as f64;
            m2 += pk * m * m;
            mabs += pk * m.abs();
            m4 += pk * m.powi(4);
        }
        Some((m2 / zd, mabs / zd, m4 / zd))
    } else {
        None
    };
    Ok(finish(
        l,
        t,
        z.ln(),
        tot[1] / z,
        tot[2] / z,
        m_stats,
        Some(tot[3] / z / n2),
        ExactMethod::TransferMatrix,
    ))
}
