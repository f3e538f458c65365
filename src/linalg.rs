//! The few faer helpers every hot path shares: GEMM into a preallocated buffer (with
//! accumulate), and fused, vectorised elementwise kernels (bias + sigmoid, bias + softplus).
//!
//! Matrices are column-major (faer); rows are samples. Elementwise kernels run column by column
//! so the per-column bias is a constant and the inner loop is contiguous.

use faer::linalg::matmul::matmul as faer_matmul;
use faer::{Accum, MatMut, MatRef, Par};

use crate::float::Float;

/// Defines a function compiled three times (AVX-512, AVX2 + FMA, baseline) and dispatched at
/// run time on the CPU's features. The body is plain arithmetic the compiler vectorises.
/// `fn f<T>(..)` bounds `T` by [`Float`]; `fn f<T: Bound>(..)` names the bound.
macro_rules! simd_dispatch {
    ($(#[$m:meta])* $vis:vis fn $name:ident<$T:ident>($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $crate::linalg::simd_dispatch! {
            $(#[$m])* $vis fn $name<$T: $crate::float::Float>($($arg: $ty),*) $(-> $ret)? $body
        }
    };
    ($(#[$m:meta])* $vis:vis fn $name:ident<$T:ident: $bound:path>($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name<$T: $bound>($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn inner<$T: $bound>($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn v512<$T: $bound>($($arg: $ty),*) $(-> $ret)? { inner($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn v256<$T: $bound>($($arg: $ty),*) $(-> $ret)? { inner($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: feature checked at run time.
                    return unsafe { v512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: features checked at run time.
                    return unsafe { v256($($arg),*) };
                }
            }
            inner($($arg),*)
        }
    };
}
pub(crate) use simd_dispatch;

/// The parallelism used for GEMMs: all rayon threads when the pool has more than one.
///
/// faer's GEMM splits the output, not the inner dimension, so results do not depend on the
/// thread count (checked by the reproducibility tests).
pub fn par() -> Par {
    let n = rayon::current_num_threads();
    if n > 1 {
        Par::rayon(n)
    } else {
        Par::Seq
    }
}

/// `dst <- alpha * lhs * rhs` (`Accum::Replace`) or `dst += alpha * lhs * rhs` (`Accum::Add`).
///
/// A thin wrapper over faer's `matmul` that also clears the AVX upper state afterwards (faer's
/// AVX-512 kernels leave it dirty, which makes SSE code that follows ~4x slower).
#[inline]
pub fn matmul<T: Float>(
    dst: MatMut<'_, T>,
    accum: Accum,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    alpha: T,
) {
    faer_matmul(dst, accum, lhs, rhs, alpha, par());
    zeroupper();
}

/// [`matmul`] with an explicit parallelism (e.g. `Par::Seq` inside work that is already
/// parallel).
#[inline]
pub fn matmul_par<T: Float>(
    dst: MatMut<'_, T>,
    accum: Accum,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    alpha: T,
    par: Par,
) {
    faer_matmul(dst, accum, lhs, rhs, alpha, par);
    zeroupper();
}

