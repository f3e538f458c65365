//! Products with sparse visible matrices: binarised data (MNIST is 13 % ones) and sampled
//! Gibbs chains are mostly zeros, and a GEMM spends most of its FLOPs multiplying them.
//!
//! [`SparseRows`] indexes the nonzeros of a dense column-major matrix by row and by column
//! (rebuilt in place: no allocation once it has seen its largest matrix). Two products use it, both vectorised
//! along the hidden units in blocks of [`BLOCK`] and split over rayon by block, so every sum
//! is taken in the same order whatever the number of threads:
//!
//! - [`SparseRows::times_into`]: `dst <- S W`, the hidden fields of sparse rows, from the rows
//!   of `W` ([`DenseRows`]: a row-major, padded copy);
//! - [`SparseRows::transpose_times_into`]: `dst <- alpha S^T H` (or `+=`), the weight gradient
//!   `V^T P`, from the rows of `H` (a [`DenseRows`] too).
//!
//! The sums run over the nonzeros in increasing index order, a different order than a GEMM's:
//! results agree with the dense product to rounding, not bit for bit.

use faer::reborrow::ReborrowMut;
use faer::{Accum, MatMut, MatRef};
use rayon::prelude::*;
use std::sync::Mutex;

use crate::float::Float;
use crate::linalg::transpose::transpose_into;

/// Hidden units per vector block of the sparse products (8 AVX-512 registers of `f64`).
pub const BLOCK: usize = 64;

/// The density at or below which the trainer's products take the sparse path. Measured at
/// MNIST's shapes (`cargo bench --bench sparse`, two runs on 2026-12-07): a CD update's
/// three products with the copy of `W`'s rows cost 0.47-0.55x (f64) and 0.56-0.58x (f32) of
/// their GEMMs at MNIST's 13 % ones, 0.73-0.81x and 0.78-0.82x at 30 %, and break even near
/// 40 % (0.89-0.91x f64, 0.97-1.04x f32).
pub const MAX_DENSITY: f64 = 0.3;

/// The nonzeros of a dense `rows x cols` matrix, by row (columns increasing) and by column
/// (rows increasing).
///
/// ```
/// use emf_rbm::faer::{mat, Accum, Mat};
/// use emf_rbm::linalg::sparse::{DenseRows, SparseRows};
/// let v = mat![[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
/// let w = mat![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
/// let mut s = SparseRows::new();
/// assert!(s.fill_from(v.as_ref(), 0.5));
/// let mut w_rows = DenseRows::new();
/// w_rows.refresh(w.as_ref());
/// let mut field = Mat::<f64>::zeros(2, 2);
/// s.times_into(field.as_mut(), &w_rows);
/// assert_eq!(field, mat![[1.0, 2.0], [5.0, 6.0]]);
/// ```
#[derive(Debug, Default)]
pub struct SparseRows<T: Float> {
    rows: usize,
    cols: usize,
    by_row: Compressed<T>,
    by_col: Compressed<T>,
    /// Where each row's next entry goes while the by-row index is built.
    next: Vec<usize>,
    /// The products' accumulators (one `n_outer x BLOCK` panel per block of hidden units),
    /// kept between calls.
    scratch: Mutex<Vec<T>>,
}

impl<T: Float> Clone for SparseRows<T> {
    fn clone(&self) -> Self {
        SparseRows {
            rows: self.rows,
            cols: self.cols,
            by_row: self.by_row.clone(),
            by_col: self.by_col.clone(),
            next: Vec::new(),
            scratch: Mutex::new(Vec::new()),
        }
    }
}

/// Nonzeros grouped by an outer index (row or column), inner indices increasing, with the
/// boundaries of each inner tile of [`tile`] indices per outer index (`seg[o * (tiles + 1) +
/// t]` is where tile `t` of outer index `o` starts), so a product can keep the tile of the
/// dense operand it reads in L1.
#[derive(Clone, Debug, Default)]
struct Compressed<T> {
    /// Where each outer index's entries start (`n_outer + 1` values).
    start: Vec<usize>,
    seg: Vec<usize>,
    idx: Vec<u32>,
    val: Vec<T>,
    tiles: usize,
    tile: usize,
}

