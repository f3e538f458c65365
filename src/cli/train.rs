//! `emf-rbm train`.

use std::path::PathBuf;

use clap::Args;

use emf_rbm::persist;
use emf_rbm::plot::Mosaic;
use emf_rbm::train::{
    Checkpoint, Fitted, Logger, Method, MonitorConfig, ProgressBar, Schedule, TrainConfig, Trainer,
};
use emf_rbm::{Float, Result};

use super::common::{load_train_test, Binarize};

/// Arguments of `train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Data: `digits` (built-in), a folder with the four MNIST files, an IDX/IDX.gz image
    /// file, or a CSV file.
    #[arg(long, default_value = "digits")]
    pub data: String,
    /// Number of hidden units.
    #[arg(long, default_value_t = 16)]
    pub hidden: usize,
    /// Negative phase: cd<k>, pcd<k>, mf, tap2, tap3 (TAP/EMF, paper settings), or
    /// pmf, ptap2, ptap3 (persistent TAP particles).
    #[arg(long, default_value = "cd1")]
    pub method: Method,
    /// TAP methods: fixed-point sweeps per update (default 3, the paper's).
    #[arg(long)]
    pub sweeps: Option<usize>,
    /// TAP methods: damping d in [0, 1), m <- d m_old + (1 - d) f(m) (default 0.5).
    #[arg(long)]
    pub damping: Option<f64>,
    /// TAP methods: stop the sweeps once max |dm| is below this (default 0: never early).
    #[arg(long)]
    pub tolerance: Option<f64>,
    /// Also record the TAP/EMF estimates (EMF log-likelihood, TAP2 ln Z) every epoch.
    #[arg(long)]
    pub emf: bool,
    /// Epochs.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.05)]
    pub lr: f64,
    /// Learning-rate decay per epoch (exponential factor in (0, 1]; 1 = constant).
    #[arg(long, default_value_t = 1.0)]
    pub lr_decay: f64,
    /// Momentum.
    #[arg(long, default_value_t = 0.5)]
    pub momentum: f64,
    /// L2 weight decay.
    #[arg(long, default_value_t = 0.0)]
    pub decay: f64,
    /// L1 penalty on the weights.
    #[arg(long, default_value_t = 0.0)]
    pub l1: f64,
    /// Minibatch size.
    #[arg(long, default_value_t = 20)]
    pub batch: usize,
    /// Seed (initialisation, shuffling, sampling).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Binarisation: a threshold in [0, 1], `stochastic`, or `none`.
    #[arg(long, default_value = "0.5")]
    pub binarize: Binarize,
    /// Held-out fraction when the data has no test part.
    #[arg(long, default_value_t = 0.1)]
    pub validation: f64,
    /// Train in f32 (faster GEMMs) instead of f64.
    #[arg(long)]
    pub f32: bool,
    /// Measure metrics every N epochs (0 = never).
    #[arg(long, default_value_t = 1)]
    pub monitor_every: usize,
    /// Exact log-likelihood when min(n_visible, n_hidden) is at most this.
    #[arg(long, default_value_t = 20)]
    pub exact_max: usize,
    /// Save a checkpoint every N epochs (to the output path).
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Write a filter mosaic PNG here (image data only).
    #[arg(long)]
    pub filters: Option<PathBuf>,
    /// Print one line of metrics per epoch instead of a progress bar.
    #[arg(long)]
    pub log: bool,
    /// Output model file.
    #[arg(long, default_value = "model.json")]
    pub out: PathBuf,
}

/// Runs `train`.
pub fn run(a: &TrainArgs) -> Result<()> {
    if a.f32 {
        run_typed::<f32>(a)
    } else {
        run_typed::<f64>(a)
    }
}

fn run_typed<T: Float>(a: &TrainArgs) -> Result<()> {
    let (train, held_out) = load_train_test(&a.data, &a.binarize, a.validation, a.seed)?;
    let schedule = if a.lr_decay < 1.0 {
        Schedule::Exponential { gamma: a.lr_decay }
    } else {
        Schedule::Constant
    };
    let mut method = a.method.clone();
    match &mut method {
        Method::Tap(t) => {
            if let Some(s) = a.sweeps {
                t.sweeps = s;
            }
            if let Some(d) = a.damping {
                t.damping = d;
            }
            if let Some(tol) = a.tolerance {
                t.tolerance = tol;
            }
        }
        _ if a.sweeps.is_some() || a.damping.is_some() || a.tolerance.is_some() => {
            return Err(emf_rbm::Error::param(
                "sweeps",
                "--sweeps, --damping and --tolerance apply to the TAP methods only",
            ));
        }
        _ => {}
    }
    let cfg = TrainConfig::builder()
        .n_hidden(a.hidden)
        .method(method)
        .epochs(a.epochs)
        .learning_rate(a.lr)
        .schedule(schedule)
        .momentum(a.momentum)
        .l2(a.decay)
        .l1(a.l1)
        .batch_size(a.batch)
        .seed(a.seed)
        .monitor(MonitorConfig {
            every: a.monitor_every,
            subset: 1000,
            exact_max_units: a.exact_max,
            emf: a.emf,
        })
        .build()?;
    eprintln!(
        "training {} hidden units with {} on {} ({} x {}), held out {}",
        a.hidden,
        a.method,
        train.name(),
        train.n_samples(),
        train.n_features(),
        held_out.n_samples()
    );
    let mut trainer = Trainer::<T>::new(cfg);
    trainer = if a.log {
        trainer.with_observer(Logger::stderr())
    } else {
        trainer.with_observer(ProgressBar::new(a.method.name()))
    };
    if let Some(n) = a.checkpoint_every {
        trainer = trainer.with_observer(Checkpoint::new(n, a.out.clone()));
    }
    let Fitted { rbm, history } = trainer.fit(&train, Some(&held_out))?;
    persist::save_rbm(&a.out, &rbm, Some(&history))?;
    eprintln!(
        "trained {} epochs in {:.2} s ({:.2} s per epoch, {})",
        history.epochs_trained,
        history.train_seconds,
        history.train_seconds / history.epochs_trained.max(1) as f64,
        T::NAME
    );
    if let Some(last) = history.last() {
        let f = |x: Option<f64>| x.map_or("-".into(), |v: f64| format!("{v:.4}"));
        eprintln!(
            "epoch {}: train {:.2}s, held-out LL {}, train LL {}, recon {}, free-energy gap {}",
            last.epoch,
            last.train_seconds,
            f(last.log_likelihood_held_out),
            f(last.log_likelihood_train),
            f(last.reconstruction_error),
            f(last.free_energy_gap())
        );
    }
    if let Some(p) = &a.filters {
        match train.image_shape() {
            Some(shape) => {
                Mosaic::filters(rbm.w.as_ref(), shape, 100)?.save(p)?;
                eprintln!("filters written to {}", p.display());
            }
            None => eprintln!("--filters ignored: the data has no image shape"),
        }
    }
    eprintln!("model written to {}", a.out.display());
    Ok(())
}
