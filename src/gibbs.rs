//! Block Gibbs sampling of an [`Rbm`]: chains with preallocated buffers, `v -> h -> v`, one
//! chain per row, the `v -> h` products sparse when the visible states are
//! ([`crate::linalg::sparse`]).

use faer::reborrow::ReborrowMut;
use faer::{Accum, Mat, MatMut, MatRef};
use rayon::prelude::*;

use crate::float::Float;
use crate::linalg::column_tasks;
use crate::linalg::sparse::{DenseRows, SparseRows, MAX_DENSITY};
use crate::linalg::{kernels, matmul};
use crate::profile::{self, Section};
use crate::rbm::{sigmoid_col_bias, Rbm};
use crate::rng::{fill_uniform, Rng};

/// Block Gibbs chains with preallocated buffers: `v -> h -> v`, one chain per row.
///
/// ```
/// use emf_rbm::{Rbm, GibbsSampler, rng};
/// let mut r = rng::rng(1);
/// let rbm = Rbm::<f64>::random(6, 4, 0.5, &mut r).unwrap();
/// let mut chains = GibbsSampler::new(&rbm, 10);
/// chains.run(&rbm, 5, &mut r);
/// assert!(chains.visible().col(0).iter().all(|&x| x == 0.0 || x == 1.0));
/// ```
#[derive(Clone, Debug)]
pub struct GibbsSampler<T: Float = f64> {
    v: Mat<T>,
    h: Mat<T>,
    ph: Mat<T>,
    pv: Mat<T>,
    u_h: Vec<T>,
    u_v: Vec<T>,
    /// The nonzeros of `v`, when the last `v -> h` half-step took the sparse path.
    index: SparseRows<T>,
    indexed: bool,
}

impl<T: Float> GibbsSampler<T> {
    /// `n_chains` chains started at `v = 0`.
    pub fn new(rbm: &Rbm<T>, n_chains: usize) -> Self {
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        GibbsSampler {
            v: Mat::zeros(n_chains, nv),
            h: Mat::zeros(n_chains, nh),
            ph: Mat::zeros(n_chains, nh),
            pv: Mat::zeros(n_chains, nv),
            u_h: vec![T::of(0.0); n_chains * nh],
            u_v: vec![T::of(0.0); n_chains * nv],
            index: SparseRows::new(),
            indexed: false,
        }
    }

    /// [`GibbsSampler::new`] after checking its memory (six `n_chains x (n_visible +
    /// n_hidden)` arrays) against the cap ([`crate::memory`]).
    pub fn try_new(rbm: &Rbm<T>, n_chains: usize) -> crate::Result<Self> {
        let units = rbm.n_visible() + rbm.n_hidden();
        crate::memory::check(
            format!("{n_chains} Gibbs chains of {units} units (n_chains / --chains)"),
            crate::memory::matrices(3, n_chains, units, std::mem::size_of::<T>()),
        )?;
        Ok(Self::new(rbm, n_chains))
    }

    /// Number of chains.
    pub fn n_chains(&self) -> usize {
        self.v.nrows()
    }

    /// Sets the visible state of the chains (`v` must be `n_chains x n_visible`).
    pub fn set_visible(&mut self, v: MatRef<'_, T>) {
        self.v.copy_from(v);
        self.indexed = false;
    }

    /// Sets the visible state to independent Bernoulli(p) draws of the rows of `p`.
    pub fn set_visible_sampled(&mut self, p: MatRef<'_, T>, rng: &mut Rng) {
        self.pv.copy_from(p);
        sample_into(self.pv.as_ref(), self.v.as_mut(), &mut self.u_v, rng);
        self.indexed = false;
    }

