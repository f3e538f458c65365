//! The training flags shared by `train`, `compare` and `stack` (one flattened clap group with
//! one [`TrainingArgs::to_config`]), and the estimate flags shared with `eval`. A flag means
//! the same thing, with the same default, in every subcommand; every value is checked before
//! any work starts.

use clap::Args;

use emf_rbm::estimate::ais::BetaSchedule;
use emf_rbm::tap::{SolverOptions, TapOrder, UpdateRule};
use emf_rbm::train::metrics::{
    AisMetricConfig, Cadence, EmfConfig, MetricConfig, MetricKind, MonitorConfig, TapLnZConfig,
};
use emf_rbm::train::{Method, Schedule, TrainConfig};
use emf_rbm::{Error, Result};

use super::common::Binarize;

/// Default of `--held-out`.
pub const DEFAULT_HELD_OUT: f64 = 0.1;
/// Default of `--tap-starts`.
pub const DEFAULT_TAP_STARTS: usize = 200;
/// Default of `--ais-runs`.
pub const DEFAULT_AIS_RUNS: usize = 100;

/// `--exact-max`: when the exact likelihood is computed.
#[derive(Args, Debug, Clone, PartialEq)]
pub struct ExactArgs {
    /// Exact ln Z and log-likelihood when min(n_visible, n_hidden) is at most this (at most
    /// 30; 2^20 states take ~0.1 s).
    #[arg(long, default_value_t = 20)]
    pub exact_max: usize,
}

/// The TAP ln Z estimate's settings (`--tap-starts`, `--tap-sweeps`, `--tap-tolerance`).
#[derive(Args, Debug, Clone, Default, PartialEq)]
pub struct TapEstimateArgs {
    /// TAP ln Z estimates: fixed points started from this many data rows [default: 200].
    #[arg(long)]
    pub tap_starts: Option<usize>,
    /// TAP ln Z estimates: at most this many sweeps of exact per-unit solves [default: 5000].
    #[arg(long)]
    pub tap_sweeps: Option<usize>,
    /// TAP ln Z estimates: a particle has converged when its residual max |f(m) - m| is at
    /// most this [default: 1e-8].
    #[arg(long)]
    pub tap_tolerance: Option<f64>,
}

impl TapEstimateArgs {
    /// Was any of the flags given?
    pub fn any(&self) -> bool {
        self.tap_starts.is_some() || self.tap_sweeps.is_some() || self.tap_tolerance.is_some()
    }

    /// The number of starts (checked: at least 1).
    pub fn starts(&self) -> Result<usize> {
        match self.tap_starts.unwrap_or(DEFAULT_TAP_STARTS) {
            0 => Err(Error::param("tap-starts", "must be >= 1")),
            n => Ok(n),
        }
    }

    /// The solver: [`SolverOptions::converged`] with the given sweeps and tolerance (checked).
    pub fn solver(&self) -> Result<SolverOptions> {
        let base = SolverOptions::converged();
        let opts = SolverOptions {
            max_sweeps: self.tap_sweeps.unwrap_or(base.max_sweeps),
            tolerance: self.tap_tolerance.unwrap_or(base.tolerance),
            ..base
        };
        opts.validate()?;
        Ok(opts)
    }
}

/// AIS and RAISE settings (`--ais-runs`, `--ais-betas`, `--ais-rows`, `--raise-chains`,
/// `--no-raise`).
#[derive(Args, Debug, Clone, Default, PartialEq)]
pub struct AisArgs {
    /// AIS: independent runs (>= 2) [default: 100].
    #[arg(long)]
    pub ais_runs: Option<usize>,
    /// AIS and RAISE: temperatures, `standard` (14 500) or a count (>= 3) split like the
    /// standard schedule [default: standard].
    #[arg(long, value_parser = parse_betas)]
    pub ais_betas: Option<BetaSchedule>,
    /// AIS and RAISE: held-out rows the log-likelihoods score, a fixed random subset (the
    /// same for both estimators, every model and seed; all rows when fewer) [default: 1000].
    #[arg(long)]
    pub ais_rows: Option<usize>,
    /// RAISE: reverse chains per scored row (>= 1) [default: 1].
    #[arg(long)]
    pub raise_chains: Option<usize>,
    /// Forward AIS only: skip RAISE, the reverse estimate (a stochastic lower bound on the
    /// log-likelihood, one reverse chain per scored row: ~10x the AIS time at the defaults).
    #[arg(long)]
    pub no_raise: bool,
}

