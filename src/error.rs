//! The crate's one error type. Every user-facing failure is a variant that says what was
//! expected and where (file, offset, line) it was not found.

use std::path::PathBuf;

/// Everything that can go wrong in emf-rbm.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system I/O failure on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file that could not be read or written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file whose content does not follow its format.
    #[error("{path}: {what} (at {location})")]
    Format {
        /// The offending file (or a description such as `<built-in digits>`).
        path: PathBuf,
        /// Byte offset (`byte N`) or line (`line N, field M`) where the problem was found.
        location: String,
        /// What was expected and what was found.
        what: String,
    },
    /// Two arrays whose shapes do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A hyper-parameter or argument outside its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter's name, as in the builder or the CLI flag.
        name: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// A versioned file (model, stack, history...) written by an incompatible version of
    /// emf-rbm.
    #[error(
        "{path}: unsupported {kind} version {found} (this build reads versions {oldest} to {expected})"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// What kind of file it is (`model file`, `stack file`, `history file`).
        kind: &'static str,
        /// Version found in the file.
        found: u32,
        /// Oldest version this build reads.
        oldest: u32,
        /// Version this build writes (the newest it reads).
        expected: u32,
    },
    /// NaN or infinity appeared during training.
    #[error(
        "non-finite value in {what} at epoch {epoch}, step {step} (try a smaller learning rate)"
    )]
    NonFinite {
        /// Which quantity went bad (`weights`, `gradient`, ...).
        what: String,
        /// 1-based epoch.
        epoch: usize,
        /// 0-based minibatch index within the epoch.
        step: usize,
    },
    /// Training whose parameters grew past [`crate::train::DIVERGENCE_LIMIT`] while staying
    /// finite (a learning rate far too large).
    #[error(
        "training diverged at epoch {epoch}, step {step}: the largest |parameter| passed \
         {limit:e} and reached {max_abs:.3e} (try a smaller learning rate)"
    )]
    Diverged {
        /// The largest absolute weight or bias (at the end of the epoch).
        max_abs: f64,
        /// The limit it passed.
        limit: f64,
        /// 1-based epoch.
        epoch: usize,
        /// 0-based minibatch index within the epoch.
        step: usize,
    },
    /// An iterative estimate whose iteration did not reach its tolerance (the message gives
    /// the counts and residuals).
    #[error("not converged: {0}")]
    NotConverged(String),
    /// A computation that is not feasible at this size (e.g. exact enumeration of 2^40 states).
    #[error("infeasible: {0}")]
    Infeasible(String),
    /// A request larger than the memory cap (see [`crate::memory`]), refused before
    /// allocating.
    #[error(
        "{what} would need about {} of memory, more than the cap of {} (set {} to raise it, e.g. {}=32G)",
        crate::memory::human(*needed),
        crate::memory::human(u128::from(*limit)),
        crate::memory::ENV_VAR,
        crate::memory::ENV_VAR
    )]
    Memory {
        /// What was asked for (with the option or file responsible).
        what: String,
        /// Estimated bytes.
        needed: u128,
        /// The cap in bytes.
        limit: u64,
    },
    /// JSON (de)serialisation failure on a named file.
    #[error("{path}: invalid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error (with line and column).
        source: serde_json::Error,
    },
    /// A plotting backend failure.
    #[error("plot {path}: {message}")]
    Plot {
        /// Output file.
        path: PathBuf,
        /// Backend message.
        message: String,
    },
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Format`].
    pub fn format(
        path: impl Into<PathBuf>,
        location: impl Into<String>,
        what: impl Into<String>,
    ) -> Self {
        Error::Format {
            path: path.into(),
            location: location.into(),
            what: what.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
