//! One style for every configuration (`emf_rbm::checked`): an invalid value is refused by the
//! checked builder's `build()` AND by every function that consumes the configuration when it
//! was written as a struct literal, always as `Error::InvalidParameter` naming the field,
//! never as a panic or a silent clamp.

mod common;

use emf_rbm::compare::{demo, DemoConfig};
use emf_rbm::data::{CsvOptions, Dataset};
use emf_rbm::estimate::ais::{Ais, AisBase, AisConfig, BetaSchedule};
use emf_rbm::estimate::bracket::{adaptive_bracket, bracket, AdaptiveSchedule};
use emf_rbm::estimate::evaluation::{EvalOptions, Evaluation};
use emf_rbm::estimate::raise::{Raise, RaiseConfig};
use emf_rbm::estimate::tap as tap_estimate;
use emf_rbm::faer::Mat;
use emf_rbm::hamiltonian::{EffectiveHamiltonian, SpinMethod};
use emf_rbm::ising::{sample_ising, IsingConfig};
use emf_rbm::stack::{FreeEnergyOptions, RgOptions, Stack};
use emf_rbm::tap::{SolverOptions, TapOrder, TapSolver};
use emf_rbm::train::metrics::AisMetricConfig;
use emf_rbm::train::tap::TapConfig;
use emf_rbm::train::{Method, TrainConfig, Trainer};
use emf_rbm::{Error, Result};

/// The error is a refused parameter that names `field`.
fn refused<T: std::fmt::Debug>(r: Result<T>, field: &str) {
    match r {
        Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, field),
        other => panic!("expected InvalidParameter({field}), got {other:?}"),
    }
}

fn data() -> Dataset {
    Dataset::digits().binarize(0.5).head(60)
}

#[test]
fn train_config_is_checked_by_its_builder_and_by_the_trainer() {
    refused(
        TrainConfig::builder().learning_rate(-1.0).build(),
        "learning_rate",
    );
    let good = TrainConfig::builder()
        .n_hidden(4)
        .epochs(1)
        .build()
        .unwrap();
    let bad = TrainConfig {
        momentum: 1.5,
        ..good.clone()
    };
    refused(Trainer::<f64>::new(bad).fit(&data(), None), "momentum");
    let bad_tap = TrainConfig {
        method: Method::Tap(TapConfig {
            damping: 1.0,
            ..TapConfig::default()
        }),
        ..good
    };
    refused(Trainer::<f64>::new(bad_tap).fit(&data(), None), "damping");
}

#[test]
fn tap_configs_are_checked_by_their_builders_and_by_the_solver() {
    refused(TapConfig::builder().sweeps(0).build(), "sweeps");
    refused(SolverOptions::builder().damping(1.0).build(), "damping");
    let rbm = common::random_rbm(6, 3, 0.3, 0.2, 1);
    let v = Mat::<f64>::from_fn(4, 6, |i, j| ((i + j) % 2) as f64);
    let mut solver = TapSolver::<f64>::new(TapOrder::Tap2, 6, 3);
    solver.init_from_visible(&rbm, v.as_ref()).unwrap();
    let bad = SolverOptions {
        tolerance: f64::NAN,
        ..SolverOptions::converged()
    };
    refused(solver.solve(&rbm, &bad), "tolerance");
    refused(
        tap_estimate::log_partition(&rbm, TapOrder::Tap2, v.as_ref(), &bad),
        "tolerance",
    );
}

#[test]
fn ais_and_eval_options_are_checked_by_their_builders_and_consumers() {
    refused(AisConfig::builder().runs(1).build(), "runs");
    refused(
        Ais::new(AisConfig {
            chunk_runs: 0,
            ..AisConfig::default()
        }),
        "chunk_runs",
    );
    refused(EvalOptions::builder().tap_starts(0).build(), "tap_starts");
    let rbm = common::random_rbm(64, 3, 0.1, 0.2, 2);
    let bad = EvalOptions {
        tap_starts: 0,
        ..EvalOptions::default()
    };
    refused(Evaluation::run(&rbm, Some(&data()), &bad), "tap_starts");
    refused(EvalOptions::builder().ais_rows(0).build(), "ais_rows");
    let bad = EvalOptions {
        ais_rows: 0,
        ..EvalOptions::default()
    };
    refused(Evaluation::run(&rbm, Some(&data()), &bad), "ais_rows");
    let bad = EvalOptions {
        raise: Some(RaiseConfig {
            chains: 0,
            ..RaiseConfig::default()
        }),
        ..EvalOptions::default()
    };
    refused(Evaluation::run(&rbm, Some(&data()), &bad), "chains");
}

