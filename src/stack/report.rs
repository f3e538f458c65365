//! The report of a stack run (what `emf-rbm stack` prints and writes): per-layer free
//! energies, RG observables per level and, on Ising data, the reference values; and the RG flow
//! across temperatures ([`RgFlow`]).
//!
//! ```
//! use emf_rbm::data::Dataset;
//! use emf_rbm::stack::{RgOptions, Stack, StackConfig, StackReport};
//! use emf_rbm::train::TrainConfig;
//!
//! let (train, test) = Dataset::digits().binarize(0.5).split(0.2, 1)?;
//! let base = TrainConfig::builder().epochs(1).build()?;
//! let stack = Stack::<f64>::fit(&StackConfig::builder().sizes(&base, &[9, 4]).build()?, &train, None)?;
//! let report = StackReport::new(
//!     &stack,
//!     stack.free_energies(&train, &test, &Default::default())?,
//!     stack.rg_observables(&test, &RgOptions::default())?,
//!     None,
//! );
//! assert_eq!(report.layers_csv().lines().count(), 3); // header + 2 layers
//! assert_eq!(report.to_json()["sizes"], serde_json::json!([64, 9, 4]));
//! assert!(report.table().contains("F_train"));
//! # Ok::<(), emf_rbm::Error>(())
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use faer::Mat;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::float::Float;
use crate::persist::write_atomic;
use crate::plot::{LineChart, Mosaic};
use crate::stack::{IsingReference, LayerFreeEnergy, LayerObservables, Stack};

/// The analysis of one trained stack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StackReport {
    /// Units per level (`[n_visible, n_hidden of layer 1, ...]`).
    pub sizes: Vec<usize>,
    /// Per-layer free energies ([`Stack::free_energies`]).
    pub free_energies: Vec<LayerFreeEnergy>,
    /// Per-level RG observables ([`Stack::rg_observables`]).
    pub observables: Vec<LayerObservables>,
    /// Reference values of the Ising data, when the stack was trained on Ising samples.
    pub reference: Option<IsingReference>,
}

fn opt(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v:.6}"))
}

fn dash(x: Option<f64>) -> String {
    x.map_or("-".to_string(), |v| format!("{v:.4}"))
}

impl StackReport {
    /// The report of `stack` from its analyses.
    pub fn new<T: Float>(
        stack: &Stack<T>,
        free_energies: Vec<LayerFreeEnergy>,
        observables: Vec<LayerObservables>,
        reference: Option<IsingReference>,
    ) -> Self {
        StackReport {
            sizes: stack.sizes(),
            free_energies,
            observables,
            reference,
        }
    }

    /// The report as JSON (`summary.json`): `sizes`, `free_energies`, `observables`,
    /// `reference`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// One CSV row per layer (`layers.csv`).
    pub fn layers_csv(&self) -> String {
        let mut csv = String::from(
            "layer,n_visible,n_hidden,free_energy_train,free_energy_held_out,gap,gap_stderr,\
             ln_z,ln_z_method,nll_per_unit_train,nll_per_unit_held_out,coarse_field_mean,\
             coarse_pair_mean,coarse_pair_mean_abs,coarse_pair_max_abs\n",
        );
        for l in &self.free_energies {
            let c = l.coarse.as_ref();
            let _ = writeln!(
                csv,
                "{},{},{},{:.6},{:.6},{:.6},{:.6},{},{},{},{},{},{},{},{}",
                l.layer,
                l.n_visible,
                l.n_hidden,
                l.free_energy_train,
                l.free_energy_held_out,
                l.gap,
                l.gap_stderr,
                opt(l.ln_z.map(|z| z.value)),
                l.ln_z
                    .map_or(String::new(), |z| format!("{:?}", z.method).to_lowercase()),
                opt(l.nll_per_unit_train),
                opt(l.nll_per_unit_held_out),
                opt(c.map(|c| c.field_mean)),
                opt(c.map(|c| c.pair_mean)),
                opt(c.map(|c| c.pair_mean_abs)),
                opt(c.map(|c| c.pair_max_abs)),
            );
        }
        csv
    }

