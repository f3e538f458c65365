//! A listing of a model's couplings of one order, as `emf-rbm couplings` prints it.

use std::fmt;

use serde::Serialize;

use crate::error::Result;
use crate::hamiltonian::{Basis, Coupling, EffectiveHamiltonian, SpinMethod, MAX_LISTED_SUBSETS};

/// Which couplings of an order a [`CouplingReport`] lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// The `n` largest in magnitude (found with rigorous bounds, not by listing all).
    Largest(usize),
    /// Every subset of the order (refused beyond [`MAX_LISTED_SUBSETS`]).
    All,
}

/// The constant, the fields and the listed couplings of one order of an effective
/// Hamiltonian, in one basis. Serialises to the JSON of `emf-rbm couplings --json`;
/// `Display` is its text table.
///
/// ```
/// use emf_rbm::{Rbm, hamiltonian::{Basis, CouplingReport, EffectiveHamiltonian, Listing, SpinMethod}};
/// let mut rbm = Rbm::<f64>::zeros(3, 1).unwrap();
/// rbm.w[(0, 0)] = 1.0;
/// rbm.w[(1, 0)] = 1.0;
/// let ham = EffectiveHamiltonian::new(&rbm);
/// let r = CouplingReport::compute(&ham, false, 2, Listing::Largest(1), Basis::LatticeGas, &SpinMethod::Enumeration).unwrap();
/// assert_eq!(r.couplings[0].units, vec![0, 1]);
/// assert!(r.to_string().contains("largest couplings of order 2 (1 listed)"));
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct CouplingReport {
    /// `visible` (the hidden units integrated out) or `hidden`.
    pub side: &'static str,
    /// Units of the Hamiltonian.
    pub n_units: usize,
    /// Units integrated out.
    pub n_integrated: usize,
    /// The basis of every value.
    pub basis: Basis,
    /// The order of the listed couplings.
    pub order: usize,
    /// The spin-basis method (`None` in the lattice-gas basis: exact closed forms).
    pub method: Option<String>,
    /// Whether every value is exact (lattice-gas basis, or an exact spin method).
    pub exact: bool,
    /// The constant term.
    pub constant: f64,
    /// The fields (order 1), one per unit.
    pub fields: Vec<f64>,
    /// The listed couplings, largest first.
    pub couplings: Vec<Coupling>,
    #[serde(skip)]
    all: bool,
}

impl CouplingReport {
    /// The report of `ham` (built with [`EffectiveHamiltonian::hidden`] when `hidden_side`).
    /// Errors: an order above the number of units, a listing that is too long, an invalid
    /// spin method.
    pub fn compute(
        ham: &EffectiveHamiltonian,
        hidden_side: bool,
        order: usize,
        listing: Listing,
        basis: Basis,
        method: &SpinMethod,
    ) -> Result<Self> {
        method.validate()?;
        let n = ham.n_units();
        if order > n {
            return Err(crate::Error::param(
                "order",
                format!("must be at most the number of units ({n}), got {order}"),
            ));
        }
        let couplings = match listing {
            Listing::All => ham.all_couplings(order, basis, method, MAX_LISTED_SUBSETS)?,
            Listing::Largest(k) => ham.top_couplings(order, k, basis, method)?,
        };
        let constant = match basis {
            Basis::LatticeGas => ham.constant(),
            Basis::Spin => ham.constant_spin(method)?,
        };
        Ok(CouplingReport {
            side: if hidden_side { "hidden" } else { "visible" },
            n_units: n,
            n_integrated: ham.n_integrated(),
            basis,
            order,
            method: (basis == Basis::Spin).then(|| method.to_string()),
            exact: basis == Basis::LatticeGas || method.is_exact(),
            constant,
            fields: ham.fields_in(basis, method)?,
            couplings,
            all: listing == Listing::All,
        })
    }
}

impl fmt::Display for CouplingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = match &self.method {
            Some(m) => format!(", {m}"),
            None => " (exact closed forms)".to_string(),
        };
        writeln!(
            f,
            "effective Hamiltonian of the {} {} units ({} integrated out), {} basis{method}",
            self.n_units, self.side, self.n_integrated, self.basis
        )?;
        writeln!(f, "constant {:.6}", self.constant)?;
        let mut by_size: Vec<(usize, f64)> = self.fields.iter().copied().enumerate().collect();
        by_size.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        let shown = by_size.len().min(10);
        let list: Vec<String> = by_size[..shown]
            .iter()
            .map(|(i, v)| format!("{i}: {v:+.5}"))
            .collect();
        writeln!(
            f,
            "fields (largest {shown} of {}): {}",
            self.fields.len(),
            list.join(", ")
        )?;
        let what = if self.all { "all" } else { "largest" };
        writeln!(
            f,
            "\n{what} couplings of order {} ({} listed)",
            self.order,
            self.couplings.len()
        )?;
        writeln!(f, "{:>6}  {:<28} {:>14}", "rank", "units", "value")?;
        for (r, c) in self.couplings.iter().enumerate() {
            let units: Vec<String> = c.units.iter().map(|u| u.to_string()).collect();
            writeln!(
                f,
                "{:>6}  {:<28} {:>+14.6e}",
                r + 1,
                units.join(" "),
                c.value
            )?;
        }
        Ok(())
    }
}