#[inline(always)]
fn zeroupper() {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX (checked at run time).
            unsafe { zeroupper_avx() }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn zeroupper_avx() {
    std::arch::x86_64::_mm256_zeroupper();
}

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

/// Vectorised elementwise kernels, dispatched at run time to AVX-512 / AVX2 code.
///
/// `exp` uses a branch-free range reduction (`x = n ln 2 + r`) and a degree-12 Taylor polynomial
/// (relative error below 1e-15 on `|r| <= ln2/2`); `ln(1 + y)` for `y` in `[0, 1]` uses the
/// `atanh` series on an argument of modulus below 0.172 (10 terms, error below 1e-16). The
/// compiler vectorises these loops because they are pure arithmetic with selects, no calls.
pub mod kernels {
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

    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52

    /// Branch-free `e^x` for `x` clamped to `[-708, 709]`.
    #[inline(always)]
    pub fn exp(x: f64) -> f64 {
        let x = if x < -708.0 { -708.0 } else { x };
        let x = if x > 709.0 { 709.0 } else { x };
        let t = x.mul_add(LOG2E, MAGIC);
        let n = t - MAGIC;
        let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, x));
        // Taylor polynomial of e^r to degree 12, Horner form.
        let mut p: f64 = 1.0 / 479_001_600.0;
        p = p.mul_add(r, 1.0 / 39_916_800.0);
        p = p.mul_add(r, 1.0 / 3_628_800.0);
        p = p.mul_add(r, 1.0 / 362_880.0);
        p = p.mul_add(r, 1.0 / 40_320.0);
        p = p.mul_add(r, 1.0 / 5_040.0);
        p = p.mul_add(r, 1.0 / 720.0);
        p = p.mul_add(r, 1.0 / 120.0);
        p = p.mul_add(r, 1.0 / 24.0);
        p = p.mul_add(r, 1.0 / 6.0);
        p = p.mul_add(r, 0.5);
        p = p.mul_add(r, 1.0);
        p = p.mul_add(r, 1.0);
        // 2^n from the low bits of t (= MAGIC + n).
        let bits = (t.to_bits().wrapping_add(1023)) << 52;
        p * f64::from_bits(bits)
    }

    /// Branch-free `e^x` in `f32` for `x` clamped to `[-87, 88]`: Cody-Waite reduction
    /// `x = n ln 2 + r` and a degree-7 Taylor polynomial (relative error below 2e-7 on
    /// `|r| <= ln2/2`).
    #[inline(always)]
    pub fn exp_f32(x: f32) -> f32 {
        const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
        let x = if x < -87.0 { -87.0 } else { x };
        let x = if x > 88.0 { 88.0 } else { x };
        let t = x * std::f32::consts::LOG2_E + MAGIC;
        let n = t - MAGIC;
        // ln 2 = 0.693359375 - 2.12194440e-4 (the first part is exact in 10 bits).
        let r = (x - n * 0.693_359_4) + n * 2.121_944_4e-4;
        let mut p = 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        // 2^n from the low bits of t (= MAGIC + n).
        p * f32::from_bits(t.to_bits().wrapping_add(127) << 23)
    }

    /// Branch-free sigmoid in the model's own precision.
    #[inline(always)]
    pub fn sigmoid_t<T: crate::Float>(x: T) -> T {
        let one = T::of(1.0);
        one / (one + T::fast_exp(-x))
    }

    /// Branch-free `ln(1 + y)` for `y` in `[0, 1]`.
    #[inline(always)]
    pub fn ln_1p_unit(y: f64) -> f64 {
        // For y > sqrt2 - 1 use ln(1+y) = ln 2 + ln((1+y)/2); then
        // ln(z) = 2 atanh(s) with s = (z-1)/(z+1), |s| < 0.1716.
        let big = y > std::f64::consts::SQRT_2 - 1.0;
        let s = if big {
            (y - 1.0) / (y + 3.0)
        } else {
            y / (2.0 + y)
        };
        let off = if big { std::f64::consts::LN_2 } else { 0.0 };
        let s2 = s * s;
        let mut p: f64 = 1.0 / 21.0;
        p = p.mul_add(s2, 1.0 / 19.0);
        p = p.mul_add(s2, 1.0 / 17.0);
        p = p.mul_add(s2, 1.0 / 15.0);
        p = p.mul_add(s2, 1.0 / 13.0);
        p = p.mul_add(s2, 1.0 / 11.0);
        p = p.mul_add(s2, 1.0 / 9.0);
        p = p.mul_add(s2, 1.0 / 7.0);
        p = p.mul_add(s2, 1.0 / 5.0);
        p = p.mul_add(s2, 1.0 / 3.0);
        p = p.mul_add(s2, 1.0);
        off + 2.0 * s * p
    }

    /// Branch-free softplus.
    #[inline(always)]
    pub fn softplus(x: f64) -> f64 {
        let ax = if x < 0.0 { -x } else { x };
        let pos = if x > 0.0 { x } else { 0.0 };
        pos + ln_1p_unit(exp(-ax))
    }

    /// Branch-free sigmoid.
    #[inline(always)]
    pub fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + exp(-x))
    }

    use super::simd_dispatch as dispatch;

    dispatch! {
        /// In place `x[i] <- sigmoid(x[i] + bias)`.
        pub fn sigmoid_bias<L: Lane>(x: &mut [L], bias: L) {
            let b = bias.to64();
            for v in x.iter_mut() {
                *v = L::from64(sigmoid(v.to64() + b));
            }
        }
    }

    dispatch! {
        /// `acc[i] += softplus(x[i] + bias)`.
        pub fn softplus_bias_acc<L: Lane>(x: &[L], bias: L, acc: &mut [f64]) {
            let b = bias.to64();
            for (v, a) in x.iter().zip(acc.iter_mut()) {
                *a += softplus(v.to64() + b);
            }
        }
    }

    dispatch! {
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

    dispatch! {
        /// In place `x[i] <- softplus(x[i])`.
        pub fn softplus_inplace<L: Lane>(x: &mut [L]) {
            for v in x.iter_mut() {
                *v = L::from64(softplus(v.to64()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::kernels;

    #[test]
    fn fast_exp_matches_libm() {
        let mut worst: f64 = 0.0;
        let mut x = -700.0;
        while x < 700.0 {
            let rel = (kernels::exp(x) - x.exp()).abs() / x.exp();
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
            worst = worst.max((kernels::exp_f32(x) as f64 - e).abs() / e);
            x += 0.0137;
        }
        assert!(worst < 4e-7, "exp_f32 worst relative error {worst}");
        let mut x = -30.0f32;
        while x < 30.0 {
            let s = 1.0 / (1.0 + (-(x as f64)).exp());
            let got = kernels::sigmoid_t(x) as f64;
            assert!((got - s).abs() / s < 5e-7, "sigmoid_t({x}) = {got} vs {s}");
            x += 0.0071;
        }
        assert_eq!(kernels::sigmoid_t(-1e6f32), kernels::sigmoid_t(-88.0f32));
        assert_eq!(kernels::sigmoid_t(1e6f32), 1.0);
        assert!(kernels::sigmoid_t(f32::NAN).is_nan());
    }

    #[test]
    fn fast_softplus_and_sigmoid_match_libm() {
        let mut x = -60.0;
        while x < 60.0 {
            let sp = super::softplus(x);
            assert!(
                (kernels::softplus(x) - sp).abs() <= 4e-16 * sp.max(1.0),
                "x={x}"
            );
            let rel = (kernels::softplus(x) - sp).abs() / sp;
            assert!(rel < 1e-14, "softplus x={x} rel={rel}");
            let s = super::sigmoid(x);
            assert!((kernels::sigmoid(x) - s).abs() / s < 1e-14, "sigmoid x={x}");
            x += 0.0071;
        }
        assert_eq!(kernels::sigmoid(-1e6), kernels::sigmoid(-800.0));
        assert_eq!(kernels::sigmoid(1e6), 1.0);
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
