//! The solver's fused, vectorised per-unit (per-column) passes. A column holds one unit's
//! values over all particles; every pass is plain arithmetic with selects, compiled for the
//! CPU's vector width through the crate's one SIMD dispatch, in the model's own precision
//! (`f32` models compute in `f32`: twice the lanes).
//!
//! Notation (one unit, `p` particles): `field` is the mean field from the other layer
//! without the bias, `o2 = ((W o W) nu_other)`, `o3 = ((W o W o W) kappa_other)`; the unit's
//! own pre-activation is `x(m) = field + bias + (1/2 - m) o2 + (1/3 - 2 nu) o3` and the TAP map
//! is `f(m) = s(x(m))`.

use crate::float::Float;
use crate::linalg::math::sigmoid;
use crate::linalg::simd_dispatch;
use crate::tap::options::UpdateRule;

/// `max(r, d)` that propagates a NaN `d` (compiles to a vector select).
#[inline(always)]
pub(crate) fn max_nan<T: PartialOrd>(r: T, d: T) -> T {
    if d <= r {
        r
    } else {
        d
    }
}

/// `|o3|` below which a unit's third-order free energy is strictly convex: the per-unit
/// equation's derivative is `1 + nu (o2 + 2 o3 (1 - 2m)) >= 1 - |o3| / (3 sqrt 3)` because
/// `max_m m (1 - m) |1 - 2m| = 1 / (6 sqrt 3)` and `o2 >= 0`.
pub const TAP3_CONVEX_BOUND: f64 = 5.196_152_422_706_632; // 3 sqrt 3

/// Newton iterations per exact solve at most (each halves the bracket at worst).
const MAX_NEWTON: usize = 64;

/// One unit's inputs and state over the particles of a column block.
pub(crate) struct Column<'a, T> {
    pub field: &'a [T],
    pub bias: f64,
    pub o2: &'a [T],
    pub o3: &'a [T],
    pub m: &'a mut [T],
    pub nu: &'a mut [T],
    pub kap: &'a mut [T],
}

/// Per-part scratch of the exact solves (`x`, bracket ends), one entry per particle row.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scratch<T> {
    x: Vec<T>,
    lo: Vec<T>,
    hi: Vec<T>,
    /// Rows whose third-order equation may have several roots.
    nonconvex: Vec<usize>,
}

impl<T: Float> Scratch<T> {
    pub fn resize(&mut self, rows: usize) {
        let z = T::of(0.0);
        self.x.resize(rows, z);
        self.lo.resize(rows, z);
        self.hi.resize(rows, z);
    }
}

/// Updates one unit over all particles by `rule` with damping `damping`; `res` becomes
/// `max(res, |f(m_old) - m_old|)` per particle. `order` is 1, 2 or 3.
pub(crate) fn update_column<T: Float>(
    order: usize,
    rule: UpdateRule,
    col: Column<'_, T>,
    res: &mut [T],
    damping: f64,
    scratch: &mut Scratch<T>,
) {
    if rule == UpdateRule::FixedPoint || order == 1 {
        // For naive mean field the map's value IS the exact root (o2 = o3 = 0).
        fixed_point_column(
            order, col.field, col.bias, col.o2, col.o3, col.m, col.nu, col.kap, res, damping,
        );
    } else {
        exact_column(order, col, res, damping, scratch);
    }
}

