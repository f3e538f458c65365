//! Side-by-side training of several negative phases on the same data, seed and budget, with
//! the exact held-out log-likelihood as the referee (or, for models too large to enumerate,
//! the AIS / RAISE bracket around it). What each run
//! measures is the base configuration's monitor ([`crate::train::metrics`]); the table, the
//! plots and the saved files read it through typed keys ([`crate::train::keys`]). The `demo`
//! and `compare` commands and the notebooks are thin layers over this module.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::checked::checked_builder;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::estimate::metrics::Estimate;
use crate::float::Float;
use crate::plot::{LineChart, Mosaic};
use crate::tap::TapOrder;
use crate::train::keys::{self, Key, MetricData};
use crate::train::metrics::{EmfConfig, MetricKind, MonitorConfig, TapLnZConfig};
use crate::train::tap_estimates::{TapEstimates, EMF_HELD_OUT};
use crate::train::{Fitted, Logger, Method, ProgressBar, TrainConfig, Trainer};

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

/// Options of [`compare_with`] (how the runs are shown; what they measure is the base
/// configuration's monitor, e.g. an AIS metric for models too large to enumerate).
#[derive(Clone, Debug, Default)]
pub struct CompareOptions {
    /// Draw a progress bar per method.
    pub progress: bool,
    /// Log one line of metrics per monitored epoch (stderr).
    pub log: bool,
    /// Score the TAP estimates of every run against the exact values and record the EMF
    /// likelihood of the held-out set ([`TapEstimates`]; pair it with a monitor from
    /// [`TapEstimates::monitor`]), for [`Comparison::tap_table`].
    pub tap_estimates: bool,
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

/// [`compare`] with options (progress bars, logging, TAP estimates).
pub fn compare_with<T: Float>(
    base: &TrainConfig,
    methods: &[Method],
    train: &Dataset,
    held_out: &Dataset,
    opts: &CompareOptions,
) -> Result<Comparison<T>> {
    let runs: Vec<(String, Method)> = methods.iter().map(|m| (m.name(), m.clone())).collect();
    compare_labelled(base, &runs, train, held_out, opts)
}

/// [`compare_with`] with a label per run (for example two runs of one method with different
/// solver settings).
pub fn compare_labelled<T: Float>(
    base: &TrainConfig,
    runs: &[(String, Method)],
    train: &Dataset,
    held_out: &Dataset,
    opts: &CompareOptions,
) -> Result<Comparison<T>> {
    if runs.is_empty() {
        return Err(Error::param(
            "methods",
            "give at least one method to compare",
        ));
    }
    let mut out = Vec::new();
    for (name, m) in runs {
        let mut cfg = base.clone();
        cfg.method = m.clone();
        cfg.validate()?;
        let mut trainer = Trainer::<T>::new(cfg);
        if opts.progress {
            trainer = trainer.with_observer(ProgressBar::new(name.clone()));
        }
        if opts.log {
            trainer = trainer.with_observer(Logger::stderr());
        }
        if opts.tap_estimates {
            trainer = trainer.with_observer(TapEstimates::new(held_out));
        }
        let t0 = Instant::now();
        let fitted = trainer.fit(train, Some(held_out))?;
        out.push(MethodRun {
            name: name.clone(),
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
        runs: out,
    })
}

impl<T: Float> Comparison<T> {
    /// A plain-text table of the TAP estimates, one row per method, at the last record: the
    /// exact held-out log-likelihood; the one implied by the TAP2 ln Z estimate with its
    /// converged particles; the EMF estimate ([`EMF_HELD_OUT`], recorded by
    /// [`TapEstimates`]); both minus the exact
    /// value; the mean fixed-point sweeps and largest residual of the training updates
    /// (TAP methods); train and wall seconds. `-`: not measured.
    pub fn tap_table(&self) -> String {
        let f =
            |x: Option<f64>, w: usize| x.map_or(format!("{:>w$}", "-"), |v| format!("{v:>w$.3}"));
        let mut s = format!(
            "{:<10} {:>9} {:>9} {:>7} {:>9} {:>12} {:>9} {:>7} {:>9} {:>8} {:>7}\n",
            "method",
            "exact LL",
            "TAP2 LL",
            "conv.",
            "EMF LL",
            "TAP2-exact",
            "EMF-exact",
            "sweeps",
            "residual",
            "train s",
            "wall s"
        );
        for r in &self.runs {
            let Some(e) = r.fitted.history.last() else {
                continue;
            };
            let ll = e.log_likelihood_held_out;
            let tap2 = e.get(&keys::tap_log_likelihood_held_out(TapOrder::Tap2));
            let t2 = tap2.as_ref().and_then(|t| t.value);
            let conv = tap2.map_or("-".to_string(), |t| {
                format!("{}/{}", t.n_converged, t.n_particles)
            });
            let emf = e.get(&EMF_HELD_OUT);
            let minus_exact = |x: Option<f64>| Some(x? - ll?);
            s.push_str(&format!(
                "{:<10} {} {} {:>7} {} {} {} {} {} {:>8.2} {:>7.2}\n",
                r.name,
                f(ll, 9),
                f(t2, 9),
                conv,
                f(emf, 9),
                f(minus_exact(t2), 12),
                f(minus_exact(emf), 9),
                e.sweeps_mean
                    .map_or(format!("{:>7}", "-"), |v| format!("{v:>7.1}")),
                e.residual_max
                    .map_or(format!("{:>9}", "-"), |v| format!("{v:>9.1e}")),
                r.train_seconds(),
                r.wall_seconds
            ));
        }
        s
    }

    /// A plain-text table, one row per method, of the last record: the exact held-out
    /// log-likelihood; the forward AIS one (tends to overestimate) and the RAISE one (a
    /// stochastic lower bound), on the same held-out rows, each with its interval and
    /// effective sample size (`ESS e/M`, followed by `!` when below
    /// [`LOW_ESS_FRACTION`](crate::estimate::metrics::LOW_ESS_FRACTION) of `M`, with a note
    /// under the table); the likelihood implied by the TAP2 ln Z estimate with its converged
    /// particles (`(c/n)`; the value is `-` when none converged); the EMF estimate; train
    /// and wall seconds. `-`: not measured.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<10} {:>14} {:>38} {:>38} {:>22} {:>14} {:>10} {:>10}\n",
            "method",
            "held-out LL",
            "AIS LL [3 s.e.] ESS",
            "RAISE LL [3 s.e.] ESS",
            "TAP2-est. LL (conv.)",
            "EMF LL",
            "train s",
            "wall s"
        );
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
        let mut low = false;
        let mut interval = |e: Option<Estimate>| {
            e.map_or("-".to_string(), |e| {
                low |= e.low_ess();
                format!(
                    "{:.2} [{}, {}] ESS {:.0}/{}{}",
                    e.value,
                    f(Some(e.lower)),
                    f(Some(e.upper)),
                    e.ess,
                    e.runs,
                    if e.low_ess() { "!" } else { "" }
                )
            })
        };
        let mut rows = String::new();
        for r in &self.runs {
            let last = r.fitted.history.last();
            let ais = interval(last.and_then(|l| l.get(&keys::AIS_LOG_LIKELIHOOD_HELD_OUT)));
            let raise = interval(last.and_then(|l| l.get(&keys::RAISE_LOG_LIKELIHOOD_HELD_OUT)));
            let tap = last
                .and_then(|l| l.get(&keys::tap_log_likelihood_held_out(TapOrder::Tap2)))
                .map_or("-".to_string(), |t| {
                    format!("{} ({}/{})", f(t.value), t.n_converged, t.n_particles)
                });
            rows.push_str(&format!(
                "{:<10} {:>14} {:>38} {:>38} {:>22} {:>14} {:>10.2} {:>10.2}\n",
                r.name,
                f(last.and_then(|l| l.get(&keys::LOG_LIKELIHOOD_HELD_OUT))),
                ais,
                raise,
                tap,
                f(last.and_then(|l| l.get(&keys::EMF_LOG_LIKELIHOOD))),
                r.train_seconds(),
                r.wall_seconds
            ));
        }
        s.push_str(&rows);
        if low {
            s.push_str(&format!(
                "!: effective sample size below {} of the runs (rows for RAISE): the interval \
                 is not to be trusted; lengthen the schedule (--ais-betas)\n",
                crate::estimate::metrics::LOW_ESS_FRACTION
            ));
        }
        s
    }

