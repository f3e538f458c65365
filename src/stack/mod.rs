//! Stacked RBMs trained greedily layer by layer (a deep belief network's pre-training), and
//! what each layer does to the data: per-layer free energies and likelihoods, the coarse
//! (hidden-side) Hamiltonian of every layer, and renormalization-group observables on 2D Ising
//! data.
//!
//! Layer `l` (1-based) is an [`Rbm`] whose visible units are the units of level `l - 1` (level
//! 0 = the data) and whose hidden units are level `l`. Layer `l + 1` is trained on the
//! representation of the training data at level `l`: the mean-field activations `P(h | v)` or
//! Bernoulli samples of them ([`Propagation`], recorded in the [`StackHistory`]).
//!
//! ```
//! use emf_rbm::data::Dataset;
//! use emf_rbm::stack::{Propagation, Stack, StackConfig};
//! use emf_rbm::train::{Method, TrainConfig};
//!
//! let (train, test) = Dataset::digits().binarize(0.5).split(0.2, 1)?;
//! let base = TrainConfig::builder().method(Method::Cd { k: 1 }).epochs(2).seed(3).build()?;
//! let cfg = StackConfig::builder()
//!     .sizes(&base, &[16, 4])
//!     .propagation(Propagation::MeanField)
//!     .build()?;
//! let stack = Stack::<f64>::fit(&cfg, &train, Some(&test))?;
//! assert_eq!(stack.sizes(), vec![64, 16, 4]);
//! let fe = stack.free_energies(&train, &test, &Default::default())?;
//! assert_eq!(fe.len(), 2);
//! assert!(fe[1].ln_z.is_some()); // 4 hidden units: exact ln Z
//! # Ok::<(), emf_rbm::Error>(())
//! ```

mod dbn;
pub mod decimation;
mod experiment;
mod free_energy;
mod layout;
mod report;
mod rg;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use faer::{Accum, Mat};
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::hamiltonian::EffectiveHamiltonian;
use crate::linalg::matmul;
use crate::persist::{read_versioned, write_versioned, FileKind};
use crate::rbm::{Rbm, RbmParams};
use crate::rng::{fill_uniform, stream_rng, Rng};
use crate::train::{History, TrainConfig, Trainer};

pub use dbn::MAX_DBN_UNITS;
pub use experiment::{IsingExperiment, IsingReference, IsingRun};
pub use free_energy::{CoarseSummary, FreeEnergyOptions, LayerFreeEnergy, LnZ, LnZMethod};
pub use layout::{hungarian, CoarseLayout, Layout};
pub use report::{RgFlow, StackReport};
pub use rg::{LayerObservables, RgOptions};

/// The `format` tag of stack files.
pub const STACK_FORMAT: &str = "emf-rbm-stack";
/// The stack file version this build writes (it also reads version 1, see [`STACK_FILE`]).
pub const STACK_VERSION: u32 = 2;

/// How the input of layer `l + 1` is made from the representation at level `l`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Propagation {
    /// The mean-field activations `P(h = 1 | v)` (values in `[0, 1]`).
    MeanField,
    /// One Bernoulli sample `h ~ P(h | v)` per row (binary values).
    Samples,
}

impl fmt::Display for Propagation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Propagation::MeanField => "mean-field",
            Propagation::Samples => "samples",
        })
    }
}

impl FromStr for Propagation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mean-field" | "mean_field" | "meanfield" | "mf" | "probs" => {
                Ok(Propagation::MeanField)
            }
            "samples" | "sample" | "sampled" | "bernoulli" => Ok(Propagation::Samples),
            other => Err(Error::param(
                "propagation",
                format!("expected `mean-field` or `samples`, got `{other}`"),
            )),
        }
    }
}

