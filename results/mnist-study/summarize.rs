//! Summarises the MNIST study that `results/mnist-study/run.sh` trains: reads each run's
//! `runs/<method>/seed<k>/history.json` (the training history of the model file or of its
//! last checkpoint) and the learning-rate choice `grid/choice.json`, and writes
//! `summary.json`, `table.md` and the plots `ll_vs_epoch`, `ll_vs_time`, `tap_error` (each as
//! `.png` and `.svg`) into the study folder. Runs still in progress count with the epochs they
//! have reached.
//!
//! ```text
//! cargo run --release --example mnist_study_summary -- [STUDY_DIR]
//! ```
//! (default `results/mnist-study`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use emf_rbm::plot::LineChart;
use emf_rbm::train::{keys, EpochRecord, Estimate, History};
use emf_rbm::{Result, TapOrder};
use serde_json::{json, Value};

/// The epochs at which the study scores its models.
const CHECKPOINTS: [usize; 7] = [1, 2, 5, 10, 20, 30, 50];

/// One training run (a method at one seed) as far as it got.
struct Run {
    seed: u64,
    history: History,
    /// `readout.json`: `emf-rbm eval --readout --json` of the finished model.
    readout: Option<Value>,
}

impl Run {
    fn at(&self, epoch: usize) -> Option<&EpochRecord> {
        self.history.epochs.iter().find(|r| r.epoch == epoch)
    }
}

/// The scores of one method at one checkpoint epoch, over the seeds that reached it.
#[derive(Default)]
struct Scores {
    ais: Vec<Estimate>,
    raise: Vec<Estimate>,
    ais_ln_z: Vec<f64>,
    tap2_ll: Vec<f64>,
    tap2_ln_z_error: Vec<f64>,
    tap2_converged: Vec<(usize, usize)>,
    emf_ll: Vec<f64>,
    emf_error: Vec<f64>,
    seconds: Vec<f64>,
}

impl Scores {
    fn gather(runs: &[Run], epoch: usize) -> Self {
        let mut s = Scores::default();
        for r in runs.iter().filter_map(|run| run.at(epoch)) {
            let (Some(ais), Some(ln_z)) = (
                r.get(&keys::AIS_LOG_LIKELIHOOD_HELD_OUT),
                r.get(&keys::AIS_LN_Z),
            ) else {
                continue;
            };
            s.ais.push(ais);
            s.ais_ln_z.push(ln_z.value);
            s.raise.extend(r.get(&keys::RAISE_LOG_LIKELIHOOD_HELD_OUT));
            s.seconds.push(r.train_seconds / epoch as f64);
            if let Some(tap) = r.get(&keys::tap_ln_z(TapOrder::Tap2)) {
                s.tap2_converged.push((tap.n_converged, tap.n_particles));
                if let Some(v) = tap.value {
                    // LL_tap2 - LL_ais on the same rows = ln Z_ais - ln Z_tap2.
                    s.tap2_ln_z_error.push(ln_z.value - v);
                }
            }
            s.tap2_ll.extend(
                r.get(&keys::tap_log_likelihood_held_out(TapOrder::Tap2))
                    .and_then(|t| t.value),
            );
            if let Some(emf) = r.get(&keys::EMF_LOG_LIKELIHOOD) {
                s.emf_ll.push(emf);
                // The EMF likelihood scores the monitor's training subset; AIS's ln Z gives
                // the same rows' likelihood as -mean F - ln Z.
                if let Some(f) = r.free_energy_train {
                    s.emf_error.push(emf - (-f - ln_z.value));
                }
            }
        }
        s
    }

    fn is_empty(&self) -> bool {
        self.ais.is_empty()
    }
}

fn mean(x: &[f64]) -> Option<f64> {
    (!x.is_empty()).then(|| x.iter().sum::<f64>() / x.len() as f64)
}

fn median(x: &[f64]) -> Option<f64> {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| {
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        }
    })
}

/// An estimate over seeds: the mean of the seeds' values, the widest interval any seed's
/// interval or value reaches (so it holds both the estimator's interval and the seed
/// spread), the smallest ESS, and the per-seed values.
fn over_seeds(e: &[Estimate]) -> Value {
    if e.is_empty() {
        return Value::Null;
    }
    let values: Vec<f64> = e.iter().map(|x| x.value).collect();
    let lo = e
        .iter()
        .map(|x| x.lower.min(x.value))
        .fold(f64::MAX, f64::min);
    let hi = e
        .iter()
        .map(|x| x.upper.max(x.value))
        .fold(f64::MIN, f64::max);
    let ess = e.iter().map(|x| x.ess).fold(f64::MAX, f64::min);
    // An interval open above (too few effective AIS runs) is "inf", as in the tool's JSON.
    let hi = if hi.is_finite() {
        json!(hi)
    } else {
        json!("inf")
    };
    json!({"mean": mean(&values), "lo": lo, "hi": hi, "ess": ess,
           "ess_of": e[0].runs, "per_seed": values})
}

