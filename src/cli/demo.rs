//! `emf-rbm demo`: the main job on the built-in digits.

use std::path::PathBuf;

use clap::Args;

use emf_rbm::compare::{demo, output_files, DemoConfig};
use emf_rbm::output::OutputPlan;
use emf_rbm::train::Method;
use emf_rbm::Result;

/// Arguments of `demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Output folder for plots and histories.
    #[arg(long, default_value = "demo-output")]
    pub out: PathBuf,
    /// Epochs per method.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Hidden units (at most ~24 keeps the exact likelihood cheap).
    #[arg(long, default_value_t = 16)]
    pub hidden: usize,
    /// Methods to compare (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub methods: Option<Vec<Method>>,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `demo`.
pub fn run(a: &DemoArgs) -> Result<()> {
    let mut cfg = DemoConfig {
        n_hidden: a.hidden,
        epochs: a.epochs,
        seed: a.seed,
        ..DemoConfig::default()
    };
    if let Some(m) = &a.methods {
        cfg.methods = m.clone();
    }
    eprintln!(
        "demo: built-in UCI digits (1797 x 64, binarised at 0.5, 20% held out), {} hidden units, {} epochs per method",
        cfg.n_hidden, cfg.epochs
    );
    let names: Vec<String> = cfg.methods.iter().map(|m| m.name()).collect();
    OutputPlan::new()
        .folder(&a.out)
        .files(output_files(&a.out, &names, true))
        .check()?;
    let (cmp, train) = demo(&cfg, !a.quiet)?;
    println!(
        "\nlog-likelihood per held-out digit in nats (higher is better): exact; with ln Z\n\
         replaced by the TAP2 estimate (converged / started fixed points; `-` when none\n\
         converged); and the paper's EMF estimate (training subset)\n"
    );
    print!("{}", cmp.table());
    let files = cmp.save(&a.out, train.image_shape())?;
    println!("\nwrote {} files into {}/:", files.len(), a.out.display());
    for f in files {
        println!("  {}", f.display());
    }
    Ok(())
}
