//! The annealing path that forward AIS ([`crate::estimate::ais`]) and RAISE
//! ([`crate::estimate::raise`]) both walk: the model as the sampler sees it, the chunks of
//! runs and their products with `W`, and the fused transition kernels (hidden and visible
//! draws with their log-weight terms).

use faer::{Accum, Mat, MatMut, MatRef, Par};
use rand::Rng as _;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::estimate::ais::AisBase;
use crate::float::Float;
use crate::linalg::{math, matmul_par, simd_dispatch};
use crate::rbm::Rbm;
use crate::rng::Rng;

/// The model seen by the sampler: `W`, an owned `W^T` (so both products read a column-major
/// right-hand side; ~5% faster than the transposed view at 50 x 500 x 784), hidden biases,
/// base biases and `c = a - a_A`, all biases in `f64`. Shared with the reverse estimator
/// ([`crate::estimate::raise`]), so both walk the same path.
pub(super) struct Path<'a, T: Float> {
    pub(super) w: MatRef<'a, T>,
    pub(super) wt: Mat<T>,
    pub(super) b: Vec<f64>,
    pub(super) a_base: Vec<f64>,
    pub(super) c: Vec<f64>,
}

impl<'a, T: Float> Path<'a, T> {
    /// The path from `base` to `rbm` (an error when the base has the wrong width).
    pub(super) fn new(rbm: &'a Rbm<T>, base: &AisBase) -> Result<Self> {
        let nv = rbm.n_visible();
        if base.a.len() != nv {
            return Err(Error::Shape(format!(
                "the AIS base has {} visible biases but the model has {nv} visible units",
                base.a.len()
            )));
        }
        Ok(Path {
            w: rbm.w.as_ref(),
            wt: rbm.w.transpose().to_owned(),
            b: rbm.b.iter().map(|x| x.as_f64()).collect(),
            a_base: base.a.clone(),
            c: rbm
                .a
                .iter()
                .zip(&base.a)
                .map(|(a, ab)| a.as_f64() - ab)
                .collect(),
        })
    }
}

/// Runs `chunk(c, first, rows, par)` on the fixed chunks `c` of `chunk_rows` rows (the last
/// may be shorter) out of `total`, in parallel with rayon, and concatenates the per-row
/// results in row order. When there are fewer chunks than threads each chunk's GEMMs get
/// the spare threads (`par`). The chunks do not depend on the thread count.
pub(super) fn run_chunks<F>(total: usize, chunk_rows: usize, chunk: F) -> Vec<f64>
where
    F: Fn(usize, usize, usize, Par) -> Vec<f64> + Sync,
{
    let n_chunks = total.div_ceil(chunk_rows);
    let rows = |c: usize| chunk_rows.min(total - c * chunk_rows);
    let per = rayon::current_num_threads() / n_chunks.max(1);
    let par = if per > 1 { Par::rayon(per) } else { Par::Seq };
    let run = |c: usize| chunk(c, c * chunk_rows, rows(c), par);
    let parts: Vec<Vec<f64>> = if n_chunks == 1 {
        vec![run(0)]
    } else {
        (0..n_chunks).into_par_iter().map(run).collect()
    };
    parts.concat()
}

/// Rows from which a chunk's products split: a multiple of the row count of faer's x86
/// microkernels (12 and 24 rows for AVX2's f64 and f32).
const SPLIT_ROWS: usize = 48;

/// The most rows split off a chunk's products (see [`Products`]).
const MAX_REST: usize = 4;

/// A chunk's two products with the path's `W`: the hidden fields `X = V W` and the visible
/// fields `Y = beta H W^T`, through faer (and the AVX upper-state cleanup).
///
/// faer runs a product of `48 + r` rows (`r` <= [`MAX_REST`]) as 48 rows plus `r` rows
/// through a microkernel of 8 or more rows, which on Zen 3 (AVX2) cost as much as many more
/// rows would. So the last `r` rows are computed transposed, `X_r^T = W^T V_r^T`, into a
/// column-major scratch, then copied. The gain shows in the AIS step of `cargo bench --bench
/// ais` (f32 on Zen 3, 2026-12-08: about 6 % per step of the standard schedule).
pub(super) struct Products<'p, 'a, T: Float> {
    path: &'p Path<'a, T>,
    par: Par,
    scratch: Mat<T>,
}

