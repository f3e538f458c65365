//! The training loop: minibatch SGD with momentum and weight decay, any negative phase.

use std::time::Instant;

use faer::{Accum, Mat};
use rand::seq::SliceRandom;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::estimate::{exact, metrics};
use crate::float::Float;
use crate::linalg::matmul;
use crate::rbm::Rbm;
use crate::rng::{rng, stream_rng, Rng};
use crate::train::config::TrainConfig;
use crate::train::history::{EpochRecord, History};
use crate::train::observer::Observer;
use crate::train::phase::{Gradient, NegativePhase, PhaseReport};

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
}

impl<T: Float> Trainer<T> {
    /// A trainer for this configuration (already checked by its builder).
    pub fn new(config: TrainConfig) -> Self {
        Trainer {
            config,
            observers: Vec::new(),
            phase: None,
        }
    }

    /// Adds an observer (progress bar, logger, checkpoint, extra metric...).
    pub fn with_observer(mut self, o: impl Observer<T> + 'static) -> Self {
        self.observers.push(Box::new(o));
        self
    }

    /// Uses a custom negative phase instead of the one `config.method` describes.
    pub fn with_negative_phase(mut self, phase: Box<dyn NegativePhase<T>>) -> Self {
        self.phase = Some(phase);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Initialises a model (Hinton's guide: small Gaussian W, visible biases from the data's
    /// log-odds, zero hidden biases) and trains it on `train`; `held_out` feeds the monitor.
    pub fn fit(self, train: &Dataset, held_out: Option<&Dataset>) -> Result<Fitted<T>> {
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
        // Seed streams: 0 = init (used by `fit`), 1 = training, 2.. = monitor.
        let mut train_rng = stream_rng(cfg.seed, 1);
        let mut phase = match self.phase.take() {
            Some(p) => p,
            None => cfg.method.build::<T>(nv, nh, cfg.batch_size),
        };
        let monitor = Monitor::new(&cfg, train, held_out);

        let n = train.n_samples();
        let bs = cfg.batch_size.min(n);
        let n_batches = n.div_ceil(bs);
        let mut order: Vec<usize> = (0..n).collect();
        let mut batch = Mat::<T>::zeros(bs, nv);
        let mut ph = Mat::<T>::zeros(bs, nh);
        let mut grad = Gradient::<T>::zeros(nv, nh);
        let mut vel = Gradient::<T>::zeros(nv, nh);

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
            order.shuffle(&mut train_rng);
            let mut sweeps = (0usize, 0usize);
            let mut residual_max: Option<f64> = None;
            for (step, idx) in order.chunks(bs).enumerate() {
                let rows = idx.len();
                train.fill_batch(idx, batch.as_mut().subrows_mut(0, rows));
                let v = batch.as_ref().subrows(0, rows);
                // Positive phase: <v P(h|v)>_data.
                rbm.hidden_probs_into(v, ph.as_mut().subrows_mut(0, rows));
                let p = ph.as_ref().subrows(0, rows);
                let inv = T::of(1.0 / rows as f64);
                matmul(grad.w.as_mut(), Accum::Replace, v.transpose(), p, inv);
                col_means(v, &mut grad.a);
                col_means(p, &mut grad.b);
                // Negative phase.
                let rep: PhaseReport =
                    phase.subtract_model_statistics_from(&rbm, v, p, &mut grad, &mut train_rng)?;
                if let Some(s) = rep.sweeps {
                    sweeps.0 += s;
                    sweeps.1 += 1;
                }
                if let Some(res) = rep.residual {
                    residual_max = Some(residual_max.map_or(res, |m: f64| m.max(res)));
                }
                if !grad.is_finite() {
                    return Err(Error::NonFinite {
                        what: "gradient".into(),
                        epoch: epoch + 1,
                        step,
                    });
                }
                apply_update(&mut rbm, &grad, &mut vel, lr, &cfg);
                if !rbm.is_finite() {
                    return Err(Error::NonFinite {
                        what: "parameters".into(),
                        epoch: epoch + 1,
                        step,
                    });
                }
                for o in &mut self.observers {
                    o.on_step(epoch + 1, step);
                }
            }
            train_seconds += t0.elapsed().as_secs_f64();
            history.train_seconds = train_seconds;
            history.epochs_trained = epoch + 1;
            let last = epoch + 1 == cfg.epochs;
            if cfg.monitor.every > 0 && ((epoch + 1) % cfg.monitor.every == 0 || last) {
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

/// Momentum SGD step with L1/L2 decay on W:
/// `vel <- momentum vel + lr (grad - l2 W - l1 sign W)`, `theta <- theta + vel`.
fn apply_update<T: Float>(
    rbm: &mut Rbm<T>,
    grad: &Gradient<T>,
    vel: &mut Gradient<T>,
    lr: f64,
    cfg: &TrainConfig,
) {
    let (mom, lr_t) = (T::of(cfg.momentum), T::of(lr));
    let (l1, l2) = (T::of(cfg.l1), T::of(cfg.l2));
    let zero = T::of(0.0);
    for j in 0..rbm.n_hidden() {
        let g = grad.w.col_as_slice(j);
        let v = vel.w.col_as_slice_mut(j);
        let w = rbm.w.col_as_slice_mut(j);
        for ((wi, vi), &gi) in w.iter_mut().zip(v.iter_mut()).zip(g) {
            let sign = if *wi > zero {
                T::of(1.0)
            } else if *wi < zero {
                T::of(-1.0)
            } else {
                zero
            };
            *vi = mom * *vi + lr_t * (gi - l2 * *wi - l1 * sign);
            *wi += *vi;
        }
    }
    for ((p, v), &g) in rbm.a.iter_mut().zip(vel.a.iter_mut()).zip(&grad.a) {
        *v = mom * *v + lr_t * g;
        *p += *v;
    }
    for ((p, v), &g) in rbm.b.iter_mut().zip(vel.b.iter_mut()).zip(&grad.b) {
        *v = mom * *v + lr_t * g;
        *p += *v;
    }
}

/// Computes the built-in per-epoch metrics on fixed subsets.
struct Monitor<T: Float> {
    train: Mat<T>,
    held_out: Option<Mat<T>>,
    seed: u64,
    exact_max_units: usize,
    emf: bool,
}

impl<T: Float> Monitor<T> {
    fn new(cfg: &TrainConfig, train: &Dataset, held_out: Option<&Dataset>) -> Self {
        let n = train.n_samples();
        let mut idx: Vec<usize> = (0..n).collect();
        let mut r: Rng = stream_rng(cfg.seed, 2);
        idx.shuffle(&mut r);
        idx.truncate(cfg.monitor.subset.max(1).min(n));
        let mut sub = Mat::<T>::zeros(idx.len(), train.n_features());
        train.fill_batch(&idx, sub.as_mut());
        Monitor {
            train: sub,
            held_out: held_out.map(|h| h.to_mat::<T>()),
            seed: cfg.seed,
            exact_max_units: cfg.monitor.exact_max_units,
            emf: cfg.monitor.emf,
        }
    }

    fn measure(&self, rbm: &Rbm<T>, epoch: usize) -> Result<EpochRecord> {
        let mut rec = EpochRecord {
            epoch,
            ..Default::default()
        };
        let t = self.train.as_ref();
        rec.reconstruction_error = Some(metrics::reconstruction_error(rbm, t));
        let mut r = stream_rng(self.seed, 1000 + epoch as u64);
        rec.pseudo_log_likelihood = Some(metrics::pseudo_log_likelihood(rbm, t, &mut r));
        rec.free_energy_train = Some(metrics::mean_free_energy(rbm, t));
        if let Some(h) = &self.held_out {
            rec.free_energy_held_out = Some(metrics::mean_free_energy(rbm, h.as_ref()));
        }
        if exact::feasible(rbm, self.exact_max_units) {
            let ln_z = exact::log_partition(rbm)?;
            rec.ln_z_exact = Some(ln_z);
            rec.log_likelihood_train = Some(-rec.free_energy_train.unwrap_or(0.0) - ln_z);
            rec.log_likelihood_held_out = rec.free_energy_held_out.map(|f| -f - ln_z);
        }
        if self.emf {
            use crate::estimate::tap;
            use crate::tap::{SolverOptions, TapOrder};
            let emf = tap::emf_log_likelihood(rbm, t, &SolverOptions::paper())?;
            let mean = emf.iter().sum::<f64>() / emf.len().max(1) as f64;
            rec.extra.insert("emf_log_likelihood".into(), mean);
            let starts = t.subrows(0, t.nrows().min(200));
            let opts = SolverOptions::converged_for::<T>();
            let est = tap::log_partition(rbm, TapOrder::Tap2, starts, &opts)?;
            rec.extra.insert("ln_z_tap2".into(), est.ln_z);
            if let Some(f) = rec.free_energy_train {
                rec.extra
                    .insert("log_likelihood_tap2_train".into(), -f - est.ln_z);
            }
            if let Some(f) = rec.free_energy_held_out {
                rec.extra
                    .insert("log_likelihood_tap2_held_out".into(), -f - est.ln_z);
            }
        }
        Ok(rec)
    }
}
