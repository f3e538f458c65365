//! Per-epoch metrics of a training run, serialisable with the configuration that produced them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::train::config::TrainConfig;

/// Metrics measured at the end of one epoch. Fields are `None` when not measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Cumulative wall time spent in parameter updates (seconds, monitoring excluded).
    pub train_seconds: f64,
    /// Wall time spent computing this epoch's metrics (seconds).
    pub monitor_seconds: f64,
    /// Learning rate used during the epoch.
    pub learning_rate: f64,
    /// Mean-field reconstruction error per unit on the training subset.
    pub reconstruction_error: Option<f64>,
    /// Pseudo-log-likelihood per sample on the training subset.
    pub pseudo_log_likelihood: Option<f64>,
    /// Mean free energy of the training subset.
    pub free_energy_train: Option<f64>,
    /// Mean free energy of the held-out set.
    pub free_energy_held_out: Option<f64>,
    /// Exact ln Z, when feasible.
    pub ln_z_exact: Option<f64>,
    /// Exact mean log-likelihood per sample of the training subset.
    pub log_likelihood_train: Option<f64>,
    /// Exact mean log-likelihood per sample of the held-out set.
    pub log_likelihood_held_out: Option<f64>,
    /// Mean fixed-point sweeps per update (TAP phases).
    pub sweeps_mean: Option<f64>,
    /// Largest final fixed-point residual over the epoch (TAP phases).
    pub residual_max: Option<f64>,
    /// Further metrics added by observers (e.g. TAP or AIS estimates), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, f64>,
}

impl EpochRecord {
    /// The free-energy gap `held-out - train`, when both were measured.
    pub fn free_energy_gap(&self) -> Option<f64> {
        Some(self.free_energy_held_out? - self.free_energy_train?)
    }

    /// A metric by name: a field name above or a key of `extra`.
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name {
            "epoch" => Some(self.epoch as f64),
            "train_seconds" => Some(self.train_seconds),
            "learning_rate" => Some(self.learning_rate),
            "reconstruction_error" => self.reconstruction_error,
            "pseudo_log_likelihood" => self.pseudo_log_likelihood,
            "free_energy_train" => self.free_energy_train,
            "free_energy_held_out" => self.free_energy_held_out,
            "free_energy_gap" => self.free_energy_gap(),
            "ln_z_exact" => self.ln_z_exact,
            "log_likelihood_train" => self.log_likelihood_train,
            "log_likelihood_held_out" => self.log_likelihood_held_out,
            "sweeps_mean" => self.sweeps_mean,
            "residual_max" => self.residual_max,
            other => self.extra.get(other).copied(),
        }
    }
}

/// The record of a training run: its configuration, data description and per-epoch metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The configuration that produced the run.
    pub config: TrainConfig,
    /// Name of the float type (`f64`/`f32`).
    pub float: String,
    /// Description of the training data (name and shape).
    pub data: String,
    /// One record per monitored epoch.
    pub epochs: Vec<EpochRecord>,
    /// Total wall time of the parameter updates (seconds), monitored or not.
    #[serde(default)]
    pub train_seconds: f64,
    /// Number of epochs trained.
    #[serde(default)]
    pub epochs_trained: usize,
}

impl History {
    /// The last record, if any.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// `(epoch, value)` pairs of a metric over the run (see [`EpochRecord::metric`]).
    pub fn series(&self, metric: &str) -> Vec<(f64, f64)> {
        self.epochs
            .iter()
            .filter_map(|r| Some((r.epoch as f64, r.metric(metric)?)))
            .collect()
    }

    /// The history as CSV: one row per epoch, one column per metric present in any epoch.
    pub fn to_csv(&self) -> String {
        let mut cols: Vec<String> = [
            "epoch",
            "train_seconds",
            "learning_rate",
            "reconstruction_error",
            "pseudo_log_likelihood",
            "free_energy_train",
            "free_energy_held_out",
            "free_energy_gap",
            "ln_z_exact",
            "log_likelihood_train",
            "log_likelihood_held_out",
            "sweeps_mean",
            "residual_max",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut extra: Vec<String> = self
            .epochs
            .iter()
            .flat_map(|r| r.extra.keys().cloned())
            .collect();
        extra.sort();
        extra.dedup();
        cols.extend(extra);
        cols.retain(|c| self.epochs.iter().any(|r| r.metric(c).is_some()));
        let mut out = cols.join(",");
        out.push('\n');
        for r in &self.epochs {
            let row: Vec<String> = cols
                .iter()
                .map(|c| r.metric(c).map(|v| format!("{v}")).unwrap_or_default())
                .collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
        out
    }
}
