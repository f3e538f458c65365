//! Trains CD-1, PCD-1 and TAP2 on the built-in digits with one configuration and prints the
//! comparison table (exact held-out log-likelihoods: 16 hidden units are enumerable).
//!
//! `cargo run --release --example train_and_compare`

use emf_rbm::compare::compare;
use emf_rbm::data::Dataset;
use emf_rbm::train::{Method, TrainConfig};

fn main() -> emf_rbm::Result<()> {
    let (train, test) = Dataset::digits().binarize(0.5).split(0.2, 1)?;
    let config = TrainConfig::builder()
        .n_hidden(16)
        .epochs(10)
        .batch_size(20)
        .learning_rate(0.05)
        .momentum(0.5)
        .seed(1)
        .build()?;
    let methods: Vec<Method> = ["cd1", "pcd1", "tap2"]
        .iter()
        .map(|m| m.parse())
        .collect::<emf_rbm::Result<_>>()?;
    let cmp = compare::<f64>(&config, &methods, &train, &test, false)?;
    print!("{}", cmp.table());
    Ok(())
}
