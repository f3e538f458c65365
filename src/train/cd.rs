//! Sampled negative phases: CD-k (chains restarted at the minibatch) and PCD-k (persistent
//! chains, Tieleman 2008).

use faer::{Accum, Mat, MatRef};

use crate::error::Result;
use crate::float::Float;
use crate::linalg::sparse::DenseRows;
use crate::linalg::{map_column_sums, matmul, scaled_copy};
use crate::rbm::{GibbsSampler, Rbm};
use crate::rng::Rng;
use crate::train::phase::{Gradient, NegativePhase, PhaseReport, PositivePhase};
use crate::train::state::{find, StateArray};

/// Subtracts the chain statistics `<v h>`, `<v>`, `<P(h|v)>` of the sampler from `grad`
/// (Rao-Blackwellised: hidden probabilities rather than hidden samples).
fn subtract_chain_statistics<T: Float>(chains: &GibbsSampler<T>, grad: &mut Gradient<T>) {
    let v = chains.visible();
    let ph = chains.hidden_probs();
    let p = v.nrows();
    let scale = T::of(-1.0 / p as f64);
    matmul(grad.w.as_mut(), Accum::Add, v.transpose(), ph, scale);
    subtract_chain_means(chains, grad);
}

/// `grad.a -= <v>_chains`, `grad.b -= <P(h|v)>_chains`.
fn subtract_chain_means<T: Float>(chains: &GibbsSampler<T>, grad: &mut Gradient<T>) {
    let (v, ph) = (chains.visible(), chains.hidden_probs());
    let p = v.nrows() as f64;
    let _timer = crate::profile::Timer::new(crate::profile::Section::Copy);
    map_column_sums(v, &mut grad.a, |g, s| g - T::of(s / p));
    map_column_sums(ph, &mut grad.b, |g, s| g - T::of(s / p));
}

/// The data and chain rows stacked, `[V; V_chains]` and `[P / B; -P_chains / C]`, so that the
/// weight gradient `V^T P / B - V_c^T P_c / C` is ONE GEMM with inner dimension `B + C`
/// (faster than two with `B` and `C`: the `nv x nh` output is read and written once).
///
/// When the minibatch and the chains both took the sparse path, the gradient is instead two
/// sparse products `V^T (P / B) + V_c^T (-P_c / C)` over the nonzeros the positive phase and
/// the chains indexed ([`crate::linalg::sparse`]), from the rows of `P` and `P_c`.
#[derive(Clone, Debug)]
struct StackedRows<T: Float> {
    v: Mat<T>,
    h: Mat<T>,
    data_rows: DenseRows<T>,
    chain_rows: DenseRows<T>,
}

impl<T: Float> Default for StackedRows<T> {
    fn default() -> Self {
        StackedRows {
            v: Mat::zeros(0, 0),
            h: Mat::zeros(0, 0),
            data_rows: DenseRows::new(),
            chain_rows: DenseRows::new(),
        }
    }
}

