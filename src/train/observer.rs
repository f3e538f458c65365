//! Observers plug into the training loop (progress bar, logging, checkpoints, extra metrics),
//! as in argmin: the loop calls them, they never drive it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::float::Float;
use crate::rbm::Rbm;
use crate::train::history::{EpochRecord, History};
use crate::train::keys::MetricValue;
use crate::train::state::Snapshot;

/// Hooks called by [`Trainer`](crate::train::Trainer) (on a thread of rayon's pool, hence
/// `Send`). All methods have empty defaults.
pub trait Observer<T: Float>: Send {
    /// Before the first epoch: the number of epochs and of minibatches per epoch.
    fn on_start(&mut self, _epochs: usize, _batches_per_epoch: usize) {}
    /// After each parameter update.
    fn on_step(&mut self, _epoch: usize, _step: usize) {}
    /// After each monitored epoch's metrics were measured; may record further values with
    /// [`EpochRecord::insert`].
    fn on_epoch(&mut self, _rbm: &Rbm<T>, _record: &mut EpochRecord) -> Result<()> {
        Ok(())
    }
    /// After every epoch (1-based `epoch`), monitored or not, after `on_epoch`.
    fn on_epoch_end(&mut self, _epoch: usize, _rbm: &Rbm<T>) -> Result<()> {
        Ok(())
    }
    /// After every epoch, after `on_epoch_end`: a view of the whole run (model, history,
    /// generator, optimiser and negative-phase state) from which a checkpoint can be saved
    /// ([`Snapshot::checkpoint_file`]).
    fn on_snapshot(&mut self, _snapshot: &Snapshot<'_, T>) -> Result<()> {
        Ok(())
    }
    /// After the last epoch, with the complete history.
    fn on_end(&mut self, _rbm: &Rbm<T>, _history: &History) -> Result<()> {
        Ok(())
    }
}

/// An indicatif progress bar over all minibatches of the run (drawn on stderr).
pub struct ProgressBar {
    bar: Option<indicatif::ProgressBar>,
    label: String,
}

impl ProgressBar {
    /// A progress bar whose lines start with `label` (e.g. the method name).
    pub fn new(label: impl Into<String>) -> Self {
        ProgressBar {
            bar: None,
            label: label.into(),
        }
    }
}

impl<T: Float> Observer<T> for ProgressBar {
    fn on_start(&mut self, epochs: usize, batches: usize) {
        let bar = indicatif::ProgressBar::new((epochs * batches) as u64);
        let style = indicatif::ProgressStyle::with_template(
            "{prefix:>8} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(self.label.clone());
        self.bar = Some(bar);
    }
    fn on_step(&mut self, _epoch: usize, _step: usize) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }
    fn on_epoch(&mut self, _rbm: &Rbm<T>, r: &mut EpochRecord) -> Result<()> {
        if let Some(b) = &self.bar {
            let mut msg = format!("epoch {}", r.epoch);
            if let Some(ll) = r.log_likelihood_held_out.or(r.log_likelihood_train) {
                msg.push_str(&format!(" LL {ll:.3}"));
            } else if let Some(e) = r.reconstruction_error {
                msg.push_str(&format!(" recon {e:.4}"));
            }
            b.set_message(msg);
        }
        Ok(())
    }
    fn on_end(&mut self, _rbm: &Rbm<T>, _h: &History) -> Result<()> {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
        Ok(())
    }
}

/// Writes one line of metrics per epoch to a writer (stderr by default).
pub struct Logger {
    out: Box<dyn Write + Send>,
}

impl Logger {
    /// Logs to standard error.
    pub fn stderr() -> Self {
        Logger {
            out: Box::new(std::io::stderr()),
        }
    }
    /// Logs to any writer.
    pub fn to(out: Box<dyn Write + Send>) -> Self {
        Logger { out }
    }
}

