//! `emf-rbm fixed-points`: a thin layer over [`emf_rbm::estimate::fixed_points`].

use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};

use emf_rbm::estimate::fixed_points::{
    find_fixed_points, FixedPointOptions, FixedPointSet, Starts, DEFAULT_DISTANCE,
};
use emf_rbm::output::{write_atomic, OutputPlan};
use emf_rbm::persist::json_float;
use emf_rbm::tap::TapOrder;
use emf_rbm::{persist, Error, Float, Rbm, Result};

use super::common::Binarize;
use super::training::TapEstimateArgs;

/// Arguments of `fixed-points`.
#[derive(Args, Debug)]
pub struct FixedPointsArgs {
    /// Model file (JSON written by `train`, `compare` or `import`).
    pub model: PathBuf,
    /// Data whose first rows are starts and whose rows are searched for each point's nearest
    /// image (same forms as `train --data`; a MNIST folder means its training images).
    #[arg(long)]
    pub data: Option<String>,
    /// Binarisation of the data: threshold, `stochastic` or `none`.
    #[arg(long, default_value = "0.5")]
    pub binarize: Binarize,
    /// Expansion order: mf, tap2 or tap3.
    #[arg(long, default_value = "tap2")]
    pub order: String,
    #[command(flatten)]
    pub tap_estimate: TapEstimateArgs,
    /// Starts that are Gibbs samples of the model.
    #[arg(long, default_value_t = 0)]
    pub sample_starts: usize,
    /// Gibbs steps of each sampling chain (--sample-starts).
    #[arg(long, default_value_t = 1000)]
    pub gibbs_steps: usize,
    /// Starts that are random binary rows.
    #[arg(long, default_value_t = 0)]
    pub random_starts: usize,
    /// Two converged particles are the same point when no magnetization differs by more.
    #[arg(long, default_value_t = DEFAULT_DISTANCE)]
    pub distance: f64,
    /// Seed of the sampled and random starts.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Points listed in the table, lowest free energy first (the JSON lists all).
    #[arg(long, default_value_t = 20)]
    pub show: usize,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the whole set, magnetizations included, to this JSON file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `fixed-points`.
pub fn run(a: &FixedPointsArgs) -> Result<()> {
    let order = TapOrder::ALL
        .into_iter()
        .find(|o| o.name() == a.order)
        .ok_or_else(|| {
            Error::param(
                "order",
                format!("expected mf, tap2 or tap3, got `{}`", a.order),
            )
        })?;
    let mut plan = OutputPlan::new().input(&a.model);
    if let Some(out) = &a.out {
        plan = plan.file(out);
    }
    plan.check()?;
    let rbm = persist::load_rbm(&a.model)?;
    let data = match &a.data {
        Some(spec) => Some(
            a.binarize
                .apply(super::common::load_split(spec)?.0, a.seed)
                .to_mat::<f64>(),
        ),
        None => None,
    };
    let starts = Starts {
        data_rows: if data.is_some() {
            a.tap_estimate.starts()?
        } else {
            0
        },
        model_samples: a.sample_starts,
        gibbs_steps: a.gibbs_steps,
        random: a.random_starts,
        seed: a.seed,
    };
    let opts = FixedPointOptions {
        solver: a.tap_estimate.solver()?,
        distance: a.distance,
    };
    let rows = starts.rows(&rbm, data.as_ref().map(|d| d.as_ref()))?;
    let set = find_fixed_points(&rbm, order, rows.as_ref(), &opts)?;
    let nearest = match &data {
        Some(d) => Some(set.nearest_rows(d.as_ref())?),
        None => None,
    };
    if let Some(out) = &a.out {
        let bytes = serde_json::to_vec_pretty(&set).map_err(|e| Error::Json {
            path: out.clone(),
            source: e,
        })?;
        write_atomic(out, &bytes)?;
    }
    let summary = summary_json(a, &rbm, &set, &starts, nearest.as_deref());
    if a.json {
        println!("{summary}");
    } else {
        print!("{}", table(&summary, a.show));
    }
    Ok(())
}

/// The JSON the command prints: the counts, both ln Z estimates and one record per point.
fn summary_json<T: Float>(
    a: &FixedPointsArgs,
    rbm: &Rbm<T>,
    set: &FixedPointSet,
    starts: &Starts,
    nearest: Option<&[(usize, f64)]>,
) -> Value {
    let nv = rbm.n_visible() as f64;
    let points: Vec<Value> = set
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let near = nearest.map(|n| n[i]);
            json!({
                "free_energy": json_float::to_json(p.free_energy),
                "kind": serde_json::to_value(p.kind).unwrap_or(Value::Null),
                "state": p.is_state(),
                "plefka_radius": json_float::to_json(p.plefka_radius),
                "basin": p.basin,
                "first_start": p.first_start,
                "nearest_row": near.map(|n| n.0),
                "nearest_rms_distance": near.map(|n| json_float::to_json((n.1 / nv).sqrt())),
            })
        })
        .collect();
    json!({
        "model": a.model.display().to_string(),
        "order": set.order.name(),
        "starts": set.n_starts,
        "data_starts": set.n_starts - starts.model_samples - starts.random,
        "sample_starts": starts.model_samples,
        "random_starts": starts.random,
        "converged": set.n_converged,
        "max_residual": json_float::to_json(set.max_residual),
        "distance": set.distance,
        "solutions": set.points.len(),
        "minima": set.n_minima(),
        "states": set.n_states(),
        "ln_z_best": json_float::to_json(set.ln_z_best()),
        "ln_z_set": set.ln_z_set().map_or(Value::Null, json_float::to_json),
        "ln_z_minima": set.ln_z_minima().map_or(Value::Null, json_float::to_json),
        "points": points,
    })
}

/// The summary as text: a header of counts and estimates, then the first `show` points.
fn table(s: &Value, show: usize) -> String {
    let mut out = String::new();
    for k in [
        "model",
        "order",
        "starts",
        "data_starts",
        "sample_starts",
        "random_starts",
        "converged",
        "max_residual",
        "distance",
        "solutions",
        "minima",
        "states",
        "ln_z_best",
        "ln_z_set",
        "ln_z_minima",
    ] {
        let v = match &s[k] {
            Value::String(t) => t.clone(),
            Value::Null => "-".into(),
            other => other.to_string(),
        };
        out.push_str(&format!("{k:<16} {v}\n"));
    }
    out.push_str(&format!(
        "{:>4} {:>14} {:<14} {:>6} {:>6} {:>7} {:>8} {:>8}\n",
        "rank", "G_k", "kind", "state", "plefka", "basin", "nearest", "rms"
    ));
    let points = s["points"].as_array().cloned().unwrap_or_default();
    for (i, p) in points.iter().take(show).enumerate() {
        let kind = match &p["kind"] {
            Value::String(k) => k.clone(),
            Value::Object(m) => format!("saddle {}", m["saddle"]["index"]),
            other => other.to_string(),
        };
        let num = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.4}"));
        out.push_str(&format!(
            "{:>4} {:>14.6} {:<14} {:>6} {:>6} {:>7} {:>8} {:>8}\n",
            i + 1,
            p["free_energy"].as_f64().unwrap_or(f64::NAN),
            kind,
            p["state"].to_string(),
            num(&p["plefka_radius"]),
            p["basin"].to_string(),
            p["nearest_row"]
                .as_u64()
                .map_or("-".into(), |r| r.to_string()),
            num(&p["nearest_rms_distance"]),
        ));
    }
    if points.len() > show {
        out.push_str(&format!(
            "({} more: --show or --json)\n",
            points.len() - show
        ));
    }
    out
}
