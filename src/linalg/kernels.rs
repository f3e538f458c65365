//! Fused, vectorised slice kernels, each compiled for the CPU's vector width by
//! `simd_dispatch!`. Two kinds:
//!
//! - in the model's own precision `T` (an `f32` model computes in `f32`, twice the lanes):
//!   bias + sigmoid, bias + sigmoid + Bernoulli draw, uniforms from random bits, the momentum
//!   step with its divergence statistics;
//! - accumulated in `f64` whatever the element type ([`Lane`]): the softplus sums of free
//!   energies and ln Z, where the last digits matter.

use crate::linalg::math::{exp_nonpositive, sigmoid, softplus};
use crate::linalg::simd_dispatch;

/// Element types of the `f64`-accumulating kernels (widened to `f64` inside).
pub trait Lane: Copy {
    /// Widen to f64.
    fn to64(self) -> f64;
    /// Narrow from f64.
    fn from64(x: f64) -> Self;
}
impl Lane for f64 {
    #[inline(always)]
    fn to64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from64(x: f64) -> Self {
        x
    }
}
impl Lane for f32 {
    #[inline(always)]
    fn to64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from64(x: f64) -> Self {
        x as f32
    }
}

simd_dispatch! {
    /// In place `x[i] <- sigmoid(x[i] + bias)`, in `T`'s precision.
    pub fn sigmoid_bias<T>(x: &mut [T], bias: T) {
        for v in x.iter_mut() {
            *v = sigmoid(*v + bias);
        }
    }
}

simd_dispatch! {
    /// `out[i] <- sigmoid(x[i] + bias)`, in `T`'s precision.
    pub fn sigmoid_bias_into<T>(x: &[T], bias: T, out: &mut [T]) {
        let n = out.len();
        let x = &x[..n];
        for i in 0..n {
            out[i] = sigmoid(x[i] + bias);
        }
    }
}

simd_dispatch! {
    /// In place `x[i] <- p_i = sigmoid(x[i] + bias)`, and the Bernoulli draw
    /// `out[i] <- 1 if u[i] < p_i else 0` from the uniforms `u` (one pass instead of two).
    pub fn sigmoid_bias_sample<T>(x: &mut [T], bias: T, u: &[T], out: &mut [T]) {
        let n = x.len();
        let (u, out) = (&u[..n], &mut out[..n]);
        let (zero, one) = (T::of(0.0), T::of(1.0));
        for i in 0..n {
            let p = sigmoid(x[i] + bias);
            x[i] = p;
            out[i] = if u[i] < p { one } else { zero };
        }
    }
}

simd_dispatch! {
    /// `out[i] <- 1 if u[i] < p[i] else 0` (Bernoulli draws from probabilities `p`).
    pub fn bernoulli<T>(p: &[T], u: &[T], out: &mut [T]) {
        let n = out.len();
        let (p, u) = (&p[..n], &u[..n]);
        let (zero, one) = (T::of(0.0), T::of(1.0));
        for i in 0..n {
            out[i] = if u[i] < p[i] { one } else { zero };
        }
    }
}

simd_dispatch! {
    /// `out[i] <- (bits[i] >> 11) 2^-53` rounded to `T`: exactly the uniform in `[0, 1)` that
    /// `rand`'s `StandardUniform` makes of each 64-bit word for an `f64` (53 random bits), so
    /// a bulk fill draws the very numbers `rng.random::<f64>()` would, one at a time. The
    /// 53-bit integer is converted in two exact halves (the `2^52` trick), which vectorises
    /// where a `u64 -> f64` conversion has no vector instruction (AVX2).
    pub fn uniform_from_bits<T>(bits: &[u64], out: &mut [T]) {
        const TWO52: f64 = 4_503_599_627_370_496.0;
        const EXP52: u64 = 0x4330_0000_0000_0000;
        let n = out.len();
        let bits = &bits[..n];
        for i in 0..n {
            let v = bits[i] >> 11;
            let lo = f64::from_bits(EXP52 | (v & 0xffff_ffff)) - TWO52;
            let hi = f64::from_bits(EXP52 | (v >> 32)) - TWO52;
            out[i] = T::of((hi * 4_294_967_296.0 + lo) * (1.0 / 9_007_199_254_740_992.0));
        }
    }
}

/// What a momentum step saw: the largest `|W|` after it, and whether any weight or gradient
/// entry was NaN or infinite.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MomentumStepStats {
    /// `max |W_ij|` after the step over the finite entries.
    pub max_abs: f64,
    /// A weight became NaN or infinite.
    pub non_finite_weight: bool,
    /// A gradient entry was NaN or infinite.
    pub non_finite_gradient: bool,
}