impl<T: Float> StackedRows<T> {
    /// `grad.w <- V^T P / B - V_c^T P_c / C` for the positive phase and the chains.
    fn weight_gradient(
        &mut self,
        positive: &PositivePhase<'_, T>,
        chains: &GibbsSampler<T>,
        grad: &mut Gradient<T>,
    ) {
        let (b, c) = (positive.batch.nrows(), chains.n_chains());
        let (nv, nh) = (positive.batch.ncols(), positive.hidden_probs.ncols());
        if let (Some(data), Some(chain_index)) = (positive.sparse, chains.sparse_index()) {
            let (pos, neg) = (T::of(1.0 / b as f64), T::of(-1.0 / c as f64));
            crate::profile::timed(crate::profile::Section::Sparse, || {
                self.data_rows.resize(b, nh);
                self.data_rows.set_rows(0, positive.hidden_probs, pos);
                self.chain_rows.resize(c, nh);
                self.chain_rows.set_rows(0, chains.hidden_probs(), neg);
                data.index.transpose_times_pair_into(
                    &self.data_rows,
                    chain_index,
                    &self.chain_rows,
                    grad.w.as_mut(),
                );
            });
            return;
        }
        if (self.v.nrows(), self.v.ncols(), self.h.ncols()) != (b + c, nv, nh) {
            self.v = Mat::zeros(b + c, nv);
            self.h = Mat::zeros(b + c, nh);
        }
        crate::profile::timed(crate::profile::Section::Copy, || {
            self.v.as_mut().subrows_mut(0, b).copy_from(positive.batch);
            self.v
                .as_mut()
                .subrows_mut(b, c)
                .copy_from(chains.visible());
            let (pos, neg) = (T::of(1.0 / b as f64), T::of(-1.0 / c as f64));
            scaled_copy(
                self.h.as_mut().subrows_mut(0, b),
                positive.hidden_probs,
                pos,
            );
            scaled_copy(
                self.h.as_mut().subrows_mut(b, c),
                chains.hidden_probs(),
                neg,
            );
        });
        let one = T::of(1.0);
        matmul(
            grad.w.as_mut(),
            Accum::Replace,
            self.v.transpose(),
            self.h.as_ref(),
            one,
        );
    }
}

/// CD-k: one Gibbs chain per minibatch row, started at the data, `k` full steps.
#[derive(Clone, Debug)]
pub struct ContrastiveDivergence<T: Float = f64> {
    k: usize,
    nv: usize,
    nh: usize,
    chains: Option<GibbsSampler<T>>,
    stacked: StackedRows<T>,
}

impl<T: Float> ContrastiveDivergence<T> {
    /// CD-k for a model of `nv x nh` units.
    pub fn new(k: usize, nv: usize, nh: usize) -> Self {
        ContrastiveDivergence {
            k,
            nv,
            nh,
            chains: None,
            stacked: StackedRows::default(),
        }
    }
}

impl<T: Float> NegativePhase<T> for ContrastiveDivergence<T> {
    fn name(&self) -> String {
        format!("cd{}", self.k)
    }

    fn uses_sparse_batches(&self) -> bool {
        true
    }

    fn subtract_model_statistics(
        &mut self,
        rbm: &Rbm<T>,
        batch: MatRef<'_, T>,
        grad: &mut Gradient<T>,
        rng: &mut Rng,
    ) -> Result<PhaseReport> {
        debug_assert_eq!((rbm.n_visible(), rbm.n_hidden()), (self.nv, self.nh));
        let rows = batch.nrows();
        if self.chains.as_ref().map(|c| c.n_chains()) != Some(rows) {
            self.chains = Some(GibbsSampler::new(rbm, rows));
        }
        let chains = self.chains.as_mut().expect("chains allocated above");
        chains.set_visible(batch);
        chains.run(rbm, self.k, rng);
        subtract_chain_statistics(chains, grad);
        Ok(PhaseReport::default())
    }

    fn weight_gradient_from(
        &mut self,
        rbm: &Rbm<T>,
        positive: PositivePhase<'_, T>,
        grad: &mut Gradient<T>,
        rng: &mut Rng,
    ) -> Result<PhaseReport> {
        let rows = positive.batch.nrows();
        if self.chains.as_ref().map(|c| c.n_chains()) != Some(rows) {
            self.chains = Some(GibbsSampler::new(rbm, rows));
        }
        let chains = self.chains.as_mut().expect("chains allocated above");
        // The chain's first half-step v -> h uses the positive phase's P(h | v).
        let w_rows = positive.sparse.map(|s| s.w_rows);
        chains.run_from_hidden_probs_with(rbm, positive.hidden_probs, self.k, rng, w_rows);
        self.stacked.weight_gradient(&positive, chains, grad);
        subtract_chain_means(chains, grad);
        Ok(PhaseReport::default())
    }
}