impl<T: Float> Observer<T> for Logger {
    fn on_epoch(&mut self, _rbm: &Rbm<T>, r: &mut EpochRecord) -> Result<()> {
        let mut line = format!(
            "epoch {:>4}  t={:.2}s  lr={:.4}",
            r.epoch, r.train_seconds, r.learning_rate
        );
        let mut add = |name: &str, v: Option<f64>| {
            if let Some(v) = v {
                line.push_str(&format!("  {name}={v:.4}"));
            }
        };
        add("recon", r.reconstruction_error);
        add("pll", r.pseudo_log_likelihood);
        add("gap", r.free_energy_gap());
        add("ll_train", r.log_likelihood_train);
        add("ll_held_out", r.log_likelihood_held_out);
        add("sweeps", r.sweeps_mean);
        add("residual", r.residual_max);
        for (k, v) in &r.metrics {
            line.push_str(&format!("  {k}={}", describe(v)));
        }
        // Logging failures must not kill a run.
        let _ = writeln!(self.out, "{line}");
        Ok(())
    }
}

/// A value with its trust figures, for a log line: `-20.1234`, `40.1 [39.8, 40.3] ess 12.0/100`,
/// `43.3258 (200/200 converged)` or `- (0/200 converged)`.
pub(crate) fn describe(v: &MetricValue) -> String {
    match v {
        MetricValue::Scalar(x) => format!("{x:.4}"),
        MetricValue::Interval(e) => format!(
            "{:.4} [{:.4}, {:.4}] ess {:.1}/{}",
            e.value, e.lower, e.upper, e.ess, e.runs
        ),
        MetricValue::Tap(t) => format!(
            "{} ({}/{} converged)",
            t.value.map_or("-".to_string(), |x| format!("{x:.4}")),
            t.n_converged,
            t.n_particles
        ),
    }
}

/// Saves a checkpoint (atomically) every `every` epochs to its own file, whether or not the
/// epoch is monitored: the model, the history so far and the run's state
/// ([`Snapshot::checkpoint_file`]), from which [`Trainer::resume`](crate::train::Trainer::resume)
/// continues. A checkpoint never replaces a file it did not write in this run: the path must
/// not exist when the checkpoint is created, nor appear before its first write. The final
/// model is saved elsewhere by the caller ([`Checkpoint::path_for`] names the checkpoint of a
/// model path).
///
/// ```
/// use std::path::Path;
/// use emf_rbm::train::Checkpoint;
/// assert_eq!(
///     Checkpoint::path_for(Path::new("runs/k.json")),
///     Path::new("runs/k.checkpoint.json")
/// );
/// ```
pub struct Checkpoint {
    every: usize,
    path: PathBuf,
    written: bool,
}

impl Checkpoint {
    /// Checkpoints every `every` epochs (>= 1) to `path`, which must not exist yet.
    pub fn new(every: usize, path: impl Into<PathBuf>) -> Result<Self> {
        if every == 0 {
            return Err(crate::Error::param("checkpoint_every", "must be >= 1"));
        }
        let path = path.into();
        refuse_existing(&path)?;
        Ok(Checkpoint {
            every,
            path,
            written: false,
        })
    }

    /// Checkpoints every `every` epochs to `path`, which may exist: the checkpoint a resumed
    /// run continues from ([`Trainer::resume`](crate::train::Trainer::resume)), which this run
    /// then replaces with its own.
    pub fn replacing(every: usize, path: impl Into<PathBuf>) -> Result<Self> {
        if every == 0 {
            return Err(crate::Error::param("checkpoint_every", "must be >= 1"));
        }
        Ok(Checkpoint {
            every,
            path: path.into(),
            written: true,
        })
    }

    /// The checkpoint file of the model file `model`: `<stem>.checkpoint.json` in its folder.
    pub fn path_for(model: &Path) -> PathBuf {
        let stem = model
            .file_stem()
            .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
        model.with_file_name(format!("{stem}.checkpoint.json"))
    }

    /// Where the checkpoints go.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Refuses a checkpoint path where something already exists (a dangling symlink included).
fn refuse_existing(path: &Path) -> Result<()> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(crate::Error::output(
            path,
            "a checkpoint never replaces a file it did not write in this run, and this one \
             exists: move it away or remove it first, or continue the run it holds with \
             `train --resume`",
        ));
    }
    Ok(())
}

impl<T: Float> Observer<T> for Checkpoint {
    fn on_snapshot(&mut self, snapshot: &Snapshot<'_, T>) -> Result<()> {
        if snapshot.epoch % self.every == 0 {
            if !self.written {
                refuse_existing(&self.path)?;
            }
            crate::persist::save_model_file(&self.path, &snapshot.checkpoint_file()?)?;
            self.written = true;
        }
        Ok(())
    }
}
