//! Side-by-side training of several negative phases on the same data, seed and budget, with
//! the exact (or otherwise estimated) held-out log-likelihood as the referee. The `demo` and
//! `compare` commands and the notebooks are thin layers over this module.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::estimate::ais::{Ais, AisBase, AisConfig};
use crate::float::Float;
use crate::plot::{LineChart, Mosaic};
use crate::train::{EpochRecord, Fitted, Method, Observer, ProgressBar, TrainConfig, Trainer};

/// One method's run within a [`Comparison`].
#[derive(Clone, Debug)]
pub struct MethodRun<T: Float = f64> {
    /// Method name (`cd1`, `pcd1`, `tap2`...).
    pub name: String,
    /// The trained model and its history.
    pub fitted: Fitted<T>,
    /// Wall time of the whole run, monitoring included (seconds).
    pub wall_seconds: f64,
}

impl<T: Float> MethodRun<T> {
    /// Held-out log-likelihood per sample after the last epoch, when it was measured.
    pub fn final_log_likelihood(&self) -> Option<f64> {
        self.fitted.history.last()?.log_likelihood_held_out
    }
    /// Training time (parameter updates only) in seconds.
    pub fn train_seconds(&self) -> f64 {
        self.fitted.history.last().map_or(0.0, |r| r.train_seconds)
    }
}

/// Several methods trained under one configuration.
#[derive(Clone, Debug)]
pub struct Comparison<T: Float = f64> {
    /// Name and shape of the training data.
    pub data: String,
    /// One run per method, in the order given.
    pub runs: Vec<MethodRun<T>>,
}

/// Options of [`compare_with`].
#[derive(Clone, Debug, Default)]
pub struct CompareOptions {
    /// Draw a progress bar per method.
    pub progress: bool,
    /// Estimate the held-out log-likelihood by AIS at these epochs (1-based; the last epoch
    /// is always included when this is `Some`), for models too large for exact enumeration.
    pub ais: Option<AisSchedule>,
}

/// When and how [`AisObserver`] runs.
#[derive(Clone, Debug)]
pub struct AisSchedule {
    /// The AIS settings (temperatures, runs, seed).
    pub config: AisConfig,
    /// Epochs (1-based) at which to estimate.
    pub epochs: Vec<usize>,
}

/// An observer that estimates `ln Z` by AIS at chosen epochs and records, in
/// `EpochRecord::extra`: `ais_ln_z`, `ais_ln_z_lower`, `ais_ln_z_upper`, `ais_ess`,
/// `ais_log_likelihood_held_out` and its interval `ais_log_likelihood_held_out_lower`/`_upper`.
pub struct AisObserver<T: Float> {
    ais: Ais,
    base: AisBase,
    held_out: faer::Mat<T>,
    epochs: Vec<usize>,
    last_epoch: usize,
}

impl<T: Float> AisObserver<T> {
    /// AIS with base rates from `train` (smoothed pixel means), scoring `held_out`.
    pub fn new(
        schedule: &AisSchedule,
        train: &Dataset,
        held_out: &Dataset,
        last_epoch: usize,
    ) -> Result<Self> {
        Ok(AisObserver {
            ais: Ais::new(schedule.config.clone())?,
            base: AisBase::from_data(train, 0.05)?,
            held_out: held_out.to_mat::<T>(),
            epochs: schedule.epochs.clone(),
            last_epoch,
        })
    }
}

impl<T: Float> Observer<T> for AisObserver<T> {
    fn on_epoch(&mut self, rbm: &crate::Rbm<T>, r: &mut EpochRecord) -> Result<()> {
        if !(self.epochs.contains(&r.epoch) || r.epoch == self.last_epoch) {
            return Ok(());
        }
        let est = self.ais.estimate(rbm, &self.base)?;
        let ll = est.log_likelihood(rbm, self.held_out.as_ref())?;
        for (k, v) in [
            ("ais_ln_z", est.log_z),
            ("ais_ln_z_lower", est.log_z_lower),
            ("ais_ln_z_upper", est.log_z_upper),
            ("ais_ess", est.ess),
            ("ais_log_likelihood_held_out", ll.mean),
            ("ais_log_likelihood_held_out_lower", ll.lower),
            ("ais_log_likelihood_held_out_upper", ll.upper),
        ] {
            if v.is_finite() {
                r.extra.insert(k.into(), v);
            }
        }
        Ok(())
    }
}

