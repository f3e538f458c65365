//! What a training run carries from one epoch to the next, saved in checkpoints so that
//! [`Trainer::resume`](crate::train::Trainer::resume) continues a run bit for bit: the epoch
//! counter, the training generator's position, the minibatch order, the optimiser's state
//! (momentum velocity) and the negative phase's (persistent chains or TAP particles).

use faer::{Mat, MatRef};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::data::{Dataset, Minibatches};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::persist::ModelFile;
use crate::rbm::Rbm;
use crate::rng::Rng;
use crate::train::config::{Schedule, TrainConfig};
use crate::train::history::History;
use crate::train::optimizer::Optimizer;
use crate::train::phase::NegativePhase;

/// A named matrix of a saved state, row-major, values as f64 (exact for f32 runs too).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateArray {
    /// What it holds (`velocity_w`, `chains`, `visible`...).
    pub name: String,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub values: Vec<f64>,
}

impl StateArray {
    /// A copy of `m` named `name`.
    pub fn from_mat<T: Float>(name: &str, m: MatRef<'_, T>) -> Self {
        let (rows, cols) = (m.nrows(), m.ncols());
        let mut values = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            values.extend((0..cols).map(|j| m[(i, j)].as_f64()));
        }
        StateArray {
            name: name.into(),
            rows,
            cols,
            values,
        }
    }

    /// A copy of the vector `v` (one row) named `name`.
    pub fn from_slice<T: Float>(name: &str, v: &[T]) -> Self {
        StateArray {
            name: name.into(),
            rows: 1,
            cols: v.len(),
            values: v.iter().map(|x| x.as_f64()).collect(),
        }
    }

    /// The matrix, checked to be `rows x cols` (the error names the array).
    pub fn to_mat<T: Float>(&self, rows: usize, cols: usize) -> Result<Mat<T>> {
        self.check_shape(rows, cols)?;
        Ok(Mat::from_fn(rows, cols, |i, j| {
            T::of(self.values[i * cols + j])
        }))
    }

    /// The values as a vector of `len`, checked.
    pub fn to_vec<T: Float>(&self, len: usize) -> Result<Vec<T>> {
        self.check_shape(1, len)?;
        Ok(self.values.iter().map(|&x| T::of(x)).collect())
    }

    fn check_shape(&self, rows: usize, cols: usize) -> Result<()> {
        if (self.rows, self.cols) != (rows, cols) || self.values.len() != rows * cols {
            return Err(Error::Shape(format!(
                "saved state `{}` is {} x {} with {} values, expected {rows} x {cols}",
                self.name,
                self.rows,
                self.cols,
                self.values.len()
            )));
        }
        if let Some(k) = self.values.iter().position(|x| !x.is_finite()) {
            return Err(Error::param(
                "resume",
                format!(
                    "saved state `{}` holds a non-finite value at {k}",
                    self.name
                ),
            ));
        }
        Ok(())
    }
}

/// The arrays of a saved state, looked up by name.
pub fn find<'a>(arrays: &'a [StateArray], name: &str) -> Result<&'a StateArray> {
    arrays
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| Error::param("resume", format!("the saved state has no array `{name}`")))
}

/// The training generator's position: ChaCha's stream and word position (its seed is the
/// run's, from the configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The stream number.
    pub stream: u64,
    /// 32-bit words drawn so far.
    pub word_pos: u64,
}

impl RngState {
    /// The position of `rng`.
    pub fn of(rng: &Rng) -> Result<Self> {
        let word_pos = u64::try_from(rng.get_word_pos()).map_err(|_| {
            Error::param("checkpoint", "the generator has drawn more than 2^64 words")
        })?;
        Ok(RngState {
            stream: rng.get_stream(),
            word_pos,
        })
    }

    /// The generator of `seed` at this position.
    pub fn restore(&self, seed: u64) -> Rng {
        let mut r = Rng::seed_from_u64(seed);
        r.set_stream(self.stream);
        r.set_word_pos(u128::from(self.word_pos));
        r
    }
}

/// Everything a run carries from one epoch to the next (stored in checkpoint files, see
/// [`ModelFile::train_state`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs completed.
    pub epochs_done: usize,
    /// The training generator (shuffles and sampling) after the last completed epoch.
    pub rng: RngState,
    /// The minibatch order after the last shuffle (the next shuffle permutes it).
    pub order: Vec<usize>,
    /// The optimiser's state (`None`: it keeps none).
    pub optimizer: Option<Vec<StateArray>>,
    /// The negative phase's state (`None`: it restarts at the data every update).
    pub phase: Option<Vec<StateArray>>,
}

