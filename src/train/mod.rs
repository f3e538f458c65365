//! Training: the loop ([`Trainer`]), its checked configuration ([`TrainConfig`]), the
//! [`History`] of per-epoch metrics, [`Observer`]s, and the negative phases (CD-k, PCD-k, and
//! TAP/EMF) behind the [`NegativePhase`] interface.

pub mod cd;
pub mod config;
pub mod history;
pub mod method;
pub mod observer;
pub mod optimizer;
pub mod phase;
pub mod tap;
pub mod trainer;

pub use cd::{ContrastiveDivergence, PersistentCd};
pub use config::{MonitorConfig, Schedule, TrainConfig, TrainConfigBuilder};
pub use history::{EpochRecord, History};
pub use method::Method;
pub use observer::{Checkpoint, Logger, Observer, ProgressBar};
pub use optimizer::{Optimizer, OptimizerKind, Sgd};
pub use phase::{Gradient, NegativePhase, PhaseReport};
pub use trainer::{Fitted, Trainer};
