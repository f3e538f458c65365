//! The evaluation of a saved model (what `emf-rbm eval` prints): exact ln Z when feasible; on
//! a data set the mean free energy, reconstruction error, pseudo-likelihood, exact and EMF
//! log-likelihoods; the TAP ln Z estimates at every order with their converged-particle
//! counts; and, on request, the log-likelihood bracketed from both sides: forward AIS (tends
//! to overestimate it) and RAISE (a stochastic lower bound), each with its interval and
//! effective sample size, on the same fixed subset of the rows
//! ([`scored_rows`], `ais_rows` of them).
//!
//! # JSON
//! [`Evaluation::to_json`] is one flat object. A number is a finite value; the strings
//! `"inf"`, `"-inf"` and `"nan"` are infinite or undefined values that WERE computed (e.g.
//! the exact ln Z of a model with huge weights, or the upper end of an AIS interval whose
//! lower end of `Z` is not positive); `null` means "not computed" (no data, exact enumeration
//! infeasible, no AIS asked for). A TAP estimate none of whose particles converged is `null`
//! with the count `..._converged: 0` and the reason in `..._note`.
//!
//! # Random streams
//! With seed `s`: the pseudo-likelihood's bit flips and, without data, the TAP starts (rows
//! drawn from `Bernoulli(sigmoid(a))`) come from `rng(s)`; AIS chunk `c` from
//! `stream_rng(s, c)` (the AIS config's seed) and RAISE chunk `c` from
//! `stream_rng(s, raise::STREAM_OFFSET + c)` (the RAISE config's seed). The scored subset
//! does not depend on the seed.
//!
//! ```
//! use emf_rbm::data::Dataset;
//! use emf_rbm::estimate::{exact, evaluation::{EvalOptions, Evaluation}};
//! use emf_rbm::{rng, Rbm};
//!
//! let data = Dataset::digits().binarize(0.5).head(100);
//! let rbm = Rbm::<f64>::random(64, 6, 0.1, &mut rng::rng(2))?;
//! let e = Evaluation::run(&rbm, Some(&data), &EvalOptions::builder().tap_starts(20).build()?)?;
//! assert_eq!(e.ln_z_exact, Some(exact::log_partition(&rbm)?));
//! let json = e.to_json();
//! assert_eq!(json["n_hidden"], 6);
//! assert_eq!(json["ln_z_tap2_particles"], 20);
//! assert!(json["ais_ln_z"].is_null() && json["raise_log_likelihood"].is_null()); // not asked for
//! # Ok::<(), emf_rbm::Error>(())
//! ```

use faer::{Mat, MatRef};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::checked::checked_builder;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::estimate::ais::{Ais, AisBase, AisConfig};
use crate::estimate::exact::{self, MAX_ENUMERATED_UNITS};
use crate::estimate::fixed_points::{find_fixed_points, FixedPointOptions};
use crate::estimate::metrics::{self, Estimate, TapValue, LOW_ESS_FRACTION};
use crate::estimate::raise::{scored_rows, select_rows, Raise, RaiseConfig};
use crate::estimate::tap;
use crate::float::Float;
use crate::persist::json_float;
use crate::rbm::Rbm;
use crate::rng;
use crate::tap::{SolverOptions, TapOrder};

/// Settings of [`Evaluation::run`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalOptions {
    /// Exact ln Z when `min(n_visible, n_hidden) <= exact_max_units` (default 20, at most 30).
    pub exact_max_units: usize,
    /// Seed of the stochastic parts (see the module docs; default 0).
    pub seed: u64,
    /// TAP fixed points started from this many data rows (or model draws; default 200).
    pub tap_starts: usize,
    /// Solver of the TAP ln Z estimates (default [`SolverOptions::converged`]).
    pub tap_solver: SolverOptions,
    /// Solver of the EMF log-likelihood (default [`SolverOptions::paper`]).
    pub emf_solver: SolverOptions,
    /// AIS settings (`None`: no AIS; its `seed` is used as given).
    pub ais: Option<AisConfig>,
    /// RAISE settings (`None`: no RAISE; its `seed` is used as given). Needs data; the
    /// base is the same as the AIS's (the data's smoothed pixel means).
    pub raise: Option<RaiseConfig>,
    /// Rows the AIS and RAISE log-likelihoods score: a fixed random subset of the data of
    /// this many rows (all rows when there are fewer; default 1000, at least 1).
    pub ais_rows: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            exact_max_units: 20,
            seed: 0,
            tap_starts: 200,
            tap_solver: SolverOptions::converged(),
            emf_solver: SolverOptions::paper(),
            ais: None,
            raise: None,
            ais_rows: DEFAULT_AIS_ROWS,
        }
    }
}

