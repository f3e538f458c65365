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

/// A `rows x cols` lattice of units (row-major: unit `r * cols + c`), with or without
/// periodic boundaries.
///
/// ```
/// use emf_rbm::hamiltonian::LatticeShape;
/// let s: LatticeShape = "2x3".parse().unwrap();
/// assert_eq!((s.rows, s.cols, s.periodic), (2, 3, false));
/// assert_eq!(LatticeShape::square(16, true), Some(LatticeShape { rows: 4, cols: 4, periodic: true }));
/// assert_eq!(LatticeShape::square(15, false), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatticeShape {
    /// Rows of the lattice.
    pub rows: usize,
    /// Columns of the lattice.
    pub cols: usize,
    /// Minimum-image distances (a torus).
    pub periodic: bool,
}

impl LatticeShape {
    /// The square lattice of `n` units, when `n > 1` is a perfect square.
    pub fn square(n: usize, periodic: bool) -> Option<Self> {
        let r = (n as f64).sqrt().round() as usize;
        (r * r == n && r > 1).then_some(LatticeShape {
            rows: r,
            cols: r,
            periodic,
        })
    }

    /// Number of sites.
    pub fn n_sites(&self) -> usize {
        self.rows * self.cols
    }

    /// The distance between units `i` and `k` ([`lattice_distance`]).
    pub fn distance(&self, i: usize, k: usize) -> f64 {
        lattice_distance(
            (i / self.cols, i % self.cols),
            (k / self.cols, k % self.cols),
            self.rows,
            self.cols,
            self.periodic,
        )
    }

    /// Every pair `i < k` of a symmetric `n x n` pair-coupling matrix as (distance, value),
    /// in the order (0, 1), (0, 2), ..., (1, 2), ...; an error when the matrix does not have
    /// one row per site.
    ///
    /// ```
    /// use emf_rbm::hamiltonian::LatticeShape;
    /// let m = emf_rbm::faer::Mat::<f64>::from_fn(4, 4, |i, k| (i + k) as f64);
    /// let pts = LatticeShape::square(4, false).unwrap().pairs_by_distance(m.as_ref()).unwrap();
    /// assert_eq!(pts[0], (1.0, 1.0)); // units 0 and 1 are neighbours
    /// assert_eq!(pts[2], (2f64.sqrt(), 3.0)); // units 0 and 3 are diagonal
    /// ```
    pub fn pairs_by_distance(&self, m: faer::MatRef<'_, f64>) -> crate::Result<Vec<(f64, f64)>> {
        let n = self.n_sites();
        if m.nrows() != n || m.ncols() != n {
            return Err(crate::Error::Shape(format!(
                "a {}x{} lattice has {n} sites, the coupling matrix is {} x {}",
                self.rows,
                self.cols,
                m.nrows(),
                m.ncols()
            )));
        }
        let mut pts = Vec::with_capacity(n * n.saturating_sub(1) / 2);
        for i in 0..n {
            for k in i + 1..n {
                pts.push((self.distance(i, k), m[(i, k)]));
            }
        }
        Ok(pts)
    }
}

/// The pair couplings at one lattice distance (see [`LatticeShape::shells`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DistanceShell {
    /// The distance.
    pub distance: f64,
    /// Pairs at this distance.
    pub count: usize,
    /// Mean coupling.
    pub mean: f64,
    /// Standard deviation of the couplings (over the pairs).
    pub sd: f64,
    /// Mean absolute coupling.
    pub mean_abs: f64,
}

impl LatticeShape {
    /// The pairs of a symmetric `n x n` pair-coupling matrix grouped by distance (within
    /// 1e-9), nearest first: count, mean, spread and mean `|J|` of each shell.
    ///
    /// ```
    /// use emf_rbm::hamiltonian::LatticeShape;
    /// let torus = LatticeShape::square(64, true).unwrap();
    /// let d = |i: usize, k: usize| torus.distance(i, k);
    /// let j = emf_rbm::faer::Mat::<f64>::from_fn(64, 64, |i, k| if d(i, k) == 1.0 { 0.5 } else { 0.0 });
    /// let shells = torus.shells(j.as_ref()).unwrap();
    /// assert_eq!((shells[0].distance, shells[0].count, shells[0].mean), (1.0, 128, 0.5));
    /// assert_eq!((shells[1].count, shells[1].mean), (128, 0.0)); // the diagonals
    /// ```
    pub fn shells(&self, m: faer::MatRef<'_, f64>) -> crate::Result<Vec<DistanceShell>> {
        let mut pts = self.pairs_by_distance(m)?;
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut shells: Vec<DistanceShell> = Vec::new();
        let mut start = 0;
        while start < pts.len() {
            let d = pts[start].0;
            let end = start + pts[start..].iter().take_while(|p| p.0 - d < 1e-9).count();
            let vals = &pts[start..end];
            let n = vals.len() as f64;
            let mean = vals.iter().map(|p| p.1).sum::<f64>() / n;
            let var = vals.iter().map(|p| (p.1 - mean).powi(2)).sum::<f64>() / n;
            shells.push(DistanceShell {
                distance: d,
                count: vals.len(),
                mean,
                sd: var.sqrt(),
                mean_abs: vals.iter().map(|p| p.1.abs()).sum::<f64>() / n,
            });
            start = end;
        }
        Ok(shells)
    }
}

