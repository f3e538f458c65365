//! Figures of a fixed-point census ([`crate::train::census`]): how many TAP solutions a model
//! has as it trains, how their free energies spread, how far the `ln Z` estimates built on
//! them are from the exact value, and what the states look like. Runs are given as pairs of a
//! method name and its records (`&str` or `String`, a slice or a `Vec`).

use faer::MatRef;

use super::{LineChart, Mosaic};
use crate::error::{Error, Result};
use crate::estimate::fixed_points::FixedPointSet;
use crate::float::Float;
use crate::train::census::CensusRecord;

/// Number of distinct solutions (markers) and of states (plain line) against the epoch, per
/// method.
///
/// ```
/// use emf_rbm::plot::census::solutions_chart;
/// use emf_rbm::train::census::CensusRecord;
/// let chart = solutions_chart(&[("tap2", Vec::<CensusRecord>::new())]);
/// assert_eq!(chart.series.len(), 2);
/// ```
pub fn solutions_chart<S: AsRef<str>, R: AsRef<[CensusRecord]>>(runs: &[(S, R)]) -> LineChart {
    let mut chart = LineChart::new(
        "TAP solutions as training goes on",
        "epoch",
        "distinct fixed points found",
    )
    .integer_x();
    for (name, records) in runs {
        let (name, records) = (name.as_ref(), records.as_ref());
        let count = |f: &dyn Fn(&FixedPointSet) -> usize| {
            records
                .iter()
                .map(|r| (r.epoch as f64, f(&r.set) as f64))
                .collect()
        };
        chart = chart
            .series(&format!("{name}: solutions"), count(&|s| s.points.len()))
            .line(&format!("{name}: states"), count(&|s| s.n_states()));
    }
    chart
}

/// The free energy of every distinct minimum above the lowest one (`G_k - min G_k`, nats),
/// per epoch and method: the spread PRX 2018 shows becoming multi-modal. The methods' points
/// are shifted apart by a tenth of an epoch.
pub fn free_energy_chart<S: AsRef<str>, R: AsRef<[CensusRecord]>>(runs: &[(S, R)]) -> LineChart {
    let mut chart = LineChart::new(
        "Free energies of the TAP minima",
        "epoch",
        "G_k above the lowest minimum (nats)",
    )
    .integer_x();
    for (m, (name, records)) in runs.iter().enumerate() {
        let (name, records) = (name.as_ref(), records.as_ref());
        let shift = 0.1 * (m as f64 - (runs.len() as f64 - 1.0) / 2.0);
        let mut points = Vec::new();
        for r in records.iter() {
            let g: Vec<f64> = r.set.minima().map(|p| p.free_energy).collect();
            let low = g.iter().copied().fold(f64::INFINITY, f64::min);
            points.extend(g.iter().map(|x| (r.epoch as f64 + shift, x - low)));
        }
        chart = chart.points(name, points);
    }
    chart
}

/// `ln Z` estimate minus the exact value against the epoch, per method: the single solution
/// (markers) and the set of states (plain line), where both are known; zero drawn as a
/// reference.
pub fn ln_z_error_chart<S: AsRef<str>, R: AsRef<[CensusRecord]>>(runs: &[(S, R)]) -> LineChart {
    let mut chart = LineChart::new(
        "TAP ln Z against the exact value",
        "epoch",
        "estimate minus exact ln Z (nats)",
    )
    .integer_x()
    .reference("exact", 0.0);
    for (name, records) in runs {
        let (name, records) = (name.as_ref(), records.as_ref());
        let err = |f: &dyn Fn(&CensusRecord) -> Option<f64>| {
            records
                .iter()
                .filter_map(|r| Some((r.epoch as f64, f(r)?)))
                .collect()
        };
        chart = chart
            .series(
                &format!("{name}: single solution"),
                err(&|r| r.single_error()),
            )
            .line(&format!("{name}: set of states"), err(&|r| r.set_error()));
    }
    chart
}

/// The visible magnetizations of the `max` lowest minima, each followed by its nearest row of
/// `data` (what each state "is"), two pairs per mosaic row; captions give each minimum's
/// `G_k` with its basin in parentheses, and the data row's index.
pub fn states_mosaic<T: Float>(
    set: &FixedPointSet,
    data: MatRef<'_, T>,
    tile_shape: (usize, usize),
    max: usize,
) -> Result<Mosaic> {
    let minima: Vec<_> = set.minima().take(max).collect();
    if minima.is_empty() {
        return Err(Error::param("set", "no minimum to draw"));
    }
    let nearest = set.nearest_rows(data)?;
    let chosen: Vec<_> = set
        .points
        .iter()
        .zip(&nearest)
        .filter(|(p, _)| minima.iter().any(|q| std::ptr::eq(*q, *p)))
        .collect();
    let rows: Vec<Vec<f64>> = chosen
        .iter()
        .flat_map(|(p, &(row, _))| {
            let image = (0..data.ncols()).map(|c| data[(row, c)].as_f64()).collect();
            [p.visible.clone(), image]
        })
        .collect();
    let captions = chosen
        .iter()
        .flat_map(|(p, &(row, _))| {
            [
                format!("G {:.2} ({})", p.free_energy, p.basin),
                format!("row {row}"),
            ]
        })
        .collect();
    let tiles = faer::Mat::<f64>::from_fn(rows.len(), data.ncols(), |r, c| rows[r][c]);
    let title = format!(
        "{} minima (left) and their nearest data rows (right)",
        set.order
    );
    let mut mosaic = Mosaic::images(tiles.as_ref(), tile_shape, &title)?.with_captions(captions);
    mosaic.columns = 4.min(rows.len());
    Ok(mosaic)
}
