//! TAP/EMF minibatch updates at MNIST size (B = 100, 784 x 500, 3 damped sweeps + the
//! gradient GEMMs) for TAP2 and TAP3, f64 and f32, next to plain faer GEMMs of the shapes the
//! update uses, measured in the same run. Prints achieved GFLOP/s and the share of the update
//! spent in GEMM (FLOPs counted as 2 B nv nh per GEMM).

mod common;
use common::{min_seconds as time_it, time_stats};

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use emf_rbm::faer::{Accum, Mat};
use emf_rbm::linalg::matmul;
use emf_rbm::tap::{TapOrder, TapSolver};
use emf_rbm::train::tap::{TapConfig, TapPhase};
use emf_rbm::train::{Gradient, NegativePhase};
use emf_rbm::{rng, Float, Rbm};
use rand::Rng as _;

const B: usize = 100;
const NV: usize = 784;
const NH: usize = 500;

/// Binary rows with ~13% ones (the density of binarised MNIST).
fn batch<T: Float>(seed: u64) -> Mat<T> {
    let mut r = rng::rng(seed);
    Mat::from_fn(B, NV, |_, _| {
        T::of(if r.random::<f64>() < 0.13 { 1.0 } else { 0.0 })
    })
}

/// GEMMs of one non-persistent update from binary data with 3 sweeps (hidden first):
/// initial `mv W` (reused by sweep 1's hidden update, whose Onsager fields vanish for binary
/// `mv`), then `k` visible-side GEMMs in sweep 1, `2k` in sweeps 2 and 3, and `k` gradient
/// GEMMs. Returns (forward `X W`, transposed `X W^T`, gradient `X^T Y`) counts.
fn gemm_counts(order: TapOrder) -> (usize, usize, usize) {
    let k = order.k();
    (1 + 2 * k, 3 * k, k)
}

struct Gemms<T: Float> {
    x: Mat<T>,
    w: Mat<T>,
    y: Mat<T>,
    out_h: Mat<T>,
    out_v: Mat<T>,
    out_w: Mat<T>,
}

impl<T: Float> Gemms<T> {
    fn new() -> Self {
        let x = batch::<T>(1);
        let w = Mat::from_fn(NV, NH, |i, j| {
            T::of((((i + 3 * j) % 13) as f64 - 6.0) * 0.01)
        });
        let y = Mat::from_fn(B, NH, |i, j| T::of(((i * 5 + j) % 7) as f64 / 7.0));
        Gemms {
            x,
            w,
            y,
            out_h: Mat::zeros(B, NH),
            out_v: Mat::zeros(B, NV),
            out_w: Mat::zeros(NV, NH),
        }
    }
    /// `X W` (B x nh): the hidden fields.
    fn forward(&mut self) {
        matmul(
            self.out_h.as_mut(),
            Accum::Replace,
            self.x.as_ref(),
            self.w.as_ref(),
            T::of(1.0),
        );
    }
    /// `Y W^T` (B x nv): the visible fields.
    fn transposed(&mut self) {
        let wt = self.w.transpose();
        matmul(
            self.out_v.as_mut(),
            Accum::Replace,
            self.y.as_ref(),
            wt,
            T::of(1.0),
        );
    }
    /// `W += -1/B X^T Y` (nv x nh): the gradient.
    fn gradient(&mut self) {
        let (xt, y) = (self.x.transpose(), self.y.as_ref());
        matmul(self.out_w.as_mut(), Accum::Add, xt, y, T::of(-0.01));
    }
}

fn phase_for<T: Float>(order: TapOrder) -> (TapPhase<T>, Rbm<T>, Mat<T>, Gradient<T>) {
    let mut rbm = Rbm::<f64>::random(NV, NH, 0.05, &mut rng::rng(2)).unwrap();
    rbm.a.iter_mut().for_each(|a| *a = -1.5);
    let phase = TapPhase::<T>::new(TapConfig::paper(order), NV, NH);
    (phase, rbm.cast(), batch::<T>(3), Gradient::zeros(NV, NH))
}

