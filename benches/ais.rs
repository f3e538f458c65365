//! AIS at MNIST size (100 runs, 784 x 500): cost per temperature step in f64 and f32, next to
//! plain faer GEMMs of the step's shapes measured in the same run, and (under `cargo bench`)
//! the wall time of one full standard-schedule estimate (14 500 temperatures), printed.
//!
//! A step is two GEMMs (`V W` and `beta H W^T`, 2 B nv nh FLOPs each) plus the fused
//! elementwise kernels and the random numbers. The per-step time is the time of an estimate
//! with `STEPS + 1` temperatures divided by `STEPS` (setup amortised over the steps).

mod common;
use common::median_seconds as time_it;

use std::time::{Duration, Instant};

use criterion::Criterion;
use emf_rbm::estimate::ais::{Ais, AisBase, AisConfig, BetaSchedule};
use emf_rbm::faer::{Accum, Mat, Par};
use emf_rbm::{rng, Float, Rbm};

const B: usize = 100;
const NV: usize = 784;
const NH: usize = 500;
/// Temperature steps per timed estimate.
const STEPS: usize = 100;

/// A random 784 x 500 model with MNIST-like visible biases, and a base with the same biases.
fn model<T: Float>() -> (Rbm<T>, AisBase) {
    let mut rbm = Rbm::<f64>::random(NV, NH, 0.05, &mut rng::rng(2)).unwrap();
    rbm.a
        .iter_mut()
        .enumerate()
        .for_each(|(i, a)| *a = -3.0 + 2.0 * ((i % 28) as f64 / 28.0));
    rbm.b.iter_mut().for_each(|b| *b = -0.5);
    let base = AisBase::from_biases(rbm.a.clone()).unwrap();
    (rbm.cast(), base)
}

fn ais(steps: usize, chunk_runs: usize) -> Ais {
    let betas = (0..=steps).map(|k| k as f64 / steps as f64).collect();
    Ais::new(AisConfig {
        schedule: BetaSchedule::Explicit(betas),
        runs: B,
        chunk_runs,
        seed: 1,
    })
    .unwrap()
}

/// `X(rows x NV) W(NV x NH)` with faer at the given parallelism.
struct Gemm<T: Float> {
    x: Mat<T>,
    w: Mat<T>,
    out: Mat<T>,
}

impl<T: Float> Gemm<T> {
    fn new(rows: usize) -> Self {
        Gemm {
            x: Mat::from_fn(rows, NV, |r, i| {
                T::of(((r * 7 + i * 3) % 8 == 0) as u8 as f64)
            }),
            w: Mat::from_fn(NV, NH, |i, j| {
                T::of((((i + 3 * j) % 13) as f64 - 6.0) * 0.01)
            }),
            out: Mat::zeros(rows, NH),
        }
    }
    fn run(&mut self, par: Par) {
        emf_rbm::faer::linalg::matmul::matmul(
            self.out.as_mut(),
            Accum::Replace,
            self.x.as_ref(),
            self.w.as_ref(),
            T::of(1.0),
            par,
        );
    }
}

fn bench<T: Float>(c: &mut Criterion) {
    let name = T::NAME;
    let (rbm, base) = model::<T>();
    let mut grp = c.benchmark_group(format!("ais_{name}"));
    grp.sample_size(10).measurement_time(Duration::from_secs(5));
    let mut g = Gemm::<T>::new(B);
    let threads = rayon::current_num_threads();
    grp.bench_function("gemm_100x784x500", |b| {
        b.iter(|| g.run(Par::rayon(threads)))
    });
    for chunk_runs in [50, 100] {
        let est = ais(STEPS, chunk_runs);
        grp.bench_function(format!("step_100_runs_chunks_of_{chunk_runs}"), |b| {
            b.iter_custom(|iters| {
                let t0 = Instant::now();
                for _ in 0..iters {
                    std::hint::black_box(est.estimate(&rbm, &base).unwrap());
                }
                t0.elapsed() / STEPS as u32
            })
        });
    }
    grp.finish();
}

fn summary<T: Float>() {
    let name = T::NAME;
    let flops = 2.0 * (B * NV * NH) as f64;
    let threads = rayon::current_num_threads();
    let mut g100 = Gemm::<T>::new(B);
    let t_g100 = time_it(|| g100.run(Par::rayon(threads)), 50);
    let mut g50 = Gemm::<T>::new(B / 2);
    let t_g50 = time_it(|| g50.run(Par::Seq), 50);
    println!(
        "[{name}] plain GEMM 100x784x500 on {threads} threads: {:.3} ms ({:.1} GFLOP/s); \
         50x784x500 on 1 thread: {:.3} ms ({:.1} GFLOP/s)",
        t_g100 * 1e3,
        flops / t_g100 / 1e9,
        t_g50 * 1e3,
        flops / 2.0 / t_g50 / 1e9
    );
    let (rbm, base) = model::<T>();
    for chunk_runs in [50, 100] {
        let est = ais(STEPS, chunk_runs);
        let t = time_it(
            || {
                est.estimate(&rbm, &base).unwrap();
            },
            5,
        ) / STEPS as f64;
        // What the step's GEMMs cost alone: with chunks of 50 each thread runs two 50-row
        // single-threaded GEMMs per step (the chunks in parallel); with one chunk of 100,
        // two 100-row GEMMs on all threads.
        let t_gemms = if chunk_runs == 50 {
            2.0 * t_g50
        } else {
            2.0 * t_g100
        };
        println!(
            "[{name}] AIS step, 100 runs in chunks of {chunk_runs}: {:.3} ms = {:.1} GFLOP/s of \
             GEMM work; the same GEMMs alone take {:.3} ms = {:.0}% of the step",
            t * 1e3,
            2.0 * flops / t / 1e9,
            t_gemms * 1e3,
            100.0 * t_gemms / t
        );
    }
    let est = Ais::new(AisConfig::default()).unwrap();
    let t0 = Instant::now();
    let e = est.estimate(&rbm, &base).unwrap();
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "[{name}] full standard-schedule AIS (14 500 betas, 100 runs in chunks of 50, \
         784 x 500): {secs:.1} s = {:.3} ms/step ({:.2} TFLOP of GEMM, {:.1} GFLOP/s overall); \
         ln Z = {:.3} [{:.3}, {:.3}], ESS {:.1}",
        secs * 1e3 / (e.n_betas - 1) as f64,
        2.0 * flops * (e.n_betas - 1) as f64 / 1e12,
        2.0 * flops * (e.n_betas - 1) as f64 / secs / 1e9,
        e.log_z,
        e.log_z_lower,
        e.log_z_upper,
        e.ess
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench::<f64>(&mut c);
    bench::<f32>(&mut c);
    c.final_summary();
    // Printed only by `cargo bench` (criterion's test mode skips it).
    if std::env::args().any(|a| a == "--bench") {
        summary::<f64>();
        summary::<f32>();
    }
}