/// Everything that determines the training of a stack: one [`TrainConfig`] per layer (its
/// `n_hidden` is the layer's size), how data propagates upwards, and the seed of that
/// propagation. Build with [`StackConfig::builder`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StackConfig {
    /// Configuration of each layer, bottom first.
    pub layers: Vec<TrainConfig>,
    /// How layer `l + 1`'s input is made from layer `l`.
    pub propagation: Propagation,
    /// Seed of the Bernoulli draws of [`Propagation::Samples`].
    pub seed: u64,
}

impl StackConfig {
    /// A builder (no layers yet, mean-field propagation, seed 0).
    pub fn builder() -> StackConfigBuilder {
        StackConfigBuilder {
            cfg: StackConfig {
                layers: Vec::new(),
                propagation: Propagation::MeanField,
                seed: 0,
            },
        }
    }

    /// Checks every layer's configuration; at least one layer.
    pub fn validate(&self) -> Result<()> {
        if self.layers.is_empty() {
            return Err(Error::param("layers", "a stack needs at least one layer"));
        }
        for (l, c) in self.layers.iter().enumerate() {
            c.validate().map_err(|e| match e {
                Error::InvalidParameter { name, reason } => Error::InvalidParameter {
                    name,
                    reason: format!("layer {}: {reason}", l + 1),
                },
                other => other,
            })?;
        }
        Ok(())
    }

    /// The hidden-layer sizes, bottom first.
    pub fn sizes(&self) -> Vec<usize> {
        self.layers.iter().map(|c| c.n_hidden).collect()
    }
}

/// Builder of [`StackConfig`]; `build()` checks every layer.
#[derive(Clone, Debug)]
pub struct StackConfigBuilder {
    cfg: StackConfig,
}

impl StackConfigBuilder {
    /// Appends a layer with its own configuration.
    pub fn layer(mut self, cfg: TrainConfig) -> Self {
        self.cfg.layers.push(cfg);
        self
    }

    /// Appends one layer per size, each a copy of `base` with `n_hidden = size` and seed
    /// `base.seed + index` (index counted over the whole stack, from 0).
    pub fn sizes(mut self, base: &TrainConfig, sizes: &[usize]) -> Self {
        for &n in sizes {
            let l = self.cfg.layers.len() as u64;
            let mut c = base.clone();
            c.n_hidden = n;
            c.seed = base.seed.wrapping_add(l);
            self.cfg.layers.push(c);
        }
        self
    }

    /// How data propagates upwards (default: mean field).
    pub fn propagation(mut self, p: Propagation) -> Self {
        self.cfg.propagation = p;
        self
    }

    /// Seed of the propagation's Bernoulli draws.
    pub fn seed(mut self, seed: u64) -> Self {
        self.cfg.seed = seed;
        self
    }

    /// Checks and returns the configuration.
    pub fn build(self) -> Result<StackConfig> {
        self.cfg.validate()?;
        Ok(self.cfg)
    }
}

/// The record of a stack's training: its configuration, the data, and each layer's
/// [`History`] (per-epoch metrics of that layer on its own input).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StackHistory {
    /// The configuration (including the propagation mode).
    pub config: StackConfig,
    /// Float type of the training (`f64`/`f32`).
    pub float: String,
    /// Description of the training data.
    pub data: String,
    /// One history per layer, bottom first.
    pub layers: Vec<History>,
}

/// A stack of RBMs: `layers[l]` maps level `l` (0 = data) to level `l + 1`.
#[derive(Clone, Debug, PartialEq)]
pub struct Stack<T: Float = f64> {
    /// The layers, bottom first; `layers[l].n_hidden() == layers[l + 1].n_visible()`.
    pub layers: Vec<Rbm<T>>,
    /// How the stack was trained, when it was trained here.
    pub history: Option<StackHistory>,
}

/// Serialised form of a [`Stack`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StackFile {
    /// Always [`STACK_FORMAT`].
    pub format: String,
    /// [`STACK_VERSION`] of the writer.
    pub version: u32,
    /// Float type of the model (values are stored as f64).
    pub float: String,
    /// The layers, bottom first.
    pub layers: Vec<RbmParams>,
    /// The training record, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<StackHistory>,
}

