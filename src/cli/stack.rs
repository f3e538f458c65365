//! `emf-rbm stack`: greedy layer-wise training of stacked RBMs, per-layer free energies and
//! RG-flow observables (the Mehta-Schwab experiment on 2D Ising data, or any data set). The
//! report itself is [`emf_rbm::stack::StackReport`].

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use emf_rbm::data::Dataset;
use emf_rbm::output::OutputPlan;
use emf_rbm::stack::{
    FreeEnergyOptions, IsingExperiment, Layout, Propagation, RgFlow, RgOptions, Stack, StackConfig,
    StackReport,
};
use emf_rbm::train::{Logger, Method, ProgressBar, Trainer};
use emf_rbm::{Error, Float, Result};

use super::common::{data_inputs, load_train_test};
use super::training::{TrainingArgs, DEFAULT_HELD_OUT};

/// Arguments of `stack`.
#[derive(Args, Debug)]
pub struct StackArgs {
    /// Train on this data set instead of Ising samples (same forms as `train --data`).
    #[arg(long)]
    pub data: Option<String>,
    /// Side L of the periodic L x L Ising lattice (ignored with --data).
    #[arg(long, default_value_t = 40)]
    pub ising_size: usize,
    /// Ising temperature(s) > 0, comma-separated (T_c = 2.269); one stack per temperature,
    /// each in its own subfolder `T<t>` when there are several (ignored with --data).
    #[arg(long, value_delimiter = ',', default_value = "2.27")]
    pub temperature: Vec<f64>,
    /// Ising samples per temperature (training + held-out; ignored with --data).
    #[arg(long, default_value_t = 10000)]
    pub samples: usize,
    /// Hidden-layer sizes, bottom first (e.g. 400,100,25 on a 40 x 40 lattice).
    #[arg(long, value_delimiter = ',', default_value = "400,100,25")]
    pub layers: Vec<usize>,
    /// Negative phase of every layer: cd<k>, pcd<k>, mf, tap2, tap3 (p prefix: persistent).
    #[arg(long, default_value = "cd1")]
    pub method: Method,
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Input of layer l+1: `mean-field` activations P(h|v) or `samples` of them.
    #[arg(long, default_value = "mean-field")]
    pub propagation: Propagation,
    /// Report: exact ln Z of a layer when min(n_visible, n_hidden) is at most this (at most
    /// 30; 2^25 states take a few seconds).
    #[arg(long, default_value_t = 20)]
    pub report_exact_max: usize,
    /// Report: AIS ln Z (with --ais-runs, --ais-betas) for the layers too large to enumerate
    /// (without it they get no likelihood).
    #[arg(long)]
    pub report_ais: bool,
    /// Report: bootstrap replicates of the free-energy gap's error bar (0: no error bar).
    #[arg(long, default_value_t = 200)]
    pub bootstrap: usize,
    /// Report: rows of training and held-out data in the per-layer free energies (>= 2).
    #[arg(long, default_value_t = 1000)]
    pub subset: usize,
    /// Layout of coarse units: `rf` (receptive-field centres) or `index`.
    #[arg(long, default_value = "rf")]
    pub layout: Layout,
    /// Held-out rows used for the RG observables (>= 1).
    #[arg(long, default_value_t = 2000)]
    pub observe_samples: usize,
    /// Skip the effective nearest-neighbour couplings.
    #[arg(long)]
    pub no_couplings: bool,
    /// Nearest-neighbour bonds (evenly spaced) averaged into each effective coupling (>= 1).
    #[arg(long, default_value_t = 400)]
    pub coupling_pairs: usize,
    /// Output folder (stack.json, layers.csv, observables.csv, summary.json, PNG plots).
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `stack`.
pub fn run(a: &StackArgs) -> Result<()> {
    if a.training.f32 {
        run_typed::<f32>(a)
    } else {
        run_typed::<f64>(a)
    }
}

/// Checks the stack's own flags (the training flags are checked by `to_config`).
fn check(a: &StackArgs) -> Result<()> {
    if a.layers.is_empty() || a.layers.contains(&0) {
        return Err(Error::param(
            "layers",
            "give at least one hidden-layer size, each >= 1",
        ));
    }
    if a.data.is_none() {
        if let Some(t) = a.temperature.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
            return Err(Error::param(
                "temperature",
                format!("every temperature must be finite and > 0, got {t}"),
            ));
        }
        if a.temperature.is_empty() {
            return Err(Error::param("temperature", "give at least one temperature"));
        }
    }
    for (name, value, min) in [
        ("subset", a.subset, 2),
        ("observe-samples", a.observe_samples, 1),
        ("coupling-pairs", a.coupling_pairs, 1),
    ] {
        if value < min {
            return Err(Error::param(name, format!("must be >= {min}, got {value}")));
        }
    }
    if a.report_exact_max > emf_rbm::estimate::exact::MAX_ENUMERATED_UNITS {
        return Err(Error::param(
            "report-exact-max",
            format!(
                "exact enumeration is limited to {} units",
                emf_rbm::estimate::exact::MAX_ENUMERATED_UNITS
            ),
        ));
    }
    Ok(())
}

fn stack_config(a: &StackArgs) -> Result<StackConfig> {
    check(a)?;
    let base = a.training.to_config(a.layers[0], &a.method)?;
    StackConfig::builder()
        .sizes(&base, &a.layers)
        .propagation(a.propagation)
        .seed(a.training.seed)
        .build()
}

