//! The Gibbs free energy `G_k` of the solver's particles and its parameter gradient at a
//! stationary point (the envelope theorem: `d ln Z / d theta ~ -dG_k / d theta (m*)`).

use faer::reborrow::*;
use faer::{Accum, MatRef};
use rayon::prelude::*;

use crate::error::Result;
use crate::float::Float;
use crate::linalg::kernels::column_sum;
use crate::linalg::matmul;
use crate::rbm::{Gradient, Rbm};
use crate::tap::kernels::onsager_gradient_column;
use crate::tap::layer::{col_of, col_of_mut, mat, mat_mut, parts_for};
use crate::tap::options::TapOrder;
use crate::tap::solver::TapSolver;

/// Magnetizations are clipped to `[CLIP, 1 - CLIP]` before any logarithm.
///
/// The entropy error this introduces at a saturated unit is about `CLIP ln(1/CLIP)`
/// (3e-11 nats), far below what `1e-7` would cost (2e-6 nats per unit, i.e. ~1e-3 nats on a
/// 784-pixel image with many blank pixels).
pub const CLIP: f64 = 1e-12;

/// `m ln m + (1 - m) ln(1 - m)` with `m` clipped to `[CLIP, 1 - CLIP]` (= `-S` of one unit).
#[inline]
fn neg_entropy(m: f64) -> f64 {
    let m = m.clamp(CLIP, 1.0 - CLIP);
    m * m.ln() + (1.0 - m) * (-m).ln_1p()
}

impl<T: Float> TapSolver<T> {
    /// `G_k` (the order's Gibbs free energy) of every particle, accumulated in `f64`.
    pub fn free_energy(&mut self, rbm: &Rbm<T>) -> Result<Vec<f64>> {
        let mut out = vec![0.0; self.p];
        self.free_energy_into(rbm, &mut out)?;
        Ok(out)
    }

    /// [`free_energy`](Self::free_energy) into `out` (resized to the number of particles).
    /// Uses the field buffers as scratch (1-3 GEMMs).
    pub fn free_energy_into(&mut self, rbm: &Rbm<T>, out: &mut Vec<f64>) -> Result<()> {
        self.check_model(rbm)?;
        let (k, p, ps, nv, nh) = (self.order.k(), self.p, self.ps, self.nv, self.nh);
        out.clear();
        out.resize(p, 0.0);
        let one = T::of(1.0);
        // -S(mv) - a.mv
        let mv = mat(&self.vis.m, ps, nv, ps);
        for (i, &ai) in rbm.a.iter().enumerate() {
            let ai = ai.as_f64();
            for (g, &x) in out.iter_mut().zip(col_of(mv, i)) {
                let x = x.as_f64();
                *g += neg_entropy(x) - ai * x;
            }
        }
        // -S(mh) - b.mh - mh.(mv W)
        if !self.hidden_field_fresh {
            let (f, m) = (
                mat_mut(&mut self.hid.f, p, nh, ps),
                mat(&self.vis.m, p, nv, ps),
            );
            matmul(f, Accum::Replace, m, rbm.w.as_ref(), one);
            self.hidden_field_fresh = true;
        }
        let (mh, fh) = (mat(&self.hid.m, ps, nh, ps), mat(&self.hid.f, ps, nh, ps));
        for (j, &bj) in rbm.b.iter().enumerate() {
            let bj = bj.as_f64();
            for ((g, &x), &fx) in out.iter_mut().zip(col_of(mh, j)).zip(col_of(fh, j)) {
                let x = x.as_f64();
                *g += neg_entropy(x) - (bj + fx.as_f64()) * x;
            }
        }
        // - c sum_j rhs_j (lhs W^k)_j, with `o` as scratch.
        let onsager = |o: &mut Vec<T>, lhs: &[T], wk: &[T], rhs: &[T], c: f64, out: &mut [f64]| {
            matmul(
                mat_mut(o, p, nh, ps),
                Accum::Replace,
                mat(lhs, p, nv, ps),
                mat(wk, nv, nh, nv),
                one,
            );
            let (o, rhs) = (mat(o, ps, nh, ps), mat(rhs, ps, nh, ps));
            for j in 0..nh {
                for ((g, &x), &y) in out.iter_mut().zip(col_of(rhs, j)).zip(col_of(o, j)) {
                    *g -= c * x.as_f64() * y.as_f64();
                }
            }
        };
        if k >= 2 {
            onsager(
                &mut self.hid.o2,
                &self.vis.nu,
                &self.w2,
                &self.hid.nu,
                0.5,
                out,
            );
        }
        if k >= 3 {
            let c = 2.0 / 3.0;
            onsager(
                &mut self.hid.o3,
                &self.vis.kap,
                &self.w3,
                &self.hid.kap,
                c,
                out,
            );
        }
        Ok(())
    }