/// Default of [`EvalOptions::ais_rows`] and of the AIS metric's `rows`.
pub const DEFAULT_AIS_ROWS: usize = 1000;

impl EvalOptions {
    /// Estimated memory of [`Evaluation::run`] on a model of `n_visible x n_hidden` with
    /// `rows` data rows and elements of `elem` bytes: the data (three copies), the TAP
    /// particles (`min(rows, tap_starts)` or `tap_starts` of them, eight vectors of
    /// `n_visible + n_hidden` each), the AIS runs (four such vectors each, in f64) and the
    /// RAISE chains (`min(rows, ais_rows)` times `chains`, three such vectors each).
    pub fn memory_estimate(
        &self,
        n_visible: usize,
        n_hidden: usize,
        rows: usize,
        elem: usize,
    ) -> u128 {
        let units = n_visible as u128 + n_hidden as u128;
        let starts = if rows > 0 {
            rows.min(self.tap_starts)
        } else {
            self.tap_starts
        };
        let runs = self.ais.as_ref().map_or(0, |a| a.runs) as u128;
        let chains = self.raise.as_ref().map_or(0, |r| r.chains) as u128;
        let raise = chains * rows.min(self.ais_rows) as u128 * units * (2 * elem as u128 + 4);
        3 * crate::memory::matrices(1, rows, n_visible, elem)
            + 8 * starts as u128 * units * elem as u128
            + 4 * runs * units * 8
            + raise
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.exact_max_units > MAX_ENUMERATED_UNITS {
            return Err(Error::param(
                "exact_max_units",
                format!("exact enumeration is limited to {MAX_ENUMERATED_UNITS} units"),
            ));
        }
        if self.tap_starts == 0 {
            return Err(Error::param("tap_starts", "must be >= 1"));
        }
        if self.ais_rows == 0 {
            return Err(Error::param("ais_rows", "score at least one row"));
        }
        self.tap_solver.validate()?;
        self.emf_solver.validate()?;
        if let Some(r) = &self.raise {
            r.validate()?;
        }
        match &self.ais {
            Some(a) => a.validate(),
            None => Ok(()),
        }
    }
}

checked_builder!(
    /// Builder of [`EvalOptions`].
    EvalOptionsBuilder for EvalOptions {
        /// Largest enumerated layer.
        exact_max_units: usize,
        /// Seed.
        seed: u64,
        /// TAP starts.
        tap_starts: usize,
        /// TAP ln Z solver.
        tap_solver: SolverOptions,
        /// EMF solver.
        emf_solver: SolverOptions,
        /// AIS settings.
        ais: Option<AisConfig>,
        /// RAISE settings.
        raise: Option<RaiseConfig>,
        /// Rows scored by AIS and RAISE.
        ais_rows: usize,
    }
);

/// The scores of a model on a data set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataScores {
    /// Name of the data set.
    pub name: String,
    /// Rows evaluated.
    pub n_samples: usize,
    /// Mean free energy `F(v)`.
    #[serde(with = "json_float")]
    pub mean_free_energy: f64,
    /// Mean-field reconstruction error per unit.
    #[serde(with = "json_float")]
    pub reconstruction_error: f64,
    /// Stochastic pseudo-log-likelihood per sample.
    #[serde(with = "json_float")]
    pub pseudo_log_likelihood: f64,
    /// Exact mean log-likelihood, when ln Z was enumerated.
    #[serde(with = "json_float::option")]
    pub log_likelihood_exact: Option<f64>,
    /// The paper's EMF log-likelihood (mean over the rows).
    #[serde(with = "json_float")]
    pub emf_log_likelihood: f64,
    /// The same divided by `n_visible + n_hidden`.
    #[serde(with = "json_float")]
    pub emf_log_likelihood_per_unit: f64,
}

