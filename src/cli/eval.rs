//! `emf-rbm eval`: a thin layer over [`emf_rbm::estimate::Evaluation`].

use std::path::PathBuf;

use clap::Args;

use emf_rbm::data::Dataset;
use emf_rbm::estimate::readout::{hidden_readout, ReadoutConfig};
use emf_rbm::estimate::{EvalOptions, Evaluation};
use emf_rbm::{persist, Error, Float, Rbm, Result};

use super::common::Binarize;
use super::training::{AisArgs, ExactArgs, TapEstimateArgs};

/// Arguments of `eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Model file (JSON written by `train`, `compare` or `import`).
    pub model: PathBuf,
    /// Data to evaluate on (same forms as `train --data`; a MNIST folder means its test set).
    #[arg(long)]
    pub data: Option<String>,
    /// Binarisation of the data: threshold, `stochastic` or `none`.
    #[arg(long, default_value = "0.5")]
    pub binarize: Binarize,
    /// Score only the held-out part that `train --held-out FRACTION --seed S` left out of this
    /// data (the same rows: give the same fraction and S as --split-seed). Refused for data
    /// with its own test part, which is then what eval scores.
    #[arg(long, visible_alias = "validation")]
    pub held_out: Option<f64>,
    /// With --held-out: the training run's --seed, which drew the split (and a stochastic
    /// binarisation) [default: --seed].
    #[arg(long)]
    pub split_seed: Option<u64>,
    #[command(flatten)]
    pub exact: ExactArgs,
    /// Seed of the stochastic parts (pseudo-likelihood bit flips, TAP starts drawn from the
    /// model without data, AIS runs).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub tap_estimate: TapEstimateArgs,
    /// Also estimate ln Z (and, with --data, the log-likelihood) by AIS, and with --data the
    /// log-likelihood from below by RAISE on the same rows, each with interval and effective
    /// sample size.
    #[arg(long)]
    pub ais: bool,
    #[command(flatten)]
    pub ais_settings: AisArgs,
    /// Also fit a logistic regression on the hidden marginals P(h = 1 | v) of the labelled
    /// training rows (the data's training part, or the rows --held-out leaves for training)
    /// and report its accuracy on the scored rows.
    #[arg(long)]
    pub readout: bool,
    /// --readout: the L2 penalty on the classifier's weights [default: 1e-4].
    #[arg(long)]
    pub readout_l2: Option<f64>,
    /// Evaluate in f32: the weights rounded to f32 (exactly those of a model trained with
    /// `--f32`), GEMMs in f32 (AIS and RAISE about twice as fast at MNIST size); the TAP
    /// estimates are solved in f64 on those weights (as the training monitor does); sums,
    /// log-sum-exp and exact enumeration stay in f64.
    #[arg(long)]
    pub f32: bool,
    /// Print one JSON object on stdout instead of a table. Numbers are finite values;
    /// "inf", "-inf", "nan" are computed non-finite values; null means not computed.
    #[arg(long)]
    pub json: bool,
}

/// The evaluation options the flags describe (checked).
pub fn options(a: &EvalArgs) -> Result<EvalOptions> {
    if !a.ais && a.ais_settings.any() {
        return Err(AisArgs::without_ais());
    }
    if a.held_out.is_some() && a.data.is_none() {
        return Err(Error::param(
            "held-out",
            "--held-out picks the held-out rows of --data: add --data",
        ));
    }
    if a.split_seed.is_some() && a.held_out.is_none() {
        return Err(Error::param(
            "split-seed",
            "--split-seed sets the split of --held-out: add --held-out",
        ));
    }
    if a.readout_l2.is_some() && !a.readout {
        return Err(Error::param(
            "readout-l2",
            "--readout-l2 sets the read-out: add --readout",
        ));
    }
    if a.readout && a.data.is_none() {
        return Err(Error::param(
            "readout",
            "--readout needs labelled data with held-out rows: add --data",
        ));
    }
    let mut b = EvalOptions::builder()
        .exact_max_units(a.exact.exact_max)
        .seed(a.seed)
        .tap_starts(a.tap_estimate.starts()?)
        .tap_solver(a.tap_estimate.solver()?);
    if a.ais {
        let cfg = a.ais_settings.config()?;
        b = b
            .ais(Some(cfg.ais_config(a.seed)))
            .raise(cfg.raise_config(a.seed))
            .ais_rows(cfg.rows);
    }
    b.build()
}