/// Inner indices per tile: `tile x BLOCK` elements of the dense operand fill 32 KiB.
fn tile_len<T>() -> usize {
    32768 / (BLOCK * std::mem::size_of::<T>())
}

impl<T: Float> Compressed<T> {
    /// Tile boundaries for the `n_outer` outer indices whose entries start at `start[o]`,
    /// with `n_inner` inner indices.
    fn segment(&mut self, n_inner: usize) {
        let start = &self.start;
        let n_outer = start.len() - 1;
        self.tile = tile_len::<T>();
        self.tiles = n_inner.div_ceil(self.tile);
        self.seg.clear();
        for o in 0..n_outer {
            let mut pos = start[o];
            for t in 0..self.tiles {
                while pos < start[o + 1] && (self.idx[pos] as usize) < t * self.tile {
                    pos += 1;
                }
                self.seg.push(pos);
            }
            self.seg.push(start[o + 1]);
        }
    }

    /// `acc[o] (=|+=) sum over the entries (o, c, x) of x * m[c]`, where `m[c]` is the slice
    /// `[j0, j0 + BLOCK)` of column `c` of the column-major `m` (columns `stride` apart) and
    /// `acc` holds `BLOCK` values per outer index, tile by tile; `init`: `acc` is overwritten
    /// (its contents are not read).
    fn gather(&self, m: &[T], stride: usize, j0: usize, acc: &mut [T], init: bool) {
        for t in 0..self.tiles {
            let tile = Tile {
                seg: &self.seg[t..],
                seg_stride: self.tiles + 1,
                idx: &self.idx,
                val: &self.val,
                m,
                stride,
                j0,
            };
            gather_tile(&tile, acc, init && t == 0);
        }
    }
}

impl<T: Float> SparseRows<T> {
    /// An empty index (fill it with [`fill_from`](Self::fill_from)).
    pub fn new() -> Self {
        SparseRows {
            rows: 0,
            cols: 0,
            by_row: Compressed::default(),
            by_col: Compressed::default(),
            next: Vec::new(),
            scratch: Mutex::new(Vec::new()),
        }
    }

    /// Indexes the nonzeros of `m` if at most `max_density` of its entries are nonzero and
    /// returns whether it did (otherwise the index is left empty and the caller should use a
    /// GEMM, as for a view that is not column-major). Allocates only when `m` is larger or
    /// has more nonzeros than any matrix indexed before.
    pub fn fill_from(&mut self, m: MatRef<'_, T>, max_density: f64) -> bool {
        let (rows, cols) = (m.nrows(), m.ncols());
        self.rows = 0;
        self.cols = 0;
        if rows == 0 || cols == 0 || m.row_stride() != 1 {
            return false;
        }
        let zero = T::of(0.0);
        // SAFETY: row stride 1, so column j is `rows` contiguous elements from its first.
        let column = |j: usize| unsafe { std::slice::from_raw_parts(m.col(j).as_ptr(), rows) };
        // Pass 1: nonzeros per row (vectorised over the rows of each column).
        let row_start = &mut self.by_row.start;
        row_start.clear();
        row_start.resize(rows + 1, 0);
        for j in 0..cols {
            for (n, &x) in row_start[1..].iter_mut().zip(column(j)) {
                *n += usize::from(x != zero);
            }
        }
        let nnz: usize = row_start.iter().sum();
        if nnz as f64 > max_density * (rows * cols) as f64 {
            return false;
        }
        for r in 0..rows {
            row_start[r + 1] += row_start[r];
        }
        // Pass 2: by column, branch-free (every entry is written, the cursor advances only
        // past nonzeros), then by row with a counting sort (columns stay increasing).
        let by_col = &mut self.by_col;
        by_col.idx.resize(nnz + rows, 0);
        by_col.val.resize(nnz + rows, zero);
        let (idx, val) = (&mut by_col.idx[..], &mut by_col.val[..]);
        let col_start = &mut by_col.start;
        col_start.clear();
        let mut n = 0;
        for j in 0..cols {
            col_start.push(n);
            let (idx, val) = (&mut idx[n..n + rows], &mut val[n..n + rows]);
            let mut k = 0;
            for (r, &x) in column(j).iter().enumerate() {
                // SAFETY: k <= r < rows, the length of both slices.
                unsafe {
                    *idx.get_unchecked_mut(k) = r as u32;
                    *val.get_unchecked_mut(k) = x;
                }
                k += usize::from(x != zero);
            }
            n += k;
        }
        col_start.push(n);
        by_col.idx.truncate(nnz);
        by_col.val.truncate(nnz);
        let by_row = &mut self.by_row;
        by_row.idx.resize(nnz, 0);
        by_row.val.resize(nnz, zero);
        let (ridx, rval) = (&mut by_row.idx[..], &mut by_row.val[..]);
        let next = &mut self.next;
        next.clear();
        next.extend_from_slice(&by_row.start[..rows]);
        for j in 0..cols {
            let (s, e) = (by_col.start[j], by_col.start[j + 1]);
            for (&r, &x) in by_col.idx[s..e].iter().zip(&by_col.val[s..e]) {
                let slot = &mut next[r as usize];
                ridx[*slot] = j as u32;
                rval[*slot] = x;
                *slot += 1;
            }
        }
        by_row.segment(cols);
        by_col.segment(rows);
        self.rows = rows;
        self.cols = cols;
        true
    }

