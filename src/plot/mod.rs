//! Figures with plotters: line charts (metrics against epoch or time), image mosaics (learned
//! filters, samples). Each figure saves as PNG or SVG (chosen by the file extension) and
//! displays inline in evcxr notebooks through [`Figure`].

pub mod couplings;

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};

/// Registers the bundled DejaVu Sans font (Bitstream Vera licence, see `assets/`) for the
/// bitmap backend. Called by every PNG-producing function; idempotent.
pub fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/DejaVuSans.ttf");
        for family in ["sans-serif", "serif", "monospace"] {
            let _ = plotters::style::register_font(family, FontStyle::Normal, bytes);
            let _ = plotters::style::register_font(family, FontStyle::Bold, bytes);
        }
    });
}

/// An SVG figure that evcxr notebooks display inline (it implements `evcxr_display`).
#[derive(Clone, Debug)]
pub struct Figure {
    /// The SVG document.
    pub svg: String,
}

impl Figure {
    /// Reads an SVG file written earlier (for example a study's saved figure), to show it in a
    /// notebook. Refuses a file that is not an SVG document.
    ///
    /// ```
    /// use emf_rbm::plot::{Figure, LineChart};
    /// let path = std::env::temp_dir().join(format!("emf-rbm-doc-figure-{}.svg", std::process::id()));
    /// LineChart::new("LL", "epoch", "nats").series("cd1", vec![(1.0, -3.0), (2.0, -2.0)]).save(&path)?;
    /// let shown = Figure::from_svg_file(&path)?;
    /// assert!(shown.svg.contains("cd1"));
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), emf_rbm::Error>(())
    /// ```
    pub fn from_svg_file(path: &Path) -> Result<Figure> {
        let svg = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        if !svg.contains("<svg") {
            return Err(plot_err(path, "not an SVG document (no <svg element)"));
        }
        Ok(Figure { svg })
    }

    /// Called by evcxr to show the figure in a notebook cell.
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT image/svg+xml\n{}\nEVCXR_END_CONTENT",
            self.svg
        );
    }
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Plot {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// One named line of a [`LineChart`].
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// `(x, y)` points, in order.
    pub points: Vec<(f64, f64)>,
}

/// A shaded interval per x (an estimate's interval, a spread over seeds), drawn under the
/// [`Series`] of the same name in its colour.
#[derive(Clone, Debug)]
pub struct Band {
    /// Name of the series it belongs to (its colour); a band without a series gets its own.
    pub name: String,
    /// `(x, low, high)` points, in order of x.
    pub points: Vec<(f64, f64, f64)>,
}

/// A line chart: several series against a common x axis, with optional shaded bands.
///
/// ```
/// use emf_rbm::plot::{LineChart, Series};
/// let chart = LineChart::new("LL", "epoch", "nats")
///     .series("cd1", vec![(1.0, -30.0), (2.0, -25.0)])
///     .band("cd1", vec![(1.0, -31.0, -29.0), (2.0, -26.0, -24.5)]);
/// assert!(chart.to_svg().unwrap().svg.contains("<svg"));
/// ```
#[derive(Clone, Debug)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// The shaded intervals.
    pub bands: Vec<Band>,
    /// Pixel size.
    pub size: (u32, u32),
}

