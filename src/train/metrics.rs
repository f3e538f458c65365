//! The training monitor's metrics, as one mechanism (after argmin's observers and key-value
//! metrics): a [`Metric`] measures the model at the end of an epoch and records values under
//! typed [`Key`](crate::train::Key)s; each metric has its own [`Cadence`] (every N epochs,
//! or at listed epochs, always including the last). The built-in metrics are chosen in the
//! serialisable [`MonitorConfig`] (a list of [`MetricConfig`]s, each owning its settings); a
//! custom metric is added with [`Trainer::with_metric`](crate::train::Trainer::with_metric).
//!
//! | metric ([`MetricKind`]) | keys ([`crate::train::keys`]) |
//! | --- | --- |
//! | `ReconstructionError` | `RECONSTRUCTION_ERROR` |
//! | `PseudoLogLikelihood` | `PSEUDO_LOG_LIKELIHOOD` |
//! | `FreeEnergy` (Hinton's monitor) | `FREE_ENERGY_TRAIN`, `FREE_ENERGY_HELD_OUT` (and the derived `FREE_ENERGY_GAP`) |
//! | `ExactLogLikelihood` | `LN_Z_EXACT`, `LOG_LIKELIHOOD_TRAIN`, `LOG_LIKELIHOOD_HELD_OUT` |
//! | `TapLnZ` | `tap_ln_z(order)`, `tap_log_likelihood_train(order)`, `tap_log_likelihood_held_out(order)` |
//! | `EmfLogLikelihood` | `EMF_LOG_LIKELIHOOD` |
//! | `Ais` | `AIS_LN_Z`, `AIS_LOG_LIKELIHOOD_HELD_OUT`, `AIS_HELD_OUT_ROWS`, `RAISE_LOG_LIKELIHOOD_HELD_OUT` |
//!
//! Training-side metrics use the monitor's fixed random subset of the training rows
//! (`MonitorConfig::subset` rows); held-out metrics use the whole held-out set.
//!
//! # Random streams
//! A run seeded by `s` draws from `stream_rng(s, k)` (see [`crate::rng`]): stream 0
//! initialises the model, stream 1 shuffles the minibatches and drives the negative phase,
//! stream 2 picks the monitor's training subset, and the draws of metric tag `t` at epoch `e`
//! come from stream `1000 + (t << 32) + e` ([`MetricContext::rng`]). Tags: 0
//! pseudo-likelihood (the flipped bits), 1 AIS (the seed of its runs); custom metrics use
//! tags from [`CUSTOM_METRIC_TAGS`] on. The monitor never draws from the training stream, so
//! adding or removing a metric does not change the trained model.
//!
//! ```
//! use emf_rbm::data::Dataset;
//! use emf_rbm::tap::TapOrder;
//! use emf_rbm::train::metrics::{Cadence, MetricConfig, MetricKind, MonitorConfig, TapLnZConfig};
//! use emf_rbm::train::{keys, TrainConfig, Trainer};
//!
//! let (train, test) = Dataset::digits().binarize(0.5).head(300).split(0.2, 1)?;
//! let monitor = MonitorConfig::builder()
//!     .every(1)
//!     .metric(MetricConfig {
//!         at: Cadence::Every(2),
//!         kind: MetricKind::TapLnZ(TapLnZConfig { order: TapOrder::Tap2, ..Default::default() }),
//!     })
//!     .build()?;
//! let cfg = TrainConfig::builder().n_hidden(8).epochs(3).monitor(monitor).build()?;
//! let h = Trainer::<f64>::new(cfg).fit(&train, Some(&test))?.history;
//! let tap = h.series(&keys::tap_ln_z(TapOrder::Tap2));
//! assert_eq!(tap.iter().map(|p| p.0).collect::<Vec<_>>(), [2.0, 3.0]); // every 2nd and the last
//! let exact = h.last().unwrap().get(&keys::LN_Z_EXACT).unwrap();
//! let est = h.last().unwrap().get(&keys::tap_ln_z(TapOrder::Tap2)).unwrap();
//! assert_eq!(est.n_particles, 200);
//! assert!(est.value.is_none() || (est.value.unwrap() - exact).abs() < 1.0);
//! # Ok::<(), emf_rbm::Error>(())
//! ```

use std::cell::OnceCell;

use faer::MatRef;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::estimate::exact::MAX_ENUMERATED_UNITS;
use crate::estimate::metrics::mean_free_energy;
use crate::float::Float;
use crate::rbm::Rbm;
use crate::rng::{stream_rng, Rng};
use crate::train::history::EpochRecord;
use crate::train::keys;