simd_dispatch! {
    /// The fixed-point rule: `m <- d m + (1 - d) s(x(m))`, then `nu = m (1 - m)`,
    /// `kappa = (1/2 - m) nu` as the order needs, and the residual `|s(x(m)) - m|`.
    fn fixed_point_column<T>(
        order: usize,
        field: &[T],
        bias: f64,
        o2: &[T],
        o3: &[T],
        m: &mut [T],
        nu: &mut [T],
        kap: &mut [T],
        res: &mut [T],
        damping: f64,
    ) {
        let n = m.len();
        let (field, res) = (&field[..n], &mut res[..n]);
        let (b, d) = (T::of(bias), T::of(damping));
        let (one, half, third, two) = (T::of(1.0), T::of(0.5), T::of(1.0 / 3.0), T::of(2.0));
        let take = one - d;
        match order {
            1 => {
                for r in 0..n {
                    let old = m[r];
                    let target = sigmoid(field[r] + b);
                    res[r] = max_nan(res[r], (target - old).abs());
                    m[r] = d * old + take * target;
                }
            }
            2 => {
                let (o2, nu) = (&o2[..n], &mut nu[..n]);
                for r in 0..n {
                    let old = m[r];
                    let target = sigmoid(field[r] + b + (half - old) * o2[r]);
                    res[r] = max_nan(res[r], (target - old).abs());
                    let new = d * old + take * target;
                    m[r] = new;
                    nu[r] = new * (one - new);
                }
            }
            _ => {
                let (o2, o3) = (&o2[..n], &o3[..n]);
                let (nu, kap) = (&mut nu[..n], &mut kap[..n]);
                for r in 0..n {
                    let old = m[r];
                    let x = field[r] + b + (half - old) * o2[r] + (third - two * nu[r]) * o3[r];
                    let target = sigmoid(x);
                    res[r] = max_nan(res[r], (target - old).abs());
                    let new = d * old + take * target;
                    m[r] = new;
                    let v = new * (one - new);
                    nu[r] = v;
                    kap[r] = (half - new) * v;
                }
            }
        }
    }
}

/// The exact rule at order 2 or 3: every particle's scalar equation
/// `F(x) = x - c - (1/2 - s(x)) o2 - (1/3 - 2 nu(x)) o3 = 0` (`c = field + bias`) solved by a
/// bracketed Newton iteration in `x = logit(m)`, vectorised across particles.
fn exact_column<T: Float>(
    order: usize,
    col: Column<'_, T>,
    res: &mut [T],
    damping: f64,
    scratch: &mut Scratch<T>,
) {
    let n = col.m.len();
    scratch.resize(n);
    let o3: &[T] = if order >= 3 { col.o3 } else { &[] };
    let tight = newton_start(
        col.field,
        col.bias,
        col.o2,
        o3,
        col.m,
        col.nu,
        res,
        &mut scratch.x,
        &mut scratch.lo,
        &mut scratch.hi,
    );
    if order >= 3 && !tight {
        scratch.nonconvex.clear();
        for r in 0..n {
            if o3[r].abs().as_f64() >= TAP3_CONVEX_BOUND {
                scratch.nonconvex.push(r);
            }
        }
    }
    // Newton's error after a step of size s is about C s^2: a step below sqrt(eps) / 10 leaves
    // x exact to rounding (bisection steps are large, so they never stop the loop early).
    let stop = 0.1 * T::epsilon().as_f64().sqrt();
    for _ in 0..MAX_NEWTON {
        let step = newton_step(
            col.field,
            col.bias,
            col.o2,
            o3,
            &mut scratch.x,
            &mut scratch.lo,
            &mut scratch.hi,
        );
        if step <= stop {
            break;
        }
    }
    if order >= 3 && !tight {
        for &r in &scratch.nonconvex {
            let c = col.field[r].as_f64() + col.bias;
            let x = tap3_global_root(c, col.o2[r].as_f64(), o3[r].as_f64(), scratch.x[r].as_f64());
            scratch.x[r] = T::of(x);
        }
    }
    finish_exact(order, &scratch.x, col.m, col.nu, col.kap, damping);
}