impl LatticeShape {
    /// The plaquettes: every 2 x 2 square of neighbouring sites (sorted units), one per site as
    /// its top-left corner; on open boundaries only the squares inside the lattice.
    ///
    /// ```
    /// use emf_rbm::hamiltonian::LatticeShape;
    /// let torus = LatticeShape::square(16, true).unwrap();
    /// let p = torus.plaquettes();
    /// assert_eq!(p.len(), 16);
    /// assert_eq!(p[0], vec![0, 1, 4, 5]);
    /// assert_eq!(p[15], vec![0, 3, 12, 15]); // wraps around both ways
    /// assert_eq!(LatticeShape::square(16, false).unwrap().plaquettes().len(), 9);
    /// ```
    pub fn plaquettes(&self) -> Vec<Vec<usize>> {
        let (rows, cols) = (self.rows, self.cols);
        let mut out = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                if !self.periodic && (r + 1 == rows || c + 1 == cols) {
                    continue;
                }
                let (r1, c1) = ((r + 1) % rows, (c + 1) % cols);
                let mut p = vec![r * cols + c, r * cols + c1, r1 * cols + c, r1 * cols + c1];
                p.sort_unstable();
                p.dedup();
                out.push(p);
            }
        }
        out
    }

    /// `count` random `order`-subsets of sites whose units are pairwise farther apart than
    /// `min_distance` (each sorted; drawn uniformly among such subsets by rejection, repeats
    /// allowed), reproducible from `seed`: the "far" controls of couplings that should vanish.
    /// An error when fewer than one draw in 10 000 qualifies.
    ///
    /// ```
    /// use emf_rbm::hamiltonian::LatticeShape;
    /// let torus = LatticeShape::square(64, true).unwrap();
    /// let far = torus.far_subsets(3, 50, 1.5, 7).unwrap();
    /// assert_eq!(far.len(), 50);
    /// assert!(far.iter().all(|s| torus.distance(s[0], s[1]) > 1.5 && torus.distance(s[1], s[2]) > 1.5));
    /// ```
    pub fn far_subsets(
        &self,
        order: usize,
        count: usize,
        min_distance: f64,
        seed: u64,
    ) -> crate::Result<Vec<Vec<usize>>> {
        use rand::Rng as _;
        let n = self.n_sites();
        if order == 0 || order > n {
            return Err(crate::Error::param(
                "order",
                format!("must be between 1 and the {n} sites, got {order}"),
            ));
        }
        let mut rng = crate::rng::rng(seed);
        let mut out = Vec::with_capacity(count);
        let mut draws = 0usize;
        while out.len() < count {
            draws += 1;
            if draws > 10_000 * (out.len() + 1) {
                return Err(crate::Error::param(
                    "min_distance",
                    format!(
                        "fewer than 1 in 10 000 random {order}-subsets of a {}x{} lattice have \
                         all units farther apart than {min_distance}",
                        self.rows, self.cols
                    ),
                ));
            }
            let mut s: Vec<usize> = (0..order).map(|_| rng.random_range(0..n)).collect();
            s.sort_unstable();
            let far = (0..order)
                .all(|a| (a + 1..order).all(|b| self.distance(s[a], s[b]) > min_distance));
            if far {
                out.push(s);
            }
        }
        Ok(out)
    }
}

impl std::str::FromStr for LatticeShape {
    type Err = crate::Error;

    /// `ROWSxCOLS`, open boundaries.
    fn from_str(s: &str) -> crate::Result<Self> {
        let parsed = s.split_once('x').and_then(|(r, c)| {
            Some((
                r.trim().parse::<usize>().ok()?,
                c.trim().parse::<usize>().ok()?,
            ))
        });
        match parsed {
            Some((rows, cols)) if rows > 0 && cols > 0 => Ok(LatticeShape {
                rows,
                cols,
                periodic: false,
            }),
            _ => Err(crate::Error::param(
                "shape",
                format!("expected ROWSxCOLS with both at least 1, got `{s}`"),
            )),
        }
    }
}