/// The rows `eval --data` scores, and the rows a read-out is fitted on: the test part of data
/// that has one (fitted on the training part), else all rows (no fitting rows), or with
/// `--held-out` the held-out part of the split `train` made with the same fraction and seed
/// (fitted on the rest).
fn eval_data(a: &EvalArgs, spec: &str) -> Result<(Dataset, Option<Dataset>)> {
    let (train, test) = super::common::load_split(spec)?;
    match (test, a.held_out) {
        (Some(_), Some(_)) => Err(Error::param(
            "held-out",
            format!(
                "{spec} has its own test part, which is what eval scores (and train holds \
                 out); drop --held-out"
            ),
        )),
        (Some(test), None) => Ok((
            a.binarize.apply(test, a.seed),
            Some(a.binarize.apply(train, a.seed)),
        )),
        (None, None) => Ok((a.binarize.apply(train, a.seed), None)),
        (None, Some(fraction)) => {
            // As train does: binarise with the run's seed, then split with it.
            let seed = a.split_seed.unwrap_or(a.seed);
            let (rest, held_out) = a.binarize.apply(train, seed).split(fraction, seed)?;
            Ok((held_out, Some(rest)))
        }
    }
}

/// Runs `eval`.
pub fn run(a: &EvalArgs) -> Result<()> {
    let opts = options(a)?;
    let rbm = persist::load_rbm(&a.model)?;
    let readout_cfg = ReadoutConfig {
        l2: a.readout_l2.unwrap_or(ReadoutConfig::default().l2),
        ..ReadoutConfig::default()
    };
    readout_cfg.validate()?;
    let (data, fit_rows) = match &a.data {
        Some(spec) => {
            let (scored, fit) = eval_data(a, spec)?;
            (Some(scored), fit)
        }
        None => (None, None),
    };
    if a.readout && (data.is_none() || fit_rows.is_none()) {
        return Err(Error::param(
            "readout",
            "--readout fits on training rows and scores held-out ones: give data with a test \
             part (a MNIST folder) or --held-out",
        ));
    }
    let rows = Rows {
        scored: data.as_ref(),
        fit: fit_rows.as_ref().filter(|_| a.readout),
    };
    if a.f32 {
        evaluate(a, &rbm.cast::<f32>(), rows, &opts, &readout_cfg)
    } else {
        evaluate(a, &rbm, rows, &opts, &readout_cfg)
    }
}

/// The rows eval scores, and those a read-out is fitted on (when asked for).
#[derive(Clone, Copy)]
struct Rows<'a> {
    scored: Option<&'a Dataset>,
    fit: Option<&'a Dataset>,
}

/// Evaluates in the float type `T` and prints the table or the JSON.
fn evaluate<T: Float>(
    a: &EvalArgs,
    rbm: &Rbm<T>,
    rows: Rows<'_>,
    opts: &EvalOptions,
    readout_cfg: &ReadoutConfig,
) -> Result<()> {
    let readout = match (rows.fit, rows.scored) {
        (Some(fit), Some(scored)) => Some(hidden_readout(rbm, fit, scored, readout_cfg)?),
        _ => None,
    };
    let e = Evaluation::run(rbm, rows.scored, opts)?;
    if a.json {
        let mut v = e.to_json();
        v["model"] = a.model.display().to_string().into();
        v["float"] = T::NAME.into();
        if let (Some(r), Some(o)) = (&readout, v.as_object_mut()) {
            o.extend(r.to_json().as_object().cloned().unwrap_or_default());
        }
        println!("{v}");
    } else {
        println!("{:<28} {}", "model", a.model.display());
        println!("{:<28} {}", "float", T::NAME);
        print!("{}", e.table());
        if let Some(r) = &readout {
            print!("{}", r.table());
        }
    }
    Ok(())
}