fn analysis_options(a: &StackArgs) -> Result<(FreeEnergyOptions, RgOptions)> {
    let seed = a.training.seed;
    let ais = if a.report_ais {
        Some(a.training.ais_settings.config()?.ais_config(seed))
    } else {
        None
    };
    let fe = FreeEnergyOptions {
        subset: a.subset,
        bootstrap: a.bootstrap,
        seed,
        propagation: Some(a.propagation),
        exact_max_units: a.report_exact_max,
        ais,
        ..FreeEnergyOptions::default()
    };
    let rg = RgOptions {
        seed,
        max_samples: a.observe_samples,
        layout: a.layout,
        couplings: !a.no_couplings,
        max_coupling_pairs: a.coupling_pairs,
        ..RgOptions::default()
    };
    Ok((fe, rg))
}

fn prepare<T: Float>(a: &StackArgs, layer: usize, t: Trainer<T>) -> Trainer<T> {
    eprintln!(
        "layer {}: {} hidden units, {}",
        layer + 1,
        t.config().n_hidden,
        t.config().method
    );
    if a.training.log {
        t.with_observer(Logger::stderr())
    } else if a.training.quiet {
        t
    } else {
        t.with_observer(ProgressBar::new(format!("layer {}", layer + 1)))
    }
}

fn run_typed<T: Float>(a: &StackArgs) -> Result<()> {
    let cfg = stack_config(a)?;
    let (fe_opts, rg_opts) = analysis_options(a)?;
    if let Some(spec) = &a.data {
        return run_on_data::<T>(a, spec, &cfg, &fe_opts, &rg_opts);
    }
    let held_out_fraction = a
        .training
        .held_out_fraction(false)?
        .unwrap_or(DEFAULT_HELD_OUT);
    ising_outputs(a).check()?;
    let mut flow = RgFlow::default();
    for &t in &a.temperature {
        let dir = temperature_folder(a, t);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut exp = IsingExperiment::new(a.ising_size, t, a.samples, cfg.clone());
        exp.held_out_fraction = held_out_fraction;
        exp.ising_seed = a.training.seed;
        exp.free_energy = fe_opts.clone();
        exp.rg = rg_opts.clone();
        eprintln!(
            "T = {t}: {} samples of the {L}x{L} Ising model, stack {:?}",
            a.samples,
            a.layers,
            L = a.ising_size
        );
        let run = exp.run_with::<T>(|l, tr| prepare(a, l, tr))?;
        eprintln!(
            "T = {t}: sampling {:.1} s, training {:.1} s, analysis {:.1} s",
            run.sampling_seconds, run.training_seconds, run.analysis_seconds
        );
        let report = StackReport::new(
            &run.stack,
            run.free_energies,
            run.observables,
            Some(run.reference),
        );
        print!("{}", report.table());
        report.save(&dir, &run.stack, Some((a.ising_size, a.ising_size)))?;
        eprintln!("results written to {}", dir.display());
        if let Some(reference) = report.reference {
            flow.points.push((t, report.observables, reference));
        }
    }
    if flow.points.len() > 1 {
        flow.save(&a.out)?;
        eprintln!("RG flow across temperatures written to {}", a.out.display());
    }
    Ok(())
}

/// `stack --data`: one stack on a data set.
fn run_on_data<T: Float>(
    a: &StackArgs,
    spec: &str,
    cfg: &StackConfig,
    fe_opts: &FreeEnergyOptions,
    rg_opts: &RgOptions,
) -> Result<()> {
    let inputs = data_inputs(spec)?;
    let (train, held_out) = load_train_test(spec, &a.training)?;
    let names = StackReport::file_names(a.layers.len(), input_shape(&train).is_some());
    OutputPlan::new()
        .inputs(inputs)
        .folder(&a.out)
        .files(names.iter().map(|n| a.out.join(n)))
        .check()?;
    std::fs::create_dir_all(&a.out).map_err(|e| Error::io(&a.out, e))?;
    eprintln!(
        "stack {:?} on {} ({} x {}), held out {}",
        a.layers,
        train.name(),
        train.n_samples(),
        train.n_features(),
        held_out.n_samples()
    );
    let t0 = Instant::now();
    let stack = Stack::<T>::fit_with(cfg, &train, Some(&held_out), |l, t| prepare(a, l, t))?;
    let train_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let fe = stack.free_energies(&train, &held_out, fe_opts)?;
    let obs = stack.rg_observables(&held_out, rg_opts)?;
    eprintln!(
        "trained in {train_s:.1} s, analysed in {:.1} s",
        t1.elapsed().as_secs_f64()
    );
    let report = StackReport::new(&stack, fe, obs, None);
    print!("{}", report.table());
    report.save(&a.out, &stack, input_shape(&train))?;
    eprintln!("results written to {}", a.out.display());
    Ok(())
}

/// The folder of the stack at temperature `t`: `--out`, or its subfolder `T<t>` when there
/// are several temperatures.
fn temperature_folder(a: &StackArgs, t: f64) -> PathBuf {
    if a.temperature.len() > 1 {
        a.out.join(format!("T{t}"))
    } else {
        a.out.clone()
    }
}

/// The folders and files of the Ising experiment (one stack per temperature, the RG flow).
fn ising_outputs(a: &StackArgs) -> OutputPlan {
    let mut plan = OutputPlan::new().folder(&a.out);
    for &t in &a.temperature {
        let dir = temperature_folder(a, t);
        let names = StackReport::file_names(a.layers.len(), true);
        plan = plan.folder(&dir).files(names.iter().map(|n| dir.join(n)));
    }
    if a.temperature.len() > 1 {
        plan = plan.files(RgFlow::file_names().iter().map(|n| a.out.join(n)));
    }
    plan
}

/// The data's lattice: its image shape, or a square when the feature count is one.
fn input_shape(d: &Dataset) -> Option<(usize, usize)> {
    d.image_shape().or_else(|| {
        let s = (d.n_features() as f64).sqrt().round() as usize;
        (s * s == d.n_features()).then_some((s, s))
    })
}
