//! `emf-rbm eval`.

use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Map, Value};

use emf_rbm::data::Dataset;
use emf_rbm::estimate::tap;
use emf_rbm::estimate::{exact, metrics};
use emf_rbm::faer::Mat;
use emf_rbm::tap::{SolverOptions, TapOrder};
use emf_rbm::{persist, rng, Result};

use super::common::Binarize;

/// Arguments of `eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Model file (JSON written by `train` or `import`).
    pub model: PathBuf,
    /// Data to evaluate on (same forms as `train --data`; a MNIST folder means its test set).
    #[arg(long)]
    pub data: Option<String>,
    /// Binarisation of the data: threshold, `stochastic` or `none`.
    #[arg(long, default_value = "0.5")]
    pub binarize: Binarize,
    /// Exact ln Z when min(n_visible, n_hidden) is at most this.
    #[arg(long, default_value_t = 25)]
    pub exact_max: usize,
    /// Seed of the stochastic metrics (pseudo-likelihood).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Rows (of the data, or model samples without data) the TAP fixed points start from.
    #[arg(long, default_value_t = 200)]
    pub tap_starts: usize,
    /// Maximum fixed-point sweeps of the TAP ln Z estimates.
    #[arg(long, default_value_t = 500)]
    pub tap_sweeps: usize,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The metrics of `eval` as a JSON object (also used by tests and notebooks through the CLI).
pub fn evaluate(a: &EvalArgs) -> Result<Map<String, Value>> {
    let rbm = persist::load_rbm(&a.model)?;
    let mut out = Map::new();
    out.insert("model".into(), json!(a.model.display().to_string()));
    out.insert("n_visible".into(), json!(rbm.n_visible()));
    out.insert("n_hidden".into(), json!(rbm.n_hidden()));
    out.insert("n_parameters".into(), json!(rbm.n_parameters()));
    let ln_z = if exact::feasible(&rbm, a.exact_max) {
        Some(exact::log_partition(&rbm)?)
    } else {
        None
    };
    out.insert("ln_z_exact".into(), json!(ln_z));
    let mut mean_f = None;
    let mut starts: Option<Mat<f64>> = None;
    if let Some(spec) = &a.data {
        let (train, test) = Dataset::load_split(spec)?;
        let data = a.binarize.apply(test.unwrap_or(train), a.seed);
        if data.n_features() != rbm.n_visible() {
            return Err(emf_rbm::Error::Shape(format!(
                "data `{spec}` has {} features but the model has {} visible units",
                data.n_features(),
                rbm.n_visible()
            )));
        }
        let v = data.to_mat::<f64>();
        let f = metrics::mean_free_energy(&rbm, v.as_ref());
        mean_f = Some(f);
        out.insert("data".into(), json!(data.name()));
        out.insert("n_samples".into(), json!(data.n_samples()));
        out.insert(
            "reconstruction_error".into(),
            json!(metrics::reconstruction_error(&rbm, v.as_ref())),
        );
        let mut r = rng::rng(a.seed);
        out.insert(
            "pseudo_log_likelihood".into(),
            json!(metrics::pseudo_log_likelihood(&rbm, v.as_ref(), &mut r)),
        );
        out.insert("log_likelihood_exact".into(), json!(ln_z.map(|z| -f - z)));
        let emf = tap::emf_log_likelihood(&rbm, v.as_ref(), &SolverOptions::paper())?;
        let emf_mean = emf.iter().sum::<f64>() / emf.len() as f64;
        out.insert("emf_log_likelihood".into(), json!(emf_mean));
        out.insert(
            "emf_log_likelihood_per_unit".into(),
            json!(emf_mean / (rbm.n_visible() + rbm.n_hidden()) as f64),
        );
        starts = Some(v.subrows(0, v.nrows().min(a.tap_starts.max(1))).to_owned());
    }
    out.insert("mean_free_energy".into(), json!(mean_f));
    // TAP estimates of ln Z: -G_k at the lowest converged fixed point reached from the data
    // rows (without data: from Bernoulli(sigmoid(a)) draws, seeded).
    let starts = match starts {
        Some(s) => s,
        None => {
            use rand::Rng as _;
            let mut r = rng::rng(a.seed);
            Mat::from_fn(a.tap_starts.max(1), rbm.n_visible(), |_, i| {
                let p = emf_rbm::linalg::sigmoid(rbm.a[i]);
                if r.random::<f64>() < p {
                    1.0
                } else {
                    0.0
                }
            })
        }
    };
    let opts = SolverOptions {
        max_sweeps: a.tap_sweeps,
        ..SolverOptions::converged()
    };
    for order in TapOrder::ALL {
        let est = tap::log_partition(&rbm, order, starts.as_ref(), &opts)?;
        let name = order.name();
        out.insert(format!("ln_z_{name}"), json!(est.ln_z));
        out.insert(format!("ln_z_{name}_converged"), json!(est.n_converged));
        if let Some(f) = mean_f {
            out.insert(format!("log_likelihood_{name}"), json!(-f - est.ln_z));
        }
    }
    out.insert("tap_starts".into(), json!(starts.nrows()));
    Ok(out)
}

/// Runs `eval`.
pub fn run(a: &EvalArgs) -> Result<()> {
    let out = evaluate(a)?;
    if a.json {
        println!("{}", Value::Object(out));
    } else {
        for (k, v) in &out {
            let s = match v {
                Value::Null => "-".to_string(),
                Value::Number(n) if n.is_f64() => format!("{:.6}", n.as_f64().unwrap_or(f64::NAN)),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("{k:<24} {s}");
        }
    }
    Ok(())
}
