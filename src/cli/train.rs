//! `emf-rbm train`.

use std::path::PathBuf;

use clap::Args;

use emf_rbm::output::OutputPlan;
use emf_rbm::persist::{self, ModelFile};
use emf_rbm::plot::Mosaic;
use emf_rbm::profile;
use emf_rbm::train::{keys, Checkpoint, Fitted, History, Logger, Method, ProgressBar, Trainer};
use emf_rbm::{Error, Float, Result};

use super::common::{
    data_inputs, describe_output, is_stdout, load_train_test, output_file, write_model,
};
use super::training::TrainingArgs;

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
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Save a checkpoint every N epochs (>= 1) to `<stem of --out>.checkpoint.json` (never
    /// to --out itself, and never over a file that exists before the run).
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Continue the run saved in this checkpoint (written by --checkpoint-every) up to
    /// --epochs epochs in all, bit for bit as if it had not stopped. Give the interrupted run's
    /// flags: a checkpoint of other settings or data is refused.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Keep the wall times out of the model file (they are set to 0 and the file says so):
    /// the same command and seed then write the same bytes.
    #[arg(long)]
    pub reproducible: bool,
    /// Write a filter mosaic PNG here (image data only).
    #[arg(long)]
    pub filters: Option<PathBuf>,
    /// Print where the updates' time went (GEMMs, elementwise passes, random numbers,
    /// parameter steps, copies, sparse products) and each GEMM shape's rate, on stderr. The
    /// monitor is not counted; the counters cost two clock reads per timed call.
    #[arg(long)]
    pub profile: bool,
    /// Output model file (`-`: standard output). Written once, after the last epoch.
    #[arg(long, default_value = "model.json")]
    pub out: PathBuf,
}

/// Runs `train`.
pub fn run(a: &TrainArgs) -> Result<()> {
    if a.training.f32 {
        run_typed::<f32>(a)
    } else {
        run_typed::<f64>(a)
    }
}