pub use super::metric_settings::{
    AisMetricConfig, AisMetricConfigBuilder, EmfConfig, EmfConfigBuilder, TapLnZConfig,
    TapLnZConfigBuilder,
};

/// First random-stream tag free for custom metrics (see the module docs).
pub const CUSTOM_METRIC_TAGS: u32 = 256;
/// Stream offset of the metrics' draws (see the module docs).
pub const METRIC_STREAM_BASE: u64 = 1000;

/// A value a user can add to the monitor: measures the model at the end of an epoch and
/// records its values in `record` under its keys.
pub trait Metric<T: Float>: Send {
    /// Names of the keys this metric writes (checked for clashes between metrics).
    fn keys(&self) -> Vec<&'static str>;

    /// Measures `ctx.rbm` and records the values.
    fn measure(&mut self, ctx: &MetricContext<'_, T>, record: &mut EpochRecord) -> Result<()>;
}

/// What a metric sees: the model after epoch `epoch`, the monitor's data, and the run's seed.
/// Mean free energies are computed once per epoch and shared by the metrics that need them.
pub struct MetricContext<'a, T: Float> {
    /// The model.
    pub rbm: &'a Rbm<T>,
    /// The epoch just finished (1-based).
    pub epoch: usize,
    /// The run's seed.
    pub seed: u64,
    /// The monitor's training subset (one sample per row).
    pub train: MatRef<'a, T>,
    /// The held-out set, if any.
    pub held_out: Option<MatRef<'a, T>>,
    /// Per-unit means of the whole training set (e.g. for AIS base rates).
    pub train_means: &'a [f64],
    free_energy_train: OnceCell<f64>,
    free_energy_held_out: OnceCell<Option<f64>>,
}

impl<'a, T: Float> MetricContext<'a, T> {
    /// A context (the trainer builds one per monitored epoch).
    pub fn new(
        rbm: &'a Rbm<T>,
        epoch: usize,
        seed: u64,
        train: MatRef<'a, T>,
        held_out: Option<MatRef<'a, T>>,
        train_means: &'a [f64],
    ) -> Self {
        MetricContext {
            rbm,
            epoch,
            seed,
            train,
            held_out,
            train_means,
            free_energy_train: OnceCell::new(),
            free_energy_held_out: OnceCell::new(),
        }
    }

    /// The generator of metric tag `tag` at this epoch:
    /// `stream_rng(seed, 1000 + (tag << 32) + epoch)`.
    pub fn rng(&self, tag: u32) -> Rng {
        stream_rng(
            self.seed,
            METRIC_STREAM_BASE + ((tag as u64) << 32) + self.epoch as u64,
        )
    }

    /// Mean free energy of the training subset.
    pub fn mean_free_energy_train(&self) -> f64 {
        *self
            .free_energy_train
            .get_or_init(|| mean_free_energy(self.rbm, self.train))
    }

    /// Mean free energy of the held-out set, if there is one.
    pub fn mean_free_energy_held_out(&self) -> Option<f64> {
        *self
            .free_energy_held_out
            .get_or_init(|| self.held_out.map(|h| mean_free_energy(self.rbm, h)))
    }
}

/// When a metric is measured. Every cadence includes the last epoch of the run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// At the monitor's cadence ([`MonitorConfig::every`]; never when that is 0).
    #[default]
    Monitor,
    /// Every this many epochs (>= 1).
    Every(usize),
    /// At these 1-based epochs (each within the run).
    Epochs(Vec<usize>),
}

impl Cadence {
    /// Is epoch `epoch` (1-based) of `epochs` due, given the monitor's `every`?
    pub fn is_due(&self, epoch: usize, epochs: usize, monitor_every: usize) -> bool {
        let every = |n: usize| n > 0 && (epoch % n == 0 || epoch == epochs);
        match self {
            Cadence::Monitor => every(monitor_every),
            Cadence::Every(n) => every(*n),
            Cadence::Epochs(list) => list.contains(&epoch) || epoch == epochs,
        }
    }