simd_dispatch! {
    /// Starts the Newton iteration at the map's pre-activation `x(m_old)` with the bracket
    /// `[c - o2/2 - |o3|/3, c + o2/2 + |o3|/3]` (which holds every root), and records the
    /// residual `|s(x(m_old)) - m_old|`. Returns true when every `|o3| < 3 sqrt 3` (each
    /// equation then has exactly one root). `o3` is empty below third order.
    fn newton_start<T>(
        field: &[T],
        bias: f64,
        o2: &[T],
        o3: &[T],
        m: &[T],
        nu: &[T],
        res: &mut [T],
        x: &mut [T],
        lo: &mut [T],
        hi: &mut [T],
    ) -> bool {
        let n = m.len();
        let (field, o2, res) = (&field[..n], &o2[..n], &mut res[..n]);
        let (x, lo, hi) = (&mut x[..n], &mut lo[..n], &mut hi[..n]);
        let b = T::of(bias);
        let (half, third, two) = (T::of(0.5), T::of(1.0 / 3.0), T::of(2.0));
        if o3.is_empty() {
            for r in 0..n {
                let c = field[r] + b;
                let x0 = c + (half - m[r]) * o2[r];
                res[r] = max_nan(res[r], (sigmoid(x0) - m[r]).abs());
                x[r] = x0;
                let w = half * o2[r];
                lo[r] = c - w;
                hi[r] = c + w;
            }
            true
        } else {
            let (o3, nu) = (&o3[..n], &nu[..n]);
            let bound = T::of(TAP3_CONVEX_BOUND);
            let mut convex = true;
            for r in 0..n {
                let c = field[r] + b;
                let x0 = c + (half - m[r]) * o2[r] + (third - two * nu[r]) * o3[r];
                res[r] = max_nan(res[r], (sigmoid(x0) - m[r]).abs());
                x[r] = x0;
                let w = half * o2[r] + third * o3[r].abs();
                lo[r] = c - w;
                hi[r] = c + w;
                convex &= o3[r].abs() < bound;
            }
            convex
        }
    }
}

simd_dispatch! {
    /// One safeguarded Newton step for every particle: the bracket shrinks to the side of
    /// the root (`F(lo) <= 0 <= F(hi)` is kept), and a Newton step that leaves it is replaced
    /// by bisection. Returns the largest `|dx|` relative to the size of the terms of `F`
    /// (`1 + |x| + |c| + o2 + |o3|`).
    fn newton_step<T>(
        field: &[T],
        bias: f64,
        o2: &[T],
        o3: &[T],
        x: &mut [T],
        lo: &mut [T],
        hi: &mut [T],
    ) -> f64 {
        let n = x.len();
        let (field, o2) = (&field[..n], &o2[..n]);
        let (lo, hi) = (&mut lo[..n], &mut hi[..n]);
        let b = T::of(bias);
        let (zero, one, half, third, two) =
            (T::of(0.0), T::of(1.0), T::of(0.5), T::of(1.0 / 3.0), T::of(2.0));
        // Eight running maxima (one loop-carried maximum does not vectorise).
        let mut big = [0.0f64; 8];
        let third_order = !o3.is_empty();
        let o3 = if third_order { &o3[..n] } else { o2 };
        for r in 0..n {
            let xr = x[r];
            let e = T::fast_exp(-xr);
            let inv = one / (one + e);
            let (m, om) = (inv, e * inv); // s(x), 1 - s(x) without cancellation
            let nu = m * om;
            let t3 = if third_order { o3[r] } else { zero };
            let f = xr - field[r] - b - (half - m) * o2[r] - (third - two * nu) * t3;
            let df = one + nu * (o2[r] + two * t3 * (om - m));
            let is_hi = f > zero;
            let l = if is_hi { lo[r] } else { xr };
            let h = if is_hi { xr } else { hi[r] };
            let newton = xr - f / df;
            // Inclusive: at convergence the Newton point rounds onto the bracket end x itself.
            let inside = newton >= l && newton <= h;
            let next = if inside { newton } else { half * (l + h) };
            let next = if f == zero { xr } else { next };
            lo[r] = l;
            hi[r] = h;
            x[r] = next;
            // Relative to the size of the terms of F (its rounding error scales with them).
            let scale = one + xr.abs() + (field[r] + b).abs() + o2[r] + t3.abs();
            let rel = ((next - xr).abs() / scale).as_f64();
            big[r % 8] = max_nan(big[r % 8], rel);
        }
        big.iter().fold(0.0, |a, &v| max_nan(a, v))
    }
}

simd_dispatch! {
    /// `m <- d m + (1 - d) s(x)`, then `nu` (from `x` directly when undamped:
    /// `s(x) s(-x)` keeps its relative precision near 0 and 1) and `kappa`.
    fn finish_exact<T>(order: usize, x: &[T], m: &mut [T], nu: &mut [T], kap: &mut [T], damping: f64) {
        let n = m.len();
        let (x, nu) = (&x[..n], &mut nu[..n]);
        let (one, half) = (T::of(1.0), T::of(0.5));
        let d = T::of(damping);
        if damping == 0.0 {
            for r in 0..n {
                let e = T::fast_exp(-x[r]);
                let inv = one / (one + e);
                m[r] = inv;
                nu[r] = inv * (e * inv);
            }
        } else {
            let take = one - d;
            for r in 0..n {
                let new = d * m[r] + take * sigmoid(x[r]);
                m[r] = new;
                nu[r] = new * (one - new);
            }
        }
        if order >= 3 {
            let kap = &mut kap[..n];
            for r in 0..n {
                kap[r] = (half - m[r]) * nu[r];
            }
        }
    }
}

