//! Lattice geometry for couplings of image or spin-lattice units.

/// Neighbourhoods on a `rows x cols` image/lattice (row-major unit `r * cols + c`): for every
/// site, the site and all sites within Euclidean distance `radius` (minimum image when
/// `periodic`). Feed to [`EffectiveHamiltonian::triples_in_neighbourhoods`](super::EffectiveHamiltonian::triples_in_neighbourhoods).
pub fn lattice_neighbourhoods(
    rows: usize,
    cols: usize,
    radius: f64,
    periodic: bool,
) -> Vec<Vec<usize>> {
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            let mut set = Vec::new();
            for r2 in 0..rows {
                for c2 in 0..cols {
                    if lattice_distance((r, c), (r2, c2), rows, cols, periodic) <= radius + 1e-12 {
                        set.push(r2 * cols + c2);
                    }
                }
            }
            out.push(set);
        }
    }
    out
}

/// Euclidean distance between lattice sites `p` and `q` (minimum image when `periodic`).
pub fn lattice_distance(
    p: (usize, usize),
    q: (usize, usize),
    rows: usize,
    cols: usize,
    periodic: bool,
) -> f64 {
    let d = |a: usize, b: usize, n: usize| {
        let x = a.abs_diff(b);
        if periodic {
            x.min(n - x)
        } else {
            x
        }
    };
    let dr = d(p.0, q.0, rows) as f64;
    let dc = d(p.1, q.1, cols) as f64;
    (dr * dr + dc * dc).sqrt()
}
