//! The crate's one error type. Every user-facing failure is a variant that says what was
//! expected and where (file, offset, line) it was not found.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Everything that can go wrong in emf-rbm.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system I/O failure on a named file.
    #[error("{}: {}", shown(path), escape_control(&source.to_string()))]
    Io {
        /// The file that could not be read or written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An output path refused before (or while) writing: an output that is also an input, a
    /// device or folder where a file is expected, a folder that does not accept new files.
    #[error("output {}: {}", shown(path), escape_control(reason))]
    Output {
        /// The output path.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// A file whose content does not follow its format.
    #[error(
        "{}: {} (at {})",
        shown(path),
        escape_control(what),
        escape_control(location)
    )]
    Format {
        /// The offending file (or a description such as `<built-in digits>`).
        path: PathBuf,
        /// Byte offset (`byte N`) or line (`line N, field M`) where the problem was found.
        location: String,
        /// What was expected and what was found.
        what: String,
    },
    /// Two arrays whose shapes do not fit together.
    #[error("shape mismatch: {}", escape_control(.0))]
    Shape(String),
    /// A hyper-parameter or argument outside its valid range.
    #[error("invalid parameter `{name}`: {}", escape_control(reason))]
    InvalidParameter {
        /// The parameter's name, as in the builder or the CLI flag.
        name: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// A versioned file (model, stack, history...) written by an incompatible version of
    /// emf-rbm.
    #[error(
        "{}: unsupported {kind} version {found} (this build reads versions {oldest} to {expected})",
        shown(path)
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
    #[error("{}: invalid JSON: {}", shown(path), escape_control(&source.to_string()))]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error (with line and column).
        source: serde_json::Error,
    },
    /// A plotting backend failure.
    #[error("plot {}: {}", shown(path), escape_control(message))]
    Plot {
        /// Output file.
        path: PathBuf,
        /// Backend message.
        message: String,
    },
}

/// `text` with its control characters escaped, for messages that echo input (a CSV field, a
/// JSON string, a file name): C0 and C1 controls, DEL and the bidirectional-text overrides
/// become `\t`, `\n`, `\r` or `\u{..}`, so that no escape sequence from a file reaches the
/// terminal raw. Every [`Error`] message goes through it; text without such characters is
/// returned as it is.
///
/// ```
/// use emf_rbm::error::escape_control;
/// assert_eq!(escape_control("a\u{1b}[31mb\tc"), "a\\u{1b}[31mb\\tc");
/// assert_eq!(escape_control("plain é"), "plain é");
/// ```
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Control characters (C0, DEL, C1) and the invisible bidirectional-text controls.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A path for a message, control characters escaped.
fn shown(path: &Path) -> String {
    escape_control(&path.display().to_string()).into_owned()
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

    /// Shorthand for [`Error::Output`].
    pub fn output(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Output {
            path: path.into(),
            reason: reason.into(),
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