/// One unit's third-order free energy as a function of its magnetization (up to a
/// constant): `g(m) = m ln m + (1-m) ln(1-m) - c m - o2 nu / 2 - (2/3) o3 kappa`, whose
/// derivative is `logit(m) - c - (1/2 - m) o2 - (1/3 - 2 nu) o3`.
pub fn tap3_unit_free_energy(m: f64, c: f64, o2: f64, o3: f64) -> f64 {
    let nu = m * (1.0 - m);
    let ent = if m <= 0.0 || m >= 1.0 {
        0.0
    } else {
        m * m.ln() + (1.0 - m) * (-m).ln_1p()
    };
    ent - c * m - 0.5 * o2 * nu - (2.0 / 3.0) * o3 * (0.5 - m) * nu
}

/// The per-unit equation `F(x) = x - c - (1/2 - m) o2 - (1/3 - 2 nu) o3` and its derivative.
fn tap3_equation(x: f64, c: f64, o2: f64, o3: f64) -> (f64, f64) {
    let m = crate::linalg::sigmoid(x);
    let om = crate::linalg::sigmoid(-x);
    let nu = m * om;
    let f = x - c - (0.5 - m) * o2 - (1.0 / 3.0 - 2.0 * nu) * o3;
    (f, 1.0 + nu * (o2 + 2.0 * o3 * (om - m)))
}

/// A root of `F` in `[lo, hi]` where `F(lo) <= 0 <= F(hi)`, by bracketed Newton.
fn bracketed_root(mut lo: f64, mut hi: f64, c: f64, o2: f64, o3: f64) -> f64 {
    let mut x = 0.5 * (lo + hi);
    for _ in 0..200 {
        let (f, df) = tap3_equation(x, c, o2, o3);
        if f == 0.0 {
            return x;
        }
        if f > 0.0 {
            hi = x;
        } else {
            lo = x;
        }
        let newton = x - f / df;
        let next = if df > 0.0 && newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        if (next - x).abs() <= 1e-15 * (1.0 + x.abs()) {
            return next;
        }
        x = next;
    }
    x
}