simd_dispatch! {
    /// The momentum step with L1/L2 penalties on one column of weights, in `T`'s precision:
    /// `vel <- mom vel + lr (g - l2 w - l1 sign(w))`, `w <- w + vel` (`sign(0) = 0`), with the
    /// statistics the divergence checks need gathered in the same pass. Branch-free, in
    /// sixteen interleaved lanes so that it vectorises: the largest `|w|` as a running
    /// maximum, and non-finite entries through `x * 0`, which is NaN exactly when `x` is NaN
    /// or infinite (a NaN stays NaN in the lane's sum).
    pub fn momentum_step<T>(
        w: &mut [T],
        vel: &mut [T],
        g: &[T],
        mom: T,
        lr: T,
        l1: T,
        l2: T,
    ) -> MomentumStepStats {
        const K: usize = 16;
        let n = w.len();
        let (vel, g) = (&mut vel[..n], &g[..n]);
        let (zero, one) = (T::of(0.0), T::of(1.0));
        // sign(w) as two selects (a branch on the weight's sign mispredicts half the time).
        let update = |wi: T, vi: T, gi: T| {
            let sign = (if wi > zero { one } else { zero }) - (if wi < zero { one } else { zero });
            let v = mom * vi + lr * (gi - l2 * wi - l1 * sign);
            (wi + v, v)
        };
        let mut top = [zero; K];
        let mut bad_w = [zero; K];
        let mut bad_g = [zero; K];
        let mut wc = w.chunks_exact_mut(K);
        let mut vc = vel.chunks_exact_mut(K);
        let mut gc = g.chunks_exact(K);
        for ((wk, vk), gk) in (&mut wc).zip(&mut vc).zip(&mut gc) {
            for k in 0..K {
                let (nw, v) = update(wk[k], vk[k], gk[k]);
                vk[k] = v;
                wk[k] = nw;
                let a = nw.abs();
                top[k] = if a > top[k] { a } else { top[k] };
                bad_w[k] += nw * zero;
                bad_g[k] += gk[k] * zero;
            }
        }
        let mut stats = MomentumStepStats {
            max_abs: 0.0,
            non_finite_weight: false,
            non_finite_gradient: false,
        };
        for k in 0..K {
            stats.max_abs = stats.max_abs.max(top[k].as_f64());
            stats.non_finite_weight |= bad_w[k].is_nan();
            stats.non_finite_gradient |= bad_g[k].is_nan();
        }
        let tail = wc.into_remainder().iter_mut().zip(vc.into_remainder()).zip(gc.remainder());
        for ((wi, vi), &gi) in tail {
            let (nw, v) = update(*wi, *vi, gi);
            *vi = v;
            *wi = nw;
            stats.max_abs = stats.max_abs.max(nw.abs().as_f64());
            stats.non_finite_weight |= !nw.is_finite();
            stats.non_finite_gradient |= !gi.is_finite();
        }
        stats
    }
}

simd_dispatch! {
    /// `acc[i] += softplus(x[i] + bias)`.
    pub fn softplus_bias_acc<L: Lane>(x: &[L], bias: L, acc: &mut [f64]) {
        let b = bias.to64();
        for (v, a) in x.iter().zip(acc.iter_mut()) {
            *a += softplus(v.to64() + b);
        }
    }
}

simd_dispatch! {
    /// `sum_i softplus(x[i])` as `sum_i max(x_i, 0) + ln prod_i (1 + e^-|x_i|)`: per term one
    /// exponential and a product instead of an exponential, a logarithm and a division.
    /// Every factor lies in `(1, 2]`, so a block of 512 terms stays below `2^512`: one
    /// logarithm per block. 16 interleaved lanes, a fixed order. The rounding of the factors
    /// adds at most about `n * 1.1e-16` (absolute) to the sum, and a term below `1.1e-16`
    /// (`x < -36.7`) is lost in its factor: the exact `ln Z` of `estimate::exact` uses it.
    pub fn softplus_total<L: Lane>(x: &[L]) -> f64 {
        const K: usize = 16;
        const BLOCK: usize = 512;
        let mut total = 0.0;
        for block in x.chunks(BLOCK) {
            let mut prod = [1.0f64; K];
            let mut pos = [0.0f64; K];
            let full = block.len() / K * K;
            for c in block[..full].chunks_exact(K) {
                for k in 0..K {
                    let v = c[k].to64();
                    let a = if v < 0.0 { -v } else { v };
                    pos[k] += if v > 0.0 { v } else { 0.0 };
                    prod[k] *= 1.0 + exp_nonpositive(-a);
                }
            }
            let (mut p, mut s) = (1.0f64, 0.0f64);
            for k in 0..K {
                p *= prod[k];
                s += pos[k];
            }
            for v in &block[full..] {
                let v = v.to64();
                let a = if v < 0.0 { -v } else { v };
                s += if v > 0.0 { v } else { 0.0 };
                p *= 1.0 + exp_nonpositive(-a);
            }
            total += s + p.ln();
        }
        total
    }
}

simd_dispatch! {
    /// `sum_i softplus(x[i] + bias[i])`, summed in 32 interleaved partial sums (fixed order).
    pub fn softplus_sum<L: Lane>(x: &[L], bias: &[L]) -> f64 {
        // 32 interleaved partial sums: four independent vector chains for the CPU to overlap.
        let mut part = [0.0f64; 32];
        let n = x.len().min(bias.len());
        let full = n / 32 * 32;
        for (xc, bc) in x[..full].chunks_exact(32).zip(bias[..full].chunks_exact(32)) {
            for ((p, xv), bv) in part.iter_mut().zip(xc).zip(bc) {
                *p += softplus(xv.to64() + bv.to64());
            }
        }
        let mut tail = 0.0;
        for i in full..n {
            tail += softplus(x[i].to64() + bias[i].to64());
        }
        part.iter().sum::<f64>() + tail
    }
}

simd_dispatch! {
    /// In place `x[i] <- softplus(x[i])`.
    pub fn softplus_inplace<L: Lane>(x: &mut [L]) {
        for v in x.iter_mut() {
            *v = L::from64(softplus(v.to64()));
        }
    }
}

simd_dispatch! {
    /// `sum x` accumulated in f64 over 8 interleaved partial sums (a fixed order, vectorised:
    /// a plain running sum is a chain of dependent additions, four times slower).
    pub fn column_sum<T>(x: &[T]) -> f64 {
        let mut part = [0.0f64; 8];
        let chunks = x.len() / 8;
        for c in 0..chunks {
            for k in 0..8 {
                part[k] += x[c * 8 + k].as_f64();
            }
        }
        let mut tail = 0.0;
        for v in &x[chunks * 8..] {
            tail += v.as_f64();
        }
        part.iter().sum::<f64>() + tail
    }
}
