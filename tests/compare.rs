//! The comparison harness: every method trained under one configuration; each metric appears
//! exactly at the epochs its cadence names; the recorded values equal exact enumeration of the
//! returned models; the table, the saved models and the saved histories agree with the runs.

use emf_rbm::compare::{compare_with, CompareOptions, Comparison};
use emf_rbm::data::Dataset;
use emf_rbm::estimate::ais::{Ais, AisBase, AisConfig, BetaSchedule};
use emf_rbm::estimate::raise::{Raise, RaiseConfig};
use emf_rbm::estimate::{exact, metrics};
use emf_rbm::faer::Mat;
use emf_rbm::rng::stream_rng;
use emf_rbm::tap::TapOrder;
use emf_rbm::train::metrics::{AisMetricConfig, EmfConfig, TapLnZConfig, METRIC_STREAM_BASE};
use emf_rbm::train::Estimate;
use emf_rbm::train::{keys, Cadence, Key, MetricConfig, MetricData, MetricKind, MonitorConfig};
use emf_rbm::train::{Method, TrainConfig};
use rand::seq::SliceRandom;
use rand::Rng as _;

fn epochs_of<V: MetricData>(h: &emf_rbm::train::History, key: &Key<V>) -> Vec<usize> {
    h.series(key).iter().map(|p| p.0 as usize).collect()
}

