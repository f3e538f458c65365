//! Options shared by several subcommands.

use std::io::Write;
use std::path::{Path, PathBuf};

use emf_rbm::data::Dataset;
use emf_rbm::output::OutputPlan;
use emf_rbm::persist::{self, ModelFile};
use emf_rbm::{Error, Result};

use super::training::TrainingArgs;

/// Parses `--binarize`: a threshold in [0, 1], `none`, or `stochastic`.
#[derive(Clone, Debug, PartialEq)]
pub enum Binarize {
    /// `x >= t -> 1`.
    Threshold(f64),
    /// Bernoulli(x) once, with the run's seed.
    Stochastic,
    /// Keep grey levels.
    None,
}

impl std::str::FromStr for Binarize {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "none" => Ok(Binarize::None),
            "stochastic" => Ok(Binarize::Stochastic),
            t => match t.parse::<f64>() {
                Ok(x) if (0.0..=1.0).contains(&x) => Ok(Binarize::Threshold(x)),
                _ => Err(format!(
                    "expected a threshold in [0, 1], `none` or `stochastic`, got `{t}`"
                )),
            },
        }
    }
}

impl Binarize {
    /// Applies the choice.
    pub fn apply(&self, d: Dataset, seed: u64) -> Dataset {
        match self {
            Binarize::Threshold(t) => d.binarize(*t),
            Binarize::Stochastic => d.binarize_stochastic(seed),
            Binarize::None => d,
        }
    }
}

/// Loads `--data` and returns (train, held-out): a MNIST folder gives its own test set (then
/// `--held-out` is refused), anything else is split with the `--held-out` fraction.
pub fn load_train_test(spec: &str, t: &TrainingArgs) -> Result<(Dataset, Dataset)> {
    let (train, test) = load_split(spec)?;
    let fraction = t.held_out_fraction(test.is_some())?;
    let train = t.binarize.apply(train, t.seed);
    match (test, fraction) {
        (Some(test), _) => Ok((train, t.binarize.apply(test, t.seed.wrapping_add(1)))),
        (None, Some(f)) => train.split(f, t.seed),
        (None, None) => Err(Error::param("held-out", "no held-out fraction")),
    }
}

/// [`Dataset::load_split`], printing the readers' notes on stderr (e.g. an IDX file of 0/1
/// bytes read as binary data).
pub fn load_split(spec: &str) -> Result<(Dataset, Option<Dataset>)> {
    let (train, test) = Dataset::load_split(spec)?;
    for note in train
        .notes()
        .iter()
        .chain(test.iter().flat_map(|t| t.notes()))
    {
        eprintln!("note: {note}");
    }
    Ok((train, test))
}

/// `-` as an output path: standard output. Accepted by the text outputs `train --out` and
/// `import --out` (a model file's JSON); every other output is a file.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Adds `path` to the plan's outputs unless it is `-` (standard output).
pub fn output_file(plan: OutputPlan, path: &Path) -> OutputPlan {
    if is_stdout(path) {
        plan
    } else {
        plan.file(path)
    }
}

/// The files read by `--data` (none for `digits`).
pub fn data_inputs(spec: &str) -> Result<Vec<PathBuf>> {
    Dataset::input_files(spec)
}

/// Writes a model file to `out`, or to standard output when `out` is `-`.
pub fn write_model(out: &Path, file: &ModelFile) -> Result<()> {
    if !is_stdout(out) {
        return persist::save_model_file(out, file);
    }
    let bytes = file.to_json()?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&bytes)
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io("<standard output>", e))
}

/// Where `out` is described in messages.
pub fn describe_output(out: &Path) -> String {
    if is_stdout(out) {
        "standard output".into()
    } else {
        out.display().to_string()
    }
}
