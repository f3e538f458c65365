//! The training loop: shuffled minibatches, a negative phase, an optimiser step, the monitor.

use std::time::Instant;

use faer::{Accum, Mat};

use crate::data::{Dataset, Minibatches};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::linalg::matmul;
use crate::profile::{self, Section};
use crate::rbm::Rbm;
use crate::rng::{rng, stream_rng};
use crate::train::config::TrainConfig;
use crate::train::history::History;
use crate::train::metrics::{Cadence, Metric};
use crate::train::monitor::Monitor;
use crate::train::observer::Observer;
use crate::train::optimizer::Optimizer;
use crate::train::phase::{Gradient, NegativePhase, PhaseReport, PositivePhase};

/// Training stops with [`Error::Diverged`] at the end of an epoch in which a weight or bias
/// exceeded this in absolute value (the error gives the first step that did; parameters that
/// become NaN or infinite first stop the run at once with [`Error::NonFinite`]). A unit's input is then at least of this order, far beyond where the logistic
/// function saturates in floating point (|x| > 37 in f64, 17 in f32): every probability is
/// exactly 0 or 1 and the gradient carries no information. Sane runs stay near 10 (digits,
/// CD-1, PCD-1 and TAP2 at rates 0.1 to 0.5 for 30 to 50 epochs end with a largest |parameter|
/// of 7 to 8.3, most of it the visible biases' initial log-odds), so the limit leaves five
/// orders of magnitude of margin; with momentum 0.5 and gradient entries in [-1, 1] a rate of
/// 0.05 would need over 10^7 steps to reach it.
pub const DIVERGENCE_LIMIT: f64 = 1e6;

/// A trained model and the history of its training.
#[derive(Clone, Debug)]
pub struct Fitted<T: Float = f64> {
    /// The model.
    pub rbm: Rbm<T>,
    /// Configuration and per-epoch metrics.
    pub history: History,
}

/// Trains an [`Rbm`] according to a [`TrainConfig`].
///
/// ```
/// use emf_rbm::{data::Dataset, train::{Method, TrainConfig, Trainer}};
/// let data = Dataset::digits().binarize(0.5).head(200);
/// let cfg = TrainConfig::builder().n_hidden(8).epochs(2).seed(3).build().unwrap();
/// let fitted = Trainer::<f64>::new(cfg).fit(&data, None).unwrap();
/// assert_eq!(fitted.history.epochs.len(), 2);
/// assert!(fitted.history.last().unwrap().log_likelihood_train.unwrap() < 0.0);
/// ```
pub struct Trainer<T: Float = f64> {
    config: TrainConfig,
    observers: Vec<Box<dyn Observer<T>>>,
    phase: Option<Box<dyn NegativePhase<T>>>,
    optimizer: Option<Box<dyn Optimizer<T>>>,
    metrics: Vec<(Cadence, Box<dyn Metric<T>>)>,
}

impl<T: Float> Trainer<T> {
    /// A trainer for this configuration (already checked by its builder).
    pub fn new(config: TrainConfig) -> Self {
        Trainer {
            config,
            observers: Vec::new(),
            phase: None,
            optimizer: None,
            metrics: Vec::new(),
        }
    }

    /// Adds an observer (progress bar, logger, checkpoint, extra metric...).
    pub fn with_observer(mut self, o: impl Observer<T> + 'static) -> Self {
        self.observers.push(Box::new(o));
        self
    }

    /// Adds a metric to the monitor, measured at `at` after the configured ones (its keys
    /// must differ from theirs).
    pub fn with_metric(mut self, at: Cadence, metric: impl Metric<T> + 'static) -> Self {
        self.metrics.push((at, Box::new(metric)));
        self
    }

    /// Uses a custom negative phase instead of the one `config.method` describes.
    pub fn with_negative_phase(mut self, phase: Box<dyn NegativePhase<T>>) -> Self {
        self.phase = Some(phase);
        self
    }

