//! How well an RBM trained on Ising samples recovers the Ising Hamiltonian, coupling by
//! coupling: the checks of notebook 04.
//!
//! Samples of the periodic `L x L` model at temperature `T` come from `-H/T = beta sum_<ij>
//! s_i s_j`: in the spin basis `J_nn = beta` on the `2 L^2` bonds and zero for every other
//! pair, every field and every 3- and 4-body term (in the lattice-gas basis `K_nn = 4 beta`).
//! [`PairRecovery`] groups the pair couplings of the RBM's visible Hamiltonian by lattice
//! distance; [`HigherOrderRecovery`] measures the fields and the 3- and 4-body couplings that
//! should vanish, on local sets (triples in a site's neighbourhood, plaquettes) and on far
//! controls.
//!
//! ```
//! use emf_rbm::ising::recovery::{HigherOrderOptions, HigherOrderRecovery, PairRecovery};
//! use emf_rbm::Rbm;
//! // An untrained RBM on the 4 x 4 torus: every coupling is 0.
//! let rbm = Rbm::<f64>::zeros(16, 8)?;
//! let pairs = PairRecovery::new(&rbm, 4, 2.5)?;
//! assert_eq!((pairs.n_hidden, pairs.j_nn().count, pairs.j_nn().mean), (8, 32, 0.0));
//! let higher = HigherOrderRecovery::new(&rbm, 4, 2.5, &HigherOrderOptions::default())?;
//! assert_eq!(higher.j4_plaquette_abs, 0.0);
//! print!("{}{}", PairRecovery::table(&[pairs]), HigherOrderRecovery::table(&[higher]));
//! # Ok::<(), emf_rbm::Error>(())
//! ```

use std::fmt::Write as _;

use faer::Mat;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::hamiltonian::{
    lattice_neighbourhoods, Basis, Coupling, DistanceShell, EffectiveHamiltonian, LatticeShape,
    SpinMethod,
};
use crate::rbm::Rbm;

fn torus(rbm_units: usize, l: usize) -> Result<LatticeShape> {
    if rbm_units != l * l || l < 2 {
        return Err(Error::Shape(format!(
            "an RBM of {rbm_units} visible units is not an {l}x{l} lattice"
        )));
    }
    Ok(LatticeShape {
        rows: l,
        cols: l,
        periodic: true,
    })
}

/// The pair couplings of one RBM's visible Hamiltonian on the `L x L` torus.
#[derive(Clone, Debug)]
pub struct PairRecovery {
    /// The temperature of the training samples.
    pub temperature: f64,
    /// Hidden units of the RBM.
    pub n_hidden: usize,
    /// Spin-basis pair couplings by lattice distance, nearest first
    /// ([`LatticeShape::shells`]): `[0]` the bonds (truly `beta`), `[1]` the diagonals and
    /// `[2]` distance 2 (truly 0), then the farther shells (truly 0).
    pub shells: Vec<DistanceShell>,
    /// Mean exact lattice-gas coupling `K` over the bonds (truly `4 beta`).
    pub k_nn: f64,
    /// `H_eff(all up) - H_eff(all down)`: 0 for the up-down symmetric Ising model.
    pub up_down: f64,
    /// The spin-basis pair couplings (`L^2 x L^2`, symmetric, zero diagonal).
    pub pairs: Mat<f64>,
}

impl PairRecovery {
    /// The pair couplings of `rbm`'s visible Hamiltonian (spin basis by
    /// [`SpinMethod::auto`]), trained on samples at `temperature` of the `l x l` torus.
    pub fn new<T: Float>(rbm: &Rbm<T>, l: usize, temperature: f64) -> Result<Self> {
        let shape = torus(rbm.n_visible(), l)?;
        let ham = EffectiveHamiltonian::new(rbm);
        let pairs = ham.pair_matrix_spin(&SpinMethod::auto(l * l))?;
        let shells = shape.shells(pairs.as_ref())?;
        let k = shape.shells(ham.pair_matrix().as_ref())?;
        let n = l * l;
        Ok(PairRecovery {
            temperature,
            n_hidden: rbm.n_hidden(),
            shells,
            k_nn: k[0].mean,
            up_down: ham.energy(&vec![1.0; n]) - ham.energy(&vec![0.0; n]),
            pairs,
        })
    }

