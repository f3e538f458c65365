//! Renormalization-group observables of every level of a stack (Mehta & Schwab 2014):
//! magnetization and nearest-neighbour correlation of the level's units seen as coarse spins
//! `s = 2x - 1`, laid out on a coarse lattice where the geometry allows, and the effective
//! nearest-neighbour coupling of the level's Hamiltonian.
//!
//! Each unit is oriented by the sign of the sum of its receptive field (`sigma_u = +-1`), so
//! that a unit which fires when its block of input spins points down counts as a down spin.

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::checked::checked_builder;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::float::Float;
use crate::hamiltonian::{Basis, EffectiveHamiltonian, SpinMethod};
use crate::rng::stream_rng;
use crate::stack::layout::{receptive_field_radii, CoarseLayout, Layout};
use crate::stack::{square_side, Propagation, Stack};

/// Settings of [`Stack::rg_observables`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RgOptions {
    /// How the data is carried up to each level (default: samples, so every level holds
    /// binary coarse-spin configurations).
    pub propagation: Propagation,
    /// Seed of the subset and of the draws.
    pub seed: u64,
    /// Rows of the data used (a random subset when there are more; default 2000).
    pub max_samples: usize,
    /// How the units of levels above the data are placed on their coarse lattice.
    pub layout: Layout,
    /// Periodic boundaries (for the data's lattice and every coarse lattice; default true).
    pub periodic: bool,
    /// Compute the effective nearest-neighbour couplings (default true).
    pub couplings: bool,
    /// How spin-basis couplings are evaluated (`None`: [`SpinMethod::auto`]).
    pub spin_method: Option<SpinMethod>,
    /// At most this many nearest-neighbour bonds (evenly spaced in site order) enter the mean
    /// coupling (default 400; each spin-basis coupling averages over all other units).
    pub max_coupling_pairs: usize,
}

impl Default for RgOptions {
    fn default() -> Self {
        RgOptions {
            propagation: Propagation::Samples,
            seed: 0,
            max_samples: 2000,
            layout: Layout::ReceptiveField,
            periodic: true,
            couplings: true,
            spin_method: None,
            max_coupling_pairs: 400,
        }
    }
}

impl RgOptions {
    /// Checks the settings: at least one sample and one coupling pair.
    pub fn validate(&self) -> Result<()> {
        if self.max_samples == 0 {
            return Err(Error::param("max_samples", "must be >= 1"));
        }
        if self.max_coupling_pairs == 0 {
            return Err(Error::param(
                "max_coupling_pairs",
                "must be >= 1 (set `couplings: false` to skip the couplings)",
            ));
        }
        Ok(())
    }
}

/// Observables of one level of a stack (level 0 = the data).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerObservables {
    /// 0 for the data, `l` for the hidden units of layer `l`.
    pub level: usize,
    /// Units of the level.
    pub n_units: usize,
    /// The coarse lattice `(rows, cols)` the units were laid out on, when the geometry allows.
    pub lattice: Option<(usize, usize)>,
    /// The layout itself (which unit sits on which site).
    pub layout: Option<CoarseLayout>,
    /// Mean receptive-field radius (rms distance from its centre, in data lattice spacings),
    /// when the data has a lattice; 0 at level 0.
    pub rf_radius: Option<f64>,
    /// Mean unit value `<x>`.
    pub activity: f64,
    /// `<|m|>` with `m = mean_u sigma_u s_u` per sample.
    pub magnetization: f64,
    /// Standard error of `magnetization` (samples treated as independent).
    pub magnetization_stderr: f64,
    /// `<|m_c|>` with each unit centred first (`m_c = mean_u sigma_u (s_u - <s_u>)`): an order
    /// parameter insensitive to the units' biases.
    pub magnetization_connected: f64,
    /// `<sigma_u sigma_w s_u s_w>` over nearest-neighbour pairs and samples.
    pub nn_correlation: Option<f64>,
    /// The connected version, `sigma_u sigma_w (<s_u s_w> - <s_u><s_w>)`, averaged over pairs.
    pub nn_connected: Option<f64>,
    /// Mean oriented spin-basis coupling `sigma_u sigma_w J_uw` over nearest-neighbour pairs of
    /// the Hamiltonian the layer above learned for this level (its visible free energy); `None`
    /// at the top level.
    pub coupling_nn: Option<f64>,
    /// The same for the coarse Hamiltonian of the layer below (its hidden-side free energy,
    /// with the level below integrated out); `None` at level 0.
    pub coupling_nn_coarse: Option<f64>,
    /// How the spin-basis couplings were evaluated (exact or Gaussian approximation).
    pub coupling_method: Option<String>,
    /// Number of nearest-neighbour bonds the couplings were averaged over.
    pub coupling_pairs: usize,
}

