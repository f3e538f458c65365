//! The sparse products of `linalg::sparse` against faer's GEMM (to rounding), on shapes that
//! exercise every edge: hidden widths that are not a multiple of the vector block, inner
//! dimensions longer than a cache tile, empty rows and columns, non-binary values, views
//! with a column stride, f64 and f32; and training with and without them.

use approx::assert_relative_eq;
use emf_rbm::data::Dataset;
use emf_rbm::faer::{Accum, Mat, MatRef};
use emf_rbm::linalg::matmul;
use emf_rbm::linalg::sparse::{DenseRows, SparseRows, MAX_DENSITY};
use emf_rbm::train::{Method, MonitorConfig, TrainConfig, Trainer};
use emf_rbm::{profile, rng, Float};
use rand::Rng as _;

/// A `rows x cols` matrix with about `density` nonzeros, values in {1} or (-2, 2).
fn sparse_mat<T: Float>(rows: usize, cols: usize, density: f64, binary: bool, seed: u64) -> Mat<T> {
    let mut r = rng::rng(seed);
    Mat::from_fn(rows, cols, |_, _| {
        if r.random::<f64>() < density {
            T::of(if binary {
                1.0
            } else {
                r.random::<f64>() * 4.0 - 2.0
            })
        } else {
            T::of(0.0)
        }
    })
}

fn dense_mat<T: Float>(rows: usize, cols: usize, seed: u64) -> Mat<T> {
    let mut r = rng::rng(seed);
    Mat::from_fn(rows, cols, |_, _| T::of(r.random::<f64>() - 0.5))
}

fn max_abs_diff<T: Float>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64 {
    let mut m = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            m = m.max((a[(i, j)].as_f64() - b[(i, j)].as_f64()).abs());
        }
    }
    m
}

/// `S W`, `S^T H` (replace and accumulate), the pair product, against GEMMs.
fn products_match<T: Float>(rows: usize, nv: usize, nh: usize, binary: bool, tol: f64) {
    let s_dense = sparse_mat::<T>(rows, nv, 0.15, binary, 1);
    let s2_dense = sparse_mat::<T>(rows + 3, nv, 0.1, binary, 2);
    let w = dense_mat::<T>(nv, nh, 3);
    let h = dense_mat::<T>(rows, nh, 4);
    let h2 = dense_mat::<T>(rows + 3, nh, 5);
    let one = T::of(1.0);
    let mut s = SparseRows::new();
    let mut s2 = SparseRows::new();
    assert!(s.fill_from(s_dense.as_ref(), 1.0));
    assert!(s2.fill_from(s2_dense.as_ref(), 1.0));
    let nnz = (0..nv)
        .map(|j| s_dense.col(j).iter().filter(|&&x| x != T::of(0.0)).count())
        .sum::<usize>();
    assert_eq!(s.nnz(), nnz);
    assert_eq!(s.shape(), (rows, nv));

    let mut w_rows = DenseRows::new();
    w_rows.refresh(w.as_ref());
    let mut got = Mat::<T>::zeros(rows, nh);
    let mut want = Mat::<T>::zeros(rows, nh);
    s.times_into(got.as_mut(), &w_rows);
    matmul(
        want.as_mut(),
        Accum::Replace,
        s_dense.as_ref(),
        w.as_ref(),
        one,
    );
    assert!(max_abs_diff(got.as_ref(), want.as_ref()) < tol, "S W");

    let (mut h_rows, mut h2_rows) = (DenseRows::new(), DenseRows::new());
    h_rows.resize(rows, nh);
    h_rows.set_rows(0, h.as_ref(), T::of(0.5));
    h2_rows.refresh(h2.as_ref());
    let mut got = dense_mat::<T>(nv, nh, 6);
    let mut want = got.clone();
    s.transpose_times_into(got.as_mut(), Accum::Add, &h_rows, T::of(2.0));
    matmul(
        want.as_mut(),
        Accum::Add,
        s_dense.transpose(),
        h.as_ref(),
        one,
    );
    assert!(
        max_abs_diff(got.as_ref(), want.as_ref()) < tol,
        "S^T H, accumulated"
    );

    s.transpose_times_pair_into(&h_rows, &s2, &h2_rows, got.as_mut());
    matmul(
        want.as_mut(),
        Accum::Replace,
        s_dense.transpose(),
        h.as_ref(),
        T::of(0.5),
    );
    matmul(
        want.as_mut(),
        Accum::Add,
        s2_dense.transpose(),
        h2.as_ref(),
        one,
    );
    assert!(
        max_abs_diff(got.as_ref(), want.as_ref()) < tol,
        "pair product"
    );
}