    /// One CSV row per level (`observables.csv`).
    pub fn observables_csv(&self) -> String {
        let mut csv = String::from(
            "level,n_units,lattice,rf_radius,layout_mismatch,activity,magnetization,\
             magnetization_stderr,magnetization_connected,nn_correlation,nn_connected,\
             coupling_nn,coupling_nn_coarse\n",
        );
        for o in &self.observables {
            let lat = o.lattice.map_or(String::new(), |(r, c)| format!("{r}x{c}"));
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{:.6},{:.6},{:.6},{:.6},{},{},{},{}",
                o.level,
                o.n_units,
                lat,
                opt(o.rf_radius),
                opt(o.layout.as_ref().map(|l| l.mismatch)),
                o.activity,
                o.magnetization,
                o.magnetization_stderr,
                o.magnetization_connected,
                opt(o.nn_correlation),
                opt(o.nn_connected),
                opt(o.coupling_nn),
                opt(o.coupling_nn_coarse),
            );
        }
        csv
    }

    /// The printed tables: per layer, per level, and the Ising reference line.
    pub fn table(&self) -> String {
        let mut table = self.layers_table();
        table.push('\n');
        table.push_str(&self.levels_table());
        if let Some(line) = self.reference_line() {
            table.push_str(&line);
        }
        table
    }

    /// The table of layers: free energies, gap, ln Z, NLL per unit, coarse pair couplings.
    fn layers_table(&self) -> String {
        let mut table = format!(
            "{:>5} {:>6} {:>6} {:>11} {:>11} {:>9} {:>8} {:>11} {:>10} {:>10} {:>10}\n",
            "layer",
            "n_vis",
            "n_hid",
            "F_train",
            "F_held",
            "gap",
            "+-",
            "ln Z",
            "nll/u_tr",
            "nll/u_ho",
            "|K_pair|"
        );
        for l in &self.free_energies {
            let _ = writeln!(
                table,
                "{:>5} {:>6} {:>6} {:>11.4} {:>11.4} {:>9.4} {:>8.4} {:>11} {:>10} {:>10} {:>10}",
                l.layer,
                l.n_visible,
                l.n_hidden,
                l.free_energy_train,
                l.free_energy_held_out,
                l.gap,
                l.gap_stderr,
                dash(l.ln_z.map(|z| z.value)),
                dash(l.nll_per_unit_train),
                dash(l.nll_per_unit_held_out),
                dash(l.coarse.as_ref().map(|c| c.pair_mean_abs)),
            );
        }
        table
    }

    /// The table of levels: units, lattice, receptive-field radius, spin statistics and
    /// couplings.
    fn levels_table(&self) -> String {
        let mut table = String::new();
        let _ = writeln!(
            table,
            "{:>5} {:>6} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "level",
            "units",
            "lattice",
            "rf_rad",
            "<x>",
            "|m|",
            "|m|_c",
            "<ss>nn",
            "<ss>c",
            "J_nn",
            "J_coarse"
        );
        for o in &self.observables {
            let lat = o
                .lattice
                .map_or("-".to_string(), |(r, c)| format!("{r}x{c}"));
            let _ = writeln!(
                table,
                "{:>5} {:>6} {:>7} {:>8} {:>8.4} {:>8.4} {:>8.4} {:>8} {:>8} {:>8} {:>8}",
                o.level,
                o.n_units,
                lat,
                dash(o.rf_radius),
                o.activity,
                o.magnetization,
                o.magnetization_connected,
                dash(o.nn_correlation),
                dash(o.nn_connected),
                dash(o.coupling_nn),
                dash(o.coupling_nn_coarse),
            );
        }
        table
    }

    /// The Ising reference line, when the data were Ising samples.
    fn reference_line(&self) -> Option<String> {
        let mut table = String::new();
        if let Some(r) = &self.reference {
            let _ = writeln!(
                table,
                "Ising T = {}: K = 1/T = {:.4}; samples |m| = {:.4}, <ss>nn = {:.4}; exact for \
                 this finite torus |m| = {}, <ss>nn = {:.4}; infinite lattice |m| = {:.4}, \
                 <ss>nn = {:.4}",
                r.temperature,
                r.coupling,
                r.sample_magnetization,
                r.sample_nn_correlation,
                r.magnetization_finite
                    .map_or("- (L > 10)".to_string(), |m| format!("{m:.4}")),
                r.nn_correlation_finite,
                r.magnetization_exact,
                r.nn_correlation_exact,
            );
        }
        (!table.is_empty()).then_some(table)
    }

    /// The names of the files [`save`](Self::save) writes for a stack of `layers` layers
    /// (with the receptive fields when `lattice`): for checking the outputs before training.
    pub fn file_names(layers: usize, lattice: bool) -> Vec<String> {
        let mut names: Vec<String> = [
            "layers.csv",
            "observables.csv",
            "summary.json",
            "stack.json",
            "observables.png",
            "free_energy.png",
        ]
        .map(String::from)
        .to_vec();
        if lattice {
            names.extend((1..=layers).map(|l| format!("receptive_fields_layer{l}.png")));
        }
        names
    }

    /// Writes into `dir`: `stack.json` (the stack), `layers.csv`, `observables.csv`,
    /// `summary.json` ([`to_json`](Self::to_json)), `observables.png`, `free_energy.png`, and
    /// with a lattice `shape` of the data the receptive fields of each level
    /// (`receptive_fields_layer<l>.png`). Returns the files written.
    pub fn save<T: Float>(
        &self,
        dir: &Path,
        stack: &Stack<T>,
        shape: Option<(usize, usize)>,
    ) -> Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        let mut put = |name: &str, bytes: &[u8]| -> Result<()> {
            let p = dir.join(name);
            write_atomic(&p, bytes)?;
            files.push(p);
            Ok(())
        };
        put("layers.csv", self.layers_csv().as_bytes())?;
        put("observables.csv", self.observables_csv().as_bytes())?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| crate::Error::Json {
            path: dir.join("summary.json"),
            source: e,
        })?;
        put("summary.json", &json)?;
        let p = dir.join("stack.json");
        stack.save(&p)?;
        files.push(p);
        if let Some(shape) = shape {
            files.extend(self.save_receptive_fields(dir, stack, shape)?);
        }
        files.extend(self.save_charts(dir)?);
        Ok(files)
    }

    fn save_receptive_fields<T: Float>(
        &self,
        dir: &Path,
        stack: &Stack<T>,
        shape: (usize, usize),
    ) -> Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for o in self.observables.iter().filter(|o| o.level > 0) {
            let rf = stack.receptive_fields(o.level)?;
            let order: Vec<usize> = match &o.layout {
                Some(l) => l.unit_at_site.clone(),
                None => (0..rf.ncols()).collect(),
            };
            let arranged = Mat::<f64>::from_fn(rf.nrows(), rf.ncols(), |i, k| rf[(i, order[k])]);
            let mut m = Mosaic::filters(arranged.as_ref(), shape, arranged.ncols())?;
            if let Some((r, c)) = o.lattice {
                m.columns = c;
                m.title = format!(
                    "receptive fields of level {} ({} units on a {r}x{c} lattice)",
                    o.level, o.n_units
                );
            } else {
                m.title = format!("receptive fields of level {}", o.level);
            }
            let p = dir.join(format!("receptive_fields_layer{}.png", o.level));
            m.save(&p)?;
            files.push(p);
        }
        Ok(files)
    }

    fn save_charts(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let obs = &self.observables;
        let series = |f: &dyn Fn(&LayerObservables) -> Option<f64>| -> Vec<(f64, f64)> {
            obs.iter()
                .filter_map(|o| Some((o.level as f64, f(o)?)))
                .collect()
        };
        let title = match &self.reference {
            Some(r) => format!("RG observables per level (T = {})", r.temperature),
            None => "RG observables per level".to_string(),
        };
        let p1 = dir.join("observables.png");
        LineChart::new(&title, "level", "value")
            .integer_x()
            .series("|m|", series(&|o| Some(o.magnetization)))
            .series(
                "|m| connected",
                series(&|o| Some(o.magnetization_connected)),
            )
            .series("<s s'> nn", series(&|o| o.nn_correlation))
            .series("<s s'> nn connected", series(&|o| o.nn_connected))
            .series("J_nn (model of level)", series(&|o| o.coupling_nn))
            .series("J_nn (coarse)", series(&|o| o.coupling_nn_coarse))
            .save(&p1)?;
        let fe = &self.free_energies;
        let fe_series = |f: &dyn Fn(&LayerFreeEnergy) -> Option<f64>| -> Vec<(f64, f64)> {
            fe.iter()
                .filter_map(|l| Some((l.layer as f64, f(l)?)))
                .collect()
        };
        let p2 = dir.join("free_energy.png");
        LineChart::new("Per-layer free energies", "layer", "nats")
            .integer_x()
            .series("gap (held-out - train)", fe_series(&|l| Some(l.gap)))
            .series("nll per unit, train", fe_series(&|l| l.nll_per_unit_train))
            .series(
                "nll per unit, held-out",
                fe_series(&|l| l.nll_per_unit_held_out),
            )
            .save(&p2)?;
        Ok(vec![p1, p2])
    }
}

