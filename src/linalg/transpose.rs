//! Transposed copies between column-major matrices: `dst <- alpha src^T` (or `+=`), in
//! register tiles of 8 x 8, each column of `src` read and each column of `dst` written a
//! vector at a time (by AVX2 shuffles where the CPU has them, else a portable tile loop).
//! The sparse products use it twice per update: to lay out the rows of `W` (and of the
//! hidden probabilities) and to write their row-major sums back into column-major results.
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
        let mut dst = dst.rb_mut().submatrix_mut(0, 0, full_rows, full_cols);
        let src = src.submatrix(0, 0, full_cols, full_rows);
        if !shuffled::tiles(dst.rb_mut(), src, alpha, add) {
            transpose_tiles(dst, src, alpha, add);
        }
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

/// The tiles through AVX2 shuffles (8 x 8 `f32`, 4 x 4 `f64`): the compiler turns the
/// portable tile loop into scalar moves.
mod shuffled {
    use faer::{MatMut, MatRef};

    use crate::float::Float;

    /// [`super::transpose_tiles`] by shuffles when the CPU has AVX2; `false` (nothing done)
    /// otherwise. Same preconditions; the same bits (one multiply, one add per element).
    pub(super) fn tiles<T: Float>(
        dst: MatMut<'_, T>,
        src: MatRef<'_, T>,
        alpha: T,
        add: bool,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if crate::linalg::simd::has_avx2_fma() {
            let (rows, cols) = (dst.nrows(), dst.ncols());
            assert!(dst.row_stride() == 1 && src.row_stride() == 1);
            assert!(rows % super::TILE == 0 && cols % super::TILE == 0);
            assert_eq!((src.nrows(), src.ncols()), (cols, rows));
            let plan = x86::Plan {
                d: dst.as_ptr_mut(),
                ds: dst.col_stride(),
                s: src.as_ptr(),
                ss: src.col_stride(),
                rows,
                cols,
                add,
            };
            // SAFETY: AVX2 checked; the shapes and unit row strides are checked above, and
            // T is f32 or f64 by its size (the only two Float types).
            unsafe {
                match std::mem::size_of::<T>() {
                    4 => x86::tiles_f32(&plan.cast(), alpha.as_f64() as f32),
                    8 => x86::tiles_f64(&plan.cast(), alpha.as_f64()),
                    _ => return false,
                }
            }
            return true;
        }
        false
    }

    #[cfg(target_arch = "x86_64")]
    mod x86 {
        use std::arch::x86_64::*;

        /// `dst[c, r] (=|+=) alpha * src[r, c]` over `rows x cols` of `dst` (multiples of 8),
        /// both column-major: `dst` at `d` with column stride `ds`, `src` at `s` with `ss`.
        pub(super) struct Plan<T> {
            pub d: *mut T,
            pub ds: isize,
            pub s: *const T,
            pub ss: isize,
            pub rows: usize,
            pub cols: usize,
            pub add: bool,
        }

        impl<T> Plan<T> {
            /// The same plan over the same memory as elements of type `U`.
            pub fn cast<U>(&self) -> Plan<U> {
                Plan {
                    d: self.d as *mut U,
                    ds: self.ds,
                    s: self.s as *const U,
                    ss: self.ss,
                    rows: self.rows,
                    cols: self.cols,
                    add: self.add,
                }
            }

            /// Where row `row` of source column `col` is (inside the plan's shape).
            unsafe fn src(&self, col: usize, row: usize) -> *const T {
                self.s.offset(col as isize * self.ss).add(row)
            }

            /// Where row `row` of destination column `col` is (inside the plan's shape).
            unsafe fn dst(&self, col: usize, row: usize) -> *mut T {
                self.d.offset(col as isize * self.ds).add(row)
            }
        }

