//! `emf-rbm stack`: greedy layer-wise training of stacked RBMs, per-layer free energies and
//! RG-flow observables (the Mehta-Schwab experiment on 2D Ising data, or any data set).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use emf_rbm::data::Dataset;
use emf_rbm::estimate::ais::{AisConfig, BetaSchedule};
use emf_rbm::faer::Mat;
use emf_rbm::persist::write_atomic;
use emf_rbm::plot::{LineChart, Mosaic};
use emf_rbm::stack::{
    FreeEnergyOptions, IsingExperiment, IsingReference, LayerFreeEnergy, LayerObservables, Layout,
    Propagation, RgOptions, Stack, StackConfig,
};
use emf_rbm::train::{Logger, Method, MonitorConfig, ProgressBar, TrainConfig, Trainer};
use emf_rbm::{Error, Float, Result};

use super::common::{load_train_test, Binarize};

/// Arguments of `stack`.
#[derive(Args, Debug)]
pub struct StackArgs {
    /// Train on this data set instead of Ising samples (same forms as `train --data`).
    #[arg(long)]
    pub data: Option<String>,
    /// Side L of the periodic L x L Ising lattice (ignored with --data).
    #[arg(long, default_value_t = 40)]
    pub ising_size: usize,
    /// Ising temperature(s), comma-separated (T_c = 2.269); one stack per temperature, each in
    /// its own subfolder `T<t>` when there are several (ignored with --data).
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
    /// Epochs per layer.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.05)]
    pub lr: f64,
    /// Momentum.
    #[arg(long, default_value_t = 0.5)]
    pub momentum: f64,
    /// L1 penalty on the weights (Mehta-Schwab use one to localise receptive fields).
    #[arg(long, default_value_t = 0.0)]
    pub l1: f64,
    /// L2 weight decay.
    #[arg(long, default_value_t = 0.0)]
    pub decay: f64,
    /// Minibatch size.
    #[arg(long, default_value_t = 20)]
    pub batch: usize,
    /// Seed (layer l uses seed + l - 1; also the Ising sampler, split and analysis).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Input of layer l+1: `mean-field` activations P(h|v) or `samples` of them.
    #[arg(long, default_value = "mean-field")]
    pub propagation: Propagation,
    /// Fraction of the samples held out.
    #[arg(long, default_value_t = 0.2)]
    pub held_out: f64,
    /// Binarisation of --data: a threshold in [0, 1], `stochastic`, or `none`.
    #[arg(long, default_value = "0.5")]
    pub binarize: Binarize,
    /// Train in f32 (faster GEMMs) instead of f64.
    #[arg(long)]
    pub f32: bool,
    /// Exact ln Z in the per-layer report when min(n_visible, n_hidden) is at most this
    /// (2^25 states take a few seconds).
    #[arg(long, default_value_t = 20)]
    pub exact_max: usize,
    /// Exact log-likelihood in the per-epoch training monitor when min(n_visible, n_hidden) is
    /// at most this (paid every monitored epoch).
    #[arg(long, default_value_t = 20)]
    pub monitor_exact_max: usize,
    /// AIS temperatures for the layers too large to enumerate (0: no AIS, no likelihood).
    #[arg(long, default_value_t = 0)]
    pub ais_betas: usize,
    /// AIS runs.
    #[arg(long, default_value_t = 100)]
    pub ais_runs: usize,
    /// Bootstrap replicates of the free-energy gap's error bar.
    #[arg(long, default_value_t = 200)]
    pub bootstrap: usize,
    /// Rows of training and held-out data in the per-layer free energies.
    #[arg(long, default_value_t = 1000)]
    pub subset: usize,
    /// Layout of coarse units: `rf` (receptive-field centres) or `index`.
    #[arg(long, default_value = "rf")]
    pub layout: Layout,
    /// Held-out rows used for the RG observables.
    #[arg(long, default_value_t = 2000)]
    pub observe_samples: usize,
    /// Skip the effective nearest-neighbour couplings.
    #[arg(long)]
    pub no_couplings: bool,
    /// Nearest-neighbour bonds (evenly spaced) averaged into each effective coupling.
    #[arg(long, default_value_t = 400)]
    pub coupling_pairs: usize,
    /// Measure training metrics every N epochs (0 = never).
    #[arg(long, default_value_t = 1)]
    pub monitor_every: usize,
    /// Print one line of metrics per epoch instead of progress bars.
    #[arg(long)]
    pub log: bool,
    /// Output folder (stack.json, layers.csv, observables.csv, summary.json, PNG plots).
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `stack`.
pub fn run(a: &StackArgs) -> Result<()> {
    if a.f32 {
        run_typed::<f32>(a)
    } else {
        run_typed::<f64>(a)
    }
}

fn stack_config(a: &StackArgs) -> Result<StackConfig> {
    if a.layers.is_empty() {
        return Err(Error::param(
            "layers",
            "give at least one hidden-layer size",
        ));
    }
    let base = TrainConfig::builder()
        .method(a.method.clone())
        .epochs(a.epochs)
        .learning_rate(a.lr)
        .momentum(a.momentum)
        .l1(a.l1)
        .l2(a.decay)
        .batch_size(a.batch)
        .seed(a.seed)
        .monitor(MonitorConfig {
            every: a.monitor_every,
            subset: 1000,
            exact_max_units: a.monitor_exact_max,
            ..MonitorConfig::default()
        })
        .build()?;
    StackConfig::builder()
        .sizes(&base, &a.layers)
        .propagation(a.propagation)
        .seed(a.seed)
        .build()
}

fn analysis_options(a: &StackArgs) -> (FreeEnergyOptions, RgOptions) {
    let fe = FreeEnergyOptions {
        subset: a.subset,
        bootstrap: a.bootstrap,
        seed: a.seed,
        propagation: Some(a.propagation),
        exact_max_units: a.exact_max,
        ais: (a.ais_betas > 0).then(|| AisConfig {
            schedule: BetaSchedule::Count(a.ais_betas.max(2)),
            runs: a.ais_runs,
            seed: a.seed,
            ..AisConfig::default()
        }),
        ..FreeEnergyOptions::default()
    };
    let rg = RgOptions {
        seed: a.seed,
        max_samples: a.observe_samples,
        layout: a.layout,
        couplings: !a.no_couplings,
        max_coupling_pairs: a.coupling_pairs,
        ..RgOptions::default()
    };
    (fe, rg)
}

fn prepare<T: Float>(a: &StackArgs, layer: usize, t: Trainer<T>) -> Trainer<T> {
    eprintln!(
        "layer {}: {} hidden units, {}",
        layer + 1,
        t.config().n_hidden,
        t.config().method
    );
    if a.log {
        t.with_observer(Logger::stderr())
    } else {
        t.with_observer(ProgressBar::new(format!("layer {}", layer + 1)))
    }
}

fn run_typed<T: Float>(a: &StackArgs) -> Result<()> {
    let cfg = stack_config(a)?;
    let (fe_opts, rg_opts) = analysis_options(a);
    std::fs::create_dir_all(&a.out).map_err(|e| Error::io(&a.out, e))?;
    if let Some(spec) = &a.data {
        let (train, held_out) = load_train_test(spec, &a.binarize, a.held_out, a.seed)?;
        eprintln!(
            "stack {:?} on {} ({} x {}), held out {}",
            a.layers,
            train.name(),
            train.n_samples(),
            train.n_features(),
            held_out.n_samples()
        );
        let t0 = Instant::now();
        let stack = Stack::<T>::fit_with(&cfg, &train, Some(&held_out), |l, t| prepare(a, l, t))?;
        let train_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let fe = stack.free_energies(&train, &held_out, &fe_opts)?;
        let obs = stack.rg_observables(&held_out, &rg_opts)?;
        eprintln!(
            "trained in {train_s:.1} s, analysed in {:.1} s",
            t1.elapsed().as_secs_f64()
        );
        let shape = input_shape(&train);
        write_outputs(&a.out, &stack, &fe, &obs, None, shape)?;
        return Ok(());
    }
    let mut flow: Vec<(f64, Vec<LayerObservables>, IsingReference)> = Vec::new();
    for &t in &a.temperature {
        let dir = if a.temperature.len() > 1 {
            a.out.join(format!("T{t}"))
        } else {
            a.out.clone()
        };
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut exp = IsingExperiment::new(a.ising_size, t, a.samples, cfg.clone());
        exp.held_out_fraction = a.held_out;
        exp.ising_seed = a.seed;
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
        write_outputs(
            &dir,
            &run.stack,
            &run.free_energies,
            &run.observables,
            Some(&run.reference),
            Some((a.ising_size, a.ising_size)),
        )?;
        flow.push((t, run.observables, run.reference));
    }
    if flow.len() > 1 {
        write_flow(&a.out, &flow)?;
    }
    Ok(())
}

/// The data's lattice: its image shape, or a square when the feature count is one.
fn input_shape(d: &Dataset) -> Option<(usize, usize)> {
    d.image_shape().or_else(|| {
        let s = (d.n_features() as f64).sqrt().round() as usize;
        (s * s == d.n_features()).then_some((s, s))
    })
}

fn opt(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v:.6}"))
}