/// The global minimiser (as `x = logit(m)`) of one unit's third-order free energy
/// [`tap3_unit_free_energy`], for any `o3`.
///
/// `F'(x) = p(m) = 1 + m (1 - m) (A - B m)` with `A = o2 + 2 o3`, `B = 4 o3` is a cubic with
/// `p(0) = p(1) = 1`, so it has zero or two roots in `(0, 1)`: `F` is either increasing (one
/// root, the minimum) or increasing-decreasing-increasing, with a root in each increasing
/// piece when `F(x1) >= 0` (left) or `F(x2) <= 0` (right). Both are local minima of `g`; the
/// lower one is returned. `x_hint` is returned when it is already the unique root.
pub fn tap3_global_root(c: f64, o2: f64, o3: f64, x_hint: f64) -> f64 {
    let w = 0.5 * o2 + o3.abs() / 3.0;
    let (lo, hi) = (c - w, c + w);
    let (a, b) = (o2 + 2.0 * o3, 4.0 * o3);
    let p = |m: f64| 1.0 + m * (1.0 - m) * (a - b * m);
    // Critical points of p: 3 B m^2 - 2 (A + B) m + A = 0.
    let mut crit = Vec::with_capacity(2);
    if b.abs() < 1e-300 {
        crit.push(0.5);
    } else {
        let disc = 4.0 * (a + b) * (a + b) - 12.0 * a * b;
        if disc >= 0.0 {
            let s = disc.sqrt();
            for m in [
                (2.0 * (a + b) - s) / (6.0 * b),
                (2.0 * (a + b) + s) / (6.0 * b),
            ] {
                if m > 0.0 && m < 1.0 {
                    crit.push(m);
                }
            }
        }
    }
    let m_min = crit
        .iter()
        .copied()
        .fold(None, |best: Option<f64>, m| match best {
            Some(q) if p(q) <= p(m) => Some(q),
            _ => Some(m),
        });
    let Some(m_min) = m_min.filter(|&m| p(m) < 0.0) else {
        return bracketed_root(lo, hi, c, o2, o3).clamp(lo, hi);
    };
    // The two roots of p around its negative minimum.
    let bisect = |mut l: f64, mut h: f64, rising: bool| {
        for _ in 0..200 {
            let mid = 0.5 * (l + h);
            if (p(mid) < 0.0) == rising {
                l = mid;
            } else {
                h = mid;
            }
        }
        0.5 * (l + h)
    };
    let m1 = bisect(0.0, m_min, false);
    let m2 = bisect(m_min, 1.0, true);
    let logit = |m: f64| (m / (1.0 - m)).ln();
    let (x1, x2) = (logit(m1).clamp(lo, hi), logit(m2).clamp(lo, hi));
    let mut candidates = Vec::with_capacity(2);
    if tap3_equation(x1, c, o2, o3).0 >= 0.0 {
        candidates.push(bracketed_root(lo, x1, c, o2, o3));
    }
    if tap3_equation(x2, c, o2, o3).0 <= 0.0 {
        candidates.push(bracketed_root(x2, hi, c, o2, o3));
    }
    let g = |x: f64| tap3_unit_free_energy(crate::linalg::sigmoid(x), c, o2, o3);
    candidates
        .into_iter()
        .fold(None, |best: Option<f64>, x| match best {
            Some(y) if g(y) <= g(x) => Some(y),
            _ => Some(x),
        })
        .unwrap_or(x_hint)
}

simd_dispatch! {
    /// If `set`: `m <- s(field + bias)`. Then `nu = m (1 - m)`, `kappa = (1/2 - m) nu` (as the
    /// order needs); returns `max |nu|` (0 when every `m` is 0 or 1).
    pub(crate) fn init_column<T>(
        order: usize,
        field: &[T],
        bias: f64,
        set: bool,
        m: &mut [T],
        nu: &mut [T],
        kap: &mut [T],
    ) -> f64 {
        let n = m.len();
        let (one, half) = (T::of(1.0), T::of(0.5));
        if set {
            let field = &field[..n];
            let b = T::of(bias);
            for r in 0..n {
                m[r] = sigmoid(field[r] + b);
            }
        }
        let mut big = [T::of(0.0); 8];
        if order >= 2 {
            let nu = &mut nu[..n];
            for r in 0..n {
                let v = m[r] * (one - m[r]);
                big[r % 8] = max_nan(big[r % 8], v.abs());
                nu[r] = v;
            }
        }
        if order >= 3 {
            let (kap, nu) = (&mut kap[..n], &nu[..n]);
            for r in 0..n {
                kap[r] = (half - m[r]) * nu[r];
            }
        }
        big.iter().fold(0.0, |a, &b| max_nan(a, b.as_f64()))
    }
}

simd_dispatch! {
    /// `w2 <- w o w` and (order 3) `w3 <- w o w o w`.
    pub(crate) fn powers_column<T>(order: usize, w: &[T], w2: &mut [T], w3: &mut [T]) {
        let n = w.len();
        let w2 = &mut w2[..n];
        if order >= 3 {
            let w3 = &mut w3[..n];
            for i in 0..n {
                let x = w[i];
                w2[i] = x * x;
                w3[i] = x * x * x;
            }
        } else {
            for i in 0..n {
                w2[i] = w[i] * w[i];
            }
        }
    }
}

