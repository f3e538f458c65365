//! The training loop: shuffled minibatches, a negative phase, an optimiser step, the monitor.

use std::time::Instant;

use faer::Mat;

use crate::data::{Dataset, Minibatches};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::linalg::sparse::{DenseRows, SparseRows, MAX_DENSITY};
use crate::linalg::{map_column_sums, on_worker};
use crate::persist::ModelFile;
use crate::profile::{self, Section};
use crate::rbm::Rbm;
use crate::rng::{rng, stream_rng, Rng};
use crate::train::config::TrainConfig;
use crate::train::history::{EpochRecord, History};
use crate::train::metrics::{Cadence, Metric};
use crate::train::monitor::Monitor;
use crate::train::observer::Observer;
use crate::train::optimizer::{Optimizer, StepStats};
use crate::train::phase::{Gradient, NegativePhase, PhaseReport, PositivePhase, SparseBatch};
use crate::train::state::{check_resumable, Snapshot, TrainState};

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
        self,
        rbm: Rbm<T>,
        train: &Dataset,
        held_out: Option<&Dataset>,
    ) -> Result<Fitted<T>> {
        let history = History {
            config: self.config.clone(),
            float: T::NAME.to_string(),
            data: format!(
                "{} ({} x {})",
                train.name(),
                train.n_samples(),
                train.n_features()
            ),
            epochs: Vec::new(),
            train_seconds: 0.0,
            epochs_trained: 0,
            data_fingerprint: Some(train.fingerprint()),
        };
        self.run(rbm, train, held_out, history, None)
    }

    /// Continues the run saved in a checkpoint (a [`ModelFile`] with a
    /// [`train_state`](ModelFile::train_state), written by the [`Checkpoint`](crate::train::Checkpoint)
    /// observer) up to `config.epochs` epochs in all: the model, the history so far, the
    /// optimiser's velocity, the persistent chains or particles, the generator and the
    /// minibatch order are restored, so the result is bit for bit that of the uninterrupted
    /// run with the same seed. The configuration must match the checkpoint's in every setting
    /// that shapes the parameters (hidden units, method, batch, rates, penalties, seed...), the
    /// float type and the training data's fingerprint must be the same: otherwise an error
    /// names what differs. The monitor's settings may change.
    pub fn resume(
        self,
        checkpoint: &ModelFile,
        train: &Dataset,
        held_out: Option<&Dataset>,
    ) -> Result<Fitted<T>> {
        let not_checkpoint = |what: &str| {
            Error::param(
                "resume",
                format!("the model file holds no {what}: it is not a checkpoint"),
            )
        };
        let state = checkpoint
            .train_state
            .clone()
            .ok_or_else(|| not_checkpoint("training state"))?;
        let mut history = checkpoint
            .history
            .clone()
            .ok_or_else(|| not_checkpoint("history"))?;
        self.config.validate()?;
        check_resumable(&self.config, &history, &state, T::NAME, train)?;
        history.config = self.config.clone();
        let rbm = checkpoint.rbm::<T>()?;
        self.run(rbm, train, held_out, history, Some(state))
    }

    /// The training loop from epoch 1, or from where `resume` left off, on a thread of
    /// rayon's pool (so that its many short parallel passes cost no hand-over each;
    /// [`on_worker`]).
    fn run(
        self,
        rbm: Rbm<T>,
        train: &Dataset,
        held_out: Option<&Dataset>,
        history: History,
        resume: Option<TrainState>,
    ) -> Result<Fitted<T>> {
        on_worker(move || self.run_on_worker(rbm, train, held_out, history, resume))
    }

    fn run_on_worker(
        mut self,
        mut rbm: Rbm<T>,
        train: &Dataset,
        held_out: Option<&Dataset>,
        mut history: History,
        resume: Option<TrainState>,
    ) -> Result<Fitted<T>> {
        self.config.validate()?;
        let cfg = self.config.clone();
        check_inputs(&cfg, &rbm, train, held_out)?;
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        // Seed streams: 0 = init (used by `fit`), 1 = training, 2 and >= 1000 = monitor
        // (see `train::metrics`).
        let mut train_rng = stream_rng(cfg.seed, 1);
        let (mut phase, mut optimizer) = self.strategies(nv, nh)?;
        let mut monitor = Monitor::new(&cfg, train, held_out, std::mem::take(&mut self.metrics))?;
        let n = train.n_samples();
        let mut batches = Minibatches::new(n, cfg.batch_size.min(n))?;
        let mut work = Workspace::new(cfg.batch_size.min(n), nv, nh, cfg.sparse_products);
        let first = match &resume {
            Some(s) => {
                let (o, p) = (optimizer.as_mut(), phase.as_mut());
                s.restore_into(cfg.seed, &rbm, &mut train_rng, &mut batches, o, p)?;
                s.epochs_done + 1
            }
            None => 1,
        };
        for o in &mut self.observers {
            o.on_start(cfg.epochs, batches.n_batches());
        }
        for epoch in first..=cfg.epochs {
            let t0 = Instant::now();
            let lr = cfg.schedule.rate(cfg.learning_rate, epoch - 1, cfg.epochs);
            batches.shuffle(&mut train_rng);
            let mut run = EpochRun {
                epoch,
                lr,
                rbm: &mut rbm,
                phase: phase.as_mut(),
                optimizer: optimizer.as_mut(),
                observers: &mut self.observers,
                rng: &mut train_rng,
                work: &mut work,
            };
            let summary = run.train_epoch(train, &batches)?;
            history.train_seconds += t0.elapsed().as_secs_f64();
            history.epochs_trained = epoch;
            if monitor.is_due(epoch) {
                let rec = self.monitor_epoch(&mut monitor, &rbm, &history, lr, summary)?;
                history.epochs.push(rec);
            }
            let snapshot = Snapshot {
                epoch,
                rbm: &rbm,
                history: &history,
                rng: &train_rng,
                order: batches.order(),
                optimizer: optimizer.as_ref(),
                phase: phase.as_ref(),
            };
            for o in &mut self.observers {
                o.on_epoch_end(epoch, &rbm)?;
                o.on_snapshot(&snapshot)?;
            }
        }
        for o in &mut self.observers {
            o.on_end(&rbm, &history)?;
        }
        Ok(Fitted { rbm, history })
    }

    /// The negative phase and the optimiser: the custom ones, else the configuration's.
    #[allow(clippy::type_complexity)]
    fn strategies(
        &mut self,
        nv: usize,
        nh: usize,
    ) -> Result<(Box<dyn NegativePhase<T>>, Box<dyn Optimizer<T>>)> {
        let cfg = &self.config;
        let phase = match self.phase.take() {
            Some(p) => p,
            None => cfg.method.build::<T>(nv, nh, cfg.batch_size),
        };
        let optimizer = match self.optimizer.take() {
            Some(o) => o,
            None => cfg
                .optimizer
                .build::<T>(cfg.momentum, cfg.l1, cfg.l2, nv, nh)?,
        };
        Ok((phase, optimizer))
    }

    /// The record of a monitored epoch: the due metrics, the run's figures, the observers'
    /// additions.
    fn monitor_epoch(
        &mut self,
        monitor: &mut Monitor<T>,
        rbm: &Rbm<T>,
        history: &History,
        lr: f64,
        summary: EpochSummary,
    ) -> Result<EpochRecord> {
        let t1 = Instant::now();
        // The profile counters cover the updates only.
        let counting = profile::is_enabled();
        profile::enable(false);
        let measured = monitor.measure(rbm, history.epochs_trained);
        profile::enable(counting);
        let mut rec = measured?;
        rec.train_seconds = history.train_seconds;
        rec.learning_rate = lr;
        rec.sweeps_mean = summary.sweeps_mean();
        rec.residual_max = summary.residual_max;
        for o in &mut self.observers {
            o.on_epoch(rbm, &mut rec)?;
        }
        rec.monitor_seconds = t1.elapsed().as_secs_f64();
        Ok(rec)
    }
}

