//! The sparse products of `emf_rbm::linalg::sparse` against faer's GEMM at MNIST's shapes
//! (B = 100 rows of 784 visible units, 500 hidden units), for Bernoulli rows of several
//! densities, in f64 and f32, as a CD update uses them:
//!
//! - hidden fields `V W`: indexing `V` plus the sparse product, against one GEMM;
//! - weight gradient `V^T P / B - V_c^T P_c / C` (100 data rows, 100 chain rows, both already
//!   indexed by their forward products): the rows of `P` and `P_c` plus the paired sparse
//!   product, against the stacked GEMM with inner dimension 200;
//! - the copy of `W`'s rows that the forward products read (once per update).
//!
//! Prints the ratios sparse / GEMM; where they cross 1 justifies `sparse::MAX_DENSITY`.
//! `cargo bench --bench sparse` (the printout first, then criterion's statistics at MNIST's
//! density, 0.13).

mod common;
use common::median_seconds as time_it;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use emf_rbm::faer::{Accum, Mat};
use emf_rbm::linalg::matmul;
use emf_rbm::linalg::sparse::{DenseRows, SparseRows};
use emf_rbm::{rng, Float};

const B: usize = 100;
const NV: usize = 784;
const NH: usize = 500;

fn binary<T: Float>(rows: usize, density: f64, seed: u64) -> Mat<T> {
    use rand::Rng as _;
    let mut r = rng::rng(seed);
    Mat::from_fn(rows, NV, |_, _| {
        T::of(if r.random::<f64>() < density {
            1.0
        } else {
            0.0
        })
    })
}

fn compare<T: Float>(c: &mut Criterion, name: &str) {
    let w = Mat::<T>::from_fn(NV, NH, |i, j| T::of((((i + j) % 13) as f64 - 6.0) * 0.01));
    let p = Mat::<T>::from_fn(B, NH, |i, j| T::of(((i * 3 + j) % 17) as f64 / 17.0));
    let pc = Mat::<T>::from_fn(B, NH, |i, j| T::of(((i * 5 + j) % 19) as f64 / 19.0));
    let stacked_p = Mat::<T>::from_fn(
        2 * B,
        NH,
        |i, j| if i < B { p[(i, j)] } else { pc[(i - B, j)] },
    );
    let mut field = Mat::<T>::zeros(B, NH);
    let mut grad = Mat::<T>::zeros(NV, NH);
    let (mut w_rows, mut p_rows, mut pc_rows) =
        (DenseRows::new(), DenseRows::new(), DenseRows::new());
    let (mut s, mut sc) = (SparseRows::<T>::new(), SparseRows::<T>::new());
    let one = T::of(1.0);
    let t_copy = time_it(|| w_rows.refresh(w.as_ref()), 50);
    println!(
        "[{name}] rows of W ({NV} x {NH}): {:.3} ms per update",
        t_copy * 1e3
    );
    for density in [0.05, 0.13, 0.2, 0.25, 0.3, 0.4] {
        let v = binary::<T>(B, density, 1);
        let vc = binary::<T>(B, density, 2);
        let stacked_v =
            Mat::<T>::from_fn(
                2 * B,
                NV,
                |i, j| if i < B { v[(i, j)] } else { vc[(i - B, j)] },
            );
        let t_gemm = time_it(
            || matmul(field.as_mut(), Accum::Replace, v.as_ref(), w.as_ref(), one),
            50,
        );
        let t_sparse = time_it(
            || {
                s.fill_from(v.as_ref(), 1.0);
                s.times_into(field.as_mut(), &w_rows);
            },
            50,
        );
        sc.fill_from(vc.as_ref(), 1.0);
        let t_gemm_g = time_it(
            || {
                matmul(
                    grad.as_mut(),
                    Accum::Replace,
                    stacked_v.transpose(),
                    stacked_p.as_ref(),
                    one,
                )
            },
            50,
        );
        let t_sparse_g = time_it(
            || {
                p_rows.refresh(p.as_ref());
                pc_rows.refresh(pc.as_ref());
                s.transpose_times_pair_into(&p_rows, &sc, &pc_rows, grad.as_mut());
            },
            50,
        );
        println!(
            "[{name}] density {density:.2}: V W {:.3} ms GEMM, {:.3} ms sparse ({:.2}x); \
             gradient {:.3} ms GEMM, {:.3} ms sparse ({:.2}x); update's three products {:.2}x",
            t_gemm * 1e3,
            t_sparse * 1e3,
            t_sparse / t_gemm,
            t_gemm_g * 1e3,
            t_sparse_g * 1e3,
            t_sparse_g / t_gemm_g,
            (t_copy + 2.0 * t_sparse + t_sparse_g) / (2.0 * t_gemm + t_gemm_g)
        );
    }
    let v = binary::<T>(B, 0.13, 1);
    let mut g = c.benchmark_group(format!("sparse_{name}"));
    g.sample_size(10).measurement_time(Duration::from_secs(2));
    g.bench_function("hidden_field_gemm", |b| {
        b.iter(|| matmul(field.as_mut(), Accum::Replace, v.as_ref(), w.as_ref(), one))
    });
    g.bench_function("hidden_field_sparse", |b| {
        b.iter(|| {
            s.fill_from(v.as_ref(), 1.0);
            s.times_into(field.as_mut(), &w_rows);
        })
    });
    g.finish();
}

fn bench_sparse(c: &mut Criterion) {
    compare::<f64>(c, "f64");
    compare::<f32>(c, "f32");
}

criterion_group!(benches, bench_sparse);
criterion_main!(benches);