/// PCD-k: persistent Gibbs chains that carry over between parameter updates.
///
/// The chains start from Bernoulli samples of the first minibatch (cycled if there are more
/// chains than rows).
#[derive(Clone, Debug)]
pub struct PersistentCd<T: Float = f64> {
    k: usize,
    n_chains: usize,
    chains: Option<GibbsSampler<T>>,
    nv: usize,
    nh: usize,
    stacked: StackedRows<T>,
}

impl<T: Float> PersistentCd<T> {
    /// PCD-k with `n_chains` persistent chains for a model of `nv x nh` units.
    pub fn new(k: usize, n_chains: usize, nv: usize, nh: usize) -> Self {
        PersistentCd {
            k,
            n_chains,
            chains: None,
            nv,
            nh,
            stacked: StackedRows::default(),
        }
    }

    /// The persistent chains' visible states (once started).
    pub fn chains(&self) -> Option<MatRef<'_, T>> {
        self.chains.as_ref().map(|c| c.visible())
    }
}

impl<T: Float> NegativePhase<T> for PersistentCd<T> {
    fn name(&self) -> String {
        format!("pcd{}", self.k)
    }

    fn uses_sparse_batches(&self) -> bool {
        true
    }

    fn subtract_model_statistics(
        &mut self,
        rbm: &Rbm<T>,
        batch: MatRef<'_, T>,
        grad: &mut Gradient<T>,
        rng: &mut Rng,
    ) -> Result<PhaseReport> {
        let chains = self.advance(rbm, batch, rng, None);
        subtract_chain_statistics(chains, grad);
        Ok(PhaseReport::default())
    }

    fn weight_gradient_from(
        &mut self,
        rbm: &Rbm<T>,
        positive: PositivePhase<'_, T>,
        grad: &mut Gradient<T>,
        rng: &mut Rng,
    ) -> Result<PhaseReport> {
        self.advance(rbm, positive.batch, rng, positive.sparse.map(|s| s.w_rows));
        let chains = self.chains.as_ref().expect("chains started by advance");
        self.stacked.weight_gradient(&positive, chains, grad);
        subtract_chain_means(chains, grad);
        Ok(PhaseReport::default())
    }

    /// The chains' visible states (the next update starts from them), once started.
    fn state(&self) -> Option<Vec<StateArray>> {
        let chains = self.chains.as_ref()?;
        Some(vec![StateArray::from_mat("chains", chains.visible())])
    }

    fn restore(&mut self, rbm: &Rbm<T>, state: Option<&[StateArray]>) -> Result<()> {
        let Some(arrays) = state else {
            self.chains = None;
            return Ok(());
        };
        let v = find(arrays, "chains")?.to_mat::<T>(self.n_chains, self.nv)?;
        let mut chains = GibbsSampler::try_new(rbm, self.n_chains)?;
        chains.set_visible(v.as_ref());
        self.chains = Some(chains);
        Ok(())
    }
}

impl<T: Float> PersistentCd<T> {
    /// Starts the chains at the first minibatch (once) and runs `k` steps (the `v -> h`
    /// products sparse when `w_rows` holds the rows of `W`).
    fn advance(
        &mut self,
        rbm: &Rbm<T>,
        batch: MatRef<'_, T>,
        rng: &mut Rng,
        w_rows: Option<&DenseRows<T>>,
    ) -> &GibbsSampler<T> {
        debug_assert_eq!((rbm.n_visible(), rbm.n_hidden()), (self.nv, self.nh));
        if self.chains.is_none() {
            let mut chains = GibbsSampler::new(rbm, self.n_chains);
            let start =
                faer::Mat::from_fn(self.n_chains, self.nv, |r, i| batch[(r % batch.nrows(), i)]);
            chains.set_visible_sampled(start.as_ref(), rng);
            self.chains = Some(chains);
        }
        let chains = self.chains.as_mut().expect("chains allocated above");
        chains.run_with(rbm, self.k, rng, w_rows);
        chains
    }
}