/// A TAP estimate of ln Z and the log-likelihood it implies on the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TapScore {
    /// Expansion order.
    pub order: TapOrder,
    /// `-G_k(m*)` with its convergence record.
    pub ln_z: TapValue,
    /// `-mean F - ln Z_TAP` on the data, when data was given.
    pub log_likelihood: Option<TapValue>,
    /// Distinct fixed points the starts reached ([`crate::estimate::fixed_points`]).
    #[serde(default)]
    pub solutions: usize,
    /// Those that are minima of `G_k`.
    #[serde(default)]
    pub minima: usize,
    /// Those that are states (minima where the expansion holds).
    #[serde(default)]
    pub states: usize,
    /// `ln sum exp(-G_k)` over the states (`None` when there is none).
    #[serde(default, with = "json_float::option")]
    pub ln_z_set: Option<f64>,
    /// `ln sum exp(-G_k)` over all minima (`None` when there is none).
    #[serde(default, with = "json_float::option")]
    pub ln_z_minima: Option<f64>,
}

/// AIS ln Z and the log-likelihood it implies on the scored rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AisScore {
    /// ln Z with its interval and ESS.
    pub ln_z: Estimate,
    /// Mean log-likelihood on the scored rows, with its interval, when data was given.
    pub log_likelihood: Option<Estimate>,
    /// Temperatures used.
    pub n_betas: usize,
}

/// RAISE on the scored rows: the mean of the per-row `ln Z_i` and the log-likelihood (a
/// stochastic lower bound), each with its interval and the ESS of `exp(-ln Z_i)`; `runs`
/// is the number of scored rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RaiseScore {
    /// `mean ln Z_i +- 3 s.e.`
    pub ln_z: Estimate,
    /// Mean log-likelihood with its interval.
    pub log_likelihood: Estimate,
    /// Reverse chains per row.
    pub chains: usize,
    /// Temperatures used.
    pub n_betas: usize,
}

/// The rows the AIS and RAISE log-likelihoods scored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoredRows {
    /// Rows scored.
    pub rows: usize,
    /// Rows of the data set.
    pub of: usize,
    /// The exact mean log-likelihood of the scored rows, when ln Z was enumerated (the
    /// value the two estimators bracket).
    #[serde(with = "json_float::option")]
    pub log_likelihood_exact: Option<f64>,
}

/// Everything `eval` reports about a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Visible units.
    pub n_visible: usize,
    /// Hidden units.
    pub n_hidden: usize,
    /// Parameters.
    pub n_parameters: usize,
    /// Exact ln Z, when feasible.
    #[serde(with = "json_float::option")]
    pub ln_z_exact: Option<f64>,
    /// Scores on the data, when data was given.
    pub data: Option<DataScores>,
    /// Rows the TAP fixed points started from.
    pub tap_starts: usize,
    /// TAP estimates at every order, lowest first.
    pub tap: Vec<TapScore>,
    /// `-G4` at the TAP3 fixed points of the same starts ([`tap::log_partition_tap4`]); NaN
    /// when none converged.
    #[serde(default = "not_computed", with = "json_float")]
    pub ln_z_tap4: f64,
    /// AIS, when asked for.
    pub ais: Option<AisScore>,
    /// RAISE, when asked for and data was given.
    #[serde(default)]
    pub raise: Option<RaiseScore>,
    /// The rows AIS and RAISE scored, when one of them ran on data.
    #[serde(default)]
    pub scored: Option<ScoredRows>,
}

/// NaN: the value of a field an older file does not have.
fn not_computed() -> f64 {
    f64::NAN
}

