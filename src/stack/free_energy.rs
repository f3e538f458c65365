//! Per-layer free energies: Hinton's overfitting monitor at every level (with a bootstrap error
//! bar), the per-unit negative log-likelihood (exact ln Z or AIS), and a summary of each
//! layer's coarse (hidden-side) Hamiltonian.

use rand::seq::SliceRandom;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::checked::checked_builder;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::estimate::ais::{Ais, AisBase, AisConfig};
use crate::estimate::exact;
use crate::float::Float;
use crate::rbm::Rbm;
use crate::rng::stream_rng;
use crate::stack::{propagate, Propagation, Stack};

/// Settings of [`Stack::free_energies`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FreeEnergyOptions {
    /// Rows of the training data (a fixed random subset) and of the held-out data (likewise)
    /// used at every level (default 1000).
    pub subset: usize,
    /// Bootstrap replicates of the gap's error bar (default 200; 0: no error bar).
    pub bootstrap: usize,
    /// Seed of the subsets, of the propagation's draws and of the bootstrap.
    pub seed: u64,
    /// Propagation between levels (`None`: the one the stack was trained with).
    pub propagation: Option<Propagation>,
    /// Exact ln Z when `min(n_visible, n_hidden) <= exact_max_units` (default 20).
    pub exact_max_units: usize,
    /// AIS for the layers too large to enumerate (`None`: no ln Z for them).
    pub ais: Option<AisConfig>,
    /// Summarise the coarse Hamiltonian's couplings of layers with at most this many hidden
    /// units (default 1000; the pair matrix costs `n_hidden^2 n_visible / 2` terms).
    pub coarse_max_units: usize,
}

impl Default for FreeEnergyOptions {
    fn default() -> Self {
        FreeEnergyOptions {
            subset: 1000,
            bootstrap: 200,
            seed: 0,
            propagation: None,
            exact_max_units: 20,
            ais: None,
            coarse_max_units: 1000,
        }
    }
}

impl FreeEnergyOptions {
    /// Checks the settings: a subset of at least one row, and the AIS settings.
    pub fn validate(&self) -> Result<()> {
        if self.subset == 0 {
            return Err(Error::param("subset", "must be >= 1"));
        }
        if let Some(ais) = &self.ais {
            ais.validate()?;
        }
        Ok(())
    }
}

/// How a ln Z was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LnZMethod {
    /// Exact enumeration of the smaller layer.
    Exact,
    /// Annealed importance sampling.
    Ais,
}

/// A log-partition function with its interval (`lower = upper = value` when exact).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LnZ {
    /// The estimate.
    pub value: f64,
    /// Lower end (AIS: `ln(mean w - 3 sd/sqrt M)`, possibly `-inf`).
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
    /// How it was computed.
    pub method: LnZMethod,
}

/// Summary of the coarse Hamiltonian `F_hid(h)` of one layer in the lattice-gas (`{0,1}`)
/// basis, where couplings are exact and local (see [`crate::hamiltonian`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoarseSummary {
    /// Units of the coarse level (the layer's hidden units).
    pub n_units: usize,
    /// Units integrated out (the layer's visible units).
    pub n_integrated: usize,
    /// The constant `K_{}`.
    pub constant: f64,
    /// Mean field `K_i`.
    pub field_mean: f64,
    /// Mean pair coupling `K_ij` over all pairs.
    pub pair_mean: f64,
    /// Mean `|K_ij|`.
    pub pair_mean_abs: f64,
    /// Largest `|K_ij|`.
    pub pair_max_abs: f64,
    /// The pair with the largest `|K_ij|` (0-based units).
    pub pair_max_units: (usize, usize),
}

/// Free energies of one layer on its own input (the previous level's representation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerFreeEnergy {
    /// 1-based layer.
    pub layer: usize,
    /// Visible units of the layer.
    pub n_visible: usize,
    /// Hidden units of the layer.
    pub n_hidden: usize,
    /// Training rows used.
    pub n_train: usize,
    /// Held-out rows used.
    pub n_held_out: usize,
    /// Mean `F(v)` of the training subset.
    pub free_energy_train: f64,
    /// Mean `F(v)` of the held-out rows.
    pub free_energy_held_out: f64,
    /// `free_energy_held_out - free_energy_train` (ln Z cancels; > 0 signals overfitting).
    pub gap: f64,
    /// Bootstrap standard error of the gap (both sets resampled), `NaN` without bootstrap.
    pub gap_stderr: f64,
    /// ln Z of the layer, when computed.
    pub ln_z: Option<LnZ>,
    /// `(mean F + ln Z) / n_visible` on the training subset: negative log-likelihood per unit.
    pub nll_per_unit_train: Option<f64>,
    /// The same on the held-out rows.
    pub nll_per_unit_held_out: Option<f64>,
    /// The layer's coarse Hamiltonian, when summarised.
    pub coarse: Option<CoarseSummary>,
}