impl<'p, 'a, T: Float> Products<'p, 'a, T> {
    /// The products of `path` with the parallelism `par` (for the chunk's GEMMs).
    pub(super) fn new(path: &'p Path<'a, T>, par: Par) -> Self {
        Products {
            path,
            par,
            scratch: Mat::zeros(0, 0),
        }
    }

    /// `x <- v W`.
    pub(super) fn hidden_fields(&mut self, x: MatMut<'_, T>, v: MatRef<'_, T>) {
        let p = self.path;
        self.split(x, v, p.w, p.wt.as_ref(), T::of(1.0));
    }

    /// `y <- beta h W^T`.
    pub(super) fn visible_fields(&mut self, y: MatMut<'_, T>, h: MatRef<'_, T>, beta: f64) {
        let p = self.path;
        self.split(y, h, p.wt.as_ref(), p.w, T::of(beta));
    }

    /// `dst <- alpha lhs rhs`, with `rhs_t` the column-major transpose of `rhs`.
    fn split(
        &mut self,
        dst: MatMut<'_, T>,
        lhs: MatRef<'_, T>,
        rhs: MatRef<'_, T>,
        rhs_t: MatRef<'_, T>,
        alpha: T,
    ) {
        let m = dst.nrows();
        let rest = m % SPLIT_ROWS;
        if m < SPLIT_ROWS || rest == 0 || rest > MAX_REST {
            matmul_par(dst, Accum::Replace, lhs, rhs, alpha, self.par);
            return;
        }
        let main = m - rest;
        let (top, mut bottom) = dst.split_at_row_mut(main);
        matmul_par(
            top,
            Accum::Replace,
            lhs.subrows(0, main),
            rhs,
            alpha,
            self.par,
        );
        if self.scratch.nrows() != rhs.ncols() || self.scratch.ncols() != rest {
            self.scratch = Mat::zeros(rhs.ncols(), rest);
        }
        let bottom_t = lhs.subrows(main, rest).transpose();
        matmul_par(
            self.scratch.as_mut(),
            Accum::Replace,
            rhs_t,
            bottom_t,
            alpha,
            self.par,
        );
        bottom.copy_from(self.scratch.transpose());
    }
}

/// `v ~ Bernoulli(s(a_A + beta c + y))` column by column, `dvis <- c.v` per row.
pub(super) fn sample_visible<T: Float>(
    p: &Path<'_, T>,
    y: &Mat<T>,
    beta: f64,
    u_v: &mut [u32],
    v: &mut Mat<T>,
    dvis: &mut [f64],
    rng: &mut Rng,
) {
    let rows = v.nrows();
    rng.fill(u_v);
    dvis.iter_mut().for_each(|d| *d = 0.0);
    for i in 0..v.ncols() {
        visible_step(
            y.col_as_slice(i),
            p.a_base[i] + beta * p.c[i],
            p.c[i],
            &u_v[i * rows..(i + 1) * rows],
            v.col_as_slice_mut(i),
            dvis,
        );
    }
}

/// `2^-32`: turns a `u32` into a uniform in `[0, 1)`.
const U32_SCALE: f64 = 1.0 / 4_294_967_296.0;

