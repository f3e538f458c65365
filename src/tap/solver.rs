//! [`TapSolver`]: magnetization particles iterated to a stationary point of `G_k`, with every
//! buffer preallocated (the sweep loop allocates nothing).

use faer::{Accum, MatRef};

use crate::error::{Error, Result};
use crate::float::Float;
use crate::linalg::matmul;
use crate::rbm::Rbm;
use crate::tap::kernels::{self, max_nan, Scratch};
use crate::tap::layer::{col_of, col_of_mut, mat, mat_mut, parts_for, Layer, PARTS};
use crate::tap::options::{SolveReport, SolverOptions, TapOrder, UpdateOrder};
use rayon::prelude::*;

/// Fixed-point solver for the TAP/EMF stationarity equations of one order.
///
/// Usage per parameter update: [`refresh`](Self::refresh) (recomputes `W o W`, `W o W o W`
/// and forgets every field computed from the previous parameters), then
/// [`init_from_visible`](Self::init_from_visible) or
/// [`set_magnetizations`](Self::set_magnetizations) (or keep the previous particles, for
/// persistent use), then [`solve`](Self::solve); afterwards read the magnetizations, evaluate
/// [`free_energy`](Self::free_energy) (`G_k` per particle) or
/// [`subtract_gradient`](Self::subtract_gradient) (the envelope-theorem `d ln Z / d theta`).
///
/// Every method taking `rbm` must be given the model last passed to `refresh` (the shapes
/// are checked; the values cannot be).
///
/// The elementwise passes run in a fixed number of column blocks (with rayon), so the results
/// are bit-identical for any number of threads.
///
/// ```
/// use emf_rbm::{Rbm, faer::Mat};
/// use emf_rbm::tap::{SolverOptions, TapOrder, TapSolver};
///
/// let mut rng = emf_rbm::rng::rng(3);
/// let rbm = Rbm::<f64>::random(6, 4, 0.3, &mut rng)?;
/// let start = Mat::<f64>::from_fn(2, 6, |r, i| ((r + i) % 2) as f64);
///
/// let mut solver = TapSolver::new(TapOrder::Tap3, 6, 4);
/// solver.refresh(&rbm)?;
/// solver.init_from_visible(&rbm, start.as_ref())?;
/// let report = solver.solve(&rbm, &SolverOptions::converged())?;
/// assert!(report.converged && report.residual < 1e-8);
/// let ln_z = -solver.free_energy(&rbm)?[0]; // TAP3 estimate of ln Z from particle 0
/// assert!(ln_z.is_finite());
/// # Ok::<(), emf_rbm::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TapSolver<T: Float = f64> {
    pub(crate) order: TapOrder,
    pub(crate) nv: usize,
    pub(crate) nh: usize,
    /// Number of particles.
    pub(crate) p: usize,
    /// Column stride of the particle buffers (`padded(p)`).
    pub(crate) ps: usize,
    /// `W o W` (`nv x nh` column-major; empty for MF).
    pub(crate) w2: Vec<T>,
    /// `W o W o W` (`nv x nh`; empty below order 3).
    pub(crate) w3: Vec<T>,
    pub(crate) vis: Layer<T>,
    pub(crate) hid: Layer<T>,
    /// Per-particle residual of the last sweep.
    res: Vec<f64>,
    /// Per-block residual buffers of the parallel passes.
    parts: Vec<Vec<T>>,
    /// Per-block scratch of the exact per-unit solves.
    scratch: Vec<Scratch<T>>,
    /// Gradient scratch `Nv^T Nh` and `Kv^T Kh` (`nv x nh`, allocated on first use).
    pub(crate) tn: Vec<T>,
    pub(crate) tk: Vec<T>,
    /// The stacked data and particle rows of
    /// [`data_minus_model_gradient`](Self::data_minus_model_gradient) (column-major).
    pub(crate) stack_v: Vec<T>,
    pub(crate) stack_h: Vec<T>,
    /// `hid.f` holds `mv W` for the current `mv` and the current parameters.
    pub(crate) hidden_field_fresh: bool,
    /// `nu_v` and `kappa_v` are identically zero (binary visible starts).
    visible_onsager_zero: bool,
    last: SolveReport,
}

