//! `emf-rbm compare`: several methods on the same data, seed and budget.

use std::path::PathBuf;

use clap::Args;

use emf_rbm::compare::{compare_with, AisSchedule, CompareOptions, Comparison};
use emf_rbm::estimate::ais::{AisConfig, BetaSchedule};
use emf_rbm::train::{Method, MonitorConfig, Schedule, TrainConfig};
use emf_rbm::{Float, Result};

use super::common::{load_train_test, Binarize};

/// Arguments of `compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Data (as for `train`): `digits`, a MNIST folder, an IDX(.gz) or CSV file.
    #[arg(long, default_value = "digits")]
    pub data: String,
    /// Methods, comma-separated (cd<k>, pcd<k>, mf, tap2, tap3, pmf, ptap2, ptap3).
    #[arg(long, value_delimiter = ',', default_value = "cd1,pcd1,mf,tap2,tap3")]
    pub methods: Vec<Method>,
    /// Hidden units.
    #[arg(long, default_value_t = 16)]
    pub hidden: usize,
    /// Epochs per method.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = 20)]
    pub batch: usize,
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
    /// Seed (the same for every method).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Binarisation: threshold in [0, 1], `stochastic` or `none`.
    #[arg(long, default_value = "0.5")]
    pub binarize: Binarize,
    /// Held-out fraction when the data has no test part.
    #[arg(long, default_value_t = 0.2)]
    pub validation: f64,
    /// Train in f32.
    #[arg(long)]
    pub f32: bool,
    /// Training rows used by the per-epoch monitor.
    #[arg(long, default_value_t = 1000)]
    pub monitor_subset: usize,
    /// Skip the per-epoch TAP/EMF estimates.
    #[arg(long)]
    pub no_emf: bool,
    /// AIS estimates at these epochs (comma-separated; the last epoch is always included).
    /// Without this flag AIS runs only when exact enumeration is infeasible (at the last epoch).
    #[arg(long, value_delimiter = ',')]
    pub ais_epochs: Option<Vec<usize>>,
    /// AIS runs.
    #[arg(long, default_value_t = 100)]
    pub ais_runs: usize,
    /// AIS temperatures: `standard` (14 500) or a count split like the standard schedule.
    #[arg(long, default_value = "standard")]
    pub ais_betas: String,
    /// Output folder (histories as JSON and CSV, table, plots).
    #[arg(long, default_value = "compare-output")]
    pub out: PathBuf,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `compare`.
pub fn run(a: &CompareArgs) -> Result<()> {
    if a.f32 {
        run_typed::<f32>(a)
    } else {
        run_typed::<f64>(a)
    }
}

fn run_typed<T: Float>(a: &CompareArgs) -> Result<()> {
    let (train, held_out) = load_train_test(&a.data, &a.binarize, a.validation, a.seed)?;
    let monitor = MonitorConfig {
        every: 1,
        subset: a.monitor_subset,
        exact_max_units: 20,
        emf: !a.no_emf,
    };
    let cfg = TrainConfig::builder()
        .n_hidden(a.hidden)
        .epochs(a.epochs)
        .batch_size(a.batch)
        .learning_rate(a.lr)
        .schedule(if a.lr_decay < 1.0 {
            Schedule::Exponential { gamma: a.lr_decay }
        } else {
            Schedule::Constant
        })
        .momentum(a.momentum)
        .l2(a.decay)
        .seed(a.seed)
        .monitor(monitor)
        .build()?;
    let exact_feasible = train.n_features().min(a.hidden) <= cfg.monitor.exact_max_units;
    let ais = if a.ais_epochs.is_some() || !exact_feasible {
        let schedule = match a.ais_betas.as_str() {
            "standard" => BetaSchedule::default(),
            n => BetaSchedule::Count(n.parse().map_err(|_| {
                emf_rbm::Error::param(
                    "ais_betas",
                    format!("expected `standard` or a count, got `{n}`"),
                )
            })?),
        };
        Some(AisSchedule {
            config: AisConfig {
                schedule,
                runs: a.ais_runs,
                seed: a.seed,
                ..AisConfig::default()
            },
            epochs: a.ais_epochs.clone().unwrap_or_default(),
        })
    } else {
        None
    };
    eprintln!(
        "compare {} on {} ({} x {}, held out {}), {} hidden units, {} epochs, {}{}",
        a.methods
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", "),
        train.name(),
        train.n_samples(),
        train.n_features(),
        held_out.n_samples(),
        a.hidden,
        a.epochs,
        T::NAME,
        if ais.is_some() { ", AIS" } else { "" }
    );
    let opts = CompareOptions {
        progress: !a.quiet,
        ais,
    };
    let cmp: Comparison<T> = compare_with(&cfg, &a.methods, &train, &held_out, &opts)?;
    print!("{}", cmp.table());
    let files = cmp.save(&a.out, train.image_shape())?;
    eprintln!("wrote {} files into {}", files.len(), a.out.display());
    Ok(())
}