impl LineChart {
    /// An empty chart.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        LineChart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            bands: Vec::new(),
            size: (800, 500),
        }
    }

    /// Adds a series (non-finite points are dropped).
    pub fn series(mut self, name: &str, points: Vec<(f64, f64)>) -> Self {
        let points = points
            .into_iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        self.series.push(Series {
            name: name.into(),
            points,
        });
        self
    }

    /// Adds a shaded band of `(x, low, high)` points under the series `name` (points with a
    /// non-finite coordinate are dropped).
    pub fn band(mut self, name: &str, points: Vec<(f64, f64, f64)>) -> Self {
        let points = points
            .into_iter()
            .filter(|(x, lo, hi)| x.is_finite() && lo.is_finite() && hi.is_finite())
            .collect();
        self.bands.push(Band {
            name: name.into(),
            points,
        });
        self
    }

    /// The colour index of the series or band called `name`: the series' position, or after
    /// all the series for a band of its own.
    fn color_index(&self, name: &str) -> usize {
        let own = self.series.iter().position(|s| s.name == name);
        own.unwrap_or_else(|| {
            let k = self.bands.iter().position(|b| b.name == name).unwrap_or(0);
            self.series.len() + k
        })
    }

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let pts = self.series.iter().flat_map(|s| s.points.iter().copied());
        let band_pts = self
            .bands
            .iter()
            .flat_map(|b| b.points.iter().flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)]));
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y) in pts.chain(band_pts) {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            return ((0.0, 1.0), (0.0, 1.0));
        }
        let pad = |a: f64, b: f64| {
            let d = if b > a {
                (b - a) * 0.05
            } else {
                a.abs().max(1.0) * 0.05
            };
            (a - d, b + d)
        };
        let x = if x1 > x0 { (x0, x1) } else { pad(x0, x1) };
        (x, pad(y0, y1))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| Error::Plot {
            path: "<figure>".into(),
            message: e.to_string(),
        };
        root.fill(&WHITE).map_err(e)?;
        let ((x0, x1), (y0, y1)) = self.ranges();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .draw()
            .map_err(e)?;
        for b in &self.bands {
            let color = Palette99::pick(self.color_index(&b.name)).to_rgba();
            let outline: Vec<(f64, f64)> = (b.points.iter().map(|&(x, _, hi)| (x, hi)))
                .chain(b.points.iter().rev().map(|&(x, lo, _)| (x, lo)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    color.mix(0.18).filled(),
                )))
                .map_err(e)?;
        }
        for (k, s) in self.series.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(e)?
                .label(&s.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(e)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(e)?;
        Ok(())
    }

    /// Saves as PNG or SVG (by extension).
    pub fn save(&self, path: &Path) -> Result<()> {
        save_dyn(path, self.size, |r| self.draw(r), |r| self.draw(r))
    }

    /// Renders to an inline SVG [`Figure`] (for notebooks).
    pub fn to_svg(&self) -> Result<Figure> {
        svg_string(self.size, |r| self.draw(r))
    }
}

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
    /// (to check an output before computing its tiles, with [`check_png`]).
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
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| Error::Plot {
            path: "<figure>".into(),
            message: e.to_string(),
        };
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

/// Saves through either backend, chosen by the file extension. The figure is rendered in
/// memory (an RGB buffer encoded as PNG, or an SVG string) and written through the atomic
/// writer ([`crate::output::write_atomic`]): an old file is replaced whole or not at all.
pub fn save_dyn(
    path: &Path,
    size: (u32, u32),
    png: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()>,
    svg: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let fix = |r: Result<()>| {
        r.map_err(|e| match e {
            Error::Plot { message, .. } => plot_err(path, message),
            other => other,
        })
    };
    let bytes = match ext.as_str() {
        "svg" => {
            ensure_font();
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
                fix(svg(&root))?;
                root.present().map_err(|e| plot_err(path, e))?;
            }
            text.into_bytes()
        }
        "png" => {
            check_png(path, size)?;
            ensure_font();
            let mut rgb = vec![0u8; 3 * size.0 as usize * size.1 as usize];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
                fix(png(&root))?;
                root.present().map_err(|e| plot_err(path, e))?;
            }
            encode_png(path, &rgb, size)?
        }
        other => {
            return Err(Error::param(
                "path",
                format!(
                    "`{}`: expected a .png or .svg file name, found extension `{other}`",
                    path.display()
                ),
            ))
        }
    };
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
    }
    crate::output::write_atomic(path, &bytes)
}

