//! Exact, numerically stable per-hidden-unit terms `D_S(b; x)` of the many-body couplings.
//!
//! For one hidden unit with bias `b` and weights `x_i = W_ij` (`i` in `S`),
//! `D_S(b) = sum_{T subset S} (-1)^(|S|-|T|) sp(b + sum_{i in T} x_i)` is the `|S|`-th finite
//! difference of the softplus at `b` with steps `x_i` (docs/MATH.md section 5). The alternating sum
//! cancels catastrophically when the steps are small; this module evaluates `D_S` with a
//! relative error (to the rigorous bound `c_k prod |x_i|`) near machine precision:
//!
//! * order 1: `ln(1 + s(b) expm1(x))`;
//! * order 2: the R-form `ln(1 + R_x R_y)`, `R_x = sinh(x/2) / cosh((b + x)/2)`, with the direct
//!   sum when `1 + R_x R_y` itself would cancel (then `|D| >= ln 2` and the sum is accurate);
//! * order `k >= 3`: the clamping recursion `D_{S+i}(b) = D_S(b + x_i) - D_S(b)` applied over
//!   the largest steps, on top of either the stable pair form of the two smallest steps or,
//!   when the recursion alone would lose more than ~3 digits, the weak-coupling (Taylor) series
//!   `prod_i (e^{x_i d/db} - 1) sp(b)` of the smallest steps (convergent for
//!   `sum |x| < sqrt(b^2 + pi^2)`, truncated by an explicit geometric bound).

use crate::linalg::{sigmoid, softplus};

/// `sup_b |sp^(k)(b)|` for `k = 0..=12` (`k = 0, 1` are not bounded and unused): the constants
/// `c_k` of the bound `|D_S| <= c_k prod |x_i|` (computed with 30-digit arithmetic).
const C_K: [f64; 13] = [
    f64::INFINITY,
    1.0,
    0.25,
    0.09622504486493763,
    0.125,
    0.12768392196780176,
    0.25,
    0.4083277588543369,
    1.0625,
    2.390079141652474,
    7.75,
    22.25197039759219,
    86.375,
];

/// The constant `c_k` of the rigorous bound `|D_S^j| <= c_k prod_{i in S} |W_ij|` for `|S| = k`
/// (`c_1 = 1`, `c_2 = 1/4`, `c_3 = sqrt(3)/18`, `c_4 = 1/8`, ...). Exact suprema of the
/// softplus derivatives up to `k = 12`; above, the Cauchy-type bound `2 k! / pi^k`, which
/// exceeds the true supremum there.
pub fn bound_constant(k: usize) -> f64 {
    if k < C_K.len() {
        C_K[k]
    } else {
        let mut c = 2.0;
        for n in 1..=k {
            c *= n as f64 / std::f64::consts::PI;
        }
        c
    }
}

/// The plain alternating sum `sum_{T subset S} (-1)^(|S|-|T|) sp(b + x_T)` (`2^k` softplus
/// values). Exact in exact arithmetic, but it cancels catastrophically for small steps: a
/// reference only.
pub fn alternating_sum(b: f64, x: &[f64]) -> f64 {
    let k = x.len();
    let mut sum = 0.0;
    for mask in 0u64..(1u64 << k) {
        let mut arg = b;
        for (i, &xi) in x.iter().enumerate() {
            if mask >> i & 1 == 1 {
                arg += xi;
            }
        }
        let sign = if (k - mask.count_ones() as usize) % 2 == 0 {
            1.0
        } else {
            -1.0
        };
        sum += sign * softplus(arg);
    }
    sum
}

/// `D_i(b) = sp(b + x) - sp(b)`, stably: `ln(1 + s(b) (e^x - 1))`.
pub fn d1(b: f64, x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    let z = sigmoid(b) * x.exp_m1();
    if z.is_finite() && z >= -0.5 {
        z.ln_1p()
    } else {
        softplus(b + x) - softplus(b)
    }
}

/// `R_x(b) = sinh(x/2) / cosh((b + x)/2)`, the pair-form factor of one unit.
///
/// Finite for `|x|, |b + x| < 1400`; larger arguments give infinities or zeros, which
/// [`d2`] detects and replaces by the direct sum.
#[inline]
pub fn r_factor(b: f64, x: f64) -> f64 {
    (0.5 * x).sinh() / (0.5 * (b + x)).cosh()
}

