//! Timing helpers shared by the benches' summary printouts (each bench includes this module
//! with `mod common;`).
#![allow(dead_code)]

use std::time::Instant;

/// Seconds per call of `f` over `iters` calls after one warm-up call: `(minimum, median)`.
/// The minimum is the least disturbed run on a shared machine, the median the typical one.
pub fn time_stats(f: &mut impl FnMut(), iters: usize) -> (f64, f64) {
    f();
    let mut t = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t0 = Instant::now();
        f();
        t.push(t0.elapsed().as_secs_f64());
    }
    t.sort_by(|a, b| a.total_cmp(b));
    (t[0], t[iters / 2])
}

/// Median seconds per call (see [`time_stats`]).
pub fn median_seconds(mut f: impl FnMut(), iters: usize) -> f64 {
    time_stats(&mut f, iters).1
}

/// Minimum seconds per call (see [`time_stats`]).
pub fn min_seconds(mut f: impl FnMut(), iters: usize) -> f64 {
    time_stats(&mut f, iters).0
}
