//! Vectorised inner loops of the bulk pair couplings: a branch-free, accurate `ln(1 + y)` and
//! the sums `sum_j ln(1 + R_ij R_kj)` over hidden units, in AVX2/FMA intrinsics when the CPU
//! has them (the crate's one feature check, [`crate::linalg::simd`]), scalar code otherwise.
//!
//! These are the crate's only hand-written intrinsics, kept because a bench shows they win:
//! the same algorithm (four logarithms combined into one, 16-element chunks) written in plain
//! arithmetic for `simd_dispatch!` was not vectorised by the
//! compiler (the bit manipulations of `ln1p`): `cargo bench --bench couplings pair_matrix`
//! took 124-140 ms with the intrinsics and 450-500 ms with the plain version (784 x 500,
//! interleaved runs, 2026-12-02).

use crate::linalg::math::ln_1p as ln1p;

/// Result of one vectorised sum: the value and whether every argument was in the fast range.
#[derive(Clone, Copy, Debug)]
pub struct KernelSum {
    /// `sum_j ln(1 + r_i[j] r_k[j])` (meaningful only when `regular`).
    pub value: f64,
    /// True when every product was finite and `>= -1/2`; otherwise the caller must use the
    /// scalar exact path.
    pub regular: bool,
}

fn pair_sum_scalar(ri: &[f64], rk: &[f64]) -> KernelSum {
    let mut acc = [0.0f64; 8];
    let mut lo = 0.0f64;
    let mut hi = 0.0f64;
    for (j, (a, b)) in ri.iter().zip(rk).enumerate() {
        let y = a * b;
        acc[j % 8] += ln1p(if y >= -0.5 { y } else { 0.0 });
        lo = lo.min(y);
        hi = hi.max(y);
    }
    KernelSum {
        value: ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7])),
        regular: lo >= -0.5 && hi < 1e300,
    }
}