    /// Checks the cadence for a run of `epochs` epochs.
    pub fn validate(&self, epochs: usize) -> Result<()> {
        match self {
            Cadence::Every(0) => Err(Error::param(
                "cadence",
                "`every` must be >= 1 (remove the metric to turn it off)",
            )),
            Cadence::Epochs(list) if list.is_empty() => {
                Err(Error::param("cadence", "give at least one epoch"))
            }
            Cadence::Epochs(list) => match list.iter().find(|&&e| e == 0 || e > epochs) {
                Some(e) => Err(Error::param(
                    "cadence",
                    format!("epoch {e} is not within the run's epochs 1..={epochs}"),
                )),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

/// A built-in metric and its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "metric", rename_all = "snake_case")]
pub enum MetricKind {
    /// Mean-field reconstruction error per unit (training subset).
    ReconstructionError,
    /// Stochastic pseudo-log-likelihood (training subset; one random bit flipped per row).
    PseudoLogLikelihood,
    /// Mean free energies of the training subset and the held-out set (Hinton's monitor).
    FreeEnergy,
    /// Exact ln Z and log-likelihoods, when `min(n_visible, n_hidden) <= max_units`
    /// (at most [`MAX_ENUMERATED_UNITS`]); absent otherwise.
    ExactLogLikelihood {
        /// Largest enumerated layer.
        max_units: usize,
    },
    /// TAP ln Z with its convergence record ([`TapLnZConfig`]).
    TapLnZ(TapLnZConfig),
    /// The paper's EMF log-likelihood ([`EmfConfig`]).
    EmfLogLikelihood(EmfConfig),
    /// AIS ln Z and held-out log-likelihood, and the RAISE lower bound on the same rows,
    /// with intervals and ESS ([`AisMetricConfig`]).
    Ais(AisMetricConfig),
}

impl MetricKind {
    /// The names of the keys the metric writes.
    pub fn keys(&self) -> Vec<&'static str> {
        let names: &[&'static str] = match self {
            MetricKind::ReconstructionError => &[keys::RECONSTRUCTION_ERROR.name()],
            MetricKind::PseudoLogLikelihood => &[keys::PSEUDO_LOG_LIKELIHOOD.name()],
            MetricKind::FreeEnergy => &[
                keys::FREE_ENERGY_TRAIN.name(),
                keys::FREE_ENERGY_HELD_OUT.name(),
            ],
            MetricKind::ExactLogLikelihood { .. } => &[
                keys::LN_Z_EXACT.name(),
                keys::LOG_LIKELIHOOD_TRAIN.name(),
                keys::LOG_LIKELIHOOD_HELD_OUT.name(),
            ],
            MetricKind::TapLnZ(c) => {
                return vec![
                    keys::tap_ln_z(c.order).name(),
                    keys::tap_log_likelihood_train(c.order).name(),
                    keys::tap_log_likelihood_held_out(c.order).name(),
                ]
            }
            MetricKind::EmfLogLikelihood(_) => &[keys::EMF_LOG_LIKELIHOOD.name()],
            MetricKind::Ais(_) => &[
                keys::AIS_LN_Z.name(),
                keys::AIS_LOG_LIKELIHOOD_HELD_OUT.name(),
                keys::AIS_HELD_OUT_ROWS.name(),
                keys::RAISE_LOG_LIKELIHOOD_HELD_OUT.name(),
            ],
        };
        names.to_vec()
    }

    /// Checks the metric's settings.
    pub fn validate(&self) -> Result<()> {
        match self {
            MetricKind::ExactLogLikelihood { max_units } if *max_units > MAX_ENUMERATED_UNITS => {
                Err(Error::param(
                    "max_units",
                    format!(
                        "exact enumeration is limited to {MAX_ENUMERATED_UNITS} units, got {max_units}"
                    ),
                ))
            }
            MetricKind::TapLnZ(c) => c.validate(),
            MetricKind::EmfLogLikelihood(c) => c.validate(),
            MetricKind::Ais(c) => c.validate(),
            _ => Ok(()),
        }
    }

    /// The metric's implementation in the float type `T`.
    pub fn build<T: Float>(&self) -> Box<dyn Metric<T>> {
        crate::train::builtin::build(self)
    }
}

/// One metric of the monitor: what it measures and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricConfig {
    /// When it is measured (default: at the monitor's cadence).
    #[serde(default)]
    pub at: Cadence,
    /// What it measures.
    #[serde(flatten)]
    pub kind: MetricKind,
}

impl From<MetricKind> for MetricConfig {
    /// The metric at the monitor's cadence.
    fn from(kind: MetricKind) -> Self {
        MetricConfig {
            at: Cadence::Monitor,
            kind,
        }
    }
}

/// What the trainer measures at the end of epochs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitorConfig {
    /// The cadence of the metrics that follow the monitor ([`Cadence::Monitor`]): every this
    /// many epochs and after the last. 0 turns them off (metrics with their own cadence still
    /// run).
    pub every: usize,
    /// Training rows (a fixed random subset, stream 2) the training-side metrics use (>= 1;
    /// all rows when the training set is smaller).
    pub subset: usize,
    /// The metrics, measured in this order (default: [`MonitorConfig::standard_metrics`]
    /// with the exact likelihood up to 20 units).
    pub metrics: Vec<MetricConfig>,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            every: 1,
            subset: 1000,
            metrics: Self::standard_metrics(20),
        }
    }
}

