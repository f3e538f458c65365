//! Image mosaics: learned filters, samples, receptive fields.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{save_dyn, svg_string, Figure};
use crate::error::{Error, Result};
use std::path::Path;

/// A grid of grey-scale or diverging-colour images (filters, samples).
#[derive(Clone, Debug)]
pub struct Mosaic {
    /// Title.
    pub title: String,
    /// Tiles, each `rows * cols` values in row-major order.
    pub tiles: Vec<Vec<f64>>,
    /// Shape of one tile (rows, cols).
    pub tile_shape: (usize, usize),
    /// Tiles per row of the mosaic.
    pub columns: usize,
    /// `true`: blue (negative) - white - red (positive), each tile scaled by its max |value|;
    /// `false`: grey scale from 0 (white) to 1 (black).
    pub diverging: bool,
    /// Pixels per tile pixel.
    pub scale: u32,
}

impl Mosaic {
    /// Learned filters: tile `j` is column `j` of `w` (`n_visible x n_hidden`), up to `max`.
    pub fn filters<T: crate::Float>(
        w: faer::MatRef<'_, T>,
        tile_shape: (usize, usize),
        max: usize,
    ) -> Result<Self> {
        if tile_shape.0 * tile_shape.1 != w.nrows() {
            return Err(Error::Shape(format!(
                "tile shape {}x{} does not hold {} visible units",
                tile_shape.0,
                tile_shape.1,
                w.nrows()
            )));
        }
        let n = w.ncols().min(max);
        let tiles = (0..n)
            .map(|j| (0..w.nrows()).map(|i| w[(i, j)].as_f64()).collect())
            .collect();
        Ok(Mosaic {
            title: format!("filters (first {n} hidden units)"),
            tiles,
            tile_shape,
            columns: (n as f64).sqrt().ceil().max(1.0) as usize,
            diverging: true,
            scale: scale_for(tile_shape),
        })
    }

    /// Images with values in [0, 1] (rows of a batch).
    pub fn images<T: crate::Float>(
        v: faer::MatRef<'_, T>,
        tile_shape: (usize, usize),
        title: &str,
    ) -> Result<Self> {
        if tile_shape.0 * tile_shape.1 != v.ncols() {
            return Err(Error::Shape(format!(
                "tile shape {}x{} does not hold {} values",
                tile_shape.0,
                tile_shape.1,
                v.ncols()
            )));
        }
        let tiles: Vec<Vec<f64>> = (0..v.nrows())
            .map(|r| (0..v.ncols()).map(|i| v[(r, i)].as_f64()).collect())
            .collect();
        Ok(Mosaic {
            title: title.into(),
            columns: (tiles.len() as f64).sqrt().ceil().max(1.0) as usize,
            tiles,
            tile_shape,
            diverging: false,
            scale: scale_for(tile_shape),
        })
    }

    /// The pixel size of the mosaic [`Mosaic::images`] makes of `n` tiles of `tile_shape`
    /// (to check an output before computing its tiles, with [`check_png`](super::check_png)).
    pub fn planned_size(n: usize, tile_shape: (usize, usize)) -> (u32, u32) {
        Mosaic {
            title: String::new(),
            tiles: Vec::new(),
            tile_shape,
            columns: (n as f64).sqrt().ceil().max(1.0) as usize,
            diverging: false,
            scale: scale_for(tile_shape),
        }
        .size_for(n)
    }

    fn size(&self) -> (u32, u32) {
        self.size_for(self.tiles.len())
    }

    fn size_for(&self, n_tiles: usize) -> (u32, u32) {
        let (tr, tc) = self.tile_shape;
        let cols = self.columns.max(1);
        let rows = n_tiles.div_ceil(cols).max(1);
        let side = |n: usize, t: usize, extra: u64| {
            let px = (n as u64)
                .saturating_mul(t as u64 + 1)
                .saturating_add(1)
                .saturating_mul(u64::from(self.scale))
                .saturating_add(extra);
            u32::try_from(px).unwrap_or(u32::MAX)
        };
        (side(cols, tc, 0).max(200), side(rows, tr, 30))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let e = super::drawing_error::<DB::ErrorType>;
        if self.columns == 0 {
            return Err(Error::param(
                "columns",
                "a mosaic needs at least one column",
            ));
        }
        root.fill(&RGBColor(200, 200, 200)).map_err(e)?;
        let root = root.titled(&self.title, ("sans-serif", 16)).map_err(e)?;
        let (tr, tc) = self.tile_shape;
        let s = self.scale as i32;
        let cols = self.columns;
        for (k, tile) in self.tiles.iter().enumerate() {
            let (gr, gc) = (k / cols, k % cols);
            let x0 = (gc * (tc + 1) + 1) as i32 * s;
            let y0 = (gr * (tr + 1) + 1) as i32 * s;
            let m = tile.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
            for r in 0..tr {
                for c in 0..tc {
                    let v = tile[r * tc + c];
                    let color = if self.diverging {
                        let t = (v / m).clamp(-1.0, 1.0);
                        if t >= 0.0 {
                            let g = (255.0 * (1.0 - t)) as u8;
                            RGBColor(255, g, g)
                        } else {
                            let g = (255.0 * (1.0 + t)) as u8;
                            RGBColor(g, g, 255)
                        }
                    } else {
                        let g = (255.0 * (1.0 - v.clamp(0.0, 1.0))) as u8;
                        RGBColor(g, g, g)
                    };
                    let (x, y) = (x0 + c as i32 * s, y0 + r as i32 * s);
                    root.draw(&Rectangle::new([(x, y), (x + s, y + s)], color.filled()))
                        .map_err(e)?;
                }
            }
        }
        Ok(())
    }

    /// Saves as PNG or SVG (by extension).
    pub fn save(&self, path: &Path) -> Result<()> {
        save_dyn(path, self.size(), |r| self.draw(r), |r| self.draw(r))
    }

    /// Renders to an inline SVG [`Figure`].
    pub fn to_svg(&self) -> Result<Figure> {
        svg_string(self.size(), |r| self.draw(r))
    }
}

fn scale_for((r, c): (usize, usize)) -> u32 {
    let m = r.max(c).max(1);
    (96 / m).clamp(2, 12) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mosaic with zero columns is an error naming the setting, not a silent one column.
    #[test]
    fn zero_columns_is_refused() {
        let w = faer::Mat::<f64>::from_fn(4, 3, |i, j| (i + j) as f64);
        let mut m = Mosaic::filters(w.as_ref(), (2, 2), 3).unwrap();
        assert!(m.to_svg().is_ok());
        m.columns = 0;
        let err = m.to_svg().unwrap_err().to_string();
        assert!(err.contains("columns"), "{err}");
    }
}
