//! One parameter update of every training method at MNIST size (minibatch 100, 784 x 500),
//! in f64 and f32, through the public trainer: per method the time per update (median epoch
//! of one run, after a warm-up epoch), its GEMM work (counted by `emf_rbm::profile`, shape by
//! shape), the GEMM-work bound (each of those GEMMs at the rate of a plain faer GEMM of the
//! same shape and operand layout, measured in the same run), the fraction of the bound
//! reached, the time split (GEMM / elementwise / random / step / copy / other) and the
//! speed-up of 2 threads over 1. Then criterion's own statistics of one epoch per method.
//!
//! Every method runs twice: with every product a GEMM (`dense`, `sparse_products(false)`) and
//! as trained by default (sparse minibatches and chains multiplied by the sparse products of
//! `emf_rbm::linalg::sparse`); both rows quote the DENSE method's GEMM-work bound, so a
//! sparse row past 100 % is faster than any dense implementation of the method can be at this
//! GEMM rate.
//!
//! `cargo bench --bench update` (prints the summary first). TAP methods run the paper's
//! setting (3 damped sweeps per update), as `emf-rbm train --method tap2` does.

mod common;
use common::median_seconds;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::Criterion;
use emf_rbm::data::Dataset;
use emf_rbm::faer::{Accum, Mat};
use emf_rbm::linalg::matmul;
use emf_rbm::profile::{self, GemmCalls, GemmShape, Section};
use emf_rbm::train::{Method, MonitorConfig, Observer, TrainConfig, Trainer};
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

fn config(method: &str, sparse: bool) -> TrainConfig {
    TrainConfig::builder()
        .sparse_products(sparse)
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

/// Seconds of one plain faer GEMM of `shape` (operands laid out as recorded), median of 30.
fn gemm_seconds<T: Float>(shape: &GemmShape) -> f64 {
    let (m, n, k) = (shape.m, shape.n, shape.k);
    // A transposed operand is the transpose of a column-major matrix.
    let lhs = if shape.lhs_transposed {
        Mat::<T>::from_fn(k, m, |r, c| T::of(((r * 7 + c * 3) % 8 == 0) as u8 as f64))
    } else {
        Mat::<T>::from_fn(m, k, |r, c| T::of(((r * 7 + c * 3) % 8 == 0) as u8 as f64))
    };
    let rhs = if shape.rhs_transposed {
        Mat::<T>::from_fn(n, k, |r, c| T::of((((r + c) % 13) as f64 - 6.0) * 0.01))
    } else {
        Mat::<T>::from_fn(k, n, |r, c| T::of((((r + c) % 13) as f64 - 6.0) * 0.01))
    };
    let (l, r) = (
        if shape.lhs_transposed {
            lhs.transpose()
        } else {
            lhs.as_ref()
        },
        if shape.rhs_transposed {
            rhs.transpose()
        } else {
            rhs.as_ref()
        },
    );
    let mut out = Mat::<T>::zeros(m, n);
    let accum = if shape.accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    median_seconds(|| matmul(out.as_mut(), accum, l, r, T::of(1.0)), 30)
}

/// Records the wall time at the end of every epoch and turns the profile counters on after
/// the first (warm-up) epoch.
struct EpochClock(Arc<Mutex<Vec<Instant>>>);

impl<T: Float> Observer<T> for EpochClock {
    fn on_start(&mut self, _epochs: usize, _batches: usize) {
        self.0.lock().unwrap().push(Instant::now());
    }
    fn on_epoch_end(&mut self, epoch: usize, _rbm: &emf_rbm::Rbm<T>) -> emf_rbm::Result<()> {
        if epoch == 1 {
            profile::reset();
            profile::enable(true);
        }
        self.0.lock().unwrap().push(Instant::now());
        Ok(())
    }
}

/// One run of `method`: a warm-up epoch then `REPEATS` timed epochs of `UPDATES` updates in
/// ONE training run (no setup, allocation or initialisation inside the timed epochs).
struct Timed {
    /// Median seconds per update.
    per_update: f64,
    /// Seconds of the timed epochs.
    total: f64,
    /// The profile split over them.
    split: profile::Split,
    /// Their GEMMs.
    shapes: Vec<(GemmShape, GemmCalls)>,
}

fn time_updates<T: Float>(method: &str, sparse: bool, data: &Dataset) -> Timed {
    let cfg = TrainConfig {
        epochs: 1 + REPEATS,
        ..config(method, sparse)
    };
    let stamps = Arc::new(Mutex::new(Vec::new()));
    Trainer::<T>::new(cfg)
        .with_observer(EpochClock(stamps.clone()))
        .fit(data, None)
        .unwrap();
    profile::enable(false);
    let (split, shapes) = (profile::snapshot(), profile::gemm_shapes());
    let stamps = stamps.lock().unwrap();
    let mut epochs: Vec<f64> = stamps[2..]
        .iter()
        .zip(&stamps[1..])
        .map(|(b, a)| (*b - *a).as_secs_f64())
        .collect();
    let total = epochs.iter().sum();
    epochs.sort_by(|a, b| a.total_cmp(b));
    Timed {
        per_update: epochs[REPEATS / 2] / UPDATES as f64,
        total,
        split,
        shapes,
    }
}

fn one_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(f)
}