    /// Several metrics in one chart against epoch (or cumulative training time when
    /// `vs_time`), one line per method and metric, labelled `<method> <label>`.
    pub fn chart_keys<V: MetricData>(
        &self,
        keys: &[(Key<V>, &str)],
        title: &str,
        y_label: &str,
        vs_time: bool,
    ) -> LineChart {
        let x_label = if vs_time {
            "training time (s)"
        } else {
            "epoch"
        };
        let mut c = LineChart::new(title, x_label, y_label);
        if !vs_time {
            c = c.integer_x();
        }
        for r in &self.runs {
            for (key, label) in keys {
                let pts = r
                    .fitted
                    .history
                    .epochs
                    .iter()
                    .filter_map(|e| {
                        let x = if vs_time {
                            e.train_seconds
                        } else {
                            e.epoch as f64
                        };
                        Some((x, e.get(key)?.into().point()?))
                    })
                    .collect();
                c = c.series(&format!("{} {label}", r.name), pts);
            }
        }
        c
    }

    /// A chart of the metric `key` against epoch, one line per method.
    pub fn chart<V: MetricData>(&self, key: &Key<V>, y_label: &str) -> LineChart {
        let title = format!("{} on {}", key.name(), self.data);
        let mut c = LineChart::new(&title, "epoch", y_label).integer_x();
        for r in &self.runs {
            c = c.series(&r.name, r.fitted.history.series(key));
        }
        c
    }

