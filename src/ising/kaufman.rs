//! Kaufman's exact partition function of the periodic `L x L` lattice (B. Kaufman, Phys. Rev.
//! 76, 1232 (1949); in the form of P. D. Beale, Phys. Rev. Lett. 76, 78 (1996)), with exact
//! first and second derivatives in `K = 1/T` by forward-mode automatic differentiation, so the
//! energy and specific heat carry no finite-difference error.
//!
//! `Z = 1/2 (2 sinh 2K)^(N/2) (Z1 + Z2 + Z3 + Z4)` with
//! `Z1 = prod_r 2 cosh(L g_{2r+1} / 2)`, `Z2 = prod_r 2 sinh(L g_{2r+1} / 2)`,
//! `Z3 = prod_r 2 cosh(L g_{2r} / 2)`, `Z4 = prod_r 2 sinh(L g_{2r} / 2)` (`r = 0..L-1`),
//! `cosh g_k = cosh 2K coth 2K - cos(pi k / L)` for `k >= 1` and the signed
//! `g_0 = 2K + ln tanh K` (negative above `T_c`, which makes `Z4` change sign there).

use super::exact::{check_size_temperature, ExactMethod, FiniteIsing};
use crate::error::Result;

/// A value with its first and second derivative in one variable.
#[derive(Clone, Copy, Debug)]
struct Dual2 {
    v: f64,
    d: f64,
    dd: f64,
}

impl Dual2 {
    fn var(v: f64) -> Self {
        Dual2 { v, d: 1.0, dd: 0.0 }
    }
    fn constant(v: f64) -> Self {
        Dual2 { v, d: 0.0, dd: 0.0 }
    }
    /// `f(self)` given `f`, `f'`, `f''` at `self.v`.
    fn chain(self, f: f64, f1: f64, f2: f64) -> Self {
        Dual2 {
            v: f,
            d: f1 * self.d,
            dd: f2 * self.d * self.d + f1 * self.dd,
        }
    }
    fn add(self, o: Self) -> Self {
        Dual2 {
            v: self.v + o.v,
            d: self.d + o.d,
            dd: self.dd + o.dd,
        }
    }
    fn mul(self, o: Self) -> Self {
        Dual2 {
            v: self.v * o.v,
            d: self.d * o.v + self.v * o.d,
            dd: self.dd * o.v + 2.0 * self.d * o.d + self.v * o.dd,
        }
    }
    fn scale(self, a: f64) -> Self {
        Dual2 {
            v: a * self.v,
            d: a * self.d,
            dd: a * self.dd,
        }
    }
    fn recip(self) -> Self {
        let r = 1.0 / self.v;
        self.chain(r, -r * r, 2.0 * r * r * r)
    }
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e, e)
    }
    fn ln(self) -> Self {
        let r = 1.0 / self.v;
        self.chain(self.v.ln(), r, -r * r)
    }
    fn sinh(self) -> Self {
        let (s, c) = (self.v.sinh(), self.v.cosh());
        self.chain(s, c, s)
    }
    fn cosh(self) -> Self {
        let (s, c) = (self.v.sinh(), self.v.cosh());
        self.chain(c, s, c)
    }
    fn tanh(self) -> Self {
        let t = self.v.tanh();
        let s = 1.0 - t * t;
        self.chain(t, s, -2.0 * t * s)
    }
    fn acosh(self) -> Self {
        let y = self.v;
        let q = (y * y - 1.0).sqrt();
        self.chain(y.acosh(), 1.0 / q, -y / (q * q * q))
    }
    /// `ln(2 cosh x)`, stable for large `|x|`.
    fn ln_2cosh(self) -> Self {
        let x = self.v;
        let t = x.tanh();
        let f = x.abs() + (-2.0 * x.abs()).exp().ln_1p();
        self.chain(f, t, 1.0 - t * t)
    }
}

/// Exact `ln Z`, energy and specific heat of the periodic `L x L` lattice at temperature `t`
/// by Kaufman's formula (any `L >= 2`; no magnetization).
///
/// ```
/// let k = emf_rbm::ising::kaufman(128, 2.0).unwrap();
/// // close to Onsager's infinite-lattice energy far from T_c
/// assert!((k.energy_per_site - emf_rbm::ising::exact_energy_per_site(2.0)).abs() < 1e-9);
/// ```
pub fn kaufman(l: usize, t: f64) -> Result<FiniteIsing> {
    check_size_temperature(l, t, usize::MAX, "Kaufman's formula")?;
    let k = Dual2::var(1.0 / t);
    let lf = l as f64;
    let two_k = k.scale(2.0);
    let (s2, c2) = (two_k.sinh(), two_k.cosh());
    // cosh 2K coth 2K = cosh^2 2K / sinh 2K
    let base = c2.mul(c2).mul(s2.recip());
    let gamma = |j: usize| -> Dual2 {
        if j == 0 {
            two_k.add(k.tanh().ln())
        } else {
            let c = (std::f64::consts::PI * j as f64 / lf).cos();
            base.add(Dual2::constant(-c)).acosh()
        }
    };
    let mut ln_z1 = Dual2::constant(0.0);
    let mut ln_z3 = Dual2::constant(0.0);
    let mut r2 = Dual2::constant(1.0);
    let mut r4 = Dual2::constant(1.0);
    for r in 0..l {
        let odd = gamma(2 * r + 1).scale(lf / 2.0);
        let even = gamma(2 * r).scale(lf / 2.0);
        ln_z1 = ln_z1.add(odd.ln_2cosh());
        ln_z3 = ln_z3.add(even.ln_2cosh());
        r2 = r2.mul(odd.tanh());
        r4 = r4.mul(even.tanh());
    }
    // Z1 + Z2 + Z3 + Z4 = Z1 (1 + Z2/Z1 + Z3/Z1 (1 + Z4/Z3))
    let r3 = ln_z3.add(ln_z1.scale(-1.0)).exp();
    let sum = Dual2::constant(1.0)
        .add(r2)
        .add(r3.mul(Dual2::constant(1.0).add(r4)));
    let n = lf * lf;
    let ln_z = Dual2::constant(-std::f64::consts::LN_2)
        .add(s2.scale(2.0).ln().scale(n / 2.0))
        .add(ln_z1)
        .add(sum.ln());
    let beta = 1.0 / t;
    Ok(FiniteIsing {
        size: l,
        temperature: t,
        ln_z: ln_z.v,
        energy_per_site: -ln_z.d / n,
        specific_heat_per_site: beta * beta * ln_z.dd / n,
        m2: None,
        abs_m: None,
        m4: None,
        method: ExactMethod::Kaufman,
    })
}