    /// Uses a custom parameter-update rule instead of the one `config.optimizer` describes
    /// (the configuration's `momentum`, `l1` and `l2` are then not used).
    pub fn with_optimizer(mut self, optimizer: Box<dyn Optimizer<T>>) -> Self {
        self.optimizer = Some(optimizer);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Initialises a model (Hinton's guide: small Gaussian W, visible biases from the data's
    /// log-odds, zero hidden biases) and trains it on `train`; `held_out` feeds the monitor.
    pub fn fit(self, train: &Dataset, held_out: Option<&Dataset>) -> Result<Fitted<T>> {
        self.config.validate()?;
        let rows = train.n_samples() + held_out.map_or(0, |h| h.n_samples());
        self.config
            .check_memory(train.n_features(), rows, std::mem::size_of::<T>())?;
        let mut r = rng(self.config.seed);
        let rbm = Rbm::init_from_means(
            &train.pixel_means(),
            self.config.n_hidden,
            self.config.init_sigma,
            1e-3,
            &mut r,
        )?;
        self.fit_from(rbm, train, held_out)
    }

    /// Continues training an existing model.
    pub fn fit_from(
        mut self,
        mut rbm: Rbm<T>,
        train: &Dataset,
        held_out: Option<&Dataset>,
    ) -> Result<Fitted<T>> {
        self.config.validate()?;
        let cfg = self.config.clone();
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        let rows = train.n_samples() + held_out.map_or(0, |h| h.n_samples());
        cfg.check_memory(nv, rows, std::mem::size_of::<T>())?;
        if train.n_features() != nv {
            return Err(Error::Shape(format!(
                "training data has {} features but the model has {nv} visible units",
                train.n_features()
            )));
        }
        if let Some(h) = held_out {
            if h.n_features() != nv {
                return Err(Error::Shape(format!(
                    "held-out data has {} features but the model has {nv} visible units",
                    h.n_features()
                )));
            }
        }
        if train.n_samples() == 0 {
            return Err(Error::param("data", "the training set is empty"));
        }
        if nh != cfg.n_hidden {
            return Err(Error::Shape(format!(
                "config asks for {} hidden units but the model has {nh}",
                cfg.n_hidden
            )));
        }
        // Seed streams: 0 = init (used by `fit`), 1 = training, 2 and >= 1000 = monitor
        // (see `train::metrics`).
        let mut train_rng = stream_rng(cfg.seed, 1);
        let mut phase = match self.phase.take() {
            Some(p) => p,
            None => cfg.method.build::<T>(nv, nh, cfg.batch_size),
        };
        let mut optimizer = match self.optimizer.take() {
            Some(o) => o,
            None => cfg
                .optimizer
                .build::<T>(cfg.momentum, cfg.l1, cfg.l2, nv, nh)?,
        };
        let mut monitor = Monitor::new(&cfg, train, held_out, std::mem::take(&mut self.metrics))?;

        let n = train.n_samples();
        let bs = cfg.batch_size.min(n);
        let mut batches = Minibatches::new(n, bs)?;
        let n_batches = batches.n_batches();
        let mut batch = Mat::<T>::zeros(bs, nv);
        let mut ph = Mat::<T>::zeros(bs, nh);
        let mut hfield = Mat::<T>::zeros(bs, nh);
        let mut grad = Gradient::<T>::zeros(nv, nh);

        let mut history = History {
            config: cfg.clone(),
            float: T::NAME.to_string(),
            data: format!("{} ({} x {})", train.name(), n, nv),
            epochs: Vec::new(),
            train_seconds: 0.0,
            epochs_trained: 0,
        };
        for o in &mut self.observers {
            o.on_start(cfg.epochs, n_batches);
        }
        let mut train_seconds = 0.0;
        for epoch in 0..cfg.epochs {
            let t0 = Instant::now();
            let lr = cfg.schedule.rate(cfg.learning_rate, epoch, cfg.epochs);
            batches.shuffle(&mut train_rng);
            let mut sweeps = (0usize, 0usize);
            let mut residual_max: Option<f64> = None;
            // The first step of this epoch whose parameters passed DIVERGENCE_LIMIT: reported
            // at the end of the epoch, unless they become non-finite first.
            let mut diverged: Option<(usize, f64)> = None;
            for (step, idx) in batches.batches().enumerate() {
                let rows = idx.len();
                profile::timed(Section::Copy, || {
                    train.fill_batch(idx, batch.as_mut().subrows_mut(0, rows))
                });
                let v = batch.as_ref().subrows(0, rows);
                // Positive phase: <v P(h|v)>_data.
                rbm.hidden_field_and_probs_into(
                    v,
                    hfield.as_mut().subrows_mut(0, rows),
                    ph.as_mut().subrows_mut(0, rows),
                );
                let p = ph.as_ref().subrows(0, rows);
                let inv = T::of(1.0 / rows as f64);
                matmul(grad.w.as_mut(), Accum::Replace, v.transpose(), p, inv);
                profile::timed(Section::Copy, || {
                    col_means(v, &mut grad.a);
                    col_means(p, &mut grad.b);
                });
                // Negative phase.
                let positive = PositivePhase {
                    batch: v,
                    hidden_field: hfield.as_ref().subrows(0, rows),
                    hidden_probs: p,
                };
                let rep: PhaseReport = phase.subtract_model_statistics_from(
                    &rbm,
                    positive,
                    &mut grad,
                    &mut train_rng,
                )?;
                if let Some(s) = rep.sweeps {
                    sweeps.0 += s;
                    sweeps.1 += 1;
                }
                if let Some(res) = rep.residual {
                    residual_max = Some(residual_max.map_or(res, |m: f64| m.max(res)));
                }
                // The optimiser's pass over the parameters also gathers the checks.
                let stats = optimizer.step(&mut rbm, &grad, lr);
                if !stats.gradient_finite {
                    return Err(Error::NonFinite {
                        what: "gradient".into(),
                        epoch: epoch + 1,
                        step,
                    });
                }
                let max_abs = stats.max_abs;
                if !max_abs.is_finite() {
                    return Err(Error::NonFinite {
                        what: "parameters".into(),
                        epoch: epoch + 1,
                        step,
                    });
                }
                if max_abs > DIVERGENCE_LIMIT && diverged.is_none() {
                    diverged = Some((step, max_abs));
                }
                for o in &mut self.observers {
                    o.on_step(epoch + 1, step);
                }
            }
            if let Some((step, first)) = diverged {
                return Err(Error::Diverged {
                    max_abs: first.max(rbm.max_abs()),
                    limit: DIVERGENCE_LIMIT,
                    epoch: epoch + 1,
                    step,
                });
            }
            train_seconds += t0.elapsed().as_secs_f64();
            history.train_seconds = train_seconds;
            history.epochs_trained = epoch + 1;
            if monitor.is_due(epoch + 1) {
                let t1 = Instant::now();
                let mut rec = monitor.measure(&rbm, epoch + 1)?;
                rec.train_seconds = train_seconds;
                rec.learning_rate = lr;
                if sweeps.1 > 0 {
                    rec.sweeps_mean = Some(sweeps.0 as f64 / sweeps.1 as f64);
                }
                rec.residual_max = residual_max;
                for o in &mut self.observers {
                    o.on_epoch(&rbm, &mut rec)?;
                }
                rec.monitor_seconds = t1.elapsed().as_secs_f64();
                history.epochs.push(rec);
            }
            for o in &mut self.observers {
                o.on_epoch_end(epoch + 1, &rbm)?;
            }
        }
        for o in &mut self.observers {
            o.on_end(&rbm, &history)?;
        }
        Ok(Fitted { rbm, history })
    }
}

/// `out[j] = mean of column j`.
fn col_means<T: Float>(m: faer::MatRef<'_, T>, out: &mut [T]) {
    let inv = 1.0 / m.nrows() as f64;
    for (j, o) in out.iter_mut().enumerate() {
        let s: f64 = m.col(j).iter().map(|x| x.as_f64()).sum();
        *o = T::of(s * inv);
    }
}
