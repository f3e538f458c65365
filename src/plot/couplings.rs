//! Figures of effective couplings: a heat map of the pair matrix and, for lattice data,
//! couplings against lattice distance. PNG or SVG by the file extension.

use std::path::Path;

use faer::MatRef;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::save_dyn;
use crate::error::{Error, Result};

fn perr(e: impl std::fmt::Display) -> Error {
    Error::Plot {
        path: Default::default(),
        message: e.to_string(),
    }
}

/// Diverging colour map: blue (negative) - white (0) - red (positive), `x` in `[-1, 1]`.
fn diverging(x: f64) -> RGBColor {
    let t = x.clamp(-1.0, 1.0);
    let mix = |a: f64, b: f64, f: f64| (a + (b - a) * f).round().clamp(0.0, 255.0) as u8;
    if t >= 0.0 {
        RGBColor(
            mix(255.0, 178.0, t),
            mix(255.0, 24.0, t),
            mix(255.0, 43.0, t),
        )
    } else {
        let f = -t;
        RGBColor(
            mix(255.0, 33.0, f),
            mix(255.0, 102.0, f),
            mix(255.0, 172.0, f),
        )
    }
}

/// Saves a heat map of a square (pair-coupling) matrix: colour = value, symmetric around 0
/// (scale `+-max |value|`, given in the title), with a colour bar.
///
/// ```no_run
/// let m = emf_rbm::faer::Mat::<f64>::from_fn(5, 5, |i, j| (i as f64 - j as f64).abs());
/// emf_rbm::plot::couplings::pair_heatmap(std::path::Path::new("pairs.png"), m.as_ref(), "K_ij").unwrap();
/// ```
pub fn pair_heatmap(path: &Path, matrix: MatRef<'_, f64>, title: &str) -> Result<()> {
    let n = matrix.nrows();
    if n == 0 || matrix.ncols() != n {
        return Err(Error::Shape(format!(
            "a pair heat map needs a non-empty square matrix, got {} x {}",
            matrix.nrows(),
            matrix.ncols()
        )));
    }
    let cell = (640 / n).clamp(1, 40) as u32;
    let side = cell * n as u32;
    let size = (side + 150, side + 70);
    let scale = (0..n)
        .flat_map(|i| (0..n).map(move |k| (i, k)))
        .fold(0.0f64, |m, (i, k)| m.max(matrix[(i, k)].abs()));
    let scale = if scale > 0.0 { scale } else { 1.0 };
    save_dyn(
        path,
        size,
        |r| draw_heatmap(r, matrix, title, cell, scale),
        |r| draw_heatmap(r, matrix, title, cell, scale),
    )
}

fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    m: MatRef<'_, f64>,
    title: &str,
    cell: u32,
    scale: f64,
) -> Result<()> {
    let n = m.nrows();
    root.fill(&WHITE).map_err(perr)?;
    let caption = format!("{title}   (colour scale +-{scale:.3e})");
    root.draw(&Text::new(
        caption,
        (10, 10),
        ("sans-serif", 18).into_font(),
    ))
    .map_err(perr)?;
    let (x0, y0) = (20i32, 50i32);
    let c = cell as i32;
    for i in 0..n {
        for k in 0..n {
            let col = diverging(m[(i, k)] / scale);
            let (x, y) = (x0 + k as i32 * c, y0 + i as i32 * c);
            if c == 1 {
                root.draw_pixel((x, y), &col).map_err(perr)?;
            } else {
                root.draw(&Rectangle::new([(x, y), (x + c, y + c)], col.filled()))
                    .map_err(perr)?;
            }
        }
    }
    // colour bar
    let side = c * n as i32;
    let bx = x0 + side + 30;
    for p in 0..side {
        let v = 1.0 - 2.0 * p as f64 / (side - 1).max(1) as f64;
        root.draw(&Rectangle::new(
            [(bx, y0 + p), (bx + 20, y0 + p + 1)],
            diverging(v).filled(),
        ))
        .map_err(perr)?;
    }
    let font = ("sans-serif", 14).into_font();
    root.draw(&Text::new(
        format!("{scale:+.2e}"),
        (bx + 24, y0),
        font.clone(),
    ))
    .map_err(perr)?;
    root.draw(&Text::new(
        "0".to_string(),
        (bx + 24, y0 + side / 2 - 7),
        font.clone(),
    ))
    .map_err(perr)?;
    root.draw(&Text::new(
        format!("{:+.2e}", -scale),
        (bx + 24, y0 + side - 14),
        font,
    ))
    .map_err(perr)?;
    Ok(())
}

/// Saves a scatter plot of couplings against lattice distance (one point per pair).
///
/// ```no_run
/// let pts = vec![(1.0, 0.8), (1.0, 0.75), (1.414, 0.02), (2.0, -0.01)];
/// emf_rbm::plot::couplings::couplings_vs_distance(std::path::Path::new("dist.png"), &pts, "K_ij", "K_ij").unwrap();
/// ```
pub fn couplings_vs_distance(
    path: &Path,
    points: &[(f64, f64)],
    title: &str,
    y_label: &str,
) -> Result<()> {
    if points.is_empty() {
        return Err(Error::param("points", "nothing to plot"));
    }
    let size = (800, 560);
    save_dyn(
        path,
        size,
        |r| draw_distance(r, points, title, y_label),
        |r| draw_distance(r, points, title, y_label),
    )
}

fn draw_distance<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    points: &[(f64, f64)],
    title: &str,
    y_label: &str,
) -> Result<()> {
    root.fill(&WHITE).map_err(perr)?;
    let xmax = points.iter().fold(0.0f64, |m, p| m.max(p.0)) * 1.05 + 0.1;
    let ymin = points.iter().fold(0.0f64, |m, p| m.min(p.1));
    let ymax = points.iter().fold(0.0f64, |m, p| m.max(p.1));
    let pad = 0.05 * (ymax - ymin).max(1e-12);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..xmax, (ymin - pad)..(ymax + pad))
        .map_err(perr)?;
    chart
        .configure_mesh()
        .x_desc("lattice distance")
        .y_desc(y_label)
        .draw()
        .map_err(perr)?;
    chart
        .draw_series(
            points
                .iter()
                .map(|&(x, y)| Circle::new((x, y), 3, BLUE.mix(0.5).filled())),
        )
        .map_err(perr)?;
    chart
        .draw_series(LineSeries::new(
            vec![(0.0, 0.0), (xmax, 0.0)],
            BLACK.mix(0.4),
        ))
        .map_err(perr)?;
    Ok(())
}