/// The TAP ln Z estimate at every order from the rows `starts`, and the log-likelihood it
/// implies when the mean free energy `f` of the data is known.
fn tap_scores<T: Float>(
    rbm: &Rbm<T>,
    starts: MatRef<'_, T>,
    f: Option<f64>,
    opts: &EvalOptions,
) -> Result<Vec<TapScore>> {
    let tol = opts.tap_solver.tolerance;
    let fixed = FixedPointOptions {
        solver: opts.tap_solver,
        ..Default::default()
    };
    let mut tap = Vec::new();
    for order in TapOrder::ALL {
        let set = find_fixed_points(rbm, order, starts, &fixed)?;
        let est = set.estimate();
        tap.push(TapScore {
            order,
            ln_z: TapValue::from_estimate(&est, tol, est.ln_z),
            log_likelihood: f.map(|f| TapValue::from_estimate(&est, tol, -f - est.ln_z)),
            solutions: set.points.len(),
            minima: set.n_minima(),
            states: set.n_states(),
            ln_z_set: set.ln_z_set().ok(),
            ln_z_minima: set.ln_z_minima().ok(),
        });
    }
    Ok(tap)
}

/// The AIS base: the data's smoothed pixel means, or the model's visible biases without data.
fn ais_base<T: Float>(rbm: &Rbm<T>, data: Option<&Dataset>) -> Result<AisBase> {
    match data {
        Some(d) => AisBase::from_data(d, 0.05),
        None => AisBase::from_biases(rbm.a.iter().map(|x| x.as_f64()).collect()),
    }
}

/// AIS ln Z and the mean log-likelihood of the rows `v` it implies.
fn ais_score<T: Float>(
    rbm: &Rbm<T>,
    base: &AisBase,
    v: Option<&Mat<T>>,
    cfg: &AisConfig,
) -> Result<AisScore> {
    let est = Ais::new(cfg.clone())?.estimate(rbm, base)?;
    let log_likelihood = match v {
        Some(v) => {
            let ll = est.log_likelihood(rbm, v.as_ref())?;
            Some(Estimate::from_ais_log_likelihood(&ll, &est))
        }
        None => None,
    };
    Ok(AisScore {
        ln_z: Estimate::from_ais(&est),
        log_likelihood,
        n_betas: est.n_betas,
    })
}

/// RAISE on the rows `v`.
fn raise_score<T: Float>(
    rbm: &Rbm<T>,
    base: &AisBase,
    v: &Mat<T>,
    cfg: &RaiseConfig,
) -> Result<RaiseScore> {
    let est = Raise::new(cfg.clone())?.estimate(rbm, base, v.as_ref())?;
    let ll = Estimate::from_raise(&est);
    let half = est.log_likelihood - est.lower;
    Ok(RaiseScore {
        ln_z: Estimate {
            value: est.log_z,
            lower: est.log_z - half,
            upper: est.log_z + half,
            ..ll
        },
        log_likelihood: ll,
        chains: est.chains,
        n_betas: est.n_betas,
    })
}

type Likelihoods = (Option<AisScore>, Option<RaiseScore>, Option<ScoredRows>);

/// AIS and RAISE as asked for, their log-likelihoods on the fixed subset of `ais_rows` rows
/// of `v` (the data as a matrix).
fn likelihoods<T: Float>(
    rbm: &Rbm<T>,
    data: Option<&Dataset>,
    v: Option<&Mat<T>>,
    ln_z_exact: Option<f64>,
    opts: &EvalOptions,
) -> Result<Likelihoods> {
    if opts.ais.is_none() && (opts.raise.is_none() || v.is_none()) {
        return Ok((None, None, None));
    }
    let base = ais_base(rbm, data)?;
    let sub = v.map(|v| select_rows(v.as_ref(), &scored_rows(v.nrows(), opts.ais_rows)));
    let ais = match &opts.ais {
        Some(cfg) => Some(ais_score(rbm, &base, sub.as_ref(), cfg)?),
        None => None,
    };
    let raise = match (&opts.raise, &sub) {
        (Some(cfg), Some(sub)) => Some(raise_score(rbm, &base, sub, cfg)?),
        _ => None,
    };
    let scored = match (v, &sub) {
        (Some(v), Some(sub)) => Some(ScoredRows {
            rows: sub.nrows(),
            of: v.nrows(),
            log_likelihood_exact: ln_z_exact
                .map(|z| -metrics::mean_free_energy(rbm, sub.as_ref()) - z),
        }),
        _ => None,
    };
    Ok((ais, raise, scored))
}