/// `x` when finite, else `fallback`.
fn finite_or(x: f64, fallback: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        fallback
    }
}

fn load_runs(dir: &Path) -> Result<BTreeMap<String, Vec<Run>>> {
    let mut methods = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir.join("runs")) else {
        return Ok(methods);
    };
    let mut method_dirs: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    method_dirs.sort();
    for m in method_dirs {
        let name = m.file_name().unwrap().to_string_lossy().to_string();
        let mut runs = Vec::new();
        let mut seed_dirs: Vec<PathBuf> = std::fs::read_dir(&m)
            .map_err(|e| emf_rbm::Error::io(&m, e))?
            .filter_map(|e| Some(e.ok()?.path()))
            .collect();
        seed_dirs.sort();
        for s in seed_dirs {
            let file = s.join("history.json");
            let Some(seed) = s
                .file_name()
                .and_then(|n| n.to_str()?.strip_prefix("seed")?.parse().ok())
            else {
                continue;
            };
            if !file.exists() {
                continue;
            }
            let text = std::fs::read_to_string(&file).map_err(|e| emf_rbm::Error::io(&file, e))?;
            let history: History = serde_json::from_str(&text).map_err(|e| {
                emf_rbm::Error::param("history", format!("{}: {e}", file.display()))
            })?;
            let readout = std::fs::read_to_string(s.join("readout.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
            runs.push(Run {
                seed,
                history,
                readout,
            });
        }
        if !runs.is_empty() {
            methods.insert(name, runs);
        }
    }
    Ok(methods)
}

/// `timing/log.txt` (run.sh timing): per method, the seconds per epoch of each interleaved
/// round, from lines `<method> round <k>: trained 2 epochs in 7.80 s (3.90 s per epoch, f32)`.
fn load_timing(dir: &Path) -> BTreeMap<String, Vec<f64>> {
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let text = std::fs::read_to_string(dir.join("timing/log.txt")).unwrap_or_default();
    for line in text.lines() {
        let method = line.split(" round ").next().unwrap_or("");
        let secs = line
            .split('(')
            .nth(1)
            .and_then(|t| t.split(" s per epoch").next())
            .and_then(|t| t.trim().parse::<f64>().ok());
        if let (false, Some(secs)) = (method.is_empty(), secs) {
            out.entry(method.to_string()).or_default().push(secs);
        }
    }
    out
}

/// The read-out accuracy of the finished runs: mean, per seed, the epochs and whether each
/// fit converged (`null` before any run has finished).
fn readout(runs: &[Run]) -> Value {
    let done: Vec<(&Run, f64, bool)> = runs
        .iter()
        .filter_map(|r| {
            let v = r.readout.as_ref()?;
            Some((
                r,
                v["readout_test_accuracy"].as_f64()?,
                v["readout_converged"] == true,
            ))
        })
        .collect();
    let acc: Vec<f64> = done.iter().map(|d| d.1).collect();
    match mean(&acc) {
        None => Value::Null,
        Some(m) => json!({
            "mean": m,
            "per_seed": acc,
            "seeds": done.iter().map(|d| d.0.seed).collect::<Vec<_>>(),
            "epochs": done.iter().map(|d| d.0.history.epochs_trained).collect::<Vec<_>>(),
            "converged": done.iter().map(|d| d.2).collect::<Vec<_>>(),
        }),
    }
}

fn method_record(name: &str, runs: &[Run], choice: &Value, timing: Option<&Vec<f64>>) -> Value {
    let config = &runs[0].history.config;
    let mut checkpoints = Vec::new();
    for epoch in CHECKPOINTS {
        let s = Scores::gather(runs, epoch);
        if s.is_empty() {
            continue;
        }
        checkpoints.push(json!({
            "epoch": epoch,
            "seeds": s.ais.len(),
            "ais_ll": over_seeds(&s.ais),
            "raise_ll": over_seeds(&s.raise),
            "ais_ln_z": mean(&s.ais_ln_z),
            "tap2_ll": mean(&s.tap2_ll),
            "tap2_ll_minus_ais_ll": mean(&s.tap2_ln_z_error),
            "tap2_converged": s.tap2_converged,
            "emf_ll": mean(&s.emf_ll),
            "emf_ll_minus_ais_ll_train_subset": mean(&s.emf_error),
            "seconds_per_epoch": median(&s.seconds),
        }));
    }
    json!({
        "method": name,
        "negative_phase": config.method,
        "lr": config.learning_rate,
        "momentum": config.momentum,
        "l2": config.l2,
        "lr_choice": choice.get(name).cloned().unwrap_or(Value::Null),
        "seeds": runs.iter().map(|r| r.seed).collect::<Vec<_>>(),
        "epochs": runs.iter().map(|r| r.history.epochs_trained).collect::<Vec<_>>(),
        "checkpoints": checkpoints,
        "readout_test_accuracy": readout(runs),
        // Measured apart on a quiet machine (run.sh timing): what the time axis uses.
        "seconds_per_epoch_quiet": timing.map(|t| json!({"median": median(t), "rounds": t})),
    })
}

fn charts(
    dir: &Path,
    methods: &BTreeMap<String, Vec<Run>>,
    timing: &BTreeMap<String, Vec<f64>>,
) -> Result<()> {
    // The band: from the lowest RAISE or AIS lower end to the highest finite AIS upper end
    // over the seeds (an AIS interval open above is drawn up to its value).
    let title = "Held-out log-likelihood, MNIST, 500 hidden units (band: AIS/RAISE and seeds)";
    let mut by_epoch = LineChart::new(
        title,
        "epoch (log scale)",
        "log-likelihood (nats per test image)",
    )
    .log_x();
    let mut by_time = LineChart::new(
        title,
        "training time (s, log scale: epochs x the seconds per epoch of run.sh timing)",
        "log-likelihood (nats per test image)",
    )
    .log_x();
    let mut error = LineChart::new(
        "TAP2 estimate minus AIS, held-out log-likelihood (0: the TAP2 ln Z is exact)",
        "epoch (log scale)",
        "TAP2 log-likelihood - AIS log-likelihood (nats per image)",
    )
    .log_x()
    .reference("0 (exact)", 0.0);
    for (name, runs) in methods {
        let (mut line, mut band, mut timed, mut tap) = (vec![], vec![], vec![], vec![]);
        let mut timed_band = vec![];
        for epoch in CHECKPOINTS {
            let s = Scores::gather(runs, epoch);
            let Some(ll) = mean(&s.ais.iter().map(|e| e.value).collect::<Vec<_>>()) else {
                continue;
            };
            let hi = s
                .ais
                .iter()
                .map(|e| finite_or(e.upper, e.value).max(e.value))
                .fold(f64::MIN, f64::max);
            let lo = (s.raise.iter().chain(&s.ais))
                .map(|e| e.lower.min(e.value))
                .fold(f64::MAX, f64::min);
            let x = epoch as f64;
            line.push((x, ll));
            band.push((x, lo, hi));
            // The quiet machine's seconds per epoch when measured, else the run's own.
            let quiet = timing.get(name).and_then(|t| median(t));
            if let Some(t) = quiet.or(median(&s.seconds)) {
                timed.push((t * x, ll));
                timed_band.push((t * x, lo, hi));
            }
            if let Some(err) = mean(&s.tap2_ln_z_error) {
                tap.push((x, err));
            }
        }
        by_epoch = by_epoch.series(name, line).band(name, band);
        by_time = by_time.series(name, timed).band(name, timed_band);
        error = error.series(name, tap);
    }
    by_epoch.size = (1100, 650);
    by_time.size = (1100, 650);
    error.size = (1100, 650);
    // PNG for the README, SVG for notebook 02 (plot::Figure::from_svg_file).
    for ext in ["png", "svg"] {
        by_epoch.save(&dir.join(format!("ll_vs_epoch.{ext}")))?;
        by_time.save(&dir.join(format!("ll_vs_time.{ext}")))?;
        error.save(&dir.join(format!("tap_error.{ext}")))?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "results/mnist-study".into()),
    );
    let choice: Value = std::fs::read_to_string(dir.join("grid/choice.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let methods = load_runs(&dir)?;
    let timing = load_timing(&dir);
    let summary: Vec<Value> = methods
        .iter()
        .map(|(name, runs)| method_record(name, runs, &choice, timing.get(name)))
        .collect();
    let text = serde_json::to_string_pretty(&json!({
        "checkpoint_epochs": CHECKPOINTS,
        "methods": summary,
    }))
    .expect("JSON of plain values");
    emf_rbm::output::write_atomic(&dir.join("summary.json"), text.as_bytes())?;
    let table = emf_rbm::compare::study_table(&json!({ "methods": summary }));
    emf_rbm::output::write_atomic(&dir.join("table.md"), table.as_bytes())?;
    charts(&dir, &methods, &timing)?;
    print!("{table}");
    Ok(())
}