    /// Rows and columns of the indexed matrix (`0 x 0` when not indexed).
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Number of nonzeros indexed (0 when not indexed).
    pub fn nnz(&self) -> usize {
        if self.rows == 0 {
            0
        } else {
            self.by_col.idx.len()
        }
    }

    /// `dst <- S W` from the rows of `W` (`n_visible x n_hidden`); `dst` is
    /// `rows x n_hidden`.
    pub fn times_into(&self, dst: MatMut<'_, T>, w: &DenseRows<T>) {
        assert_eq!(w.rows(), self.cols, "W has one row per column of S");
        assert_eq!((dst.nrows(), dst.ncols()), (self.rows, w.cols()));
        let terms = [(&self.by_row, w)];
        product(&terms, dst, Accum::Replace, T::of(1.0), &self.scratch);
    }

    /// `dst <- alpha S^T H` (`Accum::Replace`) or `dst += alpha S^T H` (`Accum::Add`) from
    /// the rows of `H` (`rows x n_hidden`); `dst` is `cols x n_hidden` (the weight gradient's
    /// shape).
    pub fn transpose_times_into(
        &self,
        dst: MatMut<'_, T>,
        accum: Accum,
        h: &DenseRows<T>,
        alpha: T,
    ) {
        assert_eq!(h.rows(), self.rows, "H has one row per row of S");
        assert_eq!((dst.nrows(), dst.ncols()), (self.cols, h.cols()));
        product(&[(&self.by_col, h)], dst, accum, alpha, &self.scratch);
    }

    /// `dst <- S^T H + S2^T H2`, the two sums added before `dst` is written (once): the
    /// weight gradient of a minibatch and its chains in one pass over `dst`.
    pub fn transpose_times_pair_into(
        &self,
        h: &DenseRows<T>,
        other: &SparseRows<T>,
        other_h: &DenseRows<T>,
        dst: MatMut<'_, T>,
    ) {
        assert_eq!(h.rows(), self.rows, "H has one row per row of S");
        assert_eq!(other_h.rows(), other.rows, "H2 has one row per row of S2");
        assert_eq!(other.cols, self.cols, "S and S2 have the same columns");
        assert_eq!(other_h.cols(), h.cols(), "H and H2 have the same columns");
        assert_eq!((dst.nrows(), dst.ncols()), (self.cols, h.cols()));
        let terms = [(&self.by_col, h), (&other.by_col, other_h)];
        product(&terms, dst, Accum::Replace, T::of(1.0), &self.scratch);
    }
}