/// Refuses a model, training set or held-out set whose shapes do not fit the configuration.
fn check_inputs<T: Float>(
    cfg: &TrainConfig,
    rbm: &Rbm<T>,
    train: &Dataset,
    held_out: Option<&Dataset>,
) -> Result<()> {
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
    Ok(())
}

/// The buffers of one update, allocated once per run: the minibatch, its hidden fields and
/// probabilities, the gradient.
struct Workspace<T: Float> {
    batch: Mat<T>,
    hidden_field: Mat<T>,
    hidden_probs: Mat<T>,
    grad: Gradient<T>,
    /// Whether sparse minibatches take the sparse products.
    sparse_products: bool,
    batch_index: SparseRows<T>,
    w_rows: DenseRows<T>,
}

impl<T: Float> Workspace<T> {
    fn new(batch_size: usize, nv: usize, nh: usize, sparse_products: bool) -> Self {
        Workspace {
            batch: Mat::zeros(batch_size, nv),
            hidden_field: Mat::zeros(batch_size, nh),
            hidden_probs: Mat::zeros(batch_size, nh),
            grad: Gradient::zeros(nv, nh),
            sparse_products,
            batch_index: SparseRows::new(),
            w_rows: DenseRows::new(),
        }
    }
}

/// What an epoch's updates report to the monitor.
#[derive(Clone, Copy, Debug, Default)]
struct EpochSummary {
    /// Total fixed-point sweeps and the number of updates that reported sweeps (TAP).
    sweeps: (usize, usize),
    /// The largest final fixed-point residual of the epoch (TAP).
    residual_max: Option<f64>,
}