    /// A chart of the metric `key` against cumulative training time (seconds).
    pub fn chart_vs_time<V: MetricData>(&self, key: &Key<V>, y_label: &str) -> LineChart {
        let title = format!("{} vs time", key.name());
        let mut c = LineChart::new(&title, "training time (s)", y_label);
        for r in &self.runs {
            let pts = r
                .fitted
                .history
                .epochs
                .iter()
                .filter_map(|e| Some((e.train_seconds, e.get(key)?.into().point()?)))
                .collect();
            c = c.series(&r.name, pts);
        }
        c
    }

    /// Writes into `dir`: `table.txt`, `ll_vs_epoch.png` and `ll_vs_time.png` (the exact
    /// held-out log-likelihood, else the AIS and RAISE ones, else the pseudo-likelihood), and
    /// per method
    /// `model_<method>.json` (the trained model with its history, readable by
    /// [`persist::load_model_file`](crate::persist::load_model_file)),
    /// `history_<method>.json` / `.csv` and, when the data has an image shape,
    /// `filters_<method>.png`. Returns the files written.
    pub fn save(&self, dir: &Path, image_shape: Option<(usize, usize)>) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut files = Vec::new();
        let has = |name: &str| {
            self.runs.iter().any(|r| {
                r.fitted
                    .history
                    .epochs
                    .iter()
                    .any(|e| e.value(name).is_some())
            })
        };
        let (epoch_chart, time_chart) = if has(keys::LOG_LIKELIHOOD_HELD_OUT.name()) {
            let k = &keys::LOG_LIKELIHOOD_HELD_OUT;
            (
                self.chart(k, "nats per sample"),
                self.chart_vs_time(k, "nats per sample"),
            )
        } else if has(keys::AIS_LOG_LIKELIHOOD_HELD_OUT.name()) {
            let k = [
                (keys::AIS_LOG_LIKELIHOOD_HELD_OUT, "AIS"),
                (keys::RAISE_LOG_LIKELIHOOD_HELD_OUT, "RAISE"),
            ];
            let title = format!("held-out LL, AIS (above) and RAISE (below), {}", self.data);
            (
                self.chart_keys(&k, &title, "nats per sample", false),
                self.chart_keys(
                    &k,
                    "held-out LL, AIS and RAISE, vs time",
                    "nats per sample",
                    true,
                ),
            )
        } else {
            let k = &keys::PSEUDO_LOG_LIKELIHOOD;
            (
                self.chart(k, "nats per sample"),
                self.chart_vs_time(k, "nats per sample"),
            )
        };
        let p = dir.join("ll_vs_epoch.png");
        epoch_chart.save(&p)?;
        files.push(p);
        let p = dir.join("ll_vs_time.png");
        time_chart.save(&p)?;
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
            let p = dir.join(format!("model_{}.json", r.name));
            crate::persist::save_rbm(&p, &r.fitted.rbm, Some(&r.fitted.history))?;
            files.push(p);
            let p = dir.join(format!("history_{}.json", r.name));
            crate::persist::save_history(&p, &r.fitted.history)?;
            files.push(p);
            let p = dir.join(format!("history_{}.csv", r.name));
            crate::persist::write_atomic(&p, r.fitted.history.to_csv().as_bytes())?;
            files.push(p);
        }
        Ok(files)
    }
}

/// Reads a study summary (`results/mnist-study/summary.json`, written by that study's
/// `summarize.rs`), naming the file in any error.
pub fn read_study_summary(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::param("summary", format!("{}: not JSON: {e}", path.display())))?;
    if !v["methods"].is_array() {
        return Err(Error::param(
            "summary",
            format!("{}: no `methods` list: not a study summary", path.display()),
        ));
    }
    Ok(v)
}