/// `dst[o, j] (=|+=) alpha sum over the entries (o, c, x) of x * m[c, j]`, block of
/// [`BLOCK`] columns `j` by block (split over rayon).
/// With several `terms` (entries, dense operand), their sums are added before `dst` is
/// written, once.
fn product<T: Float>(
    terms: &[(&Compressed<T>, &DenseRows<T>)],
    dst: MatMut<'_, T>,
    accum: Accum,
    alpha: T,
    scratch: &Mutex<Vec<T>>,
) {
    let n_outer = dst.nrows();
    let panel = n_outer * BLOCK;
    let add = matches!(accum, Accum::Add);
    let mut acc = scratch
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let need = dst.ncols().div_ceil(BLOCK) * panel;
    if acc.len() < need {
        acc.resize(need, T::of(0.0));
    }
    if panel == 0 {
        return;
    }
    dst.par_col_chunks_mut(BLOCK)
        .zip(acc.par_chunks_mut(panel))
        .enumerate()
        .for_each(|(blk, (mut out, acc))| {
            for (k, (entries, m)) in terms.iter().enumerate() {
                entries.gather(m.storage(), m.ld, blk * BLOCK, acc, k == 0);
            }
            write_block(out.rb_mut(), acc, alpha, add);
        });
}

/// `out[o, t] (=|+=) alpha * acc[o * BLOCK + t]`: the sums, `BLOCK` per outer index,
/// transposed into the column-major result.
fn write_block<T: Float>(out: MatMut<'_, T>, acc: &[T], alpha: T, add: bool) {
    let (n, width) = (out.nrows(), out.ncols());
    if n == 0 {
        return;
    }
    let sums = MatRef::from_column_major_slice_with_stride(
        &acc[..(n - 1) * BLOCK + width],
        width,
        n,
        BLOCK,
    );
    transpose_into(out, sums, alpha, add);
}

/// One tile of a sparse product: the entries `k` in `seg[o * seg_stride] .. seg[o *
/// seg_stride + 1]` of each outer index `o` (inner index `idx[k]`, value `val[k]`), and the
/// dense operand `m`, column-major with columns `stride` apart, from row `j0` on.
struct Tile<'a, T> {
    seg: &'a [usize],
    seg_stride: usize,
    idx: &'a [u32],
    val: &'a [T],
    m: &'a [T],
    stride: usize,
    j0: usize,
}

simd_dispatch! {
    /// For every outer index `o` (one [`BLOCK`] of `acc` each): `acc[o] += sum_k val[k] *
    /// m[idx[k] * stride + j0 ..][..BLOCK]` over the tile's entries `k` of `o`: sums of scaled
    /// column slices of a column-major matrix, vectorised along the slice, the sums kept in
    /// registers; `init`: `acc` is overwritten instead (zero where there are no entries).
    fn gather_tile<T>(tile: &Tile<'_, T>, acc: &mut [T], init: bool) {
        // One pass keeps PASS_BYTES of sums in registers (8 AVX2 registers): the whole
        // block in f32, half of it per pass in f64 (16 registers of sums would spill).
        let width = PASS_BYTES / std::mem::size_of::<T>();
        if width >= BLOCK {
            gather_pass::<T, BLOCK>(tile, acc, 0, init);
        } else {
            for half in [0, BLOCK / 2] {
                gather_pass::<T, { BLOCK / 2 }>(tile, acc, half, init);
            }
        }
    }
}

/// Bytes of sums one pass of [`gather_tile`] keeps in registers.
const PASS_BYTES: usize = 256;

/// [`gather_tile`] on the `WIDTH` slots `[part, part + WIDTH)` of each outer index's block.
#[inline(always)]
fn gather_pass<T: Float, const WIDTH: usize>(
    tile: &Tile<'_, T>,
    acc: &mut [T],
    part: usize,
    init: bool,
) {
    let Tile {
        seg,
        seg_stride,
        idx,
        val,
        m,
        stride,
        j0,
    } = *tile;
    let start = j0 + part;
    for (o, a) in acc.chunks_exact_mut(BLOCK).enumerate() {
        let a: &mut [T; WIDTH] = (&mut a[part..part + WIDTH]).try_into().unwrap();
        let (b, e) = (seg[o * seg_stride], seg[o * seg_stride + 1]);
        if b == e {
            if init {
                a.fill(T::of(0.0));
            }
            continue;
        }
        let mut sum = if init { [T::of(0.0); WIDTH] } else { *a };
        for (&c, &v) in idx[b..e].iter().zip(&val[b..e]) {
            let at = c as usize * stride + start;
            assert!(at + WIDTH <= m.len(), "column slice past the end");
            // SAFETY: checked just above (one check per entry, none among the FMAs).
            let col = unsafe { &*(m.as_ptr().add(at) as *const [T; WIDTH]) };
            for t in 0..WIDTH {
                sum[t] = v.mul_add(col[t], sum[t]);
            }
        }
        *a = sum;
    }
}