/// Trains `base` once per method (only `method` changes; same seed, data and budget).
pub fn compare<T: Float>(
    base: &TrainConfig,
    methods: &[Method],
    train: &Dataset,
    held_out: &Dataset,
    progress: bool,
) -> Result<Comparison<T>> {
    let opts = CompareOptions {
        progress,
        ..CompareOptions::default()
    };
    compare_with(base, methods, train, held_out, &opts)
}

/// [`compare`] with options (AIS at chosen epochs, progress bars).
pub fn compare_with<T: Float>(
    base: &TrainConfig,
    methods: &[Method],
    train: &Dataset,
    held_out: &Dataset,
    opts: &CompareOptions,
) -> Result<Comparison<T>> {
    if methods.is_empty() {
        return Err(Error::param(
            "methods",
            "give at least one method to compare",
        ));
    }
    let mut runs = Vec::new();
    for m in methods {
        let mut cfg = base.clone();
        cfg.method = m.clone();
        cfg.validate()?;
        let epochs = cfg.epochs;
        let mut trainer = Trainer::<T>::new(cfg);
        if opts.progress {
            trainer = trainer.with_observer(ProgressBar::new(m.name()));
        }
        if let Some(s) = &opts.ais {
            trainer = trainer.with_observer(AisObserver::<T>::new(s, train, held_out, epochs)?);
        }
        let t0 = Instant::now();
        let fitted = trainer.fit(train, Some(held_out))?;
        runs.push(MethodRun {
            name: m.name(),
            fitted,
            wall_seconds: t0.elapsed().as_secs_f64(),
        });
    }
    Ok(Comparison {
        data: format!(
            "{} ({} x {})",
            train.name(),
            train.n_samples(),
            train.n_features()
        ),
        runs,
    })
}

