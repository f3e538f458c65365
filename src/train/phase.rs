//! The negative-phase strategy interface: the training loop knows nothing about CD or TAP.

use faer::{Accum, MatRef};

use crate::error::Result;
use crate::float::Float;
use crate::linalg::matmul;
use crate::linalg::sparse::{DenseRows, SparseRows};
pub use crate::rbm::Gradient;
use crate::rbm::Rbm;
use crate::rng::Rng;
use crate::train::state::StateArray;

/// What a negative phase reports about one minibatch (for the monitor).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PhaseReport {
    /// Fixed-point sweeps used (TAP), if applicable.
    pub sweeps: Option<usize>,
    /// Final fixed-point residual (TAP, see [`SolverOptions`](crate::tap::SolverOptions)), if
    /// applicable.
    pub residual: Option<f64>,
    /// Particles that reached the solver's tolerance, and particles solved (TAP).
    pub particles: Option<(usize, usize)>,
}

/// What the positive phase computed from one minibatch (`B` rows), handed to the negative
/// phase.
#[derive(Clone, Copy, Debug)]
pub struct PositivePhase<'a, T: Float> {
    /// The minibatch, one sample per row (`B x n_visible`).
    pub batch: MatRef<'a, T>,
    /// Its hidden fields without the bias, `V W` (`B x n_hidden`).
    pub hidden_field: MatRef<'a, T>,
    /// `P(h = 1 | v) = sigmoid(V W + b)` (`B x n_hidden`).
    pub hidden_probs: MatRef<'a, T>,
    /// The minibatch's nonzeros and the rows of `W`, when the positive phase took the sparse
    /// path ([`crate::linalg::sparse`]); `None` when it used a GEMM.
    pub sparse: Option<SparseBatch<'a, T>>,
}

/// What a sparse positive phase hands on: the minibatch indexed by row and column, and the
/// rows of `W` it multiplied (valid for the current parameters), which chains that start at
/// the data can reuse for their own sparse products.
#[derive(Clone, Copy, Debug)]
pub struct SparseBatch<'a, T: Float> {
    /// The minibatch's nonzeros.
    pub index: &'a SparseRows<T>,
    /// The rows of `W` (refreshed for this update).
    pub w_rows: &'a DenseRows<T>,
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

    /// The whole weight gradient from the positive phase and this phase's statistics:
    /// on entry `grad.a` and `grad.b` hold the positive phase (the minibatch's means of `v` and
    /// `P(h | v)`) but `grad.w` holds nothing; on return `grad.w = <v P(h|v)>_data - <v h>_model`
    /// and the model means are subtracted from `grad.a`, `grad.b`. The trainer calls this.
    ///
    /// Given what the positive phase computed (its hidden fields and `P(h | v)`), a phase can
    /// save work: chains and particles that start at the data reuse them, and the data and
    /// model terms of `grad.w` can be one GEMM over the stacked rows (twice the inner
    /// dimension, faster than two). The default computes `V^T P / B` and calls
    /// [`subtract_model_statistics`](Self::subtract_model_statistics).
    fn weight_gradient_from(
        &mut self,
        rbm: &Rbm<T>,
        positive: PositivePhase<'_, T>,
        grad: &mut Gradient<T>,
        rng: &mut Rng,
    ) -> Result<PhaseReport> {
        positive.weight_gradient_into(grad);
        self.subtract_model_statistics(rbm, positive.batch, grad, rng)
    }

    /// Whether this phase gains from a sparse positive phase ([`SparseBatch`]): the trainer
    /// indexes sparse minibatches and copies the rows of `W` only for phases that say so.
    /// Sampled chains do (their states are as sparse as the data: `v -> h` and the weight
    /// gradient become sparse products); TAP particles are dense magnetizations, and the
    /// minibatch's own product alone does not repay the copy of `W` (measured with
    /// `benches/update.rs`). Default `false`.
    fn uses_sparse_batches(&self) -> bool {
        false
    }

    /// What this phase carries from one update to the next (persistent chains or
    /// particles), saved in checkpoints; `None` (the default) for a phase that restarts at
    /// the data every update. A phase with such state must implement this and
    /// [`restore`](Self::restore) for a resumed run to continue exactly.
    fn state(&self) -> Option<Vec<StateArray>> {
        None
    }

    /// Restores what [`state`](Self::state) returned, before the first update of a resumed
    /// run. The default accepts only `None`.
    fn restore(&mut self, _rbm: &Rbm<T>, state: Option<&[StateArray]>) -> Result<()> {
        match state {
            None => Ok(()),
            Some(_) => Err(crate::Error::param(
                "resume",
                format!(
                    "the checkpoint holds a negative-phase state that {} cannot restore",
                    self.name()
                ),
            )),
        }
    }
}

impl<T: Float> PositivePhase<'_, T> {
    /// `grad.w <- V^T P / B`, the data term of the weight gradient.
    pub fn weight_gradient_into(&self, grad: &mut Gradient<T>) {
        let inv = T::of(1.0 / self.batch.nrows() as f64);
        matmul(
            grad.w.as_mut(),
            Accum::Replace,
            self.batch.transpose(),
            self.hidden_probs,
            inv,
        );
    }
}
