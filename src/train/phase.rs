//! The negative-phase strategy interface: the training loop knows nothing about CD or TAP.

use faer::{Mat, MatRef};

use crate::error::Result;
use crate::float::Float;
use crate::rbm::Rbm;
use crate::rng::Rng;

/// A gradient (or an estimate of it) with the model's shapes: `W` (`nv x nh`), `a`, `b`.
#[derive(Clone, Debug)]
pub struct Gradient<T: Float = f64> {
    /// `d/dW`.
    pub w: Mat<T>,
    /// `d/da`.
    pub a: Vec<T>,
    /// `d/db`.
    pub b: Vec<T>,
}

impl<T: Float> Gradient<T> {
    /// A zero gradient for a model of this shape.
    pub fn zeros(n_visible: usize, n_hidden: usize) -> Self {
        Gradient {
            w: Mat::zeros(n_visible, n_hidden),
            a: vec![T::of(0.0); n_visible],
            b: vec![T::of(0.0); n_hidden],
        }
    }

    /// True when every entry is finite.
    pub fn is_finite(&self) -> bool {
        self.a.iter().chain(&self.b).all(|x| x.is_finite())
            && (0..self.w.ncols()).all(|j| self.w.col_as_slice(j).iter().all(|x| x.is_finite()))
    }
}

/// What a negative phase reports about one minibatch (for the monitor).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PhaseReport {
    /// Fixed-point sweeps used (TAP), if applicable.
    pub sweeps: Option<usize>,
    /// Final fixed-point residual `max |dm|` (TAP), if applicable.
    pub residual: Option<f64>,
}

/// A negative phase: estimates the model-side statistics `d ln Z / d theta` for the current
/// parameters and SUBTRACTS them from `grad`, which on entry holds the positive (data) phase.
///
/// Implementations keep their buffers (chains, particles) between calls and must not allocate
/// per call once warmed up.
pub trait NegativePhase<T: Float>: Send {
    /// A short name such as `cd1`, `pcd1`, `tap2`.
    fn name(&self) -> String;

    /// `grad -= d ln Z / d theta` as estimated by this phase. `batch` holds the current
    /// minibatch (one sample per row), which data-initialised chains and particles start from.
    fn subtract_model_statistics(
        &mut self,
        rbm: &Rbm<T>,
        batch: MatRef<'_, T>,
        grad: &mut Gradient<T>,
        rng: &mut Rng,
    ) -> Result<PhaseReport>;

    /// Same as [`subtract_model_statistics`](Self::subtract_model_statistics), also given
    /// the positive phase's `P(h | v)` of the minibatch (`batch_hidden`), which phases that
    /// start at the data (CD, data-initialised TAP) reuse to save one GEMM. The trainer calls
    /// this; the default ignores `batch_hidden`.
    fn subtract_model_statistics_from(
        &mut self,
        rbm: &Rbm<T>,
        batch: MatRef<'_, T>,
        batch_hidden: MatRef<'_, T>,
        grad: &mut Gradient<T>,
        rng: &mut Rng,
    ) -> Result<PhaseReport> {
        let _ = batch_hidden;
        self.subtract_model_statistics(rbm, batch, grad, rng)
    }
}