impl LayerObservables {
    /// The levels of several stacks in one table, one block of rows per stack, each row
    /// labelled (column `header`, e.g. `T`): units, coarse lattice, `<|m|>`, the
    /// nearest-neighbour correlation, and the mean nearest-neighbour coupling of the level's
    /// Hamiltonian as the layer above sees it (`J_nn (H_l)`) and as the layer below leaves it
    /// (`J_nn coarse`).
    pub fn table<L: std::fmt::Display>(
        header: &str,
        labels: &[L],
        stacks: &[Vec<LayerObservables>],
    ) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "{header:>8} {:>6} {:>6} {:>9} {:>8} {:>8} {:>12} {:>12}\n",
            "level", "units", "lattice", "<|m|>", "<s s'>", "J_nn (H_l)", "J_nn coarse"
        );
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
        for (label, levels) in labels.iter().zip(stacks) {
            for o in levels {
                let lattice = o
                    .lattice
                    .map_or("-".to_string(), |(r, c)| format!("{r}x{c}"));
                let _ = writeln!(
                    out,
                    "{:>8} {:>6} {:>6} {:>9} {:>8.3} {:>8} {:>12} {:>12}",
                    label.to_string(),
                    o.level,
                    o.n_units,
                    lattice,
                    o.magnetization,
                    f(o.nn_correlation),
                    f(o.coupling_nn),
                    f(o.coupling_nn_coarse)
                );
            }
        }
        out
    }
}

impl<T: Float> Stack<T> {
    /// The RG observables of every level `0..=n_layers` on `data` (level 0 = `data` itself).
    ///
    /// The units of level `l >= 1` are laid out on a `sqrt(n) x sqrt(n)` lattice when `n_l` is
    /// a perfect square and the data has a lattice (its image shape, or a square number of
    /// features); otherwise lattice quantities are `None`.
    pub fn rg_observables(
        &self,
        data: &Dataset,
        opts: &RgOptions,
    ) -> Result<Vec<LayerObservables>> {
        opts.validate()?;
        let sizes = self.sizes();
        if data.n_features() != sizes[0] {
            return Err(Error::Shape(format!(
                "data has {} features but the stack has {} visible units",
                data.n_features(),
                sizes[0]
            )));
        }
        if data.is_empty() {
            return Err(Error::param("data", "no samples to measure"));
        }
        let mut idx: Vec<usize> = (0..data.n_samples()).collect();
        if idx.len() > opts.max_samples {
            idx.shuffle(&mut stream_rng(opts.seed, 0));
            idx.truncate(opts.max_samples);
            idx.sort_unstable();
        }
        let base = data.subset(&idx)?;
        let reps = self.representations(&base, opts.propagation, opts.seed)?;
        let shape0 = data
            .image_shape()
            .or_else(|| square_side(sizes[0]).map(|s| (s, s)));
        let mut out = Vec::with_capacity(sizes.len());
        for (level, rep) in reps.iter().enumerate() {
            let geometry = self.level_geometry(level, shape0, opts)?;
            let pairs = geometry
                .layout
                .as_ref()
                .map(|l| l.neighbour_pairs(opts.periodic))
                .filter(|p| !p.is_empty());
            let mut obs = spin_statistics(rep, &geometry.orientation, pairs.as_deref());
            obs.level = level;
            obs.lattice = geometry.layout.as_ref().map(|l| (l.rows, l.cols));
            obs.layout = geometry.layout;
            obs.rf_radius = geometry.rf_radius;
            if let (true, Some(all)) = (opts.couplings, pairs.as_deref()) {
                self.add_couplings(level, all, &geometry.orientation, opts, &mut obs)?;
            }
            out.push(obs);
        }
        Ok(out)
    }