impl MonitorConfig {
    /// Reconstruction error, pseudo-likelihood, free energies and the exact likelihood (when
    /// the smaller layer has at most `exact_max_units` units), at the monitor's cadence.
    pub fn standard_metrics(exact_max_units: usize) -> Vec<MetricConfig> {
        vec![
            MetricKind::ReconstructionError.into(),
            MetricKind::PseudoLogLikelihood.into(),
            MetricKind::FreeEnergy.into(),
            MetricKind::ExactLogLikelihood {
                max_units: exact_max_units,
            }
            .into(),
        ]
    }

    /// Checks every metric's settings, that no two metrics write the same key, and that the
    /// subset is not empty (cadences are checked against the run's length by
    /// [`TrainConfig::validate`](crate::train::TrainConfig::validate)).
    pub fn validate(&self) -> Result<()> {
        if self.subset == 0 {
            return Err(Error::param("subset", "the monitor needs at least one row"));
        }
        let mut seen: Vec<&'static str> = Vec::new();
        for m in &self.metrics {
            m.kind.validate()?;
            for k in m.kind.keys() {
                if seen.contains(&k) {
                    return Err(Error::param("metrics", format!("two metrics record `{k}`")));
                }
                seen.push(k);
            }
        }
        Ok(())
    }

    /// Checks the cadences for a run of `epochs` epochs.
    pub fn validate_cadences(&self, epochs: usize) -> Result<()> {
        self.metrics.iter().try_for_each(|m| m.at.validate(epochs))
    }

    /// The monitor settings of a version-1 history (`every`, `subset`, `exact_max_units`,
    /// `emf`) in the current layout: the standard metrics, plus the EMF log-likelihood and
    /// the TAP2 ln Z (200 starts, converged solver) when `emf` was set.
    pub(crate) fn upgrade_v1(
        v1: &serde_json::Value,
    ) -> std::result::Result<serde_json::Value, String> {
        let field =
            |name: &str, default: u64| v1.get(name).and_then(|x| x.as_u64()).unwrap_or(default);
        let mut cfg = MonitorConfig {
            every: field("every", 1) as usize,
            subset: field("subset", 1000) as usize,
            metrics: Self::standard_metrics(field("exact_max_units", 20) as usize),
        };
        if v1.get("emf").and_then(|x| x.as_bool()).unwrap_or(false) {
            cfg.metrics
                .push(MetricKind::EmfLogLikelihood(EmfConfig::default()).into());
            cfg.metrics
                .push(MetricKind::TapLnZ(TapLnZConfig::default()).into());
        }
        serde_json::to_value(cfg).map_err(|e| e.to_string())
    }
}

/// Builder of [`MonitorConfig`]; `build()` checks every value.
#[derive(Clone, Debug)]
pub struct MonitorConfigBuilder {
    cfg: MonitorConfig,
}

impl MonitorConfig {
    /// A builder starting from the defaults (every epoch, 1000 rows, the standard metrics).
    pub fn builder() -> MonitorConfigBuilder {
        MonitorConfigBuilder {
            cfg: MonitorConfig::default(),
        }
    }
}

