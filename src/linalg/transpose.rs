//! Transposed copies between column-major matrices: `dst <- alpha src^T` (or `+=`), in
//! register tiles of [`TILE`] x [`TILE`], each column of `src` read and each column of `dst`
//! written a vector at a time. The sparse products use it twice per update: to lay out the
//! rows of `W` (and of the hidden probabilities) and to write their row-major sums back into
//! column-major results.
//!
//! Every element is `alpha * x` (or `y + alpha * x`), computed once: the result is the same
//! bit for bit as an elementwise loop in any order.

use faer::reborrow::ReborrowMut;
use faer::{MatMut, MatRef};

use crate::float::Float;

/// Rows and columns of the register tiles.
const TILE: usize = 8;

/// `dst <- alpha src^T` (`add == false`) or `dst += alpha src^T`; `src` is
/// `dst.ncols() x dst.nrows()`. Tiled when both have unit row stride (column-major), an
/// elementwise loop otherwise.
///
/// ```
/// use emf_rbm::faer::{mat, Mat};
/// use emf_rbm::linalg::transpose::transpose_into;
/// let src = mat![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// let mut dst = Mat::<f64>::zeros(3, 2);
/// transpose_into(dst.as_mut(), src.as_ref(), 2.0, false);
/// assert_eq!(dst, mat![[2.0, 8.0], [4.0, 10.0], [6.0, 12.0]]);
/// ```
pub fn transpose_into<T: Float>(mut dst: MatMut<'_, T>, src: MatRef<'_, T>, alpha: T, add: bool) {
    let (rows, cols) = (dst.nrows(), dst.ncols());
    assert_eq!(
        (src.nrows(), src.ncols()),
        (cols, rows),
        "src must have dst's shape transposed"
    );
    let tiled = dst.row_stride() == 1 && src.row_stride() == 1;
    let (full_rows, full_cols) = if tiled {
        (rows / TILE * TILE, cols / TILE * TILE)
    } else {
        (0, 0)
    };
    if full_rows > 0 && full_cols > 0 {
        transpose_tiles(
            dst.rb_mut().submatrix_mut(0, 0, full_rows, full_cols),
            src.submatrix(0, 0, full_cols, full_rows),
            alpha,
            add,
        );
    }
    // The rest: the columns past the full tiles, then the rows past them.
    let mut edge = |r: usize, c: usize| {
        let x = alpha * src[(c, r)];
        let y = dst.rb_mut().get_mut(r, c);
        *y = if add { *y + x } else { x };
    };
    for c in full_cols..cols {
        (0..rows).for_each(|r| edge(r, c));
    }
    for c in 0..full_cols {
        (full_rows..rows).for_each(|r| edge(r, c));
    }
}

simd_dispatch! {
    /// [`transpose_into`] on whole tiles: both matrices column-major, shapes multiples of
    /// [`TILE`].
    fn transpose_tiles<T>(dst: MatMut<'_, T>, src: MatRef<'_, T>, alpha: T, add: bool) {
        let (rows, cols) = (dst.nrows(), dst.ncols());
        assert!(dst.row_stride() == 1 && src.row_stride() == 1);
        assert!(rows % TILE == 0 && cols % TILE == 0);
        assert_eq!((src.nrows(), src.ncols()), (cols, rows));
        let (dst_stride, src_stride) = (dst.col_stride(), src.col_stride());
        let (dst, src) = (dst.as_ptr_mut(), src.as_ptr());
        for r0 in (0..rows).step_by(TILE) {
            for c0 in (0..cols).step_by(TILE) {
                let mut tile = [[T::of(0.0); TILE]; TILE];
                for (k, row) in tile.iter_mut().enumerate() {
                    // SAFETY: column r0 + k < rows of src, its rows c0 .. c0 + TILE <= cols,
                    // unit row stride.
                    *row = unsafe {
                        *(src.offset((r0 + k) as isize * src_stride).add(c0) as *const [T; TILE])
                    };
                }
                for c in 0..TILE {
                    // SAFETY: column c0 + c < cols of dst, its rows r0 .. r0 + TILE <= rows,
                    // unit row stride.
                    let col = unsafe {
                        &mut *(dst.offset((c0 + c) as isize * dst_stride).add(r0) as *mut [T; TILE])
                    };
                    for k in 0..TILE {
                        let x = alpha * tile[k][c];
                        col[k] = if add { col[k] + x } else { x };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    fn check<T: Float>(rows: usize, cols: usize, add: bool) {
        let src = Mat::<T>::from_fn(cols, rows, |i, j| T::of((i * 1000 + j) as f64 * 0.25));
        let start = Mat::<T>::from_fn(rows, cols, |i, j| T::of((i + 7 * j) as f64));
        let mut dst = start.clone();
        transpose_into(dst.as_mut(), src.as_ref(), T::of(-0.5), add);
        for i in 0..rows {
            for j in 0..cols {
                let x = T::of(-0.5) * src[(j, i)];
                let want = if add { start[(i, j)] + x } else { x };
                assert_eq!(
                    dst[(i, j)],
                    want,
                    "({i}, {j}) of {rows} x {cols}, add {add}"
                );
            }
        }
    }

    #[test]
    fn every_element_is_the_scaled_transpose_at_every_edge() {
        // Whole tiles, ragged rows, ragged columns, both, fewer than a tile.
        for (rows, cols) in [(16, 24), (19, 24), (16, 29), (21, 13), (3, 5), (8, 1)] {
            for add in [false, true] {
                check::<f64>(rows, cols, add);
                check::<f32>(rows, cols, add);
            }
        }
    }

    #[test]
    fn views_with_other_strides_take_the_elementwise_path() {
        let src = Mat::<f64>::from_fn(12, 10, |i, j| (i * 12 + j) as f64);
        let mut dst = Mat::<f64>::zeros(12, 10);
        // dst^T is row-major: the tiles do not apply.
        transpose_into(dst.as_mut().transpose_mut(), src.as_ref(), 1.0, false);
        assert_eq!(dst, src);
    }
}