/// Column stride of the particle buffers: the particle count rounded up to 16, so the
/// elementwise loops run on whole vectors (no scalar remainder).
fn padded(p: usize) -> usize {
    p.div_ceil(16) * 16
}

impl<T: Float> TapSolver<T> {
    /// A solver of order `order` for `n_visible x n_hidden` models (no particles yet).
    pub fn new(order: TapOrder, n_visible: usize, n_hidden: usize) -> Self {
        let k = order.k();
        let wk = |used: bool| {
            if used {
                vec![T::of(0.0); n_visible * n_hidden]
            } else {
                Vec::new()
            }
        };
        TapSolver {
            order,
            nv: n_visible,
            nh: n_hidden,
            p: 0,
            ps: 0,
            w2: wk(k >= 2),
            w3: wk(k >= 3),
            vis: Layer::new(n_visible),
            hid: Layer::new(n_hidden),
            res: Vec::new(),
            parts: vec![Vec::new(); PARTS],
            scratch: vec![Scratch::default(); PARTS],
            tn: Vec::new(),
            tk: Vec::new(),
            stack_v: Vec::new(),
            stack_h: Vec::new(),
            hidden_field_fresh: false,
            visible_onsager_zero: false,
            last: SolveReport::default(),
        }
    }

    /// The expansion order.
    pub fn order(&self) -> TapOrder {
        self.order
    }

    /// Number of particles (rows of the magnetization matrices).
    pub fn n_particles(&self) -> usize {
        self.p
    }