#[test]
fn raise_and_bracket_settings_are_checked_by_their_builders_and_consumers() {
    refused(RaiseConfig::builder().chains(0).build(), "chains");
    refused(RaiseConfig::builder().chunk_rows(0).build(), "chunk_rows");
    refused(
        Raise::new(RaiseConfig {
            chains: 0,
            ..RaiseConfig::default()
        }),
        "chains",
    );
    refused(AdaptiveSchedule::builder().start(2).build(), "start");
    refused(AdaptiveSchedule::builder().max(10).build(), "max");
    refused(AdaptiveSchedule::builder().max_gap(0.0).build(), "max_gap");
    let rbm = common::random_rbm(64, 3, 0.1, 0.2, 2);
    let d = data();
    let base = AisBase::from_data(&d, 0.05).unwrap();
    let v = d.to_mat::<f64>();
    let bad = AdaptiveSchedule {
        max_gap: f64::NAN,
        ..AdaptiveSchedule::default()
    };
    let (a, r) = (AisConfig::default(), RaiseConfig::default());
    refused(
        adaptive_bracket(&rbm, &base, v.as_ref(), &a, &r, &bad),
        "max_gap",
    );
    let bad_raise = RaiseConfig {
        chunk_rows: 0,
        ..RaiseConfig::default()
    };
    refused(
        bracket(
            &rbm,
            &base,
            v.as_ref(),
            &a,
            &bad_raise,
            &BetaSchedule::Count(10),
        ),
        "chunk_rows",
    );
    refused(AisMetricConfig::builder().rows(0).build(), "rows");
    refused(
        AisMetricConfig::builder().raise_chains(0).build(),
        "raise_chains",
    );
}

#[test]
fn ising_config_is_checked_by_its_builder_and_by_the_sampler() {
    refused(IsingConfig::builder().size(1).build(), "size");
    refused(
        sample_ising(&IsingConfig {
            chains: 0,
            ..IsingConfig::new(4, 2.0, 10)
        }),
        "chains",
    );
    refused(
        sample_ising(&IsingConfig::new(4, f64::NAN, 10)),
        "temperature",
    );
}

#[test]
fn stack_options_are_checked_by_their_builders_and_by_the_stack() {
    refused(RgOptions::builder().max_samples(0).build(), "max_samples");
    refused(FreeEnergyOptions::builder().subset(0).build(), "subset");
    let stack = Stack::from_layers(vec![common::random_rbm(64, 16, 0.1, 0.2, 3)]).unwrap();
    let d = data();
    refused(
        stack.rg_observables(
            &d,
            &RgOptions {
                max_coupling_pairs: 0,
                ..RgOptions::default()
            },
        ),
        "max_coupling_pairs",
    );
    refused(
        stack.free_energies(
            &d,
            &d,
            &FreeEnergyOptions {
                subset: 0,
                ..FreeEnergyOptions::default()
            },
        ),
        "subset",
    );
}

#[test]
fn csv_demo_and_spin_options_are_checked_by_their_consumers() {
    refused(CsvOptions::builder().scale(Some(0.0)).build(), "scale");
    let dir = common::tmpdir("options");
    let path = dir.join("x.csv");
    std::fs::write(&path, "0,1\n1,0\n").unwrap();
    let bad = CsvOptions {
        delimiter: b'"',
        ..CsvOptions::default()
    };
    refused(Dataset::read_csv(&path, &bad), "delimiter");
    refused(DemoConfig::builder().epochs(0).build(), "epochs");
    let no_methods = DemoConfig {
        methods: vec![],
        ..DemoConfig::default()
    };
    refused(demo(&no_methods, false), "methods");
    let ham = EffectiveHamiltonian::new(&common::random_rbm(5, 2, 0.3, 0.1, 4));
    refused(
        ham.pair_matrix_spin(&SpinMethod::Gaussian { tol: f64::NAN }),
        "tol",
    );
}
