//! Training: the loop ([`Trainer`]), its checked configuration ([`TrainConfig`]), the
//! parameter update ([`Optimizer`], [`Sgd`]), the monitor's [`metrics`] recorded under typed
//! [`keys`] in the [`History`], [`Observer`]s, and the negative phases (CD-k, PCD-k, and
//! TAP/EMF) behind the [`NegativePhase`] interface.

mod builtin;
pub mod cd;
pub mod census;
pub mod config;
pub mod history;
pub mod keys;
pub mod method;
mod metric_settings;
pub mod metrics;
mod monitor;
pub mod observer;
pub mod optimizer;
pub mod phase;
pub mod spectrum;
pub mod state;
pub mod tap;
pub mod tap_estimates;
pub mod trainer;

pub use cd::{ContrastiveDivergence, PersistentCd};
pub use config::{Schedule, TrainConfig, TrainConfigBuilder};
pub use history::{EpochRecord, History};
pub use keys::{Estimate, Key, MetricData, MetricValue, TapValue};
pub use method::Method;
pub use metrics::{Cadence, Metric, MetricConfig, MetricContext, MetricKind, MonitorConfig};
pub use observer::{Checkpoint, Logger, Observer, ProgressBar};
pub use optimizer::{Optimizer, OptimizerKind, Sgd, StepStats};
pub use phase::{Gradient, NegativePhase, PhaseReport, PositivePhase, SparseBatch};
pub use trainer::{Fitted, Trainer, DIVERGENCE_LIMIT};
