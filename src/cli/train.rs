//! `emf-rbm train`.

use std::path::PathBuf;

use clap::Args;

use emf_rbm::output::OutputPlan;
use emf_rbm::persist::ModelFile;
use emf_rbm::plot::Mosaic;
use emf_rbm::train::{keys, Checkpoint, Fitted, Logger, Method, ProgressBar, Trainer};
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
    /// Write a filter mosaic PNG here (image data only).
    #[arg(long)]
    pub filters: Option<PathBuf>,
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
    let mut plan = output_file(OutputPlan::new().inputs(data_inputs(&a.data)?), &a.out);
    if let Some(f) = &a.filters {
        plan = plan.file(f);
    }
    if let Some(c) = &checkpoint {
        plan = plan.file(c.path());
    }
    plan.check()?;
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
    let Fitted { rbm, history } = trainer.fit(&train, Some(&held_out))?;
    write_model(&a.out, &ModelFile::new(&rbm, Some(&history)))?;
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

/// The `--checkpoint-every` observer, writing next to `--out` (which must then be a file).
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
    Checkpoint::new(every, Checkpoint::path_for(&a.out)).map(Some)
}
