//! Per-epoch records of a training run, serialisable with the configuration that produced
//! them. Values are read and written through typed [`Key`]s (see [`crate::train::keys`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::train::config::TrainConfig;
use crate::train::keys::{Key, MetricData, MetricValue};

/// What was measured at the end of one monitored epoch. The loop's own figures (time,
/// learning rate, fixed-point sweeps) and the standard metrics (reconstruction error,
/// pseudo-likelihood, free energies, exact likelihoods) have their own fields (`None` when not
/// measured); every other metric's value is in `metrics`, by key name. Read and write any of
/// them with [`get`](Self::get) and [`insert`](Self::insert).
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
    /// The other metrics' values (TAP, EMF, AIS, custom metrics), by key name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, MetricValue>,
}

/// The field-backed names, in table order: loop figures, then the standard metrics.
const FIELDS: [&str; 13] = [
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
    "monitor_seconds",
];

impl EpochRecord {
    /// The free-energy gap `held-out - train`, when both were measured.
    pub fn free_energy_gap(&self) -> Option<f64> {
        Some(self.free_energy_held_out? - self.free_energy_train?)
    }

    /// `Some(value)` when `name` is one of the record's own fields.
    fn field(&self, name: &str) -> Option<Option<f64>> {
        Some(match name {
            "epoch" => Some(self.epoch as f64),
            "train_seconds" => Some(self.train_seconds),
            "monitor_seconds" => Some(self.monitor_seconds),
            "learning_rate" => Some(self.learning_rate),
            "free_energy_gap" => self.free_energy_gap(),
            other => *self.field_ref(other)?,
        })
    }

    fn field_ref(&self, name: &str) -> Option<&Option<f64>> {
        Some(match name {
            "reconstruction_error" => &self.reconstruction_error,
            "pseudo_log_likelihood" => &self.pseudo_log_likelihood,
            "free_energy_train" => &self.free_energy_train,
            "free_energy_held_out" => &self.free_energy_held_out,
            "ln_z_exact" => &self.ln_z_exact,
            "log_likelihood_train" => &self.log_likelihood_train,
            "log_likelihood_held_out" => &self.log_likelihood_held_out,
            "sweeps_mean" => &self.sweeps_mean,
            "residual_max" => &self.residual_max,
            _ => return None,
        })
    }

    fn field_mut(&mut self, name: &str) -> Option<&mut Option<f64>> {
        Some(match name {
            "reconstruction_error" => &mut self.reconstruction_error,
            "pseudo_log_likelihood" => &mut self.pseudo_log_likelihood,
            "free_energy_train" => &mut self.free_energy_train,
            "free_energy_held_out" => &mut self.free_energy_held_out,
            "ln_z_exact" => &mut self.ln_z_exact,
            "log_likelihood_train" => &mut self.log_likelihood_train,
            "log_likelihood_held_out" => &mut self.log_likelihood_held_out,
            "sweeps_mean" => &mut self.sweeps_mean,
            "residual_max" => &mut self.residual_max,
            _ => return None,
        })
    }

    /// The value of `key`, if it was recorded (and has the key's type).
    pub fn get<V: MetricData>(&self, key: &Key<V>) -> Option<V> {
        V::from_value(&self.value(key.name())?)
    }

    /// Records `value` under `key`. Fails for the loop's own figures (`epoch`,
    /// `train_seconds`, `monitor_seconds`, `learning_rate`), the derived `free_energy_gap`, and
    /// a non-scalar value under a standard field's name.
    pub fn insert<V: MetricData>(&mut self, key: &Key<V>, value: V) -> Result<()> {
        let name = key.name();
        if self.field(name).is_some() {
            return match (self.field_mut(name), value.into()) {
                (Some(slot), MetricValue::Scalar(x)) => {
                    *slot = Some(x);
                    Ok(())
                }
                (Some(_), _) => Err(Error::param(
                    "metric key",
                    format!("`{name}` holds a plain number"),
                )),
                (None, _) => Err(Error::param(
                    "metric key",
                    format!("`{name}` is set by the training loop, not by a metric"),
                )),
            };
        }
        self.metrics.insert(name.to_string(), value.into());
        Ok(())
    }