simd_dispatch! {
    /// One hidden column at step k: `t = x + b`; `logw += sp(beta t) - sp(beta_prev t)`;
    /// `h <- [u < s(beta t)]`.
    pub(super) fn hidden_step<T>(x: &[T], bias: f64, beta: f64, beta_prev: f64, u: &[u32], h: &mut [T], logw: &mut [f64]) {
        let n = x.len();
        let (u, h, logw) = (&u[..n], &mut h[..n], &mut logw[..n]);
        for r in 0..n {
            let t = x[r].as_f64() + bias;
            let (sp, s) = math::softplus_sigmoid(beta * t);
            logw[r] += sp - math::softplus(beta_prev * t);
            h[r] = if (u[r] as f64) * U32_SCALE < s { T::of(1.0) } else { T::of(0.0) };
        }
    }
}

simd_dispatch! {
    /// One hidden column at the last step: `logw += sp(beta t) - sp(beta_prev t)` only.
    pub(super) fn hidden_weight<T>(x: &[T], bias: f64, beta: f64, beta_prev: f64, logw: &mut [f64]) {
        let n = x.len();
        let logw = &mut logw[..n];
        for r in 0..n {
            let t = x[r].as_f64() + bias;
            logw[r] += math::softplus(beta * t) - math::softplus(beta_prev * t);
        }
    }
}

simd_dispatch! {
    /// One visible column: `v <- [u < s(y + bias)]`, `dvis += c v`.
    fn visible_step<T>(y: &[T], bias: f64, c: f64, u: &[u32], v: &mut [T], dvis: &mut [f64]) {
        let n = y.len();
        let (u, v, dvis) = (&u[..n], &mut v[..n], &mut dvis[..n]);
        for r in 0..n {
            let s = math::sigmoid(y[r].as_f64() + bias);
            let on = (u[r] as f64) * U32_SCALE < s;
            v[r] = if on { T::of(1.0) } else { T::of(0.0) };
            dvis[r] += if on { c } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both products, split or not, against one plain GEMM, for every row count around the
    /// split (48 + 1..4 split off, 47, 48 and 53 not), in f64 and f32.
    fn products_match_one_gemm<T: Float>(tol: f64) {
        let mut r = crate::rng::rng(7);
        let rbm = Rbm::<f64>::random(37, 29, 0.3, &mut r).unwrap().cast::<T>();
        let base = AisBase::from_biases(vec![0.1; 37]).unwrap();
        let path = Path::new(&rbm, &base).unwrap();
        for rows in [20, 47, 48, 49, 50, 52, 53, 98] {
            let v = Mat::<T>::from_fn(rows, 37, |i, j| T::of(((i * 7 + j * 3) % 5) as f64 - 2.0));
            let h = Mat::<T>::from_fn(rows, 29, |i, j| T::of(((i * 5 + j) % 3) as f64 * 0.5));
            let mut products = Products::new(&path, Par::Seq);
            let (mut x, mut y) = (Mat::<T>::zeros(rows, 29), Mat::<T>::zeros(rows, 37));
            products.hidden_fields(x.as_mut(), v.as_ref());
            products.visible_fields(y.as_mut(), h.as_ref(), 0.75);
            let (mut x0, mut y0) = (Mat::<T>::zeros(rows, 29), Mat::<T>::zeros(rows, 37));
            let one = T::of(1.0);
            matmul_par(
                x0.as_mut(),
                Accum::Replace,
                v.as_ref(),
                rbm.w.as_ref(),
                one,
                Par::Seq,
            );
            let wt = rbm.w.transpose();
            matmul_par(
                y0.as_mut(),
                Accum::Replace,
                h.as_ref(),
                wt,
                T::of(0.75),
                Par::Seq,
            );
            for (a, b) in [(&x, &x0), (&y, &y0)] {
                for j in 0..a.ncols() {
                    for i in 0..rows {
                        let (a, b) = (a[(i, j)].as_f64(), b[(i, j)].as_f64());
                        assert!(
                            (a - b).abs() <= tol * (1.0 + b.abs()),
                            "rows {rows}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn split_products_match_one_gemm() {
        products_match_one_gemm::<f64>(1e-13);
        products_match_one_gemm::<f32>(1e-5);
    }
}