/// `D_ij(b) = ln(1 + R_x R_y)` (the stable pair form), with the direct softplus sum where
/// `1 + R_x R_y < 1/2` (there `|D| > ln 2`, so the sum loses nothing) or where `R` overflows.
pub fn d2(b: f64, x: f64, y: f64) -> f64 {
    if x == 0.0 || y == 0.0 {
        return 0.0;
    }
    let p = r_factor(b, x) * r_factor(b, y);
    if p.is_finite() && p >= -0.5 && p != 0.0 {
        p.ln_1p()
    } else {
        let direct = softplus(b + x + y) + softplus(b) - softplus(b + x) - softplus(b + y);
        if p == 0.0 && direct.abs() < f64::MIN_POSITIVE {
            0.0
        } else {
            direct
        }
    }
}

/// Largest total `sum |x|` handled by the weak-coupling series (ratio to the radius of
/// convergence `>= pi` at most ~0.32 after the 0.9 safety factor below).
const SERIES_SPAN: f64 = 1.0;
/// Estimated relative loss (to the bound) above which the recursion hands over to the series.
const MAX_RECURSION_LOSS: f64 = 1e3;

/// `D_S(b)` for a hidden unit of bias `b` and weights `x` (any order `k = |S| >= 0`;
/// `D_{} = sp(b)`), evaluated stably (see the module documentation).
///
/// The relative error to the bound `c_k prod|x_i|` is a few ulps times at most
/// `MAX_RECURSION_LOSS`-like factors that only arise for `k >= 5` with mid-sized weights.
pub fn d_subset(b: f64, x: &[f64]) -> f64 {
    match x.len() {
        0 => softplus(b),
        1 => d1(b, x[0]),
        2 => d2(b, x[0], x[1]),
        k => {
            if x.contains(&0.0) {
                return 0.0;
            }
            let mut order: Vec<usize> = (0..k).collect();
            order.sort_by(|&p, &q| x[p].abs().total_cmp(&x[q].abs()));
            let sorted: Vec<f64> = order.iter().map(|&i| x[i]).collect();
            // Loss of the pair base + recursion over the k-2 largest steps.
            let mut loss = bound_constant(2) / bound_constant(k);
            for &v in &sorted[2..] {
                loss *= 2.0 * (1.0 / v.abs()).max(1.0);
            }
            // Largest prefix (smallest steps) the series handles.
            let mut span = 0.0;
            let mut n_series = 0;
            for &v in &sorted {
                if span + v.abs() <= SERIES_SPAN {
                    span += v.abs();
                    n_series += 1;
                } else {
                    break;
                }
            }
            if loss > MAX_RECURSION_LOSS && n_series >= 3 {
                let (base, rest) = sorted.split_at(n_series);
                clamp_recursion(b, rest, |bb| series(bb, base))
            } else {
                let (base, rest) = sorted.split_at(2);
                clamp_recursion(b, rest, |bb| d2(bb, base[0], base[1]))
            }
        }
    }
}

/// `sum_{L' subset rest} (-1)^(|rest|-|L'|) base(b + x_{L'})`: the clamping recursion
/// `D_{S+i}(b) = D_S(b + x_i) - D_S(b)` unrolled over the steps `rest`.
fn clamp_recursion(b: f64, rest: &[f64], base: impl Fn(f64) -> f64) -> f64 {
    let m = rest.len();
    let mut sum = 0.0;
    for mask in 0u64..(1u64 << m) {
        let mut arg = b;
        for (i, &xi) in rest.iter().enumerate() {
            if mask >> i & 1 == 1 {
                arg += xi;
            }
        }
        let sign = if (m - mask.count_ones() as usize) % 2 == 0 {
            1.0
        } else {
            -1.0
        };
        sum += sign * base(arg);
    }
    sum
}

