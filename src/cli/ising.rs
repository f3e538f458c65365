//! `emf-rbm ising`: samples of the 2D Ising model as an IDX data set.

use std::path::PathBuf;

use clap::Args;

use emf_rbm::ising::check::SampleCheck;
use emf_rbm::ising::{sample_ising, IsingAlgorithm, IsingConfig};
use emf_rbm::output::OutputPlan;
use emf_rbm::Result;

/// Arguments of `ising`.
#[derive(Args, Debug)]
pub struct IsingArgs {
    /// Side L of the periodic L x L square lattice.
    #[arg(long, default_value_t = 28)]
    pub size: usize,
    /// Temperature T (J = k_B = 1; T_c = 2.269).
    #[arg(long)]
    pub temperature: f64,
    /// Number of samples.
    #[arg(long, default_value_t = 10000)]
    pub samples: usize,
    /// Output IDX file (gzip when the name ends in .gz); rows are v = (s + 1)/2, so
    /// `train --data FILE` reads it.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Markov chain: `wolff` (clusters + Metropolis sweeps) or `metropolis`.
    #[arg(long, default_value = "wolff")]
    pub algorithm: String,
    /// Sweeps between samples (default: 5 measured integrated autocorrelation times).
    #[arg(long)]
    pub spacing: Option<usize>,
    /// Independent chains (run in parallel; results do not depend on the thread count).
    #[arg(long, default_value_t = 4)]
    pub chains: usize,
    /// Equilibration sweeps.
    #[arg(long, default_value_t = 1000)]
    pub burn_in: usize,
}

/// Runs `ising`.
pub fn run(args: &IsingArgs) -> Result<()> {
    let cfg = IsingConfig::builder()
        .size(args.size)
        .temperature(args.temperature)
        .samples(args.samples)
        .seed(args.seed)
        .algorithm(args.algorithm.parse::<IsingAlgorithm>()?)
        .spacing(args.spacing)
        .chains(args.chains)
        .burn_in(args.burn_in)
        .build()?;
    OutputPlan::new().file(&args.out).check()?;
    let out = sample_ising(&cfg)?;
    out.dataset.write_idx(&args.out, None)?;
    let t = args.temperature;
    println!(
        "{} samples of the {L}x{L} periodic Ising model at T = {t} ({}), written to {}",
        out.dataset.n_samples(),
        cfg.algorithm,
        args.out.display(),
        L = args.size
    );
    println!(
        "autocorrelation time {:.2} sweeps, samples every {} sweeps, {} chains{}",
        out.tau_int,
        out.spacing,
        out.chain_lengths.len(),
        if out.wolff_per_sweep > 0 {
            format!(
                ", {} Wolff clusters per sweep (mean cluster {:.1} spins)",
                out.wolff_per_sweep, out.mean_cluster_size
            )
        } else {
            String::new()
        }
    );
    print!("{}", SampleCheck::new(&out, args.size, t)?.detail());
    Ok(())
}