    /// Where the units of `level` sit: their orientation (the sign of their receptive
    /// field's sum), the mean receptive-field radius and their lattice layout, when the data
    /// has a lattice (`shape0`).
    fn level_geometry(
        &self,
        level: usize,
        shape0: Option<(usize, usize)>,
        opts: &RgOptions,
    ) -> Result<LevelGeometry> {
        let n = self.sizes()[level];
        if level == 0 {
            return Ok(LevelGeometry {
                orientation: vec![1.0; n],
                rf_radius: shape0.map(|_| 0.0),
                layout: shape0.map(|(r, c)| CoarseLayout::identity(r, c)),
            });
        }
        let rf = self.receptive_fields(level)?;
        let orientation: Vec<f64> = (0..n)
            .map(|u| {
                let s: f64 = rf.col(u).iter().sum();
                if s < 0.0 {
                    -1.0
                } else {
                    1.0
                }
            })
            .collect();
        let rf_radius = shape0.map(|sh| {
            let r = receptive_field_radii(rf.as_ref(), sh, opts.periodic);
            r.iter().sum::<f64>() / n as f64
        });
        let layout = match (square_side(n), shape0, opts.layout) {
            (Some(s), Some(sh), Layout::ReceptiveField) => Some(
                CoarseLayout::from_receptive_fields(rf.as_ref(), sh, s, s, opts.periodic)?,
            ),
            (Some(s), _, _) => Some(CoarseLayout::identity(s, s)),
            _ => None,
        };
        Ok(LevelGeometry {
            orientation,
            rf_radius,
            layout,
        })
    }

    /// The mean oriented nearest-neighbour spin couplings of `level` (over at most
    /// `opts.max_coupling_pairs` of the bonds `all`, evenly spaced): of the Hamiltonian the
    /// layer above learned, and of the coarse Hamiltonian of the layer below.
    fn add_couplings(
        &self,
        level: usize,
        all: &[(usize, usize)],
        orientation: &[f64],
        opts: &RgOptions,
        obs: &mut LayerObservables,
    ) -> Result<()> {
        let method = opts
            .spin_method
            .clone()
            .unwrap_or_else(|| SpinMethod::auto(self.sizes()[level]));
        let keep = opts.max_coupling_pairs;
        let pairs: Vec<(usize, usize)> = if all.len() > keep {
            (0..keep).map(|k| all[k * all.len() / keep]).collect()
        } else {
            all.to_vec()
        };
        let oriented_mean = |ham: &EffectiveHamiltonian| -> Result<f64> {
            let subsets: Vec<Vec<usize>> = pairs.iter().map(|&(u, w)| vec![u, w]).collect();
            let c = ham.couplings_of(&subsets, Basis::Spin, &method)?;
            let s: f64 = pairs
                .iter()
                .zip(&c)
                .map(|(&(u, w), c)| orientation[u] * orientation[w] * c.value)
                .sum();
            Ok(s / pairs.len() as f64)
        };
        obs.coupling_pairs = pairs.len();
        if level < self.n_layers() {
            obs.coupling_nn = Some(oriented_mean(&EffectiveHamiltonian::new(
                &self.layers[level],
            ))?);
        }
        if level > 0 {
            obs.coupling_nn_coarse = Some(oriented_mean(&EffectiveHamiltonian::hidden(
                &self.layers[level - 1],
            ))?);
        }
        obs.coupling_method = Some(method.to_string());
        Ok(())
    }
}

/// Orientation, receptive-field radius and layout of the units of one level.
struct LevelGeometry {
    orientation: Vec<f64>,
    rf_radius: Option<f64>,
    layout: Option<CoarseLayout>,
}

