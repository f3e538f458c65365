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
    /// Diverging tiles share one scale (the largest |value| of all tiles), shown by a colour
    /// bar; otherwise each tile is scaled by its own largest |value|. Grey tiles always share
    /// `[0, 1]` and show that bar.
    pub shared_scale: bool,
    /// One caption per tile (a temperature, a unit index, a free energy), drawn under it;
    /// empty: none.
    pub captions: Vec<String>,
    /// Pixels outlined in black: `(tile, row, col)` (the reference pixel of a receptive field).
    pub marks: Vec<(usize, usize, usize)>,
}

/// Height in pixels of a caption line under a tile row, and width of the colour bar's column.
const CAPTION_PX: u32 = 16;
const BAR_PX: u32 = 90;

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
            shared_scale: false,
            captions: Vec::new(),
            marks: Vec::new(),
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
            shared_scale: false,
            captions: Vec::new(),
            marks: Vec::new(),
        })
    }

    /// Puts every diverging tile on one scale, shown by a colour bar.
    pub fn with_shared_scale(mut self) -> Self {
        self.shared_scale = true;
        self
    }

    /// One caption per tile, drawn under it.
    pub fn with_captions(mut self, captions: Vec<String>) -> Self {
        self.captions = captions;
        self
    }

    /// Outlines pixel `(row, col)` of tile `tile` in black.
    pub fn with_mark(mut self, tile: usize, row: usize, col: usize) -> Self {
        self.marks.push((tile, row, col));
        self
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
            shared_scale: false,
            captions: Vec::new(),
            marks: Vec::new(),
        }
        .size_for(n)
    }

    fn size(&self) -> (u32, u32) {
        self.size_for(self.tiles.len())
    }

    /// Height of one tile row in pixels (the tile, its gap, its caption line).
    fn row_px(&self) -> u32 {
        let cap = if self.captions.is_empty() {
            0
        } else {
            CAPTION_PX
        };
        (self.tile_shape.0 as u32 + 1) * self.scale + cap
    }

    /// Whether a colour bar is drawn (grey tiles, or diverging tiles on one scale).
    fn has_bar(&self) -> bool {
        !self.diverging || self.shared_scale
    }

    fn size_for(&self, n_tiles: usize) -> (u32, u32) {
        let tc = self.tile_shape.1 as u64;
        let cols = self.columns.max(1) as u64;
        let rows = n_tiles.div_ceil(self.columns.max(1)).max(1) as u64;
        let bar = if self.has_bar() { BAR_PX } else { 0 };
        let width = (cols * (tc + 1) + 1) * u64::from(self.scale) + u64::from(bar);
        let height = rows * u64::from(self.row_px()) + u64::from(self.scale) + 30;
        let px = |x: u64| u32::try_from(x).unwrap_or(u32::MAX);
        (px(width).max(200), px(height))
    }

    /// The checks a mosaic must pass before drawing.
    fn check(&self) -> Result<()> {
        if self.columns == 0 {
            return Err(Error::param(
                "columns",
                "a mosaic needs at least one column",
            ));
        }
        if !self.captions.is_empty() && self.captions.len() != self.tiles.len() {
            return Err(Error::param(
                "captions",
                format!(
                    "{} captions for {} tiles",
                    self.captions.len(),
                    self.tiles.len()
                ),
            ));
        }
        let (tr, tc) = self.tile_shape;
        if let Some(m) =
            (self.marks.iter()).find(|m| m.0 >= self.tiles.len() || m.1 >= tr || m.2 >= tc)
        {
            return Err(Error::param(
                "marks",
                format!("mark {m:?} outside {} tiles of {tr}x{tc}", self.tiles.len()),
            ));
        }
        Ok(())
    }

    /// The colour of value `v` in a tile whose diverging scale is `m`.
    fn color(&self, v: f64, m: f64) -> RGBColor {
        if self.diverging {
            let t = (v / m).clamp(-1.0, 1.0);
            let g = (255.0 * (1.0 - t.abs())) as u8;
            if t >= 0.0 {
                RGBColor(255, g, g)
            } else {
                RGBColor(g, g, 255)
            }
        } else {
            let g = (255.0 * (1.0 - v.clamp(0.0, 1.0))) as u8;
            RGBColor(g, g, g)
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let e = super::drawing_error::<DB::ErrorType>;
        self.check()?;
        root.fill(&RGBColor(200, 200, 200)).map_err(e)?;
        let root = root.titled(&self.title, ("sans-serif", 16)).map_err(e)?;
        let (tr, tc) = self.tile_shape;
        let (s, cols, row_px) = (self.scale as i32, self.columns, self.row_px() as i32);
        let abs_max = |t: &[f64]| t.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
        let shared = self.tiles.iter().map(|t| abs_max(t)).fold(1e-12, f64::max);
        let origin = |k: usize| {
            let (gr, gc) = (k / cols, k % cols);
            ((gc * (tc + 1) + 1) as i32 * s, gr as i32 * row_px + s)
        };
        for (k, tile) in self.tiles.iter().enumerate() {
            let (x0, y0) = origin(k);
            let m = if self.shared_scale {
                shared
            } else {
                abs_max(tile)
            };
            for r in 0..tr {
                for c in 0..tc {
                    let (x, y) = (x0 + c as i32 * s, y0 + r as i32 * s);
                    let color = self.color(tile[r * tc + c], m).filled();
                    root.draw(&Rectangle::new([(x, y), (x + s, y + s)], color))
                        .map_err(e)?;
                }
            }
            if let Some(text) = self.captions.get(k) {
                let at = (x0, y0 + tr as i32 * s + 2);
                root.draw(&Text::new(text.clone(), at, ("sans-serif", 12)))
                    .map_err(e)?;
            }
        }
        for &(k, r, c) in &self.marks {
            let (x0, y0) = origin(k);
            let (x, y) = (x0 + c as i32 * s, y0 + r as i32 * s);
            root.draw(&Rectangle::new(
                [(x, y), (x + s, y + s)],
                BLACK.stroke_width(2),
            ))
            .map_err(e)?;
        }
        if self.has_bar() {
            let lo = if self.diverging { -shared } else { 0.0 };
            let hi = if self.diverging { shared } else { 1.0 };
            let x = ((cols * (tc + 1) + 1) as i32) * s + 10;
            self.draw_bar(&root, (x, s), (lo, hi, shared)).map_err(e)?;
        }
        Ok(())
    }

    /// The colour bar at `(x, y)`: `lo` at the bottom, `hi` at the top, labelled.
    fn draw_bar<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        (x, y): (i32, i32),
        (lo, hi, m): (f64, f64, f64),
    ) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let h = (root.dim_in_pixel().1 as i32 - y - 10).clamp(40, 240);
        for p in 0..h {
            let v = hi - (hi - lo) * f64::from(p) / f64::from(h - 1);
            let color = self.color(v, m).filled();
            root.draw(&Rectangle::new([(x, y + p), (x + 16, y + p + 1)], color))?;
        }
        let font = ("sans-serif", 12);
        root.draw(&Text::new(format!("{hi:.3}"), (x + 20, y), font))?;
        root.draw(&Text::new(format!("{lo:.3}"), (x + 20, y + h - 12), font))?;
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

    /// One scale for all tiles: a value half the largest is drawn at half intensity in every
    /// tile, and the colour bar shows the scale; per-tile scaling has no bar.
    #[test]
    fn shared_scale_colours_and_colour_bar() {
        let w = faer::Mat::<f64>::from_fn(1, 2, |_, j| (j + 1) as f64); // tiles: 1, 2
        let own = Mosaic::filters(w.as_ref(), (1, 1), 2).unwrap();
        let svg = own.to_svg().unwrap().svg.to_ascii_uppercase();
        assert!(svg.contains("#FF0000") && !svg.contains("#FF7F7F"), "{svg}");
        assert!(!svg.contains("2.000"), "no bar for per-tile scales");
        let shared = own.with_shared_scale();
        let svg = shared.to_svg().unwrap().svg.to_ascii_uppercase();
        assert!(
            svg.contains("#FF7F7F"),
            "tile 1 at half of the shared scale 2"
        );
        assert!(
            svg.contains("\n2.000\n") && svg.contains("\n-2.000\n"),
            "{svg}"
        );
    }

    /// Captions are drawn under their tiles and must match the tile count; marks must lie
    /// inside a tile and are outlined.
    #[test]
    fn captions_and_marks() {
        let v = faer::Mat::<f64>::from_fn(2, 4, |r, i| ((r + i) % 2) as f64);
        let m = Mosaic::images(v.as_ref(), (2, 2), "t").unwrap();
        let plain = m.to_svg().unwrap().svg;
        let m = m
            .with_captions(vec!["T = 2.27".into(), "unit 7".into()])
            .with_mark(1, 1, 0);
        let svg = m.to_svg().unwrap().svg;
        assert!(svg.contains("T = 2.27") && svg.contains("unit 7"));
        let outlined = |svg: &str| svg.matches("stroke=\"#000000\"").count();
        assert_eq!(outlined(&svg), outlined(&plain) + 1, "{svg}");
        let bad = m.clone().with_captions(vec!["one".into()]);
        assert!(bad
            .to_svg()
            .unwrap_err()
            .to_string()
            .contains("1 captions for 2 tiles"));
        let bad = m.with_mark(0, 2, 0);
        assert!(bad.to_svg().unwrap_err().to_string().contains("outside"));
    }
}
