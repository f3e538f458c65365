//! The few numeric building blocks every hot path shares: GEMM into a preallocated buffer
//! ([`gemm`]), the one SIMD dispatch (`simd_dispatch!`,
//! in `simd`), branch-free vectorisable scalar math ([`math`]) and fused slice kernels
//! ([`kernels`]), plus exact (libm) reference versions of softplus and sigmoid.
//!
//! Matrices are column-major (faer); rows are samples. Elementwise kernels run column by column
//! so the per-column bias is a constant and the inner loop is contiguous.

use faer::{MatMut, MatRef};

use crate::float::Float;

pub mod gemm;
pub mod kernels;
pub mod math;
#[macro_use]
pub mod simd;
pub(crate) use simd::simd_dispatch;

pub use gemm::{matmul, matmul_par, par};

/// Numerically stable softplus `ln(1 + e^x)` (scalar, exact libm version).
#[inline]
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// Logistic sigmoid `1 / (1 + e^-x)` (scalar, exact libm version).
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `ln sum exp(x_i)` computed stably in `f64`.
pub fn log_sum_exp(x: &[f64]) -> f64 {
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + x.iter().map(|&v| (v - m).exp()).sum::<f64>().ln()
}

/// Copies `src` into the column-major matrix `dst` (same shape).
pub fn copy_into<T: Float>(mut dst: MatMut<'_, T>, src: MatRef<'_, T>) {
    dst.copy_from(src);
}

#[cfg(test)]
mod tests {
    use super::{kernels, math};

    #[test]
    fn fast_exp_matches_libm() {
        let mut worst: f64 = 0.0;
        let mut x = -700.0;
        while x < 700.0 {
            let rel = (math::exp(x) - x.exp()).abs() / x.exp();
            worst = worst.max(rel);
            x += 0.0137;
        }
        assert!(worst < 4e-15, "worst relative error {worst}");
    }

    #[test]
    fn f32_exp_and_sigmoid_are_accurate() {
        let mut worst: f64 = 0.0;
        let mut x = -87.0f32;
        while x < 88.0 {
            let e = (x as f64).exp();
            worst = worst.max((math::exp_f32(x) as f64 - e).abs() / e);
            x += 0.0137;
        }
        assert!(worst < 4e-7, "exp_f32 worst relative error {worst}");
        let mut x = -30.0f32;
        while x < 30.0 {
            let s = 1.0 / (1.0 + (-(x as f64)).exp());
            let got = math::sigmoid(x) as f64;
            assert!((got - s).abs() / s < 5e-7, "sigmoid({x}) = {got} vs {s}");
            x += 0.0071;
        }
        assert_eq!(math::sigmoid(-1e6f32), math::sigmoid(-88.0f32));
        assert_eq!(math::sigmoid(1e6f32), 1.0);
        assert!(math::sigmoid(f32::NAN).is_nan());
    }

    #[test]
    fn fast_softplus_and_sigmoid_match_libm() {
        let mut x = -60.0;
        while x < 60.0 {
            let sp = super::softplus(x);
            assert!(
                (math::softplus(x) - sp).abs() <= 4e-16 * sp.max(1.0),
                "x={x}"
            );
            let rel = (math::softplus(x) - sp).abs() / sp;
            assert!(rel < 1e-14, "softplus x={x} rel={rel}");
            let s = super::sigmoid(x);
            assert!((math::sigmoid(x) - s).abs() / s < 1e-14, "sigmoid x={x}");
            x += 0.0071;
        }
        assert_eq!(math::sigmoid(-1e6), math::sigmoid(-800.0));
        assert_eq!(math::sigmoid(1e6), 1.0);
    }

    #[test]
    fn slice_kernels_agree_with_scalar() {
        let x: Vec<f64> = (0..37).map(|i| (i as f64 - 18.0) * 0.77).collect();
        let mut y = x.clone();
        kernels::sigmoid_bias(&mut y, 0.3);
        for (a, b) in x.iter().zip(&y) {
            assert!((super::sigmoid(a + 0.3) - b).abs() < 1e-15);
        }
        let mut acc = vec![1.0; 37];
        kernels::softplus_bias_acc(&x, -0.2, &mut acc);
        for (a, b) in x.iter().zip(&acc) {
            assert!((1.0 + super::softplus(a - 0.2) - b).abs() < 1e-13);
        }
        let bias = vec![0.5; 37];
        let s = kernels::softplus_sum(&x, &bias);
        let r: f64 = x.iter().map(|v| super::softplus(v + 0.5)).sum();
        assert!((s - r).abs() < 1e-12);
    }
}