impl<T: Float> Stack<T> {
    /// A stack from given layers (no history); checks that the sizes chain up.
    pub fn from_layers(layers: Vec<Rbm<T>>) -> Result<Self> {
        check_chain(layers.iter().map(|r| (r.n_visible(), r.n_hidden())))?;
        Ok(Stack {
            layers,
            history: None,
        })
    }

    /// Trains a stack greedily: layer 1 on `train` exactly as
    /// `Trainer::new(config.layers[0]).fit(train, held_out)` would, then each further layer on
    /// the previous level's representation of `train` (and of `held_out`, for its monitor).
    pub fn fit(config: &StackConfig, train: &Dataset, held_out: Option<&Dataset>) -> Result<Self> {
        Self::fit_with(config, train, held_out, |_, t| t)
    }

    /// Like [`fit`](Self::fit), letting `prepare(layer_index, trainer)` add observers
    /// (progress bars, loggers) to each layer's trainer.
    pub fn fit_with(
        config: &StackConfig,
        train: &Dataset,
        held_out: Option<&Dataset>,
        mut prepare: impl FnMut(usize, Trainer<T>) -> Trainer<T>,
    ) -> Result<Self> {
        config.validate()?;
        let mut layers = Vec::with_capacity(config.layers.len());
        let mut histories = Vec::with_capacity(config.layers.len());
        // Representations at the current level (None: level 0, the caller's data).
        let mut x: Option<Dataset> = None;
        let mut y: Option<Dataset> = None;
        for (l, cfg) in config.layers.iter().enumerate() {
            if l > 0 {
                let prev: &Rbm<T> = &layers[l - 1];
                let mut r = stream_rng(config.seed, 2 * l as u64);
                let next = propagate(
                    prev,
                    x.as_ref().unwrap_or(train),
                    config.propagation,
                    &mut r,
                )?
                .with_name(format!("{}-level{l}", train.name()));
                if let Some(h) = y.as_ref().or(held_out) {
                    let mut r = stream_rng(config.seed, 2 * l as u64 + 1);
                    y = Some(propagate(prev, h, config.propagation, &mut r)?);
                }
                x = Some(next);
            }
            let trainer = prepare(l, Trainer::<T>::new(cfg.clone()));
            let fitted = trainer.fit(x.as_ref().unwrap_or(train), y.as_ref().or(held_out))?;
            layers.push(fitted.rbm);
            histories.push(fitted.history);
        }
        Ok(Stack {
            layers,
            history: Some(StackHistory {
                config: config.clone(),
                float: T::NAME.into(),
                data: format!(
                    "{} ({} x {})",
                    train.name(),
                    train.n_samples(),
                    train.n_features()
                ),
                layers: histories,
            }),
        })
    }

    /// Number of layers.
    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// Units per level: `[n_visible, n_hidden of layer 1, ..., n_hidden of the top layer]`.
    pub fn sizes(&self) -> Vec<usize> {
        let mut s = vec![self.layers.first().map_or(0, |r| r.n_visible())];
        s.extend(self.layers.iter().map(|r| r.n_hidden()));
        s
    }

    /// The propagation the stack was trained with (mean field when unknown).
    pub fn propagation(&self) -> Propagation {
        self.history
            .as_ref()
            .map_or(Propagation::MeanField, |h| h.config.propagation)
    }

    /// The representations of `data` at every level `0..=n_layers` (level 0 is `data`).
    /// Level `l` is drawn from stream `l` of `seed` when `propagation` samples. Square levels
    /// get a square image shape.
    pub fn representations(
        &self,
        data: &Dataset,
        propagation: Propagation,
        seed: u64,
    ) -> Result<Vec<Dataset>> {
        let mut out = vec![data.clone()];
        for (l, rbm) in self.layers.iter().enumerate() {
            let mut r = stream_rng(seed, l as u64 + 1);
            let next = propagate(rbm, &out[l], propagation, &mut r)?;
            out.push(next);
        }
        Ok(out)
    }