#[test]
fn metrics_follow_their_cadences_and_equal_exact_enumeration() {
    let (train, test) = Dataset::digits().binarize(0.5).split(0.2, 4).unwrap();
    let methods: Vec<Method> = ["cd1", "pcd1", "tap2"]
        .iter()
        .map(|m| m.parse().unwrap())
        .collect();
    let monitor = MonitorConfig::builder()
        .every(2)
        .metric(MetricConfig {
            at: Cadence::Every(1),
            kind: MetricKind::EmfLogLikelihood(EmfConfig::default()),
        })
        .metric(MetricConfig {
            at: Cadence::Epochs(vec![3]),
            kind: MetricKind::TapLnZ(TapLnZConfig::default()),
        })
        .metric(MetricConfig {
            at: Cadence::Epochs(vec![1]),
            kind: MetricKind::Ais(AisMetricConfig {
                schedule: BetaSchedule::Count(3000),
                runs: 64,
                ..AisMetricConfig::default()
            }),
        })
        .build()
        .unwrap();
    let cfg = TrainConfig::builder()
        .n_hidden(12)
        .epochs(5)
        .seed(2)
        .monitor(monitor)
        .build()
        .unwrap();
    let opts = CompareOptions::default();
    let cmp: Comparison<f64> = compare_with(&cfg, &methods, &train, &test, &opts).unwrap();
    assert_eq!(cmp.runs.len(), methods.len());
    let test_mat = test.to_mat::<f64>();
    let train_mat = train.to_mat::<f64>();
    for run in &cmp.runs {
        let h = &run.fitted.history;
        let name = &run.name;
        // A record at every epoch some metric is due; each metric exactly at its own epochs
        // (every cadence includes the last epoch).
        assert_eq!(
            h.epochs.iter().map(|r| r.epoch).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        for (got, want, what) in [
            (
                epochs_of(h, &keys::RECONSTRUCTION_ERROR),
                vec![2, 4, 5],
                "recon",
            ),
            (
                epochs_of(h, &keys::PSEUDO_LOG_LIKELIHOOD),
                vec![2, 4, 5],
                "pll",
            ),
            (epochs_of(h, &keys::FREE_ENERGY_GAP), vec![2, 4, 5], "gap"),
            (
                epochs_of(h, &keys::LOG_LIKELIHOOD_HELD_OUT),
                vec![2, 4, 5],
                "exact",
            ),
            (
                epochs_of(h, &keys::EMF_LOG_LIKELIHOOD),
                vec![1, 2, 3, 4, 5],
                "emf",
            ),
            (epochs_of(h, &keys::AIS_LN_Z), vec![1, 5], "ais"),
        ] {
            assert_eq!(got, want, "{name}: {what}");
        }
        let tap_key = keys::tap_ln_z(TapOrder::Tap2);
        let tap_at: Vec<usize> = h
            .epochs
            .iter()
            .filter(|r| r.get(&tap_key).is_some())
            .map(|r| r.epoch)
            .collect();
        assert_eq!(tap_at, [3, 5], "{name}: tap");

        // The last record describes the returned model: exact values by enumeration.
        let last = h.last().unwrap();
        let rbm = &run.fitted.rbm;
        let ln_z = exact::log_partition(rbm).unwrap();
        assert_eq!(last.get(&keys::LN_Z_EXACT), Some(ln_z), "{name}");
        let ll = exact::mean_log_likelihood(rbm, test_mat.as_ref()).unwrap();
        let rec = last.get(&keys::LOG_LIKELIHOOD_HELD_OUT).unwrap();
        assert!((rec - ll).abs() < 1e-10, "{name}: {rec} vs {ll}");
        let f_ho = last.get(&keys::FREE_ENERGY_HELD_OUT).unwrap();
        assert_eq!(rec, -f_ho - ln_z);
        // The monitor's training subset: 1000 of the 1437 rows, drawn from stream 2 of the
        // run's seed (the documented streams of `train::metrics`). Its mean free energy is
        // that of those rows, and differs from the mean over all rows.
        let mut idx: Vec<usize> = (0..train.n_samples()).collect();
        idx.shuffle(&mut stream_rng(2, 2));
        idx.truncate(1000);
        let mut subset = Mat::<f64>::zeros(1000, train.n_features());
        train.fill_batch(&idx, subset.as_mut());
        let f_sub = metrics::mean_free_energy(rbm, subset.as_ref());
        let f_all = metrics::mean_free_energy(rbm, train_mat.as_ref());
        let f_tr = last.get(&keys::FREE_ENERGY_TRAIN).unwrap();
        assert!(
            (f_tr - f_sub).abs() < 1e-12 * f_sub.abs(),
            "{name}: {f_tr} vs {f_sub}"
        );
        assert!(
            (f_sub - f_all).abs() > 1e-6,
            "{name}: the subset is not all rows"
        );
        // The AIS estimate is the library's for the final model with the seed the monitor
        // draws (metric tag 1 at epoch 5) and the training means as the base; its interval
        // brackets the exact ln Z, and the held-out AIS likelihood is ln Z's interval
        // carried over.
        let seed = stream_rng(2, METRIC_STREAM_BASE + (1 << 32) + 5).random::<u64>();
        let direct = Ais::new(AisConfig {
            schedule: BetaSchedule::Count(3000),
            runs: 64,
            seed,
            ..AisConfig::default()
        })
        .unwrap()
        .estimate(
            rbm,
            &AisBase::from_means(&train.pixel_means(), 0.05).unwrap(),
        )
        .unwrap();
        let ais = last.get(&keys::AIS_LN_Z).unwrap();
        assert_eq!(
            (ais.value, ais.lower, ais.upper, ais.ess, ais.runs),
            (
                direct.log_z,
                direct.log_z_lower,
                direct.log_z_upper,
                direct.ess,
                64
            ),
            "{name}"
        );
        assert!(
            ais.lower <= ln_z && ln_z <= ais.upper,
            "{name}: {ln_z} not in {ais:?}"
        );
        let ais_ll = last.get(&keys::AIS_LOG_LIKELIHOOD_HELD_OUT).unwrap();
        assert!((ais_ll.value - (-f_ho - ais.value)).abs() < 1e-9);
        assert!((ais_ll.lower - (-f_ho - ais.upper)).abs() < 1e-9);
        // RAISE: the library's on the same held-out rows (all 360: fewer than the default
        // 1000) with the same seed; together they bracket the exact held-out likelihood.
        assert_eq!(
            last.get(&keys::AIS_HELD_OUT_ROWS),
            Some(test.n_samples() as f64)
        );
        let rev = Raise::new(RaiseConfig {
            schedule: BetaSchedule::Count(3000),
            seed,
            ..RaiseConfig::default()
        })
        .unwrap()
        .estimate(
            rbm,
            &AisBase::from_means(&train.pixel_means(), 0.05).unwrap(),
            test_mat.as_ref(),
        )
        .unwrap();
        let raise_ll = last.get(&keys::RAISE_LOG_LIKELIHOOD_HELD_OUT).unwrap();
        assert_eq!(raise_ll, Estimate::from_raise(&rev), "{name}");
        assert!(
            raise_ll.lower <= ll && ll <= ais_ll.upper,
            "{name}: exact {ll} outside [{}, {}]",
            raise_ll.lower,
            ais_ll.upper
        );
        // The TAP-implied likelihood is -F - ln Z_TAP with the same trust figures.
        let tap = last.get(&tap_key).unwrap();
        let tap_ll = last
            .get(&keys::tap_log_likelihood_held_out(TapOrder::Tap2))
            .unwrap();
        assert_eq!(tap.n_particles, 200);
        assert_eq!(
            (tap_ll.n_converged, tap_ll.value.is_some()),
            (tap.n_converged, tap.value.is_some())
        );
        match tap.value {
            Some(z) => assert_eq!(tap_ll.value, Some(-f_ho - z)),
            None => assert!(tap.n_converged == 0 && tap.note.is_some()),
        }
    }

    // The table shows the histories' numbers.
    let table = cmp.table();
    for run in &cmp.runs {
        let row = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(run.name.as_str()))
            .unwrap();
        let t: Vec<&str> = row.split_whitespace().collect();
        let last = run.fitted.history.last().unwrap();
        let f3 = |x: f64| format!("{x:.3}");
        assert_eq!(
            t[1],
            f3(last.get(&keys::LOG_LIKELIHOOD_HELD_OUT).unwrap()),
            "{row}"
        );
        let ais = last.get(&keys::AIS_LOG_LIKELIHOOD_HELD_OUT).unwrap();
        assert_eq!(t[2], format!("{:.2}", ais.value), "{row}");
        assert_eq!(t[3], format!("[{},", f3(ais.lower)), "{row}");
        assert_eq!(t[4], format!("{}]", f3(ais.upper)), "{row}");
        assert_eq!(
            (t[5], t[6]),
            ("ESS", format!("{:.0}/64", ais.ess).as_str()),
            "{row}"
        );
        let rev = last.get(&keys::RAISE_LOG_LIKELIHOOD_HELD_OUT).unwrap();
        assert_eq!(t[7], format!("{:.2}", rev.value), "{row}");
        assert_eq!(t[8], format!("[{},", f3(rev.lower)), "{row}");
        assert_eq!(t[9], format!("{}]", f3(rev.upper)), "{row}");
        let n = test.n_samples();
        assert_eq!(
            (t[10], t[11]),
            ("ESS", format!("{:.0}/{n}", rev.ess).as_str()),
            "{row}"
        );
        let tap = last
            .get(&keys::tap_log_likelihood_held_out(TapOrder::Tap2))
            .unwrap();
        assert_eq!(t[12], tap.value.map_or("-".to_string(), f3), "{row}");
        assert_eq!(t[13], format!("({}/200)", tap.n_converged), "{row}");
        assert_eq!(
            t[14],
            f3(last.get(&keys::EMF_LOG_LIKELIHOOD).unwrap()),
            "{row}"
        );
    }

    // Saved files: each model and history reads back equal to the run.
    let dir = std::env::temp_dir().join(format!("emf-rbm-compare-{}", std::process::id()));
    let files = cmp.save(&dir, train.image_shape()).unwrap();
    for run in &cmp.runs {
        let m = emf_rbm::persist::load_model_file(&dir.join(format!("model_{}.json", run.name)))
            .unwrap();
        assert_eq!(m.rbm::<f64>().unwrap(), run.fitted.rbm);
        assert_eq!(m.history.as_ref(), Some(&run.fitted.history));
        let p = dir.join(format!("history_{}.json", run.name));
        assert_eq!(
            emf_rbm::persist::load_history(&p).unwrap(),
            run.fitted.history
        );
        assert!(files.contains(&p));
        // CSV: one row per record, values printed exactly (shortest round-trip form).
        let csv = std::fs::read_to_string(dir.join(format!("history_{}.csv", run.name))).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 6);
        let header: Vec<&str> = lines[0].split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let last: Vec<&str> = lines[5].split(',').collect();
        let rec = run.fitted.history.last().unwrap();
        assert_eq!(
            last[col("ln_z_exact")].parse::<f64>().unwrap(),
            rec.ln_z_exact.unwrap()
        );
        let ais = rec.get(&keys::AIS_LOG_LIKELIHOOD_HELD_OUT).unwrap();
        assert_eq!(
            last[col("ais_log_likelihood_held_out_upper")]
                .parse::<f64>()
                .unwrap(),
            ais.upper
        );
        assert_eq!(
            last[col("ais_ln_z_ess")].parse::<f64>().unwrap(),
            rec.get(&keys::AIS_LN_Z).unwrap().ess
        );
        let first: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(first[col("ln_z_exact")], "", "not measured at epoch 1");
        assert_eq!(
            first[col("ln_z_tap2_converged")],
            "",
            "not measured at epoch 1"
        );
    }
    for name in [
        "ll_vs_epoch.png",
        "ll_vs_time.png",
        "table.txt",
        "filters_cd1.png",
    ] {
        let p = dir.join(name);
        assert!(
            files.contains(&p) && p.metadata().unwrap().len() > 100,
            "{name}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("table.txt")).unwrap(),
        table
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn monitor_settings_are_checked_before_training() {
    let base = || TrainConfig::builder().n_hidden(4).epochs(3);
    let with = |m: MetricConfig| {
        base()
            .monitor(MonitorConfig::builder().metric(m).build().unwrap())
            .build()
    };
    // An epoch outside the run, and two metrics writing one key.
    let e = with(MetricConfig {
        at: Cadence::Epochs(vec![4]),
        kind: MetricKind::EmfLogLikelihood(EmfConfig::default()),
    })
    .unwrap_err();
    assert!(e.to_string().contains("epoch 4 is not within"), "{e}");
    let e = MonitorConfig::builder()
        .metric(MetricKind::FreeEnergy)
        .build()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("two metrics record `free_energy_train`"),
        "{e}"
    );
    let e = MonitorConfig::builder().subset(0).build().unwrap_err();
    assert!(e.to_string().contains("subset"), "{e}");
    let bad_tap = TapLnZConfig {
        starts: 0,
        ..TapLnZConfig::default()
    };
    assert!(MonitorConfig::builder()
        .metric(MetricKind::TapLnZ(bad_tap))
        .build()
        .is_err());
}

#[test]
fn without_an_exact_likelihood_the_bracket_is_tabled_and_charted() {
    // The smaller layer (8) above exact_max (0): the held-out likelihood comes from AIS and
    // RAISE only, on the same fixed 50 held-out rows; a 3-temperature schedule makes the
    // ESS low, which the table flags.
    let (train, test) = Dataset::digits().binarize(0.5).split(0.2, 4).unwrap();
    let mut metrics = MonitorConfig::standard_metrics(0);
    metrics.push(
        MetricKind::Ais(AisMetricConfig {
            schedule: BetaSchedule::Count(3),
            runs: 40,
            rows: 50,
            ..AisMetricConfig::default()
        })
        .into(),
    );
    let monitor = MonitorConfig::builder().metrics(metrics).build().unwrap();
    let cfg = TrainConfig::builder()
        .n_hidden(8)
        .epochs(2)
        .learning_rate(0.5)
        .monitor(monitor)
        .build()
        .unwrap();
    let methods = ["cd1".parse().unwrap(), "pcd1".parse().unwrap()];
    let cmp: Comparison<f64> =
        compare_with(&cfg, &methods, &train, &test, &CompareOptions::default()).unwrap();
    let k = [
        (keys::AIS_LOG_LIKELIHOOD_HELD_OUT, "AIS"),
        (keys::RAISE_LOG_LIKELIHOOD_HELD_OUT, "RAISE"),
    ];
    let chart = cmp.chart_keys(&k, "bracket", "nats", false);
    let names: Vec<&str> = chart.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["cd1 AIS", "cd1 RAISE", "pcd1 AIS", "pcd1 RAISE"]);
    for (s, run) in chart.series.iter().zip([0, 0, 1, 1]) {
        let h = &cmp.runs[run].fitted.history;
        assert_eq!(h.last().unwrap().get(&keys::AIS_HELD_OUT_ROWS), Some(50.0));
        let key = if s.name.ends_with("RAISE") {
            k[1].0
        } else {
            k[0].0
        };
        let want: Vec<(f64, f64)> = h
            .epochs
            .iter()
            .map(|e| (e.epoch as f64, e.get(&key).unwrap().value))
            .collect();
        assert_eq!((s.points.len(), &s.points), (2, &want), "{}", s.name);
    }
    let table = cmp.table();
    let raise = cmp.runs[0]
        .fitted
        .history
        .last()
        .unwrap()
        .get(&keys::RAISE_LOG_LIKELIHOOD_HELD_OUT)
        .unwrap();
    assert!(table.contains(&format!("{:.2} [", raise.value)), "{table}");
    let low = cmp.runs.iter().any(|r| {
        let l = r.fitted.history.last().unwrap();
        l.get(&keys::AIS_LOG_LIKELIHOOD_HELD_OUT).unwrap().low_ess()
            || l.get(&keys::RAISE_LOG_LIKELIHOOD_HELD_OUT)
                .unwrap()
                .low_ess()
    });
    assert!(low, "3 temperatures should give a low ESS:\n{table}");

    assert!(
        table.contains("not to be trusted") && table.contains("!"),
        "{table}"
    );
    let dir = std::env::temp_dir().join(format!("emf-rbm-bracket-{}", std::process::id()));
    let files = cmp.save(&dir, None).unwrap();
    assert!(files.contains(&dir.join("ll_vs_epoch.png")));
    std::fs::remove_dir_all(&dir).ok();
}

