//! Core hot paths at MNIST size: one CD-1 minibatch update (B = 100, 784 x 500) and exact
//! ln Z with 20 hidden units on 784 visible units, each next to a plain faer GEMM of the same
//! shape measured in the same run. Prints achieved GFLOP/s.

mod common;
use common::median_seconds as time_it;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use emf_rbm::data::Dataset;
use emf_rbm::estimate::exact;
use emf_rbm::faer::{Accum, Mat};
use emf_rbm::linalg::matmul;
use emf_rbm::train::{MonitorConfig, NegativePhase, TrainConfig, Trainer};
use emf_rbm::{rng, Float, Rbm};

const B: usize = 100;
const NV: usize = 784;
const NH: usize = 500;

fn synthetic(n: usize, seed: u64) -> Dataset {
    let mut r = rng::rng(seed);
    use rand::Rng as _;
    let data: Vec<f64> = (0..n * NV)
        .map(|_| if r.random::<f64>() < 0.13 { 1.0 } else { 0.0 })
        .collect();
    Dataset::new(data, NV, None).unwrap()
}

fn cd1_update<T: Float>(c: &mut Criterion, name: &str) {
    // One CD-1 update = positive GEMM (V W), V^T P, chain: H W^T, V W, gradient V^T P: 5 GEMMs
    // of 2 B NV NH flops each.
    let data = synthetic(B * 20, 1);
    let cfg = TrainConfig::builder()
        .n_hidden(NH)
        .batch_size(B)
        .epochs(1)
        .monitor(MonitorConfig {
            every: 0,
            ..MonitorConfig::default()
        })
        .build()
        .unwrap();
    let gemm_flops = 2.0 * (B * NV * NH) as f64;
    let a = Mat::<T>::from_fn(B, NV, |i, j| T::of(((i * 7 + j) % 2) as f64));
    let w = Mat::<T>::from_fn(NV, NH, |i, j| T::of((((i + j) % 13) as f64 - 6.0) * 0.01));
    let mut out = Mat::<T>::zeros(B, NH);
    let t_gemm = time_it(
        || {
            matmul(
                out.as_mut(),
                Accum::Replace,
                a.as_ref(),
                w.as_ref(),
                T::of(1.0),
            )
        },
        50,
    );
    // A full epoch of 20 updates through the public trainer, per update.
    let t_epoch = time_it(
        || {
            Trainer::<T>::new(cfg.clone()).fit(&data, None).unwrap();
        },
        5,
    ) / 20.0;
    println!(
        "[{name}] plain GEMM {B}x{NV}x{NH}: {:.3} ms = {:.1} GFLOP/s; CD-1 update: {:.3} ms = {:.1} GFLOP/s \
         (5 GEMMs), {:.0}% of the update in GEMM; ratio update / GEMM = {:.2}",
        t_gemm * 1e3,
        gemm_flops / t_gemm / 1e9,
        t_epoch * 1e3,
        5.0 * gemm_flops / t_epoch / 1e9,
        100.0 * 5.0 * t_gemm / t_epoch,
        t_epoch / t_gemm
    );
    let mut g = c.benchmark_group(format!("cd1_update_{name}"));
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    g.bench_function("gemm_100x784x500", |bch| {
        bch.iter(|| {
            matmul(
                out.as_mut(),
                Accum::Replace,
                a.as_ref(),
                w.as_ref(),
                T::of(1.0),
            )
        })
    });
    let mut rbm = Rbm::<T>::random(NV, NH, 0.01, &mut rng::rng(2)).unwrap();
    let mut phase = emf_rbm::train::ContrastiveDivergence::<T>::new(1, NV, NH);
    let mut grad = emf_rbm::train::Gradient::<T>::zeros(NV, NH);
    let mut ph = Mat::<T>::zeros(B, NH);
    let mut r = rng::rng(3);
    g.bench_function("cd1_gradient", |bch| {
        bch.iter(|| {
            rbm.hidden_probs_into(a.as_ref(), ph.as_mut());
            matmul(
                grad.w.as_mut(),
                Accum::Replace,
                a.transpose(),
                ph.as_ref(),
                T::of(0.01),
            );
            phase
                .subtract_model_statistics(&rbm, a.as_ref(), &mut grad, &mut r)
                .unwrap();
        })
    });
    rbm.b[0] = T::of(0.0);
    g.finish();
}

fn bench_cd(c: &mut Criterion) {
    cd1_update::<f64>(c, "f64");
    cd1_update::<f32>(c, "f32");
}

fn bench_exact(c: &mut Criterion) {
    let rbm = Rbm::<f64>::random(NV, 20, 0.05, &mut rng::rng(4)).unwrap();
    let t = time_it(
        || {
            exact::log_partition(&rbm).unwrap();
        },
        3,
    );
    // Equivalent GEMM work: 2^20 states x 784 field updates ~ one GEMM of 2^20 x 20 x 784.
    let a = Mat::<f64>::from_fn(1 << 14, 20, |i, j| ((i >> (j % 14)) & 1) as f64);
    let w = Mat::<f64>::from_fn(20, NV, |i, j| ((i + j) % 5) as f64 * 0.01);
    let mut out = Mat::<f64>::zeros(1 << 14, NV);
    let tg = time_it(
        || matmul(out.as_mut(), Accum::Replace, a.as_ref(), w.as_ref(), 1.0),
        5,
    ) * 64.0;
    println!(
        "[exact] ln Z, nh = 20, nv = 784: {:.3} s ({:.1} ns per softplus term); \
         a GEMM producing the same 2^20 x 784 fields: {:.3} s",
        t,
        t / (1u64 << 20) as f64 / NV as f64 * 1e9,
        tg
    );
    let mut g = c.benchmark_group("exact_ln_z");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("nh20_nv784", |b| {
        b.iter(|| exact::log_partition(&rbm).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench_cd, bench_exact);
criterion_main!(benches);
