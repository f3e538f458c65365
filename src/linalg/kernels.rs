//! Fused, vectorised slice kernels (bias + sigmoid, bias + softplus, sums), each compiled for
//! the CPU's vector width by `simd_dispatch!`.

use crate::linalg::math::{sigmoid, softplus};
use crate::linalg::simd_dispatch;

/// Element types the kernels handle (computed internally in `f64`).
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
    /// In place `x[i] <- sigmoid(x[i] + bias)`.
    pub fn sigmoid_bias<L: Lane>(x: &mut [L], bias: L) {
        let b = bias.to64();
        for v in x.iter_mut() {
            *v = L::from64(sigmoid(v.to64() + b));
        }
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
