//! Sampled negative phases: CD-k (chains restarted at the minibatch) and PCD-k (persistent
//! chains, Tieleman 2008).

use faer::{Accum, MatRef};

use crate::error::Result;
use crate::float::Float;
use crate::linalg::matmul;
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
    let _timer = crate::profile::Timer::new(crate::profile::Section::Copy);
    for (i, g) in grad.a.iter_mut().enumerate() {
        let s: f64 = v.col(i).iter().map(|x| x.as_f64()).sum();
        *g -= T::of(s / p as f64);
    }
    for (j, g) in grad.b.iter_mut().enumerate() {
        let s: f64 = ph.col(j).iter().map(|x| x.as_f64()).sum();
        *g -= T::of(s / p as f64);
    }
}

/// CD-k: one Gibbs chain per minibatch row, started at the data, `k` full steps.
#[derive(Clone, Debug)]
pub struct ContrastiveDivergence<T: Float = f64> {
    k: usize,
    nv: usize,
    nh: usize,
    chains: Option<GibbsSampler<T>>,
}

impl<T: Float> ContrastiveDivergence<T> {
    /// CD-k for a model of `nv x nh` units.
    pub fn new(k: usize, nv: usize, nh: usize) -> Self {
        ContrastiveDivergence {
            k,
            nv,
            nh,
            chains: None,
        }
    }
}

impl<T: Float> NegativePhase<T> for ContrastiveDivergence<T> {
    fn name(&self) -> String {
        format!("cd{}", self.k)
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

    fn subtract_model_statistics_from(
        &mut self,
        rbm: &Rbm<T>,
        positive: PositivePhase<'_, T>,
        grad: &mut Gradient<T>,
        rng: &mut Rng,
    ) -> Result<PhaseReport> {
        let (rows, batch_hidden) = (positive.batch.nrows(), positive.hidden_probs);
        if self.chains.as_ref().map(|c| c.n_chains()) != Some(rows) {
            self.chains = Some(GibbsSampler::new(rbm, rows));
        }
        let chains = self.chains.as_mut().expect("chains allocated above");
        // The chain's first half-step v -> h uses the positive phase's P(h | v).
        chains.run_from_hidden_probs(rbm, batch_hidden, self.k, rng);
        subtract_chain_statistics(chains, grad);
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

    fn subtract_model_statistics(
        &mut self,
        rbm: &Rbm<T>,
        batch: MatRef<'_, T>,
        grad: &mut Gradient<T>,
        rng: &mut Rng,
    ) -> Result<PhaseReport> {
        debug_assert_eq!((rbm.n_visible(), rbm.n_hidden()), (self.nv, self.nh));
        if self.chains.is_none() {
            let mut chains = GibbsSampler::new(rbm, self.n_chains);
            let start =
                faer::Mat::from_fn(self.n_chains, self.nv, |r, i| batch[(r % batch.nrows(), i)]);
            chains.set_visible_sampled(start.as_ref(), rng);
            self.chains = Some(chains);
        }
        let chains = self.chains.as_mut().expect("chains allocated above");
        chains.run(rbm, self.k, rng);
        subtract_chain_statistics(chains, grad);
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
