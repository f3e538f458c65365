//! Checked, serialisable training configuration (linfa-style builder).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::train::method::Method;
use crate::train::metrics::MonitorConfig;
use crate::train::optimizer::OptimizerKind;

/// Learning-rate schedule over epochs (`epoch` counts from 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// `lr`.
    Constant,
    /// `lr * gamma^epoch`.
    Exponential {
        /// Factor per epoch, in (0, 1].
        gamma: f64,
    },
    /// `lr / (1 + epoch / tau)`.
    InverseTime {
        /// Epochs over which the rate halves.
        tau: f64,
    },
    /// Linear from `lr` at epoch 0 to `lr * final_fraction` at the last epoch.
    Linear {
        /// Fraction of the initial rate reached at the last epoch.
        final_fraction: f64,
    },
}

impl Schedule {
    /// The learning rate at `epoch` (0-based) of `epochs`.
    pub fn rate(&self, lr: f64, epoch: usize, epochs: usize) -> f64 {
        match *self {
            Schedule::Constant => lr,
            Schedule::Exponential { gamma } => lr * gamma.powi(epoch as i32),
            Schedule::InverseTime { tau } => lr / (1.0 + epoch as f64 / tau),
            Schedule::Linear { final_fraction } => {
                let t = if epochs > 1 {
                    epoch as f64 / (epochs - 1) as f64
                } else {
                    0.0
                };
                lr * (1.0 - t * (1.0 - final_fraction))
            }
        }
    }
}

/// Everything that determines a training run. Build with [`TrainConfig::builder`].
///
/// ```
/// use emf_rbm::train::{Method, TrainConfig};
/// let cfg = TrainConfig::builder()
///     .n_hidden(16)
///     .method(Method::Pcd { k: 1, chains: None })
///     .epochs(5)
///     .learning_rate(0.05)
///     .build()
///     .unwrap();
/// assert_eq!(cfg.batch_size, 20);
/// assert!(TrainConfig::builder().learning_rate(-1.0).build().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Number of hidden units.
    pub n_hidden: usize,
    /// Negative phase.
    pub method: Method,
    /// Passes over the training data (0: the initialised model, untrained).
    pub epochs: usize,
    /// Rows per minibatch (the last minibatch of an epoch may be smaller).
    pub batch_size: usize,
    /// Initial learning rate.
    pub learning_rate: f64,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// The parameter-update rule (default [`OptimizerKind::Sgd`]); `momentum`, `l1` and `l2`
    /// are its hyper-parameters.
    #[serde(default)]
    pub optimizer: OptimizerKind,
    /// Momentum coefficient in [0, 1).
    pub momentum: f64,
    /// L1 penalty on `W` (added to the gradient as `-l1 sign(W)`).
    pub l1: f64,
    /// L2 weight decay on `W` (added as `-l2 W`).
    pub l2: f64,
    /// Standard deviation of the initial weights.
    pub init_sigma: f64,
    /// Seed of every random choice of the run (init, shuffling, sampling).
    pub seed: u64,
    /// What is measured at the end of epochs (see [`crate::train::metrics`]).
    pub monitor: MonitorConfig,
    /// Multiply minibatches and sampled chain states by sparse products instead of GEMMs
    /// when at most [`MAX_DENSITY`](crate::linalg::sparse::MAX_DENSITY) of their entries are
    /// nonzero (binarised data; see [`crate::linalg::sparse`]). Default `true`; `false` keeps
    /// every product a GEMM. The two paths sum in different orders, so their results differ
    /// in the last bits (each is reproducible from the seed).
    #[serde(default = "default_sparse_products")]
    pub sparse_products: bool,
}

fn default_sparse_products() -> bool {
    true
}

impl TrainConfig {
    /// A builder with sensible defaults (16 hidden units, CD-1, 10 epochs, batch 20,
    /// lr 0.05, momentum 0.5, no decay, sigma 0.01, seed 0).
    pub fn builder() -> TrainConfigBuilder {
        TrainConfigBuilder {
            cfg: TrainConfig {
                n_hidden: 16,
                method: Method::Cd { k: 1 },
                epochs: 10,
                batch_size: 20,
                learning_rate: 0.05,
                schedule: Schedule::Constant,
                optimizer: OptimizerKind::Sgd,
                momentum: 0.5,
                l1: 0.0,
                l2: 0.0,
                init_sigma: 0.01,
                seed: 0,
                monitor: MonitorConfig::default(),
                sparse_products: true,
            },
        }
    }