        /// The [`Plan`] in 8 x 8 tiles of `f32`.
        #[target_feature(enable = "avx2,fma")]
        pub(super) unsafe fn tiles_f32(plan: &Plan<f32>, alpha: f32) {
            let a = _mm256_set1_ps(alpha);
            for r0 in (0..plan.rows).step_by(8) {
                for c0 in (0..plan.cols).step_by(8) {
                    // r[k]: rows c0 .. c0 + 8 of source column r0 + k.
                    let r: [__m256; 8] =
                        std::array::from_fn(|k| _mm256_loadu_ps(plan.src(r0 + k, c0)));
                    let t: [__m256; 8] = std::array::from_fn(|k| {
                        let (x, y) = (r[k / 2 * 2], r[k / 2 * 2 + 1]);
                        if k % 2 == 0 {
                            _mm256_unpacklo_ps(x, y)
                        } else {
                            _mm256_unpackhi_ps(x, y)
                        }
                    });
                    let q = |x: __m256, y: __m256, hi: bool| {
                        if hi {
                            _mm256_shuffle_ps::<0xEE>(x, y)
                        } else {
                            _mm256_shuffle_ps::<0x44>(x, y)
                        }
                    };
                    // u[j]: element j of rows 0-3 (low half) and j + 4 (high half); u[4 + j]: rows 4-7.
                    let u = [
                        q(t[0], t[2], false),
                        q(t[0], t[2], true),
                        q(t[1], t[3], false),
                        q(t[1], t[3], true),
                        q(t[4], t[6], false),
                        q(t[4], t[6], true),
                        q(t[5], t[7], false),
                        q(t[5], t[7], true),
                    ];
                    for c in 0..8 {
                        let v = if c < 4 {
                            _mm256_permute2f128_ps::<0x20>(u[c], u[c + 4])
                        } else {
                            _mm256_permute2f128_ps::<0x31>(u[c - 4], u[c])
                        };
                        let p = plan.dst(c0 + c, r0);
                        let v = _mm256_mul_ps(a, v);
                        _mm256_storeu_ps(
                            p,
                            if plan.add {
                                _mm256_add_ps(_mm256_loadu_ps(p), v)
                            } else {
                                v
                            },
                        );
                    }
                }
            }
        }

        /// The [`Plan`] in 4 x 4 tiles of `f64`.
        #[target_feature(enable = "avx2,fma")]
        pub(super) unsafe fn tiles_f64(plan: &Plan<f64>, alpha: f64) {
            let a = _mm256_set1_pd(alpha);
            for r0 in (0..plan.rows).step_by(4) {
                for c0 in (0..plan.cols).step_by(4) {
                    let r: [__m256d; 4] =
                        std::array::from_fn(|k| _mm256_loadu_pd(plan.src(r0 + k, c0)));
                    let t = [
                        _mm256_unpacklo_pd(r[0], r[1]),
                        _mm256_unpackhi_pd(r[0], r[1]),
                        _mm256_unpacklo_pd(r[2], r[3]),
                        _mm256_unpackhi_pd(r[2], r[3]),
                    ];
                    for c in 0..4 {
                        let (x, y) = (t[c % 2], t[c % 2 + 2]);
                        let v = if c < 2 {
                            _mm256_permute2f128_pd::<0x20>(x, y)
                        } else {
                            _mm256_permute2f128_pd::<0x31>(x, y)
                        };
                        let p = plan.dst(c0 + c, r0);
                        let v = _mm256_mul_pd(a, v);
                        _mm256_storeu_pd(
                            p,
                            if plan.add {
                                _mm256_add_pd(_mm256_loadu_pd(p), v)
                            } else {
                                v
                            },
                        );
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

    /// Both tile kernels, the portable one and the shuffles (where the CPU has them), on
    /// whole tiles of a larger matrix (column strides past the tile).
    #[test]
    fn both_tile_kernels_give_the_scaled_transpose() {
        fn run<T: Float>() {
            let src = Mat::<T>::from_fn(37, 29, |i, j| T::of((i * 100 + j) as f64 * 0.5));
            let start = Mat::<T>::from_fn(29, 37, |i, j| T::of((3 * i + j) as f64));
            for add in [false, true] {
                let want = Mat::<T>::from_fn(16, 24, |i, j| {
                    let x = T::of(1.5) * src[(j, i)];
                    if add {
                        start[(i, j)] + x
                    } else {
                        x
                    }
                });
                let mut portable = start.clone();
                let mut shuffled = start.clone();
                fn tiles<T: Float>(m: &mut Mat<T>) -> MatMut<'_, T> {
                    m.as_mut().submatrix_mut(0, 0, 16, 24)
                }
                let part = src.as_ref().submatrix(0, 0, 24, 16);
                transpose_tiles(tiles(&mut portable), part, T::of(1.5), add);
                let has = super::shuffled::tiles(tiles(&mut shuffled), part, T::of(1.5), add);
                assert_eq!(portable.as_ref().submatrix(0, 0, 16, 24), want.as_ref());
                if has {
                    assert_eq!(shuffled, portable, "{} add {add}", T::NAME);
                }
                // Outside the tiles, nothing moved.
                assert_eq!(
                    portable.as_ref().submatrix(16, 0, 13, 37),
                    start.as_ref().submatrix(16, 0, 13, 37)
                );
            }
        }
        run::<f32>();
        run::<f64>();
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
