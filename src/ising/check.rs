//! Samples against the exact values of the torus they come from: the check that opens every
//! use of [`sample_ising`](super::sample_ising)'s output (notebook 04, `emf-rbm ising`).
//!
//! A finite `L x L` torus is not the infinite lattice: near `T_c` an 8 x 8 torus has
//! `E/site = -1.491` against Onsager's `-1.411`. Samples are therefore compared with
//! [`exact_finite`] of the same torus (a `z` score in standard errors), and the infinite
//! lattice is shown for scale only.
//!
//! ```
//! use emf_rbm::ising::{check::SampleCheck, sample_ising, IsingConfig};
//! let s = sample_ising(&IsingConfig { seed: 1, ..IsingConfig::new(4, 3.0, 400) })?;
//! let check = SampleCheck::new(&s, 4, 3.0)?;
//! assert!(check.max_abs_z() < 5.0);
//! print!("{}", SampleCheck::table(&[check]));
//! # Ok::<(), emf_rbm::Error>(())
//! ```

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{
    exact_energy_per_site, exact_finite, exact_magnetization, FiniteIsing, IsingSamples,
    Measurement,
};
use crate::error::{Error, Result};

/// One temperature's samples against the exact finite torus and the infinite lattice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleCheck {
    /// Lattice side `L`.
    pub size: usize,
    /// Temperature `T` (`J = 1`).
    pub temperature: f64,
    /// The chains' integrated autocorrelation time (sweeps).
    pub tau_int: f64,
    /// Sweeps between consecutive samples of a chain.
    pub spacing: usize,
    /// Energy per site of the samples.
    pub energy: Measurement,
    /// `<|m|>` of the samples.
    pub abs_m: Measurement,
    /// `<m^2>` of the samples.
    pub m2: Measurement,
    /// The exact thermodynamics of the same `L x L` torus.
    pub exact: FiniteIsing,
    /// Onsager's energy per site of the infinite lattice.
    pub energy_infinite: f64,
    /// Yang's spontaneous magnetization of the infinite lattice (0 above `T_c`).
    pub magnetization_infinite: f64,
}

impl SampleCheck {
    /// The check of `samples`, drawn on the `size x size` torus at `temperature`; an error
    /// when the samples do not have `size^2` units or the exact values cannot be computed.
    pub fn new(samples: &IsingSamples, size: usize, temperature: f64) -> Result<Self> {
        if samples.dataset.n_features() != size * size {
            return Err(Error::Shape(format!(
                "samples of {} units are not of a {size}x{size} lattice",
                samples.dataset.n_features()
            )));
        }
        Ok(SampleCheck {
            size,
            temperature,
            tau_int: samples.tau_int,
            spacing: samples.spacing,
            energy: samples.energy_per_site(),
            abs_m: samples.abs_magnetization(),
            m2: samples.magnetization_squared(),
            exact: exact_finite(size, temperature)?,
            energy_infinite: exact_energy_per_site(temperature),
            magnetization_infinite: exact_magnetization(temperature),
        })
    }

    /// `z` of the energy: `(sample - exact) / s.e.`
    pub fn z_energy(&self) -> f64 {
        self.energy.z_score(self.exact.energy_per_site)
    }

    /// `z` of `<|m|>` (`None` where the exact torus gives no `<|m|>`: `L > 10`).
    pub fn z_abs_m(&self) -> Option<f64> {
        self.exact.abs_m.map(|x| self.abs_m.z_score(x))
    }

    /// `z` of `<m^2>` (`None` where the exact torus gives no `<m^2>`: `L > 12`).
    pub fn z_m2(&self) -> Option<f64> {
        self.exact.m2.map(|x| self.m2.z_score(x))
    }

    /// The largest `|z|` of the observables with an exact value.
    pub fn max_abs_z(&self) -> f64 {
        [Some(self.z_energy()), self.z_abs_m(), self.z_m2()]
            .into_iter()
            .flatten()
            .fold(0.0, |m, z| m.max(z.abs()))
    }

    /// One row per check (temperature): `beta`, the autocorrelation time and spacing, energy
    /// and `<|m|>` with error bars, the exact torus values and `z`, the infinite lattice.
    pub fn table(rows: &[SampleCheck]) -> String {
        let mut out = format!(
            "{:>5} {:>6} {:>5} {:>7} | {:>16} {:>8} {:>6} | {:>15} {:>7} {:>6} | {:>8} {:>8}\n",
            "T",
            "beta",
            "tau",
            "spacing",
            "E/site",
            "exact",
            "z",
            "<|m|>",
            "exact",
            "z",
            "E inf.",
            "M inf."
        );
        for c in rows {
            let _ = writeln!(
                out,
                "{:>5.2} {:>6.3} {:>5.2} {:>7} | {:>8.4}+-{:.4} {:>8.4} {:>+6.2} | {:>7.4}+-{:.4} \
                 {:>7} {:>6} | {:>8.4} {:>8.4}",
                c.temperature,
                1.0 / c.temperature,
                c.tau_int,
                c.spacing,
                c.energy.mean,
                c.energy.stderr,
                c.exact.energy_per_site,
                c.z_energy(),
                c.abs_m.mean,
                c.abs_m.stderr,
                c.exact.abs_m.map_or("-".into(), |x| format!("{x:.4}")),
                c.z_abs_m().map_or("-".into(), |z| format!("{z:+.2}")),
                c.energy_infinite,
                c.magnetization_infinite,
            );
        }
        out
    }

    /// This check observable by observable (energy, `<|m|>`, `<m^2>`): samples with error
    /// bars, the exact torus value, `z`, the infinite lattice.
    pub fn detail(&self) -> String {
        let mut out = format!(
            "{:<16} {:>22} {:>12} {:>7} {:>15}\n",
            "",
            "samples (+- s.e.)",
            format!("exact {L}x{L}", L = self.size),
            "z",
            "infinite lattice"
        );
        let mut row = |name: &str, m: Measurement, exact: Option<f64>, infinite: Option<f64>| {
            let f = |x: Option<f64>, w: usize| {
                x.map_or(format!("{:>w$}", "-"), |v| format!("{v:>w$.5}"))
            };
            let _ = writeln!(
                out,
                "{name:<16} {:>22} {} {:>7} {}",
                format!("{:.5} +- {:.5}", m.mean, m.stderr),
                f(exact, 12),
                exact.map_or("-".to_string(), |x| format!("{:+.2}", m.z_score(x))),
                f(infinite, 15),
            );
        };
        row(
            "energy per site",
            self.energy,
            Some(self.exact.energy_per_site),
            Some(self.energy_infinite),
        );
        row(
            "<|m|>",
            self.abs_m,
            self.exact.abs_m,
            Some(self.magnetization_infinite),
        );
        row("<m^2>", self.m2, self.exact.m2, None);
        let _ = writeln!(
            out,
            "(exact: {} of the finite torus{}; z = (sample - exact) / s.e.)",
            self.exact.method,
            if self.exact.abs_m.is_none() {
                "; its magnetization is not computed beyond L = 10 (<|m|>) / 12 (<m^2>)"
            } else {
                ""
            }
        );
        out
    }
}