impl LayerFreeEnergy {
    /// The layers of several stacks in one table, one block of rows per stack, each row
    /// labelled (column `header`, e.g. `T` with the temperatures): `ln Z` (with how it was
    /// computed), the negative log-likelihood per unit of the training and held-out rows, and
    /// Hinton's gap with its bootstrap standard error.
    ///
    /// ```
    /// use emf_rbm::data::Dataset;
    /// use emf_rbm::stack::{FreeEnergyOptions, LayerFreeEnergy, Stack, StackConfig};
    /// use emf_rbm::train::TrainConfig;
    /// let data = Dataset::digits().binarize(0.5);
    /// let layer = |nh| TrainConfig::builder().n_hidden(nh).epochs(1).build();
    /// let config = StackConfig::builder().layer(layer(8)?).layer(layer(4)?).build()?;
    /// let stack = Stack::<f64>::fit(&config, &data, None)?;
    /// let free = stack.free_energies(&data, &data, &FreeEnergyOptions::default())?;
    /// let table = LayerFreeEnergy::table("run", &["digits"], &[free]);
    /// assert_eq!(table.lines().count(), 3); // a header and two layers
    /// # Ok::<(), emf_rbm::Error>(())
    /// ```
    pub fn table<L: std::fmt::Display>(
        header: &str,
        labels: &[L],
        stacks: &[Vec<LayerFreeEnergy>],
    ) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "{header:>8} {:>6} {:>8} {:>22} {:>10} {:>10} {:>17}\n",
            "layer", "units", "ln Z", "NLL/unit", "(held out)", "gap +- s.e."
        );
        let dash = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
        for (label, layers) in labels.iter().zip(stacks) {
            for f in layers {
                let z = f.ln_z.map_or("-".to_string(), |z| {
                    format!("{:.2} ({:?})", z.value, z.method)
                });
                let _ = writeln!(
                    out,
                    "{:>8} {:>6} {:>8} {:>22} {:>10} {:>10} {:>8.3} +- {:.3}",
                    label.to_string(),
                    f.layer,
                    format!("{}x{}", f.n_visible, f.n_hidden),
                    z,
                    dash(f.nll_per_unit_train),
                    dash(f.nll_per_unit_held_out),
                    f.gap,
                    f.gap_stderr
                );
            }
        }
        out
    }
}

impl<T: Float> Stack<T> {
    /// Per-layer free energies of `train` (a fixed subset) and `held_out`, each propagated
    /// through the stack; the overfitting gap with its bootstrap error bar; the negative
    /// log-likelihood per unit; and a summary of each layer's coarse Hamiltonian.
    pub fn free_energies(
        &self,
        train: &Dataset,
        held_out: &Dataset,
        opts: &FreeEnergyOptions,
    ) -> Result<Vec<LayerFreeEnergy>> {
        opts.validate()?;
        if train.is_empty() || held_out.is_empty() {
            return Err(Error::param(
                "data",
                "free energies need non-empty training and held-out sets",
            ));
        }
        let propagation = opts.propagation.unwrap_or_else(|| self.propagation());
        let pick = |d: &Dataset, stream: u64| -> Result<Dataset> {
            let mut idx: Vec<usize> = (0..d.n_samples()).collect();
            if d.n_samples() > opts.subset {
                idx.shuffle(&mut stream_rng(opts.seed, stream));
                idx.truncate(opts.subset);
                idx.sort_unstable();
            }
            d.subset(&idx)
        };
        let mut x = pick(train, 0)?;
        let mut y = pick(held_out, 1)?;
        let mut out = Vec::with_capacity(self.n_layers());
        for (l, rbm) in self.layers.iter().enumerate() {
            if l > 0 {
                let prev = &self.layers[l - 1];
                x = propagate(
                    prev,
                    &x,
                    propagation,
                    &mut stream_rng(opts.seed, 100 + 2 * l as u64),
                )?;
                y = propagate(
                    prev,
                    &y,
                    propagation,
                    &mut stream_rng(opts.seed, 101 + 2 * l as u64),
                )?;
            }
            out.push(layer_report(rbm, l + 1, &x, &y, opts)?);
        }
        Ok(out)
    }
}

