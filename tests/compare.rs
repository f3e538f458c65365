//! The comparison harness: every method gets every metric, and the outputs are written.

use emf_rbm::compare::{compare_with, AisSchedule, CompareOptions, Comparison};
use emf_rbm::data::Dataset;
use emf_rbm::estimate::ais::{AisConfig, BetaSchedule};
use emf_rbm::train::{Method, MonitorConfig, TrainConfig};

#[test]
fn compare_records_every_metric_for_every_method_and_writes_plots() {
    let (train, test) = Dataset::digits().binarize(0.5).split(0.2, 4).unwrap();
    let methods: Vec<Method> = ["cd1", "pcd1", "mf", "tap2", "ptap3"]
        .iter()
        .map(|m| m.parse().unwrap())
        .collect();
    let cfg = TrainConfig::builder()
        .n_hidden(12)
        .epochs(3)
        .seed(2)
        .monitor(MonitorConfig {
            emf: true,
            ..MonitorConfig::default()
        })
        .build()
        .unwrap();
    let opts = CompareOptions {
        progress: false,
        ais: Some(AisSchedule {
            config: AisConfig {
                schedule: BetaSchedule::Count(3000),
                runs: 64,
                seed: 9,
                ..AisConfig::default()
            },
            epochs: vec![2],
        }),
    };
    let cmp: Comparison<f64> = compare_with(&cfg, &methods, &train, &test, &opts).unwrap();
    assert_eq!(cmp.runs.len(), methods.len());
    for run in &cmp.runs {
        let h = &run.fitted.history;
        assert_eq!(h.epochs.len(), 3, "{}", run.name);
        for r in &h.epochs {
            for m in [
                "train_seconds",
                "reconstruction_error",
                "pseudo_log_likelihood",
                "free_energy_gap",
                "ln_z_exact",
                "log_likelihood_held_out",
                "emf_log_likelihood",
                "ln_z_tap2",
            ] {
                assert!(
                    r.metric(m).is_some_and(f64::is_finite),
                    "{}: {m} missing at epoch {}",
                    run.name,
                    r.epoch
                );
            }
            let has_ais = r.metric("ais_ln_z").is_some();
            assert_eq!(
                has_ais,
                r.epoch == 2 || r.epoch == 3,
                "{} epoch {}",
                run.name,
                r.epoch
            );
            if has_ais {
                // The AIS interval brackets the exact value on these small models.
                let (lo, hi) = (
                    r.metric("ais_ln_z_lower").unwrap(),
                    r.metric("ais_ln_z_upper").unwrap(),
                );
                let exact = r.ln_z_exact.unwrap();
                assert!(
                    lo <= exact && exact <= hi,
                    "{}: {exact} not in [{lo}, {hi}]",
                    run.name
                );
            }
        }
        if run.name.starts_with("mf") || run.name.contains("tap") {
            assert!(h.last().unwrap().sweeps_mean == Some(3.0), "{}", run.name);
        }
    }
    let dir = std::env::temp_dir().join(format!("emf-rbm-compare-{}", std::process::id()));
    let files = cmp.save(&dir, train.image_shape()).unwrap();
    for name in [
        "ll_vs_epoch.png",
        "ll_vs_time.png",
        "table.txt",
        "history_tap2.json",
        "history_ptap3.csv",
        "filters_cd1.png",
    ] {
        let p = dir.join(name);
        assert!(
            files.contains(&p) && p.metadata().unwrap().len() > 100,
            "{name}"
        );
    }
    let csv = std::fs::read_to_string(dir.join("history_cd1.csv")).unwrap();
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .contains("ais_log_likelihood_held_out"));
    assert_eq!(csv.lines().count(), 4);
}
