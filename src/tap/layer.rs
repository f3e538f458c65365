//! One layer's magnetizations and work buffers, and the column-parallel passes over them.
//!
//! Buffers are `ps x n` column-major (`ps` = particles rounded up to 16, so the elementwise
//! loops run on whole vectors; the padding rows are never read by a GEMM, a free energy or a
//! gradient). Passes split the columns into a FIXED number of blocks with faer's parallel
//! column partition, so every column is computed the same way whatever the thread count, and
//! the per-particle residual (a maximum) is exact in any order.

use faer::reborrow::ReborrowMut;
use faer::{MatMut, MatRef};
use rayon::prelude::*;

use crate::float::Float;
use crate::tap::kernels::{self, max_nan, Column, Scratch};
use crate::tap::options::{TapOrder, UpdateRule};

/// Column blocks of the parallel elementwise passes.
pub(crate) const PARTS: usize = 4;
/// Matrices with fewer elements than this are processed on the calling thread.
pub(crate) const PAR_MIN: usize = 1 << 15;

/// The number of blocks for a pass over `elements` values.
pub(crate) fn parts_for(elements: usize) -> usize {
    if elements >= PAR_MIN {
        PARTS
    } else {
        1
    }
}

/// The `rows x cols` column-major matrix stored in `v` with column stride `stride`.
pub(crate) fn mat<T>(v: &[T], rows: usize, cols: usize, stride: usize) -> MatRef<'_, T> {
    MatRef::from_column_major_slice_with_stride(v, rows, cols, stride)
}

/// Mutable [`mat`].
pub(crate) fn mat_mut<T>(v: &mut [T], rows: usize, cols: usize, stride: usize) -> MatMut<'_, T> {
    MatMut::from_column_major_slice_with_stride_mut(v, rows, cols, stride)
}

/// Column `j` of a contiguous-column view as a slice.
pub(crate) fn col_of<'a, T>(m: MatRef<'a, T>, j: usize) -> &'a [T] {
    m.col(j)
        .try_as_col_major()
        .expect("buffers have contiguous columns")
        .as_slice()
}

/// Mutable [`col_of`].
pub(crate) fn col_of_mut<'b, T>(m: &'b mut MatMut<'_, T>, j: usize) -> &'b mut [T] {
    m.rb_mut()
        .col_mut(j)
        .try_as_col_major_mut()
        .expect("buffers have contiguous columns")
        .as_slice_mut()
}

/// A layer's state and work buffers.
#[derive(Clone, Debug)]
pub(crate) struct Layer<T: Float> {
    pub n: usize,
    /// Magnetizations.
    pub m: Vec<T>,
    /// `m (1 - m)`.
    pub nu: Vec<T>,
    /// `(1/2 - m) nu`.
    pub kap: Vec<T>,
    /// Mean field from the other layer (without bias).
    pub f: Vec<T>,
    /// Onsager field `(W o W) nu_other`.
    pub o2: Vec<T>,
    /// Third-order field `(W o W o W) kappa_other`.
    pub o3: Vec<T>,
}

impl<T: Float> Layer<T> {
    pub fn new(n: usize) -> Self {
        Layer {
            n,
            m: Vec::new(),
            nu: Vec::new(),
            kap: Vec::new(),
            f: Vec::new(),
            o2: Vec::new(),
            o3: Vec::new(),
        }
    }

    /// Sizes every buffer for `ps` rows (capacity is kept when shrinking).
    pub fn resize(&mut self, ps: usize) {
        let len = ps * self.n;
        let zero = T::of(0.0);
        for v in [
            &mut self.m,
            &mut self.nu,
            &mut self.kap,
            &mut self.f,
            &mut self.o2,
            &mut self.o3,
        ] {
            v.resize(len, zero);
        }
    }

    /// The update of every unit by `rule`; `res` becomes `max(res, residual)` per particle.
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        order: TapOrder,
        rule: UpdateRule,
        ps: usize,
        bias: &[T],
        damping: f64,
        parts: &mut [Vec<T>],
        scratch: &mut [Scratch<T>],
        res: &mut [f64],
    ) {
        let _timer = crate::profile::Timer::new(crate::profile::Section::Elementwise);
        let (k, n) = (order.k(), self.n);
        let np = parts_for(ps * n);
        let parts = &mut parts[..np];
        parts.iter_mut().for_each(|r| r.fill(T::of(0.0)));
        let bias = mat(bias, 1, n, 1);
        mat_mut(&mut self.m, ps, n, ps)
            .par_col_partition_mut(np)
            .zip(mat_mut(&mut self.nu, ps, n, ps).par_col_partition_mut(np))
            .zip(mat_mut(&mut self.kap, ps, n, ps).par_col_partition_mut(np))
            .zip(mat(&self.f, ps, n, ps).par_col_partition(np))
            .zip(mat(&self.o2, ps, n, ps).par_col_partition(np))
            .zip(mat(&self.o3, ps, n, ps).par_col_partition(np))
            .zip(bias.par_col_partition(np))
            .zip(parts.par_iter_mut())
            .zip(scratch[..np].par_iter_mut())
            .for_each(
                |((((((((mut m, mut nu), mut kap), f), o2), o3), b), part), sc)| {
                    for j in 0..m.ncols() {
                        let col = Column {
                            field: col_of(f, j),
                            bias: b[(0, j)].as_f64(),
                            o2: col_of(o2, j),
                            o3: col_of(o3, j),
                            m: col_of_mut(&mut m, j),
                            nu: col_of_mut(&mut nu, j),
                            kap: col_of_mut(&mut kap, j),
                        };
                        kernels::update_column(k, rule, col, part, damping, sc);
                    }
                },
            );
        for part in parts.iter() {
            for (x, &y) in res.iter_mut().zip(part) {
                *x = max_nan(*x, y.as_f64());
            }
        }
    }

    /// Recomputes `nu` and `kappa` from `m`; with `bias = Some(b)` first sets `m = s(f + b)`.
    /// Returns `max |nu|` (0 when order < 2).
    pub fn init(&mut self, order: TapOrder, ps: usize, bias: Option<&[T]>) -> f64 {
        let _timer = crate::profile::Timer::new(crate::profile::Section::Elementwise);
        let (k, n) = (order.k(), self.n);
        let np = parts_for(ps * n);
        let set = bias.is_some();
        let zeros;
        let bias = match bias {
            Some(b) => b,
            None => {
                zeros = vec![T::of(0.0); n];
                &zeros
            }
        };
        let bias = mat(bias, 1, n, 1);
        mat_mut(&mut self.m, ps, n, ps)
            .par_col_partition_mut(np)
            .zip(mat_mut(&mut self.nu, ps, n, ps).par_col_partition_mut(np))
            .zip(mat_mut(&mut self.kap, ps, n, ps).par_col_partition_mut(np))
            .zip(mat(&self.f, ps, n, ps).par_col_partition(np))
            .zip(bias.par_col_partition(np))
            .map(|((((mut m, mut nu), mut kap), f), b)| {
                let mut big = 0.0;
                for j in 0..m.ncols() {
                    let x = kernels::init_column(
                        k,
                        col_of(f, j),
                        b[(0, j)].as_f64(),
                        set,
                        col_of_mut(&mut m, j),
                        col_of_mut(&mut nu, j),
                        col_of_mut(&mut kap, j),
                    );
                    big = max_nan(big, x);
                }
                big
            })
            .collect::<Vec<f64>>()
            .into_iter()
            .fold(0.0, max_nan)
    }
}