impl EpochSummary {
    fn add(&mut self, rep: PhaseReport) {
        if let Some(s) = rep.sweeps {
            self.sweeps.0 += s;
            self.sweeps.1 += 1;
        }
        if let Some(res) = rep.residual {
            self.residual_max = Some(self.residual_max.map_or(res, |m| m.max(res)));
        }
    }

    fn sweeps_mean(&self) -> Option<f64> {
        (self.sweeps.1 > 0).then(|| self.sweeps.0 as f64 / self.sweeps.1 as f64)
    }
}

/// One epoch of updates: what it works on and with.
struct EpochRun<'a, T: Float> {
    /// 1-based.
    epoch: usize,
    lr: f64,
    rbm: &'a mut Rbm<T>,
    phase: &'a mut dyn NegativePhase<T>,
    optimizer: &'a mut dyn Optimizer<T>,
    observers: &'a mut Vec<Box<dyn Observer<T>>>,
    rng: &'a mut Rng,
    work: &'a mut Workspace<T>,
}

impl<T: Float> EpochRun<'_, T> {
    /// Every minibatch of the (already shuffled) epoch. Parameters that become non-finite
    /// stop the run at once; parameters past [`DIVERGENCE_LIMIT`] stop it at the end of the
    /// epoch with the first step that passed it.
    fn train_epoch(&mut self, train: &Dataset, batches: &Minibatches) -> Result<EpochSummary> {
        let mut summary = EpochSummary::default();
        let mut diverged: Option<(usize, f64)> = None;
        for (step, idx) in batches.batches().enumerate() {
            let (rep, stats) = self.update(train, idx)?;
            summary.add(rep);
            let non_finite = |what: &str| Error::NonFinite {
                what: what.into(),
                epoch: self.epoch,
                step,
            };
            if !stats.gradient_finite {
                return Err(non_finite("gradient"));
            }
            if !stats.max_abs.is_finite() {
                return Err(non_finite("parameters"));
            }
            if stats.max_abs > DIVERGENCE_LIMIT && diverged.is_none() {
                diverged = Some((step, stats.max_abs));
            }
            for o in self.observers.iter_mut() {
                o.on_step(self.epoch, step);
            }
        }
        if let Some((step, first)) = diverged {
            return Err(Error::Diverged {
                max_abs: first.max(self.rbm.max_abs()),
                limit: DIVERGENCE_LIMIT,
                epoch: self.epoch,
                step,
            });
        }
        Ok(summary)
    }

    /// One parameter update from the minibatch of rows `idx`: the positive phase (hidden
    /// fields, `P(h|v)`, the bias means), the weight gradient data minus model from the
    /// negative phase, the optimiser's step.
    fn update(&mut self, train: &Dataset, idx: &[usize]) -> Result<(PhaseReport, StepStats)> {
        let rows = idx.len();
        let w = &mut *self.work;
        profile::timed(Section::Copy, || {
            train.fill_batch(idx, w.batch.as_mut().subrows_mut(0, rows))
        });
        let v = w.batch.as_ref().subrows(0, rows);
        let sparse = w.sparse_products
            && self.phase.uses_sparse_batches()
            && profile::timed(Section::Sparse, || w.batch_index.fill_from(v, MAX_DENSITY));
        let field = w.hidden_field.as_mut().subrows_mut(0, rows);
        let probs = w.hidden_probs.as_mut().subrows_mut(0, rows);
        if sparse {
            profile::timed(Section::Sparse, || w.w_rows.refresh(self.rbm.w.as_ref()));
            self.rbm
                .hidden_field_and_probs_sparse(&w.batch_index, &w.w_rows, field, probs);
        } else {
            self.rbm.hidden_field_and_probs_into(v, field, probs);
        }
        let p = w.hidden_probs.as_ref().subrows(0, rows);
        profile::timed(Section::Copy, || {
            col_means(v, &mut w.grad.a);
            col_means(p, &mut w.grad.b);
        });
        let positive = PositivePhase {
            batch: v,
            hidden_field: w.hidden_field.as_ref().subrows(0, rows),
            hidden_probs: p,
            sparse: sparse.then_some(SparseBatch {
                index: &w.batch_index,
                w_rows: &w.w_rows,
            }),
        };
        let rep = self
            .phase
            .weight_gradient_from(self.rbm, positive, &mut w.grad, self.rng)?;
        let stats = self.optimizer.step(self.rbm, &w.grad, self.lr);
        Ok((rep, stats))
    }
}

/// `out[j] = mean of column j`.
fn col_means<T: Float>(m: faer::MatRef<'_, T>, out: &mut [T]) {
    let inv = 1.0 / m.nrows() as f64;
    map_column_sums(m, out, |_, s| T::of(s * inv));
}