    /// Visible magnetizations (`particles x n_visible`).
    pub fn visible(&self) -> MatRef<'_, T> {
        mat(&self.vis.m, self.p, self.nv, self.ps)
    }

    /// Hidden magnetizations (`particles x n_hidden`).
    pub fn hidden(&self) -> MatRef<'_, T> {
        mat(&self.hid.m, self.p, self.nh, self.ps)
    }

    /// Per-particle residual of the last sweep (see [`SolverOptions`]).
    pub fn residuals(&self) -> &[f64] {
        &self.res
    }

    /// The report of the last [`solve`](Self::solve).
    pub fn last_report(&self) -> SolveReport {
        self.last
    }

    pub(crate) fn check_model(&self, rbm: &Rbm<T>) -> Result<()> {
        if (rbm.n_visible(), rbm.n_hidden()) != (self.nv, self.nh) {
            return Err(Error::Shape(format!(
                "the model is {} x {} but the solver was made for {} x {}",
                rbm.n_visible(),
                rbm.n_hidden(),
                self.nv,
                self.nh
            )));
        }
        Ok(())
    }

    fn check_particles(&self) -> Result<()> {
        if self.p == 0 {
            return Err(Error::param(
                "particles",
                "no particles: call init_from_visible or set_magnetizations first",
            ));
        }
        Ok(())
    }

    /// Recomputes `W o W` (order >= 2) and `W o W o W` (order 3) from `rbm`, and marks the
    /// fields computed from the previous parameters stale. Call after every parameter change.
    pub fn refresh(&mut self, rbm: &Rbm<T>) -> Result<()> {
        self.check_model(rbm)?;
        self.hidden_field_fresh = false;
        let k = self.order.k();
        if k < 2 {
            return Ok(());
        }
        let _timer = crate::profile::Timer::new(crate::profile::Section::Elementwise);
        let (nv, nh) = (self.nv, self.nh);
        let np = parts_for(nv * nh);
        let w = rbm.w.as_ref();
        let w2 = mat_mut(&mut self.w2, nv, nh, nv);
        if k >= 3 {
            let w3 = mat_mut(&mut self.w3, nv, nh, nv);
            w.par_col_partition(np)
                .zip(w2.par_col_partition_mut(np))
                .zip(w3.par_col_partition_mut(np))
                .for_each(|((w, mut w2), mut w3)| {
                    for j in 0..w.ncols() {
                        let (a, b) = (col_of_mut(&mut w2, j), col_of_mut(&mut w3, j));
                        kernels::powers_column(3, col_of(w, j), a, b);
                    }
                });
        } else {
            w.par_col_partition(np)
                .zip(w2.par_col_partition_mut(np))
                .for_each(|(w, mut w2)| {
                    for j in 0..w.ncols() {
                        kernels::powers_column(2, col_of(w, j), col_of_mut(&mut w2, j), &mut []);
                    }
                });
        }
        Ok(())
    }

    /// Sets the number of particles (buffers grow only beyond the capacity reached so far).
    fn resize(&mut self, p: usize) {
        if self.p != p || self.res.len() != p {
            let ps = padded(p);
            self.p = p;
            self.ps = ps;
            self.vis.resize(ps);
            self.hid.resize(ps);
            self.res.resize(p, 0.0);
            for part in &mut self.parts {
                part.resize(ps.max(1), T::of(0.0));
            }
            for s in &mut self.scratch {
                s.resize(ps);
            }
        }
    }

    /// Zeroes the padding rows of the magnetizations (so `nu` is 0 there).
    fn clear_padding(&mut self) {
        let (p, ps) = (self.p, self.ps);
        for m in [&mut self.vis.m, &mut self.hid.m] {
            for c in m.chunks_mut(ps) {
                c[p..].iter_mut().for_each(|x| *x = T::of(0.0));
            }
        }
    }

    /// Starts one particle per row of `v`: `mv = v`, `mh = s(b + W^T v)` (one GEMM).
    pub fn init_from_visible(&mut self, rbm: &Rbm<T>, v: MatRef<'_, T>) -> Result<()> {
        self.init_from(rbm, v, None)
    }

    /// [`init_from_visible`](Self::init_from_visible) given the hidden fields `V W` (without
    /// the bias, `rows(v) x n_hidden`) already computed, e.g. by a positive phase: no GEMM.
    pub fn init_from_visible_and_field(
        &mut self,
        rbm: &Rbm<T>,
        v: MatRef<'_, T>,
        hidden_field: MatRef<'_, T>,
    ) -> Result<()> {
        if (hidden_field.nrows(), hidden_field.ncols()) != (v.nrows(), self.nh) {
            return Err(Error::Shape(format!(
                "hidden fields are {} x {}, expected {} x {}",
                hidden_field.nrows(),
                hidden_field.ncols(),
                v.nrows(),
                self.nh
            )));
        }
        self.init_from(rbm, v, Some(hidden_field))
    }

    fn init_from(
        &mut self,
        rbm: &Rbm<T>,
        v: MatRef<'_, T>,
        hidden_field: Option<MatRef<'_, T>>,
    ) -> Result<()> {
        self.check_model(rbm)?;
        if v.ncols() != self.nv || v.nrows() == 0 {
            return Err(Error::Shape(format!(
                "starts are {} x {}, expected at least one row of {} visible units",
                v.nrows(),
                v.ncols(),
                self.nv
            )));
        }
        let (p, nv, nh) = (v.nrows(), self.nv, self.nh);
        self.resize(p);
        let ps = self.ps;
        mat_mut(&mut self.vis.m, p, nv, ps).copy_from(v);
        self.clear_padding();
        let big = self.vis.init(self.order, ps, None);
        let mut field = mat_mut(&mut self.hid.f, p, nh, ps);
        match hidden_field {
            Some(f) => crate::profile::timed(crate::profile::Section::Copy, || field.copy_from(f)),
            None => matmul(
                field,
                Accum::Replace,
                mat(&self.vis.m, p, nv, ps),
                rbm.w.as_ref(),
                T::of(1.0),
            ),
        }
        self.hid.init(self.order, ps, Some(&rbm.b));
        self.hidden_field_fresh = true;
        self.visible_onsager_zero = self.order.k() >= 2 && big == 0.0;
        self.res.iter_mut().for_each(|r| *r = f64::INFINITY);
        Ok(())
    }

    /// Sets the particles to the given magnetizations (same number of rows, values in
    /// `[0, 1]`).
    pub fn set_magnetizations(&mut self, mv: MatRef<'_, T>, mh: MatRef<'_, T>) -> Result<()> {
        if mv.nrows() != mh.nrows() || mv.ncols() != self.nv || mh.ncols() != self.nh {
            return Err(Error::Shape(format!(
                "magnetizations are {} x {} and {} x {}, expected P x {} and P x {}",
                mv.nrows(),
                mv.ncols(),
                mh.nrows(),
                mh.ncols(),
                self.nv,
                self.nh
            )));
        }
        if mv.nrows() == 0 {
            return Err(Error::Shape("no particles given".into()));
        }
        let (p, nv, nh) = (mv.nrows(), self.nv, self.nh);
        self.resize(p);
        let ps = self.ps;
        mat_mut(&mut self.vis.m, p, nv, ps).copy_from(mv);
        mat_mut(&mut self.hid.m, p, nh, ps).copy_from(mh);
        let in_range = |x: &T| x.as_f64() >= 0.0 && x.as_f64() <= 1.0;
        let ok = (0..nv).all(|i| col_of(mat(&self.vis.m, p, nv, ps), i).iter().all(in_range))
            && (0..nh).all(|j| col_of(mat(&self.hid.m, p, nh, ps), j).iter().all(in_range));
        if !ok {
            return Err(Error::param(
                "magnetizations",
                "every magnetization must lie in [0, 1]",
            ));
        }
        self.clear_padding();
        self.vis.init(self.order, ps, None);
        self.hid.init(self.order, ps, None);
        self.hidden_field_fresh = false;
        self.visible_onsager_zero = false;
        self.res.iter_mut().for_each(|r| *r = f64::INFINITY);
        Ok(())
    }

    /// Hidden fields from the current visible layer: 1-3 GEMMs.
    fn hidden_fields(&mut self, rbm: &Rbm<T>) {
        let (k, p, ps, nv, nh) = (self.order.k(), self.p, self.ps, self.nv, self.nh);
        let one = T::of(1.0);
        if !self.hidden_field_fresh {
            let (f, m) = (
                mat_mut(&mut self.hid.f, p, nh, ps),
                mat(&self.vis.m, p, nv, ps),
            );
            matmul(f, Accum::Replace, m, rbm.w.as_ref(), one);
        }
        self.hidden_field_fresh = false;
        if self.visible_onsager_zero {
            // nu_v = kappa_v = 0 exactly: the Onsager fields vanish (skip the GEMMs).
            self.hid.o2.fill(T::of(0.0));
            self.hid.o3.fill(T::of(0.0));
            return;
        }
        if k >= 2 {
            let (o2, nu) = (
                mat_mut(&mut self.hid.o2, p, nh, ps),
                mat(&self.vis.nu, p, nv, ps),
            );
            matmul(o2, Accum::Replace, nu, mat(&self.w2, nv, nh, nv), one);
        }
        if k >= 3 {
            let (o3, kap) = (
                mat_mut(&mut self.hid.o3, p, nh, ps),
                mat(&self.vis.kap, p, nv, ps),
            );
            matmul(o3, Accum::Replace, kap, mat(&self.w3, nv, nh, nv), one);
        }
    }

    /// Visible fields from the current hidden layer: 1-3 GEMMs.
    fn visible_fields(&mut self, rbm: &Rbm<T>) {
        let (k, p, ps, nv, nh) = (self.order.k(), self.p, self.ps, self.nv, self.nh);
        let one = T::of(1.0);
        let (f, m) = (
            mat_mut(&mut self.vis.f, p, nv, ps),
            mat(&self.hid.m, p, nh, ps),
        );
        matmul(f, Accum::Replace, m, rbm.w.transpose(), one);
        if k >= 2 {
            let (o2, nu) = (
                mat_mut(&mut self.vis.o2, p, nv, ps),
                mat(&self.hid.nu, p, nh, ps),
            );
            let w2t = mat(&self.w2, nv, nh, nv).transpose();
            matmul(o2, Accum::Replace, nu, w2t, one);
        }
        if k >= 3 {
            let (o3, kap) = (
                mat_mut(&mut self.vis.o3, p, nv, ps),
                mat(&self.hid.kap, p, nh, ps),
            );
            let w3t = mat(&self.w3, nv, nh, nv).transpose();
            matmul(o3, Accum::Replace, kap, w3t, one);
        }
    }

    fn update_hidden(&mut self, rbm: &Rbm<T>, opts: &SolverOptions) {
        let (order, ps) = (self.order, self.ps);
        self.hid.update(
            order,
            opts.rule,
            ps,
            &rbm.b,
            opts.damping,
            &mut self.parts,
            &mut self.scratch,
            &mut self.res,
        );
    }

    fn update_visible(&mut self, rbm: &Rbm<T>, opts: &SolverOptions) {
        let (order, ps) = (self.order, self.ps);
        self.vis.update(
            order,
            opts.rule,
            ps,
            &rbm.a,
            opts.damping,
            &mut self.parts,
            &mut self.scratch,
            &mut self.res,
        );
        self.visible_onsager_zero = false;
        self.hidden_field_fresh = false;
    }

    /// One sweep over both layers by `opts`' rule, damping and update order; returns the
    /// largest per-particle residual (see [`SolverOptions`]).
    pub fn sweep(&mut self, rbm: &Rbm<T>, opts: &SolverOptions) -> Result<f64> {
        self.check_model(rbm)?;
        self.check_particles()?;
        opts.validate()?;
        Ok(self.sweep_unchecked(rbm, opts))
    }

    fn sweep_unchecked(&mut self, rbm: &Rbm<T>, opts: &SolverOptions) -> f64 {
        self.res.fill(0.0);
        match opts.update_order {
            UpdateOrder::HiddenFirst => {
                self.hidden_fields(rbm);
                self.update_hidden(rbm, opts);
                self.visible_fields(rbm);
                self.update_visible(rbm, opts);
            }
            UpdateOrder::VisibleFirst => {
                self.visible_fields(rbm);
                self.update_visible(rbm, opts);
                self.hidden_fields(rbm);
                self.update_hidden(rbm, opts);
            }
            UpdateOrder::Parallel => {
                self.hidden_fields(rbm);
                self.visible_fields(rbm);
                self.update_hidden(rbm, opts);
                self.update_visible(rbm, opts);
            }
        }
        self.res.iter().fold(0.0, |a, &r| max_nan(a, r))
    }

    /// Iterates sweeps until the residual is at most `opts.tolerance` or `max_sweeps` sweeps
    /// were made. Invalid options or a missing start are errors.
    pub fn solve(&mut self, rbm: &Rbm<T>, opts: &SolverOptions) -> Result<SolveReport> {
        opts.validate()?;
        self.check_model(rbm)?;
        self.check_particles()?;
        let mut report = SolveReport {
            n_particles: self.p,
            ..SolveReport::default()
        };
        for s in 1..=opts.max_sweeps {
            let r = self.sweep_unchecked(rbm, opts);
            report.sweeps = s;
            report.residual = r;
            if r <= opts.tolerance {
                break;
            }
        }
        report.n_converged = self.res.iter().filter(|&&r| r <= opts.tolerance).count();
        report.converged = report.n_converged == self.p;
        self.last = report;
        Ok(report)
    }
}
