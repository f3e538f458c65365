//! All pair couplings of a 784 x 500 RBM (~1.5e8 pair-hidden terms), lattice-gas basis.
//! Target: under 1 s on 2 cores.

use criterion::{criterion_group, criterion_main, Criterion};
use emf_rbm::hamiltonian::EffectiveHamiltonian;
use emf_rbm::{rng, Rbm};

fn pairs(c: &mut Criterion) {
    let mut r = rng::rng(7);
    let mut rbm = Rbm::<f64>::random(784, 500, 0.3, &mut r).unwrap();
    for (j, b) in rbm.b.iter_mut().enumerate() {
        *b = -2.0 + 4.0 * (j as f64 / 500.0);
    }
    let ham = EffectiveHamiltonian::new(&rbm);
    let mut g = c.benchmark_group("couplings");
    g.sample_size(10);
    g.bench_function("pair_matrix_784x500", |b| b.iter(|| ham.pair_matrix()));
    g.bench_function("fields_784x500", |b| b.iter(|| ham.fields()));
    g.finish();
}

criterion_group!(benches, pairs);
criterion_main!(benches);
