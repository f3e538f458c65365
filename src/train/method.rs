//! The negative-phase methods a training run can use, as a serialisable choice.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::train::cd::{ContrastiveDivergence, PersistentCd};
use crate::train::phase::NegativePhase;
use crate::train::tap::{TapConfig, TapPhase};

/// Which negative phase to train with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Method {
    /// CD-k: Gibbs chains started at the minibatch, `k` full steps.
    Cd {
        /// Gibbs steps per update.
        k: usize,
    },
    /// PCD-k: persistent Gibbs chains, `k` steps per update.
    Pcd {
        /// Gibbs steps per update.
        k: usize,
        /// Number of persistent chains (`None`: one per minibatch row).
        chains: Option<usize>,
    },
    /// TAP/EMF at order 1 (naive mean field), 2 or 3: magnetization particles at a (near)
    /// stationary point of the Plefka free energy `G_k` (see [`TapConfig`]).
    Tap(TapConfig),
}

impl Method {
    /// The short name used on the command line and in histories (`cd1`, `pcd5`, ...).
    pub fn name(&self) -> String {
        match self {
            Method::Cd { k } => format!("cd{k}"),
            Method::Pcd { k, .. } => format!("pcd{k}"),
            Method::Tap(cfg) => cfg.name(),
        }
    }

    /// Checks the method's own parameters.
    pub fn validate(&self) -> Result<()> {
        match self {
            Method::Cd { k } | Method::Pcd { k, .. } if *k == 0 => Err(Error::param(
                "method",
                "the number of Gibbs steps k must be >= 1",
            )),
            Method::Pcd {
                chains: Some(0), ..
            } => Err(Error::param("method", "PCD needs at least one chain")),
            Method::Tap(cfg) => cfg.validate(),
            _ => Ok(()),
        }
    }

    /// Builds the negative phase for a model with `n_visible x n_hidden` units trained on
    /// minibatches of `batch_size` rows.
    pub fn build<T: Float>(
        &self,
        n_visible: usize,
        n_hidden: usize,
        batch_size: usize,
    ) -> Box<dyn NegativePhase<T>> {
        match *self {
            Method::Cd { k } => Box::new(ContrastiveDivergence::new(k, n_visible, n_hidden)),
            Method::Pcd { k, chains } => Box::new(PersistentCd::new(
                k,
                chains.unwrap_or(batch_size),
                n_visible,
                n_hidden,
            )),
            Method::Tap(cfg) => Box::new(TapPhase::new(cfg, n_visible, n_hidden)),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Method {
    type Err = Error;

    /// Parses `cd`, `cd<k>`, `pcd`, `pcd<k>` (k defaults to 1), and the TAP/EMF methods `mf`,
    /// `tap2`, `tap3` with the paper's solver settings ([`TapConfig::paper`]), `p` prefixed
    /// for persistent particles (`pmf`, `ptap2`, `ptap3`).
    ///
    /// ```
    /// use emf_rbm::train::Method;
    /// let m: Method = "ptap3".parse().unwrap();
    /// assert_eq!(m.name(), "ptap3");
    /// assert_eq!("cd5".parse::<Method>().unwrap(), Method::Cd { k: 5 });
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        let (persistent, tap_name) = match s.strip_prefix('p') {
            Some(rest) if matches!(rest, "mf" | "tap2" | "tap3") => (true, rest),
            _ => (false, s.as_str()),
        };
        if matches!(tap_name, "mf" | "tap2" | "tap3") {
            let order = tap_name.parse::<crate::tap::TapOrder>()?;
            return Ok(Method::Tap(TapConfig::paper(order).persistent(persistent)));
        }
        let parse_k = |rest: &str| -> Result<usize> {
            if rest.is_empty() {
                Ok(1)
            } else {
                rest.parse::<usize>().map_err(|_| {
                    Error::param(
                        "method",
                        format!("expected a step count after the method name, got `{rest}`"),
                    )
                })
            }
        };
        let m = if let Some(rest) = s.strip_prefix("pcd") {
            Method::Pcd {
                k: parse_k(rest)?,
                chains: None,
            }
        } else if let Some(rest) = s.strip_prefix("cd") {
            Method::Cd { k: parse_k(rest)? }
        } else {
            return Err(Error::param(
                "method",
                format!("unknown method `{s}` (expected cd<k>, pcd<k>, mf, tap2, tap3, pmf, ptap2 or ptap3)"),
            ));
        };
        m.validate()?;
        Ok(m)
    }
}