fn summary<T: Float>(data: &Dataset) {
    println!(
        "\n[{}] {} threads; bound = the DENSE update's GEMMs (each shape and layout as called) at \
         the rate of plain faer GEMMs of those shapes measured in this run; GEMM rate = this \
         row's own GEMMs at that rate",
        T::NAME,
        rayon::current_num_threads(),
    );
    println!(
        "{:<12} {:>9} {:>10} {:>8} {:>9} {:>8} {:>7} | {:>5} {:>6} {:>6} {:>6} {:>5} {:>5} {:>6} | {:>8}",
        "method",
        "ms/update",
        "GEMM GFLOP",
        "GFLOP/s",
        "GEMM rate",
        "bound ms",
        "bound%",
        "gemm",
        "sparse",
        "elem",
        "random",
        "step",
        "copy",
        "other",
        "2t vs 1t"
    );
    let mut rates: BTreeMap<GemmShape, f64> = BTreeMap::new();
    for m in METHODS {
        let mut dense_bound = 0.0;
        for sparse in [false, true] {
            let run = time_updates::<T>(m, sparse, data);
            let one = one_thread(|| time_updates::<T>(m, sparse, data));
            let n = (UPDATES * REPEATS) as f64;
            let flops = run.split.gemm_flops as f64 / n;
            let bound: f64 = run
                .shapes
                .iter()
                .map(|(shape, calls)| {
                    let s = *rates
                        .entry(*shape)
                        .or_insert_with(|| gemm_seconds::<T>(shape));
                    s * calls.calls as f64 / n
                })
                .sum();
            if !sparse {
                dense_bound = bound;
            }
            if std::env::var_os("EMF_RBM_BENCH_SHAPES").is_some() {
                for (shape, c) in &run.shapes {
                    println!(
                        "    {m} {} x {} x {}: {} calls per update, {:.1} GFLOP/s in the update",
                        shape.m,
                        shape.n,
                        shape.k,
                        c.calls as f64 / n,
                        (shape.flops() * c.calls) as f64 / c.nanos as f64
                    );
                }
            }
            let (t, split) = (run.per_update, &run.split);
            let pct = |s: f64| 100.0 * s / run.total;
            let label = format!("{m} {}", if sparse { "sparse" } else { "dense" });
            println!(
                "{:<12} {:>9.3} {:>10.3} {:>8.1} {:>9.1} {:>8.3} {:>6.0}% | {:>4.0}% {:>5.0}% {:>5.0}% {:>5.0}% {:>4.0}% {:>4.0}% {:>5.0}% | {:>7.2}x",
                label,
                t * 1e3,
                flops * 1e-9,
                flops / t * 1e-9,
                flops / bound.max(1e-12) * 1e-9,
                dense_bound * 1e3,
                100.0 * dense_bound / t,
                pct(split.seconds(Section::Gemm)),
                pct(split.seconds(Section::Sparse)),
                pct(split.seconds(Section::Elementwise)),
                pct(split.seconds(Section::Random)),
                pct(split.seconds(Section::Step)),
                pct(split.seconds(Section::Copy)),
                pct(split.other_seconds(run.total)),
                one.per_update / t
            );
        }
    }
    println!("GEMM shapes (m x n x k, layout, GFLOP/s of plain faer in this run):");
    for (shape, s) in &rates {
        println!("  {shape}: {:.1}", shape.flops() as f64 / s * 1e-9);
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
        let cfg = config(m, true);
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
