//! The monitor: runs the due metrics at the end of an epoch on fixed data (see
//! [`crate::train::metrics`]).

use faer::Mat;
use rand::seq::SliceRandom;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::rbm::Rbm;
use crate::rng::stream_rng;
use crate::train::config::TrainConfig;
use crate::train::history::EpochRecord;
use crate::train::metrics::{Cadence, Metric, MetricContext};

/// Random stream of the monitor's training subset.
const SUBSET_STREAM: u64 = 2;

/// The metrics of a run with their cadences, and the data they measure on.
pub(crate) struct Monitor<T: Float> {
    every: usize,
    epochs: usize,
    seed: u64,
    metrics: Vec<(Cadence, Box<dyn Metric<T>>)>,
    /// The training subset, the held-out rows and the training means; empty when no metric
    /// is ever due.
    train: Mat<T>,
    held_out: Option<Mat<T>>,
    train_means: Vec<f64>,
}

impl<T: Float> Monitor<T> {
    /// The configured metrics followed by `custom` ones; refuses two metrics writing one key.
    pub(crate) fn new(
        cfg: &TrainConfig,
        train: &Dataset,
        held_out: Option<&Dataset>,
        custom: Vec<(Cadence, Box<dyn Metric<T>>)>,
    ) -> Result<Self> {
        let mut metrics: Vec<(Cadence, Box<dyn Metric<T>>)> = cfg
            .monitor
            .metrics
            .iter()
            .map(|m| (m.at.clone(), m.kind.build::<T>()))
            .collect();
        for (at, m) in custom {
            at.validate(cfg.epochs)?;
            metrics.push((at, m));
        }
        let mut seen: Vec<&'static str> = Vec::new();
        for k in metrics.iter().flat_map(|(_, m)| m.keys()) {
            if seen.contains(&k) {
                return Err(Error::param("metrics", format!("two metrics record `{k}`")));
            }
            seen.push(k);
        }
        let mut monitor = Monitor {
            every: cfg.monitor.every,
            epochs: cfg.epochs,
            seed: cfg.seed,
            metrics,
            train: Mat::zeros(0, train.n_features()),
            held_out: None,
            train_means: Vec::new(),
        };
        if (1..=cfg.epochs).any(|e| monitor.is_due(e)) {
            let n = train.n_samples();
            let mut idx: Vec<usize> = (0..n).collect();
            idx.shuffle(&mut stream_rng(cfg.seed, SUBSET_STREAM));
            idx.truncate(cfg.monitor.subset.min(n));
            monitor.train = Mat::<T>::zeros(idx.len(), train.n_features());
            train.fill_batch(&idx, monitor.train.as_mut());
            monitor.held_out = held_out.map(|h| h.to_mat::<T>());
            monitor.train_means = train.pixel_means();
        }
        Ok(monitor)
    }

    /// Is any metric due at `epoch` (1-based)?
    pub(crate) fn is_due(&self, epoch: usize) -> bool {
        self.metrics
            .iter()
            .any(|(at, _)| at.is_due(epoch, self.epochs, self.every))
    }

    /// A record of `epoch` with the values of the metrics due then.
    pub(crate) fn measure(&mut self, rbm: &Rbm<T>, epoch: usize) -> Result<EpochRecord> {
        let mut rec = EpochRecord {
            epoch,
            ..Default::default()
        };
        let ctx = MetricContext::new(
            rbm,
            epoch,
            self.seed,
            self.train.as_ref(),
            self.held_out.as_ref().map(|h| h.as_ref()),
            &self.train_means,
        );
        for (at, m) in &mut self.metrics {
            if at.is_due(epoch, self.epochs, self.every) {
                m.measure(&ctx, &mut rec)?;
            }
        }
        Ok(rec)
    }
}
