//! `emf-rbm compare`: several methods on the same data, seed and budget.

use std::path::PathBuf;

use clap::Args;

use emf_rbm::compare::{compare_with, output_files, CompareOptions, Comparison};
use emf_rbm::output::OutputPlan;
use emf_rbm::train::Method;
use emf_rbm::{Error, Float, Result};

use super::common::{data_inputs, load_train_test};
use super::training::TrainingArgs;

/// Arguments of `compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Data (as for `train`): `digits`, a MNIST folder, an IDX(.gz) or CSV file.
    #[arg(long, default_value = "digits")]
    pub data: String,
    /// Methods, comma-separated (cd<k>, pcd<k>, mf, tap2, tap3, pmf, ptap2, ptap3).
    #[arg(long, value_delimiter = ',', default_value = "cd1,pcd1,mf,tap2,tap3")]
    pub methods: Vec<Method>,
    /// Hidden units.
    #[arg(long, default_value_t = 16)]
    pub hidden: usize,
    #[command(flatten)]
    pub training: TrainingArgs,
    /// Output folder (table, plots, and per method the model, its history as JSON and CSV).
    #[arg(long, default_value = "compare-output")]
    pub out: PathBuf,
}

/// Runs `compare`.
pub fn run(a: &CompareArgs) -> Result<()> {
    if a.training.f32 {
        run_typed::<f32>(a)
    } else {
        run_typed::<f64>(a)
    }
}

/// The methods with the TAP solver flags applied (refused when no method is a TAP one).
fn methods(a: &CompareArgs) -> Result<Vec<Method>> {
    if a.methods.is_empty() {
        return Err(Error::param("methods", "give at least one method"));
    }
    let tap = a.methods.iter().any(|m| matches!(m, Method::Tap(_)));
    a.methods
        .iter()
        .map(|m| {
            if tap && !matches!(m, Method::Tap(_)) {
                Ok(m.clone())
            } else {
                a.training.apply_solver_flags(m)
            }
        })
        .collect()
}

fn run_typed<T: Float>(a: &CompareArgs) -> Result<()> {
    let methods = methods(a)?;
    let cfg = a.training.to_config(a.hidden, &methods[0])?;
    let names: Vec<String> = methods.iter().map(|m| m.name()).collect();
    let inputs = data_inputs(&a.data)?;
    let (train, held_out) = load_train_test(&a.data, &a.training)?;
    let images = train.image_shape().is_some();
    OutputPlan::new()
        .inputs(inputs)
        .folder(&a.out)
        .files(output_files(&a.out, &names, images))
        .check()?;
    eprintln!(
        "compare {} on {} ({} x {}, held out {}), {} hidden units, {} epochs, {}",
        methods
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", "),
        train.name(),
        train.n_samples(),
        train.n_features(),
        held_out.n_samples(),
        a.hidden,
        cfg.epochs,
        T::NAME,
    );
    if let Some(note) = a.training.likelihood_note(train.n_features(), a.hidden) {
        eprintln!("{note}");
    }
    let opts = CompareOptions {
        progress: !a.training.quiet && !a.training.log,
        log: a.training.log,
        ..CompareOptions::default()
    };
    let cmp: Comparison<T> = compare_with(&cfg, &methods, &train, &held_out, &opts)?;
    print!("{}", cmp.table());
    let files = cmp.save(&a.out, train.image_shape())?;
    eprintln!("wrote {} files into {}", files.len(), a.out.display());
    Ok(())
}