    /// Checks every field; [`TrainConfigBuilder::build`] calls this.
    pub fn validate(&self) -> Result<()> {
        let finite_nonneg = |name: &'static str, x: f64| {
            if x.is_finite() && x >= 0.0 {
                Ok(())
            } else {
                Err(Error::param(
                    name,
                    format!("must be finite and >= 0, got {x}"),
                ))
            }
        };
        if self.n_hidden == 0 {
            return Err(Error::param("n_hidden", "must be >= 1"));
        }
        if self.batch_size == 0 {
            return Err(Error::param("batch_size", "must be >= 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::param(
                "learning_rate",
                format!("must be finite and > 0, got {}", self.learning_rate),
            ));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Error::param(
                "momentum",
                format!("must be in [0, 1), got {}", self.momentum),
            ));
        }
        finite_nonneg("l1", self.l1)?;
        finite_nonneg("l2", self.l2)?;
        finite_nonneg("init_sigma", self.init_sigma)?;
        match self.schedule {
            Schedule::Exponential { gamma } if !(gamma > 0.0 && gamma <= 1.0) => {
                return Err(Error::param("schedule", "gamma must be in (0, 1]"))
            }
            Schedule::InverseTime { tau } if !(tau > 0.0 && tau.is_finite()) => {
                return Err(Error::param("schedule", "tau must be > 0"))
            }
            Schedule::Linear { final_fraction } if !(0.0..=1.0).contains(&final_fraction) => {
                return Err(Error::param("schedule", "final_fraction must be in [0, 1]"))
            }
            _ => {}
        }
        self.method.validate()?;
        self.monitor.validate()?;
        self.monitor.validate_cadences(self.epochs)
    }

    /// Estimated memory of training on `n_rows` rows (training plus held-out) of `n_visible`
    /// units with parameters of `elem` bytes (8 for f64, 4 for f32): four `n_visible x
    /// n_hidden` matrices (weights, gradient, velocity, a work copy) and, for the minibatch,
    /// the chains and the monitor, four `rows x (n_visible + n_hidden)` matrices of each
    /// (the monitor's in f64). Checked against the cap by [`crate::train::Trainer::fit`].
    pub fn memory_estimate(&self, n_visible: usize, n_rows: usize, elem: usize) -> u128 {
        let units = n_visible as u128 + self.n_hidden as u128;
        let chains = match self.method {
            Method::Pcd {
                chains: Some(c), ..
            } => c,
            _ => self.batch_size,
        };
        let batch_rows = self.batch_size as u128 + chains as u128;
        let monitor_rows = (self.monitor.subset.min(n_rows) + n_rows) as u128;
        crate::memory::matrices(4, n_visible, self.n_hidden, elem)
            + 4 * batch_rows * units * elem as u128
            + 4 * monitor_rows * units * 8
    }

    /// [`TrainConfig::memory_estimate`] checked against the memory cap ([`crate::memory`]).
    pub fn check_memory(&self, n_visible: usize, n_rows: usize, elem: usize) -> Result<()> {
        crate::memory::check(
            format!(
                "training {} hidden units on {n_visible} visible units (n_hidden / --hidden, \
                 batch {})",
                self.n_hidden, self.batch_size
            ),
            self.memory_estimate(n_visible, n_rows, elem),
        )
    }
}

/// Builder of [`TrainConfig`]; `build()` checks every value.
#[derive(Clone, Debug)]
pub struct TrainConfigBuilder {
    cfg: TrainConfig,
}

macro_rules! setter {
    ($(#[$m:meta])* $name:ident: $t:ty) => {
        $(#[$m])*
        pub fn $name(mut self, value: $t) -> Self {
            self.cfg.$name = value;
            self
        }
    };
}

impl TrainConfigBuilder {
    setter!(/// Number of hidden units.
        n_hidden: usize);
    setter!(/// Negative phase.
        method: Method);
    setter!(/// Number of epochs.
        epochs: usize);
    setter!(/// Minibatch size.
        batch_size: usize);
    setter!(/// Initial learning rate.
        learning_rate: f64);
    setter!(/// Learning-rate schedule.
        schedule: Schedule);
    setter!(/// The parameter-update rule.
        optimizer: OptimizerKind);
    setter!(/// Momentum in [0, 1).
        momentum: f64);
    setter!(/// L1 penalty on W.
        l1: f64);
    setter!(/// L2 weight decay on W.
        l2: f64);
    setter!(/// Initial weight standard deviation.
        init_sigma: f64);
    setter!(/// Seed of the run.
        seed: u64);
    setter!(/// Monitoring settings.
        monitor: MonitorConfig);
    setter!(/// Sparse products for sparse minibatches and chains (default true).
        sparse_products: bool);

    /// Checks and returns the configuration.
    pub fn build(self) -> Result<TrainConfig> {
        self.cfg.validate()?;
        Ok(self.cfg)
    }
}