    /// The representation of `data` at level `level` (see
    /// [`representations`](Self::representations)).
    pub fn propagate(
        &self,
        data: &Dataset,
        level: usize,
        propagation: Propagation,
        seed: u64,
    ) -> Result<Dataset> {
        self.check_level(level)?;
        let mut x = data.clone();
        for (l, rbm) in self.layers.iter().take(level).enumerate() {
            let mut r = stream_rng(seed, l as u64 + 1);
            x = propagate(rbm, &x, propagation, &mut r)?;
        }
        Ok(x)
    }

    /// Receptive fields of the units of `level` on the data: the product `W_1 W_2 ... W_level`
    /// (`n_visible x n_level`, in f64); level 0 gives the identity.
    pub fn receptive_fields(&self, level: usize) -> Result<Mat<f64>> {
        self.check_level(level)?;
        let nv = self.sizes()[0];
        if level == 0 {
            return Ok(Mat::<f64>::identity(nv, nv));
        }
        let mut rf = self.layers[0].cast::<f64>().w;
        for rbm in self.layers.iter().take(level).skip(1) {
            let w: Rbm<f64> = rbm.cast();
            let mut next = Mat::<f64>::zeros(nv, w.n_hidden());
            matmul(
                next.as_mut(),
                Accum::Replace,
                rf.as_ref(),
                w.w.as_ref(),
                1.0,
            );
            rf = next;
        }
        Ok(rf)
    }

    /// The coarse Hamiltonian of layer `layer` (1-based): the hidden-side free energy
    /// `F_hid(h) = -b.h - sum_i softplus(a_i + (W h)_i)` of that RBM, i.e. the Hamiltonian of
    /// level `layer` after integrating out level `layer - 1` (built on `W^T`).
    pub fn coarse_hamiltonian(&self, layer: usize) -> Result<EffectiveHamiltonian> {
        if layer == 0 || layer > self.n_layers() {
            return Err(Error::param(
                "layer",
                format!("layers are numbered 1..={}, got {layer}", self.n_layers()),
            ));
        }
        Ok(EffectiveHamiltonian::hidden(&self.layers[layer - 1]))
    }

    /// The stack converted to another float type (history kept).
    pub fn cast<U: Float>(&self) -> Stack<U> {
        Stack {
            layers: self.layers.iter().map(|r| r.cast()).collect(),
            history: self.history.clone(),
        }
    }

    /// The serialisable form.
    pub fn to_file(&self) -> StackFile {
        StackFile {
            format: STACK_FORMAT.into(),
            version: STACK_VERSION,
            float: T::NAME.into(),
            layers: self.layers.iter().map(RbmParams::from).collect(),
            history: self.history.clone(),
        }
    }