/// Magnetizations and nearest-neighbour correlations of the rows of `rep` as spins
/// `s = 2x - 1`, oriented by `orientation`.
fn spin_statistics(
    rep: &Dataset,
    orientation: &[f64],
    pairs: Option<&[(usize, usize)]>,
) -> LayerObservables {
    let n = rep.n_features();
    let rows = rep.n_samples().max(1) as f64;
    let mut unit_mean = vec![0.0; n];
    let mut activity = 0.0;
    for row in rep.rows() {
        for (u, &x) in row.iter().enumerate() {
            unit_mean[u] += 2.0 * x - 1.0;
            activity += x;
        }
    }
    unit_mean.iter_mut().for_each(|m| *m /= rows);
    activity /= rows * n as f64;
    let (mut m_abs, mut m_sq, mut mc_abs) = (0.0, 0.0, 0.0);
    let npairs = pairs.map_or(0, |p| p.len());
    let mut pair_prod = vec![0.0; npairs];
    for row in rep.rows() {
        let (mut m, mut mc) = (0.0, 0.0);
        for (u, &x) in row.iter().enumerate() {
            let s = 2.0 * x - 1.0;
            m += orientation[u] * s;
            mc += orientation[u] * (s - unit_mean[u]);
        }
        m /= n as f64;
        mc /= n as f64;
        m_abs += m.abs();
        m_sq += m * m;
        mc_abs += mc.abs();
        if let Some(p) = pairs {
            for (k, &(u, w)) in p.iter().enumerate() {
                pair_prod[k] += (2.0 * row[u] - 1.0) * (2.0 * row[w] - 1.0);
            }
        }
    }
    let magnetization = m_abs / rows;
    let var = (m_sq / rows - magnetization * magnetization).max(0.0);
    let (nn, nnc) = match pairs {
        Some(p) => {
            let (mut a, mut c) = (0.0, 0.0);
            for (k, &(u, w)) in p.iter().enumerate() {
                let o = orientation[u] * orientation[w];
                let corr = pair_prod[k] / rows;
                a += o * corr;
                c += o * (corr - unit_mean[u] * unit_mean[w]);
            }
            (Some(a / npairs as f64), Some(c / npairs as f64))
        }
        None => (None, None),
    };
    LayerObservables {
        level: 0,
        n_units: n,
        lattice: None,
        layout: None,
        rf_radius: None,
        activity,
        magnetization,
        magnetization_stderr: (var / rows).sqrt(),
        magnetization_connected: mc_abs / rows,
        nn_correlation: nn,
        nn_connected: nnc,
        coupling_nn: None,
        coupling_nn_coarse: None,
        coupling_method: None,
        coupling_pairs: 0,
    }
}

checked_builder!(
    /// Builder of [`RgOptions`] (starts from the defaults; `build()` checks every value).
    RgOptionsBuilder for RgOptions {
        /// How the data is carried up to each level (default: samples).
        propagation: Propagation,
        /// Seed of the subset and of the draws.
        seed: u64,
        /// Rows of the data used (a random subset when there are more; default 2000).
        max_samples: usize,
        /// How the units of levels above the data are placed on their coarse lattice.
        layout: Layout,
        /// Periodic boundaries (for the data's lattice and every coarse lattice; default true).
        periodic: bool,
        /// Compute the effective nearest-neighbour couplings (default true).
        couplings: bool,
        /// How spin-basis couplings are evaluated (`None`: [`SpinMethod::auto`]).
        spin_method: Option<SpinMethod>,
        /// At most this many nearest-neighbour bonds (evenly spaced in site order) enter the mean.
        max_coupling_pairs: usize,
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{FreeEnergyOptions, StackConfig};
    use crate::train::TrainConfig;

    /// Zero subsets are errors naming the setting, not silently raised to 1.
    #[test]
    fn zero_sizes_are_refused() {
        let data = Dataset::digits().binarize(0.5).head(40);
        let layer = TrainConfig::builder()
            .n_hidden(4)
            .epochs(1)
            .build()
            .unwrap();
        let cfg = StackConfig::builder().layer(layer).build().unwrap();
        let stack = Stack::<f64>::fit(&cfg, &data, None).unwrap();
        for (opts, name) in [
            (
                RgOptions {
                    max_samples: 0,
                    ..RgOptions::default()
                },
                "max_samples",
            ),
            (
                RgOptions {
                    max_coupling_pairs: 0,
                    ..RgOptions::default()
                },
                "max_coupling_pairs",
            ),
        ] {
            let err = stack.rg_observables(&data, &opts).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
        assert!(stack.rg_observables(&data, &RgOptions::default()).is_ok());
        let fe = FreeEnergyOptions {
            subset: 0,
            ..FreeEnergyOptions::default()
        };
        let err = stack
            .free_energies(&data, &data, &fe)
            .unwrap_err()
            .to_string();
        assert!(err.contains("subset"), "{err}");
    }
}