type Get = fn(&LayerObservables) -> Option<f64>;

/// The charts of [`RgFlow::save`]: file name, label, value.
const RG_FLOW_CHARTS: [(&str, &str, Get); 4] = [
    ("rg_flow_magnetization.png", "|m| connected", |o| {
        Some(o.magnetization_connected)
    }),
    ("rg_flow_nn_correlation.png", "<s s'> nn connected", |o| {
        o.nn_connected
    }),
    ("rg_flow_coupling.png", "J_nn (model of level)", |o| {
        o.coupling_nn
    }),
    ("rg_flow_coupling_coarse.png", "J_nn (coarse)", |o| {
        o.coupling_nn_coarse
    }),
];

/// RG observables of stacks trained at several Ising temperatures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RgFlow {
    /// One entry per temperature: the temperature, the observables per level, the reference.
    pub points: Vec<(f64, Vec<LayerObservables>, IsingReference)>,
}

impl RgFlow {
    /// One CSV row per temperature and level (`rg_flow.csv`).
    pub fn csv(&self) -> String {
        let mut csv = String::from(
            "temperature,level,magnetization,magnetization_connected,nn_correlation,\
             nn_connected,coupling_nn,coupling_nn_coarse,magnetization_exact,\
             nn_correlation_exact,magnetization_finite,nn_correlation_finite,coupling_exact\n",
        );
        for (t, obs, r) in &self.points {
            for o in obs {
                let _ = writeln!(
                    csv,
                    "{t},{},{:.6},{:.6},{},{},{},{},{:.6},{:.6},{},{:.6},{:.6}",
                    o.level,
                    o.magnetization,
                    o.magnetization_connected,
                    opt(o.nn_correlation),
                    opt(o.nn_connected),
                    opt(o.coupling_nn),
                    opt(o.coupling_nn_coarse),
                    r.magnetization_exact,
                    r.nn_correlation_exact,
                    opt(r.magnetization_finite),
                    r.nn_correlation_finite,
                    r.coupling,
                );
            }
        }
        csv
    }

    /// The names of the files [`save`](Self::save) writes.
    pub fn file_names() -> Vec<String> {
        RG_FLOW_CHARTS
            .iter()
            .map(|(file, _, _)| file.to_string())
            .chain(["rg_flow.csv".to_string()])
            .collect()
    }

    /// Writes `rg_flow.csv` and one chart per observable across temperatures into `dir`.
    pub fn save(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let p = dir.join("rg_flow.csv");
        write_atomic(&p, self.csv().as_bytes())?;
        let mut files = vec![p];
        for (file, label, get) in RG_FLOW_CHARTS {
            let mut chart =
                LineChart::new(&format!("{label} per level"), "level", label).integer_x();
            for (t, obs, _) in &self.points {
                let pts: Vec<(f64, f64)> = obs
                    .iter()
                    .filter_map(|o| Some((o.level as f64, get(o)?)))
                    .collect();
                chart = chart.series(&format!("T = {t}"), pts);
            }
            let p = dir.join(file);
            chart.save(&p)?;
            files.push(p);
        }
        Ok(files)
    }
}