impl MonitorConfigBuilder {
    /// Cadence of the metrics that follow the monitor (0: off).
    pub fn every(mut self, every: usize) -> Self {
        self.cfg.every = every;
        self
    }
    /// Rows of the training subset.
    pub fn subset(mut self, subset: usize) -> Self {
        self.cfg.subset = subset;
        self
    }
    /// Replaces the list of metrics.
    pub fn metrics(mut self, metrics: Vec<MetricConfig>) -> Self {
        self.cfg.metrics = metrics;
        self
    }
    /// Appends a metric.
    pub fn metric(mut self, metric: impl Into<MetricConfig>) -> Self {
        self.cfg.metrics.push(metric.into());
        self
    }
    /// Checks and returns the configuration.
    pub fn build(self) -> Result<MonitorConfig> {
        self.cfg.validate()?;
        Ok(self.cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::ais::BetaSchedule;
    use crate::tap::{SolverOptions, TapOrder};

    fn due(c: &Cadence, epochs: usize, every: usize) -> Vec<usize> {
        (1..=epochs)
            .filter(|&e| c.is_due(e, epochs, every))
            .collect()
    }

    #[test]
    fn cadences_name_their_epochs_and_always_the_last() {
        assert_eq!(due(&Cadence::Every(3), 10, 1), [3, 6, 9, 10]);
        assert_eq!(due(&Cadence::Every(5), 10, 1), [5, 10]);
        assert_eq!(due(&Cadence::Every(1), 3, 0), [1, 2, 3]);
        assert_eq!(due(&Cadence::Monitor, 7, 2), [2, 4, 6, 7]);
        assert_eq!(due(&Cadence::Monitor, 7, 0), Vec::<usize>::new());
        assert_eq!(due(&Cadence::Epochs(vec![5, 2]), 6, 0), [2, 5, 6]);
        assert!(Cadence::Every(0).validate(5).is_err());
        assert!(Cadence::Epochs(vec![]).validate(5).is_err());
        assert!(Cadence::Epochs(vec![0]).validate(5).is_err());
        assert!(Cadence::Epochs(vec![6]).validate(5).is_err());
        assert!(Cadence::Epochs(vec![5]).validate(5).is_ok());
    }

    #[test]
    fn monitor_config_round_trips_through_json_and_checks_its_metrics() {
        let cfg = MonitorConfig::builder()
            .every(2)
            .metric(MetricConfig {
                at: Cadence::Epochs(vec![1, 3]),
                kind: MetricKind::Ais(AisMetricConfig::default()),
            })
            .metric(MetricKind::TapLnZ(TapLnZConfig::default()))
            .build()
            .unwrap();
        let text = serde_json::to_string(&cfg).unwrap();
        assert!(
            text.contains(r#""metric":"exact_log_likelihood","max_units":20"#),
            "{text}"
        );
        assert!(
            text.contains(r#""at":{"epochs":[1,3]},"metric":"ais""#),
            "{text}"
        );
        let back: MonitorConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, cfg);

        for bad in [
            MetricKind::ExactLogLikelihood { max_units: 31 },
            MetricKind::TapLnZ(TapLnZConfig {
                starts: 0,
                ..Default::default()
            }),
            MetricKind::EmfLogLikelihood(EmfConfig {
                solver: SolverOptions {
                    damping: 1.0,
                    ..SolverOptions::paper()
                },
            }),
            MetricKind::Ais(AisMetricConfig {
                runs: 1,
                ..Default::default()
            }),
            MetricKind::Ais(AisMetricConfig {
                base_smoothing: 0.0,
                ..Default::default()
            }),
            MetricKind::Ais(AisMetricConfig {
                rows: 0,
                ..Default::default()
            }),
            MetricKind::Ais(AisMetricConfig {
                raise_chains: 0,
                ..Default::default()
            }),
        ] {
            assert!(
                MonitorConfig::builder()
                    .metric(bad.clone())
                    .build()
                    .is_err(),
                "{bad:?}"
            );
        }
        // Two TAP metrics of different orders are fine; of the same order they clash.
        let tap = |order| {
            MetricKind::TapLnZ(TapLnZConfig {
                order,
                ..Default::default()
            })
        };
        let ok = MonitorConfig::builder()
            .metric(tap(TapOrder::Tap2))
            .metric(tap(TapOrder::Tap3));
        assert!(ok.build().is_ok());
        let clash = MonitorConfig::builder()
            .metric(tap(TapOrder::Tap2))
            .metric(tap(TapOrder::Tap2));
        assert!(clash.build().is_err());
    }

    #[test]
    fn an_ais_metric_written_before_raise_reads_with_the_defaults() {
        let old = r#"{"metric":"ais","schedule":{"kind":"count","value":500},"runs":10,"chunk_runs":50,"base_smoothing":0.05}"#;
        let old: MetricConfig = serde_json::from_str(old).unwrap();
        let want = AisMetricConfig {
            schedule: BetaSchedule::Count(500),
            runs: 10,
            ..Default::default()
        };
        assert_eq!(old.kind, MetricKind::Ais(want));
        assert!(want_raise_defaults(&old.kind));
    }

    fn want_raise_defaults(kind: &MetricKind) -> bool {
        matches!(kind, MetricKind::Ais(c) if c.raise && c.raise_chains == 1 && c.rows == 1000)
    }

    #[test]
    fn version_1_monitor_settings_become_the_equivalent_metrics() {
        let v1 = serde_json::json!({"every": 3, "subset": 500, "exact_max_units": 12, "emf": true});
        let cfg: MonitorConfig =
            serde_json::from_value(MonitorConfig::upgrade_v1(&v1).unwrap()).unwrap();
        assert_eq!((cfg.every, cfg.subset), (3, 500));
        let mut want = MonitorConfig::standard_metrics(12);
        want.push(MetricKind::EmfLogLikelihood(EmfConfig::default()).into());
        want.push(MetricKind::TapLnZ(TapLnZConfig::default()).into());
        assert_eq!(cfg.metrics, want);
    }
}