impl AisArgs {
    /// Was any of the flags given?
    pub fn any(&self) -> bool {
        self.ais_runs.is_some()
            || self.ais_betas.is_some()
            || self.ais_rows.is_some()
            || self.raise_chains.is_some()
            || self.no_raise
    }

    /// The error for AIS flags without `--ais`.
    pub fn without_ais() -> Error {
        Error::param(
            "ais-runs",
            "--ais-runs, --ais-betas, --ais-rows, --raise-chains and --no-raise set the AIS \
             estimate: add --ais",
        )
    }

    /// The AIS metric's settings (checked).
    pub fn config(&self) -> Result<AisMetricConfig> {
        if self.no_raise && self.raise_chains.is_some() {
            return Err(Error::param(
                "raise-chains",
                "--raise-chains sets RAISE, which --no-raise turns off",
            ));
        }
        let d = AisMetricConfig::default();
        let cfg = AisMetricConfig {
            schedule: self.ais_betas.clone().unwrap_or_default(),
            runs: self.ais_runs.unwrap_or(DEFAULT_AIS_RUNS),
            rows: self.ais_rows.unwrap_or(d.rows),
            raise: !self.no_raise,
            raise_chains: self.raise_chains.unwrap_or(d.raise_chains),
            ..d
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Parses `--ais-betas`: `standard` or a count of at least 3.
pub fn parse_betas(s: &str) -> std::result::Result<BetaSchedule, String> {
    match s {
        "standard" => Ok(BetaSchedule::Standard),
        n => match n.parse::<usize>() {
            Ok(k) if k >= 3 => Ok(BetaSchedule::Count(k)),
            _ => Err(format!(
                "expected `standard` or a count of at least 3 temperatures, got `{n}`"
            )),
        },
    }
}

/// The flags of a training run, shared by `train`, `compare` and `stack`.
#[derive(Args, Debug, Clone, PartialEq)]
pub struct TrainingArgs {
    /// Epochs (passes over the training data), >= 1.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = 20)]
    pub batch: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.05)]
    pub lr: f64,
    /// Learning-rate decay: the rate is multiplied by this factor in (0, 1] every epoch
    /// [default: none, a constant rate].
    #[arg(long)]
    pub lr_decay: Option<f64>,
    /// Momentum in [0, 1).
    #[arg(long, default_value_t = 0.5)]
    pub momentum: f64,
    /// L1 penalty on the weights (gradient term -l1 sign(W)).
    #[arg(long, default_value_t = 0.0)]
    pub l1: f64,
    /// L2 weight decay (gradient term -l2 W).
    #[arg(long, default_value_t = 0.0, visible_alias = "decay")]
    pub l2: f64,
    /// Standard deviation of the initial weights.
    #[arg(long, default_value_t = 0.01)]
    pub init_sigma: f64,
    /// Seed of every random choice (split, initialisation, shuffling, sampling, monitor).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train in f32 (faster GEMMs) instead of f64.
    #[arg(long)]
    pub f32: bool,
    /// Every product a GEMM: CD/PCD multiply sparse minibatches and chains (at most 30 %
    /// ones) by sparse products unless this is given (same numbers to rounding).
    #[arg(long)]
    pub dense_products: bool,
    /// Binarisation of the data: a threshold in [0, 1], `stochastic`, or `none`.
    #[arg(long, default_value = "0.5")]
    pub binarize: Binarize,
    /// Held-out fraction in (0, 1) for data without its own test part (a MNIST folder's test
    /// files are its held-out set, and then this flag is refused) [default: 0.1].
    #[arg(long, visible_alias = "validation")]
    pub held_out: Option<f64>,
    /// TAP methods: fixed-point sweeps per parameter update [default: 3].
    #[arg(long)]
    pub sweeps: Option<usize>,
    /// TAP methods: damping d in [0, 1), m <- d m_old + (1 - d) f(m) [default: 0.5].
    #[arg(long)]
    pub damping: Option<f64>,
    /// TAP methods: stop the sweeps once the residual max |f(m) - m| is at most this
    /// [default: 0, never early].
    #[arg(long)]
    pub tolerance: Option<f64>,
    /// TAP methods: per-unit update, `exact` (each unit's equation solved, G_k decreases every
    /// half-sweep) or `fixed-point` (one evaluation of the map, the paper's rule)
    /// [default: fixed-point].
    #[arg(long, value_parser = parse_rule)]
    pub rule: Option<UpdateRule>,
    /// Measure the standard metrics (reconstruction error, pseudo-likelihood, free energies,
    /// exact likelihood) every N epochs and after the last; 0: never.
    #[arg(long, default_value_t = 1)]
    pub monitor_every: usize,
    /// Training rows (a fixed random subset) the monitor's training-side metrics use.
    #[arg(long, default_value_t = 1000)]
    pub monitor_subset: usize,
    #[command(flatten)]
    pub exact: ExactArgs,
    /// Also monitor the paper's EMF log-likelihood (3 damped TAP2 sweeps from each subset row).
    #[arg(long)]
    pub emf: bool,
    /// Also monitor the TAP ln Z estimate at these orders (comma-separated: mf, tap2, tap3),
    /// with the likelihoods it implies and its converged-particle count.
    #[arg(long, value_delimiter = ',')]
    pub tap: Vec<TapOrder>,
    #[command(flatten)]
    pub tap_estimate: TapEstimateArgs,
    /// The --emf and --tap metrics at these epochs only (comma-separated, 1-based) instead of
    /// at the monitor's cadence.
    #[arg(long, value_delimiter = ',')]
    pub estimate_epochs: Vec<usize>,
    /// Also estimate ln Z and the held-out log-likelihood by AIS, and the same likelihood from
    /// below by RAISE (each with interval and effective sample size), after the last epoch
    /// and at --ais-epochs.
    #[arg(long)]
    pub ais: bool,
    /// AIS also at these epochs (comma-separated, 1-based; implies --ais).
    #[arg(long, value_delimiter = ',')]
    pub ais_epochs: Vec<usize>,
    #[command(flatten)]
    pub ais_settings: AisArgs,
    /// Print one line of metrics per monitored epoch (stderr) instead of a progress bar.
    #[arg(long)]
    pub log: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl TrainingArgs {
    /// The held-out fraction for data without a test part (checked), or `None` for data with
    /// one (`has_test_part`), where giving `--held-out` is an error.
    pub fn held_out_fraction(&self, has_test_part: bool) -> Result<Option<f64>> {
        if has_test_part {
            return match self.held_out {
                Some(_) => Err(Error::param(
                    "held-out",
                    "the data has its own test part, which is the held-out set; drop --held-out",
                )),
                None => Ok(None),
            };
        }
        let f = self.held_out.unwrap_or(DEFAULT_HELD_OUT);
        if !(f > 0.0 && f < 1.0) {
            return Err(Error::param(
                "held-out",
                format!("must be in (0, 1), got {f}"),
            ));
        }
        Ok(Some(f))
    }

    /// `method` with the TAP solver flags applied; an error when they are given and `method`
    /// is not a TAP method.
    pub fn apply_solver_flags(&self, method: &Method) -> Result<Method> {
        let mut m = method.clone();
        match &mut m {
            Method::Tap(t) => {
                t.sweeps = self.sweeps.unwrap_or(t.sweeps);
                t.damping = self.damping.unwrap_or(t.damping);
                t.tolerance = self.tolerance.unwrap_or(t.tolerance);
                t.rule = self.rule.unwrap_or(t.rule);
            }
            _ if self.solver_flags_given() => {
                return Err(Error::param(
                    "sweeps",
                    "--sweeps, --damping, --tolerance and --rule apply to the TAP methods only",
                ))
            }
            _ => {}
        }
        m.validate()?;
        Ok(m)
    }

    fn solver_flags_given(&self) -> bool {
        self.sweeps.is_some()
            || self.damping.is_some()
            || self.tolerance.is_some()
            || self.rule.is_some()
    }

    /// The monitor: the standard metrics at `--monitor-every`, then the EMF, TAP and AIS
    /// metrics asked for (checked; flags of a metric that was not asked for are refused).
    pub fn monitor(&self) -> Result<MonitorConfig> {
        let mut metrics = MonitorConfig::standard_metrics(self.exact.exact_max);
        let estimates_at = if self.estimate_epochs.is_empty() {
            Cadence::Monitor
        } else if !self.emf && self.tap.is_empty() {
            return Err(Error::param(
                "estimate-epochs",
                "sets when the --emf and --tap metrics run: add one of them",
            ));
        } else {
            Cadence::Epochs(self.estimate_epochs.clone())
        };
        if self.emf {
            metrics.push(MetricConfig {
                at: estimates_at.clone(),
                kind: MetricKind::EmfLogLikelihood(EmfConfig::default()),
            });
        }
        if self.tap.is_empty() && self.tap_estimate.any() {
            return Err(Error::param(
                "tap-starts",
                "--tap-starts, --tap-sweeps and --tap-tolerance set the TAP ln Z metric: add --tap",
            ));
        }
        for &order in &self.tap {
            let cfg = TapLnZConfig {
                order,
                starts: self.tap_estimate.starts()?,
                solver: self.tap_estimate.solver()?,
            };
            metrics.push(MetricConfig {
                at: estimates_at.clone(),
                kind: MetricKind::TapLnZ(cfg),
            });
        }
        let ais = self.ais || !self.ais_epochs.is_empty();
        if ais {
            let at = if self.ais_epochs.is_empty() {
                Cadence::Epochs(vec![self.epochs])
            } else {
                Cadence::Epochs(self.ais_epochs.clone())
            };
            metrics.push(MetricConfig {
                at,
                kind: MetricKind::Ais(self.ais_settings.config()?),
            });
        } else if self.ais_settings.any() {
            return Err(AisArgs::without_ais());
        }
        MonitorConfig::builder()
            .every(self.monitor_every)
            .subset(self.monitor_subset)
            .metrics(metrics)
            .build()
    }

    /// The training configuration of one run (checked).
    pub fn to_config(&self, n_hidden: usize, method: &Method) -> Result<TrainConfig> {
        if self.epochs == 0 {
            return Err(Error::param("epochs", "must be >= 1"));
        }
        let schedule = match self.lr_decay {
            None => Schedule::Constant,
            Some(g) if g > 0.0 && g <= 1.0 => Schedule::Exponential { gamma: g },
            Some(g) => {
                return Err(Error::param(
                    "lr-decay",
                    format!("must be in (0, 1], got {g}"),
                ))
            }
        };
        TrainConfig::builder()
            .n_hidden(n_hidden)
            .method(self.apply_solver_flags(method)?)
            .epochs(self.epochs)
            .batch_size(self.batch)
            .learning_rate(self.lr)
            .schedule(schedule)
            .momentum(self.momentum)
            .l1(self.l1)
            .l2(self.l2)
            .init_sigma(self.init_sigma)
            .seed(self.seed)
            .sparse_products(!self.dense_products)
            .monitor(self.monitor()?)
            .build()
    }

    /// A note when the run records no held-out log-likelihood at all (the smaller layer is
    /// too large to enumerate and no AIS was asked for).
    pub fn likelihood_note(&self, n_visible: usize, n_hidden: usize) -> Option<String> {
        let smaller = n_visible.min(n_hidden);
        (smaller > self.exact.exact_max && !self.ais && self.ais_epochs.is_empty()).then(|| {
            format!(
                "note: no held-out log-likelihood will be recorded: the smaller layer has {smaller} \
                 units (> --exact-max {}); add --ais for an AIS estimate",
                self.exact.exact_max
            )
        })
    }
}

/// Parses `--rule`: `exact` or `fixed-point`.
fn parse_rule(s: &str) -> std::result::Result<UpdateRule, String> {
    match s {
        "exact" => Ok(UpdateRule::Exact),
        "fixed-point" | "fixed_point" => Ok(UpdateRule::FixedPoint),
        o => Err(format!("expected `exact` or `fixed-point`, got `{o}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        t: TrainingArgs,
    }

    fn parse(args: &[&str]) -> TrainingArgs {
        Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .unwrap()
            .t
    }

    fn err(args: &[&str]) -> String {
        let a = parse(args);
        let cfg = a
            .held_out_fraction(false)
            .and_then(|_| a.to_config(16, &"cd1".parse().unwrap()));
        match cfg {
            Err(e) => e.to_string(),
            Ok(c) => panic!("{args:?} accepted: {c:?}"),
        }
    }

    #[test]
    fn defaults_match_the_library_defaults_and_the_documented_ones() {
        let a = parse(&[]);
        let cfg = a.to_config(16, &"cd1".parse().unwrap()).unwrap();
        let lib = TrainConfig::builder().n_hidden(16).build().unwrap();
        // The same run as the library's defaults except the number of epochs (20 vs 10).
        assert_eq!(cfg, TrainConfig { epochs: 20, ..lib });
        assert_eq!(a.held_out_fraction(false).unwrap(), Some(0.1));
        assert_eq!(a.held_out_fraction(true).unwrap(), None);
        assert_eq!(cfg.monitor, MonitorConfig::default());
        assert_eq!((a.seed, a.batch, a.lr, a.momentum), (0, 20, 0.05, 0.5));
        assert_eq!(a.binarize, Binarize::Threshold(0.5));
        // --decay and --validation are aliases of --l2 and --held-out.
        let b = parse(&["--decay", "0.01", "--validation", "0.3"]);
        assert_eq!((b.l2, b.held_out), (0.01, Some(0.3)));
        let dense = parse(&["--dense-products"]).to_config(16, &"cd1".parse().unwrap());
        assert!(cfg.sparse_products && !dense.unwrap().sparse_products);
    }

    #[test]
    fn metric_flags_build_the_monitor() {
        let a = parse(&[
            "--emf",
            "--tap",
            "mf,tap3",
            "--tap-starts",
            "50",
            "--tap-sweeps",
            "30",
            "--ais-epochs",
            "2,5",
            "--ais-runs",
            "10",
            "--ais-betas",
            "500",
            "--epochs",
            "6",
        ]);
        let cfg = a.to_config(8, &"pcd1".parse().unwrap()).unwrap();
        let kinds: Vec<&MetricKind> = cfg.monitor.metrics.iter().map(|m| &m.kind).collect();
        assert_eq!(kinds.len(), 4 + 1 + 2 + 1);
        match kinds[5] {
            MetricKind::TapLnZ(t) => {
                assert_eq!(
                    (t.order, t.starts, t.solver.max_sweeps),
                    (TapOrder::Mf, 50, 30)
                );
                assert_eq!(t.solver.tolerance, SolverOptions::converged().tolerance);
            }
            other => panic!("{other:?}"),
        }
        let ais = cfg.monitor.metrics.last().unwrap();
        assert_eq!(ais.at, Cadence::Epochs(vec![2, 5]));
        match &ais.kind {
            MetricKind::Ais(c) => {
                assert_eq!((c.runs, &c.schedule), (10, &BetaSchedule::Count(500)));
                // RAISE on by default, 1 chain per row, on 1000 rows.
                assert_eq!((c.raise, c.raise_chains, c.rows), (true, 1, 1000));
            }
            other => panic!("{other:?}"),
        }
        let cfg = parse(&["--ais", "--ais-rows", "300", "--raise-chains", "4"])
            .to_config(8, &"cd1".parse().unwrap())
            .unwrap();
        match &cfg.monitor.metrics.last().unwrap().kind {
            MetricKind::Ais(c) => assert_eq!((c.raise, c.raise_chains, c.rows), (true, 4, 300)),
            other => panic!("{other:?}"),
        }
        let cfg = parse(&["--ais", "--no-raise"])
            .to_config(8, &"cd1".parse().unwrap())
            .unwrap();
        match &cfg.monitor.metrics.last().unwrap().kind {
            MetricKind::Ais(c) => assert!(!c.raise),
            other => panic!("{other:?}"),
        }
        // --estimate-epochs moves the EMF and TAP metrics off the monitor's cadence.
        let cfg = parse(&["--emf", "--tap", "tap2", "--estimate-epochs", "1,3"])
            .to_config(8, &"cd1".parse().unwrap())
            .unwrap();
        let at: Vec<&Cadence> = cfg.monitor.metrics[4..].iter().map(|m| &m.at).collect();
        assert_eq!(
            at,
            [&Cadence::Epochs(vec![1, 3]), &Cadence::Epochs(vec![1, 3])]
        );
        assert!(cfg.monitor.metrics[..4]
            .iter()
            .all(|m| m.at == Cadence::Monitor));
        // --ais alone: after the last epoch only.
        let cfg = parse(&["--ais", "--epochs", "4"])
            .to_config(8, &"cd1".parse().unwrap())
            .unwrap();
        assert_eq!(
            cfg.monitor.metrics.last().unwrap().at,
            Cadence::Epochs(vec![4])
        );
    }

    #[test]
    fn every_bad_value_is_an_error_naming_the_flag_or_field() {
        for (args, needle) in [
            (&["--lr-decay", "2"][..], "lr-decay"),
            (&["--lr-decay", "0"][..], "lr-decay"),
            (&["--held-out", "5"][..], "held-out"),
            (&["--held-out", "0"][..], "held-out"),
            (&["--epochs", "0"][..], "epochs"),
            (&["--batch", "0"][..], "batch_size"),
            (&["--lr", "0"][..], "learning_rate"),
            (&["--momentum", "1"][..], "momentum"),
            (&["--l1=-1"][..], "l1"),
            (&["--init-sigma=-0.1"][..], "init_sigma"),
            (&["--monitor-subset", "0"][..], "subset"),
            (&["--exact-max", "31"][..], "max_units"),
            (&["--tap", "tap2", "--tap-starts", "0"][..], "tap-starts"),
            (&["--tap", "tap2", "--tap-sweeps", "0"][..], "sweeps"),
            (&["--tap", "tap2", "--tap-tolerance=-1"][..], "tolerance"),
            (&["--tap-starts", "10"][..], "add --tap"),
            (&["--ais-runs", "10"][..], "add --ais"),
            (&["--ais-rows", "10"][..], "add --ais"),
            (&["--raise-chains", "2"][..], "add --ais"),
            (&["--no-raise"][..], "add --ais"),
            (&["--ais", "--ais-runs", "1"][..], "runs"),
            (&["--ais", "--ais-rows", "0"][..], "rows"),
            (&["--ais", "--raise-chains", "0"][..], "raise_chains"),
            (
                &["--ais", "--no-raise", "--raise-chains", "2"][..],
                "--no-raise",
            ),
            (&["--ais-epochs", "21"][..], "not within the run"),
            (&["--ais-epochs", "0"][..], "not within the run"),
            (&["--sweeps", "4"][..], "TAP methods only"),
            (&["--estimate-epochs", "2"][..], "add one of them"),
            (
                &["--emf", "--estimate-epochs", "21"][..],
                "not within the run",
            ),
        ] {
            let e = err(args);
            assert!(e.contains(needle), "{args:?}: {e}");
        }
        // Refused by the parser itself.
        for args in [
            &["--ais-betas", "2"][..],
            &["--tap", "tap4"][..],
            &["--binarize", "2"][..],
        ] {
            assert!(Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied())).is_err());
        }
        assert!(parse(&["--held-out", "0.2"])
            .held_out_fraction(true)
            .is_err());
        // Solver flags apply to TAP methods, and are checked there too.
        let a = parse(&["--sweeps", "5", "--damping", "0.3"]);
        match a.to_config(8, &"tap2".parse().unwrap()).unwrap().method {
            Method::Tap(t) => assert_eq!(
                (t.sweeps, t.damping, t.rule),
                (5, 0.3, UpdateRule::FixedPoint)
            ),
            other => panic!("{other:?}"),
        }
        let a = parse(&["--rule", "exact"]);
        match a.to_config(8, &"ptap2".parse().unwrap()).unwrap().method {
            Method::Tap(t) => assert_eq!((t.rule, t.persistent), (UpdateRule::Exact, true)),
            other => panic!("{other:?}"),
        }
        assert!(parse(&["--rule", "exact"])
            .to_config(8, &"cd1".parse().unwrap())
            .is_err());
        assert!(parse(&["--damping", "1"])
            .to_config(8, &"tap2".parse().unwrap())
            .is_err());
    }
}
