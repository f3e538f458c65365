//! Branch-free scalar math that the compiler vectorises inside a `simd_dispatch!` kernel: `exp` in `f64` and `f32`, `ln(1 + y)`, softplus and
//! sigmoid. Pure arithmetic with selects, no calls, so loops over slices become vector code.
//!
//! `exp` uses a branch-free range reduction (`x = n ln 2 + r`) and a degree-12 Taylor
//! polynomial in `f64` (relative error below 1e-15 on `|r| <= ln2/2`), degree 7 in `f32`;
//! `ln(1 + y)` for `y` in `[0, 1]` uses the `atanh` series on an argument of modulus below
//! 0.172 (10 terms, error below 1e-16).

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

/// Branch-free `e^x` for `x <= 0`, clamped at `-708`: [`exp`]'s reduction and degree-12
/// Taylor polynomial, evaluated mostly by Estrin's scheme (a dependency chain about 6
/// operations deep instead of 12, for kernels whose exponentials would otherwise wait on
/// each other), with the same accuracy.
#[inline(always)]
pub fn exp_nonpositive(x: f64) -> f64 {
    let x = if x < -708.0 { -708.0 } else { x };
    let t = x.mul_add(LOG2E, MAGIC);
    let n = t - MAGIC;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, x));
    // e^r = 1 + (r + r^2 T(r)), T of degree 10 by Estrin; the roundings inside T are
    // scaled by r^2 < 0.121, and the two outer steps round as Horner's last two do.
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let q0 = r.mul_add(1.0 / 6.0, 0.5);
    let q1 = r.mul_add(1.0 / 120.0, 1.0 / 24.0);
    let q2 = r.mul_add(1.0 / 5_040.0, 1.0 / 720.0);
    let q3 = r.mul_add(1.0 / 362_880.0, 1.0 / 40_320.0);
    let q4 = r.mul_add(1.0 / 39_916_800.0, 1.0 / 3_628_800.0);
    let q5: f64 = 1.0 / 479_001_600.0;
    let low = q1.mul_add(r2, q0);
    let mid = q3.mul_add(r2, q2);
    let high = q5.mul_add(r2, q4);
    let tail = high.mul_add(r8, mid.mul_add(r4, low));
    let p = 1.0 + tail.mul_add(r2, r);
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

/// Branch-free sigmoid `1 / (1 + e^-x)` in the type's own precision.
#[inline(always)]
pub fn sigmoid<T: crate::Float>(x: T) -> T {
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

/// Branch-free `ln(1 + y)` for any finite `y >= -1/2`, with relative error of a few ulps for
/// every such `y`, including tiny ones (the couplings need it; softplus needs only
/// [`ln_1p_unit`]'s range and its fewer operations).
///
/// `1 + y = m 2^e` with `m` in `[sqrt(1/2), sqrt 2)` (exponent and mantissa from the bits);
/// `ln m = 2 atanh(s)`, `s = (m - 1)/(m + 1)`, `|s| < 0.1716`, by its odd series to `s^19`
/// (truncation below 3e-17 relative). When `e = 0` (`y` in `[-0.29, 0.41)`), `s` is formed as
/// `y / (2 + y)` from `y` itself, so the rounding of `1 + y` never enters: that is what keeps
/// the relative accuracy for tiny `y`.
#[inline(always)]
pub fn ln_1p(y: f64) -> f64 {
    const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_667f_3bcd;
    const LN2_HI: f64 = 0.6931471803691238;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let u = 1.0 + y;
    let adj = u
        .to_bits()
        .wrapping_add(0x3ff0_0000_0000_0000u64.wrapping_sub(SQRT_HALF_BITS));
    let ebits = adj >> 52;
    let m = f64::from_bits((adj & 0x000f_ffff_ffff_ffff).wrapping_add(SQRT_HALF_BITS));
    let e = f64::from_bits(0x4330_0000_0000_0000 | ebits) - (4_503_599_627_370_496.0 + 1023.0);
    let near = e == 0.0;
    let num = if near { y } else { m - 1.0 };
    let den = if near { 2.0 + y } else { m + 1.0 };
    let s = num / den;
    let s2 = s * s;
    let mut p = 1.0 / 19.0;
    p = p * s2 + 1.0 / 17.0;
    p = p * s2 + 1.0 / 15.0;
    p = p * s2 + 1.0 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    let t = s * s2 * p; // atanh(s) - s
    e * LN2_HI + (e * LN2_LO + 2.0 * t + 2.0 * s)
}

/// Branch-free softplus.
#[inline(always)]
pub fn softplus(x: f64) -> f64 {
    let ax = if x < 0.0 { -x } else { x };
    let pos = if x > 0.0 { x } else { 0.0 };
    pos + ln_1p_unit(exp(-ax))
}

/// `softplus(z)` and `sigmoid(z)` sharing one `exp(-|z|)`.
#[inline(always)]
pub fn softplus_sigmoid(z: f64) -> (f64, f64) {
    let az = if z < 0.0 { -z } else { z };
    let e = exp(-az);
    let pos = if z > 0.0 { z } else { 0.0 };
    let inv = 1.0 / (1.0 + e);
    let s = if z >= 0.0 { inv } else { e * inv };
    (pos + ln_1p_unit(e), s)
}