    /// `grad -= d ln Z / d theta` at the current magnetizations (envelope theorem; exact at a
    /// stationary point), averaged over the particles:
    ///
    /// `grad.w -= (Mv^T Mh + W o (Nv^T Nh) + 2 (W o W) o (Kv^T Kh)) / P`,
    /// `grad.a -= mean(Mv)`, `grad.b -= mean(Mh)` (second term from order 2, third at order 3).
    /// 1-3 GEMMs accumulated with `alpha = -1/P`; the scratch matrices are allocated on the
    /// first call only.
    pub fn subtract_gradient(&mut self, rbm: &Rbm<T>, grad: &mut Gradient<T>) -> Result<()> {
        self.check_gradient(rbm, grad)?;
        let (p, ps, nv, nh) = (self.p, self.ps, self.nv, self.nh);
        let scale = T::of(-1.0 / p as f64);
        let (mv, mh) = (mat(&self.vis.m, p, nv, ps), mat(&self.hid.m, p, nh, ps));
        matmul(grad.w.as_mut(), Accum::Add, mv.transpose(), mh, scale);
        self.subtract_onsager_and_means(rbm, grad);
        Ok(())
    }

    /// The whole weight gradient data minus model: `grad.w <- V^T P / B - (Mv^T Mh + ...) / P`
    /// for the minibatch `data` (`B x n_visible`) and its `P(h | v)`, the Onsager and bias
    /// terms as in [`subtract_gradient`](Self::subtract_gradient). The data term and
    /// `Mv^T Mh` are one GEMM over the stacked rows `[V; Mv]`, `[P / B; -Mh / P]` (inner
    /// dimension `B + P`, faster than two GEMMs).
    pub fn data_minus_model_gradient(
        &mut self,
        rbm: &Rbm<T>,
        data: MatRef<'_, T>,
        data_hidden_probs: MatRef<'_, T>,
        grad: &mut Gradient<T>,
    ) -> Result<()> {
        self.check_gradient(rbm, grad)?;
        let (p, ps, nv, nh) = (self.p, self.ps, self.nv, self.nh);
        let b = data.nrows();
        if (
            data.ncols(),
            data_hidden_probs.nrows(),
            data_hidden_probs.ncols(),
        ) != (nv, b, nh)
        {
            return Err(crate::Error::Shape(format!(
                "data is {b} x {}, its hidden probabilities {} x {}; expected {nv} and {nh} \
                 columns and one row of probabilities per row",
                data.ncols(),
                data_hidden_probs.nrows(),
                data_hidden_probs.ncols()
            )));
        }
        let rows = b + p;
        self.stack_v.resize(rows * nv, T::of(0.0));
        self.stack_h.resize(rows * nh, T::of(0.0));
        crate::profile::timed(crate::profile::Section::Copy, || {
            let (pos, neg) = (T::of(1.0 / b as f64), T::of(-1.0 / p as f64));
            let (mv, mh) = (mat(&self.vis.m, p, nv, ps), mat(&self.hid.m, p, nh, ps));
            let mut sv = mat_mut(&mut self.stack_v, rows, nv, rows);
            sv.rb_mut().subrows_mut(0, b).copy_from(data);
            sv.rb_mut().subrows_mut(b, p).copy_from(mv);
            let mut sh = mat_mut(&mut self.stack_h, rows, nh, rows);
            for j in 0..nh {
                let col = col_of_mut(&mut sh, j);
                for (d, &x) in col[..b].iter_mut().zip(data_hidden_probs.col(j).iter()) {
                    *d = pos * x;
                }
                for (d, &x) in col[b..].iter_mut().zip(col_of(mh, j)) {
                    *d = neg * x;
                }
            }
        });
        let (sv, sh) = (
            mat(&self.stack_v, rows, nv, rows),
            mat(&self.stack_h, rows, nh, rows),
        );
        matmul(
            grad.w.as_mut(),
            Accum::Replace,
            sv.transpose(),
            sh,
            T::of(1.0),
        );
        self.subtract_onsager_and_means(rbm, grad);
        Ok(())
    }

    fn check_gradient(&self, rbm: &Rbm<T>, grad: &Gradient<T>) -> Result<()> {
        self.check_model(rbm)?;
        let (nv, nh) = (self.nv, self.nh);
        if self.p == 0 {
            return Err(crate::Error::param("particles", "no particles to average"));
        }
        if (grad.w.nrows(), grad.w.ncols()) != (nv, nh) {
            return Err(crate::Error::Shape(format!(
                "gradient is {} x {}, the model {nv} x {nh}",
                grad.w.nrows(),
                grad.w.ncols()
            )));
        }
        Ok(())
    }