    /// Current visible states.
    pub fn visible(&self) -> MatRef<'_, T> {
        self.v.as_ref()
    }

    /// Current hidden states (from the last half-step).
    pub fn hidden(&self) -> MatRef<'_, T> {
        self.h.as_ref()
    }

    /// `P(h | v)` computed in the last `v -> h` half-step.
    pub fn hidden_probs(&self) -> MatRef<'_, T> {
        self.ph.as_ref()
    }

    /// `P(v | h)` computed in the last `h -> v` half-step.
    pub fn visible_probs(&self) -> MatRef<'_, T> {
        self.pv.as_ref()
    }

    /// Samples `h ~ P(h | v)` (also storing the probabilities).
    pub fn sample_hidden(&mut self, rbm: &Rbm<T>, rng: &mut Rng) {
        self.sample_hidden_with(rbm, None, rng);
    }

    /// `ph <- V W` by the sparse product when `w_rows` (the rows of `rbm`'s current `W`) is
    /// given and the visible states are sparse enough, else by a GEMM.
    fn hidden_field(&mut self, rbm: &Rbm<T>, w_rows: Option<&DenseRows<T>>) {
        self.indexed = match w_rows {
            Some(rows) => profile::timed(Section::Sparse, || {
                let sparse = self.index.fill_from(self.v.as_ref(), MAX_DENSITY);
                if sparse {
                    self.index.times_into(self.ph.as_mut(), rows);
                }
                sparse
            }),
            None => false,
        };
        if !self.indexed {
            matmul(
                self.ph.as_mut(),
                Accum::Replace,
                self.v.as_ref(),
                rbm.w.as_ref(),
                T::of(1.0),
            );
        }
    }

    /// [`sample_hidden`](Self::sample_hidden), through the sparse product when `w_rows` is
    /// given.
    fn sample_hidden_with(&mut self, rbm: &Rbm<T>, w_rows: Option<&DenseRows<T>>, rng: &mut Rng) {
        fill_uniform(rng, &mut self.u_h);
        self.hidden_field(rbm, w_rows);
        sigmoid_sample_cols(&mut self.ph, &rbm.b, &self.u_h, &mut self.h);
    }

    /// Samples `v ~ P(v | h)` (also storing the probabilities).
    pub fn sample_visible(&mut self, rbm: &Rbm<T>, rng: &mut Rng) {
        fill_uniform(rng, &mut self.u_v);
        matmul(
            self.pv.as_mut(),
            Accum::Replace,
            self.h.as_ref(),
            rbm.w.transpose(),
            T::of(1.0),
        );
        sigmoid_sample_cols(&mut self.pv, &rbm.a, &self.u_v, &mut self.v);
        self.indexed = false;
    }

    /// `k` full steps starting from given hidden probabilities `P(h | v0)` (as computed by a
    /// positive phase): `h ~ ph`, `v ~ P(v | h)`, then `k - 1` further steps; afterwards
    /// [`hidden_probs`](Self::hidden_probs) is refreshed for the final `v`. Equivalent to
    /// [`set_visible`](Self::set_visible)`(v0)` + [`run`](Self::run) with one GEMM less.
    pub fn run_from_hidden_probs(
        &mut self,
        rbm: &Rbm<T>,
        ph: MatRef<'_, T>,
        k: usize,
        rng: &mut Rng,
    ) {
        self.run_from_hidden_probs_with(rbm, ph, k, rng, None);
    }

    /// [`run_from_hidden_probs`](Self::run_from_hidden_probs) with the `v -> h` products
    /// sparse when `w_rows` (the rows of `rbm`'s current `W`) is given and the states are
    /// sparse enough; [`sparse_index`](Self::sparse_index) then holds the final states'
    /// nonzeros.
    pub fn run_from_hidden_probs_with(
        &mut self,
        rbm: &Rbm<T>,
        ph: MatRef<'_, T>,
        k: usize,
        rng: &mut Rng,
        w_rows: Option<&DenseRows<T>>,
    ) {
        if k == 0 {
            self.ph.copy_from(ph);
            self.indexed = false;
        } else {
            sample_into(ph, self.h.as_mut(), &mut self.u_h, rng);
            self.sample_visible(rbm, rng);
            for _ in 1..k {
                self.sample_hidden_with(rbm, w_rows, rng);
                self.sample_visible(rbm, rng);
            }
            self.hidden_field(rbm, w_rows);
            sigmoid_col_bias(self.ph.as_mut(), &rbm.b);
        }
    }

    /// `k` full steps `v -> h -> v`; afterwards [`hidden_probs`](Self::hidden_probs) is
    /// refreshed for the final `v`.
    pub fn run(&mut self, rbm: &Rbm<T>, k: usize, rng: &mut Rng) {
        self.run_with(rbm, k, rng, None);
    }

    /// [`run`](Self::run) with the `v -> h` products sparse when `w_rows` (the rows of
    /// `rbm`'s current `W`) is given and the states are sparse enough.
    pub fn run_with(
        &mut self,
        rbm: &Rbm<T>,
        k: usize,
        rng: &mut Rng,
        w_rows: Option<&DenseRows<T>>,
    ) {
        for _ in 0..k {
            self.sample_hidden_with(rbm, w_rows, rng);
            self.sample_visible(rbm, rng);
        }
        self.hidden_field(rbm, w_rows);
        sigmoid_col_bias(self.ph.as_mut(), &rbm.b);
    }

    /// The nonzeros of the visible states, when the last `v -> h` product was sparse.
    pub fn sparse_index(&self) -> Option<&SparseRows<T>> {
        self.indexed.then_some(&self.index)
    }
}

