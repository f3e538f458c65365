//! The floating-point types a model can be trained in: `f64` (default, exact work) and `f32`
//! (a training-speed mode: GEMM runs about twice as fast). Sums that must be exact (log-sum-exp,
//! enumeration, coupling sums) are always accumulated in `f64` whatever the model's type.

use std::fmt::{Debug, Display};

use serde::{de::DeserializeOwned, Serialize};

use crate::linalg::{kernels, math};

/// A real scalar type usable for models and training (`f64` or `f32`).
///
/// Besides faer's `RealField` (so every product goes through faer's GEMM) it carries the
/// type's own polynomial `exp` (what the in-precision kernels of [`crate::linalg::kernels`]
/// are built on) and the bridge to the `f64`-accumulating softplus kernel.
pub trait Float:
    faer::traits::RealField
    + num_traits::Float
    + Copy
    + Send
    + Sync
    + Default
    + Debug
    + Display
    + Serialize
    + DeserializeOwned
    + 'static
{
    /// `"f64"` or `"f32"`, as recorded in model files.
    const NAME: &'static str;
    /// Conversion from `f64` (rounding for `f32`).
    fn of(x: f64) -> Self;
    /// Conversion to `f64` (exact).
    fn as_f64(self) -> f64;
    /// `acc[i] += softplus(x[i] + bias)`, accumulated in `f64`.
    fn softplus_bias_acc(x: &[Self], bias: Self, acc: &mut [f64]);
    /// Branch-free `e^x` in this type's own precision (polynomial, vectorisable inside the
    /// kernels; see [`math::exp`] and [`math::exp_f32`]).
    fn fast_exp(x: Self) -> Self;
}

macro_rules! impl_float {
    ($t:ty, $name:literal, $exp:path) => {
        impl Float for $t {
            const NAME: &'static str = $name;
            #[inline(always)]
            fn of(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn as_f64(self) -> f64 {
                self as f64
            }
            fn softplus_bias_acc(x: &[Self], bias: Self, acc: &mut [f64]) {
                kernels::softplus_bias_acc(x, bias, acc)
            }
            #[inline(always)]
            fn fast_exp(x: Self) -> Self {
                $exp(x)
            }
        }
    };
}
impl_float!(f64, "f64", math::exp);
impl_float!(f32, "f32", math::exp_f32);