#[test]
fn sparse_products_equal_gemms_f64() {
    // nh = 500 (7 full blocks and 52), 70 (one block and 6), 64 (exactly one), 5 (partial).
    for &(rows, nv, nh) in &[(100, 784, 500), (37, 300, 70), (16, 64, 64), (3, 9, 5)] {
        products_match::<f64>(rows, nv, nh, true, 1e-12);
        products_match::<f64>(rows, nv, nh, false, 1e-12);
    }
}

#[test]
fn sparse_products_equal_gemms_f32() {
    for &(rows, nv, nh) in &[(100, 784, 500), (37, 300, 70), (3, 9, 5)] {
        products_match::<f32>(rows, nv, nh, true, 2e-4);
        products_match::<f32>(rows, nv, nh, false, 2e-4);
    }
}

#[test]
fn views_with_a_column_stride_and_empty_rows() {
    // A minibatch is a view of the first rows of a larger buffer.
    let big = sparse_mat::<f64>(50, 40, 0.2, true, 7);
    let mut big = big;
    for j in 0..40 {
        big[(3, j)] = 0.0; // an empty row
    }
    for i in 0..50 {
        big[(i, 11)] = 0.0; // an empty column
    }
    let v = big.as_ref().subrows(0, 20);
    let w = dense_mat::<f64>(40, 30, 8);
    let mut s = SparseRows::new();
    assert!(s.fill_from(v, 1.0));
    let mut w_rows = DenseRows::new();
    w_rows.refresh(w.as_ref());
    let mut got = Mat::<f64>::zeros(20, 30);
    s.times_into(got.as_mut(), &w_rows);
    let mut want = Mat::<f64>::zeros(20, 30);
    matmul(want.as_mut(), Accum::Replace, v, w.as_ref(), 1.0);
    assert!(max_abs_diff(got.as_ref(), want.as_ref()) < 1e-13);
    assert!(got.row(3).iter().all(|&x| x == 0.0));
}

#[test]
fn dense_rows_refuse_to_index_and_say_so() {
    let v = sparse_mat::<f64>(40, 50, 0.6, true, 9);
    let mut s = SparseRows::new();
    assert!(!s.fill_from(v.as_ref(), MAX_DENSITY));
    assert_eq!((s.shape(), s.nnz()), ((0, 0), 0));
    assert!(s.fill_from(v.as_ref(), 1.0));
    assert!(!s.fill_from(Mat::<f64>::zeros(0, 5).as_ref(), 1.0));
}

fn digits_like(n: usize, density: f64) -> Dataset {
    let mut r = rng::rng(11);
    let data: Vec<f64> = (0..n * 64)
        .map(|i| {
            // Pixels on with a per-pixel rate, like strokes.
            let rate = density * (1.0 + ((i % 64) as f64 / 64.0 - 0.5));
            if r.random::<f64>() < rate {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    Dataset::new(data, 64, None).unwrap()
}

fn train<T: Float>(method: &str, sparse: bool, data: &Dataset) -> emf_rbm::Rbm<T> {
    let cfg = TrainConfig::builder()
        .n_hidden(24)
        .method(method.parse::<Method>().unwrap())
        .epochs(3)
        .batch_size(20)
        .learning_rate(0.05)
        .seed(3)
        .sparse_products(sparse)
        .monitor(MonitorConfig {
            every: 0,
            ..MonitorConfig::default()
        })
        .build()
        .unwrap();
    Trainer::<T>::new(cfg).fit(data, None).unwrap().rbm
}

/// Training with the sparse products reaches the dense path's parameters to rounding (the
/// chains see the same uniforms; a draw flips only if `u` falls within rounding of `p`).
#[test]
fn sparse_training_matches_dense_training() {
    let data = digits_like(400, 0.15);
    for method in ["cd1", "pcd1", "pcd5"] {
        profile::reset();
        profile::enable(true);
        let a = train::<f64>(method, true, &data);
        let sparse_seconds = profile::snapshot().seconds(profile::Section::Sparse);
        profile::enable(false);
        assert!(
            sparse_seconds > 0.0,
            "{method}: the sparse path was not taken"
        );
        let b = train::<f64>(method, false, &data);
        let diff = max_abs_diff(a.w.as_ref(), b.w.as_ref());
        assert!(diff < 1e-10, "{method}: W differs by {diff}");
        for (x, y) in a.b.iter().zip(&b.b) {
            assert_relative_eq!(*x, *y, epsilon = 1e-10);
        }
    }
}