simd_dispatch! {
    /// `g += w o tn` (order 2) or `g += w o tn + 2 w2 o tk` (order 3).
    pub(crate) fn onsager_gradient_column<T>(order: usize, w: &[T], tn: &[T], w2: &[T], tk: &[T], g: &mut [T]) {
        let n = g.len();
        let (w, tn) = (&w[..n], &tn[..n]);
        if order >= 3 {
            let (w2, tk) = (&w2[..n], &tk[..n]);
            let two = T::of(2.0);
            for i in 0..n {
                g[i] += w[i] * tn[i] + two * w2[i] * tk[i];
            }
        } else {
            for i in 0..n {
                g[i] += w[i] * tn[i];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Roots of F on a fine grid of m (sign changes), for checking the global solver.
    fn grid_minimum(c: f64, o2: f64, o3: f64) -> f64 {
        let mut best = (f64::INFINITY, 0.5);
        for k in 1..200_000 {
            let m = k as f64 / 200_000.0;
            let g = tap3_unit_free_energy(m, c, o2, o3);
            if g < best.0 {
                best = (g, m);
            }
        }
        best.1
    }

    #[test]
    fn nu_keeps_its_relative_precision_near_saturation_in_f32() {
        // For m = 1 - d on the f32 grid, m^2 = 1 - 2d + d^2 rounds to 1 - 2d while
        // d^2 < 2^-25, so m - m^2 = d: a relative error of d (up to ~2e-4 at d ~ 1.7e-4).
        // m (1 - m) is exact to rounding (1 - m is exact).
        let mut worst_naive: f64 = 0.0;
        for k in 2000..2100 {
            let m = 1.0f32 - k as f32 * 2f32.powi(-24);
            let exact = m as f64 * (1.0 - m as f64);
            let mut mm = vec![m; 16];
            let (mut nu, mut kap) = (vec![0.0f32; 16], vec![0.0f32; 16]);
            init_column(3, &[], 0.0, false, &mut mm, &mut nu, &mut kap);
            let rel = (nu[0] as f64 - exact).abs() / exact;
            assert!(rel < 1e-6, "init: nu relative error {rel} at m = {m}");
            worst_naive = worst_naive.max(((m - m * m) as f64 - exact).abs() / exact);
        }
        assert!(
            worst_naive > 1e-4,
            "the control: m - m^2 loses {worst_naive}"
        );
        let (mut mm, mut nu, mut kap) = (vec![0.0f32; 16], vec![0.0f32; 16], vec![0.0f32; 16]);
        // After an exact solve nu comes from x directly: s(x) s(-x) for x = 16.
        let x = vec![16.0f32; 16];
        finish_exact(2, &x, &mut mm, &mut nu, &mut kap, 0.0);
        let want = crate::linalg::sigmoid(16.0) * crate::linalg::sigmoid(-16.0);
        let rel = (nu[0] as f64 - want).abs() / want;
        assert!(rel < 1e-6, "solve: nu relative error {rel}");
    }

    #[test]
    fn tap3_global_root_is_the_global_minimum_of_the_unit_free_energy() {
        // Cases with |o3| above the convexity bound (two local minima possible) and below.
        let cases = [
            (0.0, 0.0, 40.0),
            (0.3, 1.0, -35.0),
            (-1.0, 0.5, 25.0),
            (2.0, 3.0, 60.0),
            (0.1, 0.0, 3.0),
            (-0.4, 2.0, -5.0),
        ];
        let mut saw_two = false;
        for (c, o2, o3) in cases {
            let x = tap3_global_root(c, o2, o3, 0.0);
            let m = crate::linalg::sigmoid(x);
            let (f, _) = tap3_equation(x, c, o2, o3);
            assert!(f.abs() < 1e-10, "not a root: F = {f} for {c} {o2} {o3}");
            let m_grid = grid_minimum(c, o2, o3);
            let (g, g_grid) = (
                tap3_unit_free_energy(m, c, o2, o3),
                tap3_unit_free_energy(m_grid, c, o2, o3),
            );
            assert!(
                g <= g_grid + 1e-9,
                "{c} {o2} {o3}: g(m={m}) = {g} > grid {g_grid} at {m_grid}"
            );
            // Count local minima on the grid.
            let mut minima = 0;
            let n = 20_000;
            for k in 2..n - 1 {
                let gm = |k: usize| tap3_unit_free_energy(k as f64 / n as f64, c, o2, o3);
                if gm(k) < gm(k - 1) && gm(k) < gm(k + 1) {
                    minima += 1;
                }
            }
            saw_two |= minima >= 2;
        }
        assert!(
            saw_two,
            "no case with two local minima: the test exercises nothing"
        );
    }
}
