//! One parameter update of every training method at MNIST size (minibatch 100, 784 x 500),
//! in f64 and f32, through the public trainer: per method the time per update, its GEMM work
//! (counted by `emf_rbm::profile`), the GEMM-work bound (that work at the rate of plain faer
//! GEMMs of the update's shapes, measured in the same run), the fraction of the bound reached,
//! the time split (GEMM / elementwise / random / step / copy / other) and the speed-up of 2
//! threads over 1. Then criterion's own statistics of one epoch per method.
//!
//! `cargo bench --bench update` (prints the summary first). TAP methods run the paper's
//! setting (3 damped sweeps per update), as `emf-rbm train --method tap2` does.

mod common;
use common::median_seconds;

use std::time::{Duration, Instant};

use criterion::Criterion;
use emf_rbm::data::Dataset;
use emf_rbm::faer::{Accum, Mat};
use emf_rbm::linalg::matmul;
use emf_rbm::profile::{self, Section};
use emf_rbm::train::{Method, MonitorConfig, TrainConfig, Trainer};
use emf_rbm::{rng, Float};

const B: usize = 100;
const NV: usize = 784;
const NH: usize = 500;
/// Updates per timed epoch.
const UPDATES: usize = 50;
/// Timed epochs per method (after one warm-up).
const REPEATS: usize = 5;

const METHODS: [&str; 5] = ["cd1", "pcd1", "mf", "tap2", "tap3"];

/// `UPDATES` minibatches of Bernoulli(0.13) pixels (MNIST's mean density).
fn synthetic() -> Dataset {
    use rand::Rng as _;
    let mut r = rng::rng(1);
    let data: Vec<f64> = (0..UPDATES * B * NV)
        .map(|_| if r.random::<f64>() < 0.13 { 1.0 } else { 0.0 })
        .collect();
    Dataset::new(data, NV, None).unwrap()
}

fn config(method: &str) -> TrainConfig {
    TrainConfig::builder()
        .n_hidden(NH)
        .method(method.parse::<Method>().unwrap())
        .batch_size(B)
        .learning_rate(0.01)
        .epochs(1)
        .monitor(MonitorConfig {
            every: 0,
            ..MonitorConfig::default()
        })
        .build()
        .unwrap()
}

/// Seconds per GEMM FLOP of plain faer GEMMs of the three shapes an update uses (`V W`,
/// `H W^T`, `V^T P`), one of each per round: the rate the bound is computed with.
fn gemm_rate<T: Float>() -> (f64, [f64; 3]) {
    let v = Mat::<T>::from_fn(B, NV, |r, i| T::of(((r * 7 + i * 3) % 8 == 0) as u8 as f64));
    let h = Mat::<T>::from_fn(B, NH, |r, j| T::of(((r + j) % 3) as f64 * 0.3));
    let w = Mat::<T>::from_fn(NV, NH, |i, j| T::of((((i + j) % 13) as f64 - 6.0) * 0.01));
    let (mut out_h, mut out_v, mut out_w) = (
        Mat::<T>::zeros(B, NH),
        Mat::<T>::zeros(B, NV),
        Mat::<T>::zeros(NV, NH),
    );
    let one = T::of(1.0);
    let flops = 2.0 * (B * NV * NH) as f64;
    let t = [
        median_seconds(
            || matmul(out_h.as_mut(), Accum::Replace, v.as_ref(), w.as_ref(), one),
            60,
        ),
        median_seconds(
            || {
                matmul(
                    out_v.as_mut(),
                    Accum::Replace,
                    h.as_ref(),
                    w.transpose(),
                    one,
                )
            },
            60,
        ),
        median_seconds(
            || matmul(out_w.as_mut(), Accum::Add, v.transpose(), h.as_ref(), one),
            60,
        ),
    ];
    let rate = 3.0 * flops / t.iter().sum::<f64>();
    (rate, t.map(|s| flops / s))
}

/// (median seconds per update, total seconds of the timed epochs, profile split summed over
/// them) of `method`.
fn time_updates<T: Float>(method: &str, data: &Dataset) -> (f64, f64, profile::Split) {
    let cfg = config(method);
    let fit = || {
        Trainer::<T>::new(cfg.clone()).fit(data, None).unwrap();
    };
    fit();
    profile::reset();
    profile::enable(true);
    let mut times = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let t0 = Instant::now();
        fit();
        times.push(t0.elapsed().as_secs_f64());
    }
    profile::enable(false);
    let split = profile::snapshot();
    let total = times.iter().sum();
    times.sort_by(|a, b| a.total_cmp(b));
    (times[REPEATS / 2] / UPDATES as f64, total, split)
}

fn one_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(f)
}

fn summary<T: Float>(data: &Dataset) {
    let (rate, shapes) = gemm_rate::<T>();
    println!(
        "\n[{}] plain faer GEMM at the update's shapes, {} threads: {:.1} GFLOP/s \
         (V W {:.1}, H W^T {:.1}, V^T P {:.1})",
        T::NAME,
        rayon::current_num_threads(),
        rate * 1e-9,
        shapes[0] * 1e-9,
        shapes[1] * 1e-9,
        shapes[2] * 1e-9
    );
    println!(
        "{:<6} {:>9} {:>10} {:>8} {:>9} {:>7} | {:>5} {:>6} {:>6} {:>5} {:>5} {:>6} | {:>8}",
        "method",
        "ms/update",
        "GEMM GFLOP",
        "GFLOP/s",
        "bound ms",
        "bound%",
        "gemm",
        "elem",
        "random",
        "step",
        "copy",
        "other",
        "2t vs 1t"
    );
    for m in METHODS {
        let (t, total, split) = time_updates::<T>(m, data);
        let (t1, _, _) = one_thread(|| time_updates::<T>(m, data));
        let flops = split.gemm_flops as f64 / (UPDATES * REPEATS) as f64;
        let bound = flops / rate;
        let pct = |s: f64| 100.0 * s / total;
        println!(
            "{:<6} {:>9.3} {:>10.3} {:>8.1} {:>9.3} {:>6.0}% | {:>4.0}% {:>5.0}% {:>5.0}% {:>4.0}% {:>4.0}% {:>5.0}% | {:>7.2}x",
            m,
            t * 1e3,
            flops * 1e-9,
            flops / t * 1e-9,
            bound * 1e3,
            100.0 * bound / t,
            pct(split.seconds(Section::Gemm)),
            pct(split.seconds(Section::Elementwise)),
            pct(split.seconds(Section::Random)),
            pct(split.seconds(Section::Step)),
            pct(split.seconds(Section::Copy)),
            pct(split.other_seconds(total)),
            t1 / t
        );
    }
}

fn main() {
    let data = synthetic();
    println!(
        "one update = one minibatch of {B} through Trainer::fit (an epoch of {UPDATES} updates, \
         median of {REPEATS}); split = share of the update's wall time in each profile section"
    );
    summary::<f64>(&data);
    summary::<f32>(&data);

    let mut c = Criterion::default().configure_from_args();
    for m in METHODS {
        let mut g = c.benchmark_group(format!("epoch_of_{UPDATES}_updates_{m}"));
        g.sample_size(10).measurement_time(Duration::from_secs(4));
        let cfg = config(m);
        g.bench_function("f64", |b| {
            b.iter(|| Trainer::<f64>::new(cfg.clone()).fit(&data, None).unwrap())
        });
        g.bench_function("f32", |b| {
            b.iter(|| Trainer::<f32>::new(cfg.clone()).fit(&data, None).unwrap())
        });
        g.finish();
    }
    c.final_summary();
}