/// `p[:, j] <- sigmoid(p[:, j] + bias[j])` and `out <- Bernoulli(p)` with the uniforms `u`
/// (column-major, one column after the other), fused in one pass per column; columns split
/// over threads when the matrix is large.
fn sigmoid_sample_cols<T: Float>(p: &mut Mat<T>, bias: &[T], u: &[T], out: &mut Mat<T>) {
    let n = p.nrows();
    let serial = |mut p: MatMut<'_, T>, bias: &[T], u: &[T], mut out: MatMut<'_, T>| {
        for (j, &bj) in bias.iter().enumerate() {
            let pj = p
                .rb_mut()
                .col_mut(j)
                .try_as_col_major_mut()
                .expect("contiguous");
            let oj = out
                .rb_mut()
                .col_mut(j)
                .try_as_col_major_mut()
                .expect("contiguous");
            kernels::sigmoid_bias_sample(
                pj.as_slice_mut(),
                bj,
                &u[j * n..(j + 1) * n],
                oj.as_slice_mut(),
            );
        }
    };
    let u = &u[..n * p.ncols()];
    profile::timed(Section::Elementwise, || match column_tasks(n, p.ncols()) {
        Some(c) => p
            .as_mut()
            .par_col_chunks_mut(c)
            .zip(bias.par_chunks(c))
            .zip(u.par_chunks(c * n))
            .zip(out.as_mut().par_col_chunks_mut(c))
            .for_each(|(((p, bias), u), out)| serial(p, bias, u, out)),
        None => serial(p.as_mut(), bias, u, out.as_mut()),
    });
}

/// `out <- Bernoulli(p)` elementwise, drawing uniforms column by column into `u`.
fn sample_into<T: Float>(p: MatRef<'_, T>, out: MatMut<'_, T>, u: &mut [T], rng: &mut Rng) {
    let n = p.nrows();
    fill_uniform(rng, &mut u[..n * p.ncols()]);
    let _timer = profile::Timer::new(Section::Elementwise);
    let serial = |p: MatRef<'_, T>, u: &[T], mut out: MatMut<'_, T>| {
        for j in 0..p.ncols() {
            let uj = &u[j * n..(j + 1) * n];
            let mut col = out.rb_mut().col_mut(j);
            match (
                p.col(j).try_as_col_major(),
                col.rb_mut().try_as_col_major_mut(),
            ) {
                (Some(pj), Some(oj)) => kernels::bernoulli(pj.as_slice(), uj, oj.as_slice_mut()),
                _ => {
                    for (r, x) in col.iter_mut().enumerate() {
                        *x = if uj[r] < p[(r, j)] {
                            T::of(1.0)
                        } else {
                            T::of(0.0)
                        };
                    }
                }
            }
        }
    };
    match column_tasks(n, p.ncols()) {
        Some(c) => p
            .par_col_chunks(c)
            .zip(u[..n * p.ncols()].par_chunks(c * n))
            .zip(out.par_col_chunks_mut(c))
            .for_each(|((p, u), out)| serial(p, u, out)),
        None => serial(p, u, out),
    }
}
