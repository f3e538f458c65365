//! Helpers shared by the integration tests (each test file includes this module with
//! `mod common;`; not every file uses every helper).
#![allow(dead_code)]

use std::path::PathBuf;

use emf_rbm::{rng, Rbm};
use rand::Rng as _;

/// A fresh folder under the system temp dir, unique to this test process and `name`.
pub fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("emf-rbm-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `Rbm::random(nv, nh, sigma)` (weights `N(0, sigma^2)`) with biases uniform in
/// `[-bias, bias]`, all from one stream of `seed`.
pub fn random_rbm(nv: usize, nh: usize, sigma: f64, bias: f64, seed: u64) -> Rbm<f64> {
    let mut r = rng::rng(seed);
    let mut rbm = Rbm::<f64>::random(nv, nh, sigma, &mut r).unwrap();
    for a in rbm.a.iter_mut() {
        *a = bias * (2.0 * r.random::<f64>() - 1.0);
    }
    for b in rbm.b.iter_mut() {
        *b = bias * (2.0 * r.random::<f64>() - 1.0);
    }
    rbm
}

/// `Rbm::random(nv, nh, sigma)` with smooth deterministic biases
/// `a_k = 0.3 sin(1.7 k)`, `b_k = -0.2 + 0.4 cos(0.9 k)`.
pub fn smooth_bias_rbm(nv: usize, nh: usize, sigma: f64, seed: u64) -> Rbm<f64> {
    let mut r = rng::rng(seed);
    let mut rbm = Rbm::random(nv, nh, sigma, &mut r).unwrap();
    for (k, a) in rbm.a.iter_mut().enumerate() {
        *a = 0.3 * ((k as f64) * 1.7).sin();
    }
    for (k, b) in rbm.b.iter_mut().enumerate() {
        *b = -0.2 + 0.4 * ((k as f64) * 0.9).cos();
    }
    rbm
}