    /// The nearest-neighbour shell (the bonds).
    pub fn j_nn(&self) -> &DistanceShell {
        &self.shells[0]
    }

    /// Mean coupling of the shell at index `k` (0 when the lattice has no such shell).
    fn shell_mean(&self, k: usize) -> f64 {
        self.shells.get(k).map_or(0.0, |s| s.mean)
    }

    /// Mean `|J|` over every pair beyond the first three shells (bonds, diagonals,
    /// distance 2); 0 when there are none.
    pub fn far_mean_abs(&self) -> f64 {
        let far = self.shells.iter().skip(3);
        let count: usize = far.clone().map(|s| s.count).sum();
        let total: f64 = far.map(|s| s.mean_abs * s.count as f64).sum();
        if count == 0 {
            0.0
        } else {
            total / count as f64
        }
    }

    /// One row per RBM: `T`, `beta`, `N_h`, the bond coupling (mean, spread over the bonds,
    /// ratio to `beta`), `K_nn / 4` (the lattice-gas bond coupling rescaled: equal to `J_nn`
    /// for a purely pairwise Hamiltonian), the diagonal and distance-2 means, the mean `|J|`
    /// of farther pairs, `F(+) - F(-)`.
    pub fn table(rows: &[PairRecovery]) -> String {
        let mut out = format!(
            "{:>5} {:>6} {:>4} | {:>7} {:>6} {:>9} {:>7} | {:>8} {:>8} {:>11} | {:>11}\n",
            "T",
            "beta",
            "N_h",
            "J_nn",
            "sd",
            "J_nn/beta",
            "K_nn/4",
            "J_diag",
            "J_dist2",
            "mean|J_far|",
            "F(+) - F(-)"
        );
        for p in rows {
            let nn = p.j_nn();
            let _ = writeln!(
                out,
                "{:>5.2} {:>6.3} {:>4} | {:>7.3} {:>6.3} {:>9.2} {:>7.3} | {:>8.3} {:>8.3} \
                 {:>11.4} | {:>11.2}",
                p.temperature,
                1.0 / p.temperature,
                p.n_hidden,
                nn.mean,
                nn.sd,
                nn.mean * p.temperature,
                p.k_nn / 4.0,
                p.shell_mean(1),
                p.shell_mean(2),
                p.far_mean_abs(),
                p.up_down,
            );
        }
        out
    }
}

/// Which many-body couplings [`HigherOrderRecovery`] measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HigherOrderOptions {
    /// Far triples and quadruples drawn ([`LatticeShape::far_subsets`]).
    pub far_count: usize,
    /// Their units are pairwise farther apart than this.
    pub far_min_distance: f64,
    /// Seed of the far subsets (the same sets at every temperature).
    pub seed: u64,
}

impl Default for HigherOrderOptions {
    /// 300 far sets, units more than 1.5 apart (no two neighbours or diagonals), seed 3.
    fn default() -> Self {
        HigherOrderOptions {
            far_count: 300,
            far_min_distance: 1.5,
            seed: 3,
        }
    }
}

/// The fields and 3- and 4-body couplings of one RBM's visible Hamiltonian on the `L x L`
/// torus: all truly zero for the Ising model.
#[derive(Clone, Debug, PartialEq)]
pub struct HigherOrderRecovery {
    /// The temperature of the training samples.
    pub temperature: f64,
    /// Mean spin-basis field `J_i` (0 by up-down symmetry).
    pub field_mean: f64,
    /// Mean `|J_ijk|` over the triples inside a site's neighbourhood (the site and its four
    /// neighbours).
    pub j3_local: f64,
    /// Mean `|J_ijk|` over the far triples.
    pub j3_far: f64,
    /// Mean `J_ijkl` over the plaquettes (signed: a consistent sign is a plaquette term).
    pub j4_plaquette: f64,
    /// Mean `|J_ijkl|` over the plaquettes.
    pub j4_plaquette_abs: f64,
    /// Mean `|J_ijkl|` over the far quadruples.
    pub j4_far: f64,
    /// Mean `|K_ijk|` (exact lattice gas) over the local triples.
    pub k3_local: f64,
    /// Mean `K_ijkl` (exact lattice gas) over the plaquettes.
    pub k4_plaquette: f64,
    /// Local triples, plaquettes and far sets of each order measured.
    pub counts: (usize, usize, usize),
}

