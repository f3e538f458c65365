//! Implementations of the built-in metrics ([`MetricKind`]); see [`crate::train::metrics`].

use rand::Rng as _;

use crate::error::Result;
use crate::estimate::ais::{Ais, AisBase};
use crate::estimate::{exact, metrics as cheap};
use crate::float::Float;
use crate::tap;
use crate::train::history::EpochRecord;
use crate::train::keys::{self, Estimate, TapValue};
use crate::train::metrics::{
    AisMetricConfig, EmfConfig, Metric, MetricContext, MetricKind, TapLnZConfig,
};

/// Random-stream tag of the pseudo-likelihood's bit flips.
const PLL_TAG: u32 = 0;
/// Random-stream tag of the AIS seeds.
const AIS_TAG: u32 = 1;

pub(crate) fn build<T: Float>(kind: &MetricKind) -> Box<dyn Metric<T>> {
    match kind {
        MetricKind::ReconstructionError => Box::new(Reconstruction),
        MetricKind::PseudoLogLikelihood => Box::new(PseudoLikelihood),
        MetricKind::FreeEnergy => Box::new(FreeEnergies),
        MetricKind::ExactLogLikelihood { max_units } => Box::new(ExactLikelihood {
            max_units: *max_units,
        }),
        MetricKind::TapLnZ(c) => Box::new(TapLnZ(*c)),
        MetricKind::EmfLogLikelihood(c) => Box::new(EmfLikelihood(*c)),
        MetricKind::Ais(c) => Box::new(AisLikelihood(c.clone())),
    }
}

struct Reconstruction;

impl<T: Float> Metric<T> for Reconstruction {
    fn keys(&self) -> Vec<&'static str> {
        MetricKind::ReconstructionError.keys()
    }
    fn measure(&mut self, ctx: &MetricContext<'_, T>, r: &mut EpochRecord) -> Result<()> {
        r.insert(
            &keys::RECONSTRUCTION_ERROR,
            cheap::reconstruction_error(ctx.rbm, ctx.train),
        )
    }
}

struct PseudoLikelihood;

impl<T: Float> Metric<T> for PseudoLikelihood {
    fn keys(&self) -> Vec<&'static str> {
        MetricKind::PseudoLogLikelihood.keys()
    }
    fn measure(&mut self, ctx: &MetricContext<'_, T>, r: &mut EpochRecord) -> Result<()> {
        let mut rng = ctx.rng(PLL_TAG);
        let pll = cheap::pseudo_log_likelihood(ctx.rbm, ctx.train, &mut rng);
        r.insert(&keys::PSEUDO_LOG_LIKELIHOOD, pll)
    }
}

struct FreeEnergies;

impl<T: Float> Metric<T> for FreeEnergies {
    fn keys(&self) -> Vec<&'static str> {
        MetricKind::FreeEnergy.keys()
    }
    fn measure(&mut self, ctx: &MetricContext<'_, T>, r: &mut EpochRecord) -> Result<()> {
        r.insert(&keys::FREE_ENERGY_TRAIN, ctx.mean_free_energy_train())?;
        if let Some(f) = ctx.mean_free_energy_held_out() {
            r.insert(&keys::FREE_ENERGY_HELD_OUT, f)?;
        }
        Ok(())
    }
}

struct ExactLikelihood {
    max_units: usize,
}

impl<T: Float> Metric<T> for ExactLikelihood {
    fn keys(&self) -> Vec<&'static str> {
        MetricKind::ExactLogLikelihood { max_units: 0 }.keys()
    }
    fn measure(&mut self, ctx: &MetricContext<'_, T>, r: &mut EpochRecord) -> Result<()> {
        if !exact::feasible(ctx.rbm, self.max_units) {
            return Ok(());
        }
        let ln_z = exact::log_partition(ctx.rbm)?;
        r.insert(&keys::LN_Z_EXACT, ln_z)?;
        r.insert(
            &keys::LOG_LIKELIHOOD_TRAIN,
            -ctx.mean_free_energy_train() - ln_z,
        )?;
        if let Some(f) = ctx.mean_free_energy_held_out() {
            r.insert(&keys::LOG_LIKELIHOOD_HELD_OUT, -f - ln_z)?;
        }
        Ok(())
    }
}

struct TapLnZ(TapLnZConfig);

impl<T: Float> Metric<T> for TapLnZ {
    fn keys(&self) -> Vec<&'static str> {
        MetricKind::TapLnZ(self.0).keys()
    }
    fn measure(&mut self, ctx: &MetricContext<'_, T>, r: &mut EpochRecord) -> Result<()> {
        let c = &self.0;
        let starts = ctx.train.subrows(0, ctx.train.nrows().min(c.starts));
        let est = tap::log_partition(ctx.rbm, c.order, starts, &c.solver)?;
        let tol = c.solver.tolerance;
        r.insert(
            &keys::tap_ln_z(c.order),
            TapValue::from_estimate(&est, tol, est.ln_z),
        )?;
        let f = ctx.mean_free_energy_train();
        r.insert(
            &keys::tap_log_likelihood_train(c.order),
            TapValue::from_estimate(&est, tol, -f - est.ln_z),
        )?;
        if let Some(f) = ctx.mean_free_energy_held_out() {
            r.insert(
                &keys::tap_log_likelihood_held_out(c.order),
                TapValue::from_estimate(&est, tol, -f - est.ln_z),
            )?;
        }
        Ok(())
    }
}

struct EmfLikelihood(EmfConfig);

impl<T: Float> Metric<T> for EmfLikelihood {
    fn keys(&self) -> Vec<&'static str> {
        MetricKind::EmfLogLikelihood(self.0).keys()
    }
    fn measure(&mut self, ctx: &MetricContext<'_, T>, r: &mut EpochRecord) -> Result<()> {
        let emf = tap::emf_log_likelihood(ctx.rbm, ctx.train, &self.0.solver)?;
        let mean = emf.iter().sum::<f64>() / emf.len().max(1) as f64;
        r.insert(&keys::EMF_LOG_LIKELIHOOD, mean)
    }
}

struct AisLikelihood(AisMetricConfig);

impl<T: Float> Metric<T> for AisLikelihood {
    fn keys(&self) -> Vec<&'static str> {
        MetricKind::Ais(self.0.clone()).keys()
    }
    fn measure(&mut self, ctx: &MetricContext<'_, T>, r: &mut EpochRecord) -> Result<()> {
        let seed = ctx.rng(AIS_TAG).random::<u64>();
        let ais = Ais::new(self.0.ais_config(seed))?;
        let base = AisBase::from_means(ctx.train_means, self.0.base_smoothing)?;
        let est = ais.estimate(ctx.rbm, &base)?;
        r.insert(&keys::AIS_LN_Z, Estimate::from_ais(&est))?;
        if let Some(h) = ctx.held_out {
            let ll = est.log_likelihood(ctx.rbm, h)?;
            r.insert(
                &keys::AIS_LOG_LIKELIHOOD_HELD_OUT,
                Estimate::from_ais_log_likelihood(&ll, &est),
            )?;
        }
        Ok(())
    }
}
