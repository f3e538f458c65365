//! A periodic `L x L` configuration of `+-1` spins and the local moves of the samplers.

use rand::Rng as _;

use crate::rng::Rng;

/// A periodic `L x L` configuration of `+-1` spins (`J = 1`, each site bonded to its right and
/// lower neighbour, wrapping around).
///
/// ```
/// use emf_rbm::ising::IsingLattice;
/// let mut lat = IsingLattice::ordered(4);
/// assert_eq!(lat.energy(), -32.0); // 2 N bonds, all satisfied
/// lat.flip_all();
/// assert_eq!(lat.magnetization(), -1.0);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsingLattice {
    l: usize,
    spins: Vec<i8>,
}

impl IsingLattice {
    /// All spins up.
    pub fn ordered(l: usize) -> Self {
        IsingLattice {
            l,
            spins: vec![1; l * l],
        }
    }

    /// Independent uniform spins (the infinite-temperature state).
    pub fn random(l: usize, rng: &mut Rng) -> Self {
        IsingLattice {
            l,
            spins: (0..l * l)
                .map(|_| if rng.random::<bool>() { 1 } else { -1 })
                .collect(),
        }
    }

    /// Side length.
    pub fn size(&self) -> usize {
        self.l
    }

    /// Spins, row-major (`r * L + c`).
    pub fn spins(&self) -> &[i8] {
        &self.spins
    }

    #[inline]
    fn neighbours(&self, site: usize) -> [usize; 4] {
        let l = self.l;
        let (r, c) = (site / l, site % l);
        [
            ((r + l - 1) % l) * l + c,
            ((r + 1) % l) * l + c,
            r * l + (c + l - 1) % l,
            r * l + (c + 1) % l,
        ]
    }

    /// Total energy `-sum_<ij> s_i s_j` (each bond once).
    pub fn energy(&self) -> f64 {
        let l = self.l;
        let mut e = 0i64;
        for r in 0..l {
            for c in 0..l {
                let s = self.spins[r * l + c] as i64;
                e -= s * self.spins[r * l + (c + 1) % l] as i64;
                e -= s * self.spins[((r + 1) % l) * l + c] as i64;
            }
        }
        e as f64
    }

    /// Magnetization per site `sum s / N`.
    pub fn magnetization(&self) -> f64 {
        self.spins.iter().map(|&s| s as i64).sum::<i64>() as f64 / self.spins.len() as f64
    }

    /// Flips every spin: an exact symmetry of the zero-field model, so applying it with
    /// probability 1/2 preserves the Boltzmann distribution.
    pub fn flip_all(&mut self) {
        for s in &mut self.spins {
            *s = -*s;
        }
    }

    /// One Metropolis sweep (sites in order, `N` proposals) at inverse temperature `beta`;
    /// returns the number of accepted flips.
    pub fn metropolis_sweep(&mut self, beta: f64, rng: &mut Rng) -> usize {
        // acceptance for dE = 4, 8 as u32 thresholds
        let p4 = (-4.0 * beta).exp();
        let p8 = (-8.0 * beta).exp();
        let t4 = (p4 * 4_294_967_296.0).min(4_294_967_295.0) as u64;
        let t8 = (p8 * 4_294_967_296.0).min(4_294_967_295.0) as u64;
        let mut accepted = 0;
        for site in 0..self.spins.len() {
            let nb = self.neighbours(site);
            let sum: i32 = nb.iter().map(|&n| self.spins[n] as i32).sum();
            let de = 2 * self.spins[site] as i32 * sum;
            let flip = match de {
                d if d <= 0 => true,
                4 => (rng.random::<u32>() as u64) < t4,
                _ => (rng.random::<u32>() as u64) < t8,
            };
            if flip {
                self.spins[site] = -self.spins[site];
                accepted += 1;
            }
        }
        accepted
    }

    /// One Wolff cluster update at inverse temperature `beta` (bonds to aligned neighbours
    /// added with probability `1 - e^{-2 beta}`); returns the cluster size. Each single update
    /// satisfies detailed balance; so does any fixed number of them in a row (but not "until
    /// N spins flipped", whose stopping time depends on the clusters).
    pub fn wolff_update(&mut self, beta: f64, rng: &mut Rng, stack: &mut Vec<usize>) -> usize {
        let p_add = 1.0 - (-2.0 * beta).exp();
        let n = self.spins.len();
        let seed = rng.random_range(0..n);
        let s0 = self.spins[seed];
        self.spins[seed] = -s0;
        stack.clear();
        stack.push(seed);
        let mut size = 1;
        while let Some(site) = stack.pop() {
            for nb in self.neighbours(site) {
                if self.spins[nb] == s0 && rng.random::<f64>() < p_add {
                    self.spins[nb] = -s0;
                    stack.push(nb);
                    size += 1;
                }
            }
        }
        size
    }
}
