//! Implementations of the built-in metrics ([`MetricKind`]); see [`crate::train::metrics`].

use rand::Rng as _;

use crate::error::Result;
use crate::estimate::ais::{Ais, AisBase};
use crate::estimate::raise::{scored_rows, select_rows, Raise};
use crate::estimate::tap;
use crate::estimate::{exact, metrics as cheap};
use crate::float::Float;
use crate::rbm::Rbm;
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
        // Solved in f64 whatever the training precision, so that the tolerance (1e-8 by
        // default) means the same for f32 runs.
        let rbm: Rbm<f64> = ctx.rbm.cast();
        let starts = faer::Mat::<f64>::from_fn(starts.nrows(), starts.ncols(), |r, i| {
            starts[(r, i)].as_f64()
        });
        let est = tap::log_partition(&rbm, c.order, starts.as_ref(), &c.solver)?;
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
        let Some(h) = ctx.held_out else {
            return Ok(());
        };
        let sub = select_rows(h, &scored_rows(h.nrows(), self.0.rows));
        let ll = est.log_likelihood(ctx.rbm, sub.as_ref())?;
        r.insert(
            &keys::AIS_LOG_LIKELIHOOD_HELD_OUT,
            Estimate::from_ais_log_likelihood(&ll, &est),
        )?;
        r.insert(&keys::AIS_HELD_OUT_ROWS, sub.nrows() as f64)?;
        if let Some(cfg) = self.0.raise_config(seed) {
            let rev = Raise::new(cfg)?.estimate(ctx.rbm, &base, sub.as_ref())?;
            r.insert(
                &keys::RAISE_LOG_LIKELIHOOD_HELD_OUT,
                Estimate::from_raise(&rev),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::ais::{AisConfig, BetaSchedule};
    use crate::rng::{rng, stream_rng};
    use crate::tap::{SolverOptions, TapOrder};
    use crate::Rbm;
    use faer::Mat;

    fn setup() -> (Rbm<f64>, Mat<f64>, Mat<f64>, Vec<f64>) {
        let mut r = rng(7);
        let rbm = Rbm::<f64>::random(9, 5, 0.6, &mut r).unwrap();
        let bits = |rows: usize, r: &mut crate::rng::Rng| {
            Mat::from_fn(
                rows,
                9,
                |_, _| if r.random::<f64>() < 0.4 { 1.0 } else { 0.0 },
            )
        };
        let train = bits(30, &mut r);
        let held = bits(12, &mut r);
        (rbm, train, held, vec![0.4; 9])
    }

    /// Each built-in metric records what a direct call of the estimator gives, under its key,
    /// with the documented random stream.
    #[test]
    fn built_in_metrics_record_the_estimators_values() {
        let (rbm, train, held, means) = setup();
        let (seed, epoch) = (11, 4);
        let ctx = MetricContext::new(
            &rbm,
            epoch,
            seed,
            train.as_ref(),
            Some(held.as_ref()),
            &means,
        );
        let mut r = EpochRecord::default();
        for kind in [
            MetricKind::ReconstructionError,
            MetricKind::PseudoLogLikelihood,
            MetricKind::FreeEnergy,
            MetricKind::ExactLogLikelihood { max_units: 5 },
            MetricKind::EmfLogLikelihood(EmfConfig::default()),
            MetricKind::TapLnZ(crate::train::metrics::TapLnZConfig {
                starts: 10,
                ..Default::default()
            }),
        ] {
            build::<f64>(&kind).measure(&ctx, &mut r).unwrap();
        }
        let (t, h) = (train.as_ref(), held.as_ref());
        assert_eq!(
            r.reconstruction_error,
            Some(cheap::reconstruction_error(&rbm, t))
        );
        let mut pll_rng = stream_rng(seed, 1000 + epoch as u64);
        assert_eq!(
            r.pseudo_log_likelihood,
            Some(cheap::pseudo_log_likelihood(&rbm, t, &mut pll_rng))
        );
        let (ft, fh) = (
            cheap::mean_free_energy(&rbm, t),
            cheap::mean_free_energy(&rbm, h),
        );
        assert_eq!(
            (r.free_energy_train, r.free_energy_held_out),
            (Some(ft), Some(fh))
        );
        let z = exact::log_partition(&rbm).unwrap();
        assert_eq!(r.ln_z_exact, Some(z));
        assert_eq!(r.log_likelihood_train, Some(-ft - z));
        assert_eq!(r.log_likelihood_held_out, Some(-fh - z));
        let emf = tap::emf_log_likelihood(&rbm, t, &SolverOptions::paper()).unwrap();
        assert_eq!(
            r.get(&keys::EMF_LOG_LIKELIHOOD),
            Some(emf.iter().sum::<f64>() / 30.0)
        );
        let est = tap::log_partition(
            &rbm,
            TapOrder::Tap2,
            t.subrows(0, 10),
            &SolverOptions::converged(),
        )
        .unwrap();
        assert!(est.n_converged > 0, "a weakly coupled model converges");
        let v = r.get(&keys::tap_ln_z(TapOrder::Tap2)).unwrap();
        assert_eq!(
            (v.value, v.n_converged, v.n_particles),
            (Some(est.ln_z), est.n_converged, 10)
        );
        let ll = r
            .get(&keys::tap_log_likelihood_held_out(TapOrder::Tap2))
            .unwrap();
        assert_eq!(ll.value, Some(-fh - est.ln_z));
        // Exact enumeration beyond max_units is not attempted.
        let mut r2 = EpochRecord::default();
        build::<f64>(&MetricKind::ExactLogLikelihood { max_units: 4 })
            .measure(&ctx, &mut r2)
            .unwrap();
        assert_eq!(r2.ln_z_exact, None);
    }

    #[test]
    fn a_tap_estimate_without_a_converged_particle_has_no_value_but_a_reason() {
        let (mut rbm, train, held, means) = setup();
        for j in 0..rbm.n_hidden() {
            rbm.w.col_as_slice_mut(j).iter_mut().for_each(|x| *x *= 8.0);
        }
        let ctx = MetricContext::new(&rbm, 1, 0, train.as_ref(), Some(held.as_ref()), &means);
        let cfg = crate::train::metrics::TapLnZConfig {
            order: TapOrder::Tap3,
            starts: 30,
            solver: SolverOptions {
                max_sweeps: 1,
                tolerance: 1e-14,
                ..SolverOptions::converged()
            },
        };
        let mut r = EpochRecord::default();
        build::<f64>(&MetricKind::TapLnZ(cfg))
            .measure(&ctx, &mut r)
            .unwrap();
        for key in [
            keys::tap_ln_z(TapOrder::Tap3),
            keys::tap_log_likelihood_train(TapOrder::Tap3),
            keys::tap_log_likelihood_held_out(TapOrder::Tap3),
        ] {
            let v = r.get(&key).unwrap();
            assert_eq!(
                (v.value, v.n_converged, v.n_particles),
                (None, 0, 30),
                "{key:?}"
            );
            assert!(v
                .note
                .as_deref()
                .unwrap()
                .contains("none of the 30 particles"));
        }
    }

    #[test]
    fn ais_metric_uses_its_documented_seed_and_the_training_means() {
        let (rbm, train, held, means) = setup();
        let cfg = AisMetricConfig {
            schedule: BetaSchedule::Count(200),
            runs: 8,
            rows: 5,
            ..Default::default()
        };
        let (seed, epoch) = (5, 3);
        let ctx = MetricContext::new(
            &rbm,
            epoch,
            seed,
            train.as_ref(),
            Some(held.as_ref()),
            &means,
        );
        let mut r = EpochRecord::default();
        build::<f64>(&MetricKind::Ais(cfg.clone()))
            .measure(&ctx, &mut r)
            .unwrap();
        let ais_seed = stream_rng(seed, 1000 + (1u64 << 32) + epoch as u64).random::<u64>();
        let ais = Ais::new(AisConfig {
            seed: ais_seed,
            ..cfg.ais_config(0)
        })
        .unwrap();
        let est = ais
            .estimate(&rbm, &AisBase::from_means(&means, 0.05).unwrap())
            .unwrap();
        assert_eq!(r.get(&keys::AIS_LN_Z), Some(Estimate::from_ais(&est)));
        // Both likelihoods score the same fixed 5 of the 12 held-out rows.
        let sub = select_rows(held.as_ref(), &scored_rows(12, 5));
        assert_eq!(sub.nrows(), 5);
        let ll = est.log_likelihood(&rbm, sub.as_ref()).unwrap();
        assert_eq!(
            r.get(&keys::AIS_LOG_LIKELIHOOD_HELD_OUT),
            Some(Estimate::from_ais_log_likelihood(&ll, &est))
        );
        assert_eq!(r.get(&keys::AIS_HELD_OUT_ROWS), Some(5.0));
        let rev = Raise::new(cfg.raise_config(ais_seed).unwrap())
            .unwrap()
            .estimate(
                &rbm,
                &AisBase::from_means(&means, 0.05).unwrap(),
                sub.as_ref(),
            )
            .unwrap();
        let got = r.get(&keys::RAISE_LOG_LIKELIHOOD_HELD_OUT).unwrap();
        assert_eq!(got, Estimate::from_raise(&rev));
        assert_eq!(got.runs, 5);
        // Without RAISE: no RAISE value.
        let mut r3 = EpochRecord::default();
        let no_raise = AisMetricConfig {
            raise: false,
            ..cfg.clone()
        };
        build::<f64>(&MetricKind::Ais(no_raise))
            .measure(&ctx, &mut r3)
            .unwrap();
        assert_eq!(r3.get(&keys::AIS_LN_Z), r.get(&keys::AIS_LN_Z));
        assert_eq!(r3.get(&keys::RAISE_LOG_LIKELIHOOD_HELD_OUT), None);
        // Another epoch draws another seed.
        let ctx2 = MetricContext::new(
            &rbm,
            epoch + 1,
            seed,
            train.as_ref(),
            Some(held.as_ref()),
            &means,
        );
        let mut r2 = EpochRecord::default();
        build::<f64>(&MetricKind::Ais(cfg))
            .measure(&ctx2, &mut r2)
            .unwrap();
        assert_ne!(r2.get(&keys::AIS_LN_Z), r.get(&keys::AIS_LN_Z));
    }
}
