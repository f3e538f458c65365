//! Line charts: metrics against epoch, time or temperature, with shaded bands, error bars,
//! reference lines and log axes.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{save_dyn, svg_string, Figure};
use crate::error::{Error, Result};
use std::path::Path;

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

#[cfg(test)]
mod tests {
    use super::*;

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
