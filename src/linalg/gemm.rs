//! GEMM into a preallocated buffer (faer), with the parallelism every hot path shares.

use faer::linalg::matmul::matmul as faer_matmul;
use faer::{Accum, MatMut, MatRef, Par};

use crate::float::Float;

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
    matmul_par(dst, accum, lhs, rhs, alpha, par());
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
    let (m, n) = (dst.nrows(), dst.ncols());
    let shape = || crate::profile::GemmShape {
        m,
        n,
        k: lhs.ncols(),
        lhs_transposed: lhs.row_stride() != 1,
        rhs_transposed: rhs.row_stride() != 1,
        accumulate: matches!(accum, Accum::Add),
    };
    crate::profile::timed_gemm(shape, || {
        faer_matmul(dst, accum, lhs, rhs, alpha, par);
        zeroupper();
    });
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