fn layer_report<T: Float>(
    rbm: &Rbm<T>,
    layer: usize,
    x: &Dataset,
    y: &Dataset,
    opts: &FreeEnergyOptions,
) -> Result<LayerFreeEnergy> {
    let fx = rbm.free_energy(x.to_mat::<T>().as_ref());
    let fy = rbm.free_energy(y.to_mat::<T>().as_ref());
    let (mx, my) = (mean(&fx), mean(&fy));
    let gap_stderr = bootstrap_gap_stderr(&fx, &fy, opts.bootstrap, opts.seed, layer as u64);
    let ln_z = if exact::feasible(rbm, opts.exact_max_units) {
        let z = exact::log_partition(rbm)?;
        Some(LnZ {
            value: z,
            lower: z,
            upper: z,
            method: LnZMethod::Exact,
        })
    } else if let Some(cfg) = &opts.ais {
        let ais = Ais::new(cfg.clone())?;
        let est = ais.estimate(rbm, &AisBase::from_data(x, 0.05)?)?;
        Some(LnZ {
            value: est.log_z,
            lower: est.log_z_lower,
            upper: est.log_z_upper,
            method: LnZMethod::Ais,
        })
    } else {
        None
    };
    let nv = rbm.n_visible() as f64;
    let coarse = if rbm.n_hidden() <= opts.coarse_max_units {
        Some(coarse_summary(rbm))
    } else {
        None
    };
    Ok(LayerFreeEnergy {
        layer,
        n_visible: rbm.n_visible(),
        n_hidden: rbm.n_hidden(),
        n_train: fx.len(),
        n_held_out: fy.len(),
        free_energy_train: mx,
        free_energy_held_out: my,
        gap: my - mx,
        gap_stderr,
        ln_z,
        nll_per_unit_train: ln_z.map(|z| (mx + z.value) / nv),
        nll_per_unit_held_out: ln_z.map(|z| (my + z.value) / nv),
        coarse,
    })
}

/// Summary of `EffectiveHamiltonian::hidden(rbm)` in the lattice-gas basis.
pub(crate) fn coarse_summary<T: Float>(rbm: &Rbm<T>) -> CoarseSummary {
    let ham = crate::hamiltonian::EffectiveHamiltonian::hidden(rbm);
    let n = ham.n_units();
    let fields = ham.fields();
    let pm = ham.pair_matrix();
    let (mut sum, mut sum_abs, mut max_abs, mut arg, mut count) = (0.0, 0.0, 0.0, (0, 0), 0usize);
    for i in 0..n {
        for k in i + 1..n {
            let v = pm[(i, k)];
            sum += v;
            sum_abs += v.abs();
            if v.abs() > max_abs {
                max_abs = v.abs();
                arg = (i, k);
            }
            count += 1;
        }
    }
    let c = count.max(1) as f64;
    CoarseSummary {
        n_units: n,
        n_integrated: ham.n_integrated(),
        constant: ham.constant(),
        field_mean: mean(&fields),
        pair_mean: sum / c,
        pair_mean_abs: sum_abs / c,
        pair_max_abs: max_abs,
        pair_max_units: arg,
    }
}

/// Standard deviation over `replicates` bootstrap resamples (both sets, with replacement) of
/// `mean(held_out) - mean(train)`; `NaN` when `replicates < 2`.
pub(crate) fn bootstrap_gap_stderr(
    train: &[f64],
    held_out: &[f64],
    replicates: usize,
    seed: u64,
    stream: u64,
) -> f64 {
    if replicates < 2 || train.is_empty() || held_out.is_empty() {
        return f64::NAN;
    }
    let mut r = stream_rng(seed, 10_000 + stream);
    let mut draws = Vec::with_capacity(replicates);
    let resample_mean = |x: &[f64], r: &mut crate::rng::Rng| {
        let n = x.len();
        (0..n).map(|_| x[r.random_range(0..n)]).sum::<f64>() / n as f64
    };
    for _ in 0..replicates {
        let t = resample_mean(train, &mut r);
        let h = resample_mean(held_out, &mut r);
        draws.push(h - t);
    }
    let m = mean(&draws);
    (draws.iter().map(|d| (d - m).powi(2)).sum::<f64>() / (replicates - 1) as f64).sqrt()
}

pub(crate) fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

checked_builder!(
    /// Builder of [`FreeEnergyOptions`] (starts from the defaults; `build()` checks every value).
    FreeEnergyOptionsBuilder for FreeEnergyOptions {
        /// Rows of the training data (a fixed random subset) and of the held-out data (likewise).
        subset: usize,
        /// Bootstrap replicates of the gap's error bar (default 200; 0: no error bar).
        bootstrap: usize,
        /// Seed of the subsets, of the propagation's draws and of the bootstrap.
        seed: u64,
        /// Propagation between levels (`None`: the one the stack was trained with).
        propagation: Option<Propagation>,
        /// Exact ln Z when `min(n_visible, n_hidden) <= exact_max_units` (default 20).
        exact_max_units: usize,
        /// AIS for the layers too large to enumerate (`None`: no ln Z for them).
        ais: Option<AisConfig>,
        /// Summarise the coarse Hamiltonian's couplings of layers with at most this many hidden.
        coarse_max_units: usize,
    }
);
