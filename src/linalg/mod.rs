//! The few numeric building blocks every hot path shares: GEMM into a preallocated buffer
//! ([`gemm`]), the one SIMD dispatch (`simd_dispatch!`,
//! in `simd`), branch-free vectorisable scalar math ([`math`]) and fused slice kernels
//! ([`kernels`]), tiled transposed copies ([`transpose`]), plus exact (libm) reference versions of softplus and sigmoid.
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
pub mod sparse;
pub mod transpose;
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

/// Runs `f` on a thread of rayon's pool (directly when already on one). A loop that issues
/// many short parallel passes (sigmoids, draws, copies, GEMMs) should run there: from a
/// thread outside the pool every pass is handed over to the pool and waited for (about 25 us
/// each on these machines, more than many passes cost), while from a worker it is split by
/// work stealing at almost no cost.
pub fn on_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        f()
    } else {
        rayon::scope(|_| f())
    }
}

/// Columns per rayon task for elementwise work over an `nrows x ncols` matrix, or `None` when
/// it is too small for threads to pay off (or the pool has one thread). Elementwise work gives
/// the same bits however its columns are split.
pub(crate) fn column_tasks(nrows: usize, ncols: usize) -> Option<usize> {
    /// Elements below which one task is not worth a thread.
    const MIN_TASK: usize = 16_384;
    let threads = rayon::current_num_threads();
    if threads < 2 || ncols < 2 || nrows * ncols < 2 * MIN_TASK {
        return None;
    }
    let min_cols = MIN_TASK.div_ceil(nrows.max(1));
    Some(min_cols.max(ncols.div_ceil(4 * threads)))
}

/// `out[j] <- f(out[j], sum of column j)`, the sum accumulated in `f64` down the column
/// ([`kernels::column_sum`]);
/// columns split over threads when the matrix is large (the same bits either way).
pub(crate) fn map_column_sums<T: Float>(
    m: MatRef<'_, T>,
    out: &mut [T],
    f: impl Fn(T, f64) -> T + Sync,
) {
    use rayon::prelude::*;
    let one = |(j, o): (usize, &mut T)| {
        let s = match m.col(j).try_as_col_major() {
            Some(c) => kernels::column_sum(c.as_slice()),
            None => m.col(j).iter().map(|x| x.as_f64()).sum(),
        };
        *o = f(*o, s);
    };
    match column_tasks(m.nrows(), m.ncols()) {
        Some(c) => out.par_iter_mut().enumerate().with_min_len(c).for_each(one),
        None => out.iter_mut().enumerate().for_each(one),
    }
}