    /// `grad.w -= (W o (Nv^T Nh) + 2 (W o W) o (Kv^T Kh)) / P` (from order 2),
    /// `grad.a -= mean(Mv)`, `grad.b -= mean(Mh)`.
    fn subtract_onsager_and_means(&mut self, rbm: &Rbm<T>, grad: &mut Gradient<T>) {
        let (k, p, ps, nv, nh) = (self.order.k(), self.p, self.ps, self.nv, self.nh);
        let scale = T::of(-1.0 / p as f64);
        let product = |dst: &mut Vec<T>, a: MatRef<'_, T>, b: MatRef<'_, T>| {
            dst.resize(nv * nh, T::of(0.0));
            let d = mat_mut(dst, nv, nh, nv);
            matmul(d, Accum::Replace, a.transpose(), b, scale);
        };
        if k >= 2 {
            let (a, b) = (mat(&self.vis.nu, p, nv, ps), mat(&self.hid.nu, p, nh, ps));
            product(&mut self.tn, a, b);
        }
        if k >= 3 {
            let (a, b) = (mat(&self.vis.kap, p, nv, ps), mat(&self.hid.kap, p, nh, ps));
            product(&mut self.tk, a, b);
        }
        if k >= 2 {
            let _timer = crate::profile::Timer::new(crate::profile::Section::Elementwise);
            let np = parts_for(nv * nh);
            let w2 = if k >= 3 { &self.w2[..] } else { &self.tn[..] };
            let tk = if k >= 3 { &self.tk[..] } else { &self.tn[..] };
            let order = if k >= 3 { 3 } else { 2 };
            grad.w
                .as_mut()
                .par_col_partition_mut(np)
                .zip(rbm.w.as_ref().par_col_partition(np))
                .zip(mat(&self.tn, nv, nh, nv).par_col_partition(np))
                .zip(mat(w2, nv, nh, nv).par_col_partition(np))
                .zip(mat(tk, nv, nh, nv).par_col_partition(np))
                .for_each(|((((mut g, w), tn), w2), tk)| {
                    for j in 0..g.ncols() {
                        let (w, tn, w2, tk) =
                            (col_of(w, j), col_of(tn, j), col_of(w2, j), col_of(tk, j));
                        onsager_gradient_column(order, w, tn, w2, tk, col_of_mut(&mut g, j));
                    }
                });
        }
        let inv = 1.0 / p as f64;
        let (mv, mh) = (mat(&self.vis.m, ps, nv, ps), mat(&self.hid.m, ps, nh, ps));
        for (i, g) in grad.a.iter_mut().enumerate() {
            *g = T::of(g.as_f64() - column_sum(&col_of(mv, i)[..p]) * inv);
        }
        for (j, g) in grad.b.iter_mut().enumerate() {
            *g = T::of(g.as_f64() - column_sum(&col_of(mh, j)[..p]) * inv);
        }
    }
}

/// `G_k(mv, mh)` of each row pair (allocates a solver; for repeated use keep a [`TapSolver`]).
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat, tap::{gibbs_free_energy, TapOrder}};
/// // W = 0 and m = s(a), s(b): G_k = -ln Z = -(sum sp(a) + sum sp(b)) at every order.
/// let mut rbm = Rbm::<f64>::zeros(2, 1)?;
/// rbm.a = vec![0.3, -1.2];
/// rbm.b = vec![0.7];
/// let s = |x: f64| 1.0 / (1.0 + (-x).exp());
/// let sp = |x: f64| (1.0 + x.exp()).ln();
/// let mv = Mat::from_fn(1, 2, |_, i| s(rbm.a[i]));
/// let mh = Mat::from_fn(1, 1, |_, _| s(0.7));
/// let g = gibbs_free_energy(&rbm, TapOrder::Tap3, mv.as_ref(), mh.as_ref())?;
/// assert!((g[0] + sp(0.3) + sp(-1.2) + sp(0.7)).abs() < 1e-12);
/// # Ok::<(), emf_rbm::Error>(())
/// ```
pub fn gibbs_free_energy<T: Float>(
    rbm: &Rbm<T>,
    order: TapOrder,
    mv: MatRef<'_, T>,
    mh: MatRef<'_, T>,
) -> Result<Vec<f64>> {
    let mut solver = TapSolver::new(order, rbm.n_visible(), rbm.n_hidden());
    solver.refresh(rbm)?;
    solver.set_magnetizations(mv, mh)?;
    solver.free_energy(rbm)
}
