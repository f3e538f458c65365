//! Line charts: metrics against epoch, time or temperature, with shaded bands, error bars,
//! reference lines and log axes. Every series keeps its colour across figures
//! ([`super::colors`]); the legend goes to the corner that hides the fewest points.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::colors::assign;
use super::{save_dyn, svg_string, Figure};
use crate::error::{Error, Result};
use std::path::Path;

/// How a [`Series`] is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesStyle {
    /// A line with a marker at every point (measurements).
    Markers,
    /// A plain line (a curve, a theory, a dense series).
    Line,
    /// Markers only, unconnected (a scatter: many values per x).
    Points,
}

/// One named line of a [`LineChart`].
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label; also picks the colour.
    pub name: String,
    /// `(x, y)` points, in order.
    pub points: Vec<(f64, f64)>,
    /// Markers or a plain line.
    pub style: SeriesStyle,
}

/// Intervals per x (an estimate's interval, a spread over seeds), in the colour of the
/// [`Series`] of the same name: shaded as a band ([`LineChart::band`]) or drawn as error bars
/// ([`LineChart::error_bars`]).
#[derive(Clone, Debug)]
pub struct Band {
    /// Name of the series it belongs to (its colour); one without a series gets its own.
    pub name: String,
    /// `(x, low, high)` points, in order of x.
    pub points: Vec<(f64, f64, f64)>,
}

/// A horizontal reference line (a known value, zero error), dashed, without markers, across
/// the whole x range.
#[derive(Clone, Debug)]
pub struct Reference {
    /// Legend label.
    pub name: String,
    /// Its height.
    pub y: f64,
}

/// An axis scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Linear.
    Linear,
    /// Base-10 logarithmic (every value on it must be positive).
    Log,
}

/// Where the legend goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Legend {
    /// The inner corner that covers the fewest points (the default).
    Auto,
    /// Upper left corner.
    UpperLeft,
    /// Upper right corner.
    UpperRight,
    /// Lower left corner.
    LowerLeft,
    /// Lower right corner.
    LowerRight,
    /// No legend.
    Hidden,
}

/// A line chart: several series against a common x axis, with optional shaded bands, error
/// bars and reference lines, linear or log axes.
///
/// ```
/// use emf_rbm::plot::LineChart;
/// let chart = LineChart::new("Held-out log-likelihood", "epoch", "nats per image")
///     .integer_x()
///     .series("cd1", vec![(1.0, -30.0), (2.0, -25.0)])
///     .band("cd1", vec![(1.0, -31.0, -29.0), (2.0, -26.0, -24.5)])
///     .error_bars("tap2", vec![(1.0, -29.0, -27.0)])
///     .reference("exact", -24.0);
/// assert!(chart.to_svg()?.svg.contains("<svg"));
/// let log = LineChart::new("error", "weight scale", "|error| (nats)").log_x().log_y()
///     .line("slope 3", vec![(0.1, 1e-3), (1.0, 1.0)]);
/// assert!(log.to_svg().is_ok());
/// # Ok::<(), emf_rbm::Error>(())
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
    /// The error bars.
    pub error_bars: Vec<Band>,
    /// The reference lines.
    pub references: Vec<Reference>,
    /// Scale of the x axis.
    pub x_scale: Scale,
    /// Scale of the y axis.
    pub y_scale: Scale,
    /// Label the x axis at integers only (epochs, layers).
    pub integer_x: bool,
    /// Legend placement.
    pub legend: Legend,
    /// Pixel size.
    pub size: (u32, u32),
}