fn run_typed<T: Float>(a: &TrainArgs) -> Result<()> {
    let cfg = a.training.to_config(a.hidden, &a.method)?;
    let checkpoint = checkpoint(a)?;
    check_outputs(a, checkpoint.as_ref())?;
    let resume_from = a
        .resume
        .as_deref()
        .map(persist::load_model_file)
        .transpose()?;
    let (train, held_out) = load_train_test(&a.data, &a.training)?;
    eprintln!(
        "training {} hidden units with {} on {} ({} x {}), held out {}",
        a.hidden,
        a.method,
        train.name(),
        train.n_samples(),
        train.n_features(),
        held_out.n_samples()
    );
    if let Some(note) = a.training.likelihood_note(train.n_features(), a.hidden) {
        eprintln!("{note}");
    }
    let mut trainer = Trainer::<T>::new(cfg);
    if a.training.log {
        trainer = trainer.with_observer(Logger::stderr());
    } else if !a.training.quiet {
        trainer = trainer.with_observer(ProgressBar::new(a.method.name()));
    }
    if let Some(c) = checkpoint {
        trainer = trainer.with_observer(c);
    }
    if a.profile {
        profile::reset();
        profile::enable(true);
    }
    let Fitted { rbm, history } = match &resume_from {
        Some(file) => trainer.resume(file, &train, Some(&held_out)),
        None => trainer.fit(&train, Some(&held_out)),
    }
    .map_err(|e| match (&a.resume, e) {
        (
            Some(path),
            Error::InvalidParameter {
                name: "resume",
                reason,
            },
        ) => Error::param("resume", format!("{}: {reason}", path.display())),
        (_, e) => e,
    })?;
    let mut file = ModelFile::new(&rbm, Some(&history));
    file.command = Some(command_line());
    if a.reproducible {
        file = file.reproducible();
    }
    write_model(&a.out, &file)?;
    print_summary::<T>(&history);
    if a.profile {
        print_profile(&history);
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
    eprintln!("model written to {}", describe_output(&a.out));
    Ok(())
}

/// Checks `--out`, `--filters`, the checkpoint and the inputs (data, `--resume`) before any
/// work.
fn check_outputs(a: &TrainArgs, checkpoint: Option<&Checkpoint>) -> Result<()> {
    let mut plan = output_file(OutputPlan::new().inputs(data_inputs(&a.data)?), &a.out);
    if let Some(r) = &a.resume {
        plan = plan.input(r);
    }
    if let Some(f) = &a.filters {
        plan = plan.file(f);
    }
    if let Some(c) = checkpoint.filter(|c| Some(c.path()) != a.resume.as_deref()) {
        plan = plan.file(c.path());
    }
    plan.check()
}

/// The run's time and the last record's figures, on stderr.
fn print_summary<T: Float>(history: &History) {
    eprintln!(
        "trained {} epochs in {:.2} s ({:.2} s per epoch, {})",
        history.epochs_trained,
        history.train_seconds,
        history.train_seconds / history.epochs_trained.max(1) as f64,
        T::NAME
    );
    if let Some(last) = history.last() {
        let f = |x: Option<f64>| x.map_or("-".into(), |v: f64| format!("{v:.4}"));
        let ais = last
            .get(&keys::AIS_LOG_LIKELIHOOD_HELD_OUT)
            .map_or(String::new(), |e| {
                format!(
                    ", AIS held-out LL {:.4} [{:.4}, {:.4}] (ESS {:.1} of {})",
                    e.value, e.lower, e.upper, e.ess, e.runs
                )
            });
        eprintln!(
            "epoch {}: train {:.2}s, held-out LL {}, train LL {}, recon {}, free-energy gap {}{ais}",
            last.epoch,
            last.train_seconds,
            f(last.get(&keys::LOG_LIKELIHOOD_HELD_OUT)),
            f(last.get(&keys::LOG_LIKELIHOOD_TRAIN)),
            f(last.get(&keys::RECONSTRUCTION_ERROR)),
            f(last.get(&keys::FREE_ENERGY_GAP))
        );
    }
}

/// `--profile`: the split of the updates' time and the rate of each GEMM shape, on stderr.
fn print_profile(history: &History) {
    profile::enable(false);
    let split = profile::snapshot();
    eprintln!(
        "time split of the updates ({:.2} s):\n{}",
        history.train_seconds,
        split.summary(history.train_seconds)
    );
    for (shape, calls) in profile::gemm_shapes() {
        eprintln!(
            "  GEMM {shape}: {} calls, {:.3} s, {:.1} GFLOP/s",
            calls.calls,
            calls.nanos as f64 * 1e-9,
            (shape.flops() * calls.calls) as f64 / calls.nanos.max(1) as f64
        );
    }
}

/// The command line, arguments separated by spaces (control characters escaped).
fn command_line() -> String {
    let args: Vec<String> = std::env::args_os()
        .map(|a| emf_rbm::error::escape_control(&a.to_string_lossy()).into_owned())
        .collect();
    let mut line = args.join(" ");
    if let Some(first) = args.first() {
        // The program by its name, not the path it was started from.
        let name = std::path::Path::new(first)
            .file_name()
            .map_or_else(|| first.clone(), |n| n.to_string_lossy().into_owned());
        line.replace_range(..first.len(), &name);
    }
    line
}

/// The `--checkpoint-every` observer, writing next to `--out` (which must then be a file);
/// resumed from the checkpoint it would write, it replaces it.
fn checkpoint(a: &TrainArgs) -> Result<Option<Checkpoint>> {
    let Some(every) = a.checkpoint_every else {
        return Ok(None);
    };
    if is_stdout(&a.out) {
        return Err(Error::param(
            "checkpoint-every",
            "needs a file --out (the checkpoint is written next to it as \
             <stem>.checkpoint.json), not `-`",
        ));
    }
    let path = Checkpoint::path_for(&a.out);
    if a.resume.as_deref() == Some(path.as_path()) {
        return Checkpoint::replacing(every, path).map(Some);
    }
    Checkpoint::new(every, path).map(Some)
}