/// A view of a run at the end of an epoch, handed to
/// [`Observer::on_snapshot`](crate::train::Observer::on_snapshot): enough to save a
/// checkpoint that [`Trainer::resume`](crate::train::Trainer::resume) continues bit for bit.
pub struct Snapshot<'a, T: Float> {
    /// Epochs completed (1-based number of the epoch just finished).
    pub epoch: usize,
    /// The model.
    pub rbm: &'a Rbm<T>,
    /// The history so far.
    pub history: &'a History,
    pub(crate) rng: &'a Rng,
    pub(crate) order: &'a [usize],
    pub(crate) optimizer: &'a dyn Optimizer<T>,
    pub(crate) phase: &'a dyn NegativePhase<T>,
}

impl<T: Float> Snapshot<'_, T> {
    /// The run's state after this epoch.
    pub fn train_state(&self) -> Result<TrainState> {
        Ok(TrainState {
            epochs_done: self.epoch,
            rng: RngState::of(self.rng)?,
            order: self.order.to_vec(),
            optimizer: self.optimizer.state(),
            phase: self.phase.state(),
        })
    }

    /// A checkpoint: the model file with the history so far and the run's state.
    pub fn checkpoint_file(&self) -> Result<ModelFile> {
        let mut file = ModelFile::new(self.rbm, Some(self.history));
        file.train_state = Some(self.train_state()?);
        Ok(file)
    }
}

impl TrainState {
    /// Puts a new run's generator, minibatch order, optimiser and negative phase where this
    /// state left them (`seed`: the run's).
    pub(crate) fn restore_into<T: Float>(
        &self,
        seed: u64,
        rbm: &Rbm<T>,
        rng: &mut Rng,
        batches: &mut Minibatches,
        optimizer: &mut dyn Optimizer<T>,
        phase: &mut dyn NegativePhase<T>,
    ) -> Result<()> {
        *rng = self.rng.restore(seed);
        batches.set_order(&self.order)?;
        optimizer.restore(self.optimizer.as_deref())?;
        phase.restore(rbm, self.phase.as_deref())
    }
}

/// Refuses to resume the run of `history` (a checkpoint's) with `cfg` on `train` in the
/// float type `float` when any setting that shapes the parameters differs, when the data's
/// fingerprint differs, or when `cfg.epochs` is below the epochs already done (a linear
/// schedule, which depends on the total, must keep its epochs). The error names the setting.
pub(crate) fn check_resumable(
    cfg: &TrainConfig,
    history: &History,
    state: &TrainState,
    float: &str,
    train: &Dataset,
) -> Result<()> {
    let old = &history.config;
    let fields: [(&str, String, String); 11] = [
        ("n_hidden", show(&old.n_hidden), show(&cfg.n_hidden)),
        ("method", old.method.to_string(), cfg.method.to_string()),
        ("batch_size", show(&old.batch_size), show(&cfg.batch_size)),
        (
            "learning_rate",
            show(&old.learning_rate),
            show(&cfg.learning_rate),
        ),
        ("schedule", show(&old.schedule), show(&cfg.schedule)),
        ("optimizer", show(&old.optimizer), show(&cfg.optimizer)),
        ("momentum", show(&old.momentum), show(&cfg.momentum)),
        ("l1", show(&old.l1), show(&cfg.l1)),
        ("l2", show(&old.l2), show(&cfg.l2)),
        ("init_sigma", show(&old.init_sigma), show(&cfg.init_sigma)),
        ("seed", show(&old.seed), show(&cfg.seed)),
    ];
    let refuse = |what: String| Err(Error::param("resume", what));
    for (name, was, now) in fields {
        if was != now {
            return refuse(format!(
                "the checkpoint's run has {name} = {was}, this run asks for {now}: resume \
                 with the settings of the interrupted run"
            ));
        }
    }
    if history.float != float {
        return refuse(format!(
            "the checkpoint's run trained in {}, this run in {float}",
            history.float
        ));
    }
    let data = train.fingerprint();
    if let Some(fp) = history.data_fingerprint.as_ref().filter(|fp| **fp != data) {
        return refuse(format!(
            "the training data differ from the checkpoint's (data fingerprint {data}, the \
             checkpoint's {fp}): resume on the same data"
        ));
    }
    if cfg.epochs < state.epochs_done {
        return refuse(format!(
            "the checkpoint has done {} epochs, more than the {} asked for",
            state.epochs_done, cfg.epochs
        ));
    }
    if matches!(cfg.schedule, Schedule::Linear { .. }) && cfg.epochs != old.epochs {
        return refuse(format!(
            "a linear learning-rate schedule depends on the number of epochs: resume with the \
             checkpoint's {}",
            old.epochs
        ));
    }
    Ok(())
}

/// A setting shown in messages: compact JSON.
fn show<S: Serialize>(value: &S) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("<{e}>"))
}