    /// Saves the whole stack (layers and history) as versioned JSON (compact: a 1600-400
    /// layer alone holds 640 000 weights), atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_versioned(path, &self.to_file(), false)
    }

    /// Loads a stack file written by [`save`](Self::save), checking its format tag, version,
    /// and that every layer's shape fits the next.
    pub fn load(path: &Path) -> Result<Self> {
        let file = load_stack_file(path)?;
        let layers = file
            .layers
            .iter()
            .enumerate()
            .map(|(l, p)| {
                p.to_rbm::<T>()
                    .map_err(|e| Error::format(path, format!("field `layers[{l}]`"), e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Stack {
            layers,
            history: file.history,
        })
    }

    fn check_level(&self, level: usize) -> Result<()> {
        if level > self.n_layers() {
            return Err(Error::param(
                "level",
                format!("levels are numbered 0..={}, got {level}", self.n_layers()),
            ));
        }
        Ok(())
    }
}

/// Stack files ([`StackFile`]). Version 1 files are read: their layer histories are
/// upgraded to the typed-metrics layout.
pub const STACK_FILE: FileKind = FileKind {
    name: "stack file",
    format: STACK_FORMAT,
    version: STACK_VERSION,
    oldest: 1,
    upgrade: upgrade_stack,
};

fn upgrade_stack(value: &mut serde_json::Value, from: u32) -> std::result::Result<(), String> {
    let layers = value
        .get_mut("history")
        .and_then(|h| h.get_mut("layers"))
        .and_then(|l| l.as_array_mut());
    match (from, layers) {
        (1, Some(layers)) => layers
            .iter_mut()
            .try_for_each(crate::train::history::upgrade_history_v1),
        _ => Ok(()),
    }
}

/// Reads and checks a stack file (format tag, version, shapes).
pub fn load_stack_file(path: &Path) -> Result<StackFile> {
    let file: StackFile = read_versioned(path, &STACK_FILE)?;
    check_chain(file.layers.iter().map(|p| (p.n_visible, p.n_hidden)))
        .map_err(|e| Error::format(path, "field `layers`", e.to_string()))?;
    Ok(file)
}

/// At least one layer, and `n_hidden` of each layer equals `n_visible` of the next.
fn check_chain(shapes: impl Iterator<Item = (usize, usize)>) -> Result<()> {
    let mut prev: Option<usize> = None;
    let mut n = 0;
    for (l, (nv, nh)) in shapes.enumerate() {
        if let Some(p) = prev {
            if p != nv {
                return Err(Error::Shape(format!(
                    "layer {l} has {p} hidden units but layer {} has {nv} visible units",
                    l + 1
                )));
            }
        }
        prev = Some(nh);
        n += 1;
    }
    if n == 0 {
        return Err(Error::Shape("a stack needs at least one layer".into()));
    }
    Ok(())
}

/// Rows per chunk when propagating large data sets (bounds the temporary matrices).
const CHUNK: usize = 2000;

/// The representation one layer up: `P(h | v)` or a Bernoulli draw of it, row by row, as a
/// data set (square layers get a square image shape).
pub(crate) fn propagate<T: Float>(
    rbm: &Rbm<T>,
    data: &Dataset,
    propagation: Propagation,
    rng: &mut Rng,
) -> Result<Dataset> {
    if data.n_features() != rbm.n_visible() {
        return Err(Error::Shape(format!(
            "data has {} features but the layer has {} visible units",
            data.n_features(),
            rbm.n_visible()
        )));
    }
    let (n, nv, nh) = (data.n_samples(), rbm.n_visible(), rbm.n_hidden());
    let mut values = Vec::with_capacity(n * nh);
    let mut batch = Mat::<T>::zeros(CHUNK.min(n.max(1)), nv);
    let mut ph = Mat::<T>::zeros(CHUNK.min(n.max(1)), nh);
    let mut u = vec![T::of(0.0); nh];
    let mut start = 0;
    while start < n {
        let rows = CHUNK.min(n - start);
        let idx: Vec<usize> = (start..start + rows).collect();
        data.fill_batch(&idx, batch.as_mut().subrows_mut(0, rows));
        rbm.hidden_probs_into(
            batch.as_ref().subrows(0, rows),
            ph.as_mut().subrows_mut(0, rows),
        );
        for r in 0..rows {
            if propagation == Propagation::Samples {
                fill_uniform(rng, &mut u);
            }
            for j in 0..nh {
                let p = ph[(r, j)].as_f64().clamp(0.0, 1.0);
                values.push(match propagation {
                    Propagation::MeanField => p,
                    Propagation::Samples => {
                        if u[j] < ph[(r, j)] {
                            1.0
                        } else {
                            0.0
                        }
                    }
                });
            }
        }
        start += rows;
    }
    let mut out = Dataset::new(values, nh, None)?.with_name(data.name().to_string());
    if let Some(side) = square_side(nh) {
        out = out.with_image_shape(side, side)?;
    }
    Ok(out)
}

/// `Some(s)` when `n = s * s`.
pub(crate) fn square_side(n: usize) -> Option<usize> {
    let s = (n as f64).sqrt().round() as usize;
    (s * s == n && n > 0).then_some(s)
}