fn write_text(path: &Path, s: &str) -> Result<()> {
    write_atomic(path, s.as_bytes())
}

/// stack.json, layers.csv, observables.csv, summary.json and the plots of one run; prints the
/// per-layer table.
fn write_outputs<T: Float>(
    dir: &Path,
    stack: &Stack<T>,
    fe: &[LayerFreeEnergy],
    obs: &[LayerObservables],
    reference: Option<&IsingReference>,
    shape: Option<(usize, usize)>,
) -> Result<()> {
    stack.save(&dir.join("stack.json"))?;
    // Per-layer table.
    let mut csv = String::from(
        "layer,n_visible,n_hidden,free_energy_train,free_energy_held_out,gap,gap_stderr,\
         ln_z,ln_z_method,nll_per_unit_train,nll_per_unit_held_out,coarse_field_mean,\
         coarse_pair_mean,coarse_pair_mean_abs,coarse_pair_max_abs\n",
    );
    let mut table = format!(
        "{:>5} {:>6} {:>6} {:>11} {:>11} {:>9} {:>8} {:>11} {:>10} {:>10} {:>10}\n",
        "layer",
        "n_vis",
        "n_hid",
        "F_train",
        "F_held",
        "gap",
        "+-",
        "ln Z",
        "nll/u_tr",
        "nll/u_ho",
        "|K_pair|"
    );
    for l in fe {
        let c = l.coarse.as_ref();
        let _ = writeln!(
            csv,
            "{},{},{},{:.6},{:.6},{:.6},{:.6},{},{},{},{},{},{},{},{}",
            l.layer,
            l.n_visible,
            l.n_hidden,
            l.free_energy_train,
            l.free_energy_held_out,
            l.gap,
            l.gap_stderr,
            opt(l.ln_z.map(|z| z.value)),
            l.ln_z
                .map_or(String::new(), |z| format!("{:?}", z.method).to_lowercase()),
            opt(l.nll_per_unit_train),
            opt(l.nll_per_unit_held_out),
            opt(c.map(|c| c.field_mean)),
            opt(c.map(|c| c.pair_mean)),
            opt(c.map(|c| c.pair_mean_abs)),
            opt(c.map(|c| c.pair_max_abs)),
        );
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
        let _ = writeln!(
            table,
            "{:>5} {:>6} {:>6} {:>11.4} {:>11.4} {:>9.4} {:>8.4} {:>11} {:>10} {:>10} {:>10}",
            l.layer,
            l.n_visible,
            l.n_hidden,
            l.free_energy_train,
            l.free_energy_held_out,
            l.gap,
            l.gap_stderr,
            f(l.ln_z.map(|z| z.value)),
            f(l.nll_per_unit_train),
            f(l.nll_per_unit_held_out),
            f(c.map(|c| c.pair_mean_abs)),
        );
    }
    write_text(&dir.join("layers.csv"), &csv)?;
    // Observables.
    let mut ocsv = String::from(
        "level,n_units,lattice,rf_radius,layout_mismatch,activity,magnetization,\
         magnetization_stderr,magnetization_connected,nn_correlation,nn_connected,coupling_nn,\
         coupling_nn_coarse\n",
    );
    let _ = writeln!(
        table,
        "\n{:>5} {:>6} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "level",
        "units",
        "lattice",
        "rf_rad",
        "<x>",
        "|m|",
        "|m|_c",
        "<ss>nn",
        "<ss>c",
        "J_nn",
        "J_coarse"
    );
    for o in obs {
        let lat = o.lattice.map_or(String::new(), |(r, c)| format!("{r}x{c}"));
        let _ = writeln!(
            ocsv,
            "{},{},{},{},{},{:.6},{:.6},{:.6},{:.6},{},{},{},{}",
            o.level,
            o.n_units,
            lat,
            opt(o.rf_radius),
            opt(o.layout.as_ref().map(|l| l.mismatch)),
            o.activity,
            o.magnetization,
            o.magnetization_stderr,
            o.magnetization_connected,
            opt(o.nn_correlation),
            opt(o.nn_connected),
            opt(o.coupling_nn),
            opt(o.coupling_nn_coarse),
        );
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
        let _ = writeln!(
            table,
            "{:>5} {:>6} {:>7} {:>8} {:>8.4} {:>8.4} {:>8.4} {:>8} {:>8} {:>8} {:>8}",
            o.level,
            o.n_units,
            if lat.is_empty() { "-".into() } else { lat },
            f(o.rf_radius),
            o.activity,
            o.magnetization,
            o.magnetization_connected,
            f(o.nn_correlation),
            f(o.nn_connected),
            f(o.coupling_nn),
            f(o.coupling_nn_coarse),
        );
    }
    if let Some(r) = reference {
        let _ = writeln!(
            table,
            "Ising T = {}: K = 1/T = {:.4}; exact |m| = {:.4}, <ss>nn = {:.4} (infinite lattice); \
             samples |m| = {:.4}, <ss>nn = {:.4}",
            r.temperature,
            r.coupling,
            r.magnetization_exact,
            r.nn_correlation_exact,
            r.sample_magnetization,
            r.sample_nn_correlation
        );
    }
    write_text(&dir.join("observables.csv"), &ocsv)?;
    print!("{table}");
    let summary = serde_json::json!({
        "sizes": stack.sizes(),
        "free_energies": fe,
        "observables": obs,
        "reference": reference,
    });
    let json = serde_json::to_vec_pretty(&summary).map_err(|e| Error::Json {
        path: dir.join("summary.json"),
        source: e,
    })?;
    write_atomic(&dir.join("summary.json"), &json)?;
    // Plots.
    if let Some(shape) = shape {
        for o in obs.iter().filter(|o| o.level > 0) {
            let rf = stack.receptive_fields(o.level)?;
            let order: Vec<usize> = match &o.layout {
                Some(l) => l.unit_at_site.clone(),
                None => (0..rf.ncols()).collect(),
            };
            let arranged = Mat::<f64>::from_fn(rf.nrows(), rf.ncols(), |i, k| rf[(i, order[k])]);
            let mut m = Mosaic::filters(arranged.as_ref(), shape, arranged.ncols())?;
            if let Some((r, c)) = o.lattice {
                m.columns = c;
                m.title = format!(
                    "receptive fields of level {} ({} units on a {r}x{c} lattice)",
                    o.level, o.n_units
                );
            } else {
                m.title = format!("receptive fields of level {}", o.level);
            }
            m.save(&dir.join(format!("receptive_fields_layer{}.png", o.level)))?;
        }
    }
    let series = |f: &dyn Fn(&LayerObservables) -> Option<f64>| -> Vec<(f64, f64)> {
        obs.iter()
            .filter_map(|o| Some((o.level as f64, f(o)?)))
            .collect()
    };
    let title = match reference {
        Some(r) => format!("RG observables per level (T = {})", r.temperature),
        None => "RG observables per level".to_string(),
    };
    LineChart::new(&title, "level", "value")
        .series("|m|", series(&|o| Some(o.magnetization)))
        .series(
            "|m| connected",
            series(&|o| Some(o.magnetization_connected)),
        )
        .series("<s s'> nn", series(&|o| o.nn_correlation))
        .series("<s s'> nn connected", series(&|o| o.nn_connected))
        .series("J_nn (model of level)", series(&|o| o.coupling_nn))
        .series("J_nn (coarse)", series(&|o| o.coupling_nn_coarse))
        .save(&dir.join("observables.png"))?;
    let fe_series = |f: &dyn Fn(&LayerFreeEnergy) -> Option<f64>| -> Vec<(f64, f64)> {
        fe.iter()
            .filter_map(|l| Some((l.layer as f64, f(l)?)))
            .collect()
    };
    LineChart::new("Per-layer free energies", "layer", "nats")
        .series("gap (held-out - train)", fe_series(&|l| Some(l.gap)))
        .series("nll per unit, train", fe_series(&|l| l.nll_per_unit_train))
        .series(
            "nll per unit, held-out",
            fe_series(&|l| l.nll_per_unit_held_out),
        )
        .save(&dir.join("free_energy.png"))?;
    eprintln!("results written to {}", dir.display());
    Ok(())
}

