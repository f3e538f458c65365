//! The crate's one SIMD dispatch and CPU-feature check.
//!
//! Kernels are written once, as plain arithmetic with selects, and compiled three times
//! (AVX-512, AVX2 + FMA, baseline) by `simd_dispatch!`; the best version is chosen at run
//! time. pulp (faer's SIMD layer) offers the same closure dispatch, but faer builds it without
//! its AVX-512 level (`x86-v4`, behind faer's `nightly` feature), so it would reach AVX2 only.

/// True when the CPU has AVX2 and FMA (the level the hand-written intrinsics of
/// `hamiltonian::kernel` need).
#[inline]
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

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
                if $crate::linalg::simd::has_avx2_fma() {
                    // SAFETY: features checked at run time.
                    return unsafe { v256($($arg),*) };
                }
            }
            inner($($arg),*)
        }
    };
}
pub(crate) use simd_dispatch;