impl Evaluation {
    /// Evaluates `rbm`, on `data` when given (its rows as they are: binarise first).
    pub fn run<T: Float>(rbm: &Rbm<T>, data: Option<&Dataset>, opts: &EvalOptions) -> Result<Self> {
        opts.validate()?;
        let rows = data.map_or(0, |d| d.n_samples());
        crate::memory::check(
            format!(
                "evaluating with {} TAP starts (tap_starts / --tap-starts)",
                opts.tap_starts
            ),
            opts.memory_estimate(
                rbm.n_visible(),
                rbm.n_hidden(),
                rows,
                std::mem::size_of::<T>(),
            ),
        )?;
        let ln_z_exact = if exact::feasible(rbm, opts.exact_max_units) {
            Some(exact::log_partition(rbm)?)
        } else {
            None
        };
        let v: Option<Mat<T>> = match data {
            Some(d) if d.n_features() != rbm.n_visible() => {
                return Err(Error::Shape(format!(
                    "data `{}` has {} features but the model has {} visible units",
                    d.name(),
                    d.n_features(),
                    rbm.n_visible()
                )))
            }
            Some(d) if d.is_empty() => return Err(Error::param("data", "no rows to evaluate")),
            Some(d) => Some(d.to_mat::<T>()),
            None => None,
        };
        let scores = match (data, &v) {
            (Some(d), Some(v)) => Some(data_scores(rbm, d, v, ln_z_exact, opts)?),
            _ => None,
        };
        let starts = match &v {
            Some(v) => v.subrows(0, v.nrows().min(opts.tap_starts)).to_owned(),
            None => model_draws(rbm, opts.tap_starts, opts.seed),
        };
        let f = scores.as_ref().map(|s| s.mean_free_energy);
        // The TAP estimates are solved in f64 whatever `T` (as the training monitor does), so
        // that the converged preset's tolerance (1e-8) can be reached.
        let rbm64 = rbm.cast::<f64>();
        let starts64 = Mat::<f64>::from_fn(starts.nrows(), starts.ncols(), |r, c| {
            starts[(r, c)].as_f64()
        });
        let tap = tap_scores(&rbm64, starts64.as_ref(), f, opts)?;
        let ln_z_tap4 = tap::log_partition_tap4(&rbm64, starts64.as_ref(), &opts.tap_solver)?.ln_z;
        let (ais, raise, scored) = likelihoods(rbm, data, v.as_ref(), ln_z_exact, opts)?;
        Ok(Evaluation {
            n_visible: rbm.n_visible(),
            n_hidden: rbm.n_hidden(),
            n_parameters: rbm.n_parameters(),
            ln_z_exact,
            data: scores,
            tap_starts: starts.nrows(),
            tap,
            ln_z_tap4,
            ais,
            raise,
            scored,
        })
    }