/// The study table takes the quiet machine's seconds when measured, shows the read-out as a
/// percentage, and a file that is not a study summary is refused naming it.
#[test]
fn study_summaries_read_and_tabulate() {
    use emf_rbm::compare::{read_study_summary, study_table};
    let dir = std::env::temp_dir().join(format!("emf-rbm-study-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let checkpoint = serde_json::json!({"epoch": 50, "seeds": 1,
        "ais_ll": {"mean": -90.0, "per_seed": [-90.0], "ess": 12.5, "ess_of": 100},
        "raise_ll": {"mean": -95.0, "per_seed": [-95.0]}, "seconds_per_epoch": 9.0});
    let summary = serde_json::json!({"methods": [
        {"method": "tap2", "lr": 0.003, "checkpoints": [checkpoint],
         "seconds_per_epoch_quiet": {"median": 4.25, "rounds": [4.0, 4.5]},
         "readout_test_accuracy": {"mean": 0.9612}},
        {"method": "cd1", "lr": 0.01, "checkpoints": []}]});
    let path = dir.join("summary.json");
    std::fs::write(&path, summary.to_string()).unwrap();
    let t = study_table(&read_study_summary(&path).unwrap());
    let row = t.lines().find(|l| l.starts_with("| tap2")).unwrap();
    assert_eq!(
        row,
        "| tap2 | 0.003 | 1 | 50 | -90.00 [-90.00] | -95.00 [-95.00] | 12.50 / 100 | - | - | 4.25 | 96.12 % |"
    );
    assert!(
        !t.contains("| cd1"),
        "a method without a scored epoch has no row: {t}"
    );
    std::fs::write(&path, "{\"runs\": 1}").unwrap();
    let err = read_study_summary(&path).unwrap_err().to_string();
    assert!(
        err.contains("summary.json") && err.contains("methods"),
        "{err}"
    );
    std::fs::write(&path, "not json").unwrap();
    let err = read_study_summary(&path).unwrap_err().to_string();
    assert!(err.contains("not JSON"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `TapEstimates` records each TAP estimate's error against the exact ln Z and the EMF
/// likelihood at the epochs the monitor named, and `tap_table` prints them.
#[test]
fn tap_estimates_score_the_monitor_and_tabulate() {
    use emf_rbm::compare::MethodRun;
    use emf_rbm::estimate::tap::emf_log_likelihood;
    use emf_rbm::tap::SolverOptions;
    use emf_rbm::train::tap_estimates::{tap_error, TapEstimates, EMF_EXCESS, EMF_HELD_OUT};
    use emf_rbm::train::Trainer;
    let (train, test) = Dataset::digits()
        .binarize(0.5)
        .head(400)
        .split(0.25, 3)
        .unwrap();
    let cfg = TrainConfig::builder()
        .n_hidden(6)
        .epochs(3)
        .batch_size(20)
        .method(Method::Cd { k: 1 })
        .monitor(TapEstimates::monitor(vec![1], 20).unwrap())
        .build()
        .unwrap();
    let fitted = Trainer::<f64>::new(cfg)
        .with_observer(TapEstimates::new(&test))
        .fit(&train, Some(&test))
        .unwrap();
    let h = &fitted.history;
    assert_eq!(epochs_of(h, &tap_error(TapOrder::Tap2)), vec![1, 3]);
    assert_eq!(epochs_of(h, &EMF_HELD_OUT), vec![1, 3]);
    let last = h.last().unwrap();
    for order in TapOrder::ALL {
        let est = last.get(&keys::tap_ln_z(order)).unwrap().value.unwrap();
        let err = last.get(&tap_error(order)).unwrap();
        assert_eq!(err, est - last.ln_z_exact.unwrap());
    }
    let emf = emf_log_likelihood(
        &fitted.rbm,
        test.to_mat::<f64>().as_ref(),
        &SolverOptions::paper(),
    )
    .unwrap();
    let mean = emf.iter().sum::<f64>() / emf.len() as f64;
    assert!((last.get(&EMF_HELD_OUT).unwrap() - mean).abs() < 1e-12);
    let excess = last.get(&EMF_EXCESS).unwrap();
    assert!((excess - (mean - last.log_likelihood_held_out.unwrap())).abs() < 1e-12);
    // The same run through the harness, labelled: the same values.
    let opts = CompareOptions {
        tap_estimates: true,
        ..CompareOptions::default()
    };
    let base = fitted.history.config.clone();
    let labelled: Comparison<f64> = emf_rbm::compare::compare_labelled(
        &base,
        &[("mine".to_string(), Method::Cd { k: 1 })],
        &train,
        &test,
        &opts,
    )
    .unwrap();
    assert_eq!(labelled.runs[0].name, "mine");
    let again = labelled.runs[0].fitted.history.last().unwrap();
    assert_eq!(again.get(&EMF_HELD_OUT), last.get(&EMF_HELD_OUT));
    let cmp = Comparison {
        data: "digits".into(),
        runs: vec![MethodRun {
            name: "cd1".into(),
            fitted: fitted.clone(),
            wall_seconds: 1.5,
        }],
    };
    let table = cmp.tap_table();
    let row = table.lines().nth(1).unwrap();
    assert!(row.starts_with("cd1"), "{table}");
    assert!(row.contains(&format!("{mean:.3}")), "{table}");
    assert!(row.contains(&format!("{excess:.3}")), "{table}");
    let tap2 = last
        .get(&keys::tap_log_likelihood_held_out(TapOrder::Tap2))
        .unwrap();
    let conv = format!("{}/{}", tap2.n_converged, tap2.n_particles);
    assert_eq!(tap2.n_particles, 20);
    assert!(row.contains(&conv), "{conv} not in {table}");
}