fn mean_of(c: &[Coupling], f: impl Fn(f64) -> f64) -> f64 {
    c.iter().map(|x| f(x.value)).sum::<f64>() / c.len().max(1) as f64
}

impl HigherOrderRecovery {
    /// The many-body couplings of `rbm`'s visible Hamiltonian, trained on samples at
    /// `temperature` of the `l x l` torus (spin basis by [`SpinMethod::auto`]).
    pub fn new<T: Float>(
        rbm: &Rbm<T>,
        l: usize,
        temperature: f64,
        options: &HigherOrderOptions,
    ) -> Result<Self> {
        let shape = torus(rbm.n_visible(), l)?;
        let ham = EffectiveHamiltonian::new(rbm);
        let sm = SpinMethod::auto(l * l);
        let o = options;
        let far3 = shape.far_subsets(3, o.far_count, o.far_min_distance, o.seed)?;
        let far4 = shape.far_subsets(4, o.far_count, o.far_min_distance, o.seed + 1)?;
        let local = lattice_neighbourhoods(l, l, 1.0, true);
        let plaquettes = shape.plaquettes();
        let j3 = ham.triples_in_neighbourhoods(&local, Basis::Spin, &sm)?;
        let k3 = ham.triples_in_neighbourhoods(&local, Basis::LatticeGas, &sm)?;
        let j4 = ham.couplings_of(&plaquettes, Basis::Spin, &sm)?;
        let k4 = ham.couplings_of(&plaquettes, Basis::LatticeGas, &sm)?;
        let fields = ham.fields_spin(&sm)?;
        Ok(HigherOrderRecovery {
            temperature,
            field_mean: fields.iter().sum::<f64>() / fields.len() as f64,
            j3_local: mean_of(&j3, f64::abs),
            j3_far: mean_of(&ham.couplings_of(&far3, Basis::Spin, &sm)?, f64::abs),
            j4_plaquette: mean_of(&j4, |x| x),
            j4_plaquette_abs: mean_of(&j4, f64::abs),
            j4_far: mean_of(&ham.couplings_of(&far4, Basis::Spin, &sm)?, f64::abs),
            k3_local: mean_of(&k3, f64::abs),
            k4_plaquette: mean_of(&k4, |x| x),
            counts: (j3.len(), j4.len(), o.far_count),
        })
    }

    /// One row per RBM: `T`, the mean field, local and far `|J3|`, plaquette `J4` (signed
    /// and absolute), far `|J4|`, local `|K3|` and plaquette `K4`.
    pub fn table(rows: &[HigherOrderRecovery]) -> String {
        let mut out = format!(
            "{:>5} | {:>8} | {:>10} {:>9} | {:>10} {:>10} {:>9} | {:>9} {:>9}\n",
            "T",
            "mean J_i",
            "|J3| local",
            "|J3| far",
            "J4 plaq.",
            "|J4| plaq.",
            "|J4| far",
            "|K3| loc.",
            "K4 plaq."
        );
        for h in rows {
            let _ = writeln!(
                out,
                "{:>5.2} | {:>8.4} | {:>10.2e} {:>9.2e} | {:>+10.2e} {:>10.2e} {:>9.2e} | \
                 {:>9.3} {:>+9.3}",
                h.temperature,
                h.field_mean,
                h.j3_local,
                h.j3_far,
                h.j4_plaquette,
                h.j4_plaquette_abs,
                h.j4_far,
                h.k3_local,
                h.k4_plaquette,
            );
        }
        if let Some(h) = rows.first() {
            let _ = writeln!(
                out,
                "({} local triples, {} plaquettes, {} far triples and quadruples per RBM)",
                h.counts.0, h.counts.1, h.counts.2
            );
        }
        out
    }
}