/// Derivatives `sp^(n)(b)` for `n = 0..=nmax`.
///
/// The Taylor coefficients `sigma_m` of the sigmoid `s(b + u)` come from the power-series
/// quotient `q e^u / (1 + q e^u)` with `q = e^{-|b|} <= 1` (no overflow; the recursion's error
/// grows like `(pi/2)^m` ulps, harmless because the series weights fall faster), mirrored with
/// `s(b + u) = 1 - s(-b - u)` for `b > 0`; then `sp^(n)(b) = (n-1)! sigma_{n-1}`.
pub fn softplus_derivatives(b: f64, nmax: usize) -> Vec<f64> {
    let q = (-b.abs()).exp();
    let mut sig = vec![0.0; nmax.max(1)];
    // Series of s(-|b| + u).
    let d0 = 1.0 + q;
    let mut inv_fact = vec![1.0; nmax + 1];
    for l in 1..=nmax {
        inv_fact[l] = inv_fact[l - 1] / l as f64;
    }
    for m in 0..sig.len() {
        let mut acc = q * inv_fact[m];
        for l in 1..=m {
            acc -= q * inv_fact[l] * sig[m - l];
        }
        sig[m] = acc / d0;
    }
    if b > 0.0 {
        for (m, s) in sig.iter_mut().enumerate().skip(1) {
            if m % 2 == 0 {
                *s = -*s;
            }
        }
        sig[0] = sigmoid(b);
    }
    let mut out = Vec::with_capacity(nmax + 1);
    out.push(softplus(b));
    let mut fact = 1.0; // (n-1)!
    for n in 1..=nmax {
        if n > 1 {
            fact *= (n - 1) as f64;
        }
        out.push(fact * sig[n - 1]);
    }
    out
}

/// The weak-coupling series `D_S(b) = sum_n e_n sp^(n)(b)`, `e_n = [u^n] prod_i (e^{x_i u} - 1)`,
/// truncated where the geometric tail bound `C(n, k) r^(n-k)` with `r = sum|x| / (0.9 rho)`,
/// `rho = sqrt(b^2 + pi^2)` (the distance to the nearest singularity of `sp`), drops below 1e-18.
pub fn series(b: f64, x: &[f64]) -> f64 {
    let k = x.len();
    let span: f64 = x.iter().map(|v| v.abs()).sum();
    let rho = (b * b + std::f64::consts::PI * std::f64::consts::PI).sqrt();
    let r = span / (0.9 * rho);
    let mut extra = 0usize;
    if r > 0.0 {
        // smallest N with C(k+N, k) r^N < 1e-18
        let mut binom = 1.0f64;
        let mut rn = 1.0f64;
        while extra < 150 {
            extra += 1;
            binom *= (k + extra) as f64 / extra as f64;
            rn *= r;
            if binom * rn < 1e-18 {
                break;
            }
        }
    }
    let nmax = k + extra;
    // e_n by truncated polynomial products.
    let mut poly = vec![0.0; nmax + 1];
    poly[0] = 1.0;
    let mut factor = vec![0.0; nmax + 1];
    for &xi in x {
        factor[0] = 0.0;
        let mut t = 1.0;
        for (m, f) in factor.iter_mut().enumerate().skip(1) {
            t *= xi / m as f64;
            *f = t;
        }
        let mut next = vec![0.0; nmax + 1];
        for (a, &pa) in poly.iter().enumerate() {
            if pa == 0.0 {
                continue;
            }
            for c in 1..=(nmax - a) {
                next[a + c] += pa * factor[c];
            }
        }
        poly = next;
    }
    let der = softplus_derivatives(b, nmax);
    // Sum from the smallest terms up.
    let mut sum = 0.0;
    for n in (k..=nmax).rev() {
        sum += poly[n] * der[n];
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_cumulants() {
        for &b in &[-30.0, -3.0, -0.7, 0.0, 0.4, 2.5, 25.0] {
            let d = softplus_derivatives(b, 5);
            let s = sigmoid(b);
            let p = s * sigmoid(-b);
            assert!((d[1] - s).abs() < 1e-15);
            assert!((d[2] - p).abs() <= 1e-14 * p, "b={b}");
            let k3 = p * (1.0 - 2.0 * s);
            assert!((d[3] - k3).abs() <= 1e-13 * p, "b={b} {} {}", d[3], k3);
            let k4 = p * (1.0 - 6.0 * p);
            assert!((d[4] - k4).abs() <= 1e-13 * p, "b={b}");
        }
    }

    #[test]
    fn series_matches_alternating_sum_for_moderate_steps() {
        for &b in &[-2.0, -0.3, 0.0, 1.1] {
            let x = [0.3, -0.2, 0.25, 0.1];
            let a = alternating_sum(b, &x);
            let s = series(b, &x);
            assert!((a - s).abs() < 1e-14, "b={b} {a} {s}");
        }
    }
}
