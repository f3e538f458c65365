//! The renormalized Hamiltonian of an RBM trained on 4 x 4 Ising samples at T = 5: its
//! strongest pair couplings (spin basis, exact by enumeration) next to the truth,
//! `J = 1/T` on the 32 nearest-neighbour bonds and 0 elsewhere.
//!
//! `cargo run --release --example couplings`

use emf_rbm::hamiltonian::{Basis, EffectiveHamiltonian, SpinMethod};
use emf_rbm::ising::{sample_ising, IsingConfig};
use emf_rbm::train::{Method, TrainConfig, Trainer};

fn main() -> emf_rbm::Result<()> {
    let (l, t) = (4, 5.0);
    let data = sample_ising(&IsingConfig {
        seed: 3,
        ..IsingConfig::new(l, t, 30_000)
    })?
    .dataset;
    let config = TrainConfig::builder()
        .n_hidden(32)
        .method(Method::Pcd {
            k: 5,
            chains: Some(100),
        })
        .epochs(100)
        .batch_size(100)
        .learning_rate(0.05)
        .momentum(0.5)
        .init_sigma(0.01)
        .seed(4)
        .build()?;
    let rbm = Trainer::<f64>::new(config).fit(&data, None)?.rbm;
    let ham = EffectiveHamiltonian::new(&rbm);
    let top = ham.top_couplings(2, 36, Basis::Spin, &SpinMethod::Enumeration)?;
    let neighbours = |i: usize, k: usize| {
        let (dr, dc) = ((i / l).abs_diff(k / l), (i % l).abs_diff(k % l));
        dr.min(l - dr) + dc.min(l - dc) == 1
    };
    println!(
        "strongest pair couplings J_ij (truth: {:.3} for neighbours, 0 otherwise)",
        1.0 / t
    );
    let bonds_first = top[..32]
        .iter()
        .filter(|c| neighbours(c.units[0], c.units[1]))
        .count();
    println!("  {bonds_first} of the 32 strongest are the lattice's 32 bonds");
    for c in top {
        let (i, k) = (c.units[0], c.units[1]);
        let kind = if neighbours(i, k) {
            "neighbours"
        } else {
            "not bonded"
        };
        println!("  ({:>2},{:>2}) {:+.4}  {kind}", i, k, c.value);
    }
    Ok(())
}