impl<T: Float> Comparison<T> {
    /// A plain-text table: method, held-out log-likelihood (exact when measured), the same
    /// likelihood implied by the TAP2 ln Z estimate and the EMF estimate (when the monitor
    /// recorded them), train time, wall time.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<10} {:>14} {:>26} {:>14} {:>14} {:>10} {:>10}\n",
            "method",
            "held-out LL",
            "AIS LL [3 s.e.]",
            "TAP2-est. LL",
            "EMF LL",
            "train s",
            "wall s"
        );
        for r in &self.runs {
            let last = r.fitted.history.last();
            let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
            let ais = last.and_then(|l| {
                let m = l.metric("ais_log_likelihood_held_out")?;
                let lo = l.metric("ais_log_likelihood_held_out_lower");
                let hi = l.metric("ais_log_likelihood_held_out_upper");
                Some(format!("{m:.2} [{}, {}]", f(lo), f(hi)))
            });
            s.push_str(&format!(
                "{:<10} {:>14} {:>26} {:>14} {:>14} {:>10.2} {:>10.2}\n",
                r.name,
                f(last.and_then(|l| l.log_likelihood_held_out)),
                ais.unwrap_or_else(|| "-".into()),
                f(last.and_then(|l| l.metric("log_likelihood_tap2_held_out"))),
                f(last.and_then(|l| l.metric("emf_log_likelihood"))),
                r.train_seconds(),
                r.wall_seconds
            ));
        }
        s
    }

    /// A chart of `metric` (see [`EpochRecord::metric`](crate::train::EpochRecord::metric))
    /// against epoch, one line per method.
    pub fn chart(&self, metric: &str, y_label: &str) -> LineChart {
        let mut c = LineChart::new(&format!("{metric} on {}", self.data), "epoch", y_label);
        for r in &self.runs {
            c = c.series(&r.name, r.fitted.history.series(metric));
        }
        c
    }

    /// A chart of `metric` against cumulative training time (seconds).
    pub fn chart_vs_time(&self, metric: &str, y_label: &str) -> LineChart {
        let mut c = LineChart::new(&format!("{metric} vs time"), "training time (s)", y_label);
        for r in &self.runs {
            let pts = r
                .fitted
                .history
                .epochs
                .iter()
                .filter_map(|e| Some((e.train_seconds, e.metric(metric)?)))
                .collect();
            c = c.series(&r.name, pts);
        }
        c
    }

    /// Writes `ll_vs_epoch.png`, `ll_vs_time.png`, one `filters_<method>.png` per method
    /// (when the data has an image shape) and `history_<method>.json`/`.csv` into `dir`.
    /// Returns the files written.
    pub fn save(&self, dir: &Path, image_shape: Option<(usize, usize)>) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut files = Vec::new();
        let metric = if self.runs.iter().any(|r| {
            !r.fitted
                .history
                .series("log_likelihood_held_out")
                .is_empty()
        }) {
            "log_likelihood_held_out"
        } else {
            "pseudo_log_likelihood"
        };
        let p = dir.join("ll_vs_epoch.png");
        self.chart(metric, "nats per sample").save(&p)?;
        files.push(p);
        let p = dir.join("ll_vs_time.png");
        self.chart_vs_time(metric, "nats per sample").save(&p)?;
        files.push(p);
        let p = dir.join("table.txt");
        crate::persist::write_atomic(&p, self.table().as_bytes())?;
        files.push(p);
        for r in &self.runs {
            if let Some(shape) = image_shape {
                let p = dir.join(format!("filters_{}.png", r.name));
                let mut m = Mosaic::filters(r.fitted.rbm.w.as_ref(), shape, 64)?;
                m.title = format!("{}: filters", r.name);
                m.save(&p)?;
                files.push(p);
            }
            let p = dir.join(format!("history_{}.json", r.name));
            let json = serde_json::to_vec_pretty(&r.fitted.history).map_err(|e| Error::Json {
                path: p.clone(),
                source: e,
            })?;
            crate::persist::write_atomic(&p, &json)?;
            files.push(p);
            let p = dir.join(format!("history_{}.csv", r.name));
            crate::persist::write_atomic(&p, r.fitted.history.to_csv().as_bytes())?;
            files.push(p);
        }
        Ok(files)
    }
}

/// Settings of the built-in demo.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// Methods compared.
    pub methods: Vec<Method>,
    /// Hidden units (small enough for exact likelihoods).
    pub n_hidden: usize,
    /// Epochs per method.
    pub epochs: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            methods: ["cd1", "pcd1", "mf", "tap2", "tap3"]
                .iter()
                .map(|m| m.parse().expect("built-in method names parse"))
                .collect(),
            n_hidden: 16,
            epochs: 30,
            seed: 1,
        }
    }
}

/// The main job: on the built-in digits (binarised at 0.5, 20 % held out), trains each method
/// with the same budget, and returns the comparison (exact held-out log-likelihood per epoch).
pub fn demo(cfg: &DemoConfig, progress: bool) -> Result<(Comparison<f64>, Dataset)> {
    let data = Dataset::digits().binarize(0.5);
    let (train, test) = data.split(0.2, cfg.seed)?;
    let base = TrainConfig::builder()
        .n_hidden(cfg.n_hidden)
        .epochs(cfg.epochs)
        .batch_size(20)
        .learning_rate(0.05)
        .momentum(0.5)
        .seed(cfg.seed)
        .monitor(crate::train::MonitorConfig {
            emf: true,
            ..Default::default()
        })
        .build()?;
    let cmp = compare::<f64>(&base, &cfg.methods, &train, &test, progress)?;
    Ok((cmp, train))
}