#[allow(clippy::too_many_arguments)]
fn gauss_pair_scalar(
    rq_i: f64,
    rq: &[f64],
    shift: f64,
    half_w: &[f64],
    inv2s2: &[f64],
    norm: &[f64],
    acc: &mut [f64],
    lo: &mut [f64],
) {
    for k in 0..rq.len() {
        let y = rq_i * rq[k];
        let l = ln1p(if y >= -0.5 { y } else { 0.0 });
        let d = shift + half_w[k];
        let w = norm[k] * crate::linalg::math::exp(-d * d * inv2s2[k]);
        acc[k] += w * l;
        lo[k] = lo[k].min(y);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::KernelSum;

    const SQRT_HALF_BITS: i64 = 0x3fe6_a09e_667f_3bcd;

    /// Four lanes of [`super::ln1p`].
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn ln1p4(y: __m256d) -> __m256d {
        let one = _mm256_set1_pd(1.0);
        let u = _mm256_add_pd(one, y);
        let adj = _mm256_add_epi64(
            _mm256_castpd_si256(u),
            _mm256_set1_epi64x(0x3ff0_0000_0000_0000 - SQRT_HALF_BITS),
        );
        let ebits = _mm256_srli_epi64::<52>(adj);
        let e = _mm256_sub_pd(
            _mm256_castsi256_pd(_mm256_or_si256(
                ebits,
                _mm256_set1_epi64x(0x4330_0000_0000_0000),
            )),
            _mm256_set1_pd(4_503_599_627_370_496.0 + 1023.0),
        );
        let m = _mm256_castsi256_pd(_mm256_add_epi64(
            _mm256_and_si256(adj, _mm256_set1_epi64x(0x000f_ffff_ffff_ffff)),
            _mm256_set1_epi64x(SQRT_HALF_BITS),
        ));
        let near = _mm256_cmp_pd::<_CMP_EQ_OQ>(e, _mm256_setzero_pd());
        let num = _mm256_blendv_pd(_mm256_sub_pd(m, one), y, near);
        let den = _mm256_blendv_pd(
            _mm256_add_pd(m, one),
            _mm256_add_pd(_mm256_set1_pd(2.0), y),
            near,
        );
        let s = _mm256_div_pd(num, den);
        let s2 = _mm256_mul_pd(s, s);
        let c = |v: f64| _mm256_set1_pd(v);
        let mut p = c(1.0 / 19.0);
        p = _mm256_fmadd_pd(p, s2, c(1.0 / 17.0));
        p = _mm256_fmadd_pd(p, s2, c(1.0 / 15.0));
        p = _mm256_fmadd_pd(p, s2, c(1.0 / 13.0));
        p = _mm256_fmadd_pd(p, s2, c(1.0 / 11.0));
        p = _mm256_fmadd_pd(p, s2, c(1.0 / 9.0));
        p = _mm256_fmadd_pd(p, s2, c(1.0 / 7.0));
        p = _mm256_fmadd_pd(p, s2, c(1.0 / 5.0));
        p = _mm256_fmadd_pd(p, s2, c(1.0 / 3.0));
        let t = _mm256_mul_pd(_mm256_mul_pd(s, s2), p);
        let two_s = _mm256_add_pd(s, s);
        let low = _mm256_fmadd_pd(
            e,
            c(1.908_214_929_270_587_7e-10),
            _mm256_fmadd_pd(c(2.0), t, two_s),
        );
        _mm256_fmadd_pd(e, c(0.6931471803691238), low)
    }

    /// Four lanes of `crate::linalg::math::exp`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn exp4(x: __m256d) -> __m256d {
        let c = |v: f64| _mm256_set1_pd(v);
        let x = _mm256_min_pd(_mm256_max_pd(x, c(-708.0)), c(709.0));
        let magic = c(6_755_399_441_055_744.0);
        let t = _mm256_fmadd_pd(x, c(std::f64::consts::LOG2_E), magic);
        let n = _mm256_sub_pd(t, magic);
        let r = _mm256_fnmadd_pd(n, c(0.6931471803691238), x);
        let r = _mm256_fnmadd_pd(n, c(1.908_214_929_270_587_7e-10), r);
        let mut p = c(1.0 / 479_001_600.0);
        for k in [
            39_916_800.0,
            3_628_800.0,
            362_880.0,
            40_320.0,
            5_040.0,
            720.0,
            120.0,
            24.0,
            6.0,
            2.0,
            1.0,
            1.0,
        ] {
            p = _mm256_fmadd_pd(p, r, c(1.0 / k));
        }
        let bits = _mm256_slli_epi64::<52>(_mm256_add_epi64(
            _mm256_castpd_si256(t),
            _mm256_set1_epi64x(1023),
        ));
        _mm256_mul_pd(p, _mm256_castsi256_pd(bits))
    }

    /// `1 + z = (1 + y) (1 + x)`, i.e. `z = x + y + x y`: combining factors before one
    /// logarithm. The absolute error is a few ulps of `|x| + |y|`, the same as adding the two
    /// logarithms, so accuracy is kept while 4 logarithms are saved out of every 4 x 4 terms.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn combine(x: __m256d, y: __m256d) -> __m256d {
        _mm256_fmadd_pd(x, y, _mm256_add_pd(x, y))
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn pair_sum(ri: &[f64], rk: &[f64]) -> KernelSum {
        let n = ri.len().min(rk.len());
        let half = _mm256_set1_pd(-0.5);
        let zero = _mm256_setzero_pd();
        let mut acc = zero;
        let mut mn = zero;
        let mut mx = zero;
        let chunks = n / 16;
        let load = |j: usize| {
            let y = _mm256_mul_pd(
                _mm256_loadu_pd(ri.as_ptr().add(j)),
                _mm256_loadu_pd(rk.as_ptr().add(j)),
            );
            (
                y,
                _mm256_blendv_pd(zero, y, _mm256_cmp_pd::<_CMP_GE_OQ>(y, half)),
            )
        };
        for c in 0..chunks {
            let j = c * 16;
            let (y0, s0) = load(j);
            let (y1, s1) = load(j + 4);
            let (y2, s2) = load(j + 8);
            let (y3, s3) = load(j + 12);
            mn = _mm256_min_pd(
                mn,
                _mm256_min_pd(_mm256_min_pd(y0, y1), _mm256_min_pd(y2, y3)),
            );
            mx = _mm256_max_pd(
                mx,
                _mm256_max_pd(_mm256_max_pd(y0, y1), _mm256_max_pd(y2, y3)),
            );
            let z = combine(combine(s0, s1), combine(s2, s3));
            acc = _mm256_add_pd(acc, ln1p4(z));
        }
        let mut a = [0.0f64; 4];
        _mm256_storeu_pd(a.as_mut_ptr(), acc);
        let mut l = [0.0f64; 4];
        let mut h = [0.0f64; 4];
        _mm256_storeu_pd(l.as_mut_ptr(), mn);
        _mm256_storeu_pd(h.as_mut_ptr(), mx);
        let mut lo = l.iter().copied().fold(0.0f64, f64::min);
        let mut hi = h.iter().copied().fold(0.0f64, f64::max);
        let mut tail = 0.0;
        for j in chunks * 16..n {
            let y = ri[j] * rk[j];
            tail += super::ln1p(if y >= -0.5 { y } else { 0.0 });
            lo = lo.min(y);
            hi = hi.max(y);
        }
        // A product of 16 factors may overflow, and NaN products escape min/max: both make the
        // value non-finite, which sends the pair to the scalar path.
        let value = ((a[0] + a[2]) + (a[1] + a[3])) + tail;
        KernelSum {
            value,
            regular: lo >= -0.5 && hi < 1e300 && value.is_finite(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn gauss_pair(
        rq_i: f64,
        rq: &[f64],
        shift: f64,
        half_w: &[f64],
        inv2s2: &[f64],
        norm: &[f64],
        acc: &mut [f64],
        lo: &mut [f64],
    ) {
        let n = rq.len();
        let half = _mm256_set1_pd(-0.5);
        let zero = _mm256_setzero_pd();
        let ri = _mm256_set1_pd(rq_i);
        let sh = _mm256_set1_pd(shift);
        let chunks = n / 4;
        for c in 0..chunks {
            let k = c * 4;
            let y = _mm256_mul_pd(ri, _mm256_loadu_pd(rq.as_ptr().add(k)));
            let ys = _mm256_blendv_pd(zero, y, _mm256_cmp_pd::<_CMP_GE_OQ>(y, half));
            let l = ln1p4(ys);
            let d = _mm256_add_pd(sh, _mm256_loadu_pd(half_w.as_ptr().add(k)));
            let arg = _mm256_mul_pd(_mm256_mul_pd(d, d), _mm256_loadu_pd(inv2s2.as_ptr().add(k)));
            let w = _mm256_mul_pd(
                _mm256_loadu_pd(norm.as_ptr().add(k)),
                exp4(_mm256_sub_pd(zero, arg)),
            );
            let a = _mm256_fmadd_pd(w, l, _mm256_loadu_pd(acc.as_ptr().add(k)));
            _mm256_storeu_pd(acc.as_mut_ptr().add(k), a);
            let m = _mm256_min_pd(_mm256_loadu_pd(lo.as_ptr().add(k)), y);
            _mm256_storeu_pd(lo.as_mut_ptr().add(k), m);
        }
        super::gauss_pair_scalar(
            rq_i,
            &rq[chunks * 4..],
            shift,
            &half_w[chunks * 4..],
            &inv2s2[chunks * 4..],
            &norm[chunks * 4..],
            &mut acc[chunks * 4..],
            &mut lo[chunks * 4..],
        );
    }
}

fn has_avx2() -> bool {
    crate::linalg::simd::has_avx2_fma()
}

/// `sum_j ln(1 + ri[j] rk[j])` in 8 interleaved partial sums (fixed order), with a flag telling
/// whether every product was in the fast kernel's range (finite, `>= -1/2`). AVX2/FMA code
/// when the CPU has it (checked at run time), scalar otherwise.
pub fn pair_sum(ri: &[f64], rk: &[f64]) -> KernelSum {
    let n = ri.len().min(rk.len());
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: AVX2 and FMA were detected at run time; slices are cut to a common length.
        return unsafe { avx2::pair_sum(&ri[..n], &rk[..n]) };
    }
    pair_sum_scalar(&ri[..n], &rk[..n])
}

/// One quadrature node of the Gaussian spin-basis pair sum for a fixed first unit `i`:
/// for every `k`, `acc[k] += norm[k] exp(-(shift + half_w[k])^2 inv2s2[k]) ln(1 + rq_i rq[k])`
/// and `lo[k] = min(lo[k], rq_i rq[k])` (products below `-1/2` contribute 0 here and are
/// recomputed exactly by the caller). All slices must have the same length.
#[allow(clippy::too_many_arguments)]
pub fn gauss_pair_node(
    rq_i: f64,
    rq: &[f64],
    shift: f64,
    half_w: &[f64],
    inv2s2: &[f64],
    norm: &[f64],
    acc: &mut [f64],
    lo: &mut [f64],
) {
    let n = rq.len();
    assert!(
        half_w.len() == n
            && inv2s2.len() == n
            && norm.len() == n
            && acc.len() == n
            && lo.len() == n
    );
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: AVX2 and FMA were detected at run time; all slices have length n.
        return unsafe { avx2::gauss_pair(rq_i, rq, shift, half_w, inv2s2, norm, acc, lo) };
    }
    gauss_pair_scalar(rq_i, rq, shift, half_w, inv2s2, norm, acc, lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln1p_is_accurate_everywhere_in_range() {
        let mut worst: f64 = 0.0;
        let mut y: f64 = -0.5;
        while y < 1e6 {
            let r = y.ln_1p();
            if y != 0.0 {
                worst = worst.max((ln1p(y) - r).abs() / r.abs());
            }
            y += if y < 1.0 { 1.37e-5 } else { 1e-3 * y };
        }
        for e in -300..0 {
            for &sgn in &[1.0, -1.0] {
                let y = sgn * 1.37f64.powi(e);
                let rel = (ln1p(y) - y.ln_1p()).abs() / y.ln_1p().abs();
                worst = worst.max(rel);
            }
        }
        assert!(worst < 4e-16, "worst relative error {worst}");
    }

    #[test]
    fn pair_sum_flags_irregular_products() {
        let a = vec![0.1; 19];
        let mut b = vec![0.2; 19];
        let s = pair_sum(&a, &b);
        assert!(s.regular);
        assert!((s.value - 19.0 * 0.02f64.ln_1p()).abs() < 1e-15);
        b[17] = -6.0;
        assert!(!pair_sum(&a, &b).regular);
        // vector and scalar paths agree
        let x: Vec<f64> = (0..203)
            .map(|i| ((i * 37) % 101) as f64 * 0.013 - 0.6)
            .collect();
        let y: Vec<f64> = (0..203)
            .map(|i| ((i * 53) % 89) as f64 * 0.011 - 0.45)
            .collect();
        let v = pair_sum(&x, &y);
        let s = pair_sum_scalar(&x, &y);
        assert!(v.regular && s.regular);
        assert!((v.value - s.value).abs() < 1e-13, "{} {}", v.value, s.value);
        let mut acc = vec![0.0; 203];
        let mut lo = vec![0.0; 203];
        let mut acc2 = acc.clone();
        let mut lo2 = lo.clone();
        let hw: Vec<f64> = x.iter().map(|v| 0.5 * v).collect();
        let inv = vec![0.3; 203];
        let norm = vec![0.7; 203];
        gauss_pair_node(0.8, &y, 0.2, &hw, &inv, &norm, &mut acc, &mut lo);
        gauss_pair_scalar(0.8, &y, 0.2, &hw, &inv, &norm, &mut acc2, &mut lo2);
        for k in 0..203 {
            assert!((acc[k] - acc2[k]).abs() < 1e-14 && lo[k] == lo2[k]);
        }
    }
}