    /// The flat JSON object (see the module docs for `null` and `"inf"`): `n_visible`,
    /// `n_hidden`, `n_parameters`, `ln_z_exact`; `data`, `n_samples`, `mean_free_energy`,
    /// `reconstruction_error`, `pseudo_log_likelihood`, `log_likelihood_exact`,
    /// `emf_log_likelihood`, `emf_log_likelihood_per_unit`; per TAP order `k` in `mf`, `tap2`,
    /// `tap3`: `ln_z_k`, `ln_z_k_converged`, `ln_z_k_particles`, `ln_z_k_max_residual`,
    /// `ln_z_k_note` (only when absent), `log_likelihood_k`, `k_solutions` (distinct fixed
    /// points), `k_minima`, `k_states` (the minima where the expansion holds), `ln_z_k_set`
    /// (`ln Z` from the states) and `ln_z_k_minima` (from all minima; see
    /// [`crate::estimate::fixed_points`]); `ln_z_tap4` (the fourth-order estimate at the TAP3
    /// fixed points); `tap_starts`; `ais_ln_z`,
    /// `ais_ln_z_lower`, `ais_ln_z_upper`, `ais_ess`, `ais_low_ess`, `ais_runs`, `ais_betas`,
    /// `ais_log_likelihood`, `ais_log_likelihood_lower`, `ais_log_likelihood_upper`,
    /// `ais_rows`; `raise_ln_z` (mean of the rows' `ln Z_i`), `raise_ln_z_lower`,
    /// `raise_ln_z_upper`, `raise_log_likelihood`, `raise_log_likelihood_lower`,
    /// `raise_log_likelihood_upper`, `raise_ess`, `raise_low_ess`, `raise_rows`,
    /// `raise_chains`, `raise_betas`; `low_ess_fraction` (the `_low_ess` threshold, ESS below
    /// this fraction of the runs or rows), `scored_rows` (which rows the likelihoods scored,
    /// in words) and `scored_log_likelihood_exact` (the exact value on those rows, which
    /// the two bracket).
    pub fn to_json(&self) -> Value {
        let num = |x: Option<f64>| x.map_or(Value::Null, json_float::to_json);
        let mut out = Map::new();
        let mut put = |k: &str, v: Value| {
            out.insert(k.to_string(), v);
        };
        put("n_visible", self.n_visible.into());
        put("n_hidden", self.n_hidden.into());
        put("n_parameters", self.n_parameters.into());
        put("ln_z_exact", num(self.ln_z_exact));
        let d = self.data.as_ref();
        put("data", d.map_or(Value::Null, |d| d.name.clone().into()));
        put("n_samples", d.map_or(Value::Null, |d| d.n_samples.into()));
        put("mean_free_energy", num(d.map(|d| d.mean_free_energy)));
        put(
            "reconstruction_error",
            num(d.map(|d| d.reconstruction_error)),
        );
        put(
            "pseudo_log_likelihood",
            num(d.map(|d| d.pseudo_log_likelihood)),
        );
        put(
            "log_likelihood_exact",
            num(d.and_then(|d| d.log_likelihood_exact)),
        );
        put("emf_log_likelihood", num(d.map(|d| d.emf_log_likelihood)));
        put(
            "emf_log_likelihood_per_unit",
            num(d.map(|d| d.emf_log_likelihood_per_unit)),
        );
        for t in &self.tap {
            let k = t.order.name();
            put(&format!("ln_z_{k}"), num(t.ln_z.value));
            put(&format!("ln_z_{k}_converged"), t.ln_z.n_converged.into());
            put(&format!("ln_z_{k}_particles"), t.ln_z.n_particles.into());
            put(
                &format!("ln_z_{k}_max_residual"),
                num(Some(t.ln_z.max_residual)),
            );
            if let Some(note) = &t.ln_z.note {
                put(&format!("ln_z_{k}_note"), note.clone().into());
            }
            put(
                &format!("log_likelihood_{k}"),
                num(t.log_likelihood.as_ref().and_then(|l| l.value)),
            );
            put(&format!("{k}_solutions"), t.solutions.into());
            put(&format!("{k}_minima"), t.minima.into());
            put(&format!("{k}_states"), t.states.into());
            put(&format!("ln_z_{k}_set"), num(t.ln_z_set));
            put(&format!("ln_z_{k}_minima"), num(t.ln_z_minima));
        }
        put("ln_z_tap4", num(Some(self.ln_z_tap4)));
        put("tap_starts", self.tap_starts.into());
        self.put_likelihoods(&mut out);
        Value::Object(out)
    }

