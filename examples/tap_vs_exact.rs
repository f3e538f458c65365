//! The TAP estimates of ln Z at orders 1-3 on a trained model, next to the exact value, with
//! how many of the fixed-point searches converged.
//!
//! `cargo run --release --example tap_vs_exact`

use emf_rbm::data::Dataset;
use emf_rbm::estimate::{exact, tap};
use emf_rbm::tap::{SolverOptions, TapOrder};
use emf_rbm::train::{Method, TrainConfig, Trainer};

fn main() -> emf_rbm::Result<()> {
    let (train, test) = Dataset::digits().binarize(0.5).split(0.2, 1)?;
    let config = TrainConfig::builder()
        .n_hidden(16)
        .method(Method::Pcd { k: 1, chains: None })
        .epochs(10)
        .seed(1)
        .build()?;
    let rbm = Trainer::<f64>::new(config).fit(&train, Some(&test))?.rbm;
    let ln_z = exact::log_partition(&rbm)?;
    println!("exact ln Z {ln_z:.4}");
    let starts = train.head(200).to_mat::<f64>();
    for order in TapOrder::ALL {
        let est = tap::log_partition(&rbm, order, starts.as_ref(), &SolverOptions::converged())?;
        println!(
            "{:>5}: {:.4} (error {:+.4}; {} of {} particles converged, largest residual {:.1e})",
            order.name(),
            est.value()?,
            est.ln_z - ln_z,
            est.n_converged,
            est.n_particles,
            est.max_residual
        );
    }
    Ok(())
}