fn summary<T: Float>() {
    let name = T::NAME;
    let flops = 2.0 * (B * NV * NH) as f64;
    let mut g = Gemms::<T>::new();
    let t_fwd = time_it(|| g.forward(), 100);
    let t_tr = time_it(|| g.transposed(), 100);
    let t_grad = time_it(|| g.gradient(), 100);
    println!(
        "[{name}] plain GEMM 100x784x500: X W {:.3} ms ({:.1} GFLOP/s), Y W^T {:.3} ms ({:.1}), \
         X^T Y {:.3} ms ({:.1})",
        t_fwd * 1e3,
        flops / t_fwd / 1e9,
        t_tr * 1e3,
        flops / t_tr / 1e9,
        t_grad * 1e3,
        flops / t_grad / 1e9
    );
    for order in [TapOrder::Mf, TapOrder::Tap2, TapOrder::Tap3] {
        let (mut phase, rbm, v, mut grad) = phase_for::<T>(order);
        let mut r = rng::rng(4);
        let (t, t_med) = time_stats(
            &mut || {
                phase
                    .subtract_model_statistics(&rbm, v.as_ref(), &mut grad, &mut r)
                    .unwrap();
            },
            40,
        );
        let (nf, nt, ng) = gemm_counts(order);
        let n = nf + nt + ng;
        let t_gemm = nf as f64 * t_fwd + nt as f64 * t_tr + ng as f64 * t_grad;
        println!(
            "[{name}] {order} update (3 sweeps, damping 0.5): {:.3} ms (median {:.3}), {n} GEMMs \
             = {:.2} GFLOP -> {:.1} GFLOP/s; the same GEMMs alone: {:.3} ms = {:.0}% of the \
             update (at the plain X W rate: {:.0}%)",
            t * 1e3,
            t_med * 1e3,
            n as f64 * flops / 1e9,
            n as f64 * flops / t / 1e9,
            t_gemm * 1e3,
            100.0 * t_gemm / t,
            100.0 * n as f64 * t_fwd / t,
        );
        // Breakdown by stage through the solver's public API.
        let mut solver = TapSolver::<T>::new(order, NV, NH);
        let opts = TapConfig::paper(order).solver_options();
        let t_refresh = time_it(|| solver.refresh(&rbm).unwrap(), 30);
        let t_init = time_it(|| solver.init_from_visible(&rbm, v.as_ref()).unwrap(), 30);
        let t_solve = time_it(
            || {
                solver.init_from_visible(&rbm, v.as_ref()).unwrap();
                solver.solve(&rbm, &opts).unwrap();
            },
            30,
        ) - t_init;
        let t_sweep = time_it(
            || {
                solver.sweep(&rbm, &opts).unwrap();
            },
            30,
        );
        let t_grad = time_it(|| solver.subtract_gradient(&rbm, &mut grad).unwrap(), 30);
        println!(
            "[{name}] {order} stages: refresh (W o W...) {:.3} ms, init {:.3} ms, 3 sweeps {:.3} ms \
             (one later sweep {:.3} ms, {} GEMMs), gradient {:.3} ms",
            t_refresh * 1e3,
            t_init * 1e3,
            t_solve * 1e3,
            t_sweep * 1e3,
            order.gemms_per_sweep(),
            t_grad * 1e3
        );
    }
}

fn bench<T: Float>(c: &mut Criterion) {
    let name = T::NAME;
    let mut grp = c.benchmark_group(format!("tap_update_{name}"));
    grp.sample_size(20).measurement_time(Duration::from_secs(3));
    let mut g = Gemms::<T>::new();
    grp.bench_function("gemm_100x784x500", |b| b.iter(|| g.forward()));
    for order in [TapOrder::Tap2, TapOrder::Tap3] {
        let (mut phase, rbm, v, mut grad) = phase_for::<T>(order);
        let mut r = rng::rng(4);
        grp.bench_function(format!("{order}_update"), |b| {
            b.iter(|| {
                black_box(
                    phase
                        .subtract_model_statistics(&rbm, v.as_ref(), &mut grad, &mut r)
                        .unwrap(),
                )
            })
        });
    }
    grp.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench::<f64>(&mut c);
    bench::<f32>(&mut c);
    c.final_summary();
    // The summary is only printed by `cargo bench` (criterion's test mode skips it), and not
    // with `TAP_BENCH_SUMMARY=0` (e.g. when profiling one benchmark).
    let wanted = std::env::var("TAP_BENCH_SUMMARY").map_or(true, |v| v != "0");
    if wanted && std::env::args().any(|a| a == "--bench") {
        summary::<f64>();
        summary::<f32>();
    }
}
