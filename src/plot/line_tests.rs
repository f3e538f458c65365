//! Unit tests of `plot::line` (private helpers: the transformed data, the legend corner).

use super::*;

fn fills(svg: &str) -> Vec<String> {
    svg.split("<polygon")
        .skip(1)
        .map(|p| p[..p.find('>').unwrap()].to_ascii_uppercase())
        .collect()
}

fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// The automatic legend avoids a corner that a line crosses without a point in it: the
/// lower right corner holds no point but the line from (5, 0) to (10, 5) runs through it;
/// the lower left holds one point and no line.
#[test]
fn the_legend_avoids_lines_not_only_points() {
    let chart = LineChart::new("t", "x", "y")
        .series("top", vec![(0.0, 10.0), (10.0, 10.0)])
        .series("corner", vec![(0.0, 0.0)])
        .series("crossing", vec![(5.0, 0.0), (10.0, 5.0)]);
    let t = chart.transformed().unwrap();
    assert!(matches!(t.emptiest_corner((0.3, 0.3)), Legend::LowerLeft));
}

/// A band widens the axes to its interval, is drawn as a filled polygon in the colour of
/// its series, and a band of its own takes a colour of its own.
#[test]
fn bands_are_drawn_in_their_series_colour_and_fit_the_axes() {
    let chart = LineChart::new("t", "x", "y")
        .series("a", vec![(0.0, 0.0), (1.0, 1.0)])
        .series("b", vec![(0.0, 0.5), (1.0, 0.5)])
        .band("b", vec![(0.0, -3.0, 1.0), (1.0, 0.0, 10.0)])
        .band("c", vec![(0.0, 0.0, 1.0), (f64::NAN, 0.0, 1.0)]);
    let (_, (y0, y1)) = chart.transformed().unwrap().ranges();
    assert!(y0 <= -3.0 && y1 >= 10.0, "{y0} {y1}");
    assert_eq!(chart.bands[1].points.len(), 1);
    let colors = chart.colors();
    let of = |n: &str| colors.iter().find(|(m, _)| m == n).unwrap().1;
    assert_ne!(of("c"), of("a"));
    assert_ne!(of("c"), of("b"));
    let svg = chart.to_svg().unwrap().svg;
    let f = fills(&svg);
    assert_eq!(f.len(), 2, "{svg}");
    assert!(
        f[0].contains(&hex(of("b"))),
        "{} not in {}",
        hex(of("b")),
        f[0]
    );
    assert!(
        f[1].contains(&hex(of("c"))),
        "{} not in {}",
        hex(of("c")),
        f[1]
    );
}

/// A method keeps its colour whatever else the chart holds.
#[test]
fn a_series_keeps_its_colour_across_charts() {
    let one = LineChart::new("t", "x", "y").series("tap2", vec![(0.0, 1.0)]);
    let two = LineChart::new("t", "x", "y")
        .series("cd1", vec![(0.0, 1.0)])
        .series("pcd1", vec![(0.0, 1.0)])
        .series("tap2", vec![(0.0, 2.0)]);
    assert_eq!(one.colors()[0].1, two.colors()[2].1);
    let svg = two.to_svg().unwrap().svg.to_ascii_uppercase();
    assert!(svg.contains(&hex(one.colors()[0].1)));
}

/// Log axes show log10 of the values; a non-positive value is an error naming its series.
#[test]
fn log_axes_transform_and_refuse_non_positive_values() {
    let chart = LineChart::new("t", "x", "y")
        .log_x()
        .log_y()
        .line("slope 2", vec![(0.1, 0.01), (10.0, 100.0)]);
    let ((x0, x1), (y0, y1)) = chart.transformed().unwrap().ranges();
    assert!(
        (x0 - -1.0).abs() < 1e-12 && (x1 - 1.0).abs() < 1e-12,
        "{x0} {x1}"
    );
    assert!(y0 < -2.0 && y1 > 2.0 && y0 > -2.3, "{y0} {y1}");
    let svg = chart.to_svg().unwrap().svg;
    assert!(
        svg.contains("\n100\n") && svg.contains("\n0.01\n"),
        "decade labels: {svg}"
    );
    let bad = chart.series("zero", vec![(1.0, 0.0)]);
    let err = bad.to_svg().unwrap_err().to_string();
    assert!(
        err.contains("`zero`") && err.contains("log y axis"),
        "{err}"
    );
}

/// Labels and markers: integer ticks only on an integer axis; a line and a reference draw
/// no markers; the reference widens the y range and is dashed.
#[test]
fn integer_ticks_lines_and_references() {
    assert_eq!(tick_label(Scale::Linear, true, 2.5, 10.0), "");
    assert_eq!(tick_label(Scale::Linear, true, 3.0, 10.0), "3");
    assert_eq!(tick_label(Scale::Log, false, 2.0, 3.0), "100");
    assert_eq!(tick_label(Scale::Log, false, 2.5, 3.0), "");
    let markers = LineChart::new("t", "x", "y").series("a", vec![(0.0, 1.0), (1.0, 2.0)]);
    let circles = |c: &LineChart| c.to_svg().unwrap().svg.matches("<circle").count();
    assert_eq!(circles(&markers), 2);
    let scatter = LineChart::new("t", "x", "y").points("a", vec![(0.0, 1.0), (1.0, 2.0)]);
    assert_eq!(circles(&scatter), 3, "two points and the legend's marker");
    let lines = |c: &LineChart| c.to_svg().unwrap().svg.matches("<polyline").count();
    // the same chart less the series' line and its legend line
    assert_eq!(
        lines(&scatter) + 2,
        lines(&markers),
        "no line through the points"
    );
    let plain = LineChart::new("t", "x", "y")
        .line("a", vec![(0.0, 1.0), (1.0, 2.0)])
        .reference("exact", 5.0);
    assert_eq!(circles(&plain), 0);
    let ((_, _), (_, y1)) = plain.transformed().unwrap().ranges();
    assert!(y1 >= 5.0);
    // the dashed line is drawn as separate segments: more than the one line's path
    assert!(plain.to_svg().unwrap().svg.matches("<polyline").count() > 3);
}

/// A linear axis of tiny values keeps distinct labels (plotters' own), not a row of 0s.
#[test]
fn tiny_values_keep_their_labels() {
    let chart = LineChart::new("t", "x", "y").line("r", vec![(0.0, 1e-8), (1.0, 3e-8)]);
    let svg = chart.to_svg().unwrap().svg;
    let labels: Vec<&str> = svg
        .split("</text>")
        .filter_map(|t| t.rsplit('>').next().map(str::trim))
        .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    let zeros = labels.iter().filter(|l| **l == "0").count();
    assert!(labels.len() >= 4 && zeros <= 1, "{labels:?}");
}

/// The automatic legend avoids the corner where the data are.
#[test]
fn the_legend_goes_where_there_is_no_data() {
    // The corner chosen for a straight line of slope `slope` through 50 points.
    let corner = |slope: f64| {
        let points: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, slope * i as f64)).collect();
        let chart = LineChart::new("t", "x", "y").series("a", points);
        chart
            .transformed()
            .unwrap()
            .emptiest_corner(chart.legend_box())
    };
    // A rising line fills the lower left and upper right corners, a falling one the others.
    let at = corner(1.0);
    assert!(
        matches!(at, Legend::LowerRight | Legend::UpperLeft),
        "{at:?}"
    );
    let at = corner(-1.0);
    assert!(
        matches!(at, Legend::UpperRight | Legend::LowerLeft),
        "{at:?}"
    );
}
