//! End-to-end: the `emf-rbm` binary as a user runs it. Its numbers are the library's for the
//! same data and settings (the same trained weights, the same evaluation of a saved model),
//! every bad value is refused before any work, and infinity is told apart from "not computed".

mod common;
use common::tmpdir;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use emf_rbm::data::Dataset;
use emf_rbm::estimate::ais::{Ais, AisBase, AisConfig, BetaSchedule};
use emf_rbm::estimate::fixed_points::{find_fixed_points, FixedPointOptions, FixedPointSet};
use emf_rbm::estimate::raise::{scored_rows, select_rows, Raise, RaiseConfig};
use emf_rbm::estimate::readout::{hidden_readout, ReadoutConfig};
use emf_rbm::estimate::tap;
use emf_rbm::estimate::{exact, metrics};
use emf_rbm::tap::{SolverOptions, TapOrder};
use emf_rbm::train::metrics::{EmfConfig, MetricKind, MonitorConfig, TapLnZConfig};
use emf_rbm::train::{keys, History, Method, TrainConfig, Trainer};
use emf_rbm::{persist, rng, Rbm};
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_emf-rbm"))
}

fn run_ok(c: &mut Command) -> Output {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a command that must fail with exit code 1 (a checked error, not a usage error or a
/// panic) and returns its stderr.
fn run_err(args: &[&str]) -> String {
    let out = bin().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

/// The history without its wall-clock figures (the only part that differs between runs).
fn without_times(h: &History) -> History {
    let mut h = h.clone();
    h.train_seconds = 0.0;
    for r in &mut h.epochs {
        r.train_seconds = 0.0;
        r.monitor_seconds = 0.0;
    }
    h
}

/// The digits as the CLI reads them with its defaults (`--binarize 0.5`, `--held-out 0.1`).
fn digits_split(seed: u64) -> (Dataset, Dataset) {
    Dataset::digits().binarize(0.5).split(0.1, seed).unwrap()
}

fn train_pcd(dir: &Path) -> PathBuf {
    let model = dir.join("m.json");
    let out = run_ok(
        bin()
            .args([
                "train", "--data", "digits", "--hidden", "12", "--method", "pcd1", "--epochs", "3",
                "--seed", "5", "--log", "--out",
            ])
            .arg(&model),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("held-out LL"));
    model
}

#[test]
fn train_saves_exactly_the_model_the_library_trains_with_the_documented_defaults() {
    let d = tmpdir("train");
    let model = train_pcd(&d);
    let file = persist::load_model_file(&model).unwrap();
    // The documented defaults: lr 0.05, batch 20, momentum 0.5, no decay, sigma 0.01, the
    // standard monitor; data binarised at 0.5 with 10 % held out, split by the seed.
    let cfg = TrainConfig::builder()
        .n_hidden(12)
        .method(Method::Pcd { k: 1, chains: None })
        .epochs(3)
        .seed(5)
        .build()
        .unwrap();
    let (train, test) = digits_split(5);
    let lib = Trainer::<f64>::new(cfg).fit(&train, Some(&test)).unwrap();
    assert_eq!(
        file.rbm::<f64>().unwrap(),
        lib.rbm,
        "same weights, bit for bit"
    );
    let h = file.history.unwrap();
    assert_eq!(without_times(&h), without_times(&lib.history));
    // The held-out likelihood recorded is the exact one of the saved model.
    let ll = exact::mean_log_likelihood(&lib.rbm, test.to_mat::<f64>().as_ref()).unwrap();
    assert!((h.last().unwrap().log_likelihood_held_out.unwrap() - ll).abs() < 1e-10);
}

#[test]
fn eval_held_out_scores_the_rows_train_held_out() {
    let d = tmpdir("eval-held-out");
    let model = train_pcd(&d); // --seed 5, the default 10 % held out
    let file = persist::load_model_file(&model).unwrap();
    let recorded = file
        .history
        .unwrap()
        .last()
        .unwrap()
        .log_likelihood_held_out
        .unwrap();
    let eval = |extra: &[&str]| {
        json_of(&run_ok(
            bin()
                .args(["eval", "--json", "--data", "digits"])
                .args(extra)
                .arg(&model),
        ))
    };
    for extra in [
        &["--held-out", "0.1", "--split-seed", "5"][..],
        &["--held-out", "0.1", "--seed", "5"][..],
    ] {
        let v = eval(extra);
        assert_eq!(v["n_samples"], 180, "{extra:?}: 10 % of 1797 rows");
        let ll = v["log_likelihood_exact"].as_f64().unwrap();
        assert!(
            (ll - recorded).abs() < 1e-10,
            "{extra:?}: {ll} vs {recorded}"
        );
    }
    // Another split seed holds out other rows.
    let v = eval(&["--held-out", "0.1", "--split-seed", "6"]);
    let ll = v["log_likelihood_exact"].as_f64().unwrap();
    assert!((ll - recorded).abs() > 1e-6, "{ll} vs {recorded}");

    // The read-out: fitted on the rows train trained on, scored on the held-out ones, as the
    // library computes it.
    let v = eval(&[
        "--held-out",
        "0.1",
        "--split-seed",
        "5",
        "--readout",
        "--readout-l2",
        "0.01",
    ]);
    let (fit_rows, held_out) = digits_split(5);
    let cfg = ReadoutConfig {
        l2: 0.01,
        ..ReadoutConfig::default()
    };
    let rbm = persist::load_rbm(&model).unwrap();
    let lib = hidden_readout(&rbm, &fit_rows, &held_out, &cfg).unwrap();
    assert_eq!(v["readout_test_accuracy"].as_f64(), Some(lib.test_accuracy));
    assert_eq!(
        v["readout_train_accuracy"].as_f64(),
        Some(lib.train_accuracy)
    );
    assert_eq!(v["readout_converged"], true);
    assert_eq!(
        (
            v["readout_train_rows"].as_u64(),
            v["readout_test_rows"].as_u64()
        ),
        (Some(1617), Some(180))
    );
    assert!(
        lib.test_accuracy > 0.5,
        "12 hidden units read out: {}",
        lib.test_accuracy
    );
    // In f32: the library's numbers for the model rounded to f32, not the f64 ones.
    let v32 = eval(&["--held-out", "0.1", "--split-seed", "5", "--f32"]);
    let v64 = eval(&["--held-out", "0.1", "--split-seed", "5"]);
    assert_eq!(
        (v32["float"].as_str(), v64["float"].as_str()),
        (Some("f32"), Some("f64"))
    );
    let rbm32 = rbm.cast::<f32>();
    let f32_free = metrics::mean_free_energy(&rbm32, held_out.to_mat::<f32>().as_ref());
    assert_eq!(v32["mean_free_energy"].as_f64(), Some(f32_free));
    assert_ne!(v32["mean_free_energy"], v64["mean_free_energy"]);
    assert_eq!(
        v32["ln_z_exact"].as_f64(),
        Some(exact::log_partition(&rbm32).unwrap())
    );
    // The TAP estimates are solved in f64 (on the f32 weights): they converge as in f64.
    let tap32 = tap::log_partition(
        &rbm32.cast::<f64>(),
        TapOrder::Tap2,
        held_out.to_mat::<f64>().as_ref(),
        &SolverOptions::converged(),
    )
    .unwrap();
    assert!(tap32.n_converged > 0);
    assert_eq!(v32["ln_z_tap2"].as_f64(), Some(tap32.ln_z));
    assert_eq!(v32["ln_z_tap2_converged"], tap32.n_converged);
    // Without held-out rows there is nothing to score the read-out on.
    let err = run_err(&[
        "eval",
        model.to_str().unwrap(),
        "--data",
        "digits",
        "--readout",
    ]);
    assert!(err.contains("--held-out"), "{err}");
    let err = run_err(&["eval", model.to_str().unwrap(), "--readout-l2", "1"]);
    assert!(err.contains("add --readout"), "{err}");
}

#[test]
fn eval_reports_the_librarys_numbers_for_the_saved_model() {
    let d = tmpdir("eval");
    let model = train_pcd(&d);
    let rbm = persist::load_rbm(&model).unwrap();
    let v = json_of(&run_ok(
        bin()
            .args(["eval", "--json", "--data", "digits"])
            .arg(&model),
    ));
    assert_eq!(
        (v["n_visible"].as_u64(), v["n_hidden"].as_u64()),
        (Some(64), Some(12))
    );
    // eval scores the whole data set when it has no test part, binarised at 0.5.
    let data = Dataset::digits().binarize(0.5);
    let x = data.to_mat::<f64>();
    let ln_z = exact::log_partition(&rbm).unwrap();
    let f = metrics::mean_free_energy(&rbm, x.as_ref());
    let num = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k}: {}", v[k]));
    assert_eq!(num("ln_z_exact"), ln_z);
    assert_eq!(num("mean_free_energy"), f);
    assert_eq!(num("log_likelihood_exact"), -f - ln_z);
    assert_eq!(
        num("reconstruction_error"),
        metrics::reconstruction_error(&rbm, x.as_ref())
    );
    let pll = metrics::pseudo_log_likelihood(&rbm, x.as_ref(), &mut rng::rng(0));
    assert_eq!(num("pseudo_log_likelihood"), pll);
    let emf = tap::emf_log_likelihood(&rbm, x.as_ref(), &SolverOptions::paper()).unwrap();
    let emf = emf.iter().sum::<f64>() / emf.len() as f64;
    assert_eq!(num("emf_log_likelihood"), emf);
    assert_eq!(v["tap_starts"], 200);
    let tap4 = tap::log_partition_tap4(
        &rbm,
        x.as_ref().subrows(0, 200),
        &SolverOptions::converged(),
    )
    .unwrap();
    assert_eq!(num("ln_z_tap4"), tap4.ln_z);
    for order in TapOrder::ALL {
        let k = order.name();
        let est = tap::log_partition(
            &rbm,
            order,
            x.as_ref().subrows(0, 200),
            &SolverOptions::converged(),
        )
        .unwrap();
        assert_eq!(v[format!("ln_z_{k}_converged")], est.n_converged, "{k}");
        assert_eq!(v[format!("ln_z_{k}_particles")], 200, "{k}");
        let set = find_fixed_points(
            &rbm,
            order,
            x.as_ref().subrows(0, 200),
            &FixedPointOptions::default(),
        )
        .unwrap();
        assert_eq!(v[format!("{k}_solutions")], set.points.len(), "{k}");
        assert_eq!(v[format!("{k}_states")], set.n_states(), "{k}");
        assert_eq!(v[format!("{k}_minima")], set.n_minima(), "{k}");
        match set.ln_z_minima() {
            Ok(z) => assert_eq!(num(&format!("ln_z_{k}_minima")), z, "{k}"),
            Err(_) => assert!(v[format!("ln_z_{k}_minima")].is_null(), "{k}"),
        }
        match set.ln_z_set() {
            Ok(z) => assert_eq!(num(&format!("ln_z_{k}_set")), z, "{k}"),
            Err(_) => assert!(v[format!("ln_z_{k}_set")].is_null(), "{k}"),
        }
        if est.n_converged > 0 {
            assert_eq!(num(&format!("ln_z_{k}")), est.ln_z, "{k}");
            assert_eq!(num(&format!("log_likelihood_{k}")), -f - est.ln_z, "{k}");
        } else {
            assert!(v[format!("ln_z_{k}")].is_null(), "{k}: {v}");
            assert!(v[format!("ln_z_{k}_note")].is_string(), "{k}: {v}");
        }
    }
    assert!(v["ais_ln_z"].is_null(), "AIS was not asked for");

    // Model-only evaluation: the same exact ln Z, nothing data-dependent.
    let v2 = json_of(&run_ok(bin().args(["eval", "--json"]).arg(&model)));
    assert_eq!(v2["ln_z_exact"], v["ln_z_exact"]);
    assert!(v2["mean_free_energy"].is_null() && v2["log_likelihood_exact"].is_null());

    // AIS and RAISE: the library's estimates for the same seed and settings, on the same
    // fixed 300 of the 1797 rows, bracketing the exact ln Z and log-likelihood.
    let v3 = json_of(&run_ok(
        bin()
            .args([
                "eval",
                "--json",
                "--data",
                "digits",
                "--ais",
                "--ais-runs",
                "20",
                "--ais-rows",
                "300",
            ])
            .args(["--ais-betas", "1000", "--seed", "3"])
            .arg(&model),
    ));
    let cfg = AisConfig {
        schedule: BetaSchedule::Count(1000),
        runs: 20,
        seed: 3,
        ..AisConfig::default()
    };
    let est = Ais::new(cfg)
        .unwrap()
        .estimate(&rbm, &AisBase::from_data(&data, 0.05).unwrap())
        .unwrap();
    let sub = select_rows(x.as_ref(), &scored_rows(x.nrows(), 300));
    let ll = est.log_likelihood(&rbm, sub.as_ref()).unwrap();
    let n3 = |k: &str| v3[k].as_f64().unwrap_or_else(|| panic!("{k}: {}", v3[k]));
    assert_eq!(n3("ais_ln_z"), est.log_z);
    assert_eq!(n3("ais_ess"), est.ess);
    assert_eq!(
        (n3("ais_ln_z_lower"), n3("ais_ln_z_upper")),
        (est.log_z_lower, est.log_z_upper)
    );
    assert_eq!(n3("ais_log_likelihood"), ll.mean);
    assert_eq!(v3["ais_runs"], 20);
    assert_eq!(v3["ais_betas"], 1000);
    assert!(est.log_z_lower <= ln_z && ln_z <= est.log_z_upper);
    let rcfg = RaiseConfig {
        schedule: BetaSchedule::Count(1000),
        seed: 3,
        ..RaiseConfig::default()
    };
    let rev = Raise::new(rcfg)
        .unwrap()
        .estimate(
            &rbm,
            &AisBase::from_data(&data, 0.05).unwrap(),
            sub.as_ref(),
        )
        .unwrap();
    assert_eq!(n3("raise_log_likelihood"), rev.log_likelihood);
    assert_eq!(
        (
            n3("raise_log_likelihood_lower"),
            n3("raise_log_likelihood_upper")
        ),
        (rev.lower, rev.upper)
    );
    assert_eq!((n3("raise_ess"), n3("raise_ln_z")), (rev.ess, rev.log_z));
    assert_eq!(
        (v3["raise_rows"].clone(), v3["ais_rows"].clone()),
        (300.into(), 300.into())
    );
    assert_eq!(
        (v3["raise_chains"].clone(), v3["raise_betas"].clone()),
        (1.into(), 1000.into())
    );
    assert_eq!(v3["ais_low_ess"], false);
    assert_eq!(v3["raise_low_ess"], rev.low_ess());
    assert_eq!(n3("low_ess_fraction"), 0.1);
    let said = v3["scored_rows"].as_str().unwrap();
    assert!(
        said.contains("300 of 1797 rows") && said.contains("AIS and RAISE"),
        "{said}"
    );
    let exact_ll = -metrics::mean_free_energy(&rbm, sub.as_ref()) - ln_z;
    assert_eq!(n3("scored_log_likelihood_exact"), exact_ll);
    assert!(
        rev.lower <= exact_ll && exact_ll <= ll.upper,
        "the bracket: {v3}"
    );
    // --no-raise: forward AIS only, the same numbers.
    let v4 = json_of(&run_ok(
        bin()
            .args(["eval", "--json", "--data", "digits", "--ais", "--no-raise"])
            .args([
                "--ais-runs",
                "20",
                "--ais-rows",
                "300",
                "--ais-betas",
                "1000",
            ])
            .args(["--seed", "3"])
            .arg(&model),
    ));
    assert_eq!(v4["ais_log_likelihood"], v3["ais_log_likelihood"]);
    assert!(v4["raise_log_likelihood"].is_null() && v4["raise_rows"].is_null());
}

#[test]
fn export_import_and_sample_round_trip() {
    let d = tmpdir("npz");
    let model = train_pcd(&d);
    let npz = d.join("m.npz");
    let model2 = d.join("m2.json");
    run_ok(bin().arg("export").arg(&model).arg("--npz").arg(&npz));
    run_ok(
        bin()
            .args(["import", "--npz"])
            .arg(&npz)
            .arg("--out")
            .arg(&model2),
    );
    assert_eq!(
        persist::load_rbm(&model).unwrap(),
        persist::load_rbm(&model2).unwrap()
    );
    let png = d.join("s.png");
    run_ok(
        bin()
            .arg("sample")
            .arg(&model)
            .args(["--chains", "16", "--steps", "50", "--out"])
            .arg(&png),
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
}

#[test]
fn infinite_values_are_told_apart_from_values_not_computed() {
    // A strongly coupled model and two AIS runs over 3 temperatures: the lower end of the
    // interval of Z is not positive, so ln Z's lower end is -inf and the likelihood's upper
    // end +inf. Those are computed values ("-inf", "inf"); what was not asked for is null.
    let d = tmpdir("inf");
    let data = Dataset::digits().binarize(0.5);
    let cfg = AisConfig {
        schedule: BetaSchedule::Count(3),
        runs: 2,
        seed: 0,
        ..AisConfig::default()
    };
    let base = AisBase::from_data(&data, 0.05).unwrap();
    // The first seed whose model gives that case (deterministic).
    let (rbm, est) = (1..100)
        .map(|s| {
            let rbm = Rbm::<f64>::random(64, 10, 2.0, &mut rng::rng(s)).unwrap();
            let est = Ais::new(cfg.clone())
                .unwrap()
                .estimate(&rbm, &base)
                .unwrap();
            (rbm, est)
        })
        .find(|(_, e)| e.log_z_lower == f64::NEG_INFINITY)
        .expect("a model with a non-positive lower end of Z");
    let model = d.join("strong.json");
    persist::save_rbm(&model, &rbm, None).unwrap();
    assert_eq!(
        est.log_z_lower,
        f64::NEG_INFINITY,
        "the case this test is about"
    );
    let args = [
        "eval",
        "--json",
        "--data",
        "digits",
        "--ais",
        "--ais-runs",
        "2",
    ];
    let v = json_of(&run_ok(
        bin().args(args).args(["--ais-betas", "3"]).arg(&model),
    ));
    assert_eq!(v["ais_ln_z_lower"], "-inf", "{v}");
    assert_eq!(v["ais_log_likelihood_upper"], "inf", "{v}");
    assert_eq!(v["ais_ln_z"].as_f64(), Some(est.log_z));
    let v = json_of(&run_ok(
        bin()
            .args(["eval", "--json", "--exact-max", "5"])
            .arg(&model),
    ));
    for k in [
        "ln_z_exact",
        "ais_ln_z_lower",
        "ais_log_likelihood_upper",
        "mean_free_energy",
    ] {
        assert!(v[k].is_null(), "{k} was not computed: {v}");
    }
}

#[test]
fn bad_arguments_are_refused_before_any_work() {
    // Usage errors (exit 2) from the parser.
    for (args, needle) in [
        (&["train", "--hidden", "abc"][..], "invalid value 'abc'"),
        (&["train", "--method", "foo"][..], "unknown method"),
        (&["train", "--ais", "--ais-betas", "2"][..], "at least 3"),
        (&["train", "--tap", "tap4"][..], "unknown TAP order"),
        (&["frobnicate"][..], ""),
    ] {
        let out = bin().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{args:?}"
        );
    }
    // Checked values (exit 1), each naming the flag or field; no training happens.
    let d = tmpdir("bad");
    let out = d.join("never.json");
    let o = out.to_str().unwrap();
    for (args, needle) in [
        (vec!["train", "--lr-decay", "2", "--out", o], "lr-decay"),
        (vec!["train", "--lr=-1", "--out", o], "learning_rate"),
        (vec!["train", "--held-out", "5", "--out", o], "held-out"),
        (vec!["train", "--epochs", "0", "--out", o], "epochs"),
        (
            vec!["train", "--checkpoint-every", "0", "--out", o],
            "checkpoint_every",
        ),
        (vec!["train", "--monitor-subset", "0", "--out", o], "subset"),
        (vec!["train", "--exact-max", "40", "--out", o], "max_units"),
        (vec!["train", "--tap-starts", "5", "--out", o], "add --tap"),
        (vec!["train", "--ais-runs", "5", "--out", o], "add --ais"),
        (
            vec!["train", "--ais-epochs", "30", "--out", o],
            "not within the run",
        ),
        (
            vec!["train", "--method", "cd1", "--sweeps", "4", "--out", o],
            "TAP methods only",
        ),
        (
            vec![
                "compare",
                "--methods",
                "cd1,pcd1",
                "--damping",
                "0.2",
                "--out",
                o,
            ],
            "TAP methods only",
        ),
        (vec!["eval", o, "--tap-starts", "0"], "tap-starts"),
        (vec!["eval", o, "--ais-runs", "10"], "add --ais"),
        (vec!["eval", o, "--ais-rows", "10"], "add --ais"),
        (vec!["eval", o, "--ais", "--ais-rows", "0"], "rows"),
        (
            vec!["eval", o, "--ais", "--raise-chains", "0"],
            "raise_chains",
        ),
        (
            vec!["eval", o, "--ais", "--no-raise", "--raise-chains", "2"],
            "--no-raise",
        ),
        (vec!["train", "--no-raise", "--out", o], "add --ais"),
    ] {
        let err = run_err(&args);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(!out.exists());
    // A stack with one bad temperature fails before the first one is trained.
    let sd = d.join("stack-out");
    let err = run_err(&[
        "stack",
        "--temperature",
        "2,-1",
        "--out",
        sd.to_str().unwrap(),
    ]);
    assert!(err.contains("temperature"), "{err}");
    assert!(!sd.exists(), "nothing was written");
    // Bad input files are reported with their name.
    let f = d.join("broken.csv");
    std::fs::write(&f, "0,1,0\n1,x,0\n").unwrap();
    let err = run_err(&[
        "train",
        "--epochs",
        "1",
        "--data",
        f.to_str().unwrap(),
        "--out",
        o,
    ]);
    assert!(
        err.contains("broken.csv") && err.contains("line 2"),
        "{err}"
    );
    let err = run_err(&["eval", "/nonexistent/model.json"]);
    assert!(err.contains("/nonexistent/model.json"), "{err}");
}

#[test]
fn tap_training_from_the_cli_equals_the_library_run_with_its_metrics() {
    let d = tmpdir("tap");
    let model = d.join("t.json");
    let out = run_ok(
        bin()
            .args([
                "train",
                "--method",
                "tap3",
                "--sweeps",
                "5",
                "--damping",
                "0.3",
            ])
            .args([
                "--hidden", "10", "--epochs", "3", "--emf", "--tap", "tap2", "--log",
            ])
            .args(["--tap-starts", "50", "--out"])
            .arg(&model),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("emf_log_likelihood=") && err.contains("/50 converged)"),
        "{err}"
    );
    let method = match "tap3".parse::<Method>().unwrap() {
        Method::Tap(mut t) => {
            t.sweeps = 5;
            t.damping = 0.3;
            Method::Tap(t)
        }
        other => panic!("{other:?}"),
    };
    let monitor = MonitorConfig::builder()
        .metric(MetricKind::EmfLogLikelihood(EmfConfig::default()))
        .metric(MetricKind::TapLnZ(TapLnZConfig {
            starts: 50,
            ..TapLnZConfig::default()
        }))
        .build()
        .unwrap();
    let cfg = TrainConfig::builder()
        .n_hidden(10)
        .method(method)
        .epochs(3)
        .monitor(monitor)
        .build()
        .unwrap();
    let (train, test) = digits_split(0);
    let lib = Trainer::<f64>::new(cfg).fit(&train, Some(&test)).unwrap();
    let file = persist::load_model_file(&model).unwrap();
    assert_eq!(file.rbm::<f64>().unwrap(), lib.rbm);
    let h = file.history.unwrap();
    assert_eq!(without_times(&h), without_times(&lib.history));
    let last = h.last().unwrap();
    assert!(last.get(&keys::EMF_LOG_LIKELIHOOD).is_some());
    assert_eq!(
        last.get(&keys::tap_ln_z(TapOrder::Tap2))
            .unwrap()
            .n_particles,
        50
    );
}

#[test]
fn compare_saves_each_model_with_the_numbers_of_its_table() {
    let d = tmpdir("compare");
    let out = run_ok(
        bin()
            .args([
                "compare",
                "--methods",
                "cd1,mf",
                "--hidden",
                "8",
                "--epochs",
                "2",
            ])
            .args(["--quiet", "--out"])
            .arg(&d),
    );
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    let (_, test) = digits_split(0);
    let x = test.to_mat::<f64>();
    for m in ["cd1", "mf"] {
        let file = persist::load_model_file(&d.join(format!("model_{m}.json"))).unwrap();
        let rbm = file.rbm::<f64>().unwrap();
        let h = file.history.unwrap();
        assert_eq!(
            h,
            persist::load_history(&d.join(format!("history_{m}.json"))).unwrap()
        );
        let ll = exact::mean_log_likelihood(&rbm, x.as_ref()).unwrap();
        let rec = h
            .last()
            .unwrap()
            .get(&keys::LOG_LIKELIHOOD_HELD_OUT)
            .unwrap();
        assert!((rec - ll).abs() < 1e-10, "{m}: {rec} vs {ll}");
        let row = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(m))
            .unwrap();
        assert_eq!(
            row.split_whitespace().nth(1),
            Some(format!("{rec:.3}").as_str())
        );
    }
}

/// `ising` writes the library's samples (same seed, same rows) and prints the exact values of
/// the finite torus next to the sample means.
#[test]
fn ising_prints_the_exact_finite_lattice_values_next_to_the_samples() {
    use emf_rbm::ising::{exact_finite, sample_ising, IsingConfig};
    let dir = tmpdir("ising");
    let out_file = dir.join("ising.idx");
    let out = run_ok(bin().args([
        "ising",
        "--size",
        "6",
        "--temperature",
        "2.5",
        "--samples",
        "300",
        "--seed",
        "4",
        "--out",
        out_file.to_str().unwrap(),
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    let lib = sample_ising(&IsingConfig {
        seed: 4,
        ..IsingConfig::new(6, 2.5, 300)
    })
    .unwrap();
    let file = Dataset::load(out_file.to_str().unwrap()).unwrap();
    assert_eq!(file.as_slice(), lib.dataset.as_slice());
    let exact = exact_finite(6, 2.5).unwrap();
    let e = lib.energy_per_site();
    for expected in [
        format!("{:.5} +- {:.5}", e.mean, e.stderr),
        format!("{:.5}", exact.energy_per_site),
        format!("{:.5}", exact.abs_m.unwrap()),
        format!("{:.5}", exact.m2.unwrap()),
        "transfer matrix".to_string(),
    ] {
        assert!(text.contains(&expected), "missing {expected} in:\n{text}");
    }
    let err = run_err(&[
        "ising",
        "--size",
        "1",
        "--temperature",
        "2.5",
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert!(err.contains("size"), "{err}");
}

/// An IDX file of 0/1 bytes (binary images saved as 0/1): `train` reads it as binary data and
/// says so on stderr, trains exactly the library's model on `Dataset::load` of the file, and
/// that model learns the images (read as 0 and 1/255, `--binarize 0.5` would have emptied the
/// data and `--binarize none` left it near zero). `eval` prints the note too and scores the
/// 0/1 data.
#[test]
fn an_idx_file_of_zero_one_bytes_is_binary_data() {
    let d = tmpdir("binary-idx");
    // 400 images of 4 x 4 bars: one random row or column on, stored as 0/1 bytes.
    let mut r = rng::rng(3);
    let mut bytes = vec![0, 0, 8, 3];
    for dim in [400u32, 4, 4] {
        bytes.extend_from_slice(&dim.to_be_bytes());
    }
    for _ in 0..400 {
        let (line, row) = (
            rand::Rng::random_range(&mut r, 0..4),
            rand::Rng::random_bool(&mut r, 0.5),
        );
        for p in 0..16 {
            let on = if row { p / 4 == line } else { p % 4 == line };
            bytes.push(on as u8);
        }
    }
    let f = d.join("bars.idx");
    std::fs::write(&f, &bytes).unwrap();
    let fs = f.to_str().unwrap();
    let model = d.join("bars.json");
    let args = [
        "train", "--data", fs, "--hidden", "8", "--epochs", "30", "--seed", "2", "--lr", "0.2",
        "--batch", "10",
    ];
    let out = run_ok(
        bin()
            .args(args)
            .args(["--binarize", "none", "--quiet", "--out"])
            .arg(&model),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("note: ") && err.contains("bars.idx") && err.contains("0 or 1"),
        "{err}"
    );
    let data = Dataset::load(fs).unwrap();
    assert!(data.is_binary() && data.as_slice().iter().filter(|&&x| x == 1.0).count() == 1600);
    let (train, test) = data.split(0.1, 2).unwrap();
    let cfg = TrainConfig::builder()
        .n_hidden(8)
        .epochs(30)
        .learning_rate(0.2)
        .batch_size(10)
        .seed(2)
        .build()
        .unwrap();
    let lib = Trainer::<f64>::new(cfg).fit(&train, Some(&test)).unwrap();
    let saved = persist::load_rbm(&model).unwrap();
    assert_eq!(saved, lib.rbm, "same weights, bit for bit");
    // It learns the bars: 8 equally likely images, an entropy of ln 8 = 2.08 nats, against
    // 16 H(1/4) = 9.0 nats for independent pixels (where training starts). Measured: -9.18
    // after epoch 1, -2.34 after 30; the model must end within a nat of the entropy.
    let h = &lib.history;
    let (first, last) = (
        h.epochs[0].log_likelihood_held_out.unwrap(),
        h.last().unwrap().log_likelihood_held_out.unwrap(),
    );
    eprintln!("bars: held-out LL {first:.3} after epoch 1, {last:.3} after 30");
    assert!(first < -8.0, "{first}");
    assert!(last > -(8f64.ln()) - 1.0, "{first} -> {last}");
    // eval: the note, and the library's numbers on the 0/1 data (all rows: no test part).
    let out = run_ok(bin().args(["eval", "--json", "--data", fs]).arg(&model));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 or 1"));
    let v = json_of(&out);
    let x = data.to_mat::<f64>();
    assert_eq!(
        v["mean_free_energy"].as_f64(),
        Some(metrics::mean_free_energy(&saved, x.as_ref()))
    );
    // A MNIST-style folder with 0/1 training images and grey-level test images is refused
    // before any training, naming the grey file and its first byte above 1.
    let folder = d.join("mixed");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("train-images-idx3-ubyte"), &bytes).unwrap();
    let mut grey = bytes[..16 + 160].to_vec();
    grey[4..8].copy_from_slice(&10u32.to_be_bytes());
    grey[16 + 3] = 255;
    std::fs::write(folder.join("t10k-images-idx3-ubyte"), &grey).unwrap();
    let never = d.join("never.json");
    let err = run_err(&[
        "train",
        "--data",
        folder.to_str().unwrap(),
        "--out",
        never.to_str().unwrap(),
    ]);
    assert!(
        err.contains("t10k-images-idx3-ubyte") && err.contains("byte 19") && err.contains("0/1"),
        "{err}"
    );
    assert!(!never.exists());
}

/// `fixed-points` lists the states of a two-state model (from random binary starts), its ln Z
/// from the set is the library's, `--out` writes the whole set, and a bad order is refused.
#[test]
fn fixed_points_lists_the_states_of_a_two_state_model() {
    let d = tmpdir("fixed-points");
    let (nv, w) = (8, 4.0);
    let mut rbm = Rbm::<f64>::zeros(nv, 1).unwrap();
    rbm.w.col_mut(0).iter_mut().for_each(|x| *x = w);
    rbm.a = vec![-w / 2.0; nv];
    rbm.b = vec![-w / 2.0 * nv as f64];
    let model = d.join("two-state.json");
    persist::save_rbm(&model, &rbm, None).unwrap();
    let out = d.join("set.json");
    let v = json_of(&run_ok(
        bin()
            .args([
                "fixed-points",
                "--json",
                "--random-starts",
                "100",
                "--seed",
                "3",
            ])
            .arg(&model)
            .arg("--out")
            .arg(&out),
    ));
    assert_eq!(v["order"], "tap2");
    assert_eq!(
        (v["starts"].as_u64(), v["random_starts"].as_u64()),
        (Some(100), Some(100))
    );
    // two ordered states and the spurious symmetric TAP2 minimum at m = 1/2
    assert_eq!(
        (v["states"].as_u64(), v["solutions"].as_u64()),
        (Some(2), Some(3)),
        "{v}"
    );
    let exact = exact::log_partition(&rbm).unwrap();
    let set_z = v["ln_z_set"].as_f64().unwrap();
    assert!((set_z - exact).abs() < 0.006, "{set_z} vs {exact}");
    assert!((exact - v["ln_z_best"].as_f64().unwrap() - 2f64.ln()).abs() < 0.006);
    // all three minima: the spurious symmetric one dominates (-G_2 = 2.24 > exact 1.71)
    assert!(v["ln_z_minima"].as_f64().unwrap() > exact + 0.5, "{v}");
    let saved: FixedPointSet = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(saved.ln_z_set().unwrap(), set_z);
    assert_eq!(saved.points[0].visible.len(), nv);
    // the text table names the kinds
    let text = run_ok(
        bin()
            .args(["fixed-points", "--random-starts", "50"])
            .arg(&model),
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("minimum") && text.contains("ln_z_set"),
        "{text}"
    );
    let m = model.to_str().unwrap();
    let err = run_err(&["fixed-points", m, "--order", "tap4", "--random-starts", "5"]);
    assert!(err.contains("expected mf, tap2 or tap3"), "{err}");
    let err = run_err(&["fixed-points", m]);
    assert!(err.contains("no starts"), "{err}");
}

#[test]
fn train_profile_splits_the_updates_time_without_the_monitor_and_changes_no_result() {
    let d = tmpdir("profile");
    let train = |monitor: &str, profile: bool, out: &str| {
        let mut c = bin();
        c.args([
            "train",
            "--data",
            "digits",
            "--hidden",
            "16",
            "--method",
            "tap2",
            "--epochs",
            "2",
            "--seed",
            "4",
            "--quiet",
            "--reproducible",
            "--monitor-every",
            monitor,
            "--out",
        ])
        .arg(d.join(out));
        if profile {
            c.arg("--profile");
        }
        String::from_utf8_lossy(&run_ok(&mut c).stderr).to_string()
    };
    let plain = train("1", false, "plain.json");
    assert!(!plain.contains("time split"), "{plain}");
    let monitored = train("1", true, "monitored.json");
    let bare = train("0", true, "bare.json");
    let model = |name: &str| {
        let file = persist::load_model_file(&d.join(name)).unwrap();
        (file.rbm::<f64>().unwrap(), file.history.unwrap())
    };
    assert!(
        model("plain.json") == model("monitored.json"),
        "--profile changes nothing"
    );
    for name in [
        "gemm",
        "elementwise",
        "random",
        "step",
        "copy",
        "sparse",
        "other",
    ] {
        assert!(
            monitored.lines().any(|l| l.starts_with(name)),
            "{name}: {monitored}"
        );
    }
    // Each GEMM shape with its number of calls (the text before the time), and their FLOPs.
    let shapes = |err: &str| -> (Vec<String>, f64) {
        let lines: Vec<String> = err
            .lines()
            .filter_map(|l| l.strip_prefix("  GEMM "))
            .map(|l| l.split(" calls").next().unwrap().to_string())
            .collect();
        let flops = lines
            .iter()
            .map(|l| {
                let (shape, calls) = l.split_once(": ").unwrap();
                let dims = shape.split(',').next().unwrap().split(" x ");
                let mnk: f64 = dims.map(|x| x.trim().parse::<f64>().unwrap()).product();
                2.0 * mnk * calls.parse::<f64>().unwrap()
            })
            .sum();
        (lines, flops)
    };
    let gflop = |err: &str| -> f64 {
        let line = err.lines().find(|l| l.starts_with("GEMMs: ")).expect(err);
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    // The minibatch's shapes (20 rows, and the last one's 17), nothing the monitor computes
    // (its exact likelihood sums over the 65 536 hidden states).
    let (with_monitor, flops) = shapes(&monitored);
    assert!(
        with_monitor.iter().any(|l| l.starts_with("20 x 16 x 64")),
        "{monitored}"
    );
    assert_eq!(with_monitor, shapes(&bare).0, "{monitored}\n{bare}");
    assert!(
        (gflop(&monitored) - flops * 1e-9).abs() <= 5e-4,
        "{monitored}"
    );
}