/// A Markdown table of a study summary, one row per method at its last scored epoch: rate,
/// seeds, epoch, forward AIS and RAISE log-likelihoods (mean over seeds [per seed]), the
/// smallest AIS ESS, TAP2 minus AIS, EMF minus AIS (on training rows), seconds per epoch
/// (`seconds_per_epoch_quiet` when measured, else the runs' own), read-out accuracy.
///
/// ```
/// let s = serde_json::json!({"methods": [{"method": "cd1", "lr": 0.01,
///     "checkpoints": [{"epoch": 5, "seeds": 2, "ais_ll": {"mean": -100.0, "per_seed": [-99.0, -101.0],
///     "ess": 20.0, "ess_of": 100}, "seconds_per_epoch": 1.5}]}]});
/// let t = emf_rbm::compare::study_table(&s);
/// assert!(t.contains("| cd1 | 0.01 | 2 | 5 | -100.00 [-99.00, -101.00] |"), "{t}");
/// ```
pub fn study_table(summary: &serde_json::Value) -> String {
    use serde_json::Value;
    let mut t = String::from(
        "| method | lr | seeds | epoch | AIS LL | RAISE LL | AIS ESS (min) | TAP2 - AIS | \
         EMF - AIS (train rows) | s / epoch | read-out accuracy |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let f = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2}"));
    for m in summary["methods"].as_array().into_iter().flatten() {
        let Some(last) = m["checkpoints"].as_array().and_then(|c| c.last()) else {
            continue;
        };
        let per_seed = |k: &str| {
            let v: Vec<String> = (last[k]["per_seed"].as_array().into_iter().flatten())
                .map(f)
                .collect();
            format!("{} [{}]", f(&last[k]["mean"]), v.join(", "))
        };
        let quiet = &m["seconds_per_epoch_quiet"]["median"];
        let seconds = if quiet.is_number() {
            quiet
        } else {
            &last["seconds_per_epoch"]
        };
        let readout = m["readout_test_accuracy"]["mean"].as_f64();
        t += &format!(
            "| {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} |\n",
            m["method"].as_str().unwrap_or("?"),
            m["lr"],
            last["seeds"],
            last["epoch"],
            per_seed("ais_ll"),
            per_seed("raise_ll"),
            f(&last["ais_ll"]["ess"]),
            last["ais_ll"]["ess_of"],
            f(&last["tap2_ll_minus_ais_ll"]),
            f(&last["emf_ll_minus_ais_ll_train_subset"]),
            f(seconds),
            readout.map_or("-".to_string(), |a| format!("{:.2} %", 100.0 * a)),
        );
    }
    t
}

/// The files [`Comparison::save`] writes into `dir` for runs named `names` (the method names,
/// e.g. `cd1`), with the filter mosaics when `images` (the data has an image shape): for
/// checking the outputs before training ([`crate::output::OutputPlan`]).
///
/// ```
/// let files = emf_rbm::compare::output_files("out".as_ref(), &["cd1".to_string()], false);
/// assert!(files.contains(&std::path::PathBuf::from("out/model_cd1.json")));
/// ```
pub fn output_files(dir: &Path, names: &[String], images: bool) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["ll_vs_epoch.png", "ll_vs_time.png", "table.txt"]
        .iter()
        .map(|f| dir.join(f))
        .collect();
    for name in names {
        if images {
            files.push(dir.join(format!("filters_{name}.png")));
        }
        for f in ["model_{}.json", "history_{}.json", "history_{}.csv"] {
            files.push(dir.join(f.replace("{}", name)));
        }
    }
    files
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

impl DemoConfig {
    /// Checks the settings: at least one method, each valid; at least one hidden unit and one
    /// epoch.
    pub fn validate(&self) -> Result<()> {
        if self.methods.is_empty() {
            return Err(Error::param("methods", "at least one method is needed"));
        }
        for m in &self.methods {
            m.validate()?;
        }
        if self.n_hidden == 0 {
            return Err(Error::param("n_hidden", "must be >= 1"));
        }
        if self.epochs == 0 {
            return Err(Error::param("epochs", "must be >= 1"));
        }
        Ok(())
    }
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
    cfg.validate()?;
    let data = Dataset::digits().binarize(0.5);
    let (train, test) = data.split(0.2, cfg.seed)?;
    let base = TrainConfig::builder()
        .n_hidden(cfg.n_hidden)
        .epochs(cfg.epochs)
        .batch_size(20)
        .learning_rate(0.05)
        .momentum(0.5)
        .seed(cfg.seed)
        .monitor(
            MonitorConfig::builder()
                .metric(MetricKind::EmfLogLikelihood(EmfConfig::default()))
                // Converged TAP2 fixed points from 200 rows take a few hundred sweeps: every
                // 5 epochs (and the last) keeps the demo at a few seconds per method.
                .metric(crate::train::MetricConfig {
                    at: crate::train::Cadence::Every(5),
                    kind: MetricKind::TapLnZ(TapLnZConfig::default()),
                })
                .build()?,
        )
        .build()?;
    let cmp = compare::<f64>(&base, &cfg.methods, &train, &test, progress)?;
    Ok((cmp, train))
}

checked_builder!(
    /// Builder of [`DemoConfig`] (starts from the defaults; `build()` checks every value).
    DemoConfigBuilder for DemoConfig {
        /// Methods compared.
        methods: Vec<Method>,
        /// Hidden units (small enough for exact likelihoods).
        n_hidden: usize,
        /// Epochs per method.
        epochs: usize,
        /// Seed.
        seed: u64,
    }
);