/// `dst <- s * src` (same shape), columns split over threads when the matrix is large.
pub(crate) fn scaled_copy<T: Float>(dst: MatMut<'_, T>, src: MatRef<'_, T>, s: T) {
    use faer::reborrow::*;
    use rayon::prelude::*;
    let serial = |mut dst: MatMut<'_, T>, src: MatRef<'_, T>| {
        for j in 0..src.ncols() {
            let mut d = dst.rb_mut().col_mut(j);
            match (
                d.rb_mut().try_as_col_major_mut(),
                src.col(j).try_as_col_major(),
            ) {
                (Some(d), Some(x)) => {
                    for (d, &x) in d.as_slice_mut().iter_mut().zip(x.as_slice()) {
                        *d = s * x;
                    }
                }
                _ => {
                    for (d, &x) in d.iter_mut().zip(src.col(j).iter()) {
                        *d = s * x;
                    }
                }
            }
        }
    };
    match column_tasks(src.nrows(), src.ncols()) {
        Some(c) => dst
            .par_col_chunks_mut(c)
            .zip(src.par_col_chunks(c))
            .for_each(|(d, x)| serial(d, x)),
        None => serial(dst, src),
    }
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

    /// Estrin's evaluation of the same polynomial keeps [`math::exp`]'s accuracy on `x <= 0`
    /// (worst relative errors on this grid, 2026-12-08: 3.14e-16 for both, against libm).
    #[test]
    fn exp_nonpositive_matches_libm() {
        let (mut worst, mut worst_horner): (f64, f64) = (0.0, 0.0);
        let mut x: f64 = -708.0;
        while x <= 0.0 {
            let want = x.exp();
            worst = worst.max((math::exp_nonpositive(x) - want).abs() / want);
            worst_horner = worst_horner.max((math::exp(x) - want).abs() / want);
            x += 0.00731;
        }
        println!("worst relative error: Estrin {worst:e}, Horner {worst_horner:e}");
        assert!(worst < 4e-16, "worst relative error {worst}");
        assert_eq!(math::exp_nonpositive(0.0), 1.0);
        assert_eq!(math::exp_nonpositive(-1e4), math::exp(-708.0));
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

    /// The product form of a softplus sum against the exact libm terms: random fields of
    /// every scale (saturated, tiny, mixed signs), lengths across the 16 lanes and the
    /// 512-term blocks; the error stays within a few units of 1e-16 per term.
    #[test]
    fn softplus_total_matches_the_sum_of_softplus_terms() {
        let mut r = crate::rng::rng(4);
        use rand::Rng as _;
        for (n, scale) in [
            (1, 3.0),
            (15, 0.5),
            (16, 30.0),
            (784, 4.0),
            (1300, 12.0),
            (784, 80.0),
        ] {
            let x: Vec<f64> = (0..n)
                .map(|_| scale * (2.0 * r.random::<f64>() - 1.0))
                .collect();
            let want: f64 = x.iter().map(|&v| super::softplus(v)).sum();
            let got = kernels::softplus_total(&x);
            assert!(
                (got - want).abs() <= 2e-16 * n as f64 + 4e-16 * want.abs(),
                "n {n} scale {scale}: {got} vs {want}"
            );
        }
        assert_eq!(kernels::softplus_total::<f64>(&[]), 0.0);
    }

    #[test]
    fn f32_sigmoid_kernel_computes_in_f32_to_its_precision() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.05).collect();
        let mut y = x.clone();
        kernels::sigmoid_bias(&mut y, 0.25f32);
        for (a, b) in x.iter().zip(&y) {
            let exact = super::sigmoid(*a as f64 + 0.25);
            assert!(
                (*b as f64 - exact).abs() <= 4e-7 * exact,
                "x={a}: {b} vs {exact}"
            );
        }
    }

    #[test]
    fn fused_sigmoid_and_bernoulli_equal_the_two_passes() {
        let n = 37;
        let x: Vec<f64> = (0..n).map(|i| (i as f64 - 18.0) * 0.3).collect();
        let u: Vec<f64> = (0..n).map(|i| ((i * 7919) % 101) as f64 / 101.0).collect();
        let (mut p, mut h) = (x.clone(), vec![9.0; n]);
        kernels::sigmoid_bias_sample(&mut p, -0.1, &u, &mut h);
        let mut q = x.clone();
        kernels::sigmoid_bias(&mut q, -0.1);
        let mut h2 = vec![9.0; n];
        kernels::bernoulli(&q, &u, &mut h2);
        assert_eq!(p, q);
        assert_eq!(h, h2);
        for i in 0..n {
            assert_eq!(h[i], if u[i] < q[i] { 1.0 } else { 0.0 });
        }
        assert!(h.contains(&1.0) && h.contains(&0.0));
    }

    #[test]
    fn uniforms_from_bits_are_rands_f64_uniforms() {
        use rand::{Rng as _, RngCore as _};
        let mut r = crate::rng::rng(3);
        let mut bits: Vec<u64> = (0..1000).map(|_| r.next_u64()).collect();
        bits.extend([0, u64::MAX, 1 << 11, (1 << 11) - 1, 1 << 63]);
        let mut u = vec![0.0f64; bits.len()];
        kernels::uniform_from_bits(&bits, &mut u);
        let mut u32s = vec![0.0f32; bits.len()];
        kernels::uniform_from_bits(&bits, &mut u32s);
        for (i, &b) in bits.iter().enumerate() {
            let want = (b >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            assert_eq!(u[i], want, "word {b:#x}");
            assert_eq!(u32s[i], want as f32);
        }
        let mut a = crate::rng::rng(9);
        let mut b = crate::rng::rng(9);
        let mut bulk = vec![0.0f64; 1537];
        crate::rng::fill_uniform(&mut a, &mut bulk);
        for (i, &x) in bulk.iter().enumerate() {
            assert_eq!(x, b.random::<f64>(), "draw {i}");
        }
        assert_eq!(a.random::<u64>(), b.random::<u64>());
    }

    /// Long fills are split over threads at fixed stream positions: the same numbers as
    /// one-at-a-time draws, at 1 and 4 threads, from an odd word position, and the generator
    /// continues where the serial one would.
    #[test]
    fn parallel_uniform_fills_are_rands_draws_at_any_thread_count() {
        use rand::{Rng as _, RngCore as _};
        for threads in [1, 4] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut a = crate::rng::rng(11);
            let mut b = crate::rng::rng(11);
            a.next_u32();
            b.next_u32();
            let mut bulk = vec![0.0f64; 100_003];
            pool.install(|| crate::rng::fill_uniform(&mut a, &mut bulk));
            for (i, &x) in bulk.iter().enumerate() {
                assert_eq!(x, b.random::<f64>(), "threads {threads}, draw {i}");
            }
            let mut small = vec![0.0f32; 70_000];
            pool.install(|| crate::rng::fill_uniform(&mut a, &mut small));
            for (i, &x) in small.iter().enumerate() {
                assert_eq!(
                    x,
                    b.random::<f64>() as f32,
                    "threads {threads}, f32 draw {i}"
                );
            }
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn momentum_step_gathers_the_largest_weight_and_non_finite_entries() {
        for n in [3usize, 8, 21, 40] {
            let w0: Vec<f64> = (0..n).map(|i| (i as f64 - 5.0) * 0.5).collect();
            let g: Vec<f64> = (0..n).map(|i| (i % 3) as f64 - 1.0).collect();
            let (mut w, mut v) = (w0.clone(), vec![0.1; n]);
            let s = kernels::momentum_step(&mut w, &mut v, &g, 0.5, 0.2, 0.01, 0.1);
            let mut top: f64 = 0.0;
            for i in 0..n {
                let sign = if w0[i] > 0.0 {
                    1.0
                } else if w0[i] < 0.0 {
                    -1.0
                } else {
                    0.0
                };
                let vi = 0.5 * 0.1 + 0.2 * (g[i] - 0.1 * w0[i] - 0.01 * sign);
                assert_eq!(v[i], vi);
                assert_eq!(w[i], w0[i] + vi);
                top = top.max(w[i].abs());
            }
            assert_eq!(s.max_abs, top);
            assert!(!s.non_finite_weight && !s.non_finite_gradient);
            // A NaN gradient anywhere (vector body or tail) is seen, and so is the weight.
            for bad in [0, n - 1] {
                let mut g2 = g.clone();
                g2[bad] = f64::NAN;
                let (mut w, mut v) = (w0.clone(), vec![0.0; n]);
                let s = kernels::momentum_step(&mut w, &mut v, &g2, 0.5, 0.2, 0.0, 0.0);
                assert!(
                    s.non_finite_gradient && s.non_finite_weight,
                    "n={n} bad={bad}"
                );
                let mut g3 = g.clone();
                g3[bad] = f64::INFINITY;
                let s = kernels::momentum_step(
                    &mut w0.clone(),
                    &mut vec![0.0; n],
                    &g3,
                    0.5,
                    0.2,
                    0.0,
                    0.0,
                );
                assert!(
                    s.non_finite_gradient && s.non_finite_weight,
                    "inf n={n} bad={bad}"
                );
            }
        }
    }
}
