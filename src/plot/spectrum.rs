//! The spectrum of `W` during training ([`crate::train::spectrum`]): the leading singular
//! values against the epoch, one chart per method or all methods together.

use super::LineChart;
use crate::train::spectrum::SpectrumRecord;

/// The `k` largest singular values of `W` against the epoch: one line per run and mode
/// (named `"<run> s1"`, `"<run> s2"`, ...; the first mode with markers).
///
/// ```
/// use emf_rbm::plot::spectrum::spectrum_chart;
/// use emf_rbm::train::spectrum::SpectrumRecord;
/// let r = vec![SpectrumRecord { epoch: 1, values: vec![3.0, 1.0] }];
/// let chart = spectrum_chart(&[("cd1", r)], 2);
/// assert_eq!(chart.series.len(), 2);
/// assert_eq!(chart.series[1].points, vec![(1.0, 1.0)]);
/// ```
pub fn spectrum_chart<S: AsRef<str>, R: AsRef<[SpectrumRecord]>>(
    runs: &[(S, R)],
    k: usize,
) -> LineChart {
    let mut chart = LineChart::new(
        "Leading singular values of W during training",
        "epoch",
        "singular value",
    )
    .integer_x();
    for (name, records) in runs {
        let records = records.as_ref();
        for mode in 0..k {
            let points = records
                .iter()
                .filter_map(|r| Some((r.epoch as f64, *r.values.get(mode)?)))
                .collect();
            let label = format!("{} s{}", name.as_ref(), mode + 1);
            chart = if mode == 0 {
                chart.series(&label, points)
            } else {
                chart.line(&label, points)
            };
        }
    }
    chart
}