    /// The value recorded under `name` (for tools that take names at run time; code uses
    /// [`get`](Self::get) with a typed key).
    pub fn value(&self, name: &str) -> Option<MetricValue> {
        match self.field(name) {
            Some(v) => v.map(MetricValue::Scalar),
            None => self.metrics.get(name).cloned(),
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
    /// [`Dataset::fingerprint`](crate::data::Dataset::fingerprint) of the training data
    /// (absent in files written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_fingerprint: Option<String>,
}

impl History {
    /// The same history with every wall time set to 0 (the run's total, each record's
    /// training and monitoring time): what a byte-reproducible model file keeps.
    pub fn without_timings(mut self) -> Self {
        self.train_seconds = 0.0;
        for r in &mut self.epochs {
            r.train_seconds = 0.0;
            r.monitor_seconds = 0.0;
        }
        self
    }

    /// The last record, if any.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// `(epoch, value)` pairs of a metric over the run, at the epochs where it was recorded
    /// (structured values give their point estimate, see [`MetricValue::point`]).
    pub fn series<V: MetricData>(&self, key: &Key<V>) -> Vec<(f64, f64)> {
        self.epochs
            .iter()
            .filter_map(|r| Some((r.epoch as f64, r.get(key)?.into().point()?)))
            .collect()
    }

    /// The history as CSV: one row per record; one column per field measured in any record,
    /// then the other metrics by name, a structured value spread over several columns (see
    /// [`MetricValue::columns`]). Absent values are empty cells; non-finite ones `inf`,
    /// `-inf`, `NaN`.
    pub fn to_csv(&self) -> String {
        let mut cols: Vec<(String, &'static str)> = std::iter::once("epoch")
            .chain(FIELDS)
            .filter(|c| self.epochs.iter().any(|r| r.value(c).is_some()))
            .map(|c| (c.to_string(), ""))
            .collect();
        let mut names: Vec<&String> = self.epochs.iter().flat_map(|r| r.metrics.keys()).collect();
        names.sort();
        names.dedup();
        for name in names {
            let mut suffixes: Vec<&'static str> = Vec::new();
            for r in &self.epochs {
                for (s, _) in r.metrics.get(name).map(|v| v.columns()).unwrap_or_default() {
                    if !suffixes.contains(&s) {
                        suffixes.push(s);
                    }
                }
            }
            cols.extend(suffixes.into_iter().map(|s| (name.clone(), s)));
        }
        let header: Vec<String> = cols.iter().map(|(n, s)| format!("{n}{s}")).collect();
        let mut out = header.join(",");
        out.push('\n');
        for r in &self.epochs {
            let row: Vec<String> = cols
                .iter()
                .map(|(name, suffix)| {
                    let cell = r.value(name).and_then(|v| {
                        v.columns()
                            .into_iter()
                            .find(|(s, _)| s == suffix)
                            .and_then(|(_, x)| x)
                    });
                    cell.map(|v| format!("{v}")).unwrap_or_default()
                })
                .collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
        out
    }
}

/// Rewrites a history of the first layout (model and stack files of version 1) into the
/// current one: per-epoch `extra` numbers become scalar `metrics`, and the monitor settings
/// `exact_max_units` / `emf` become the equivalent list of metrics.
pub(crate) fn upgrade_history_v1(h: &mut serde_json::Value) -> std::result::Result<(), String> {
    use crate::train::metrics::MonitorConfig;
    if let Some(epochs) = h.get_mut("epochs").and_then(|e| e.as_array_mut()) {
        for r in epochs {
            if let Some(obj) = r.as_object_mut() {
                if let Some(extra) = obj.remove("extra") {
                    obj.insert("metrics".into(), extra);
                }
            }
        }
    }
    let monitor = h
        .get_mut("config")
        .and_then(|c| c.get_mut("monitor"))
        .ok_or("history without `config.monitor`")?;
    *monitor = MonitorConfig::upgrade_v1(monitor)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::keys::{self, Estimate, TapValue};

    #[test]
    fn keys_address_fields_and_metrics_and_refuse_what_a_metric_may_not_write() {
        let mut r = EpochRecord {
            epoch: 3,
            ..Default::default()
        };
        r.insert(&keys::FREE_ENERGY_TRAIN, -10.0).unwrap();
        r.insert(&keys::FREE_ENERGY_HELD_OUT, -9.5).unwrap();
        assert_eq!(r.free_energy_train, Some(-10.0));
        assert_eq!(r.get(&keys::FREE_ENERGY_GAP), Some(0.5));
        assert!(r.insert(&keys::FREE_ENERGY_GAP, 1.0).is_err());
        assert!(r.insert(&keys::TRAIN_SECONDS, 1.0).is_err());
        const WRONG: Key<Estimate> = Key::new("ln_z_exact");
        let e = Estimate {
            value: 1.0,
            lower: 0.5,
            upper: 2.0,
            ess: 3.0,
            runs: 4,
        };
        assert!(r.insert(&WRONG, e).is_err(), "a field holds a plain number");
        // A value of another type under a key is not returned as the key's type.
        const AS_TAP: Key<TapValue> = Key::new("ais_ln_z");
        r.insert(&keys::AIS_LN_Z, e).unwrap();
        assert_eq!(r.get(&AS_TAP), None);
        assert_eq!(r.get(&keys::AIS_LN_Z), Some(e));
        assert!(r.metrics.contains_key("ais_ln_z") && r.metrics.len() == 1);
    }

    #[test]
    fn csv_spreads_structured_values_and_json_keeps_infinities() {
        let mut r = EpochRecord {
            epoch: 1,
            ..Default::default()
        };
        r.insert(&keys::RECONSTRUCTION_ERROR, 0.25).unwrap();
        let e = Estimate {
            value: 1.5,
            lower: f64::NEG_INFINITY,
            upper: 2.0,
            ess: 1.0,
            runs: 2,
        };
        r.insert(&keys::AIS_LN_Z, e).unwrap();
        let tap = TapValue {
            value: None,
            n_converged: 0,
            n_particles: 7,
            max_residual: 0.5,
            note: Some("none converged".into()),
        };
        r.insert(&keys::tap_ln_z(crate::tap::TapOrder::Mf), tap)
            .unwrap();
        let h = History {
            config: crate::train::TrainConfig::builder().build().unwrap(),
            float: "f64".into(),
            data: "x".into(),
            epochs: vec![r.clone()],
            train_seconds: 0.0,
            data_fingerprint: None,
            epochs_trained: 1,
        };
        let csv = h.to_csv();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next().unwrap(),
            "epoch,train_seconds,learning_rate,reconstruction_error,monitor_seconds,\
             ais_ln_z,ais_ln_z_lower,ais_ln_z_upper,ais_ln_z_ess,ais_ln_z_runs,\
             ln_z_mf,ln_z_mf_converged,ln_z_mf_particles,ln_z_mf_max_residual"
        );
        assert_eq!(
            lines.next().unwrap(),
            "1,0,0,0.25,0,1.5,-inf,2,1,2,,0,7,0.5"
        );
        let json = serde_json::to_string(&r).unwrap();
        assert!(
            json.contains(r#""lower":"-inf""#) && json.contains(r#""value":null"#),
            "{json}"
        );
        let back: EpochRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(h.series(&keys::AIS_LN_Z), [(1.0, 1.5)]);
        assert!(h
            .series(&keys::tap_ln_z(crate::tap::TapOrder::Mf))
            .is_empty());
    }
}