/// Elements from which [`DenseRows::set_rows`] splits its copy over rayon.
const PARALLEL_COPY: usize = 1 << 16;

/// Rows per rayon task of a large [`DenseRows::set_rows`] (a multiple of the transpose's
/// tile).
const ROW_GROUP: usize = 64;

/// The rows of a dense `rows x cols` matrix stored contiguously, each zero-padded to a
/// multiple of [`BLOCK`]: the dense operand of the sparse products (`W` for
/// [`SparseRows::times_into`], `H` for [`SparseRows::transpose_times_into`]).
#[derive(Clone, Debug, Default)]
pub struct DenseRows<T> {
    data: Vec<T>,
    /// Elements before the first row, so that rows start on a 64-byte boundary.
    offset: usize,
    ld: usize,
    rows: usize,
    cols: usize,
}

impl<T: Float> DenseRows<T> {
    /// An empty matrix (fill it with [`refresh`](Self::refresh) or
    /// [`resize`](Self::resize) and [`set_rows`](Self::set_rows)).
    pub fn new() -> Self {
        DenseRows {
            data: Vec::new(),
            offset: 0,
            ld: 0,
            rows: 0,
            cols: 0,
        }
    }

    /// Rows of the matrix.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the matrix.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Makes the matrix `rows x cols` (allocating only when it grows; contents unspecified
    /// until [`set_rows`](Self::set_rows)).
    pub fn resize(&mut self, rows: usize, cols: usize) {
        if (rows, cols) != (self.rows, self.cols) {
            // One cache line more than a multiple of BLOCK: rows a power of two of bytes
            // apart would all fall in the same cache sets.
            self.ld = cols.div_ceil(BLOCK) * BLOCK + 64 / std::mem::size_of::<T>();
            let lane = std::mem::size_of::<T>();
            self.data.clear();
            self.data.resize(self.ld * rows + 64 / lane, T::of(0.0));
            let misaligned = (self.data.as_ptr() as usize % 64) / lane;
            self.offset = if misaligned == 0 {
                0
            } else {
                64 / lane - misaligned
            };
            self.rows = rows;
            self.cols = cols;
        }
    }

    /// Rows `r0 .. r0 + src.nrows()` <- `scale * src` (`src` has [`cols`](Self::cols)
    /// columns), a tiled transposed copy ([`transpose_into`]).
    pub fn set_rows(&mut self, r0: usize, src: MatRef<'_, T>, scale: T) {
        assert_eq!(
            src.ncols(),
            self.cols,
            "source has a different number of columns"
        );
        assert!(r0 + src.nrows() <= self.rows, "rows past the end");
        let (ld, n) = (self.ld, src.nrows());
        let start = self.offset + r0 * ld;
        let cols = self.cols;
        if n == 0 {
            return;
        }
        let dst = &mut self.data[start..start + n * ld];
        if n * cols < PARALLEL_COPY {
            // A minibatch's rows: one transpose on this thread.
            let dst = MatMut::from_column_major_slice_with_stride_mut(dst, cols, n, ld);
            transpose_into(dst, src, scale, false);
            return;
        }
        // Groups of rows over rayon (the rows of W).
        dst.par_chunks_mut(ROW_GROUP * ld)
            .enumerate()
            .for_each(|(k, dst)| {
                let rows = dst.len() / ld;
                let dst = MatMut::from_column_major_slice_with_stride_mut(dst, cols, rows, ld);
                transpose_into(dst, src.subrows(k * ROW_GROUP, rows), scale, false);
            });
    }

    /// The rows, `ld` elements apart, starting on a 64-byte boundary.
    fn storage(&self) -> &[T] {
        &self.data[self.offset..]
    }

    /// Resizes to `src`'s shape and copies it.
    pub fn refresh(&mut self, src: MatRef<'_, T>) {
        self.resize(src.nrows(), src.ncols());
        self.set_rows(0, src, T::of(1.0));
    }
}