fn finite_points(points: Vec<(f64, f64, f64)>) -> Vec<(f64, f64, f64)> {
    points
        .into_iter()
        .filter(|(x, lo, hi)| x.is_finite() && lo.is_finite() && hi.is_finite())
        .collect()
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
            error_bars: Vec::new(),
            references: Vec::new(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            integer_x: false,
            legend: Legend::Auto,
            size: (800, 500),
        }
    }

    fn push(mut self, name: &str, points: Vec<(f64, f64)>, style: SeriesStyle) -> Self {
        let points = points
            .into_iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        self.series.push(Series {
            name: name.into(),
            points,
            style,
        });
        self
    }

    /// Adds a series drawn with markers (non-finite points are dropped).
    pub fn series(self, name: &str, points: Vec<(f64, f64)>) -> Self {
        self.push(name, points, SeriesStyle::Markers)
    }

    /// Adds a series drawn as a plain line (non-finite points are dropped).
    pub fn line(self, name: &str, points: Vec<(f64, f64)>) -> Self {
        self.push(name, points, SeriesStyle::Line)
    }

    /// Adds a scatter of unconnected markers (several points may share an x).
    pub fn points(self, name: &str, points: Vec<(f64, f64)>) -> Self {
        self.push(name, points, SeriesStyle::Points)
    }

    /// Adds a shaded band of `(x, low, high)` points under the series `name` (points with a
    /// non-finite coordinate are dropped).
    pub fn band(mut self, name: &str, points: Vec<(f64, f64, f64)>) -> Self {
        self.bands.push(Band {
            name: name.into(),
            points: finite_points(points),
        });
        self
    }

    /// Adds error bars `(x, low, high)` in the colour of the series `name` (points with a
    /// non-finite coordinate are dropped).
    pub fn error_bars(mut self, name: &str, points: Vec<(f64, f64, f64)>) -> Self {
        self.error_bars.push(Band {
            name: name.into(),
            points: finite_points(points),
        });
        self
    }

    /// Adds a dashed horizontal reference line at `y` (ignored when not finite).
    pub fn reference(mut self, name: &str, y: f64) -> Self {
        if y.is_finite() {
            self.references.push(Reference {
                name: name.into(),
                y,
            });
        }
        self
    }

    /// A logarithmic x axis.
    pub fn log_x(mut self) -> Self {
        self.x_scale = Scale::Log;
        self
    }

    /// A logarithmic y axis.
    pub fn log_y(mut self) -> Self {
        self.y_scale = Scale::Log;
        self
    }

    /// Labels the x axis at integers only (epochs, layers).
    pub fn integer_x(mut self) -> Self {
        self.integer_x = true;
        self
    }

    /// Places the legend.
    pub fn legend(mut self, at: Legend) -> Self {
        self.legend = at;
        self
    }

    /// The colour of every name drawn, in the order series, bands, error bars.
    fn colors(&self) -> Vec<(String, RGBColor)> {
        let names = (self.series.iter().map(|s| &s.name))
            .chain(self.bands.iter().map(|b| &b.name))
            .chain(self.error_bars.iter().map(|b| &b.name));
        assign(names.map(String::as_str))
    }

    /// Every point in the axes' coordinates (log10 on a log axis), or an error naming what
    /// has a value a log axis cannot show.
    fn transformed(&self) -> Result<Transformed> {
        let tx = |v: f64, what: &str| axis_value(self.x_scale, v, "x", what);
        let ty = |v: f64, what: &str| axis_value(self.y_scale, v, "y", what);
        let mut t = Transformed::default();
        for s in &self.series {
            let pts = s
                .points
                .iter()
                .map(|&(x, y)| Ok((tx(x, &s.name)?, ty(y, &s.name)?)));
            t.series.push(pts.collect::<Result<_>>()?);
        }
        for (bands, out) in [(&self.bands, &mut t.bands), (&self.error_bars, &mut t.bars)] {
            for b in bands {
                let pts = b
                    .points
                    .iter()
                    .map(|&(x, lo, hi)| Ok((tx(x, &b.name)?, ty(lo, &b.name)?, ty(hi, &b.name)?)));
                out.push(pts.collect::<Result<_>>()?);
            }
        }
        for r in &self.references {
            t.references.push(ty(r.y, &r.name)?);
        }
        Ok(t)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let e = super::drawing_error::<DB::ErrorType>;
        let t = self.transformed()?;
        root.fill(&WHITE).map_err(e)?;
        let ((x0, x1), (y0, y1)) = t.ranges();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(e)?;
        let (xs, ys, integer) = (self.x_scale, self.y_scale, self.integer_x);
        let x_fmt = move |v: &f64| tick_label(xs, integer, *v, x1 - x0);
        let y_fmt = move |v: &f64| tick_label(ys, false, *v, y1 - y0);
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(&self.x_label).y_desc(&self.y_label);
        // Plain linear axes keep plotters' own labels (which handle tiny and huge values).
        if integer || xs == Scale::Log {
            mesh.x_label_formatter(&x_fmt);
        }
        if ys == Scale::Log {
            mesh.y_label_formatter(&y_fmt);
        }
        if integer {
            mesh.x_labels(((x1 - x0).floor() as usize + 1).clamp(2, 12));
        }
        mesh.draw().map_err(e)?;
        let colors = self.colors();
        let color_of = |name: &str| {
            let c = colors.iter().find(|(n, _)| n == name).map(|(_, c)| *c);
            c.unwrap_or(BLACK)
        };
        self.draw_intervals(&mut chart, &t, &color_of)?;
        for (r, &y) in self.references.iter().zip(&t.references) {
            let style = RGBColor(60, 60, 60).stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new([(x0, y), (x1, y)], 6, 4, style))
                .map_err(e)?
                .label(&r.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
        for (s, pts) in self.series.iter().zip(&t.series) {
            let color = color_of(&s.name);
            if s.style == SeriesStyle::Points {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(e)?
                    .label(&s.name)
                    .legend(move |(x, y)| Circle::new((x + 9, y), 3, color.filled()));
                continue;
            }
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(e)?
                .label(&s.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            if s.style == SeriesStyle::Markers {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(e)?;
            }
        }
        let Some(position) = self.legend_position(&t) else {
            return Ok(());
        };
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(position)
            .draw()
            .map_err(e)?;
        Ok(())
    }

    /// The legend's corner, or `None` when hidden.
    fn legend_position(&self, t: &Transformed) -> Option<SeriesLabelPosition> {
        let at = match self.legend {
            Legend::Hidden => return None,
            Legend::Auto => t.emptiest_corner(self.legend_box()),
            other => other,
        };
        Some(match at {
            Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
            Legend::UpperRight => SeriesLabelPosition::UpperRight,
            Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
            _ => SeriesLabelPosition::LowerRight,
        })
    }

    /// The bands (filled, under everything) and the error bars (with 8-pixel caps).
    fn draw_intervals<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
        t: &Transformed,
        color_of: &dyn Fn(&str) -> RGBColor,
    ) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let e = super::drawing_error::<DB::ErrorType>;
        for (b, pts) in self.bands.iter().zip(&t.bands) {
            let outline: Vec<(f64, f64)> = (pts.iter().map(|&(x, _, hi)| (x, hi)))
                .chain(pts.iter().rev().map(|&(x, lo, _)| (x, lo)))
                .collect();
            let fill = color_of(&b.name).mix(0.18).filled();
            chart
                .draw_series(std::iter::once(Polygon::new(outline, fill)))
                .map_err(e)?;
        }
        for (b, pts) in self.error_bars.iter().zip(&t.bars) {
            let style = color_of(&b.name).stroke_width(2);
            let bars =
                (pts.iter()).map(|&(x, lo, hi)| PathElement::new(vec![(x, lo), (x, hi)], style));
            chart.draw_series(bars).map_err(e)?;
            let caps = pts.iter().flat_map(|&(x, lo, hi)| {
                [lo, hi].map(|y| {
                    EmptyElement::at((x, y)) + PathElement::new(vec![(-4, 0), (4, 0)], style)
                })
            });
            chart.draw_series(caps).map_err(e)?;
        }
        Ok(())
    }

    /// The legend's size as fractions of the plotting area (about 8 px per character plus
    /// the sample line, 20 px per entry).
    fn legend_box(&self) -> (f64, f64) {
        let names = (self.series.iter().map(|s| s.name.len()))
            .chain(self.references.iter().map(|r| r.name.len()));
        let (n, longest) = names.fold((0, 0), |(n, l), len| (n + 1, l.max(len)));
        let (w, h) = (
            f64::from(self.size.0.saturating_sub(100)).max(1.0),
            f64::from(self.size.1.saturating_sub(100)).max(1.0),
        );
        (
            (8.0 * longest as f64 + 45.0) / w,
            (20.0 * n as f64 + 12.0) / h,
        )
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

/// A value in the axis' coordinates: itself, or its log10 on a log axis (an error when not
/// positive, naming the series).
fn axis_value(scale: Scale, v: f64, axis: &str, name: &str) -> Result<f64> {
    match scale {
        Scale::Linear => Ok(v),
        Scale::Log if v > 0.0 => Ok(v.log10()),
        Scale::Log => Err(Error::param(
            "plot",
            format!("`{name}` has {axis} = {v}, which a log {axis} axis cannot show (> 0 only)"),
        )),
    }
}

/// A tick label: integers only on an integer axis; on a log axis the value 10^v, at whole
/// decades only when the axis spans more than one.
fn tick_label(scale: Scale, integer: bool, v: f64, span: f64) -> String {
    let near_int = (v - v.round()).abs() < 1e-6 * span.max(1.0);
    match scale {
        Scale::Linear if integer => {
            if near_int {
                format!("{}", v.round())
            } else {
                String::new()
            }
        }
        // (draw leaves plain linear axes to plotters' own labels)
        Scale::Linear => format!("{v}"),
        Scale::Log if span >= 1.0 && !near_int => String::new(),
        Scale::Log => {
            let x = 10f64.powf(v);
            if span >= 1.0 {
                let k = v.round() as i32;
                if (-3..=4).contains(&k) {
                    format!("{}", 10f64.powi(k))
                } else {
                    format!("1e{k}")
                }
            } else {
                format!("{:.3}", x)
            }
        }
    }
}

/// A chart's points in axis coordinates.
#[derive(Default)]
struct Transformed {
    series: Vec<Vec<(f64, f64)>>,
    bands: Vec<Vec<(f64, f64, f64)>>,
    bars: Vec<Vec<(f64, f64, f64)>>,
    references: Vec<f64>,
}

impl Transformed {
    fn points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let intervals = self.bands.iter().chain(&self.bars).flatten();
        (self.series.iter().flatten().copied())
            .chain(intervals.flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)]))
    }

    /// Data ranges padded by 5 % (the references widen y, not x).
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y) in self.points() {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        if x0 > x1 {
            (x0, x1) = (0.0, 1.0);
        }
        for &y in &self.references {
            (y0, y1) = (y0.min(y), y1.max(y));
        }
        if y0 > y1 {
            (y0, y1) = (0.0, 1.0);
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

    /// The corner whose legend box (fractions of the axes) covers the fewest points; ties go
    /// to the first of lower right, upper right, lower left, upper left.
    fn emptiest_corner(&self, (w, h): (f64, f64)) -> Legend {
        let ((x0, x1), (y0, y1)) = self.ranges();
        // The points, and the lines between them and the reference lines sampled densely:
        // a legend must not hide a line that runs through a corner without a point there.
        const STEPS: usize = 20;
        let along = |a: (f64, f64), b: (f64, f64)| {
            (1..STEPS).map(move |k| {
                let f = k as f64 / STEPS as f64;
                (a.0 + f * (b.0 - a.0), a.1 + f * (b.1 - a.1))
            })
        };
        let segments =
            (self.series.iter()).flat_map(|s| s.windows(2).flat_map(move |p| along(p[0], p[1])));
        let references = (self.references.iter())
            .flat_map(|&y| (0..=STEPS).map(move |k| (x0 + (x1 - x0) * k as f64 / STEPS as f64, y)));
        let norm: Vec<(f64, f64)> = (self.points().chain(segments).chain(references))
            .map(|(x, y)| ((x - x0) / (x1 - x0), (y - y0) / (y1 - y0)))
            .collect();
        let corners = [
            (Legend::LowerRight, 1.0 - w, 0.0),
            (Legend::UpperRight, 1.0 - w, 1.0 - h),
            (Legend::LowerLeft, 0.0, 0.0),
            (Legend::UpperLeft, 0.0, 1.0 - h),
        ];
        let covered = |&(_, cx, cy): &(Legend, f64, f64)| {
            let inside = |&&(x, y): &&(f64, f64)| x >= cx && x <= cx + w && y >= cy && y <= cy + h;
            norm.iter().filter(inside).count()
        };
        let best = corners.iter().min_by_key(|c| covered(c));
        best.map_or(Legend::LowerRight, |c| c.0)
    }
}

#[cfg(test)]
#[path = "line_tests.rs"]
mod tests;