    /// The AIS and RAISE entries of [`to_json`](Self::to_json).
    fn put_likelihoods(&self, out: &mut Map<String, Value>) {
        let num = |x: Option<f64>| x.map_or(Value::Null, json_float::to_json);
        let mut put = |k: &str, v: Value| {
            out.insert(k.to_string(), v);
        };
        let a = self.ais.as_ref();
        put("ais_ln_z", num(a.map(|a| a.ln_z.value)));
        put("ais_ln_z_lower", num(a.map(|a| a.ln_z.lower)));
        put("ais_ln_z_upper", num(a.map(|a| a.ln_z.upper)));
        put("ais_ess", num(a.map(|a| a.ln_z.ess)));
        put(
            "ais_low_ess",
            a.map_or(Value::Null, |a| a.ln_z.low_ess().into()),
        );
        put("ais_runs", a.map_or(Value::Null, |a| a.ln_z.runs.into()));
        put("ais_betas", a.map_or(Value::Null, |a| a.n_betas.into()));
        let ll = a.and_then(|a| a.log_likelihood);
        put("ais_log_likelihood", num(ll.map(|l| l.value)));
        put("ais_log_likelihood_lower", num(ll.map(|l| l.lower)));
        put("ais_log_likelihood_upper", num(ll.map(|l| l.upper)));
        let rows = |on: bool| match (&self.scored, on) {
            (Some(s), true) => s.rows.into(),
            _ => Value::Null,
        };
        put("ais_rows", rows(ll.is_some()));
        let r = self.raise.as_ref();
        put("raise_ln_z", num(r.map(|r| r.ln_z.value)));
        put("raise_ln_z_lower", num(r.map(|r| r.ln_z.lower)));
        put("raise_ln_z_upper", num(r.map(|r| r.ln_z.upper)));
        put(
            "raise_log_likelihood",
            num(r.map(|r| r.log_likelihood.value)),
        );
        let ll = r.map(|r| r.log_likelihood);
        put("raise_log_likelihood_lower", num(ll.map(|l| l.lower)));
        put("raise_log_likelihood_upper", num(ll.map(|l| l.upper)));
        put("raise_ess", num(ll.map(|l| l.ess)));
        put(
            "raise_low_ess",
            ll.map_or(Value::Null, |l| l.low_ess().into()),
        );
        put("raise_rows", rows(r.is_some()));
        put("raise_chains", r.map_or(Value::Null, |r| r.chains.into()));
        put("raise_betas", r.map_or(Value::Null, |r| r.n_betas.into()));
        let any = a.is_some() || r.is_some();
        put("low_ess_fraction", num(any.then_some(LOW_ESS_FRACTION)));
        put(
            "scored_log_likelihood_exact",
            num(self.scored.as_ref().and_then(|s| s.log_likelihood_exact)),
        );
        put(
            "scored_rows",
            self.scored.as_ref().map_or(Value::Null, |s| {
                let which = if s.rows < s.of {
                    format!("{} of {} rows (fixed random subset)", s.rows, s.of)
                } else {
                    format!("all {} rows", s.of)
                };
                format!("{which}, the same for AIS and RAISE").into()
            }),
        );
    }

    /// One `name value` line per entry of [`to_json`](Self::to_json) (`-` for "not
    /// computed"), numbers with 6 decimals.
    pub fn table(&self) -> String {
        let mut s = String::new();
        if let Value::Object(map) = self.to_json() {
            for (k, v) in &map {
                let text = match v {
                    Value::Null => "-".to_string(),
                    Value::Number(n) if n.is_f64() => {
                        format!("{:.6}", n.as_f64().unwrap_or(f64::NAN))
                    }
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                s.push_str(&format!("{k:<28} {text}\n"));
            }
        }
        s
    }
}

fn data_scores<T: Float>(
    rbm: &Rbm<T>,
    d: &Dataset,
    v: &Mat<T>,
    ln_z_exact: Option<f64>,
    opts: &EvalOptions,
) -> Result<DataScores> {
    let f = metrics::mean_free_energy(rbm, v.as_ref());
    let mut r = rng::rng(opts.seed);
    let emf = tap::emf_log_likelihood(rbm, v.as_ref(), &opts.emf_solver)?;
    let emf_mean = emf.iter().sum::<f64>() / emf.len() as f64;
    Ok(DataScores {
        name: d.name().to_string(),
        n_samples: d.n_samples(),
        mean_free_energy: f,
        reconstruction_error: metrics::reconstruction_error(rbm, v.as_ref()),
        pseudo_log_likelihood: metrics::pseudo_log_likelihood(rbm, v.as_ref(), &mut r),
        log_likelihood_exact: ln_z_exact.map(|z| -f - z),
        emf_log_likelihood: emf_mean,
        emf_log_likelihood_per_unit: emf_mean / (rbm.n_visible() + rbm.n_hidden()) as f64,
    })
}

/// `rows` draws from `Bernoulli(sigmoid(a))` (the visible biases alone), from `rng(seed)`.
fn model_draws<T: Float>(rbm: &Rbm<T>, rows: usize, seed: u64) -> Mat<T> {
    let mut r = rng::rng(seed);
    Mat::from_fn(rows, rbm.n_visible(), |_, i| {
        let p = crate::linalg::sigmoid(rbm.a[i].as_f64());
        if r.random::<f64>() < p {
            T::of(1.0)
        } else {
            T::of(0.0)
        }
    })
}