/// PNG bytes of an RGB buffer of `size` pixels.
fn encode_png(path: &Path, rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(rgb, w, h, image::ColorType::Rgb8)
        .map_err(|e| plot_err(path, e))?;
    Ok(out)
}

/// Largest side of a PNG, in pixels.
pub const MAX_PNG_SIDE: u32 = 32_768;

/// Refuses a PNG larger than [`MAX_PNG_SIDE`] per side or than the memory cap (3 bytes a
/// pixel), before the backend allocates it.
pub fn check_png(path: &Path, (w, h): (u32, u32)) -> Result<()> {
    if w > MAX_PNG_SIDE || h > MAX_PNG_SIDE {
        return Err(plot_err(
            path,
            format!(
                "a {w} x {h} pixel image is too large (at most {MAX_PNG_SIDE} pixels a side): \
                 draw fewer or smaller tiles"
            ),
        ));
    }
    crate::memory::check(
        format!("the {w} x {h} pixel image {}", path.display()),
        3 * u128::from(w) * u128::from(h),
    )
}

/// Renders into an in-memory SVG.
pub fn svg_string(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<Figure> {
    ensure_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(&root)?;
        root.present()
            .map_err(|e| plot_err(Path::new("<svg>"), e))?;
    }
    Ok(Figure { svg })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A saved chart reads back as the same SVG; a PNG, a text file or a missing file is an error
    /// naming it.
    #[test]
    fn svg_files_read_back_and_other_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("emf-rbm-figure-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let chart = LineChart::new("t", "x", "y").series("a", vec![(0.0, 1.0), (1.0, 2.0)]);
        let (svg, png) = (dir.join("c.svg"), dir.join("c.png"));
        chart.save(&svg).unwrap();
        chart.save(&png).unwrap();
        assert_eq!(
            Figure::from_svg_file(&svg).unwrap().svg,
            chart.to_svg().unwrap().svg
        );
        let err = Figure::from_svg_file(&png).unwrap_err().to_string();
        assert!(err.contains("c.png"), "{err}");
        let text = dir.join("c.txt");
        std::fs::write(&text, "a text file").unwrap();
        let err = Figure::from_svg_file(&text).unwrap_err().to_string();
        assert!(err.contains("c.txt") && err.contains("not an SVG"), "{err}");
        let err = Figure::from_svg_file(&dir.join("none.svg"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("none.svg"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

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

    /// A band widens the axes to its interval, is drawn as a filled polygon in the colour of
    /// its series, and a band of its own takes a colour after the series'.
    #[test]
    fn bands_are_drawn_in_their_series_colour_and_fit_the_axes() {
        let chart = LineChart::new("t", "x", "y")
            .series("a", vec![(0.0, 0.0), (1.0, 1.0)])
            .series("b", vec![(0.0, 0.5), (1.0, 0.5)])
            .band("b", vec![(0.0, -3.0, 1.0), (1.0, 0.0, 10.0)])
            .band("c", vec![(0.0, 0.0, 1.0), (f64::NAN, 0.0, 1.0)]);
        let (_, (y0, y1)) = chart.ranges();
        assert!(y0 <= -3.0 && y1 >= 10.0, "{y0} {y1}");
        assert_eq!((chart.color_index("b"), chart.color_index("c")), (1, 3));
        assert_eq!(chart.bands[1].points.len(), 1);
        let svg = chart.to_svg().unwrap().svg;
        assert_eq!(svg.matches("<polygon").count(), 2, "{svg}");
        // The first polygon (band "b") is filled in series b's colour, the second in the
        // colour after the series'.
        let fills: Vec<String> = svg
            .split("<polygon")
            .skip(1)
            .map(|p| p[..p.find('>').unwrap()].to_ascii_uppercase())
            .collect();
        for (fill, k) in fills.iter().zip([1, 3]) {
            let c = Palette99::pick(k).to_rgba();
            let hex = format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
            assert!(fill.contains(&hex), "{hex} not in {fill}");
        }
    }
}