/// rg_flow.csv and per-observable charts across temperatures.
fn write_flow(dir: &Path, flow: &[(f64, Vec<LayerObservables>, IsingReference)]) -> Result<()> {
    let mut csv = String::from(
        "temperature,level,magnetization,magnetization_connected,nn_correlation,nn_connected,\
         coupling_nn,coupling_nn_coarse,magnetization_exact,nn_correlation_exact,coupling_exact\n",
    );
    for (t, obs, r) in flow {
        for o in obs {
            let _ = writeln!(
                csv,
                "{t},{},{:.6},{:.6},{},{},{},{},{:.6},{:.6},{:.6}",
                o.level,
                o.magnetization,
                o.magnetization_connected,
                opt(o.nn_correlation),
                opt(o.nn_connected),
                opt(o.coupling_nn),
                opt(o.coupling_nn_coarse),
                r.magnetization_exact,
                r.nn_correlation_exact,
                r.coupling,
            );
        }
    }
    write_text(&dir.join("rg_flow.csv"), &csv)?;
    type Get = fn(&LayerObservables) -> Option<f64>;
    let charts: [(&str, &str, Get); 4] = [
        ("rg_flow_magnetization.png", "|m| connected", |o| {
            Some(o.magnetization_connected)
        }),
        ("rg_flow_nn_correlation.png", "<s s'> nn connected", |o| {
            o.nn_connected
        }),
        ("rg_flow_coupling.png", "J_nn (model of level)", |o| {
            o.coupling_nn
        }),
        ("rg_flow_coupling_coarse.png", "J_nn (coarse)", |o| {
            o.coupling_nn_coarse
        }),
    ];
    for (file, label, get) in charts {
        let mut chart = LineChart::new(&format!("{label} per level"), "level", label);
        for (t, obs, _) in flow {
            let pts: Vec<(f64, f64)> = obs
                .iter()
                .filter_map(|o| Some((o.level as f64, get(o)?)))
                .collect();
            chart = chart.series(&format!("T = {t}"), pts);
        }
        chart.save(&dir.join(file))?;
    }
    eprintln!("RG flow across temperatures written to {}", dir.display());
    Ok(())
}
